-- Orders that still exist (soft-deleted orders excluded).
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
    order_time,
    status,
    total,
    changed_at,
    loaded_at
from {{ source('star', 'fact_orders') }}
where not is_deleted
