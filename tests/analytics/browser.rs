//! The live page in a real browser: headless Chromium driven over WebDriver (chromedriver, plain
//! HTTP with reqwest) loads the page while orders flow, waits until its figures move by themselves,
//! checks them against the warehouse once the flow stops, measures how long an applied order takes
//! to appear, and saves a screenshot (a test artifact under the target directory, not committed).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use base64::Engine;
use brewlytics::{
    api,
    tools::{
        cluster::free_port,
        load::{run_load, LoadOptions},
        seed,
    },
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::TestAnalytics;
use crate::{
    readers::{tool, Child},
    support::{scalar, wait_caught_up, wait_for, InProcessDaemon, TestDb},
};

const INSTALL: &str =
    "apt-get install -y --no-install-recommends chromium chromium-driver (or set CHROMIUM_BIN / CHROMEDRIVER_BIN)";

/// A chromedriver process and one headless Chromium session.
struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: Child,
}

impl Browser {
    async fn start(log_dir: &std::path::Path) -> Self {
        let driver_bin = tool("CHROMEDRIVER_BIN", "chromedriver", INSTALL);
        let chromium = tool("CHROMIUM_BIN", "chromium", INSTALL);
        let port = free_port().unwrap();
        let mut cmd = tokio::process::Command::new(driver_bin);
        cmd.arg(format!("--port={port}"));
        let driver = Child::spawn("chromedriver", cmd, log_dir.join("chromedriver.log"));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        wait_for("chromedriver to answer", Duration::from_secs(20), || async {
            driver.assert_running();
            let r = http.get(format!("{base}/status")).send().await.ok()?;
            let body: Value = r.json().await.ok()?;
            body["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        let profile = log_dir.join("chromium-profile");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": { "binary": chromium, "args": args } } } });
        let r: Value = http.post(format!("{base}/session")).json(&caps).send().await.unwrap().json().await.unwrap();
        let session =
            r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {r}")).to_string();
        Browser { http, session: format!("{base}/session/{session}"), _driver: driver }
    }

    async fn command(&self, path: &str, body: Value) -> Value {
        let r: Value =
            self.http.post(format!("{}{path}", self.session)).json(&body).send().await.unwrap().json().await.unwrap();
        assert!(r["value"].get("error").is_none(), "WebDriver {path}: {r}");
        r["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.command("/url", json!({ "url": url })).await;
    }

    /// Run a script in the page and return its value.
    async fn eval(&self, script: &str) -> Value {
        self.command("/execute/sync", json!({ "script": script, "args": [] })).await
    }

    /// What the page shows, read from its DOM.
    async fn shown(&self) -> Value {
        self.eval(
            "const t = id => { const e = document.getElementById(id); return e ? e.textContent.trim() : null; };
             const row = document.querySelector('#last-orders tr[data-order-id]');
             return { status: t('status'), served: t('served-today'), revenue: t('revenue-today'),
                      last: row ? Number(row.dataset.orderId) : null, applied: t('applied-changes'),
                      hours: [...document.querySelectorAll('#chart-hours rect')].map(r => Number(r.dataset.orders)),
                      top: [...document.querySelectorAll('#chart-top rect')].map(r => [Number(r.dataset.productId), Number(r.dataset.quantity)]),
                      funnel: [...document.querySelectorAll('#funnel rect')].map(r => [r.dataset.stage, Number(r.dataset.sessions)]) };",
        )
        .await
    }

    async fn screenshot(&self, path: &std::path::Path) {
        let r: Value =
            self.http.get(format!("{}/screenshot", self.session)).send().await.unwrap().json().await.unwrap();
        let png = base64::engine::general_purpose::STANDARD.decode(r["value"].as_str().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    async fn close(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

/// What the warehouse says the page should show (today, UTC).
async fn truth(olap: &tokio_postgres::Client) -> Value {
    let today = chrono::Utc::now().date_naive();
    let key: i32 = today.format("%Y%m%d").to_string().parse().unwrap();
    let r = olap
        .query_one(
            "select count(*)::int8, coalesce(sum(total), 0)::numeric, (select max(order_id) from fact_orders)
             from fact_orders where date_key = $1 and status = 'served' and not is_deleted",
            &[&key],
        )
        .await
        .unwrap();
    let hours = olap
        .query(
            "select h, (select count(*)::int8 from fact_orders where date_key = $1 and status = 'served'
                        and not is_deleted and time_key / 60 = h)
             from generate_series(0, 23) h order by h",
            &[&key],
        )
        .await
        .unwrap();
    let top = olap
        .query(
            "select product_id, sum(quantity)::int8 from fact_sales
             where date_key = $1 and order_status = 'served' and not is_deleted
             group by 1 order by 2 desc, 1 limit 5",
            &[&key],
        )
        .await
        .unwrap();
    let f = olap
        .query_one(
            "select count(*)::int8, count(first_product_view_at)::int8, count(first_add_to_cart_at)::int8,
                    count(checkout_at)::int8, count(purchased_at)::int8
             from fact_app_sessions where date_key = $1 and not is_deleted",
            &[&key],
        )
        .await
        .unwrap();
    let stages = ["sessions", "viewed_product", "added_to_cart", "started_checkout", "purchased"];
    let funnel: Vec<Value> = if f.get::<_, i64>(0) == 0 {
        Vec::new()
    } else {
        stages.iter().enumerate().map(|(i, s)| json!([s, f.get::<_, i64>(i)])).collect()
    };
    json!({
        "funnel": funnel,
        "served": r.get::<_, i64>(0).to_string(),
        "revenue": r.get::<_, Decimal>(1).to_string(),
        "last": r.get::<_, Option<i32>>(2),
        "hours": hours.iter().map(|h| h.get::<_, i64>(1)).collect::<Vec<_>>(),
        "top": top.iter().map(|t| json!([t.get::<_, i32>(0), t.get::<_, i64>(1)])).collect::<Vec<_>>(),
    })
}

fn same_figures(shown: &Value, truth: &Value) -> bool {
    ["served", "revenue", "last", "hours", "top", "funnel"].iter().all(|k| shown[*k] == truth[*k])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_page_updates_by_itself_in_chromium_and_shows_the_warehouse() {
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-page");
    std::fs::create_dir_all(&artifacts).unwrap();
    let t = TestDb::new().await;
    seed::seed(&mut t.oltp().await).await.unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    let api_stop = CancellationToken::new();
    let (config, shutdown) = (t.config.clone(), api_stop.clone().cancelled_owned());
    tokio::spawn(async move { api::serve(&config, listener, shutdown).await.unwrap() });
    let svc = TestAnalytics::start(&t.config).await;
    let browser = Browser::start(&artifacts).await;

    // Orders flow (bounded: 40 s at most, stopped as soon as the page has been seen to move).
    let flow_stop = CancellationToken::new();
    let options = LoadOptions {
        rate: 15.0,
        duration: Duration::from_secs(40),
        api: Some(api_url.clone()),
        concurrency: 8,
        api_key: None,
    };
    let flow = tokio::spawn({
        let stop = flow_stop.clone();
        async move { run_load(&options, stop).await.unwrap() }
    });
    browser.open(&format!("{}/", svc.url)).await;
    let first = browser.shown().await;
    wait_for("the page to go live and its figures to move without a reload", Duration::from_secs(30), || async {
        let now = browser.shown().await;
        (now["status"] == "live" && now["served"] != first["served"] && now["applied"] != first["applied"])
            .then_some(())
    })
    .await;
    let marker: Value = browser.eval("window.__not_reloaded = 42; return 1").await;
    assert_eq!(marker, 1);
    flow_stop.cancel();
    let report = flow.await.unwrap();
    assert!(report.orders_placed > 0, "{report}");
    wait_caught_up(&t, Duration::from_secs(30)).await;

    // Once the flow has stopped and the daemon caught up, the page shows exactly the warehouse.
    let olap = t.olap().await;
    let want = truth(&olap).await;
    let shown = wait_for("the page to show the warehouse's figures", Duration::from_secs(10), || async {
        let shown = browser.shown().await;
        same_figures(&shown, &want).then_some(shown)
    })
    .await;
    assert!(shown["served"].as_str().unwrap().parse::<i64>().unwrap() > 0, "{shown}");
    assert!(shown["funnel"][0][1].as_i64().unwrap_or(0) > 0, "the app funnel is drawn: {shown}");

    // One more order: it appears within a second of being applied.
    let http = reqwest::Client::new();
    let placed: Value = http.post(format!("{api_url}/orders/random")).send().await.unwrap().json().await.unwrap();
    let id = placed["order_id"].as_i64().unwrap();
    wait_for("the order in the warehouse", Duration::from_secs(10), || async {
        (scalar::<i64>(&olap, &format!("select count(*) from fact_orders where order_id = {id}")).await == 1)
            .then_some(())
    })
    .await;
    let applied = Instant::now();
    wait_for("the order on the page", Duration::from_secs(5), || async {
        (browser.shown().await["last"].as_i64() == Some(id)).then_some(())
    })
    .await;
    let delay = applied.elapsed();
    assert!(delay < Duration::from_secs(1), "the page showed order {id} {delay:?} after it was applied");
    assert_eq!(browser.eval("return window.__not_reloaded").await, 42, "no reload happened");
    let shot = artifacts.join("live-page.png");
    browser.screenshot(&shot).await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a real screenshot");
    println!("live page screenshot: {} (order {id} shown {delay:?} after it was applied)", shot.display());
    browser.close().await;
    api_stop.cancel();
    daemon.stop().await;
}
