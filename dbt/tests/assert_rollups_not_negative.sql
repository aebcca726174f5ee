-- No rollup cell counts fewer than zero rows (the daemon adds each batch's after - before: a
-- negative count would be a contribution subtracted twice). Any row returned is a failure.
select 'rollup_orders_hourly' as rollup, count(*) as cells
from {{ source('star', 'rollup_orders_hourly') }} where orders < 0
having count(*) > 0
union all
select 'rollup_orders_daily', count(*)
from {{ source('star', 'rollup_orders_daily') }} where orders < 0
having count(*) > 0
union all
select 'rollup_sales', count(*)
from {{ source('star', 'rollup_sales') }} where lines < 0 or quantity < 0
having count(*) > 0
union all
select 'rollup_payments', count(*)
from {{ source('star', 'rollup_payments') }}
where payments < 0 or (kind = 'payment' and amount < 0) or (kind = 'refund' and amount > 0)
having count(*) > 0
union all
select 'rollup_ratings', count(*)
from {{ source('star', 'rollup_ratings') }} where ratings < 0 or comments < 0 or comments > ratings
having count(*) > 0
union all
select 'rollup_customers', count(*)
from {{ source('star', 'rollup_customers') }} where orders < 0
having count(*) > 0
union all
select 'rollup_sessions', count(*)
from {{ source('star', 'rollup_sessions') }}
where sessions < 0 or least(viewed, added, checked_out, purchased, bounced) < 0
   or greatest(viewed, added, checked_out, purchased, bounced) > sessions
having count(*) > 0
union all
select 'rollup_purchase_times', count(*)
from {{ source('star', 'rollup_purchase_times') }} where sessions < 0
having count(*) > 0
union all
select 'rollup_freshness', count(*)
from {{ source('star', 'rollup_freshness') }} where lines < 0
having count(*) > 0
union all
select 'rollup_interest', count(*)
from {{ source('star', 'rollup_interest') }}
where least(viewed, added, bought, not_bought, units) < 0 or not_bought > viewed
having count(*) > 0
