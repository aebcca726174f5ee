-- The hour of the day (UTC) with the most orders, per store (store_key). Ties go to the earlier
-- hour. Stores without any timed order do not appear.
with ranked as (
    select
        h.*,
        sum(h.orders) over (partition by h.store_key) as store_orders,
        row_number() over (partition by h.store_key order by h.orders desc, h.hour) as rn
    from {{ ref('store_hourly_orders') }} as h
)

select
    store_key,
    store_id,
    store_name,
    hour as peak_hour,
    hour_label as peak_hour_label,
    orders as peak_hour_orders,
    revenue as peak_hour_revenue,
    store_orders::bigint as total_orders,
    round(100.0 * orders / nullif(store_orders, 0), 2) as peak_hour_share_pct
from ranked
where rn = 1 and orders > 0
