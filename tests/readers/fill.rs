//! A warehouse filled by the real pipeline: the seeded chain, the order API in-process, the load
//! generator's order mix, a guaranteed price change, restock, cancellation and refund, a share of
//! orders moved back over five weeks (history for the weekly and forecast marts), the ratings the
//! generator leaves for some served orders, and the CDC
//! daemon applying all of it until caught up and verified.

use std::time::Duration;

use brewlytics::{
    api,
    tools::{
        load::{run_load, LoadOptions},
        seed,
    },
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::support::{assert_verified, scalar, wait_caught_up, InProcessDaemon, TestDb};

/// Orders per second and seconds of load: a few hundred orders.
const RATE: f64 = 80.0;
const LOAD_FOR: Duration = Duration::from_secs(4);

/// A fresh pair of databases whose warehouse the daemon filled (daemon stopped, verify clean).
pub(crate) async fn filled_warehouse() -> TestDb {
    let t = TestDb::new().await;
    seed::seed(&mut t.oltp().await).await.expect("seed");
    let daemon = InProcessDaemon::start(&t.config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let (config, shutdown) = (t.config.clone(), stop.clone().cancelled_owned());
    let server = tokio::spawn(async move { api::serve(&config, listener, shutdown).await.expect("serve the API") });

    let options =
        LoadOptions { rate: RATE, duration: LOAD_FOR, api: Some(base.clone()), concurrency: 16, api_key: None };
    let report = run_load(&options, CancellationToken::new()).await.expect("load runs");
    assert_eq!(report.orders_failed + report.other_failed, 0, "{report}");
    assert!(report.orders_placed >= 50, "too few orders for the readers: {report}");

    // The rare events of the mix, made certain: a price change (a type 2 product version), a
    // restock, a cancellation and a refund.
    let http = reqwest::Client::new();
    let send = async |req: reqwest::RequestBuilder| {
        let response = req.send().await.expect("request sent");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{status}: {body}");
    };
    send(http.patch(format!("{base}/products/1")).json(&json!({"price": "9.95"}))).await;
    send(http.post(format!("{base}/inventory/restock")).json(&json!({"product_id": 2, "store_id": 1, "quantity": 40})))
        .await;
    let oltp = t.oltp().await;
    let placed = |n: i64| {
        let oltp = &oltp;
        async move {
            let rows = oltp.query("select id from orders where status = 'placed' order by id limit $1", &[&n]).await;
            rows.unwrap().iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>()
        }
    };
    let (cancel, refund) = (placed(1).await[0], placed(2).await[1]);
    let status = |id: i32, s: &str| http.post(format!("{base}/orders/{id}/status")).json(&json!({"status": s}));
    send(status(cancel, "cancelled")).await;
    send(status(refund, "served")).await;
    send(status(refund, "refunded")).await;
    // A third of the orders happened on earlier days (0 to 34 days ago), as a correction in
    // OLTP would move them: the daemon must carry the new dates to every fact.
    oltp.batch_execute("update orders set order_time = order_time - (id % 35) * interval '1 day' where id % 3 = 0")
        .await
        .unwrap();

    stop.cancel();
    server.await.unwrap();
    wait_caught_up(&t, Duration::from_secs(60)).await;
    daemon.stop().await;
    assert_verified(&t).await;
    let olap = t.olap().await;
    for (what, sql, least) in [
        ("served lines", "select count(*) from fact_sales where order_status = 'served'", 50),
        ("cancelled orders", "select count(*) from fact_orders where status = 'cancelled'", 1),
        ("refunded orders", "select count(*) from fact_orders where status = 'refunded'", 1),
        ("old product versions", "select count(*) from dim_product where not is_current", 1),
        ("days with orders", "select count(distinct date_key) from fact_orders", 20),
        ("customer ratings", "select count(*) from fact_feedback", 10),
    ] {
        let n: i64 = scalar(&olap, sql).await;
        assert!(n >= least, "the filled warehouse has {n} {what}, expected at least {least}");
    }
    t
}
