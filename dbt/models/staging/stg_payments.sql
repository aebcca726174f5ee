-- Payments that still exist (soft-deleted payments excluded). Refunds are negative amounts.
select
    payment_id,
    order_id,
    date_key,
    time_key,
    store_key,
    customer_key,
    amount,
    method,
    paid_at
from {{ source('star', 'fact_payments') }}
where not is_deleted
