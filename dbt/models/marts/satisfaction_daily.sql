-- Customer satisfaction per UTC day of the rating and store (store_key): the number of ratings,
-- their average, the share of satisfied customers (rating 4 or 5) and the count of each rating.
-- Days without ratings do not appear. Soft-deleted ratings are excluded.
select
    f.date_key,
    d.date as rating_date,
    f.store_key,
    s.store_id,
    coalesce(s.name, 'Unknown') as store_name,
    count(*)::bigint as ratings,
    round(avg(f.rating), 2) as average_rating,
    round(100.0 * count(*) filter (where f.rating >= 4) / count(*), 1) as satisfied_pct,
    count(*) filter (where f.rating = 1)::bigint as ratings_1,
    count(*) filter (where f.rating = 2)::bigint as ratings_2,
    count(*) filter (where f.rating = 3)::bigint as ratings_3,
    count(*) filter (where f.rating = 4)::bigint as ratings_4,
    count(*) filter (where f.rating = 5)::bigint as ratings_5,
    count(f.comment)::bigint as with_comment
from {{ ref('stg_feedback') }} as f
join {{ source('star', 'dim_date') }} as d on d.date_key = f.date_key
left join {{ source('star', 'dim_store') }} as s on s.store_key = f.store_key
group by f.date_key, d.date, f.store_key, s.store_id, s.name
