-- Customer feedback in the star, and the indexes the analytics service reads by (issue #15).
-- Append-only: never edit a landed migration.

-- Grain: one rating. date_key/time_key are the day and minute (UTC) the rating was given; the
-- order's date and its store, customer and employee keys are copied from fact_orders by the sink
-- (and again whenever the order changes), like fact_payments.
create table fact_feedback (
    feedback_id    integer primary key,
    order_id       integer not null,
    date_key       integer not null default 0,
    time_key       integer not null default -1,
    order_date_key integer not null default 0,
    store_key      integer not null default 0,
    customer_key   integer not null default 0,
    employee_key   integer not null default 0,
    rating         smallint not null check (rating between 1 and 5),
    comment        text,
    rated_at       timestamptz,
    is_deleted     boolean not null default false,
    changed_at     timestamptz not null,
    src_id         bigint not null,
    loaded_at      timestamptz not null default clock_timestamp()
);
create index fact_feedback_order_id_idx on fact_feedback (order_id);
create index fact_feedback_date_key_idx on fact_feedback (date_key);

-- The analytics service filters orders by day and by time (summary, hourly, the live page's
-- orders per minute); neither column changes on a status update, so updates stay HOT.
create index fact_orders_date_key_idx on fact_orders (date_key);
create index fact_orders_order_time_idx on fact_orders (order_time);
