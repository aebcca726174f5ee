-- The app's conversion funnel per UTC day of the session's start and store (store_key): how many
-- sessions there were and how many reached each milestone at least once (viewed a product, added
-- to cart, started checkout, placed an order), bounced (one event only), the placed orders'
-- revenue, the overall conversion and the median seconds from a session's start to its order.
-- Days without sessions do not appear. The counts come from rollup_sessions; the median (not
-- additive) from the live purchased sessions of fact_app_sessions of the days built, in the same
-- statement (the daemon writes both in one transaction). Incremental: a build recomputes the days
-- moved since the last one, and the days whose store name changed (macros/increments.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='date_key',
    on_schema_change='fail',
    pre_hook="{{ adopt_previous_mart() }}",
    post_hook="{{ drop_tombstones() }}"
) }}
{%- set incremental = incremental_build() %}

with
{%- if incremental %}
days_to_build as (
    {{ days_moved_since_last_build(['rollup_sessions'], stale="
        exists (select 1 from " ~ source('star', 'dim_store') ~ " as s
                where s.store_key = m.store_key
                  and (s.store_id is distinct from m.store_id or coalesce(s.name, 'Unknown') <> m.store_name))") }}
),
{%- endif %}

medians as (
    select
        date_key,
        store_key,
        percentile_cont(0.5) within group (order by extract(epoch from purchased_at - started_at))
            as median_seconds_to_purchase
    from {{ source('star', 'fact_app_sessions') }}
    where not is_deleted
      and purchased_at is not null
      {%- if incremental %}
      and date_key = any(array(select date_key from days_to_build))
      {%- endif %}
    group by date_key, store_key
),

final as (
    select
        r.date_key,
        d.date as session_date,
        r.store_key,
        st.store_id,
        coalesce(st.name, 'Unknown') as store_name,
        r.sessions::bigint as sessions,
        r.viewed::bigint as viewed_product,
        r.added::bigint as added_to_cart,
        r.checked_out::bigint as started_checkout,
        r.purchased::bigint as purchased,
        r.bounced::bigint as bounced,
        r.revenue::numeric as revenue,
        round(100.0 * r.purchased / r.sessions, 1) as conversion_pct,
        m.median_seconds_to_purchase,
        {{ build_stamp() }}
    from {{ source('star', 'rollup_sessions') }} as r
    join {{ source('star', 'dim_date') }} as d on d.date_key = r.date_key
    left join {{ source('star', 'dim_store') }} as st on st.store_key = r.store_key
    left join medians as m on m.date_key = r.date_key and m.store_key = r.store_key
    where r.sessions > 0
      {%- if incremental %}
      and r.date_key = any(array(select date_key from days_to_build))
      {%- endif %}
)

select * from final
{%- if incremental %}
union all
{{ tombstones('days_to_build', 'date_key') }}
{%- endif %}
