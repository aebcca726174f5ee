-- Fails (returns a row) when the total revenue of daily_sales differs from the fact total it must
-- reproduce: line_total of served, non-deleted fact_sales rows. On a warehouse the daemon is
-- writing to, a change applied between the model build and this test makes it fail once; rerun.
with mart as (
    select coalesce(sum(revenue), 0) as revenue
    from {{ ref('daily_sales') }}
),

facts as (
    select coalesce(sum(line_total), 0) as revenue
    from {{ source('star', 'fact_sales') }}
    where not is_deleted
      and order_status = 'served'
)

select
    mart.revenue as mart_revenue,
    facts.revenue as fact_revenue,
    mart.revenue - facts.revenue as difference
from mart
cross join facts
where mart.revenue <> facts.revenue
