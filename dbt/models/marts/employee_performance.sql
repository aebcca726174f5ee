-- One row per employee (employee_key) who handled at least one order, with the name, role and
-- store of the employee's current (type 1) dimension row. Revenue counts served lines only.
with served as (
    select
        employee_key,
        sum(line_total) as revenue,
        count(distinct order_id) as served_orders,
        sum(quantity) as items_sold
    from {{ ref('stg_sales') }}
    where order_status = 'served'
    group by employee_key
),

orders as (
    select
        employee_key,
        count(*) as total_orders,
        count(*) filter (where status = 'cancelled') as cancelled_orders,
        count(*) filter (where status = 'refunded') as refunded_orders,
        min(order_time) as first_order_at,
        max(order_time) as last_order_at
    from {{ ref('stg_orders') }}
    group by employee_key
),

keys as (
    select employee_key from served
    union
    select employee_key from orders
)

select
    k.employee_key,
    e.employee_id,
    coalesce(e.name, 'Employee #' || e.employee_id, 'Unknown') as employee_name,
    e.role,
    e.store_id,
    st.name as store_name,
    coalesce(e.active, false) and not e.is_deleted as is_active,
    e.is_deleted,
    coalesce(s.revenue, 0)::numeric(14, 2) as revenue,
    coalesce(s.served_orders, 0)::bigint as served_orders,
    coalesce(s.items_sold, 0)::bigint as items_sold,
    round(s.revenue / nullif(s.served_orders, 0), 2) as avg_order_value,
    coalesce(o.total_orders, 0)::bigint as total_orders,
    coalesce(o.cancelled_orders, 0)::bigint as cancelled_orders,
    coalesce(o.refunded_orders, 0)::bigint as refunded_orders,
    round(100.0 * o.cancelled_orders / nullif(o.total_orders, 0), 2) as cancel_rate_pct,
    o.first_order_at,
    o.last_order_at,
    rank() over (order by coalesce(s.revenue, 0) desc) as revenue_rank
from keys as k
join {{ source('star', 'dim_employee') }} as e on e.employee_key = k.employee_key
left join {{ source('star', 'dim_store') }} as st on st.store_id = e.store_id
left join served as s on s.employee_key = k.employee_key
left join orders as o on o.employee_key = k.employee_key
