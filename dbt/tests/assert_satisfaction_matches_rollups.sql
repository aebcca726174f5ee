-- satisfaction_daily reproduces rollup_ratings per day and store: the same number of ratings, the
-- same count of each rating and of comments; every average between 1 and 5 and equal to the sum
-- of ratings over their number, the counts per rating adding up. Days moved by transactions the
-- mart's last build did not see are left out of the comparison (the next build rebuilds them).
-- Any row returned is a failure.
with snapshot as (
    select {{ last_build_snapshot(ref('satisfaction_daily')) }} as s
),

moved as (
    select r.date_key from {{ source('star', 'rollup_ratings') }} as r, snapshot
    where {{ moved_since('r.updated_xid', 'snapshot.s') }}
),

expected as (
    select
        date_key,
        store_key,
        sum(ratings) as ratings,
        sum(rating * ratings) as rating_sum,
        sum(ratings) filter (where rating = 1) as ratings_1,
        sum(ratings) filter (where rating = 5) as ratings_5,
        sum(comments) as with_comment
    from {{ source('star', 'rollup_ratings') }}
    where ratings > 0
    group by date_key, store_key
)

select
    coalesce(m.date_key, e.date_key) as date_key,
    coalesce(m.store_key, e.store_key) as store_key,
    'differs from rollup_ratings' as problem
from {{ ref('satisfaction_daily') }} as m
full join expected as e on e.date_key = m.date_key and e.store_key = m.store_key
where coalesce(m.date_key, e.date_key) not in (select date_key from moved)
  and (m.date_key is null
       or e.date_key is null
       or m.ratings <> e.ratings
       or m.ratings_1 + 2 * m.ratings_2 + 3 * m.ratings_3 + 4 * m.ratings_4 + 5 * m.ratings_5 <> e.rating_sum
       or m.ratings_1 <> coalesce(e.ratings_1, 0)
       or m.ratings_5 <> coalesce(e.ratings_5, 0)
       or m.with_comment <> e.with_comment)
union all
select date_key, store_key, 'inconsistent row'
from {{ ref('satisfaction_daily') }}
where average_rating < 1
   or average_rating > 5
   or ratings <> ratings_1 + ratings_2 + ratings_3 + ratings_4 + ratings_5
   or average_rating <> round((ratings_1 + 2 * ratings_2 + 3 * ratings_3 + 4 * ratings_4 + 5 * ratings_5)::numeric / ratings, 2)
