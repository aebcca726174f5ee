-- The all-time marts reproduce the rollups they are built from (each in one statement, whose
-- snapshot its rows carry): product_performance = the served lines of rollup_sales per product,
-- employee_performance = rollup_orders_daily per employee, customer_rfm = rollup_customers per
-- known customer, store_hourly_orders = rollup_orders_hourly per store and hour. Keys with a rollup
-- row moved by a transaction the mart's build did not see are left out (the next build
-- recomputes them): the test holds while the daemon writes. Any row returned is a failure.
with product_snapshot as (
    select {{ last_build_snapshot(ref('product_performance')) }} as s
),

products as (
    select
        r.product_id,
        sum(r.quantity) filter (where r.lines > 0) as units_sold,
        sum(r.revenue) filter (where r.lines > 0) as revenue,
        sum(r.lines) filter (where r.lines > 0) as orders,
        bool_or({{ moved_since('r.updated_xid', 'ps.s') }}) as moved
    from {{ source('star', 'rollup_sales') }} as r
    cross join product_snapshot as ps
    where r.order_status = 'served'
    group by r.product_id
),

employee_snapshot as (
    select {{ last_build_snapshot(ref('employee_performance')) }} as s
),

employees as (
    select
        r.employee_key,
        sum(r.orders) filter (where r.orders > 0) as total_orders,
        coalesce(sum(r.orders) filter (where r.orders > 0 and r.status = 'served'), 0) as served_orders,
        coalesce(sum(r.revenue) filter (where r.orders > 0 and r.status = 'served'), 0) as revenue,
        coalesce(sum(r.orders) filter (where r.orders > 0 and r.status = 'cancelled'), 0) as cancelled_orders,
        bool_or({{ moved_since('r.updated_xid', 'es.s') }}) as moved
    from {{ source('star', 'rollup_orders_daily') }} as r
    cross join employee_snapshot as es
    group by r.employee_key
),

customer_snapshot as (
    select {{ last_build_snapshot(ref('customer_rfm')) }} as s
),

customers as (
    select r.*, {{ moved_since('r.updated_xid', 'cs.s') }} as moved
    from {{ source('star', 'rollup_customers') }} as r
    cross join customer_snapshot as cs
    where r.customer_key <> 0
),

hourly_snapshot as (
    select {{ last_build_snapshot(ref('store_hourly_orders')) }} as s
),

hours as (
    select
        r.store_key,
        r.hour,
        sum(r.orders) as orders,
        coalesce(sum(r.orders) filter (where r.status = 'served'), 0) as served_orders,
        coalesce(sum(r.revenue) filter (where r.status = 'served'), 0) as revenue,
        bool_or({{ moved_since('r.updated_xid', 'hs.s') }}) as moved
    from {{ source('star', 'rollup_orders_hourly') }} as r
    cross join hourly_snapshot as hs
    where r.hour <> -1
    group by r.store_key, r.hour
)

select 'product_performance' as mart, coalesce(m.product_id, e.product_id)::text as key
from {{ ref('product_performance') }} as m
full join (select * from products where orders > 0 or moved) as e on e.product_id = m.product_id
where not coalesce(e.moved, false)
  and (m.product_id is null
       or m.units_sold <> coalesce(e.units_sold, 0)
       or m.revenue <> coalesce(e.revenue, 0)
       or m.orders <> coalesce(e.orders, 0))

union all

select 'employee_performance', coalesce(m.employee_key, e.employee_key)::text
from {{ ref('employee_performance') }} as m
full join (select * from employees where total_orders > 0 or moved) as e on e.employee_key = m.employee_key
where not coalesce(e.moved, false)
  and (m.employee_key is null
       or e.employee_key is null
       or m.total_orders <> e.total_orders
       or m.served_orders <> e.served_orders
       or m.revenue <> e.revenue
       or m.cancelled_orders <> e.cancelled_orders)

union all

select 'customer_rfm', coalesce(m.customer_key, e.customer_key)::text
from {{ ref('customer_rfm') }} as m
full join (select * from customers where orders > 0 or moved) as e on e.customer_key = m.customer_key
where not coalesce(e.moved, false)
  and (m.customer_key is null
       or e.customer_key is null
       or m.frequency <> e.orders
       or m.monetary <> e.revenue
       or m.first_order_at <> e.first_order_at
       or m.last_order_at <> e.last_order_at)

union all

select 'store_hourly_orders', coalesce(m.store_key, e.store_key)::text || '/' || coalesce(m.hour, e.hour)::text
from {{ ref('store_hourly_orders') }} as m
full join (select * from hours where orders > 0 or moved) as e on e.store_key = m.store_key and e.hour = m.hour
where not coalesce(e.moved, false)
  and (e.store_key is null and m.orders <> 0
       or m.store_key is null
       or m.orders <> e.orders
       or m.served_orders <> e.served_orders
       or m.revenue <> e.revenue)
