//! OLTP fails over to its streaming standby, promoted in the old primary's place.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use super::{assert_equal_to_oltp, cli, jobs, start_daemon, Replicated, STANDBY};
use crate::support::{connect_url, load::Writers, metric, scalar, wait_drained, wait_for};

/// Without the gate: the standby is cut off while the primary takes orders the daemon applies,
/// then the primary dies. The promoted standby lacks those transactions and reuses their ids;
/// the daemon sees the new timeline, says so, re-bases, and ends exactly equal to it.
#[tokio::test(flavor = "multi_thread")]
async fn a_promoted_asynchronous_standby_is_named_and_rebased_on_exactly() {
    let r = Replicated::start("failover").await;
    let (daemon, logs, metrics) = start_daemon(&r.t, &[]);
    let (oltp, olap) = (r.t.oltp().await, r.t.olap().await);
    let writers = Writers::start(&r.t.oltp_url, 4, 0);
    wait_for("some batches applied", Duration::from_secs(30), || async {
        (scalar::<i64>(&olap, "select batch_seq from cdc_offset").await > 5).then_some(())
    })
    .await;
    r.cut_off_standby().await;
    let cut: i32 = scalar(&oltp, "select max(id) from order_items").await;
    wait_for("the daemon to apply lines the standby never gets", Duration::from_secs(30), || async {
        (scalar::<i32>(&olap, "select max(order_item_id) from fact_sales").await > cut + 50).then_some(())
    })
    .await;
    writers.stop().await;
    let standby = connect_url(&r.standby_url()).await;
    let on_standby: i32 = scalar(&standby, "select max(id) from order_items").await;
    let in_warehouse: i32 = scalar(&olap, "select max(order_item_id) from fact_sales").await;
    assert!(
        in_warehouse > on_standby + 50,
        "the warehouse holds lines the standby lacks ({in_warehouse} > {on_standby})"
    );
    drop(standby);

    let r = r.fail_over().await;
    let (committed, _) = Writers::start(&r.t.oltp_url, 4, 100).join().await;
    assert!(committed > 100, "writers ran on the new primary");
    wait_drained(&r.t, Duration::from_secs(120)).await;
    assert_equal_to_oltp(&r.t).await;
    let (code, out) = cli(&r.t, &["verify"]);
    assert_eq!(code, 0, "{out}");
    let error = logs.find("ERROR", "OLTP timeline 1 → 2").expect("one error names the new timeline");
    assert_eq!(error["fields"]["reason"], "timeline", "{error}");
    let changes = metric(&reqwest::Client::new(), &metrics, "cdc_source_changes_total{reason=\"timeline\"}").await;
    assert!(changes >= Some(1.0), "cdc_source_changes_total{{reason=timeline}}: {changes:?}");
    assert_eq!(jobs(&r.t).await, ["initial", "rebase"]);
    drop(daemon);
}

/// With `CDC_SYNC_STANDBYS`: the warehouse never holds an order line the standby lacks (polled
/// while it runs), so when the standby is promoted it holds everything applied: the daemon
/// streams on without a resync.
#[tokio::test(flavor = "multi_thread")]
async fn with_the_standby_gate_a_failover_needs_no_resync() {
    let r = Replicated::start("gate").await;
    let (daemon, logs, metrics) = start_daemon(&r.t, &[("CDC_SYNC_STANDBYS", STANDBY)]);
    let watch = Watch::start(r.t.olap_url.clone(), r.standby_url());
    let olap = r.t.olap().await;
    let writers = Writers::start(&r.t.oltp_url, 4, 0);
    wait_for("some batches applied", Duration::from_secs(30), || async {
        (scalar::<i64>(&olap, "select batch_seq from cdc_offset").await > 5).then_some(())
    })
    .await;
    r.cut_off_standby().await;
    let oltp = r.t.oltp().await;
    let cut: i32 = scalar(&oltp, "select max(id) from order_items").await;
    wait_for("the primary to take orders the standby never gets", Duration::from_secs(30), || async {
        (scalar::<i32>(&oltp, "select max(id) from order_items").await > cut + 50).then_some(())
    })
    .await;
    writers.stop().await;
    let (polls, violations) = watch.stop().await;
    assert_eq!(violations, 0, "the warehouse held order lines the standby did not ({polls} polls)");
    assert!(polls >= 10, "only {polls} polls");
    let in_warehouse: i32 = scalar(&olap, "select max(order_item_id) from fact_sales").await;
    assert!(in_warehouse <= cut, "nothing after the cut reached the warehouse ({in_warehouse} > {cut})");

    // The new primary gets a standby of the same name, so the gate opens again.
    let r = r.fail_over().await.rebuild_standby().await;
    let (committed, _) = Writers::start(&r.t.oltp_url, 4, 100).join().await;
    assert!(committed > 100);
    wait_drained(&r.t, Duration::from_secs(120)).await;
    assert_equal_to_oltp(&r.t).await;
    let (code, out) = cli(&r.t, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(jobs(&r.t).await, ["initial"], "no resync after the failover");
    assert!(logs.find("WARN", "streaming on").is_some(), "the new timeline is logged");
    assert_eq!(logs.count("ERROR", "OLTP timeline"), 0);
    let promoted = metric(&reqwest::Client::new(), &metrics, "cdc_source_changes_total{reason=\"promoted\"}").await;
    assert_eq!(promoted, Some(1.0));
    drop(daemon);
}

/// Polls, until stopped, whether every order line in the warehouse is on the standby (as a row,
/// or as the change that created it, for lines deleted since).
struct Watch {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u64, u64)>,
}

impl Watch {
    fn start(olap_url: String, standby_url: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (polls, violations) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let (olap, standby) = (connect_url(&olap_url).await, connect_url(&standby_url).await);
            while !flag.load(Ordering::Relaxed) {
                // The warehouse first: whatever it holds must be on the standby read after it.
                let ids: Vec<i32> = olap
                    .query("select order_item_id from fact_sales", &[])
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                let lacking: i64 = standby
                    .query_one(
                        "select count(*) from unnest($1::int4[]) x
                         where not exists (select from order_items where id = x)
                           and not exists (select from cdc_orders where table_name = 'order_items' and row_id = x)",
                        &[&ids],
                    )
                    .await
                    .unwrap()
                    .get(0);
                polls.fetch_add(1, Ordering::Relaxed);
                violations.fetch_add(lacking as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (polls.load(Ordering::Relaxed), violations.load(Ordering::Relaxed))
        });
        Watch { stop, task }
    }

    async fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}
