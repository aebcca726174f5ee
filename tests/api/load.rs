//! The HTTP load driver (`brewlytics load`) and the request timeout.

use std::time::{Duration, Instant};

use brewlytics::tools::load::{run_load, LoadOptions};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::TestApi;
use crate::support::wait_for;

fn options(api: &TestApi, rate: f64, duration: Duration) -> LoadOptions {
    let api_key = api.api_key.as_deref().map(Into::into);
    LoadOptions { rate, duration, api: Some(api.url.clone()), concurrency: 16, api_key }
}

#[tokio::test(flavor = "multi_thread")]
async fn load_places_orders_at_the_rate_and_follows_them_up() {
    // With an API key on the server: every write of the load driver carries it.
    let api = TestApi::seeded_with_key(Some("load-test-key")).await;
    let report = run_load(&options(&api, 40.0, Duration::from_secs(3)), CancellationToken::new()).await.unwrap();
    assert_eq!(report.orders_failed + report.other_failed, 0, "{report}");
    // At most the rate allows; well above nothing even on a busy machine (the tick waits, never bursts).
    assert!((40..=125).contains(&report.orders_placed), "about 40/s for 3 s: {report}");
    let placed = report.orders_placed;
    assert!(report.status_changes >= placed / 2, "placed orders get served, cancelled or refunded: {report}");
    assert!(report.p50 <= report.p95 && report.p95 <= report.p99 && report.p99 > Duration::ZERO);
    assert_eq!(api.int("select count(*) from orders").await as u64, report.orders_placed);
    let changed = api.int("select count(*) from orders where status <> 'placed'").await as u64;
    assert!(changed >= placed / 2, "{changed} of {placed} orders moved on");
    // Payments net to the total of orders that were neither cancelled nor refunded.
    let unbalanced = api
        .int(
            "select count(*) from orders o
             where (select sum(amount) from payments p where p.order_id = o.id)
                   <> case when status in ('cancelled', 'refunded') then 0 else total end",
        )
        .await;
    assert_eq!(unbalanced, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn load_stops_when_cancelled_and_refuses_bad_input() {
    let api = TestApi::seeded().await;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let cancel = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
    });
    let report = run_load(&options(&api, 20.0, Duration::from_secs(60)), stop).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "stopped early: {report}");
    assert!(report.orders_placed >= 1, "{report}");
    assert!(run_load(&options(&api, 0.0, Duration::from_secs(1)), CancellationToken::new()).await.is_err());
    let empty = TestApi::empty().await;
    let err = run_load(&options(&empty, 5.0, Duration::from_secs(1)), CancellationToken::new()).await.unwrap_err();
    assert!(err.to_string().contains("brewlytics seed"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_stuck_on_a_lock_times_out_with_json_and_writes_nothing() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let (_, o) = api
        .post("/orders/new", json!({"customer_id": f.customer, "items": [{"product_id": f.coffee, "quantity": 1}]}))
        .await;
    let id = o["order_id"].as_i64().unwrap();
    let mut locker = api.t.oltp().await;
    let tx = locker.transaction().await.unwrap();
    tx.execute("select 1 from orders where id = $1 for update", &[&(id as i32)]).await.unwrap();
    let started = Instant::now();
    let (s, e) = api.post(&format!("/orders/{id}/status"), json!({"status": "cancelled"})).await;
    assert_eq!(s, 503, "{e}");
    assert!(e["error"].as_str().unwrap().contains("took longer"), "{e}");
    assert!(started.elapsed() >= brewlytics::api::REQUEST_TIMEOUT);
    tx.rollback().await.unwrap();
    // The abandoned transaction rolls back once the lock is free: the order stays placed.
    let sql = format!("select count(*) from orders where id = {id} and status = 'placed'");
    let waiters =
        "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'";
    wait_for("no lock waiters", Duration::from_secs(10), || async { (api.int(waiters).await == 0).then_some(()) })
        .await;
    assert_eq!(api.int(&sql).await, 1);
    assert_eq!(api.int(&format!("select count(*) from payments where order_id = {id}")).await, 1);
}
