//! `brewlytics verify` on a live system: exact while writers run and while the daemon is stopped
//! with a growing backlog; a tampered fact and a dead-lettered change are named; the scheduled
//! reconciliation exports what it finds; no comparable moment is exit code 3.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use brewlytics::{
    cdc::reconcile::{self, Outcome},
    tools::cluster::free_port,
};
use tokio_postgres::Client;

use crate::support::{
    load::Writers, metric, process::DaemonProcess, scalar, shop, verify_report, wait_caught_up, wait_for,
    InProcessDaemon, TestDb,
};

async fn shop_db() -> TestDb {
    let t = TestDb::new().await;
    t.oltp().await.batch_execute(shop::SHOP).await.unwrap();
    t
}

/// `brewlytics verify` as a subprocess: (exit code, stdout).
fn verify_cli(t: &TestDb, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_brewlytics"))
        .arg("verify")
        .args(args)
        .env("OLTP_DATABASE_URL", &t.oltp_url)
        .env("OLAP_DATABASE_URL", &t.olap_url)
        .output()
        .expect("run brewlytics verify");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    (out.status.code().unwrap_or(-1), format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
}

/// One exact comparison; returns how many later changes it had to undo. Panics on a difference.
async fn assert_exact(oltp: &mut Client, olap: &mut Client, run: usize) -> i64 {
    match reconcile::verify(oltp, olap).await.expect("verify runs") {
        Outcome::Compared { report, pending, checkpoint } => {
            assert!(report.is_clean(), "run {run}: false differences at {checkpoint}: {:#?}", report.differences);
            pending
        }
        Outcome::CannotCompare(reason) => panic!("run {run}: cannot compare: {reason}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_is_exact_under_load_and_names_a_tampered_fact_row() {
    let t = shop_db().await;
    let metrics_url = format!("http://127.0.0.1:{}/metrics", free_port().unwrap());
    let addr = metrics_url.trim_start_matches("http://").trim_end_matches("/metrics").to_string();
    let env = [("METRICS_ADDR", addr.as_str()), ("CDC_RECONCILE_EVERY", "1s")];
    let mut daemon = Some(DaemonProcess::start_with(&t.oltp_url, &t.olap_url, &env));
    let count = t.oltp().await;
    let orders = || async { scalar::<i64>(&count, "select count(*) from orders").await };
    let (orders_before, started) = (orders().await, Instant::now());
    let writers = Writers::start(&t.oltp_url, 4, 0);
    let (mut oltp, mut olap) = (t.oltp().await, t.olap().await);
    let (mut runs, mut undone) = (0, 0);
    // 20 runs with the daemon applying as it goes, 5 with it stopped (a backlog to undo), 5 after.
    for phase in 0..3 {
        if phase == 1 {
            daemon.take().expect("running").kill();
        }
        if phase == 2 {
            daemon = Some(DaemonProcess::start_with(&t.oltp_url, &t.olap_url, &env));
        }
        for _ in 0..[20, 5, 5][phase] {
            let pending = assert_exact(&mut oltp, &mut olap, runs).await;
            undone += usize::from(pending > 0);
            runs += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let rate = (orders().await - orders_before) as f64 / started.elapsed().as_secs_f64();
    let (committed, _) = writers.stop().await;
    eprintln!("verify under load: {runs} runs, {undone} across later changes, {rate:.1} orders/s, 0 differences");
    assert!(rate >= 20.0, "only {rate:.1} orders/s while verifying ({committed} transactions)");
    assert!(undone >= 5, "only {undone} of {runs} runs compared across changes applied after the checkpoint");
    let statuses: i64 = scalar(&oltp, "select count(distinct status) from orders").await;
    let deleted: i64 =
        scalar(&oltp, "select count(*) from cdc_orders where table_name = 'order_items' and op = 'D'").await;
    assert!(statuses >= 3 && deleted > 0, "the load changed statuses ({statuses}) and deleted lines ({deleted})");

    let http = reqwest::Client::new();
    wait_caught_up(&t, Duration::from_secs(60)).await;
    wait_for("a clean scheduled reconciliation", Duration::from_secs(20), || async {
        let clean = metric(&http, &metrics_url, "cdc_reconcile_differences").await == Some(0.0);
        (clean && metric(&http, &metrics_url, "cdc_reconcile_last_run_timestamp_seconds").await > Some(0.0))
            .then_some(())
    })
    .await;

    // A fact row changed by hand is a real difference: named by check and key, exit code 1.
    let row = olap
        .query_one(
            "update fact_sales set quantity = quantity + 1
             where order_item_id = (select min(order_item_id) from fact_sales where not is_deleted)
             returning date_key, order_status",
            &[],
        )
        .await
        .unwrap();
    let key = format!("{}:{}", row.get::<_, i32>(0), row.get::<_, String>(1));
    let (code, out) = verify_cli(&t, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("DIFFERENCE order lines (count/quantity/amount by day and order status) [{key}]")),
        "{out}"
    );
    assert!(out.contains("[total]"), "the total differs too: {out}");
    wait_for("the reconciliation metric to show the difference", Duration::from_secs(15), || async {
        (metric(&http, &metrics_url, "cdc_reconcile_differences").await >= Some(2.0)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_lettered_change_is_a_named_difference_and_an_open_window_is_exit_3() {
    let t = shop_db().await;
    let oltp = t.oltp().await;
    // The shop is loaded by the initial snapshot; the order after it streams through cdc_orders.
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(20)).await;
    let order = shop::place_order(&oltp, 1, 1, &[(1, 2)]).await;
    // Valid in OLTP, too large for the warehouse's numeric(12,2) line total: dead-lettered.
    oltp.execute(
        "insert into order_items (order_id, product_id, quantity, price) values ($1, 2, 1000000, 99999.99)",
        &[&order],
    )
    .await
    .unwrap();
    wait_caught_up(&t, Duration::from_secs(20)).await;
    daemon.stop().await;
    let olap = t.olap().await;
    assert_eq!(scalar::<i64>(&olap, "select count(*) from cdc_dead_letter").await, 1);
    let report = verify_report(&mut t.oltp().await, &mut t.olap().await).await;
    let day: String = scalar(
        &oltp,
        &format!("select to_char(order_time at time zone 'UTC', 'YYYYMMDD') from orders where id = {order}"),
    )
    .await;
    assert!(
        report.differences.iter().any(|d| d.check.starts_with("order lines") && d.key == format!("{day}:placed")),
        "{:#?}",
        report.differences
    );
    let (code, out) = verify_cli(&t, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("daemon: none active") && out.contains("1 dead letter(s) pending"), "{out}");

    // A checkpoint inside a partly applied window that never closes (a daemon stopped mid-window).
    olap.batch_execute("update cdc_offset set window_end = window_start").await.unwrap();
    let (code, out) = verify_cli(&t, &["--wait", "500ms"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("cannot compare now") && !out.contains("DIFFERENCE"), "{out}");
}

/// On Citus a repeatable-read snapshot is per node, so the warehouse side holds batches while it
/// reads: the statement it takes is accepted in its read-only repeatable-read transaction and
/// holds a batch's checkpoint update until the read ends (checked here on plain PostgreSQL).
#[tokio::test(flavor = "multi_thread")]
async fn the_citus_hold_on_batches_works_in_the_read_and_holds_a_checkpoint_update() {
    let t = TestDb::new().await;
    let (mut reader, batch) = (t.olap().await, t.olap().await);
    let tx = reader
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .unwrap();
    tx.batch_execute(reconcile::CITUS_HOLD_BATCHES).await.expect("allowed in a read-only repeatable read");
    batch.batch_execute("set lock_timeout = '300ms'").await.unwrap();
    let checkpoint = "update cdc_offset set batch_seq = batch_seq + 1";
    let held = batch.batch_execute(checkpoint).await.expect_err("a batch's checkpoint waits for the read");
    assert_eq!(held.code(), Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE), "{held:?}");
    tx.commit().await.unwrap();
    batch.batch_execute(checkpoint).await.expect("the batch goes on once the read ends");
}
