-- RFM segmentation of every known customer (customer_key <> 0) with at least one served order,
-- from rollup_customers (served orders, all time):
--   recency   = days from the customer's last served order to today (UTC)
--   frequency = served orders, monetary = their totals (equal to their served lines' line_total;
--               soft-deleted orders excluded)
-- Each is scored 1-5 with ntile(5) over all scored customers (5 = best: most recent, most
-- frequent, highest spend); ties are split by customer_key so the scores are deterministic.
-- Segments (first rule that matches):
--   champions          R >= 4 and F >= 4
--   loyal              R >= 3 and F >= 3
--   new                R >= 4 and F <= 2
--   potential_loyalist R = 3  and F <= 2
--   at_risk            R <= 2 and F >= 3
--   lost               R = 1  and F = 1
--   hibernating        everything else (R <= 2 and F <= 2)
with served as (
    select
        customer_key,
        orders as frequency,
        revenue as monetary,
        last_order_at,
        first_order_at
    from {{ source('star', 'rollup_customers') }}
    where orders > 0 and customer_key <> 0
),

measured as (
    select
        s.*,
        greatest(0, (now() at time zone 'UTC')::date - (s.last_order_at at time zone 'UTC')::date) as recency_days
    from served as s
),

scored as (
    select
        m.*,
        ntile(5) over (order by m.recency_days desc, m.customer_key) as r_score,
        ntile(5) over (order by m.frequency, m.customer_key) as f_score,
        ntile(5) over (order by m.monetary, m.customer_key) as m_score
    from measured as m
)

select
    s.customer_key,
    c.customer_id,
    coalesce(c.name, 'Customer #' || c.customer_id, 'Unknown') as customer_name,
    s.recency_days,
    s.frequency::bigint as frequency,
    s.monetary::numeric(14, 2) as monetary,
    s.first_order_at,
    s.last_order_at,
    s.r_score,
    s.f_score,
    s.m_score,
    (s.r_score::text || s.f_score::text || s.m_score::text) as rfm_cell,
    s.r_score + s.f_score + s.m_score as rfm_total,
    case
        when s.r_score >= 4 and s.f_score >= 4 then 'champions'
        when s.r_score >= 3 and s.f_score >= 3 then 'loyal'
        when s.r_score >= 4 and s.f_score <= 2 then 'new'
        when s.r_score = 3 and s.f_score <= 2 then 'potential_loyalist'
        when s.r_score <= 2 and s.f_score >= 3 then 'at_risk'
        when s.r_score = 1 and s.f_score = 1 then 'lost'
        else 'hibernating'
    end as segment,
    {{ build_stamp() }}
from scored as s
join {{ source('star', 'dim_customer') }} as c on c.customer_key = s.customer_key
