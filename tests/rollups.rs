//! The rollups are exact: after every phase of random changes (status flips, deleted and moved
//! lines, type 2 price changes, refunds, ratings, late app events) applied by a daemon that is
//! SIGKILLed at random instants, each rollup equals a `group by` over the live facts, computed
//! here independently of the daemon's definitions; a resync rebuilds them; `verify` names a
//! tampered rollup cell.

use std::time::Duration;

use rand::RngExt;
use tokio_postgres::Client;

use crate::support::{load::Writers, process::DaemonProcess, scalar, shop, verify_report, wait_drained, TestDb};

/// Each rollup's cells (key → measures as text) and the same from the facts, as this test states
/// them. Cells whose measures are all zero count as absent.
const ORACLE: [(&str, &str, &str); 10] = [
    (
        "rollup_orders_hourly",
        "select date_key || '/' || hour || '/' || store_key || '/' || status, orders || '/' || revenue
         from rollup_orders_hourly where orders <> 0 or revenue <> 0",
        "select date_key || '/' || (case when time_key < 0 then -1 else time_key / 60 end) || '/' || store_key || '/'
                || status, count(*) || '/' || sum(total)
         from fact_orders where not is_deleted group by 1",
    ),
    (
        "rollup_orders_daily",
        "select date_key || '/' || store_key || '/' || employee_key || '/' || status, orders || '/' || revenue
         from rollup_orders_daily where orders <> 0 or revenue <> 0",
        "select date_key || '/' || store_key || '/' || employee_key || '/' || status, count(*) || '/' || sum(total)
         from fact_orders where not is_deleted group by 1",
    ),
    (
        "rollup_sales",
        "select date_key || '/' || product_id || '/' || order_status, lines || '/' || quantity || '/' || revenue
         from rollup_sales where lines <> 0 or quantity <> 0 or revenue <> 0",
        "select date_key || '/' || product_id || '/' || order_status,
                count(*) || '/' || sum(quantity) || '/' || sum(line_total)
         from fact_sales where not is_deleted group by 1",
    ),
    (
        "rollup_payments",
        "select date_key || '/' || method || '/' || kind, payments || '/' || amount
         from rollup_payments where payments <> 0 or amount <> 0",
        "select date_key || '/' || method || '/' || case when amount < 0 then 'refund' else 'payment' end,
                count(*) || '/' || sum(amount)
         from fact_payments where not is_deleted group by 1",
    ),
    (
        "rollup_ratings",
        "select date_key || '/' || store_key || '/' || rating, ratings || '/' || comments
         from rollup_ratings where ratings <> 0 or comments <> 0",
        "select date_key || '/' || store_key || '/' || rating, count(*) || '/' || count(comment)
         from fact_feedback where not is_deleted group by 1",
    ),
    (
        "rollup_customers",
        "select customer_key::text, orders || '/' || revenue || '/' || first_order_at || '/' || last_order_at
         from rollup_customers where orders <> 0 or revenue <> 0",
        "select customer_key::text, count(*) || '/' || sum(total) || '/' || min(order_time) || '/' || max(order_time)
         from fact_orders where not is_deleted and status = 'served' group by 1",
    ),
    (
        "rollup_sessions",
        "select date_key || '/' || store_key, sessions || '/' || viewed || '/' || added || '/' || checked_out || '/'
                || purchased || '/' || bounced || '/' || revenue
         from rollup_sessions where sessions <> 0",
        "select date_key || '/' || store_key, count(*) || '/' || count(first_product_view_at) || '/'
                || count(first_add_to_cart_at) || '/' || count(checkout_at) || '/' || count(purchased_at) || '/'
                || count(*) filter (where bounced) || '/' || coalesce(sum(revenue), 0)
         from fact_app_sessions where not is_deleted group by 1",
    ),
    (
        "rollup_freshness",
        "select date_key || '/' || minute || '/' || bucket, lines::text from rollup_freshness where lines <> 0",
        "select to_char(loaded_at at time zone 'UTC', 'YYYYMMDD') || '/'
                || floor(date_part('epoch', loaded_at) / 60) || '/'
                || greatest(0, least(240, ceil(8 * ln(greatest(date_part('epoch', loaded_at - changed_at) * 1000, 1))
                                                / ln(2)))),
                count(*)::text
         from fact_sales where not is_deleted and src_id > 0 group by 1",
    ),
    (
        "rollup_purchase_times",
        "select date_key || '/' || store_key || '/' || bucket, sessions::text from rollup_purchase_times where sessions <> 0",
        "select date_key || '/' || store_key || '/'
                || greatest(0, least(240, ceil(8 * ln(greatest(date_part('epoch', purchased_at - started_at) * 1000, 1))
                                                / ln(2)))),
                count(*)::text
         from fact_app_sessions where not is_deleted and purchased_at is not null group by 1",
    ),
    (
        "rollup_interest",
        "select date_key || '/' || store_key || '/' || product_id,
                viewed || '/' || added || '/' || bought || '/' || not_bought || '/' || units
         from rollup_interest where viewed <> 0 or added <> 0 or bought <> 0 or not_bought <> 0 or units <> 0",
        "select day || '/' || store || '/' || product_id,
                count(*) filter (where viewed) || '/' || count(*) filter (where added) || '/'
                || count(*) filter (where bought) || '/' || count(*) filter (where viewed and not bought) || '/' || sum(units)
         from (select session_id, product_id, min(date_key) as day, min(store_key) as store,
                      bool_or(event_type = 'product_view') as viewed, bool_or(event_type = 'add_to_cart') as added,
                      bool_or(line) as bought,
                      coalesce(sum(quantity) filter (where event_type = 'add_to_cart' and not line), 0) as units
               from (select session_id, product_id, date_key, store_key, event_type, quantity, false as line
                     from fact_app_events where not is_deleted and product_id is not null
                     union all
                     select e.session_id, l.product_id, e.date_key, e.store_key, e.event_type, null, true
                     from fact_app_events e, fact_sales l
                     where l.order_id = e.order_id and e.event_type = 'order_placed' and not e.is_deleted
                       and not l.is_deleted) x
               group by session_id, product_id) pairs
         where viewed or added or bought or units <> 0
         group by 1",
    ),
];

async fn cells(olap: &Client, sql: &str) -> std::collections::BTreeMap<String, String> {
    olap.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Every rollup equals its `group by` over the facts.
async fn assert_rollups_exact(t: &TestDb, phase: &str) {
    let olap = t.olap().await;
    olap.batch_execute("set extra_float_digits = 0").await.unwrap();
    for (table, rollup, facts) in ORACLE {
        let (held, truth) = (cells(&olap, rollup).await, cells(&olap, facts).await);
        let wrong: Vec<_> = truth.iter().filter(|(k, v)| held.get(*k) != Some(*v)).take(5).collect();
        let extra: Vec<_> = held.iter().filter(|(k, _)| !truth.contains_key(*k)).take(5).collect();
        assert!(
            held == truth,
            "{phase}: {table} holds {} cells, the facts make {}; wrong or missing {wrong:?}, extra {extra:?}",
            held.len(),
            truth.len()
        );
    }
}

/// Changes the writers do not make: app sessions (some of whose events arrive late, before the
/// first one in time) placing the last order, then lines moved to that order, refunds of served
/// orders (the first and the last one in time among them: their customers' first and last served
/// order move), ratings.
async fn other_changes(oltp: &Client, round: usize) {
    let sql = format!(
        "update order_items set order_id = (select max(id) from orders)
         where id = (select min(id) + {round} from order_items);
         with o as (update orders set status = 'refunded'
                    where id in ((select min(id) + {round} * 3 from orders where status = 'served'),
                                 (select id from orders where status = 'served' order by order_time, id limit 1),
                                 (select id from orders where status = 'served' order by order_time desc, id desc limit 1))
                    returning id, total)
         insert into payments (order_id, amount, method) select id, -total, 'card' from o where total > 0;
         insert into feedback (order_id, rating, comment)
         select id, 1 + id % 5, case when id % 2 = 0 then 'fine' end from orders
         where status = 'served' and id % 7 = {round} and not exists (select from feedback f where f.order_id = orders.id);
         update feedback set rating = 1 + (rating % 5) where id = (select max(id) from feedback);"
    );
    let session = uuid::Uuid::new_v4();
    let order: i32 = scalar(oltp, "select max(id) from orders").await;
    let total: rust_decimal::Decimal = scalar(oltp, &format!("select total from orders where id = {order}")).await;
    // In arrival order: a view, the purchase, then the session's start, late and earlier in time.
    for (event, kind, minutes) in [(1, "product_view", 0), (2, "order_placed", 1), (0, "session_start", -2)] {
        oltp.execute(
            "insert into app_events (session_id, event_id, event_type, at, store_id, product_id, order_id, order_total)
             values ($1, $2, $3, now() + make_interval(mins => $4), 1,
                     case when $3 = 'product_view' then 1 end,
                     case when $3 = 'order_placed' then $5::int4 end, case when $3 = 'order_placed' then $6::numeric end)",
            &[&session, &event, &kind, &minutes, &order, &total],
        )
        .await
        .unwrap();
    }
    // After the purchase: a line moved into its order (the session now bought that product too).
    oltp.batch_execute(&sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn rollups_equal_the_facts_after_every_phase_of_changes_and_sigkills() {
    let t = TestDb::new().await;
    let oltp = t.oltp().await;
    oltp.batch_execute(shop::SHOP).await.unwrap();
    shop::write_history(&oltp, 200).await;
    let mut daemon = DaemonProcess::start(&t);
    wait_drained(&t, Duration::from_secs(60)).await;
    assert_rollups_exact(&t, "after the initial snapshot").await;
    for round in 0..4 {
        let writers = Writers::start(&t.oltp_url, 4, 0);
        for _ in 0..3 {
            let alive = rand::rng().random_range(150..600);
            tokio::time::sleep(Duration::from_millis(alive)).await; // the random instant of the kill
            daemon.kill();
            daemon = DaemonProcess::start(&t);
        }
        writers.stop().await;
        other_changes(&oltp, round).await;
        wait_drained(&t, Duration::from_secs(60)).await;
        assert_rollups_exact(&t, &format!("round {round}")).await;
    }
    let olap = t.olap().await;
    for (table, kinds) in [
        ("fact_orders", "select count(distinct status) from fact_orders where not is_deleted"),
        ("fact_sales", "select count(*) filter (where is_deleted) from fact_sales"),
        ("fact_payments", "select count(*) from fact_payments where amount < 0"),
        ("fact_app_sessions", "select count(*) from fact_app_sessions"),
        ("dim_product", "select count(*) from dim_product where not is_current"),
    ] {
        assert!(scalar::<i64>(&olap, kinds).await >= 2, "{table}: the changes reached it ({kinds})");
    }
    let report = verify_report(&mut t.oltp().await, &mut t.olap().await).await;
    assert!(report.is_clean(), "{:#?}", report.differences);
    assert!(report.checks.iter().any(|(name, n)| name.starts_with("rollups") && *n > 0), "{:?}", report.checks);

    // A resync rebuilds them (its rows do not move the rollups one by one).
    let (code, out) = resync(&t);
    assert_eq!(code, 0, "{out}");
    assert_rollups_exact(&t, "after a resync").await;

    // A cell changed by hand is a named difference.
    let key: String = scalar(
        &olap,
        "update rollup_sales set quantity = quantity + 1
         where (date_key, product_id, order_status) = (select date_key, product_id, order_status from rollup_sales
                                                       where lines > 0 order by 1, 2, 3 limit 1)
         returning date_key || '/' || product_id || '/' || order_status",
    )
    .await;
    let report = verify_report(&mut t.oltp().await, &mut t.olap().await).await;
    let named: Vec<_> = report.differences.iter().map(|d| format!("{} [{}]", d.check, d.key)).collect();
    assert_eq!(named, [format!("rollup_sales [{key}]")]);
    drop(daemon);
}

/// `brewlytics resync` (all tables, waiting for it), as the superuser: (exit code, output).
fn resync(t: &TestDb) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_brewlytics"))
        .arg("resync")
        .env("OLTP_DATABASE_URL", &t.oltp_url)
        .env("OLAP_DATABASE_URL", &t.olap_url)
        .output()
        .expect("run brewlytics resync");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}
