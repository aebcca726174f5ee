-- Payments that still exist (soft-deleted payments excluded), from the consistent cut of the
-- facts (stg_fact_cut). Refunds are negative amounts.
select
    id as payment_id,
    order_id,
    date_key,
    time_key,
    store_key,
    customer_key,
    amount,
    method,
    happened_at as paid_at
from {{ ref('stg_fact_cut') }}
where fact = 'payment'
