-- satisfaction_daily reproduces fact_feedback: the same number of live ratings and the same sum
-- of ratings, every average between 1 and 5, and the counts per rating adding up. Any row returned
-- is a failure.
with mart as (
    select
        coalesce(sum(ratings), 0) as ratings,
        coalesce(sum(ratings_1 + 2 * ratings_2 + 3 * ratings_3 + 4 * ratings_4 + 5 * ratings_5), 0) as rating_sum,
        count(*) filter (where average_rating < 1 or average_rating > 5) as bad_averages,
        count(*) filter (where ratings <> ratings_1 + ratings_2 + ratings_3 + ratings_4 + ratings_5) as bad_counts
    from {{ ref('satisfaction_daily') }}
),

facts as (
    select count(*) as ratings, coalesce(sum(rating), 0) as rating_sum
    from {{ source('star', 'fact_feedback') }}
    where not is_deleted
)

select mart.*, facts.ratings as fact_ratings, facts.rating_sum as fact_rating_sum
from mart cross join facts
where mart.ratings <> facts.ratings
   or mart.rating_sum <> facts.rating_sum
   or mart.bad_averages > 0
   or mart.bad_counts > 0
