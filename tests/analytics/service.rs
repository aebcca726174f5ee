//! The service itself: its role cannot write, parameters are validated by name, the API key is
//! enforced when set, the document lists every route, the daemon's gauges are reported, and a
//! change (an order, a rating) applied a moment ago shows at once, also on the live page.

use std::time::{Duration, Instant};

use brewlytics::{analytics, api, tools::seed};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{dec, TestAnalytics};
use crate::support::{scalar, wait_for, InProcessDaemon, TestDb};

#[tokio::test(flavor = "multi_thread")]
async fn the_service_reads_as_analytics_reader_and_cannot_write() {
    let t = TestDb::new().await;
    let state = analytics::AnalyticsState::new(&t.config).unwrap();
    let client = state.pool().get().await.unwrap();
    let role: String = client.query_one("select current_user::text", &[]).await.unwrap().get(0);
    assert_eq!(role, "analytics_reader");
    let insert =
        "insert into fact_orders (order_id, status, total, changed_at, src_id) values (-1, 'placed', 0, now(), 0)";
    let err = client.batch_execute(insert).await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("25006"), "sessions are read-only: {err}");
    // Even in a read-write transaction the role has no privilege to write.
    for sql in [
        format!("begin read write; {insert}"),
        "begin read write; update cdc_offset set applied_changes = 0".into(),
        "begin read write; delete from dim_store".into(),
        "begin read write; create table public.x (a int)".into(),
    ] {
        let err = client.batch_execute(&sql).await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("42501"), "{sql}: {err}");
        client.batch_execute("rollback").await.unwrap();
    }
    let oltp_url = t.config.target(brewlytics::db::Db::Oltp).unwrap().redacted();
    let olap_url = t.config.target(brewlytics::db::Db::Olap).unwrap().redacted();
    let db: String = client.query_one("select current_database()::text", &[]).await.unwrap().get(0);
    assert!(olap_url.contains(&db) && !oltp_url.contains(&db), "connected to the warehouse only");
}

#[tokio::test(flavor = "multi_thread")]
async fn query_parameters_are_validated_and_named() {
    let t = TestDb::new().await;
    let svc = TestAnalytics::start(&t.config).await;
    for (path, status, field) in [
        ("/api/v1/sales/summary?date=2026-13-01", 422, Some("date")),
        ("/api/v1/sales/summary?from=2026-02-10&to=2026-02-01", 422, Some("from")),
        ("/api/v1/sales/summary?from=2024-01-01&to=2026-01-01", 422, Some("to")),
        ("/api/v1/sales/summary?date=2026-01-01&from=2026-01-01", 422, Some("date")),
        ("/api/v1/sales/summary?day=2026-01-01", 422, Some("day")),
        ("/api/v1/sales/summary?date=2026-01-01&date=2026-01-02", 422, Some("date")),
        ("/api/v1/sales/top-items?limit=0", 422, Some("limit")),
        ("/api/v1/sales/top-items?limit=ten", 422, Some("limit")),
        ("/api/v1/sales/top-items?by=price", 422, Some("by")),
        ("/api/v1/stores/monthly?from=2026-1", 422, Some("from")),
        ("/api/v1/stores/monthly?from=2020-01&to=2026-01", 422, Some("to")),
        ("/api/v1/forecast/daily?days=30", 422, Some("days")),
        ("/api/v1/forecast/hourly?hours=-1", 422, Some("hours")),
        ("/api/v1/customers/segments?segment=vip", 422, Some("segment")),
        ("/api/v1/health/pipeline?x=1", 422, Some("x")),
        ("/api/v1/sales/hourly?date=2026-02-30", 422, Some("date")),
        ("/api/v1/sales/hourly?date=2026-2-3", 422, Some("date")),
        ("/api/v1/nope", 404, None),
    ] {
        let (code, body) = svc.get(path).await;
        assert_eq!((code, body["field"].as_str()), (status, field), "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    // Every data endpoint answers on an empty warehouse.
    for e in analytics::endpoints().iter().filter(|e| e.path.starts_with("/api/")) {
        let (code, body) = svc.get(e.path).await;
        assert_eq!(code, 200, "{}: {body}", e.path);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_key_is_enforced_when_set() {
    let mut t = TestDb::new().await;
    t.config.analytics_api_key = Some("k3y-for-tests".into());
    let svc = TestAnalytics::start(&t.config).await;
    let url = |p: &str| format!("{}{p}", svc.url);
    for e in analytics::endpoints() {
        let (code, body) = svc.get(e.path).await;
        match e.access {
            analytics::Access::Key => {
                assert_eq!((code, body["field"].as_str()), (401, Some("Authorization")), "{}: {body}", e.path)
            }
            analytics::Access::Open => assert_eq!(code, 200, "{} is open", e.path),
        }
    }
    let summary = url("/api/v1/sales/summary");
    assert_eq!(svc.send(svc.http.get(&summary).bearer_auth("k3y-for-tests")).await.0, 200);
    assert_eq!(svc.send(svc.http.get(&summary).header("X-API-Key", "k3y-for-tests")).await.0, 200);
    assert_eq!(svc.send(svc.http.get(&summary).bearer_auth("k3y-for-test")).await.0, 401);
    assert_eq!(svc.send(svc.http.get(&summary).header("X-API-Key", "K3Y-FOR-TESTS")).await.0, 401);
    // The page takes the key once in its URL and keeps it in a cookie for the event stream.
    let page = svc.http.get(url("/?key=k3y-for-tests")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert!(cookie.starts_with("brewlytics_analytics_key="), "{cookie}");
    let events = svc.http.get(url("/live/events")).header("cookie", cookie).send().await.unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(svc.send(svc.http.get(url("/?key=wrong"))).await.0, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_and_docs_page_list_every_route() {
    let t = TestDb::new().await;
    let svc = TestAnalytics::start(&t.config).await;
    let doc = svc.ok("/openapi.json").await;
    let mut documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| format!("{} {path}", m.to_uppercase())))
        .collect();
    let mut routed: Vec<String> = analytics::endpoints().iter().map(|e| format!("{} {}", e.method, e.path)).collect();
    documented.sort();
    routed.sort();
    assert_eq!(documented, routed);
    let docs = svc.http.get(format!("{}/docs", svc.url)).send().await.unwrap().text().await.unwrap();
    for e in analytics::endpoints() {
        assert!(docs.contains(&format!("GET {}", e.path)), "docs page lacks {}", e.path);
    }
    assert!(!docs.contains("<script") && !docs.contains("http://") && !docs.contains("https://"), "no external assets");
    let page = svc.http.get(&svc.url).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"), "the live page loads nothing from outside");
}

/// A stand-in for the daemon's `/metrics`.
async fn metrics_stub(text: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/metrics", axum::routing::get(move || async move { text }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reports_the_daemons_backlog_and_reconciliation() {
    let mut t = TestDb::new().await;
    t.config.analytics_metrics_url = Some(
        metrics_stub(
            "# TYPE cdc_backlog_rows gauge\ncdc_backlog_rows 3\ncdc_lag_seconds 0.25\ncdc_reconcile_differences 0\n",
        )
        .await,
    );
    let svc = TestAnalytics::start(&t.config).await;
    let body = svc.ok("/api/v1/health/pipeline").await;
    assert_eq!((body["backlog"].as_f64(), body["lag_seconds"].as_f64()), (Some(3.0), Some(0.25)), "{body}");
    assert_eq!(body["reconciliation"], json!({ "differences": 0.0 }));
    assert_eq!(body["status"], "ok", "{body}");
    t.config.analytics_metrics_url = Some(metrics_stub("cdc_backlog_rows 0\ncdc_reconcile_differences 2\n").await);
    let svc = TestAnalytics::start(&t.config).await;
    let body = svc.ok("/api/v1/health/pipeline").await;
    assert_eq!(body["status"], "degraded");
    assert!(body["problems"][0].as_str().unwrap().contains("reconciliation"), "{body}");
}

/// Read `/api/v1/live` until `check` holds (the page's JSON twin).
async fn live_until(svc: &TestAnalytics, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    wait_for(what, Duration::from_secs(10), || async {
        let (code, body) = svc.get("/api/v1/live").await;
        (code == 200 && check(&body)).then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_and_its_rating_show_as_soon_as_they_are_applied() {
    let t = TestDb::new().await;
    seed::seed(&mut t.oltp().await).await.unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let (config, shutdown) = (t.config.clone(), stop.clone().cancelled_owned());
    tokio::spawn(async move { api::serve(&config, listener, shutdown).await.unwrap() });
    let svc = TestAnalytics::start(&t.config).await;
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let http = http.clone();
        let url = format!("{api_url}{path}");
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.json::<Value>().await.unwrap()
        }
    };
    let order = post("/orders/random".into(), Value::Null).await;
    let id = order["order_id"].as_i64().unwrap();
    post(format!("/orders/{id}/status"), json!({"status": "served"})).await;
    post(format!("/orders/{id}/feedback"), json!({"rating": 2, "comment": "too cold"})).await;

    let olap = t.olap().await;
    // Applied: in the facts, and not by a snapshot job still open (a job's rows reach the rollups
    // when it ends).
    wait_for("the rating applied", Duration::from_secs(10), || async {
        let applied = scalar::<i64>(&olap, "select count(*) from fact_feedback").await == 1;
        let job_open = scalar::<bool>(&olap, "select exists (select from cdc_snapshot where state <> 'done')").await;
        (applied && !job_open).then_some(())
    })
    .await;
    // No dbt run in between: the star answers at once.
    let start = Instant::now();
    let summary = svc.ok("/api/v1/sales/summary").await;
    assert_eq!((summary["orders"].as_i64(), dec(&summary["revenue"])), (Some(1), dec(&order["total"])), "{summary}");
    let sat = svc.ok("/api/v1/satisfaction").await;
    assert_eq!((sat["ratings"].as_i64(), dec(&sat["average_rating"]).to_string()), (Some(1), "2.00".into()), "{sat}");
    assert_eq!(sat["with_comment"].as_i64(), Some(1));
    let row: (i64, i64) = {
        let r = olap
            .query_one(
                "select f.store_key::int8, o.store_key::int8 from fact_feedback f join fact_orders o using (order_id)",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(row.0 > 0 && row.0 == row.1, "the rating is bound to its order's store: {row:?}");
    let live = live_until(&svc, "the rating on the live page", |l| l["ratings_today"] == 1).await;
    assert_eq!(live["last_orders"][0]["order_id"].as_i64(), Some(id));
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ratings_given_before_the_warehouse_existed_arrive_with_the_initial_snapshot() {
    let t = TestDb::new().await;
    let mut oltp = t.oltp().await;
    seed::seed(&mut oltp).await.unwrap();
    oltp.batch_execute(
        "insert into orders (customer_id, employee_id, store_id, status, total)
         select (select min(id) from customers), e.id, e.store_id, 'served', 4.00
         from employees e where e.active order by e.id limit 1;
         insert into feedback (order_id, rating, comment) select max(id), 5, 'before the warehouse' from orders;",
    )
    .await
    .unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    let olap = t.olap().await;
    wait_for("the snapshot to load the rating", Duration::from_secs(30), || async {
        (scalar::<i64>(&olap, "select count(*) from fact_feedback where not is_deleted").await == 1).then_some(())
    })
    .await;
    let (rating, store_key): (i16, i32) = {
        let r = olap
            .query_one("select f.rating, f.store_key from fact_feedback f join fact_orders o using (order_id)", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(rating, 5);
    assert!(store_key > 0, "bound to its order's store");
    daemon.stop().await;
    crate::support::assert_verified(&t).await;
}
