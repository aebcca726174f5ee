//! Adopting existing data: the initial snapshot under live writers and SIGKILLs, and resyncs
//! under live load.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use rand::RngExt;

use crate::support::{
    assert_verified,
    load::Writers,
    process::DaemonProcess,
    scalar,
    shop::{self, independent_totals, write_history},
    streamed_changes, wait_caught_up, wait_for, InProcessDaemon, TestDb,
};

async fn shop_with_history(orders: i64) -> TestDb {
    let t = TestDb::new().await;
    let oltp = t.oltp().await;
    oltp.batch_execute(shop::SHOP).await.unwrap();
    write_history(&oltp, orders).await;
    t
}

/// Everything matches: verify, independent totals, and each change after the snapshot counted once.
async fn assert_exact(t: &TestDb) {
    let (oltp, olap) = (t.oltp().await, t.olap().await);
    assert_verified(t).await;
    let (truth, seen) = independent_totals(&oltp, &olap).await;
    assert_eq!(seen, truth, "order lines / orders / payments: warehouse vs OLTP");
    let applied: i64 = scalar(&olap, "select applied_changes from cdc_offset").await;
    assert_eq!(applied, streamed_changes(&oltp, &olap).await, "each change after the snapshot applied once");
}

async fn job_state(t: &TestDb) -> Option<String> {
    let olap = t.olap().await;
    olap.query_opt("select state from cdc_snapshot order by job_id desc limit 1", &[]).await.unwrap().map(|r| r.get(0))
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_data_is_snapshotted_exactly_while_eight_writers_write() {
    let t = shop_with_history(20_000).await;
    let before: i64 = scalar(&t.oltp().await, "select count(*) from cdc_orders").await;
    let writers = Writers::start(&t.oltp_url, 8, 0);
    let daemon = DaemonProcess::start_with(&t.oltp_url, &t.olap_url, &[("CDC_BATCH_ROWS", "2000")]);
    wait_for("the snapshot job to finish", Duration::from_secs(120), || async {
        (job_state(&t).await.as_deref() == Some("done")).then_some(())
    })
    .await;
    let olap = t.olap().await;
    let streamed: i64 = scalar(&olap, "select applied_changes from cdc_offset").await;
    wait_for("changes streamed after the snapshot", Duration::from_secs(30), || async {
        (scalar::<i64>(&olap, "select applied_changes from cdc_offset").await > streamed + 50).then_some(())
    })
    .await;
    let (committed, _) = writers.stop().await;
    assert!(committed > 100, "writers kept writing during the snapshot: {committed} transactions");
    wait_caught_up(&t, Duration::from_secs(60)).await;
    drop(daemon);
    assert_exact(&t).await;
    let lines: i64 = scalar(&olap, "select count(*) from fact_sales where src_id < 0").await;
    assert!(lines >= 60_000, "the history came from the snapshot ({lines} lines), cdc_orders had {before} rows");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkills_during_a_snapshot_of_a_million_lines_lose_and_double_nothing() {
    let t = shop_with_history(250_000).await;
    let lines: i64 = scalar(&t.oltp().await, "select count(*) from order_items").await;
    assert!(lines >= 1_000_000, "{lines} order lines");
    let writers = Writers::start(&t.oltp_url, 8, 0);
    let olap = t.olap().await;
    let mut kills = 0;
    while kills < 6 {
        let daemon = DaemonProcess::start(&t);
        let alive = rand::rng().random_range(300..2500);
        tokio::time::sleep(Duration::from_millis(alive)).await; // the random instant of the crash
        daemon.kill();
        kills += 1;
        let done: i64 =
            scalar(&olap, "select coalesce(sum(rows_done), 0)::int8 from cdc_snapshot_table t join cdc_snapshot j using (job_id) where j.state <> 'done'")
                .await;
        assert_ne!(job_state(&t).await.as_deref(), Some("done"), "kill {kills} came after the snapshot ended");
        eprintln!("kill {kills} after {alive} ms: {done} rows committed by the open job");
    }
    let daemon = DaemonProcess::start(&t);
    wait_for("the snapshot job to finish after the kills", Duration::from_secs(300), || async {
        (job_state(&t).await.as_deref() == Some("done")).then_some(())
    })
    .await;
    let (committed, _) = writers.stop().await;
    assert!(committed > 100);
    wait_caught_up(&t, Duration::from_secs(120)).await;
    drop(daemon);
    assert_exact(&t).await;
}

/// A reader polling `table`'s row count until stopped; panics if it ever drops.
fn watch_count(url: String, table: &'static str, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let c = crate::support::connect_url(&url).await;
        let (mut last, mut reads) = (0i64, 0usize);
        while !stop.load(Ordering::Relaxed) {
            let n: i64 = scalar(&c, &format!("select count(*) from {table}")).await;
            assert!(n >= last, "{table} shrank from {last} to {n} rows during a resync");
            (last, reads) = (n, reads + 1);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        reads
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn resyncs_under_live_load_repair_the_warehouse_and_never_show_a_half_table() {
    let t = shop_with_history(5_000).await;
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(60)).await;
    let olap = t.olap().await;
    // Damage, as a restore from an old backup or a bad hand edit would.
    olap.batch_execute(
        "delete from fact_sales where order_item_id % 50 = 0;
         update fact_orders set total = total + 1 where order_id % 40 = 0;
         update fact_payments set amount = 0 where payment_id % 30 = 0;
         update dim_customer set name = 'damaged' where customer_id = 3;",
    )
    .await
    .unwrap();
    let writers = Writers::start(&t.oltp_url, 8, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let readers = [
        watch_count(t.olap_url.clone(), "fact_sales", stop.clone()),
        watch_count(t.olap_url.clone(), "fact_orders", stop.clone()),
    ];
    for args in [&["resync", "--table", "fact_sales"][..], &["resync"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_brewlytics"))
            .args(args)
            .env("OLTP_DATABASE_URL", &t.oltp_url)
            .env("OLAP_DATABASE_URL", &t.olap_url)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("done in"), "{args:?} followed the job to its end: {text}");
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.await.unwrap() > 10, "the readers kept reading during the resyncs");
    }
    writers.stop().await;
    wait_caught_up(&t, Duration::from_secs(60)).await;
    daemon.stop().await;
    assert_verified(&t).await;
    let (truth, seen) = independent_totals(&t.oltp().await, &olap).await;
    assert_eq!(seen, truth);
    let name: String = scalar(&olap, "select name from dim_customer where customer_id = 3").await;
    assert_eq!(name, "Customer 3", "the dimension was rebuilt too");
    let jobs: i64 = scalar(&olap, "select count(*) from cdc_snapshot where kind = 'resync' and state = 'done'").await;
    assert_eq!(jobs, 2);
}
