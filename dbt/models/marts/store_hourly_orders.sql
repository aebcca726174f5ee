-- Orders per store (store_key) and hour of the day (UTC), from rollup_orders_hourly (all days):
-- a dense 24-hour grid for every store with at least one order, for the peak-hours heatmap.
-- `orders` counts every non-deleted order whatever its status (foot traffic); served_orders and
-- revenue only served ones (revenue = the served orders' totals, equal to their served lines'
-- line_total). Orders with the unknown time (hour -1) are left out.
with counts as (
    select
        store_key,
        hour,
        sum(orders) as orders,
        sum(orders) filter (where status = 'served') as served_orders,
        sum(revenue) filter (where status = 'served') as revenue
    from {{ source('star', 'rollup_orders_hourly') }}
    where hour <> -1
      and orders > 0
    group by store_key, hour
),

grid as (
    select st.store_key, h.hour::smallint as hour
    from (select distinct store_key from counts) as st
    cross join generate_series(0, 23) as h(hour)
)

select
    g.store_key,
    st.store_id,
    coalesce(st.name, 'Store #' || st.store_id, 'Unknown') as store_name,
    g.hour,
    lpad(g.hour::text, 2, '0') || ':00' as hour_label,
    coalesce(c.orders, 0)::bigint as orders,
    coalesce(c.served_orders, 0)::bigint as served_orders,
    coalesce(c.revenue, 0)::numeric(14, 2) as revenue,
    {{ build_stamp() }}
from grid as g
join {{ source('star', 'dim_store') }} as st on st.store_key = g.store_key
left join counts as c on c.store_key = g.store_key and c.hour = g.hour
