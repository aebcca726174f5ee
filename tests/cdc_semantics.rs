//! What the warehouse holds: type 2 history, dead letters, inferred members, retention, status.

use std::time::Duration;

use crate::support::{
    assert_verified, process::status_json, scalar, shop, wait_caught_up, wait_for, InProcessDaemon, TestDb,
};

async fn shop_db() -> TestDb {
    let t = TestDb::new().await;
    t.oltp().await.batch_execute(shop::SHOP).await.unwrap();
    t
}

#[tokio::test(flavor = "multi_thread")]
async fn sales_bind_to_the_product_version_valid_at_order_time() {
    let t = shop_db().await;
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(10)).await; // the shop is loaded; from here on, streamed
    let oltp = t.oltp().await;
    let before = shop::place_order(&oltp, 1, 1, &[(2, 1)]).await; // Latte at 3.80
    oltp.batch_execute("update products set price = 4.20 where id = 2").await.unwrap();
    oltp.batch_execute("update products set active = false where id = 2").await.unwrap(); // type 1 only
    let after = shop::place_order(&oltp, 1, 1, &[(2, 2)]).await;
    wait_caught_up(&t, Duration::from_secs(10)).await;
    daemon.stop().await;
    let olap = t.olap().await;
    let line = |order: i32| {
        let olap = &olap;
        async move {
            let r = olap
                .query_one(
                    "select p.price::text, f.unit_price::text, f.line_total::text, p.product_key
                     from fact_sales f join dim_product p using (product_key) where f.order_id = $1",
                    &[&order],
                )
                .await
                .unwrap();
            (r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2), r.get::<_, i32>(3))
        }
    };
    let (old_price, old_unit, old_total, old_key) = line(before).await;
    let (new_price, new_unit, new_total, new_key) = line(after).await;
    assert_eq!((old_price.as_str(), old_unit.as_str(), old_total.as_str()), ("3.80", "3.80", "3.80"));
    assert_eq!((new_price.as_str(), new_unit.as_str(), new_total.as_str()), ("4.20", "4.20", "8.40"));
    assert_ne!(old_key, new_key, "two versions");
    let versions = olap
        .query(
            "select is_current, valid_to = 'infinity', active from dim_product where product_id = 2 order by valid_from",
            &[],
        )
        .await
        .unwrap();
    let shape: Vec<(bool, bool, bool)> = versions.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(shape, vec![(false, false, true), (true, true, false)], "closed old version; active is type 1");
}

/// A backlog of new orders is appended (no `ON CONFLICT`, no header update afterwards): every line
/// and payment must still carry exactly the keys its order got, and each line the product version
/// valid at its order time, through a price change, an inferred customer, orders without an
/// employee and status changes in the backlog.
#[tokio::test(flavor = "multi_thread")]
async fn a_backlog_of_new_orders_carries_the_headers_its_orders_got() {
    let t = shop_db().await;
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(10)).await;
    daemon.stop().await;
    let oltp = t.oltp().await;
    // A customer whose own change is lost: the unit infers its member before the facts.
    oltp.batch_execute("insert into customers (id, name, email) values (500, 'Late', 'late@example.com')")
        .await
        .unwrap();
    oltp.batch_execute("delete from cdc_orders where table_name = 'customers' and row_id = 500").await.unwrap();
    for i in 0..300 {
        if i == 150 {
            oltp.batch_execute("update products set price = 4.20 where id = 2").await.unwrap();
        }
        let customer = if i % 10 == 0 { 500 } else { 1 + i % 20 };
        shop::place_order(&oltp, customer, 1 + i % 2, &[(2, 1), (3 + i % 4, 2)]).await;
    }
    oltp.batch_execute(
        "update orders set status = 'served' where id % 3 = 0;
         update orders set employee_id = null where id % 7 = 0;",
    )
    .await
    .unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(20)).await;
    daemon.stop().await;
    let olap = t.olap().await;
    let count = |sql: &'static str| {
        let olap = &olap;
        async move { scalar::<i64>(olap, sql).await }
    };
    let unlike_order = count(
        "select count(*) from fact_sales f join fact_orders o using (order_id)
         where (f.date_key, f.time_key, f.store_key, f.customer_key, f.employee_key, f.order_status, f.order_time)
               is distinct from (o.date_key, o.time_key, o.store_key, o.customer_key, o.employee_key, o.status, o.order_time)",
    );
    assert_eq!(unlike_order.await, 0, "every line carries its order's header");
    let payments = count(
        "select count(*) from fact_payments f join fact_orders o using (order_id)
         where (f.store_key, f.customer_key) is distinct from (o.store_key, o.customer_key)",
    );
    assert_eq!(payments.await, 0, "every payment carries its order's store and customer");
    let versions = count(
        "select count(*) from fact_sales f join dim_product p using (product_key)
         where not (f.order_time >= p.valid_from and f.order_time < p.valid_to)",
    );
    assert_eq!(versions.await, 0, "every line binds the version valid at its order time");
    assert_eq!(count("select count(distinct product_key) from fact_sales where product_id = 2").await, 2);
    let unknown = count(
        "select count(*) from fact_sales where store_key = 0 or customer_key = 0 or product_key = 0
                                          or order_status = 'placed' and order_id % 3 = 0",
    );
    assert_eq!(unknown.await, 0, "no unknown member, and the status each order ended with");
    let inferred = count(
        "select count(*) from fact_sales f join dim_customer c using (customer_key)
         where c.customer_id = 500 and c.is_inferred",
    );
    assert_eq!(inferred.await, 60, "the inferred customer's 30 orders, two lines each");
    assert_eq!(count("select count(*) from fact_sales where employee_key = 0").await, 2 * (300 / 7));
    // The customer's own row arrives: the member is filled in place, and the rest agrees with OLTP.
    oltp.batch_execute("update customers set name = 'Late Arrival' where id = 500").await.unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(10)).await;
    daemon.stop().await;
    assert_verified(&t).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_changes_are_dead_lettered_and_the_rest_applied() {
    let t = shop_db().await;
    let oltp = t.oltp().await;
    // Streamed, not snapshotted: the daemon has loaded the shop before the poison arrives.
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(10)).await;
    let first = shop::place_order(&oltp, 1, 1, &[(1, 1)]).await;
    oltp.batch_execute(
        r#"insert into cdc_orders (table_name, op, row_id, after) values
             ('orders', 'I', 9001, '{"id": 9001, "garbage": true}'),
             ('payments', 'I', 9002, '{"id": 9002, "order_id": 1, "amount": 1.00, "method": "bitcoin", "paid_at": "2025-01-01T00:00:00+00:00"}'),
             ('no_such_table', 'I', 1, '{}'),
             ('order_items', 'I', 9003, '{"id": 9003, "order_id": 1, "product_id": 1, "quantity": 1, "price": 123456789012.00}')"#,
    )
    .await
    .unwrap();
    let second = shop::place_order(&oltp, 2, 1, &[(2, 1)]).await;
    wait_caught_up(&t, Duration::from_secs(10)).await;
    daemon.stop().await;
    let olap = t.olap().await;
    let reasons: Vec<(String, String, String)> = olap
        .query("select table_name, error_kind, reason from cdc_dead_letter order by source_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    assert_eq!(reasons[0].1, "decode");
    assert!(reasons[0].2.contains("missing field"), "{}", reasons[0].2);
    assert!(reasons[1].2.contains("bitcoin"), "{}", reasons[1].2);
    assert!(reasons[2].2.contains("unknown table"), "{}", reasons[2].2);
    assert_eq!(reasons[3].1, "apply", "numeric overflow is rejected by the warehouse itself");
    assert!(reasons[3].2.contains("22003"), "{}", reasons[3].2);
    for order in [first, second] {
        assert_eq!(scalar::<i64>(&olap, &format!("select count(*) from fact_sales where order_id = {order}")).await, 1);
    }
    let status = status_json(&t);
    for key in ["applied_changes", "backlog", "lag_seconds", "dead_letters", "active"] {
        assert!(status.get(key).is_some(), "status --json has {key}: {status}");
    }
    assert_eq!(status["dead_letters"], 4);
    assert_eq!(status["backlog"], 0);

    // Fix the cause (the warehouse accepts bigger prices) and replay that one dead letter.
    // (The original's compatibility view reads those columns: a type change goes around it.)
    olap.batch_execute(
        "drop view brewlytics_v1.fact_sales;
         alter table fact_sales alter column unit_price type numeric(16,2), alter column line_total type numeric(16,2)",
    )
    .await
    .unwrap();
    let mut olap_mut = t.olap().await;
    let id: i64 = scalar(&olap, "select id from cdc_dead_letter where error_kind = 'apply'").await;
    let report = brewlytics::apply::replay(&mut olap_mut, &oltp, Some(id)).await.unwrap();
    assert_eq!(report.replayed, vec![id]);
    assert_eq!(scalar::<i64>(&olap, "select count(*) from fact_sales where order_item_id = 9003").await, 1);
    let again = brewlytics::apply::replay(&mut olap_mut, &oltp, None).await.unwrap();
    assert_eq!(again.failed.len(), 3, "the undecodable ones fail again and stay");
    assert_eq!(scalar::<i64>(&olap, "select count(*) from cdc_dead_letter where replayed_at is null").await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn facts_before_dimensions_get_inferred_members_filled_in_place() {
    let t = shop_db().await;
    let oltp = t.oltp().await;
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(10)).await;
    daemon.stop().await;
    // Lose the customer's change (as if retention had pruned it before the first run).
    oltp.batch_execute("insert into customers (id, name, email) values (500, 'Late', 'late@example.com')")
        .await
        .unwrap();
    oltp.batch_execute("delete from cdc_orders where table_name = 'customers' and row_id = 500").await.unwrap();
    let order = shop::place_order(&oltp, 500, 1, &[(1, 1)]).await;
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(10)).await;
    let olap = t.olap().await;
    let (inferred, key): (bool, i32) = {
        let r = olap
            .query_one("select is_inferred, customer_key from dim_customer where customer_id = 500", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(inferred);
    let fact_key: i32 = scalar(&olap, &format!("select customer_key from fact_orders where order_id = {order}")).await;
    assert_eq!(fact_key, key, "the fact points at the inferred member");
    oltp.batch_execute("update customers set name = 'Late Arrival' where id = 500").await.unwrap();
    wait_caught_up(&t, Duration::from_secs(10)).await;
    daemon.stop().await;
    let r = olap
        .query_one("select is_inferred, name, customer_key from dim_customer where customer_id = 500", &[])
        .await
        .unwrap();
    assert_eq!((r.get::<_, bool>(0), r.get::<_, String>(1), r.get::<_, i32>(2)), (false, "Late Arrival".into(), key));
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_prunes_only_applied_changes() {
    let t = shop_db().await;
    let oltp = t.oltp().await;
    for _ in 0..5 {
        shop::random_order(&oltp).await;
    }
    oltp.batch_execute("update cdc_orders set changed_at = changed_at - interval '2 days'").await.unwrap();
    let mut config = t.config.clone();
    config.cdc_retention = Duration::from_secs(86_400);
    // Unapplied old rows must survive: prune against the initial checkpoint deletes nothing.
    let olap = t.olap().await;
    let initial = brewlytics::cdc::stream::checkpoint::load(&olap).await.unwrap();
    let pruned = brewlytics::cdc::ops::retention::prune(&oltp, &initial, config.cdc_retention).await.unwrap();
    assert_eq!(pruned, 0);
    // The daemon prunes after it has applied them (and on a timer after that).
    let daemon = InProcessDaemon::start(&config);
    let later = shop::random_order(&oltp).await;
    wait_caught_up(&t, Duration::from_secs(10)).await;
    wait_for("old applied changes pruned", Duration::from_secs(10), || async {
        let left: i64 =
            scalar(&oltp, "select count(*) from cdc_orders where changed_at < now() - interval '1 day'").await;
        (left == 0).then_some(())
    })
    .await;
    daemon.stop().await;
    let recent: i64 = scalar(&oltp, "select count(*) from cdc_orders").await;
    assert!(recent > 0, "recent changes are kept");
    assert!(
        scalar::<i64>(&t.olap().await, &format!("select count(*) from fact_orders where order_id = {later}")).await
            == 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_or_payment_moved_to_another_order_follows_it() {
    let t = shop_db().await;
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(10)).await;
    let oltp = t.oltp().await;
    let a = shop::place_order(&oltp, 1, 1, &[(1, 1)]).await;
    let b = shop::place_order(&oltp, 2, 2, &[(2, 2)]).await;
    let line: i32 = scalar(&oltp, &format!("select id from order_items where order_id = {a}")).await;
    wait_caught_up(&t, Duration::from_secs(10)).await;
    // The warehouse keys lines and payments by (order, id): a move is a new key.
    oltp.batch_execute(&format!(
        "update order_items set order_id = {b} where order_id = {a};
         update payments set order_id = {b} where order_id = {a}"
    ))
    .await
    .unwrap();
    wait_caught_up(&t, Duration::from_secs(10)).await;
    assert_verified(&t).await;
    let olap = t.olap().await;
    let rows = |sql: String| {
        let olap = &olap;
        async move {
            let rows = olap.query(&sql, &[]).await.unwrap();
            rows.iter().map(|r| (r.get::<_, i32>(0), r.get::<_, bool>(1))).collect::<Vec<_>>()
        }
    };
    let line_rows = format!("select order_id, is_deleted from fact_sales where order_item_id = {line} order by 1");
    assert_eq!(rows(line_rows.clone()).await, [(a, true), (b, false)], "retired under a, live under b");
    let store_keys = format!(
        "select count(distinct f.store_key)::int4, bool_and(f.store_key = o.store_key)
         from fact_sales f join fact_orders o using (order_id) where f.order_id = {b} and not f.is_deleted"
    );
    assert_eq!(rows(store_keys).await, [(1, true)], "the moved line took its new order's store");
    let payments = format!("select order_id, is_deleted from fact_payments where order_id in ({a}, {b}) order by 1, 2");
    assert_eq!(rows(payments).await, [(a, true), (b, false), (b, false)]);
    // Back again, with an edit: alive under a, retired under b; each id live once.
    oltp.batch_execute(&format!("update order_items set order_id = {a}, quantity = 3 where id = {line}"))
        .await
        .unwrap();
    wait_caught_up(&t, Duration::from_secs(10)).await;
    daemon.stop().await;
    assert_verified(&t).await;
    assert_eq!(rows(line_rows).await, [(a, false), (b, true)]);
    let twice = "select count(*) from (select order_item_id from fact_sales where not is_deleted
                 group by 1 having count(*) > 1) d";
    assert_eq!(scalar::<i64>(&olap, twice).await, 0, "a line id is unique among the live lines");
}
