-- The star schema of coffee_olap. Append-only: never edit a landed migration.
-- Conventions:
-- * Every dimension has a surrogate key, its natural key from OLTP, and an "unknown" member with
--   key 0 (natural key null). `is_inferred` marks placeholder members created when a fact arrived
--   before its dimension row; the real row later overwrites the placeholder in place.
-- * `changed_at` + `src_id` is the source version of a row (the change's clock_timestamp() and its
--   cdc_orders id). An upsert applies only when its version is newer: an older change never
--   overwrites a newer one.
-- * `loaded_at` is clock_timestamp() at apply time, so freshness is measurable per row.
-- * Fact tables carry no foreign keys to the dimensions (the usual warehouse practice): the sink
--   only writes keys it has just looked up in the dimensions (or 0, the unknown member), and six
--   FK checks per fact row cost more than half of the apply time. dbt `relationships` tests and
--   `brewlytics verify` check the references instead.

create table dim_date (
    date_key     integer primary key,           -- yyyymmdd; 0 = unknown
    date         date unique,
    year         smallint,
    quarter      smallint,
    month        smallint,
    month_name   text,
    iso_year     smallint,
    iso_week     smallint,
    day_of_month smallint,
    day_of_week  smallint,                      -- ISO: 1 = Monday .. 7 = Sunday
    day_name     text,
    is_weekend   boolean
);
insert into dim_date (date_key) values (0);
insert into dim_date
select to_char(d, 'YYYYMMDD')::integer, d,
       extract(year from d), extract(quarter from d), extract(month from d), trim(to_char(d, 'Month')),
       extract(isoyear from d), extract(week from d), extract(day from d), extract(isodow from d),
       trim(to_char(d, 'Day')), extract(isodow from d) in (6, 7)
from generate_series(date '2015-01-01', date '2045-12-31', interval '1 day') as g(t),
     lateral (select t::date as d) as x;

create table dim_time (
    time_key integer primary key,               -- minute of the day, UTC; -1 = unknown
    hour     smallint,
    minute   smallint,
    label    text,                              -- 'HH:MM'
    daypart  text
);
insert into dim_time (time_key, daypart) values (-1, 'unknown');
insert into dim_time
select m, m / 60, m % 60, to_char(make_time(m / 60, m % 60, 0), 'HH24:MI'),
       case when m < 360 then 'night' when m < 660 then 'morning' when m < 840 then 'lunch'
            when m < 1020 then 'afternoon' when m < 1260 then 'evening' else 'night' end
from generate_series(0, 1439) as m;

create table dim_store (
    store_key   serial primary key,
    store_id    integer unique,
    name        text,
    city        text,
    is_inferred boolean not null default false,
    is_deleted  boolean not null default false,
    changed_at  timestamptz not null default '-infinity',
    src_id      bigint not null default 0
);
insert into dim_store (store_key, name, city) values (0, 'Unknown', 'Unknown');

create table dim_customer (
    customer_key serial primary key,
    customer_id  integer unique,
    name         text,
    email        text,
    is_inferred  boolean not null default false,
    is_deleted   boolean not null default false,
    changed_at   timestamptz not null default '-infinity',
    src_id       bigint not null default 0
);
insert into dim_customer (customer_key, name) values (0, 'Unknown');

create table dim_employee (
    employee_key serial primary key,
    employee_id  integer unique,
    store_id     integer,
    name         text,
    role         text,
    active       boolean,
    is_inferred  boolean not null default false,
    is_deleted   boolean not null default false,
    changed_at   timestamptz not null default '-infinity',
    src_id       bigint not null default 0
);
insert into dim_employee (employee_key, name) values (0, 'Unknown');

-- Type 2 on name, category and price: a change closes the current version (valid_to, is_current)
-- and opens a new one. `active` and deletion are type 1 on the current version.
create table dim_product (
    product_key serial primary key,
    product_id  integer,
    name        text,
    category    text,
    price       numeric(10,2),
    active      boolean,
    valid_from  timestamptz not null default '-infinity',
    valid_to    timestamptz not null default 'infinity',
    is_current  boolean not null default true,
    is_inferred boolean not null default false,
    is_deleted  boolean not null default false,
    changed_at  timestamptz not null default '-infinity',
    src_id      bigint not null default 0,
    check (valid_from < valid_to)
);
create unique index dim_product_current_idx on dim_product (product_id) where is_current;
create unique index dim_product_version_idx on dim_product (product_id, valid_from);
insert into dim_product (product_key, name, category) values (0, 'Unknown', 'Unknown');

-- Accumulating snapshot: one row per order, updated in place as its status changes.
create table fact_orders (
    order_id     integer primary key,
    customer_id  integer,
    employee_id  integer,
    store_id     integer,
    date_key     integer not null default 0,
    time_key     integer not null default -1,
    store_key    integer not null default 0,
    customer_key integer not null default 0,
    employee_key integer not null default 0,
    order_time   timestamptz,
    status       text not null check (status in ('placed', 'served', 'cancelled', 'refunded')),
    total        numeric(12,2) not null,
    is_deleted   boolean not null default false,
    changed_at   timestamptz not null,
    src_id       bigint not null,
    loaded_at    timestamptz not null default clock_timestamp()
);

-- Grain: one order line.
create table fact_sales (
    order_item_id integer primary key,
    order_id      integer not null,
    product_id    integer not null,
    date_key      integer not null default 0,
    time_key      integer not null default -1,
    store_key     integer not null default 0,
    customer_key  integer not null default 0,
    employee_key  integer not null default 0,
    product_key   integer not null default 0,
    quantity      integer not null check (quantity > 0),
    unit_price    numeric(10,2) not null,
    line_total    numeric(12,2) not null,
    order_status  text not null default 'unknown',
    order_time    timestamptz,
    is_deleted    boolean not null default false,
    changed_at    timestamptz not null,
    src_id        bigint not null,
    loaded_at     timestamptz not null default clock_timestamp()
);
create index fact_sales_order_id_idx on fact_sales (order_id);
create index fact_sales_date_key_idx on fact_sales (date_key);
create index fact_sales_product_key_idx on fact_sales (product_key);
create index fact_sales_loaded_at_idx on fact_sales (loaded_at);

-- Grain: one payment (a refund is a negative payment).
create table fact_payments (
    payment_id   integer primary key,
    order_id     integer not null,
    date_key     integer not null default 0,
    time_key     integer not null default -1,
    store_key    integer not null default 0,
    customer_key integer not null default 0,
    amount       numeric(12,2) not null,
    method       text not null check (method in ('cash', 'card', 'mobile')),
    paid_at      timestamptz,
    is_deleted   boolean not null default false,
    changed_at   timestamptz not null,
    src_id       bigint not null,
    loaded_at    timestamptz not null default clock_timestamp()
);
create index fact_payments_order_id_idx on fact_payments (order_id);

-- Grain: product x store x day (UTC). Movements add into their day's row; `on_hand` is the last
-- stock level seen that day (semi-additive: do not sum it across days).
create table fact_inventory (
    date_key       integer not null,
    store_id       integer not null,
    product_id     integer not null,
    store_key      integer not null default 0,
    product_key    integer not null default 0,
    units_received integer not null default 0,
    units_sold     integer not null default 0,
    units_wasted   integer not null default 0,
    units_adjusted integer not null default 0,
    net_units      integer not null default 0,
    on_hand        integer,
    on_hand_at     timestamptz,
    loaded_at      timestamptz not null default clock_timestamp(),
    primary key (date_key, store_id, product_id)
);

-- The daemon's checkpoint, committed in the same transaction as the star-schema writes.
-- A batch is every change whose transaction is visible in `window_end` but not in
-- `window_start` (pg_snapshot text). While a large window is read page by page, (after_txid,
-- after_id) is the last change applied; when the window is done it becomes the next window_start.
create table cdc_offset (
    source          text primary key,
    window_start    text,
    window_end      text,
    after_txid      bigint,
    after_id        bigint,
    batch_seq       bigint not null default 0,
    applied_changes bigint not null default 0,
    updated_at      timestamptz not null default now()
);
insert into cdc_offset (source) values ('cdc_orders');

create table cdc_dead_letter (
    id          bigserial primary key,
    source_id   bigint not null,                -- cdc_orders.id
    txid        bigint,
    table_name  text,
    op          text,
    row_id      bigint,
    before      jsonb,
    after       jsonb,
    changed_at  timestamptz,
    reason      text not null,
    error_kind  text not null,
    failed_at   timestamptz not null default now(),
    replayed_at timestamptz,
    unique (source_id)
);
