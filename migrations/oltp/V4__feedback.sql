-- Customer feedback (issue #15): one rating per order, 1 to 5, with an optional comment of at most
-- 500 characters. Captured like every business table. Append-only: never edit a landed migration.
create table feedback (
    id         serial primary key,
    order_id   integer not null unique references orders (id),
    rating     smallint not null check (rating between 1 and 5),
    comment    text check (char_length(comment) <= 500),
    created_at timestamptz not null default now()
);

select cdc_capture_table('feedback');
