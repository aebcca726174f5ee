-- Order lines that still exist (soft-deleted lines excluded). Revenue readers add
-- `order_status = 'served'` themselves.
select
    order_item_id,
    order_id,
    product_id,
    product_key,
    date_key,
    time_key,
    store_key,
    customer_key,
    employee_key,
    quantity,
    unit_price,
    line_total,
    order_status,
    order_time,
    changed_at,
    loaded_at
from {{ source('star', 'fact_sales') }}
where not is_deleted
