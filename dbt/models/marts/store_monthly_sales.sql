-- One row per store (store_key) and calendar month (UTC) with activity; facts with the unknown
-- date (date_key 0) are left out. prev_month_revenue is the store's revenue in the month before
-- (0 when it had none).
with served as (
    select
        s.store_key,
        make_date(d.year, d.month, 1) as month_start,
        sum(s.line_total) as revenue,
        count(distinct s.order_id) as served_orders,
        sum(s.quantity) as items_sold
    from {{ ref('stg_sales') }} as s
    join {{ source('star', 'dim_date') }} as d on d.date_key = s.date_key
    where s.order_status = 'served' and s.date_key <> 0
    group by 1, 2
),

orders as (
    select
        o.store_key,
        make_date(d.year, d.month, 1) as month_start,
        count(*) as total_orders,
        count(*) filter (where o.status = 'cancelled') as cancelled_orders,
        count(*) filter (where o.status = 'refunded') as refunded_orders
    from {{ ref('stg_orders') }} as o
    join {{ source('star', 'dim_date') }} as d on d.date_key = o.date_key
    where o.date_key <> 0
    group by 1, 2
),

store_months as (
    select store_key, month_start from served
    union
    select store_key, month_start from orders
),

monthly as (
    select
        m.store_key,
        m.month_start,
        coalesce(s.revenue, 0)::numeric(14, 2) as revenue,
        coalesce(s.served_orders, 0)::bigint as served_orders,
        coalesce(s.items_sold, 0)::bigint as items_sold,
        round(s.revenue / nullif(s.served_orders, 0), 2) as avg_order_value,
        coalesce(o.total_orders, 0)::bigint as total_orders,
        coalesce(o.cancelled_orders, 0)::bigint as cancelled_orders,
        coalesce(o.refunded_orders, 0)::bigint as refunded_orders
    from store_months as m
    left join served as s on s.store_key = m.store_key and s.month_start = m.month_start
    left join orders as o on o.store_key = m.store_key and o.month_start = m.month_start
)

select
    m.store_key,
    st.store_id,
    coalesce(st.name, 'Store #' || st.store_id, 'Unknown') as store_name,
    st.city,
    m.month_start,
    to_char(m.month_start, 'YYYY-MM') as month,
    m.revenue,
    m.served_orders,
    m.items_sold,
    m.avg_order_value,
    m.total_orders,
    m.cancelled_orders,
    m.refunded_orders,
    coalesce(p.revenue, 0)::numeric(14, 2) as prev_month_revenue,
    round(100 * (m.revenue - p.revenue) / nullif(p.revenue, 0), 2) as mom_revenue_change_pct
from monthly as m
join {{ source('star', 'dim_store') }} as st on st.store_key = m.store_key
left join monthly as p
    on p.store_key = m.store_key and p.month_start = (m.month_start - interval '1 month')::date
