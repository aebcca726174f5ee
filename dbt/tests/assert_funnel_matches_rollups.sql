-- funnel_daily reproduces rollup_sessions per day and store (sessions, milestones, bounces,
-- revenue); no stage is larger than the sessions; a median time to purchase is there exactly when
-- a session purchased (it comes from fact_app_sessions, the counts from the rollup: both in the
-- same statement of the build). Days moved by transactions the mart's last build did not see are
-- left out of the comparison (the next build rebuilds them). Any row returned is a failure.
with snapshot as (
    select {{ last_build_snapshot(ref('funnel_daily')) }} as s
),

moved as (
    select r.date_key from {{ source('star', 'rollup_sessions') }} as r, snapshot
    where {{ moved_since('r.updated_xid', 'snapshot.s') }}
),

expected as (
    select r.*
    from {{ source('star', 'rollup_sessions') }} as r
    join {{ source('star', 'dim_date') }} as d on d.date_key = r.date_key
    where r.sessions > 0
)

select
    coalesce(m.date_key, e.date_key) as date_key,
    coalesce(m.store_key, e.store_key) as store_key,
    'differs from rollup_sessions' as problem
from {{ ref('funnel_daily') }} as m
full join expected as e on e.date_key = m.date_key and e.store_key = m.store_key
where coalesce(m.date_key, e.date_key) not in (select date_key from moved)
  and (m.date_key is null
       or e.date_key is null
       or m.sessions <> e.sessions
       or m.viewed_product <> e.viewed
       or m.added_to_cart <> e.added
       or m.started_checkout <> e.checked_out
       or m.purchased <> e.purchased
       or m.bounced <> e.bounced
       or m.revenue <> e.revenue)
union all
select date_key, store_key, 'inconsistent row'
from {{ ref('funnel_daily') }}
where greatest(viewed_product, added_to_cart, started_checkout, purchased, bounced) > sessions
   or (purchased > 0) <> (median_seconds_to_purchase is not null)
