//! The API benchmark runs end to end (figures here mean nothing: the test cluster has fsync off).

use std::time::Duration;

use brewlytics::tools::bench::api::{bench_api, ApiBenchOptions};

use crate::support::TestDb;

#[tokio::test(flavor = "multi_thread")]
async fn api_benchmark_measures_the_api_and_pgbench() {
    let t = TestDb::new().await;
    let opts = ApiBenchOptions {
        concurrency: vec![1, 4],
        step_duration: Duration::from_secs(1),
        p99_target: Duration::from_secs(5),
    };
    let figures = bench_api(&t.config, &opts).await.expect("benchmark runs");
    assert_eq!(figures.steps.len(), 2);
    assert!(figures.steps.iter().all(|s| s.orders_per_s > 0.0 && s.failed == 0), "{figures:?}");
    assert!(figures.best.is_some(), "{figures:?}");
    assert!(figures.pgbench_tps > 0.0, "{figures:?}");
    let c = t.oltp().await;
    let unbalanced: i64 = crate::support::scalar(
        &c,
        "select count(*) from orders o where total <> (select sum(quantity * price) from order_items where order_id = o.id)
            or total <> (select sum(amount) from payments where order_id = o.id)",
    )
    .await;
    assert_eq!(unbalanced, 0, "pgbench's orders are as complete as the API's");
}
