-- Orders per store (store_key) and hour of the day (UTC, from dim_time): a dense 24-hour grid for
-- every store with at least one order, for the peak-hours heatmap. `orders` counts every
-- non-deleted order whatever its status (foot traffic); served_orders and revenue only served ones.
-- Orders with the unknown time (time_key -1) are left out.
with orders as (
    select o.store_key, t.hour, o.order_id, o.status
    from {{ ref('stg_orders') }} as o
    join {{ source('star', 'dim_time') }} as t on t.time_key = o.time_key
    where o.time_key <> -1
),

revenue as (
    select s.store_key, t.hour, sum(s.line_total) as revenue
    from {{ ref('stg_sales') }} as s
    join {{ source('star', 'dim_time') }} as t on t.time_key = s.time_key
    where s.order_status = 'served' and s.time_key <> -1
    group by 1, 2
),

counts as (
    select
        store_key,
        hour,
        count(*) as orders,
        count(*) filter (where status = 'served') as served_orders
    from orders
    group by 1, 2
),

grid as (
    select st.store_key, h.hour::smallint as hour
    from (select distinct store_key from orders) as st
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
    coalesce(r.revenue, 0)::numeric(14, 2) as revenue
from grid as g
join {{ source('star', 'dim_store') }} as st on st.store_key = g.store_key
left join counts as c on c.store_key = g.store_key and c.hour = g.hour
left join revenue as r on r.store_key = g.store_key and r.hour = g.hour
