-- Order lines that still exist (soft-deleted lines excluded), from the consistent cut of the
-- facts (stg_fact_cut). Revenue readers add `order_status = 'served'` themselves.
select
    id as order_item_id,
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
    amount as line_total,
    status as order_status,
    happened_at as order_time,
    changed_at,
    loaded_at
from {{ ref('stg_fact_cut') }}
where fact = 'sale'
