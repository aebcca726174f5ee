-- One consistent cut of the facts: fact_sales, fact_orders, fact_payments and fact_feedback copied in ONE
-- statement (one snapshot), so every mart and every mart-vs-fact test reads the same moment while
-- the daemon keeps writing (separate reads of the live tables would each see a different moment).
-- Soft-deleted rows are left out. One row per fact row; `fact` says which table it came from and
-- the columns a table lacks are null. stg_sales, stg_orders, stg_payments and stg_feedback unfold it.
{{ config(materialized='table', schema='marts') }}

select
    'sale'::text as fact,
    order_item_id as id,
    order_id,
    product_id,
    product_key,
    null::integer as customer_id,
    null::integer as employee_id,
    null::integer as store_id,
    date_key,
    time_key,
    store_key,
    customer_key,
    employee_key,
    quantity,
    unit_price,
    line_total as amount,
    order_status as status,
    null::text as method,
    order_time as happened_at,
    changed_at,
    loaded_at,
    null::integer as order_date_key,
    null::smallint as rating,
    null::text as comment
from {{ source('star', 'fact_sales') }}
where not is_deleted

union all

select
    'order', order_id, order_id, null, null, customer_id, employee_id, store_id, date_key, time_key,
    store_key, customer_key, employee_key, null, null, total, status, null, order_time, changed_at,
    loaded_at, null, null, null
from {{ source('star', 'fact_orders') }}
where not is_deleted

union all

select
    'payment', payment_id, order_id, null, null, null, null, null, date_key, time_key, store_key,
    customer_key, null, null, null, amount, null, method, paid_at, changed_at, loaded_at, null, null,
    null
from {{ source('star', 'fact_payments') }}
where not is_deleted

union all

select
    'feedback', feedback_id, order_id, null, null, null, null, null, date_key, time_key, store_key,
    customer_key, employee_key, null, null, null, null, null, rated_at, changed_at, loaded_at,
    order_date_key, rating, comment
from {{ source('star', 'fact_feedback') }}
where not is_deleted
