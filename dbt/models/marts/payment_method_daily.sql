-- Payments per day (UTC) and method: payments are positive amounts, refunds negative ones.
-- net_amount = gross_amount - refunded_amount. Soft-deleted payments are excluded.
select
    p.date_key,
    d.date as payment_date,
    p.method,
    count(*) filter (where p.amount > 0)::bigint as payments,
    count(*) filter (where p.amount < 0)::bigint as refunds,
    coalesce(sum(p.amount) filter (where p.amount > 0), 0)::numeric(14, 2) as gross_amount,
    coalesce(-sum(p.amount) filter (where p.amount < 0), 0)::numeric(14, 2) as refunded_amount,
    sum(p.amount)::numeric(14, 2) as net_amount
from {{ ref('stg_payments') }} as p
join {{ source('star', 'dim_date') }} as d on d.date_key = p.date_key
group by p.date_key, d.date, p.method
