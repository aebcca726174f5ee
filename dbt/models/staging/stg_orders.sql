-- Orders that still exist (soft-deleted orders excluded), from the consistent cut of the facts
-- (stg_fact_cut).
select
    order_id,
    customer_id,
    employee_id,
    store_id,
    date_key,
    time_key,
    store_key,
    customer_key,
    employee_key,
    happened_at as order_time,
    status,
    amount as total,
    changed_at,
    loaded_at
from {{ ref('stg_fact_cut') }}
where fact = 'order'
