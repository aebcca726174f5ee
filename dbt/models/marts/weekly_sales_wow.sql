-- One row per ISO week (Monday start, UTC) from the first to the last week with activity, with the
-- change against the week before. `is_complete` is false for the current (partial) week and for a
-- first week that started before the data did; compare complete weeks only.
with weeks as (
    select
        date_trunc('week', sale_date)::date as week_start,
        min(iso_year) as iso_year,
        min(iso_week) as iso_week,
        sum(revenue) as revenue,
        sum(served_orders) as served_orders,
        sum(items_sold) as items_sold,
        sum(cancelled_orders) as cancelled_orders,
        sum(refunded_orders) as refunded_orders,
        count(*) as days_with_data,
        min(sale_date) as first_day
    from {{ ref('daily_sales') }}
    where sale_date is not null
    group by 1
)

select
    w.week_start,
    (w.week_start + 6) as week_end,
    w.iso_year,
    w.iso_week,
    w.revenue::numeric(14, 2) as revenue,
    w.served_orders::bigint as served_orders,
    w.items_sold::bigint as items_sold,
    round(w.revenue / nullif(w.served_orders, 0), 2) as avg_order_value,
    w.cancelled_orders::bigint as cancelled_orders,
    w.refunded_orders::bigint as refunded_orders,
    (w.week_start + 6 < (now() at time zone 'UTC')::date and w.first_day = w.week_start) as is_complete,
    p.revenue::numeric(14, 2) as prev_week_revenue,
    p.served_orders::bigint as prev_week_served_orders,
    (w.revenue - p.revenue)::numeric(14, 2) as wow_revenue_change,
    round(100 * (w.revenue - p.revenue) / nullif(p.revenue, 0), 2) as wow_revenue_change_pct,
    (w.served_orders - p.served_orders)::bigint as wow_orders_change
from weeks as w
left join weeks as p on p.week_start = w.week_start - 7
