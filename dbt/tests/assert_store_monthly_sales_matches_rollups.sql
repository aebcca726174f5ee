-- store_monthly_sales reproduces rollup_orders_daily per store and month (served revenue and
-- orders, all orders, cancellations, refunds), leaving out the months with a day moved by
-- transactions the mart's last build did not see (the next build rebuilds them); and each row's
-- prev_month_revenue is the same store's revenue in the mart's row of the month before (0 without
-- one): a build that recomputes a month recomputes the month after it too. Any row returned is a
-- failure.
with snapshot as (
    select {{ last_build_snapshot(ref('store_monthly_sales')) }} as s
),

moved as (
    select distinct make_date(d.year, d.month, 1) as month_start
    from {{ source('star', 'rollup_orders_daily') }} as r
    join {{ source('star', 'dim_date') }} as d on d.date_key = r.date_key
    cross join snapshot
    where r.date_key <> 0 and {{ moved_since('r.updated_xid', 'snapshot.s') }}
),

expected as (
    select
        r.store_key,
        make_date(d.year, d.month, 1) as month_start,
        coalesce(sum(r.revenue) filter (where r.status = 'served'), 0) as revenue,
        coalesce(sum(r.orders) filter (where r.status = 'served'), 0) as served_orders,
        sum(r.orders) as total_orders,
        coalesce(sum(r.orders) filter (where r.status = 'cancelled'), 0) as cancelled_orders,
        coalesce(sum(r.orders) filter (where r.status = 'refunded'), 0) as refunded_orders
    from {{ source('star', 'rollup_orders_daily') }} as r
    join {{ source('star', 'dim_date') }} as d on d.date_key = r.date_key
    join {{ source('star', 'dim_store') }} as st on st.store_key = r.store_key
    where r.orders > 0 and r.date_key <> 0
    group by 1, 2
),

mart as (
    select * from {{ ref('store_monthly_sales') }}
)

select
    coalesce(m.store_key, e.store_key) as store_key,
    coalesce(m.month_start, e.month_start) as month_start,
    'differs from rollup_orders_daily' as problem
from mart as m
full join expected as e on e.store_key = m.store_key and e.month_start = m.month_start
where coalesce(m.month_start, e.month_start) not in (select month_start from moved)
  and (m.store_key is null
       or e.store_key is null
       or m.revenue <> e.revenue
       or m.served_orders <> e.served_orders
       or m.total_orders <> e.total_orders
       or m.cancelled_orders <> e.cancelled_orders
       or m.refunded_orders <> e.refunded_orders)
union all
select m.store_key, m.month_start, 'prev_month_revenue is not the month before'
from mart as m
left join mart as p on p.store_key = m.store_key and p.month_start = (m.month_start - interval '1 month')::date
where m.prev_month_revenue <> coalesce(p.revenue, 0)
