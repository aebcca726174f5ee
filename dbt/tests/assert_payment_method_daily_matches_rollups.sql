-- payment_method_daily reproduces rollup_payments per day and method (payments and refunds, their
-- amounts, net = gross - refunded), leaving out the days moved by transactions the mart's last
-- build did not see (the next build rebuilds them). Any row returned is a failure.
with snapshot as (
    select {{ last_build_snapshot(ref('payment_method_daily')) }} as s
),

moved as (
    select r.date_key from {{ source('star', 'rollup_payments') }} as r, snapshot
    where {{ moved_since('r.updated_xid', 'snapshot.s') }}
),

expected as (
    select
        date_key,
        method,
        coalesce(sum(payments) filter (where kind = 'payment'), 0) as payments,
        coalesce(sum(payments) filter (where kind = 'refund'), 0) as refunds,
        coalesce(sum(amount) filter (where kind = 'payment'), 0) as gross_amount,
        coalesce(-sum(amount) filter (where kind = 'refund'), 0) as refunded_amount
    from {{ source('star', 'rollup_payments') }}
    where payments > 0
    group by date_key, method
)

select coalesce(m.date_key, e.date_key) as date_key, coalesce(m.method, e.method) as method
from {{ ref('payment_method_daily') }} as m
full join expected as e on e.date_key = m.date_key and e.method = m.method
where coalesce(m.date_key, e.date_key) not in (select date_key from moved)
  and (m.date_key is null
       or e.date_key is null
       or m.payments <> e.payments
       or m.refunds <> e.refunds
       or m.gross_amount <> e.gross_amount
       or m.refunded_amount <> e.refunded_amount
       or m.net_amount <> m.gross_amount - m.refunded_amount)
