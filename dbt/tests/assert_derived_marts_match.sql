-- The marts built from other marts agree with them: weekly_sales_wow sums daily_sales per ISO week
-- (revenue, served orders, items, cancellations, refunds) and takes prev_week_* from the week
-- before; peak_hour_by_store is the hour with the most orders of store_hourly_orders (ties: the
-- earlier hour) and its total is the store's. Mart against mart: holds under load. Any row
-- returned is a failure.
with weeks as (
    select
        date_trunc('week', sale_date)::date as week_start,
        sum(revenue) as revenue,
        sum(served_orders) as served_orders,
        sum(items_sold) as items_sold,
        sum(cancelled_orders) as cancelled_orders,
        sum(refunded_orders) as refunded_orders
    from {{ ref('daily_sales') }}
    where sale_date is not null
    group by 1
),

peaks as (
    select distinct on (store_key)
        store_key,
        hour,
        orders,
        sum(orders) over (partition by store_key) as total_orders
    from {{ ref('store_hourly_orders') }}
    order by store_key, orders desc, hour
)

select 'weekly_sales_wow' as mart, coalesce(w.week_start, d.week_start)::text as key
from {{ ref('weekly_sales_wow') }} as w
full join weeks as d on d.week_start = w.week_start
where w.week_start is null
   or d.week_start is null
   or w.revenue <> d.revenue
   or w.served_orders <> d.served_orders
   or w.items_sold <> d.items_sold
   or w.cancelled_orders <> d.cancelled_orders
   or w.refunded_orders <> d.refunded_orders
   or w.prev_week_revenue is distinct from (select p.revenue from weeks as p where p.week_start = w.week_start - 7)

union all

select 'peak_hour_by_store', coalesce(k.store_key, p.store_key)::text
from {{ ref('peak_hour_by_store') }} as k
full join (select * from peaks where orders > 0) as p on p.store_key = k.store_key
where k.store_key is null
   or p.store_key is null
   or k.peak_hour <> p.hour
   or k.peak_hour_orders <> p.orders
   or k.total_orders <> p.total_orders
