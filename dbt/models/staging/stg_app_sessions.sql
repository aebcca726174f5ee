-- App sessions that still exist (soft-deleted ones excluded), copied in ONE statement (one
-- snapshot), so funnel_daily and its test read the same moment while the daemon keeps writing.
-- One row per session: its UTC start day and store, and when it first reached each milestone.
{{ config(materialized='table', schema='marts') }}

select
    session_id,
    date_key,
    store_key,
    customer_key,
    started_at,
    first_product_view_at,
    first_add_to_cart_at,
    checkout_at,
    purchased_at,
    order_id,
    revenue,
    event_count,
    bounced
from {{ source('star', 'fact_app_sessions') }}
where not is_deleted
