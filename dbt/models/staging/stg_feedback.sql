-- Customer ratings that still exist (soft-deleted ratings excluded). date_key is the UTC day the
-- rating was given; order_date_key and the store/customer/employee keys are the order's.
select
    feedback_id,
    order_id,
    date_key,
    time_key,
    order_date_key,
    store_key,
    customer_key,
    employee_key,
    rating,
    comment,
    rated_at
from {{ source('star', 'fact_feedback') }}
where not is_deleted
