-- daily_sales reproduces the rollups it is built from: per day, revenue and items_sold = the served
-- lines of rollup_sales, the order counts = rollup_orders_daily; every active day is there; the
-- known days form one unbroken range whose first and last days have activity. So the total
-- revenue is the served, non-deleted line total of fact_sales (the rollups are exact).
-- Days moved by transactions the mart's last build did not see are left out (the next build
-- rebuilds them): the test holds while the daemon writes. Any row returned is a failure.
with snapshot as (
    select {{ last_build_snapshot(ref('daily_sales')) }} as s
),

moved as (
    select r.date_key from {{ source('star', 'rollup_sales') }} as r, snapshot
    where {{ moved_since('r.updated_xid', 'snapshot.s') }}
    union
    select r.date_key from {{ source('star', 'rollup_orders_daily') }} as r, snapshot
    where {{ moved_since('r.updated_xid', 'snapshot.s') }}
),

served as (
    select date_key, sum(revenue) as revenue, sum(quantity) as items_sold
    from {{ source('star', 'rollup_sales') }}
    where order_status = 'served' and lines > 0
    group by date_key
),

orders as (
    select
        date_key,
        sum(orders) as total_orders,
        sum(orders) filter (where status = 'served') as served_orders,
        sum(orders) filter (where status = 'placed') as placed_orders,
        sum(orders) filter (where status = 'cancelled') as cancelled_orders,
        sum(orders) filter (where status = 'refunded') as refunded_orders
    from {{ source('star', 'rollup_orders_daily') }}
    where orders > 0
    group by date_key
),

expected as (
    select
        coalesce(s.date_key, o.date_key) as date_key,
        coalesce(s.revenue, 0) as revenue,
        coalesce(s.items_sold, 0) as items_sold,
        coalesce(o.total_orders, 0) as total_orders,
        coalesce(o.served_orders, 0) as served_orders,
        coalesce(o.placed_orders, 0) as placed_orders,
        coalesce(o.cancelled_orders, 0) as cancelled_orders,
        coalesce(o.refunded_orders, 0) as refunded_orders
    from served as s
    full join orders as o on o.date_key = s.date_key
),

differences as (
    select
        'day differs from the rollups' as problem,
        coalesce(m.date_key, e.date_key) as date_key
    from {{ ref('daily_sales') }} as m
    full join expected as e on e.date_key = m.date_key
    where coalesce(m.date_key, e.date_key) not in (select date_key from moved)
      and (m.date_key is null
           or m.revenue <> coalesce(e.revenue, 0)
           or m.items_sold <> coalesce(e.items_sold, 0)
           or m.total_orders <> coalesce(e.total_orders, 0)
           or m.served_orders <> coalesce(e.served_orders, 0)
           or m.placed_orders <> coalesce(e.placed_orders, 0)
           or m.cancelled_orders <> coalesce(e.cancelled_orders, 0)
           or m.refunded_orders <> coalesce(e.refunded_orders, 0))
),

known as (
    select
        count(*) as days,
        min(sale_date) as first_day,
        max(sale_date) as last_day
    from {{ ref('daily_sales') }}
    where date_key <> 0
),

ends as (
    select m.*
    from {{ ref('daily_sales') }} as m
    cross join known as k
    where m.sale_date in (k.first_day, k.last_day)
)

select problem, date_key from differences
union all
select 'known days are not one unbroken range', null
from known
where days > 0 and days <> last_day - first_day + 1
union all
select 'first or last day without activity', date_key
from ends
where total_orders = 0 and revenue = 0 and items_sold = 0
