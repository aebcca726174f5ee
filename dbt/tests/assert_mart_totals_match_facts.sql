-- Fails (returns a row) when the total revenue of daily_sales differs from the fact total it must
-- reproduce: line_total of served, non-deleted fact_sales rows. Both sides come from the same
-- consistent cut of the facts (stg_fact_cut, copied in one statement), so the test holds while
-- the daemon keeps writing; on a quiet warehouse the cut equals fact_sales.
with mart as (
    select coalesce(sum(revenue), 0) as revenue
    from {{ ref('daily_sales') }}
),

facts as (
    select coalesce(sum(line_total), 0) as revenue
    from {{ ref('stg_sales') }}
    where order_status = 'served'
)

select
    mart.revenue as mart_revenue,
    facts.revenue as fact_revenue,
    mart.revenue - facts.revenue as difference
from mart
cross join facts
where mart.revenue <> facts.revenue
