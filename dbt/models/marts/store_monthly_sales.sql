-- One row per store (store_key) and calendar month (UTC) with activity, from rollup_orders_daily;
-- orders with the unknown date (date_key 0) are left out. Revenue is the served orders' totals
-- (equal to their served lines' line_total); prev_month_revenue is the store's revenue in the month
-- before (0 when it had none). items_sold is null: no rollup holds items by store.
-- Incremental by month: a build recomputes the months with a day moved since the last one and the
-- month after each (its prev_month_revenue), and the months whose store names changed
-- (macros/increments.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='month_start',
    on_schema_change='fail',
    pre_hook="{{ adopt_previous_mart() }}",
    post_hook="{{ drop_tombstones() }}"
) }}
{%- set incremental = incremental_build() %}

with
{%- if incremental %}
moved_months as (
    {{ days_moved_since_last_build(
        ['rollup_orders_daily'],
        grain='month',
        mart_day="to_char(m.month_start, 'YYYYMM')::int",
        stale="not exists (
            select 1 from " ~ source('star', 'dim_store') ~ " as s
            where s.store_key = m.store_key
              and s.store_id is not distinct from m.store_id
              and coalesce(s.name, 'Store #' || s.store_id, 'Unknown') = m.store_name
              and s.city is not distinct from m.city)"
    ) }}
),

months_to_build as (
    select make_date(month_key / 100, month_key % 100, 1) as month_start
    from moved_months
    where month_key <> 0
    union
    select (make_date(month_key / 100, month_key % 100, 1) + interval '1 month')::date
    from moved_months
    where month_key <> 0
),

days_to_read as (
    -- the days of the months to build and of the months before them
    select d.date_key
    from {{ source('star', 'dim_date') }} as d
    where d.date_key / 100 = any(array(
        select to_char(month_start, 'YYYYMM')::int from months_to_build
        union
        select to_char(month_start - interval '1 month', 'YYYYMM')::int from months_to_build))
),
{%- endif %}

orders as (
    select
        o.store_key,
        make_date(d.year, d.month, 1) as month_start,
        sum(o.revenue) filter (where o.status = 'served') as revenue,
        sum(o.orders) filter (where o.status = 'served') as served_orders,
        sum(o.orders) as total_orders,
        sum(o.orders) filter (where o.status = 'cancelled') as cancelled_orders,
        sum(o.orders) filter (where o.status = 'refunded') as refunded_orders
    from {{ source('star', 'rollup_orders_daily') }} as o
    join {{ source('star', 'dim_date') }} as d on d.date_key = o.date_key
    where o.orders > 0
      and o.date_key <> 0
      {%- if incremental %}
      and o.date_key = any(array(select date_key from days_to_read))
      {%- endif %}
    group by 1, 2
),

monthly as (
    select
        store_key,
        month_start,
        coalesce(revenue, 0)::numeric(14, 2) as revenue,
        coalesce(served_orders, 0)::bigint as served_orders,
        null::bigint as items_sold,
        round(revenue / nullif(served_orders, 0), 2) as avg_order_value,
        coalesce(total_orders, 0)::bigint as total_orders,
        coalesce(cancelled_orders, 0)::bigint as cancelled_orders,
        coalesce(refunded_orders, 0)::bigint as refunded_orders
    from orders
),

final as (
    select
        m.store_key,
        st.store_id,
        coalesce(st.name, 'Store #' || st.store_id, 'Unknown') as store_name,
        st.city,
        m.month_start,
        to_char(m.month_start, 'YYYY-MM') as month,
        m.revenue,
        m.served_orders,
        m.items_sold,
        m.avg_order_value,
        m.total_orders,
        m.cancelled_orders,
        m.refunded_orders,
        coalesce(p.revenue, 0)::numeric(14, 2) as prev_month_revenue,
        round(100 * (m.revenue - p.revenue) / nullif(p.revenue, 0), 2) as mom_revenue_change_pct,
        {{ build_stamp() }}
    from monthly as m
    join {{ source('star', 'dim_store') }} as st on st.store_key = m.store_key
    left join monthly as p
        on p.store_key = m.store_key and p.month_start = (m.month_start - interval '1 month')::date
    {%- if incremental %}
    where m.month_start in (select month_start from months_to_build)
    {%- endif %}
)

select * from final
{%- if incremental %}
union all
{{ tombstones('months_to_build', 'month_start') }}
{%- endif %}
