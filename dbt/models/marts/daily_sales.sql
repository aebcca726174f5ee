-- One row per calendar day (UTC) from the first to the last day with activity (days without
-- sales included with zeros), plus date_key 0 when facts carry the unknown date, so that the sum
-- of `revenue` always equals the served, non-deleted line total of fact_sales.
with served_lines as (
    select date_key, order_id, quantity, line_total
    from {{ ref('stg_sales') }}
    where order_status = 'served'
),

served as (
    select
        date_key,
        sum(line_total) as revenue,
        count(distinct order_id) as served_orders,
        sum(quantity) as items_sold
    from served_lines
    group by date_key
),

orders as (
    select
        date_key,
        count(*) as total_orders,
        count(*) filter (where status = 'placed') as placed_orders,
        count(*) filter (where status = 'cancelled') as cancelled_orders,
        count(*) filter (where status = 'refunded') as refunded_orders
    from {{ ref('stg_orders') }}
    group by date_key
),

active_days as (
    select date_key from served
    union
    select date_key from orders
),

bounds as (
    select min(date_key) as first_key, max(date_key) as last_key
    from active_days
    where date_key <> 0
),

calendar as (
    select d.date_key
    from {{ source('star', 'dim_date') }} as d
    cross join bounds as b
    where d.date_key between b.first_key and b.last_key
    union
    select date_key from active_days
)

select
    c.date_key,
    d.date as sale_date,
    d.year,
    d.month,
    d.iso_year,
    d.iso_week,
    d.day_of_week,
    d.day_name,
    coalesce(s.revenue, 0)::numeric(14, 2) as revenue,
    coalesce(s.served_orders, 0)::bigint as served_orders,
    coalesce(s.items_sold, 0)::bigint as items_sold,
    round(s.revenue / nullif(s.served_orders, 0), 2) as avg_order_value,
    round(s.items_sold::numeric / nullif(s.served_orders, 0), 2) as items_per_order,
    coalesce(o.total_orders, 0)::bigint as total_orders,
    coalesce(o.placed_orders, 0)::bigint as placed_orders,
    coalesce(o.cancelled_orders, 0)::bigint as cancelled_orders,
    coalesce(o.refunded_orders, 0)::bigint as refunded_orders
from calendar as c
join {{ source('star', 'dim_date') }} as d on d.date_key = c.date_key
left join served as s on s.date_key = c.date_key
left join orders as o on o.date_key = c.date_key
