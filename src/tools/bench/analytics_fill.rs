//! The analytics scenario's warehouse, written **directly in SQL** (not through OLTP and the
//! daemon: a year of history needs order times spread over 365 days, which the capture path
//! cannot backdate): the dimensions of a small chain, `orders` orders over the last 365 days
//! (UTC, weighted to the day; ids and rows in time order, as the daemon loads them), 1 to 3 lines
//! each (so ≥ 1M lines at 500k orders), 96% served / 3% cancelled / 1% refunded, a payment per
//! order (a refund for the refunded ones), a rating for 30% of served orders, an app session for
//! one order in five; then the rollups built from those facts (`crate::rollups`), and `vacuum (analyze)`.
//! One more day of orders ([`add_day`]) moves the rollups as the daemon does, by their delta.

use tokio_postgres::Client;

use super::{env::DbPair, BenchError};
use crate::{db, rollups};

const DIMS: &str = "
    set timezone = 'UTC';
    insert into dim_store (store_id, name, city, changed_at, src_id)
    select i, 'Store ' || i, 'City ' || i, now(), i from generate_series(1, 4) i;
    insert into dim_employee (employee_id, store_id, name, role, active, changed_at, src_id)
    select i, 1 + (i - 1) % 4, 'Barista ' || i, 'barista', true, now(), i from generate_series(1, 16) i;
    insert into dim_customer (customer_id, name, email, changed_at, src_id)
    select i, 'Customer ' || i, 'c' || i || '@example.com', now(), i from generate_series(1, 1000) i;
    insert into dim_product (product_id, name, category, price, active, changed_at, src_id)
    select i, 'Product ' || i, (array['coffee', 'tea', 'bakery', 'food', 'cold drinks'])[1 + i % 5],
           2.50 + (i % 8) * 0.50, true, now(), i
    from generate_series(1, 20) i;";

/// `$1` orders over the days `$2` (days back from today, inclusive) to `$3`, ids after the
/// highest one there.
const ORDERS: &str = "
    insert into fact_orders (order_id, customer_id, employee_id, store_id, date_key, time_key, store_key, customer_key,
                             employee_key, order_time, status, total, changed_at, src_id, loaded_at)
    select (select coalesce(max(order_id), 0) from fact_orders) + row_number() over (order by t), c, e,
           1 + (e - 1) % 4, to_char(t, 'YYYYMMDD')::int, (extract(hour from t) * 60 + extract(minute from t))::int,
           s.store_key, dc.customer_key, de.employee_key, t,
           case when r < 0.96 then 'served' when r < 0.99 then 'cancelled' else 'refunded' end, 0, t, g,
           t + interval '40 milliseconds'
    from (select g, 1 + floor(random() * 1000)::int as c, 1 + floor(random() * 16)::int as e, random() as r,
                 date_trunc('day', now()) - floor($3::float8 + random() * ($2::float8 - $3::float8 + 1)) * interval '1 day'
                   + (6 + 14 * random() * random() + 2 * random()) * interval '1 hour' as t
          from generate_series(1, $1::int) g) o
    join dim_customer dc on dc.customer_id = o.c
    join dim_employee de on de.employee_id = o.e
    join dim_store s on s.store_id = 1 + (o.e - 1) % 4
    where o.t < now()
    order by t";

/// The lines, payments, ratings, app sessions and their events of the orders above `$1`.
const DETAILS: [&str; 6] = [
    "insert into fact_sales (order_item_id, order_id, product_id, date_key, time_key, store_key, customer_key, employee_key,
                             product_key, quantity, unit_price, line_total, order_status, order_time, changed_at, src_id,
                             loaded_at)
     select (select coalesce(max(order_item_id), 0) from fact_sales) + row_number() over (), o.order_id, p.product_id,
            o.date_key, o.time_key, o.store_key, o.customer_key, o.employee_key, p.product_key, q.quantity, p.price,
            q.quantity * p.price, o.status, o.order_time, o.changed_at, o.src_id, o.loaded_at
     from fact_orders o
     cross join lateral generate_series(1, 1 + (o.order_id * 7) % 3) as l(n)
     cross join lateral (select 1 + (o.order_id * 13 + l.n * 7) % 20 as product_id,
                                case when (o.order_id + l.n) % 6 = 0 then 2 else 1 end as quantity) q
     join dim_product p on p.product_id = q.product_id and p.is_current
     where o.order_id > $1",
    "update fact_orders o set total = s.total
     from (select order_id, sum(line_total) as total from fact_sales where order_id > $1 group by 1) s
     where s.order_id = o.order_id",
    "insert into fact_payments (payment_id, order_id, date_key, time_key, store_key, customer_key, amount, method,
                                paid_at, changed_at, src_id, loaded_at)
     select (select coalesce(max(payment_id), 0) from fact_payments) + row_number() over (order by order_id, k),
            order_id, date_key, time_key, store_key, customer_key, case when k = 1 then total else -total end,
            (array['cash', 'card', 'mobile'])[1 + order_id % 3], order_time, order_time, src_id, loaded_at
     from fact_orders cross join lateral generate_series(1, case when status = 'refunded' then 2 else 1 end) k
     where order_id > $1 and status <> 'cancelled' and total > 0",
    "insert into fact_feedback (feedback_id, order_id, date_key, time_key, order_date_key, store_key, customer_key,
                                employee_key, rating, comment, rated_at, changed_at, src_id, loaded_at)
     select (select coalesce(max(feedback_id), 0) from fact_feedback) + row_number() over (order by order_id), order_id,
            date_key, time_key, date_key, store_key, customer_key, employee_key,
            (array[1, 2, 3, 4, 4, 5, 5, 5])[1 + (order_id * 11) % 8], null, order_time + interval '10 minutes',
            order_time, src_id, loaded_at
     from fact_orders where order_id > $1 and status = 'served' and order_id % 10 < 3",
    "insert into fact_app_sessions (session_id, date_key, time_key, store_key, customer_key, started_at, ended_at,
                                    first_product_view_at, first_add_to_cart_at, checkout_at, purchased_at, order_id,
                                    revenue, event_count, loaded_at)
     select md5(order_id::text)::uuid, date_key, time_key, store_key, customer_key, order_time - interval '5 minutes',
            order_time, order_time - interval '4 minutes', order_time - interval '2 minutes',
            order_time - interval '1 minute', order_time, order_id, total, 6, loaded_at
     from fact_orders where order_id > $1 and order_id % 5 = 0",
    // A session's start, a view of each product of its order and of one it does not buy, an add to
    // cart of each, the checkout and the order.
    "insert into fact_app_events (session_id, event_id, event_type, at, date_key, time_key, store_id, product_id,
                                  store_key, quantity, order_id, order_total, changed_at, src_id, loaded_at)
     select a.session_id, row_number() over (partition by a.session_id order by e.at, e.kind, e.product_id), e.kind,
            e.at, a.date_key, a.time_key, s.store_id, e.product_id, a.store_key, e.quantity, e.order_id, e.total, e.at,
            1, a.loaded_at
     from fact_app_sessions a
     join dim_store s on s.store_key = a.store_key
     cross join lateral (
         select 'session_start' as kind, a.started_at as at, null::int as product_id, null::int as quantity,
                null::int as order_id, null::numeric as total
         union all select 'product_view', a.first_product_view_at, 1 + (a.order_id * 3) % 20, null, null, null
         union all select 'product_view', a.first_product_view_at, l.product_id, null, null, null
                   from fact_sales l where l.order_id = a.order_id
         union all select 'add_to_cart', a.first_add_to_cart_at, l.product_id, l.quantity, null, null
                   from fact_sales l where l.order_id = a.order_id
         union all select 'checkout_start', a.checkout_at, null, null, null, null
         union all select 'order_placed', a.purchased_at, null, null, a.order_id, a.revenue) e
     where a.order_id > $1",
];

/// Write the warehouse of `orders` orders over 365 days, its rollups, and `vacuum (analyze)`; returns the
/// order lines written.
pub(super) async fn fill(pair: &DbPair, orders: i64) -> Result<i64, BenchError> {
    let (oltp, mut olap) = (pair.oltp().await?, pair.olap().await?);
    db::apply_roles(&oltp, &olap, &pair.config).await?;
    olap.batch_execute(DIMS).await?;
    olap.execute(ORDERS, &[&(orders as i32), &364.0f64, &0.0f64]).await?;
    for sql in DETAILS {
        olap.execute(sql, &[&0i32]).await?;
    }
    let tx = olap.transaction().await?;
    rollups::rebuild(&tx).await?;
    tx.commit().await?;
    olap.batch_execute("update cdc_offset set applied_changes = (select count(*) from fact_sales) * 4").await?;
    // Vacuumed as well as analysed, as a warehouse that has been running is: otherwise autovacuum
    // visits the freshly written tables during the measurement, and the p99 of sub-millisecond
    // reads measures it.
    olap.batch_execute("vacuum (analyze)").await?;
    Ok(olap.query_one("select count(*) from fact_sales", &[]).await?.get(0))
}

/// One more day of orders (a 365th of `orders`, yesterday: all of it in the past), its details, and the rollups moved by
/// their delta in the same transaction, as a batch of the daemon would.
pub(super) async fn add_day(olap: &mut Client, orders: i64) -> Result<(), BenchError> {
    let delta = rollups::Delta::prepare(olap).await?;
    let tx = olap.transaction().await?;
    let last: i32 = tx.query_one("select coalesce(max(order_id), 0) from fact_orders", &[]).await?.get(0);
    let touched = rollups::Touched::default();
    let before = delta.before(&tx, &touched, false).await?;
    tx.execute(ORDERS, &[&((orders / 365).max(1) as i32), &1.0f64, &1.0f64]).await?;
    for sql in DETAILS {
        tx.execute(sql, &[&last]).await?;
    }
    let ids = tx.query("select order_id from fact_orders where order_id > $1", &[&last]).await?;
    let sessions = tx.query("select session_id from fact_app_sessions where order_id > $1", &[&last]).await?;
    let touched = rollups::Touched {
        orders: ids.iter().map(|r| r.get(0)).collect(),
        sessions: sessions.iter().map(|r| r.get(0)).collect(),
    };
    delta.apply(&tx, &touched, &before).await?;
    tx.commit().await?;
    Ok(())
}
