-- Rollups (issue #23): aggregate tables the daemon keeps exact in the same transaction as the
-- facts they summarise (src/rollups), so that readers cost what a day costs, not what the history
-- costs. Each holds the live (not deleted) rows of its facts, grouped by its key; a row whose
-- measures all went back to zero may stay. `updated_xid` is the transaction that last moved the
-- row (and `updated_at` its start): the dbt marts rebuild only the days moved by transactions their
-- last build's snapshot did not see. Append-only: never edit a landed migration.

-- Orders by UTC day, hour (-1: unknown time), store and status: hourly charts, peak hours, the
-- hourly forecast, the live page's chart.
create table rollup_orders_hourly (
    date_key   integer not null,
    hour       integer not null,
    store_key  integer not null,
    status     text not null,
    orders     bigint not null default 0,
    revenue    numeric(16,2) not null default 0,
    updated_at timestamptz not null default now(),
    updated_xid xid8 not null default pg_current_xact_id(),
    primary key (date_key, hour, store_key, status)
);

-- Orders by UTC day, store, employee and status: summaries, monthly store comparison, the daily
-- forecast, employee performance.
create table rollup_orders_daily (
    date_key     integer not null,
    store_key    integer not null,
    employee_key integer not null,
    status       text not null,
    orders       bigint not null default 0,
    revenue      numeric(16,2) not null default 0,
    updated_at   timestamptz not null default now(),
    updated_xid  xid8 not null default pg_current_xact_id(),
    primary key (date_key, store_key, employee_key, status)
);

-- Order lines by UTC day (of the order), product (all its versions: readers show the current
-- one) and order status: items sold, top products, product performance.
create table rollup_sales (
    date_key     integer not null,
    product_id   integer not null,
    order_status text not null,
    lines        bigint not null default 0,
    quantity     bigint not null default 0,
    revenue      numeric(16,2) not null default 0,
    updated_at   timestamptz not null default now(),
    updated_xid  xid8 not null default pg_current_xact_id(),
    primary key (date_key, product_id, order_status)
);

-- Payments by UTC day, method and kind (a refund is a negative payment).
create table rollup_payments (
    date_key   integer not null,
    method     text not null,
    kind       text not null check (kind in ('payment', 'refund')),
    payments   bigint not null default 0,
    amount     numeric(16,2) not null default 0,
    updated_at timestamptz not null default now(),
    updated_xid xid8 not null default pg_current_xact_id(),
    primary key (date_key, method, kind)
);

-- Ratings by UTC day of the rating, store and rating.
create table rollup_ratings (
    date_key   integer not null,
    store_key  integer not null,
    rating     integer not null,
    ratings    bigint not null default 0,
    comments   bigint not null default 0,
    updated_at timestamptz not null default now(),
    updated_xid xid8 not null default pg_current_xact_id(),
    primary key (date_key, store_key, rating)
);

-- Served orders per customer, all time (RFM): how many, their revenue, the first and the last.
create table rollup_customers (
    customer_key   integer primary key,
    orders         bigint not null default 0,
    revenue        numeric(16,2) not null default 0,
    first_order_at timestamptz,
    last_order_at  timestamptz,
    updated_at     timestamptz not null default now(),
    updated_xid    xid8 not null default pg_current_xact_id()
);
-- A customer's first and last served order, found in two index probes when one of theirs moves.
create index fact_orders_customer_served_idx on fact_orders (customer_key, order_time)
    where status = 'served' and not is_deleted;

-- App sessions by UTC day of their start and store: the funnel's stages.
create table rollup_sessions (
    date_key    integer not null,
    store_key   integer not null,
    sessions    bigint not null default 0,
    viewed      bigint not null default 0,
    added       bigint not null default 0,
    checked_out bigint not null default 0,
    purchased   bigint not null default 0,
    bounced     bigint not null default 0,
    revenue     numeric(16,2) not null default 0,
    updated_at  timestamptz not null default now(),
    updated_xid xid8 not null default pg_current_xact_id(),
    primary key (date_key, store_key)
);

-- What moved since a snapshot: an index on updated_xid per table (the dbt marts' increments).
create index rollup_orders_hourly_updated_idx on rollup_orders_hourly (updated_xid);
create index rollup_orders_daily_updated_idx on rollup_orders_daily (updated_xid);
create index rollup_sales_updated_idx on rollup_sales (updated_xid);
create index rollup_payments_updated_idx on rollup_payments (updated_xid);
create index rollup_ratings_updated_idx on rollup_ratings (updated_xid);
create index rollup_customers_updated_idx on rollup_customers (updated_xid);
create index rollup_sessions_updated_idx on rollup_sessions (updated_xid);

-- Whether the rollups hold the facts: false until the daemon first builds them from the facts (a
-- warehouse that had facts before this migration), and while the daemon runs with
-- CDC_ROLLUPS=off (they are not maintained then; turned on again, the daemon rebuilds them).
alter table cdc_offset add column rollups_built boolean not null default false;
