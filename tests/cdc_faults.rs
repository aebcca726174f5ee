//! The daemon under concurrency, crashes, restarts, poison and a second instance.

use std::time::Duration;

use brewlytics::{
    db::Db,
    tools::cluster::{ClusterOptions, PrivateCluster},
};
use rand::RngExt;

use crate::support::{
    assert_verified, connect_url,
    load::Writers,
    process::{status_json, DaemonProcess},
    scalar, shop, streamed_changes, wait_caught_up, wait_for, InProcessDaemon, TestDb,
};

/// Every committed change applied exactly once: the checkpoint counted each change once.
async fn assert_exactly_once(t: &TestDb) {
    let (oltp, olap) = (t.oltp().await, t.olap().await);
    let changes = streamed_changes(&oltp, &olap).await;
    let applied: i64 = scalar(&olap, "select applied_changes from cdc_offset").await;
    assert_eq!(applied, changes, "each change after the initial snapshot counted once by the checkpoint");
    assert_verified(t).await;
}

async fn shop_db() -> TestDb {
    let t = TestDb::new().await;
    t.oltp().await.batch_execute(shop::SHOP).await.unwrap();
    t
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_concurrent_writers_with_out_of_order_commits() {
    let t = shop_db().await;
    let daemon = InProcessDaemon::start(&t.config);
    let (committed, failed) = Writers::start(&t.oltp_url, 16, 260).join().await;
    let changes: i64 = scalar(&t.oltp().await, "select count(*) from cdc_orders").await;
    assert!(changes >= 20_000, "only {changes} changes from {committed} transactions ({failed} rolled back)");
    wait_caught_up(&t, Duration::from_secs(60)).await;
    daemon.stop().await;
    assert_exactly_once(&t).await;
    let olap = t.olap().await;
    let kinds: i64 = scalar(&olap, "select count(distinct order_status) from fact_sales").await;
    assert!(kinds >= 3, "status changes reached the lines");
    assert!(scalar::<i64>(&olap, "select count(*) from fact_sales where is_deleted").await > 0, "deletes soft-delete");
    assert!(scalar::<i64>(&olap, "select count(*) from dim_product where not is_current").await > 0, "price history");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_instants_loses_and_doubles_nothing() {
    let t = shop_db().await;
    let writers = Writers::start(&t.oltp_url, 4, 0);
    for _ in 0..20 {
        let daemon = DaemonProcess::start(&t);
        let alive = rand::rng().random_range(150..700);
        tokio::time::sleep(Duration::from_millis(alive)).await; // the random instant of the crash
        daemon.kill();
    }
    let (committed, _) = writers.stop().await;
    assert!(committed > 100);
    let daemon = DaemonProcess::start(&t);
    wait_caught_up(&t, Duration::from_secs(60)).await;
    drop(daemon);
    assert_exactly_once(&t).await;
}

/// Backlogs of new orders go in as appends (rows above their tables' high-water marks: batches of
/// 1,500 changes hold ~190 orders, their lines and payments, above the 100-row threshold), the
/// changes to older orders as merges, with batches straddling both and SIGKILLs at random
/// instants: every fact and rollup exact, every change counted once, and no batch rejected (a row
/// appended that was not new would fail on its key and send the batch to isolation, which would
/// then merge it: exact, but logged).
#[tokio::test(flavor = "multi_thread")]
async fn appended_backlogs_mixed_with_merges_and_sigkills_lose_and_double_nothing() {
    let t = shop_db().await;
    let oltp = t.oltp().await;
    let (oltp_url, olap_url) = (t.url_as(Db::Oltp, "brewlytics_cdc"), t.url_as(Db::Olap, "brewlytics_cdc"));
    let env = [("CDC_BATCH_ROWS", "1500")];
    let mut logs = Vec::new();
    for _ in 0..4 {
        let mut c = t.oltp().await;
        let tx = c.transaction().await.unwrap();
        for _ in 0..250 {
            shop::random_order(&tx).await;
        }
        tx.commit().await.unwrap();
        oltp.batch_execute(
            "update orders set status = 'served' where status = 'placed' and id % 3 = 0;
             update order_items set quantity = quantity + 1 where id % 7 = 0;
             delete from payments where order_id % 11 = 0",
        )
        .await
        .unwrap();
        let (daemon, log) = DaemonProcess::start_logged(&oltp_url, &olap_url, &env);
        logs.push(log);
        let alive = rand::rng().random_range(300..1200);
        tokio::time::sleep(Duration::from_millis(alive)).await; // the random instant of the crash
        daemon.kill();
    }
    let (daemon, log) = DaemonProcess::start_logged(&oltp_url, &olap_url, &env);
    logs.push(log);
    wait_caught_up(&t, Duration::from_secs(90)).await;
    drop(daemon);
    assert!(scalar::<i64>(&t.olap().await, "select count(*) from fact_orders").await >= 1000);
    assert_exactly_once(&t).await;
    for log in &logs {
        assert_eq!(log.count("WARN", "rejected by the warehouse"), 0, "{:?}", log.find("WARN", "rejected"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_exits_zero_within_ten_seconds_with_a_consistent_checkpoint() {
    let t = shop_db().await;
    let writers = Writers::start(&t.oltp_url, 4, 0);
    let mut daemon = DaemonProcess::start(&t);
    let olap = t.olap().await;
    wait_for("some batches applied", Duration::from_secs(20), || async {
        (scalar::<i64>(&olap, "select batch_seq from cdc_offset").await > 5).then_some(())
    })
    .await;
    daemon.terminate();
    let (status, took) = daemon.wait_exit(Duration::from_secs(10)).expect("exits within 10 s of SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(10));
    writers.stop().await;
    let _daemon = DaemonProcess::start(&t);
    wait_caught_up(&t, Duration::from_secs(30)).await;
    assert_exactly_once(&t).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_takes_over_when_the_active_daemon_is_killed() {
    let t = shop_db().await;
    let writers = Writers::start(&t.oltp_url, 4, 0);
    let a = DaemonProcess::start(&t);
    let active = wait_for("a daemon to become active", Duration::from_secs(20), || async {
        status_json(&t)["active"].as_str().map(str::to_string)
    })
    .await;
    assert!(active.ends_with(&format!(":{}", a.pid())), "the first daemon is active: {active}");
    let b = DaemonProcess::start(&t);
    // While A holds the lock, B stays standby: A remains the active one as batches go on.
    let olap = t.olap().await;
    let seq: i64 = scalar(&olap, "select batch_seq from cdc_offset").await;
    wait_for("more batches", Duration::from_secs(20), || async {
        (scalar::<i64>(&olap, "select batch_seq from cdc_offset").await > seq + 3).then_some(())
    })
    .await;
    assert_eq!(status_json(&t)["active"].as_str(), Some(active.as_str()));
    let b_pid = b.pid();
    a.kill();
    wait_for("the standby to take over", Duration::from_secs(10), || async {
        status_json(&t)["active"].as_str().filter(|s| s.ends_with(&format!(":{b_pid}"))).map(drop)
    })
    .await;
    writers.stop().await;
    wait_caught_up(&t, Duration::from_secs(30)).await;
    drop(b);
    assert_exactly_once(&t).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_warehouse_restarting_mid_load_is_survived() {
    let t = shop_db().await;
    // The warehouse gets a cluster of its own, so it can be crashed without hurting other tests.
    let dir = std::env::temp_dir().join(format!("brewlytics-olap-restart-{}", std::process::id()));
    let cluster = tokio::task::spawn_blocking(move || {
        PrivateCluster::start(ClusterOptions { dir, durable: false, remove_on_drop: true, ..Default::default() })
            .unwrap()
    })
    .await
    .unwrap();
    cluster.create_database("coffee_olap").unwrap();
    let olap_url = cluster.state.dsn("coffee_olap");
    let mut olap = connect_url(&olap_url).await;
    brewlytics::db::migrate(&mut olap, brewlytics::db::Db::Olap).await.unwrap();
    // The daemon's role on the warehouse's own server.
    brewlytics::db::apply_roles(&t.oltp().await, &olap, &t.config).await.unwrap();
    let mut config = t.config.clone();
    config.olap_database_url = Some(olap_url.clone().into());
    let daemon = InProcessDaemon::start(&config);
    let writers = Writers::start(&t.oltp_url, 4, 0);
    wait_for("some batches applied", Duration::from_secs(20), || async {
        (scalar::<i64>(&olap, "select batch_seq from cdc_offset").await > 3).then_some(())
    })
    .await;
    cluster.kill().unwrap(); // crash: in-flight warehouse transactions are lost
    tokio::time::sleep(Duration::from_millis(1500)).await; // the outage lasts while writers go on
    cluster.restart().unwrap();
    writers.stop().await;
    let (oltp, olap) = (t.oltp().await, connect_url(&olap_url).await);
    let target = streamed_changes(&oltp, &olap).await;
    wait_for("the daemon to catch up after the restart", Duration::from_secs(60), || async {
        let applied = olap.query_one("select applied_changes from cdc_offset", &[]).await.ok()?.get::<_, i64>(0);
        (applied >= target).then_some(())
    })
    .await;
    daemon.stop().await;
    let mut olap = olap;
    let report = crate::support::verify_report(&mut t.oltp().await, &mut olap).await;
    assert!(report.is_clean(), "{:#?}", report.differences);
    assert_eq!(scalar::<i64>(&olap, "select applied_changes from cdc_offset").await, target);
}

/// A statement the warehouse refuses to plan (here: the order lines' upsert once its conflict
/// target matches no key, SQLSTATE 42P10, as Citus's planner refusals do) is a bug: the daemon
/// says so at error level and waits five minutes before the next attempt instead of retrying at
/// once, and still stops promptly on SIGTERM.
#[tokio::test(flavor = "multi_thread")]
async fn a_statement_the_warehouse_refuses_to_plan_is_reported_and_retried_rarely() {
    use std::io::BufRead;
    let t = shop_db().await;
    shop::place_order(&t.oltp().await, 1, 1, &[(1, 1)]).await;
    // Without its primary key the lines' upsert has no arbiter for its ON CONFLICT. A line of an
    // order above every one the table holds would be appended without it: a row of a later order
    // makes this line a merge.
    t.olap()
        .await
        .batch_execute(
            "alter table fact_sales drop constraint fact_sales_pkey;
             insert into fact_sales (order_item_id, order_id, product_id, quantity, unit_price, line_total,
                                     changed_at, src_id)
             values (1000, 1000, 1, 1, 1, 1, now(), 1)",
        )
        .await
        .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_brewlytics"))
        .arg("cdc")
        .env("OLTP_DATABASE_URL", t.url_as(brewlytics::db::Db::Oltp, "brewlytics_cdc"))
        .env("OLAP_DATABASE_URL", t.url_as(brewlytics::db::Db::Olap, "brewlytics_cdc"))
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn brewlytics cdc");
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        std::io::BufReader::new(stderr).lines().map_while(Result::ok).for_each(|l| drop(lines_tx.send(l)))
    });
    let mut failures = Vec::new();
    let refusal = wait_for("the refusal logged", Duration::from_secs(20), || {
        let next: Vec<serde_json::Value> = lines.try_iter().filter_map(|l| serde_json::from_str(&l).ok()).collect();
        failures.extend(next);
        let found = failures.iter().find(|l| l["fields"]["kind"] == "unsupported").cloned();
        async move { found }
    })
    .await;
    assert_eq!(refusal["level"], "ERROR", "{refusal}");
    assert!(refusal["fields"]["message"].as_str().unwrap().contains("this is a bug, please report it"), "{refusal}");
    assert!(refusal["fields"]["error"].as_str().unwrap().contains("ON CONFLICT"), "{refusal}");
    assert_eq!(refusal["fields"]["retry_in_ms"], 300_000, "{refusal}");
    assert!(failures.iter().all(|l| l["fields"]["kind"] != "internal"), "never classified as internal: {failures:#?}");
    let daemon = DaemonProcess { child };
    daemon.terminate();
    let mut daemon = daemon;
    let (status, _) = daemon.wait_exit(Duration::from_secs(10)).expect("the long pause yields to SIGTERM");
    assert!(status.success(), "exit status {status}");
}
