//! Bulk order generation in SQL, for the drain and snapshot scenarios: orders with the same shape as
//! `POST /orders/new` writes (an order, 1 to 3 distinct lines, a payment, one `sale` movement per
//! line and one on-hand upsert per line), through the real capture triggers, much faster than
//! placing them one by one.
//!
//! Each chunk is one transaction of set-based statements. On-hand upserts go in rounds so that
//! no statement touches a stock row twice (one round per line of the same product and store):
//! the change stream therefore holds one inventory `U` per line, as the API's does.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::BenchError;

/// Orders per OLTP transaction.
pub(crate) const CHUNK_ORDERS: i64 = 1000;

const ORDERS_SQL: &str = "
    create temp table bench_orders on commit drop as
    select nextval('orders_id_seq')::int as id,
           c.ids[1 + floor(r.rc * cardinality(c.ids))::int] as customer_id,
           e.ids[1 + floor(r.re * cardinality(e.ids))::int] as employee_id,
           e.stores[1 + floor(r.re * cardinality(e.ids))::int] as store_id,
           r.nlines
    from (select g, random() as rc, random() as re, 1 + floor(random() * 3)::int as nlines
          from generate_series(1, $1::int8) as g) as r,
         (select array_agg(id order by id) as ids from customers) as c,
         (select array_agg(id order by id) as ids, array_agg(store_id order by id) as stores
          from employees where active) as e";

const LINES_SQL: &str = "
    create temp table bench_lines on commit drop as
    select l.*, row_number() over (partition by l.product_id, l.store_id order by l.order_id) as round
    from (select o.id as order_id, o.store_id, p.id as product_id, p.price,
                 case when random() < 0.8 then 1 else 2 end as quantity
          from bench_orders o
          cross join lateral (select id, price from products where active
                              order by random() + o.id * 0 limit o.nlines) as p) as l";

const WRITE_SQL: &str = "
    insert into orders (id, customer_id, employee_id, store_id, status, order_time, total)
    select o.id, o.customer_id, o.employee_id, o.store_id, 'placed', now(), t.total
    from bench_orders o
    join (select order_id, sum(quantity * price) as total from bench_lines group by order_id) t on t.order_id = o.id
    order by o.id;
    insert into order_items (order_id, product_id, quantity, price)
    select order_id, product_id, quantity, price from bench_lines order by order_id, product_id;
    insert into payments (order_id, amount, method)
    select order_id, sum(quantity * price),
           (array['card', 'card', 'card', 'cash', 'mobile'])[1 + floor(random() * 5)::int]
    from bench_lines group by order_id order by order_id;
    insert into inventory_movements (product_id, store_id, order_id, quantity, reason)
    select product_id, store_id, order_id, -quantity, 'sale' from bench_lines order by order_id, product_id;";

const STOCK_ROUND_SQL: &str = "
    insert into inventory (product_id, store_id, on_hand)
    select product_id, store_id, -quantity from bench_lines where round = $1 order by product_id, store_id
    on conflict (product_id, store_id)
    do update set on_hand = inventory.on_hand + excluded.on_hand, updated_at = now()";

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BulkReport {
    pub(crate) elapsed: Duration,
}

/// Whether generated orders go through the capture triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capture {
    /// As the API writes them: every row lands in `cdc_orders` (a backlog to drain).
    On,
    /// Bypassed (`session_replication_role = replica`, superuser): existing data the change
    /// log does not hold, as a restored or pre-capture database has (a snapshot to load).
    Bypassed,
}

/// Write `orders` orders in chunks of [`CHUNK_ORDERS`], each chunk committed on its own.
pub(crate) async fn generate(client: &mut Client, orders: i64, capture: Capture) -> Result<BulkReport, BenchError> {
    let started = Instant::now();
    let role = if capture == Capture::On { "origin" } else { "replica" };
    client.batch_execute(&format!("set session_replication_role = {role}")).await?;
    let mut left = orders;
    while left > 0 {
        let n = left.min(CHUNK_ORDERS);
        let tx = client.transaction().await?;
        tx.execute(ORDERS_SQL, &[&n]).await?;
        tx.batch_execute(LINES_SQL).await?;
        tx.batch_execute(WRITE_SQL).await?;
        let rounds: i64 = tx.query_one("select coalesce(max(round), 0) from bench_lines", &[]).await?.get(0);
        for r in 1..=rounds {
            tx.execute(STOCK_ROUND_SQL, &[&r]).await?;
        }
        tx.commit().await?;
        left -= n;
    }
    client.batch_execute("set session_replication_role = origin").await?;
    Ok(BulkReport { elapsed: started.elapsed() })
}
