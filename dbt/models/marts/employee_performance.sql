-- One row per employee (employee_key) who handled at least one order, with the name, role and
-- store of the employee's current (type 1) dimension row, from rollup_orders_daily (all days).
-- Revenue is the served orders' totals (equal to their served lines' line_total). items_sold is
-- null (no rollup holds items by employee); first_order_at and last_order_at are the start
-- (00:00 UTC) of the first and last day with an order of any status.
with orders as (
    select
        employee_key,
        sum(revenue) filter (where status = 'served') as revenue,
        sum(orders) filter (where status = 'served') as served_orders,
        sum(orders) as total_orders,
        sum(orders) filter (where status = 'cancelled') as cancelled_orders,
        sum(orders) filter (where status = 'refunded') as refunded_orders,
        min(date_key) filter (where date_key <> 0) as first_key,
        max(date_key) filter (where date_key <> 0) as last_key
    from {{ source('star', 'rollup_orders_daily') }}
    where orders > 0
    group by employee_key
)

select
    o.employee_key,
    e.employee_id,
    coalesce(e.name, 'Employee #' || e.employee_id, 'Unknown') as employee_name,
    e.role,
    e.store_id,
    st.name as store_name,
    coalesce(e.active, false) and not e.is_deleted as is_active,
    e.is_deleted,
    coalesce(o.revenue, 0)::numeric(14, 2) as revenue,
    coalesce(o.served_orders, 0)::bigint as served_orders,
    null::bigint as items_sold,
    round(o.revenue / nullif(o.served_orders, 0), 2) as avg_order_value,
    o.total_orders::bigint as total_orders,
    coalesce(o.cancelled_orders, 0)::bigint as cancelled_orders,
    coalesce(o.refunded_orders, 0)::bigint as refunded_orders,
    round(100.0 * coalesce(o.cancelled_orders, 0) / nullif(o.total_orders, 0), 2) as cancel_rate_pct,
    (fd.date::timestamp at time zone 'UTC') as first_order_at,
    (ld.date::timestamp at time zone 'UTC') as last_order_at,
    rank() over (order by coalesce(o.revenue, 0) desc) as revenue_rank,
    {{ build_stamp() }}
from orders as o
join {{ source('star', 'dim_employee') }} as e on e.employee_key = o.employee_key
left join {{ source('star', 'dim_store') }} as st on st.store_id = e.store_id
left join {{ source('star', 'dim_date') }} as fd on fd.date_key = o.first_key
left join {{ source('star', 'dim_date') }} as ld on ld.date_key = o.last_key
