-- One row per calendar day (UTC) from the first to the last day with activity (days without
-- sales included with zeros), plus date_key 0 when facts carry the unknown date, so that the sum
-- of `revenue` always equals the served, non-deleted line total of fact_sales.
-- From the rollups: revenue and items from rollup_sales (served lines), order counts from
-- rollup_orders_daily. Incremental: a build recomputes the days moved since the last one (see
-- macros/increments.sql) and the zero-filled days between the old and the new first/last day.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='date_key',
    on_schema_change='fail',
    pre_hook="{{ adopt_previous_mart() }}",
    post_hook="{{ drop_tombstones() }}"
) }}
{%- set incremental = incremental_build() %}

with bounds as (
    -- first and last known day with activity: four index probes
    select
        least(
            (select min(date_key) from {{ source('star', 'rollup_sales') }}
             where date_key <> 0 and order_status = 'served' and lines > 0),
            (select min(date_key) from {{ source('star', 'rollup_orders_daily') }}
             where date_key <> 0 and orders > 0)
        ) as first_key,
        greatest(
            (select max(date_key) from {{ source('star', 'rollup_sales') }}
             where date_key <> 0 and order_status = 'served' and lines > 0),
            (select max(date_key) from {{ source('star', 'rollup_orders_daily') }}
             where date_key <> 0 and orders > 0)
        ) as last_key
),

{%- if incremental %}

previous_bounds as (
    select min(date_key) as first_key, max(date_key) as last_key
    from {{ this }}
    where date_key <> 0
),

bound_moves as (
    -- an empty mart counts as bounds [last, first] (so all of [first, last] is built), no
    -- activity left as the previous bounds reversed (so all the mart's days are rebuilt)
    select
        coalesce(p.first_key, b.last_key) as old_first,
        coalesce(b.first_key, p.last_key) as new_first,
        coalesce(p.last_key, b.first_key) as old_last,
        coalesce(b.last_key, p.first_key) as new_last
    from bounds as b
    cross join previous_bounds as p
),

days_to_build as (
    {{ days_moved_since_last_build(
        ['rollup_sales', 'rollup_orders_daily'],
        active='m.total_orders > 0 or m.revenue <> 0 or m.items_sold <> 0'
    ) }}
    union
    -- the zero-filled days come and go with the first and last day: [old, new) or [new, old)
    -- at the start, (old, new] or (new, old] at the end
    select d.date_key
    from {{ source('star', 'dim_date') }} as d
    cross join bound_moves as bm
    where (d.date_key >= least(bm.old_first, bm.new_first) and d.date_key < greatest(bm.old_first, bm.new_first))
       or (d.date_key > least(bm.old_last, bm.new_last) and d.date_key <= greatest(bm.old_last, bm.new_last))
),
{%- endif %}

served as (
    select
        date_key,
        sum(revenue) as revenue,
        sum(quantity) as items_sold
    from {{ source('star', 'rollup_sales') }}
    where order_status = 'served'
      and lines > 0
      {%- if incremental %}
      and date_key = any(array(select date_key from days_to_build))
      {%- endif %}
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
      {%- if incremental %}
      and date_key = any(array(select date_key from days_to_build))
      {%- endif %}
    group by date_key
),

calendar as (
    select d.date_key
    from {{ source('star', 'dim_date') }} as d
    cross join bounds as b
    where d.date_key between b.first_key and b.last_key
      {%- if incremental %}
      and d.date_key = any(array(select date_key from days_to_build))
      {%- endif %}
    union
    select date_key from served
    union
    select date_key from orders
),

final as (
    select
        c.date_key,
        d.date as sale_date,
        d.year,
        d.month,
        d.iso_year,
        d.iso_week,
        d.day_of_week,
        d.day_name,
        coalesce(s.revenue, 0)::numeric(14, 2) as revenue,
        coalesce(o.served_orders, 0)::bigint as served_orders,
        coalesce(s.items_sold, 0)::bigint as items_sold,
        round(s.revenue / nullif(o.served_orders, 0), 2) as avg_order_value,
        round(s.items_sold::numeric / nullif(o.served_orders, 0), 2) as items_per_order,
        coalesce(o.total_orders, 0)::bigint as total_orders,
        coalesce(o.placed_orders, 0)::bigint as placed_orders,
        coalesce(o.cancelled_orders, 0)::bigint as cancelled_orders,
        coalesce(o.refunded_orders, 0)::bigint as refunded_orders,
        {{ build_stamp() }}
    from calendar as c
    join {{ source('star', 'dim_date') }} as d on d.date_key = c.date_key
    left join served as s on s.date_key = c.date_key
    left join orders as o on o.date_key = c.date_key
)

select * from final
{%- if incremental %}
union all
{{ tombstones('days_to_build', 'date_key') }}
{%- endif %}
