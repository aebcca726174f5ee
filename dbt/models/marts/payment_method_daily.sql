-- Payments per day (UTC) and method, from rollup_payments: payments are positive amounts (or
-- zero), refunds negative ones. net_amount = gross_amount - refunded_amount. Soft-deleted
-- payments are excluded (the rollup holds live rows only). Incremental: a build recomputes the
-- days moved since the last one (macros/increments.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='date_key',
    on_schema_change='fail',
    pre_hook="{{ adopt_previous_mart() }}",
    post_hook="{{ drop_tombstones() }}"
) }}
{%- set incremental = incremental_build() %}

with
{%- if incremental %}
days_to_build as (
    {{ days_moved_since_last_build(['rollup_payments']) }}
),
{%- endif %}

final as (
    select
        p.date_key,
        d.date as payment_date,
        p.method,
        coalesce(sum(p.payments) filter (where p.kind = 'payment'), 0)::bigint as payments,
        coalesce(sum(p.payments) filter (where p.kind = 'refund'), 0)::bigint as refunds,
        coalesce(sum(p.amount) filter (where p.kind = 'payment'), 0)::numeric(14, 2) as gross_amount,
        coalesce(-sum(p.amount) filter (where p.kind = 'refund'), 0)::numeric(14, 2) as refunded_amount,
        sum(p.amount)::numeric(14, 2) as net_amount,
        {{ build_stamp() }}
    from {{ source('star', 'rollup_payments') }} as p
    join {{ source('star', 'dim_date') }} as d on d.date_key = p.date_key
    where p.payments > 0
      {%- if incremental %}
      and p.date_key = any(array(select date_key from days_to_build))
      {%- endif %}
    group by p.date_key, d.date, p.method
)

select * from final
{%- if incremental %}
union all
{{ tombstones('days_to_build', 'date_key') }}
{%- endif %}
