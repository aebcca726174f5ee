-- funnel_daily reproduces fact_app_sessions: the same sessions, milestones, bounces and revenue in
-- total, and no stage larger than the sessions. Any row returned is a failure. Both sides read the
-- same copy (stg_app_sessions), so it holds under load.
with mart as (
    select
        coalesce(sum(sessions), 0) as sessions,
        coalesce(sum(viewed_product), 0) as viewed_product,
        coalesce(sum(added_to_cart), 0) as added_to_cart,
        coalesce(sum(started_checkout), 0) as started_checkout,
        coalesce(sum(purchased), 0) as purchased,
        coalesce(sum(bounced), 0) as bounced,
        coalesce(sum(revenue), 0) as revenue,
        count(*) filter (where greatest(viewed_product, added_to_cart, started_checkout, purchased, bounced)
                               > sessions) as bad_rows
    from {{ ref('funnel_daily') }}
),

facts as (
    select
        count(*) as sessions,
        count(first_product_view_at) as viewed_product,
        count(first_add_to_cart_at) as added_to_cart,
        count(checkout_at) as started_checkout,
        count(purchased_at) as purchased,
        count(*) filter (where bounced) as bounced,
        coalesce(sum(revenue), 0) as revenue
    from {{ ref('stg_app_sessions') }}
    -- funnel_daily keeps the sessions whose day is in the calendar (dim_date), key 0 included
)

select mart.*, facts.sessions as fact_sessions, facts.purchased as fact_purchased, facts.revenue as fact_revenue
from mart cross join facts
where mart.sessions <> facts.sessions
   or mart.viewed_product <> facts.viewed_product
   or mart.added_to_cart <> facts.added_to_cart
   or mart.started_checkout <> facts.started_checkout
   or mart.purchased <> facts.purchased
   or mart.bounced <> facts.bounced
   or mart.revenue <> facts.revenue
   or mart.bad_rows > 0
