-- The rollups of the last readers whose cost followed the order rate (issue #23), kept by the
-- daemon like the others: two latency histograms and the products' interest. A percentile of a
-- window does not add up from smaller windows, a count per latency bucket does: the freshness
-- readers (the live page, the pipeline health, the "Pipeline Freshness" card) and the funnel's
-- median time to purchase read a few hundred histogram cells however many orders an hour brings,
-- instead of sorting every line or session of the window. Append-only: never edit a landed
-- migration.
--
-- Bucket b > 0 holds latencies in (2^((b-1)/8), 2^(b/8)] milliseconds, each about 9 % wide; bucket
-- 0 holds up to 1 ms; 240 is the last (12 days and more). src/rollups/registry.rs computes the
-- bucket; latency_quantile below estimates a percentile inside its bucket (log-linear), as
-- Prometheus's histogram_quantile does: the estimate is within one bucket (9 %) of the exact one.

-- Streamed order lines by the UTC minute they were loaded and the bucket of loaded_at − changed_at
-- (rows loaded by a snapshot job carry no change time and are left out, as the readers always did).
create table rollup_freshness (
    date_key    integer not null,  -- the UTC day of `minute`
    minute      integer not null,  -- minutes since 1970-01-01 00:00 UTC
    bucket      integer not null,
    lines       bigint not null default 0,
    updated_at  timestamptz not null default now(),
    updated_xid xid8 not null default pg_current_xact_id(),
    primary key (date_key, minute, bucket)
);

-- Purchasing app sessions by UTC day of their start, store and the bucket of purchased_at −
-- started_at: the funnel's median time to purchase.
create table rollup_purchase_times (
    date_key    integer not null,
    store_key   integer not null,
    bucket      integer not null,
    sessions    bigint not null default 0,
    updated_at  timestamptz not null default now(),
    updated_xid xid8 not null default pg_current_xact_id(),
    primary key (date_key, store_key, bucket)
);

-- App sessions' interest in products, by the UTC day of the session's first event of the product,
-- store and product (`GET /api/v1/products/interest`): the sessions that viewed it, added it to
-- their cart, bought it (their order_placed event's order has a live line of it), viewed it and
-- did not buy it, and the units they added. One (session, product) counts once, on its first day.
create table rollup_interest (
    date_key    integer not null,
    store_key   integer not null,
    product_id  integer not null,
    viewed      bigint not null default 0,
    added       bigint not null default 0,
    bought      bigint not null default 0,
    not_bought  bigint not null default 0,
    units       bigint not null default 0,
    updated_at  timestamptz not null default now(),
    updated_xid xid8 not null default pg_current_xact_id(),
    primary key (date_key, store_key, product_id)
);

-- The sessions that placed an order: a batch that changes an order's lines moves their interest.
create index fact_app_events_order_idx on fact_app_events (order_id) where event_type = 'order_placed';

create index rollup_interest_updated_idx on rollup_interest (updated_xid);
create index rollup_freshness_minute_idx on rollup_freshness (minute);
create index rollup_freshness_updated_idx on rollup_freshness (updated_xid);
create index rollup_purchase_times_updated_idx on rollup_purchase_times (updated_xid);

-- The qs-quantiles (each 0 ≤ q ≤ 1) in milliseconds of a histogram given as parallel arrays of
-- buckets and counts (a bucket may repeat: its counts add up); nulls when it counts nothing.
create function latency_quantiles(qs float8[], buckets integer[], counts bigint[]) returns float8[]
language sql immutable parallel safe as $$
    with h as (select b, sum(n)::float8 as n from unnest(buckets, counts) as u(b, n) group by b having sum(n) > 0),
         c as (select b, n, sum(n) over (order by b) as upto, sum(n) over () as total from h)
    select array_agg((select case when c.b = 0 then 1.0
                                  else power(2, (c.b - 1 + greatest(u.q * c.total - (c.upto - c.n), 0) / c.n) / 8.0) end
                      from c where c.upto >= u.q * c.total order by c.b limit 1) order by u.i)
    from unnest(qs) with ordinality as u(q, i)
$$;

-- One quantile of the same.
create function latency_quantile(q float8, buckets integer[], counts bigint[]) returns float8
language sql immutable parallel safe
return (latency_quantiles(array[q], buckets, counts))[1];

-- The freshness of the order lines streamed since `since`, to the minute (the cells of the minute
-- holding `since` and every later one): lines, and the 50th, 95th and 99th percentiles in
-- milliseconds. What the live page, the pipeline health and the Metabase card show.
create function freshness_since(since timestamptz)
returns table (lines bigint, p50_ms float8, p95_ms float8, p99_ms float8)
language sql stable parallel safe as $$
    select h.lines, h.q[1], h.q[2], h.q[3]
    from (select coalesce(sum(f.lines), 0)::int8 as lines,
                 latency_quantiles(array[0.5, 0.95, 0.99], array_agg(f.bucket), array_agg(f.lines)) as q
          from rollup_freshness f
          where f.date_key >= to_char(since at time zone 'UTC', 'YYYYMMDD')::int
            and f.minute >= floor(extract(epoch from since) / 60)::int) h
$$;

-- A rebuild on the first start fills them (src/rollups: rollups_built is cleared so the daemon
-- rebuilds every rollup from the facts it already holds).
update cdc_offset set rollups_built = false;
