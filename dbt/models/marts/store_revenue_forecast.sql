-- Seasonal-naive 7-day revenue forecast per store; see the model description in schema.yml.
-- For each of the next 7 days D (tomorrow .. today + 7, UTC) and each store, the forecast is the
-- mean served revenue of the 4 most recent complete days with D's weekday: the 28 days before
-- today hold exactly 4 of each weekday. Days without sales count as 0. The history comes from
-- rollup_orders_daily (served orders' totals, equal to their served lines' line_total).
with today as (
    select (now() at time zone 'UTC')::date as d
),

history_days as (
    select dd.date_key, dd.date, dd.day_of_week
    from {{ source('star', 'dim_date') }} as dd
    cross join today as t
    where dd.date between t.d - 28 and t.d - 1
),

served_daily as (
    select o.store_key, o.date_key, sum(o.revenue) as revenue, sum(o.orders) as served_orders
    from {{ source('star', 'rollup_orders_daily') }} as o
    where o.status = 'served'
      and o.orders > 0
      and o.date_key in (select date_key from history_days)
    group by o.store_key, o.date_key
),

stores as (
    select store_key, store_id, name
    from {{ source('star', 'dim_store') }}
    where store_key <> 0 and not is_deleted
),

history as (
    select
        st.store_key,
        h.day_of_week,
        sum(coalesce(r.revenue, 0)) / 4.0 as avg_revenue,
        sum(coalesce(r.served_orders, 0)) / 4.0 as avg_orders,
        min(h.date) as first_history_day,
        max(h.date) as last_history_day,
        count(*) as history_days
    from stores as st
    cross join history_days as h
    left join served_daily as r
        on r.store_key = st.store_key and r.date_key = h.date_key
    group by st.store_key, h.day_of_week
),

horizon as (
    select dd.date_key, dd.date, dd.day_of_week, dd.day_name
    from {{ source('star', 'dim_date') }} as dd
    cross join today as t
    where dd.date between t.d + 1 and t.d + 7
)

select
    st.store_key,
    st.store_id,
    coalesce(st.name, 'Store #' || st.store_id) as store_name,
    hz.date as forecast_date,
    hz.date_key,
    hz.day_of_week,
    hz.day_name,
    round(h.avg_revenue, 2)::numeric(14, 2) as forecast_revenue,
    round(h.avg_orders, 2) as forecast_orders,
    h.first_history_day,
    h.last_history_day,
    h.history_days::int as history_days,
    'seasonal_naive_weekday_mean_4w'::text as method,
    now() as generated_at,
    {{ build_stamp() }}
from stores as st
cross join horizon as hz
join history as h on h.store_key = st.store_key and h.day_of_week = hz.day_of_week
