-- Customer ratings that still exist (soft-deleted ratings excluded), from the consistent cut of
-- the facts (stg_fact_cut). date_key is the UTC day the rating was given; order_date_key and the
-- store/customer/employee keys are the order's.
select
    id as feedback_id,
    order_id,
    date_key,
    time_key,
    order_date_key,
    store_key,
    customer_key,
    employee_key,
    rating,
    comment,
    happened_at as rated_at
from {{ ref('stg_fact_cut') }}
where fact = 'feedback'
