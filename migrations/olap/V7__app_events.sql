-- App behaviour in the star (issue #22). Append-only: never edit a landed migration.

-- Grain: one app event (a degenerate session key and the client's event id). date_key/time_key
-- are the client's time (UTC); product_key is the product version valid then (0 when the event
-- names no product).
create table fact_app_events (
    session_id   uuid not null,
    event_id     integer not null,
    event_type   text not null check (event_type in ('session_start', 'menu_view', 'product_view', 'search',
                                                     'add_to_cart', 'remove_from_cart', 'checkout_start',
                                                     'order_placed')),
    at           timestamptz not null,
    date_key     integer not null default 0,
    time_key     integer not null default -1,
    store_id     integer not null,
    customer_id  integer,
    product_id   integer,
    store_key    integer not null default 0,
    customer_key integer not null default 0,
    product_key  integer not null default 0,
    quantity     integer,
    query        text,
    order_id     integer,
    order_total  numeric(12,2),
    is_deleted   boolean not null default false,
    changed_at   timestamptz not null,
    src_id       bigint not null,
    loaded_at    timestamptz not null default clock_timestamp(),
    primary key (session_id, event_id)
);
create index fact_app_events_date_key_idx on fact_app_events (date_key);

-- Accumulating snapshot: one row per app session, recomputed from its live events whenever one
-- arrives (so it is the same whatever order they arrive in). date_key/time_key/store_key are the
-- first event's; customer_key the first event's that names a customer (0: anonymous); each
-- milestone the time of its first event; order_id and revenue those of the first placed order.
create table fact_app_sessions (
    session_id            uuid primary key,
    date_key              integer not null default 0,
    time_key              integer not null default -1,
    store_key             integer not null default 0,
    customer_key          integer not null default 0,
    started_at            timestamptz not null,
    ended_at              timestamptz not null,
    first_product_view_at timestamptz,
    first_add_to_cart_at  timestamptz,
    checkout_at           timestamptz,
    purchased_at          timestamptz,
    order_id              integer,
    revenue               numeric(12,2),
    event_count           integer not null,
    bounced               boolean generated always as (event_count = 1) stored,
    duration_seconds      double precision generated always as (extract(epoch from ended_at - started_at)) stored,
    is_deleted            boolean not null default false,
    loaded_at             timestamptz not null default clock_timestamp()
);
create index fact_app_sessions_date_key_idx on fact_app_sessions (date_key);
