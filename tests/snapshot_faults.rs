//! Snapshot jobs meeting trouble: a row the warehouse rejects as data is dead-lettered (the job
//! finishes and streaming goes on), and a job resumed after a kill from a newer snapshot is not
//! compared until streaming has passed that snapshot.

use std::{process::Command, time::Duration};

use brewlytics::db::Db;
use tokio_postgres::Client;

use crate::support::{
    process::DaemonProcess,
    scalar,
    shop::{self, independent_totals, write_history},
    wait_caught_up, wait_for, InProcessDaemon, TestDb,
};

/// A `brewlytics` subcommand on the test's databases: (exit code, stdout and stderr).
fn cli(t: &TestDb, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_brewlytics"))
        .args(args)
        .env("OLTP_DATABASE_URL", &t.oltp_url)
        .env("OLAP_DATABASE_URL", &t.olap_url)
        .output()
        .expect("run brewlytics");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

async fn job_state(t: &TestDb) -> Option<String> {
    let olap = t.olap().await;
    state(&olap).await
}

async fn state(olap: &Client) -> Option<String> {
    olap.query_opt("select state from cdc_snapshot order by job_id desc limit 1", &[]).await.unwrap().map(|r| r.get(0))
}

async fn rows_done(olap: &Client) -> i64 {
    scalar(olap, "select coalesce(sum(rows_done), 0)::int8 from cdc_snapshot_table").await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_row_the_warehouse_rejects_is_dead_lettered_and_the_rest_loads() {
    let t = TestDb::new().await;
    let oltp = t.oltp().await;
    oltp.batch_execute(shop::SHOP).await.unwrap();
    write_history(&oltp, 300).await;
    // Valid in OLTP, too large for the warehouse's numeric(12,2) line total; then one more line,
    // so the bad row sits inside a chunk with good rows after it.
    let order = shop::place_order(&oltp, 1, 1, &[(1, 2)]).await;
    let bad: i32 = oltp
        .query_one(
            "insert into order_items (order_id, product_id, quantity, price) values ($1, 2, 1000000, 99999.99)
             returning id",
            &[&order],
        )
        .await
        .unwrap()
        .get(0);
    oltp.execute("insert into order_items (order_id, product_id, quantity, price) values ($1, 3, 1, 3.60)", &[&order])
        .await
        .unwrap();
    let mut config = t.config.clone();
    config.cdc_batch_rows = 100;
    let daemon = InProcessDaemon::start(&config);
    wait_for("the initial snapshot to finish", Duration::from_secs(60), || async {
        (job_state(&t).await.as_deref() == Some("done")).then_some(())
    })
    .await;
    wait_caught_up(&t, Duration::from_secs(30)).await;

    let olap = t.olap().await;
    let row = olap
        .query_one("select table_name, row_id, error_kind, reason, source_id from cdc_dead_letter", &[])
        .await
        .expect("exactly one dead letter");
    let (table, row_id, kind, reason, source_id): (String, i64, String, String, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!((table.as_str(), row_id, kind.as_str()), ("order_items", i64::from(bad), "snapshot"));
    assert!(reason.contains("snapshot job") && reason.contains(&format!("order_items {bad}")), "{reason}");
    assert!(reason.contains("SQLSTATE 22003"), "{reason}");
    assert!(source_id < 0, "a snapshot row has no cdc_orders id: {source_id}");
    // The id a letter of this row had before the tables became a registry (order_items was the 6th
    // of the old list, t = 5): the stored code keeps it, so a letter written by an older daemon
    // for this job and row is the same row of cdc_dead_letter, whatever the registry's order.
    let job: i64 = scalar(&olap, "select job_id from cdc_snapshot where kind = 'initial'").await;
    assert_eq!(source_id, -((job * 16 + 5) * (1 << 32) + i64::from(bad)));
    // Every other row loaded.
    let lines: i64 = scalar(&oltp, "select count(*) from order_items").await;
    let loaded: i64 = scalar(&olap, "select count(*) from fact_sales where not is_deleted").await;
    assert_eq!(loaded, lines - 1);
    let (truth, seen) = independent_totals(&oltp, &olap).await;
    let orders_and_payments = |s: &str| s.split_once(' ').map(|(_, rest)| rest.to_string());
    assert_eq!(orders_and_payments(&seen), orders_and_payments(&truth));

    let (code, out) = cli(&t, &["dlq", "list"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"table_name\":\"order_items\"") && out.contains(&format!("\"row_id\":{bad}")), "{out}");
    let day: String = scalar(
        &oltp,
        &format!("select to_char(order_time at time zone 'UTC', 'YYYYMMDD') from orders where id = {order}"),
    )
    .await;
    let (code, out) = cli(&t, &["verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("DIFFERENCE order lines (count/quantity/amount by day and order status) [{day}:placed]")),
        "{out}"
    );
    assert!(out.contains("1 dead letter(s) pending"), "{out}");

    // The daemon streams on: a new order arrives, and fixing the row in OLTP streams the fix in.
    let next = shop::place_order(&oltp, 2, 2, &[(4, 1)]).await;
    oltp.execute("update order_items set quantity = 1 where id = $1", &[&bad]).await.unwrap();
    wait_caught_up(&t, Duration::from_secs(30)).await;
    let streamed: i64 = scalar(&olap, &format!("select count(*) from fact_sales where order_id = {next}")).await;
    assert_eq!(streamed, 1);
    daemon.stop().await;
    let (code, out) = cli(&t, &["verify"]);
    assert_eq!(code, 0, "the fix streamed in: {out}");
    // Replaying the letter now is harmless: the streamed fix is newer than the snapshot's row.
    let (code, out) = cli(&t, &["dlq", "replay"]);
    assert!(code == 0 && out.contains("replayed 1 dead letter(s), 0 failed again"), "{out}");
    let (code, out) = cli(&t, &["verify"]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_snapshot_is_not_compared_until_streaming_has_passed_its_newer_snapshot() {
    let t = TestDb::new().await;
    let oltp = t.oltp().await;
    oltp.batch_execute(shop::SHOP).await.unwrap();
    write_history(&oltp, 30_000).await;
    let env = [("CDC_BATCH_ROWS", "100")];
    let olap = t.olap().await;
    let start = || {
        DaemonProcess::start_with(&t.url_as(Db::Oltp, "brewlytics_cdc"), &t.url_as(Db::Olap, "brewlytics_cdc"), &env)
    };
    // Kill the initial job after its first step, with most order lines still to load.
    let daemon = start();
    wait_for("the snapshot job's first chunks", Duration::from_secs(60), || async {
        (rows_done(&olap).await > 0
            && scalar::<i64>(&olap, "select count(*) from cdc_snapshot where origin is not null").await == 1)
            .then_some(())
    })
    .await;
    daemon.kill();
    assert_ne!(state(&olap).await.as_deref(), Some("done"), "the kill came after the job ended");
    // Changes after the job's origin S, before the resumed job reads the rest from a newer S'.
    oltp.batch_execute("update order_items set quantity = quantity + 1 where id % 97 = 0").await.unwrap();
    for i in 0..20 {
        shop::place_order(&oltp, 1 + i % 20, 1 + i % 2, &[(1 + i % 6, 2)]).await;
    }
    let before = rows_done(&olap).await;
    let daemon = start();
    wait_for("the job to resume", Duration::from_secs(60), || async {
        (rows_done(&olap).await > before).then_some(())
    })
    .await;
    // Hold streaming back (it reads cdc_orders; the job does not) until the job is done.
    let mut blocker = t.oltp().await;
    let hold = blocker.transaction().await.unwrap();
    hold.batch_execute("lock table cdc_orders in access exclusive mode").await.unwrap();
    let progress = "select sum(rows_done)::int8 || ' of ' || sum(rows_total)::int8 from cdc_snapshot_table";
    let held: String = scalar(&olap, progress).await;
    assert_ne!(state(&olap).await.as_deref(), Some("done"), "the job ended before streaming was held back");
    eprintln!("resumed job: killed at {before} rows, streaming held back at {held}");
    wait_for("the resumed job to finish", Duration::from_secs(120), || async {
        (job_state(&t).await.as_deref() == Some("done")).then_some(())
    })
    .await;
    daemon.kill();
    hold.commit().await.unwrap();

    // The checkpoint is S, some tables are at S': not one consistent cut.
    let (code, out) = cli(&t, &["verify", "--wait", "500ms"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("cannot compare now") && out.contains("snapshot job") && !out.contains("DIFFERENCE"), "{out}");

    // Once streaming has passed S', the comparison is exact.
    let _daemon = start();
    let (code, out) = cli(&t, &["verify", "--wait", "60s"]);
    assert_eq!(code, 0, "{out}");
    wait_caught_up(&t, Duration::from_secs(60)).await;
    let (truth, seen) = independent_totals(&oltp, &t.olap().await).await;
    assert_eq!(seen, truth);
}
