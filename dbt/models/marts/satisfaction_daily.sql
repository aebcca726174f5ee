-- Customer satisfaction per UTC day of the rating and store (store_key), from rollup_ratings:
-- the number of ratings, their average, the share of satisfied customers (rating 4 or 5) and the
-- count of each rating. Days without ratings do not appear. Soft-deleted ratings are excluded
-- (the rollup holds live rows only). Incremental: a build recomputes the days moved since the
-- last one, and the days whose store name changed (macros/increments.sql).
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
    {{ days_moved_since_last_build(['rollup_ratings'], stale="
        exists (select 1 from " ~ source('star', 'dim_store') ~ " as s
                where s.store_key = m.store_key
                  and (s.store_id is distinct from m.store_id or coalesce(s.name, 'Unknown') <> m.store_name))") }}
),
{%- endif %}

final as (
    select
        r.date_key,
        d.date as rating_date,
        r.store_key,
        s.store_id,
        coalesce(s.name, 'Unknown') as store_name,
        sum(r.ratings)::bigint as ratings,
        round(sum(r.rating * r.ratings)::numeric / sum(r.ratings), 2) as average_rating,
        round(100.0 * coalesce(sum(r.ratings) filter (where r.rating >= 4), 0) / sum(r.ratings), 1) as satisfied_pct,
        coalesce(sum(r.ratings) filter (where r.rating = 1), 0)::bigint as ratings_1,
        coalesce(sum(r.ratings) filter (where r.rating = 2), 0)::bigint as ratings_2,
        coalesce(sum(r.ratings) filter (where r.rating = 3), 0)::bigint as ratings_3,
        coalesce(sum(r.ratings) filter (where r.rating = 4), 0)::bigint as ratings_4,
        coalesce(sum(r.ratings) filter (where r.rating = 5), 0)::bigint as ratings_5,
        sum(r.comments)::bigint as with_comment,
        {{ build_stamp() }}
    from {{ source('star', 'rollup_ratings') }} as r
    join {{ source('star', 'dim_date') }} as d on d.date_key = r.date_key
    left join {{ source('star', 'dim_store') }} as s on s.store_key = r.store_key
    where r.ratings > 0
      {%- if incremental %}
      and r.date_key = any(array(select date_key from days_to_build))
      {%- endif %}
    group by r.date_key, d.date, r.store_key, s.store_id, s.name
)

select * from final
{%- if incremental %}
union all
{{ tombstones('days_to_build', 'date_key') }}
{%- endif %}
