-- What customers do in the order-ahead app and the in-store kiosks (issue #22): one row per event,
-- posted by `POST /events` in batches of one session's events. Captured like every business
-- table. Append-only: never edit a landed migration.
--
-- * (session_id, event_id) is unique: a batch sent twice (a mobile retry) stores each event once;
--   the API answers how many were new and how many duplicates.
-- * `at` is the client's time (it may be late, or out of order); `received_at` the server's.
-- * Per type, the fields the type needs: product_id for product views and cart events (quantity
--   for cart events, default 1), query for searches, order_id for a placed order (with the
--   order's total when the event was posted: the purchase's revenue as the funnel counts it).
-- * Never updated by the API. The id is bigint: a chain's app posts ~10 events per order.
create table app_events (
    id          bigserial primary key,
    session_id  uuid not null,
    event_id    integer not null check (event_id >= 0),
    event_type  text not null check (event_type in ('session_start', 'menu_view', 'product_view', 'search',
                                                    'add_to_cart', 'remove_from_cart', 'checkout_start',
                                                    'order_placed')),
    at          timestamptz not null,
    received_at timestamptz not null default now(),
    store_id    integer not null references stores (id),
    customer_id integer references customers (id),
    product_id  integer references products (id),
    quantity    integer check (quantity > 0),
    query       text check (char_length(query) between 1 and 200),
    order_id    integer references orders (id),
    order_total numeric(12,2),
    unique (session_id, event_id),
    check ((event_type in ('product_view', 'add_to_cart', 'remove_from_cart')) = (product_id is not null)),
    check ((event_type in ('add_to_cart', 'remove_from_cart')) = (quantity is not null)),
    check ((event_type = 'search') = (query is not null)),
    check ((event_type = 'order_placed') = (order_id is not null and order_total is not null))
);

select cdc_capture_table('app_events');
