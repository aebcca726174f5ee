-- The app's conversion funnel per UTC day of the session's start and store (store_key): how many
-- sessions there were and how many reached each milestone at least once (viewed a product, added
-- to cart, started checkout, placed an order), bounced (one event only), the placed orders'
-- revenue, the overall conversion and the median seconds from a session's start to its order.
-- Days without sessions do not appear.
select
    s.date_key,
    d.date as session_date,
    s.store_key,
    st.store_id,
    coalesce(st.name, 'Unknown') as store_name,
    count(*)::bigint as sessions,
    count(s.first_product_view_at)::bigint as viewed_product,
    count(s.first_add_to_cart_at)::bigint as added_to_cart,
    count(s.checkout_at)::bigint as started_checkout,
    count(s.purchased_at)::bigint as purchased,
    count(*) filter (where s.bounced)::bigint as bounced,
    coalesce(sum(s.revenue), 0) as revenue,
    round(100.0 * count(s.purchased_at) / count(*), 1) as conversion_pct,
    percentile_cont(0.5) within group (order by extract(epoch from s.purchased_at - s.started_at))
        filter (where s.purchased_at is not null) as median_seconds_to_purchase
from {{ ref('stg_app_sessions') }} as s
join {{ source('star', 'dim_date') }} as d on d.date_key = s.date_key
left join {{ source('star', 'dim_store') }} as st on st.store_key = s.store_key
group by s.date_key, d.date, s.store_key, st.store_id, st.name
