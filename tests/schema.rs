//! Foundation: migrations, change capture triggers, calendar, roles.

use std::time::Duration;

use brewlytics::db::{self, Db};
use futures_util::StreamExt;
use serde_json::Value;

use crate::support::{connect_url, scalar, TestDb};

pub(crate) const SETUP: &str = "
    insert into stores (id, name, city) values (1, 'Harbour', 'Leith');
    insert into customers (id, name, email) values (1, 'Ada', 'ada@example.com');
    insert into products (id, name, category, price) values (1, 'Latte', 'coffee', 0.10), (2, 'Muffin', 'food', 0.20);
    insert into employees (id, store_id, name) values (1, 1, 'Bo');
    insert into orders (id, customer_id, employee_id, store_id, total) values (1, 1, 1, 1, 0.30);
    insert into order_items (id, order_id, product_id, quantity, price) values (1, 1, 1, 1, 0.10), (2, 1, 2, 1, 0.20);
    insert into payments (id, order_id, amount, method) values (1, 1, 0.30, 'card');
    insert into inventory (id, product_id, store_id, on_hand) values (1, 1, 1, 10);
    insert into inventory_movements (id, product_id, store_id, order_id, quantity, reason) values (1, 1, 1, 1, -1, 'sale');
    insert into feedback (id, order_id, rating, comment) values (1, 1, 4, 'nice');
    select setval(pg_get_serial_sequence(t, 'id'), 100)
    from unnest(array['stores', 'customers', 'products', 'employees', 'orders', 'order_items', 'payments',
                      'inventory', 'inventory_movements', 'feedback']) as t;
";

#[tokio::test(flavor = "multi_thread")]
async fn migrations_reapply_as_a_no_op() {
    let t = TestDb::new().await;
    for which in [Db::Oltp, Db::Olap] {
        let mut c = db::connect(&t.config, which).await.unwrap();
        assert_eq!(db::migrate(&mut c, which).await.unwrap(), 0, "{which:?} re-run applied something");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_apply_to_empty_databases() {
    let t = TestDb::new().await;
    let admin = connect_url(&format!("{}/postgres", t.base)).await;
    let name = format!("{}_empty", t.config.oltp_db);
    admin.batch_execute(&format!("create database \"{name}\"")).await.unwrap();
    let mut c = connect_url(&format!("{}/{name}", t.base)).await;
    let files =
        |dir: &str| std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"))).unwrap().count();
    assert_eq!(db::migrate(&mut c, Db::Oltp).await.unwrap(), files("oltp"));
    assert_eq!(db::migrate(&mut c, Db::Oltp).await.unwrap(), 0);
    let mut c = connect_url(&format!("{}/{name}", t.base)).await;
    c.batch_execute("drop schema public cascade; create schema public").await.unwrap();
    assert_eq!(db::migrate(&mut c, Db::Olap).await.unwrap(), files("olap"));
}

#[tokio::test(flavor = "multi_thread")]
async fn edited_migration_is_reported_by_name() {
    let t = TestDb::new().await;
    let mut c = t.oltp().await;
    c.execute("update refinery_schema_history set checksum = '1' where version = 2", &[]).await.unwrap();
    let err = db::migrate(&mut c, Db::Oltp).await.unwrap_err().to_string();
    assert!(err.contains("V2") && err.contains("cdc_capture") && err.contains("changed after it was applied"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_table_captures_insert_update_delete() {
    let t = TestDb::new().await;
    let c = t.oltp().await;
    c.batch_execute(SETUP).await.unwrap();
    let tables = [
        ("stores", "name = name || '!'"),
        ("customers", "name = 'Ada L'"),
        ("products", "price = price + 1"),
        ("employees", "active = false"),
        ("orders", "status = 'served'"),
        ("order_items", "quantity = quantity + 1"),
        ("payments", "method = 'cash'"),
        ("inventory", "on_hand = on_hand - 1"),
        ("inventory_movements", "reason = 'waste'"),
        ("feedback", "rating = 5"),
    ];
    for (table, _) in tables {
        let n: i64 =
            scalar(&c, &format!("select count(*) from cdc_orders where table_name = '{table}' and op = 'I'")).await;
        let rows: i64 = scalar(&c, &format!("select count(*) from {table}")).await;
        assert_eq!(n, rows, "{table}: one I row per inserted row");
    }
    for (table, set) in tables {
        c.batch_execute(&format!("update {table} set {set} where id = 1")).await.unwrap();
        let row = c
            .query_one(
                &format!("select op, row_id, before, after, txid::text from cdc_orders where table_name = '{table}' and op = 'U'"),
                &[],
            )
            .await
            .unwrap_or_else(|e| panic!("{table}: exactly one U row: {e}"));
        assert_eq!(row.get::<_, i64>(1), 1);
        let (before, after): (Value, Value) = (row.get(2), row.get(3));
        assert_eq!(before["id"], 1);
        assert_ne!(before, after, "{table}: before and after differ");
        assert!(row.get::<_, String>(4).parse::<u64>().unwrap() > 0);
    }
    // Deletes, children first.
    for (table, _) in tables.iter().rev() {
        c.batch_execute(&format!("delete from {table}")).await.unwrap();
        let row = c
            .query_one(
                &format!(
                    "select before, after from cdc_orders where table_name = '{table}' and op = 'D' and row_id = 1"
                ),
                &[],
            )
            .await
            .unwrap_or_else(|e| panic!("{table}: one D row: {e}"));
        assert!(row.get::<_, Option<Value>>(1).is_none(), "{table}: a delete has no after image");
        assert_eq!(row.get::<_, Value>(0)["id"], 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_row_statement_writes_one_row_per_row_and_one_txid() {
    let t = TestDb::new().await;
    let c = t.oltp().await;
    c.batch_execute(
        "insert into customers (name, email) select 'c' || g, 'c' || g || '@x.io' from generate_series(1, 500) g",
    )
    .await
    .unwrap();
    let (rows, txids): (i64, i64) = {
        let r = c.query_one("select count(*), count(distinct txid) from cdc_orders", &[]).await.unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((rows, txids), (500, 1));
    c.batch_execute("update customers set name = upper(name) where id <= 200").await.unwrap();
    assert_eq!(scalar::<i64>(&c, "select count(*) from cdc_orders where op = 'U'").await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn money_is_exact_and_time_is_utc() {
    let t = TestDb::new().await;
    let c = t.oltp().await;
    c.batch_execute("set timezone = 'Asia/Kolkata'").await.unwrap();
    c.batch_execute(SETUP).await.unwrap();
    let sum: String = scalar(
        &c,
        "select ((after->>'price')::numeric)::text from cdc_orders where table_name = 'products' and row_id = 1",
    )
    .await;
    assert_eq!(sum, "0.10");
    let total: String =
        scalar(&c, "select sum((after->>'price')::numeric)::text from cdc_orders where table_name = 'order_items'")
            .await;
    assert_eq!(total, "0.30", "0.10 + 0.20 stays 0.30");
    let raw: String =
        scalar(&c, "select after::text from cdc_orders where table_name = 'products' and row_id = 2").await;
    assert!(raw.contains("\"price\":0.20"), "numeric keeps its scale in the image: {raw}");
    c.batch_execute("update orders set order_time = '2025-07-20 23:30:00+00'").await.unwrap();
    let time: String =
        scalar(&c, "select after->>'order_time' from cdc_orders where table_name = 'orders' and op = 'U'").await;
    assert_eq!(time, "2025-07-20T23:30:00+00:00", "rendered in UTC although the session is in Asia/Kolkata");
    let zone: String = scalar(&c, "select current_setting('TimeZone')").await;
    assert_eq!(zone, "Asia/Kolkata", "the session keeps its own zone after the capture");
    // 'Etc/UTC' (the official images' default) takes the fast path and renders the same.
    c.batch_execute("set timezone = 'Etc/UTC'; update orders set order_time = '2025-07-21 01:00:00+02'").await.unwrap();
    let time: String = scalar(
        &c,
        "select after->>'order_time' from cdc_orders where table_name = 'orders' and op = 'U' order by id desc limit 1",
    )
    .await;
    assert_eq!(time, "2025-07-20T23:00:00+00:00");
}

#[tokio::test(flavor = "multi_thread")]
async fn truncate_of_a_captured_table_is_refused() {
    let t = TestDb::new().await;
    let c = t.oltp().await;
    c.batch_execute(SETUP).await.unwrap();
    let err = c.batch_execute("truncate inventory_movements").await.unwrap_err();
    assert!(err.as_db_error().unwrap().message().contains("refused"), "{err}");
    assert_eq!(scalar::<i64>(&c, "select count(*) from inventory_movements").await, 1);
}

/// A connection's backend pid, which notifications carry.
async fn backend_pid(c: &tokio_postgres::Client) -> i32 {
    scalar(c, "select pg_backend_pid()").await
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_is_opt_in_and_sends_one_per_transaction() {
    let t = TestDb::new().await;
    t.oltp().await.batch_execute("select cdc_set_notify(true)").await.unwrap();
    let target = brewlytics::config::DbTarget::from_dsn(&t.oltp_url, "the test DSN").unwrap();
    let (listener, mut conn) = db::connect_raw(&target, "OLTP").await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(msg)) = stream.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = msg {
                let _ = tx.send((n.channel().to_string(), n.process_id()));
            }
        }
    });
    listener.batch_execute("listen cdc_orders").await.unwrap();
    // Notifications arrive in commit order: everything before a marker's arrives before it.
    let marker = t.oltp().await;
    let marker_pid = backend_pid(&marker).await;
    let mut until_marker = async || {
        let mut senders = Vec::new();
        loop {
            let (channel, pid) = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
            assert_eq!(channel, "cdc_orders");
            if pid == marker_pid {
                return senders;
            }
            senders.push(pid);
        }
    };
    let big = t.oltp().await;
    // A transaction with many statements and many rows in several tables.
    big.batch_execute(&format!("begin; {SETUP}; update products set price = price * 2; commit;")).await.unwrap();
    marker.batch_execute("insert into stores (id, name, city) values (99, 'Marker', 'X')").await.unwrap();
    assert_eq!(until_marker().await, vec![backend_pid(&big).await], "exactly one notification per transaction");

    // Where NOTIFY is turned off (the daemon then polls), writers send none.
    let quiet = t.oltp().await;
    quiet
        .batch_execute("set brewlytics.notify = off; insert into stores (id, name, city) values (98, 'Q', 'X')")
        .await
        .unwrap();
    marker.batch_execute("insert into stores (id, name, city) values (97, 'Marker 2', 'X')").await.unwrap();
    assert_eq!(until_marker().await, Vec::<i32>::new(), "the quiet transaction sent nothing");

    // Off again (the default): nothing is sent at all.
    marker.batch_execute("select cdc_set_notify(false)").await.unwrap();
    big.batch_execute("insert into stores (id, name, city) values (96, 'R', 'X')").await.unwrap();
    marker.batch_execute("select cdc_set_notify(true)").await.unwrap();
    marker.batch_execute("insert into stores (id, name, city) values (95, 'Marker 3', 'X')").await.unwrap();
    assert_eq!(until_marker().await, Vec::<i32>::new(), "without NOTIFY on, writers send none");
}

#[tokio::test(flavor = "multi_thread")]
async fn dim_date_covers_2015_to_2045_with_right_attributes() {
    let t = TestDb::new().await;
    let c = t.olap().await;
    let r = c
        .query_one("select min(date)::text, max(date)::text, count(*) from dim_date where date_key > 0", &[])
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "2015-01-01");
    assert_eq!(r.get::<_, String>(1), "2045-12-31");
    assert_eq!(r.get::<_, i64>(2), 11_323);
    let leap = c
        .query_one(
            "select day_name, day_of_week, is_weekend, month_name, quarter from dim_date where date_key = 20240229",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(leap.get::<_, String>(0), "Thursday");
    assert_eq!((leap.get::<_, i16>(1), leap.get::<_, bool>(2)), (4, false));
    assert_eq!((leap.get::<_, String>(3), leap.get::<_, i16>(4)), ("February".to_string(), 1));
    assert_eq!(
        scalar::<i64>(
            &c,
            "select count(*) from dim_date where extract(month from date) = 2 and extract(day from date) = 29"
        )
        .await,
        8
    );
    // 2020-12-31 is in ISO week 53 of 2020; 2021-01-03 too (a Sunday).
    let w = c
        .query_one("select iso_year, iso_week, is_weekend from dim_date where date_key = 20210103", &[])
        .await
        .unwrap();
    assert_eq!((w.get::<_, i16>(0), w.get::<_, i16>(1), w.get::<_, bool>(2)), (2020, 53, true));
    assert_eq!(scalar::<i64>(&c, "select count(*) from dim_time where time_key >= 0").await, 1440);
    for dim in ["dim_store", "dim_customer", "dim_employee", "dim_product"] {
        let key = dim.replace("dim_", "") + "_key";
        assert_eq!(
            scalar::<i64>(&c, &format!("select count(*) from {dim} where {key} = 0")).await,
            1,
            "{dim} unknown member"
        );
    }
    for fact in ["fact_sales", "fact_payments", "fact_inventory", "fact_orders"] {
        assert_eq!(scalar::<i64>(&c, &format!("select count(*) from {fact}")).await, 0, "no demo rows in {fact}");
    }
}

/// The Citus layout and the migrations agree: every warehouse table `migrate` creates is placed
/// (reference or distributed) or kept on the coordinator (bookkeeping, rollups); the partitions of
/// the partitioned facts follow their parent. A table added without a placement is named.
#[tokio::test(flavor = "multi_thread")]
async fn every_warehouse_table_has_a_citus_placement() {
    let t = TestDb::new().await;
    let olap = t.olap().await;
    assert_eq!(db::unplaced_on_citus(&olap).await.unwrap(), Vec::<String>::new());
    let partitioned: Vec<String> = olap
        .query("select relname::text from pg_class where relkind = 'p' and relnamespace = 'public'::regnamespace order by 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(partitioned, ["fact_feedback", "fact_orders", "fact_payments", "fact_sales"]);
    let rollups =
        scalar::<i64>(&olap, "select count(*) from pg_class where relname like 'rollup\\_%' and relkind = 'r'").await;
    assert_eq!(rollups, 10);
    olap.batch_execute("create table public.fact_new (order_id bigint primary key)").await.unwrap();
    assert_eq!(db::unplaced_on_citus(&olap).await.unwrap(), ["fact_new"]);
}
