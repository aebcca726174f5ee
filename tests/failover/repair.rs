//! A fact row changed by hand is repaired by the scheduled reconciliation: found by two runs in a
//! row, resynced, clean at the next run, while writers go on.

use std::time::Duration;

use super::{assert_equal_to_oltp, start_daemon};
use crate::support::{load::Writers, metric, scalar, shop, wait_drained, wait_for, TestDb};

#[tokio::test(flavor = "multi_thread")]
async fn a_fact_row_changed_by_hand_is_repaired_within_two_reconciliation_cycles() {
    let t = TestDb::new().await;
    t.oltp().await.batch_execute(shop::SHOP).await.unwrap();
    let (daemon, logs, metrics) = start_daemon(&t, &[("CDC_RECONCILE_EVERY", "2s")]);
    let http = reqwest::Client::new();
    let runs = |outcome: &'static str| {
        let (http, metrics) = (http.clone(), metrics.clone());
        async move {
            let name = format!("cdc_reconcile_runs_total{{outcome=\"{outcome}\"}}");
            metric(&http, &metrics, &name).await.unwrap_or(0.0)
        }
    };
    Writers::start(&t.oltp_url, 4, 50).join().await;
    wait_drained(&t, Duration::from_secs(60)).await;
    wait_for("a clean reconciliation", Duration::from_secs(30), || async {
        (runs("clean").await >= 1.0).then_some(())
    })
    .await;
    let writers = Writers::start(&t.oltp_url, 2, 0);
    let olap = t.olap().await;
    let (differing_before, clean_before) = (runs("differences").await, runs("clean").await);
    let tampered: i32 = scalar(
        &olap,
        "update fact_sales set quantity = quantity + 5
         where order_item_id = (select min(order_item_id) from fact_sales where not is_deleted)
         returning order_item_id",
    )
    .await;
    let oltp = t.oltp().await;
    let truth: i32 = scalar(&oltp, &format!("select quantity from order_items where id = {tampered}")).await;
    wait_for("the tampered row repaired", Duration::from_secs(60), || async {
        let now: i32 =
            scalar(&olap, &format!("select quantity from fact_sales where order_item_id = {tampered}")).await;
        (now == truth).then_some(())
    })
    .await;
    wait_for("a clean reconciliation after the repair", Duration::from_secs(30), || async {
        (runs("clean").await > clean_before).then_some(())
    })
    .await;
    assert_eq!(runs("differences").await - differing_before, 2.0, "found twice, then repaired");
    let repairs = metric(&http, &metrics, "cdc_reconcile_repairs_total{table=\"fact_sales\"}").await;
    assert_eq!(repairs, Some(1.0));
    let failed = metric(&http, &metrics, "cdc_reconcile_repair_failed").await;
    assert_eq!(failed, Some(0.0));
    let logged = logs.find("WARN", "repairing").expect("the repair is logged");
    assert!(logged["fields"]["found"].as_str().is_some_and(|f| f.contains("order lines")), "{logged}");
    writers.stop().await;
    wait_drained(&t, Duration::from_secs(60)).await;
    assert_equal_to_oltp(&t).await;
    let repairs = metric(&http, &metrics, "cdc_reconcile_repairs_total{table=\"fact_sales\"}").await;
    assert_eq!(repairs, Some(1.0), "no repair of what was only in flight");
    drop(daemon);
}
