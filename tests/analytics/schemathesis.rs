//! schemathesis (the real CLI, every check) against the analytics service's `/openapi.json`, on a
//! warehouse with a day of orders, with the API key set (as deployed).

use brewlytics::config::Config;

use super::TestAnalytics;
use crate::{
    api::schemathesis::assert_schemathesis_clean,
    support::{self, InProcessDaemon, TestDb},
};

#[tokio::test(flavor = "multi_thread")]
async fn the_analytics_service_passes_every_check() {
    const KEY: &str = "schemathesis-analytics-key";
    let t = TestDb::new().await;
    let mut oltp = t.oltp().await;
    brewlytics::tools::seed::seed(&mut oltp).await.expect("seed");
    support::shop::write_history(&oltp, 300).await;
    for _ in 0..20 {
        support::shop::random_order(&oltp).await;
    }
    let daemon = InProcessDaemon::start(&t.config);
    support::wait_caught_up(&t, std::time::Duration::from_secs(60)).await;
    daemon.stop().await;
    let mut config: Config = t.config.clone();
    config.analytics_api_key = Some(KEY.into());
    let svc = TestAnalytics::start(&config).await;
    let headers = [format!("X-API-Key: {KEY}"), format!("Authorization: Bearer {KEY}")];
    assert_schemathesis_clean(&svc.url, &headers, 15).await;
}
