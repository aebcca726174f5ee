//! dbt and the Metabase cards over a warehouse the real pipeline filled.

use std::{str::FromStr, time::Duration};

use brewlytics::{
    api,
    db::Db,
    tools::{
        load::{run_load, LoadOptions},
        metabase::Spec,
        seed,
    },
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{fill::filled_warehouse, repo, run_tool, tool, INSTALL_DBT};
use crate::support::{assert_verified, connect_url, scalar, wait_caught_up, InProcessDaemon, TestDb};

/// `dbt build` (models and data tests) on `t`'s warehouse as the `brewlytics_dbt` role; returns
/// the `results` of run_results.json.
pub(crate) async fn dbt_build(t: &TestDb) -> Vec<Value> {
    let dbt = tool("DBT_BIN", "dbt", INSTALL_DBT);
    let pg = tokio_postgres::Config::from_str(&t.olap_url).unwrap();
    let host = match &pg.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("dbt needs a TCP host, got {other:?}"),
    };
    let out = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(dbt);
    cmd.current_dir(repo())
        .args(["build", "--project-dir", "dbt", "--profiles-dir", "dbt", "--target-path"])
        .arg(out.path().join("target"))
        .arg("--log-path")
        .arg(out.path().join("logs"))
        .env("OLAP_HOST", host)
        .env("OLAP_PORT", pg.get_ports()[0].to_string())
        .env("OLAP_DB", &t.config.olap_db)
        .env("DB_USER", "brewlytics_dbt")
        .env("DB_PASSWORD", t.config.dbt_db_password.expose())
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false");
    run_tool("dbt build", cmd, Duration::from_secs(300)).await;
    let results =
        std::fs::read_to_string(out.path().join("target/run_results.json")).expect("dbt wrote run_results.json");
    let results: Value = serde_json::from_str(&results).unwrap();
    results["results"].as_array().expect("results in run_results.json").clone()
}

/// The mart models of the project (dbt/models/marts/*.sql).
fn mart_models() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("dbt/models/marts"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".sql").map(str::to_string))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn dbt_build_passes_and_every_mart_has_rows() {
    let t = filled_warehouse().await;
    let results = dbt_build(&t).await;
    let failed: Vec<_> = results.iter().filter(|r| !matches!(r["status"].as_str(), Some("success" | "pass"))).collect();
    assert!(failed.is_empty(), "dbt nodes not successful: {failed:#?}");
    let tests = results.iter().filter(|r| r["unique_id"].as_str().is_some_and(|id| id.starts_with("test."))).count();
    assert!(tests >= 10, "dbt ran only {tests} data tests");
    let olap = t.olap().await;
    let marts = mart_models();
    assert!(marts.len() >= 5, "{marts:?}");
    for mart in &marts {
        let rows: i64 = scalar(&olap, &format!("select count(*) from marts.{mart}")).await;
        assert!(rows > 0, "marts.{mart} is empty after dbt build on a filled warehouse");
    }
    // The marts reproduce the facts (the same rule the Metabase cards use for revenue).
    let mart: rust_decimal::Decimal = scalar(&olap, "select sum(revenue) from marts.daily_sales").await;
    let facts =
        scalar(&olap, "select sum(line_total) from fact_sales where order_status = 'served' and not is_deleted");
    assert_eq!(mart, facts.await);
}

/// Orders per second while dbt builds (the "up at 50 orders/s").
const LIVE_RATE: f64 = 50.0;

#[tokio::test(flavor = "multi_thread")]
async fn dbt_build_passes_while_orders_stream_in() {
    let t = TestDb::new().await;
    seed::seed(&mut t.oltp().await).await.expect("seed");
    let daemon = InProcessDaemon::start(&t.config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_api, stop_load) = (CancellationToken::new(), CancellationToken::new());
    let (config, shutdown) = (t.config.clone(), stop_api.clone().cancelled_owned());
    let server = tokio::spawn(async move { api::serve(&config, listener, shutdown).await.expect("serve the API") });
    let options = LoadOptions {
        rate: LIVE_RATE,
        duration: Duration::from_secs(600),
        api: Some(base),
        concurrency: 16,
        api_key: None,
    };
    let load = tokio::spawn({
        let stop = stop_load.clone();
        async move { run_load(&options, stop).await.expect("load runs") }
    });
    let olap = t.olap().await;
    let facts = || async { scalar::<i64>(&olap, "select count(*) from fact_sales").await };
    // Some history first, so the marts have rows while the build runs.
    crate::support::wait_for("facts in the warehouse", Duration::from_secs(60), || async {
        (facts().await >= 50).then_some(())
    })
    .await;
    let before = facts().await;
    let results = dbt_build(&t).await;
    let during = facts().await - before;
    stop_load.cancel();
    let report = load.await.unwrap();
    stop_api.cancel();
    server.await.unwrap();
    let failed: Vec<_> = results.iter().filter(|r| !matches!(r["status"].as_str(), Some("success" | "pass"))).collect();
    assert!(failed.is_empty(), "dbt nodes not successful under load: {failed:#?}");
    eprintln!(
        "dbt build under load: {} nodes green, {during} fact rows applied during the build; {report}",
        results.len()
    );
    assert!(report.achieved_rate() >= 20.0 && report.orders_failed == 0, "{report}");
    assert!(during > 0, "the daemon applied nothing while dbt built: the build did not run under load");
    wait_caught_up(&t, Duration::from_secs(60)).await;
    daemon.stop().await;
    assert_verified(&t).await;
}

/// Run every card of metabase/dashboard.json as `analytics_reader`; returns (card, rows) and
/// fails on an error or on columns other than the declared ones.
async fn run_cards(t: &TestDb, spec: &Spec) -> Vec<(String, usize)> {
    let reader = connect_url(&t.url_as(Db::Olap, "analytics_reader")).await;
    let mut counts = Vec::new();
    for card in &spec.cards {
        let statement =
            reader.prepare(&card.sql).await.unwrap_or_else(|e| panic!("card '{}' does not prepare: {e:?}", card.name));
        let columns: Vec<&str> = statement.columns().iter().map(|c| c.name()).collect();
        assert_eq!(columns, card.columns, "columns of card '{}'", card.name);
        let rows = reader.query(&statement, &[]).await.unwrap_or_else(|e| panic!("card '{}' fails: {e:?}", card.name));
        counts.push((card.name.clone(), rows.len()));
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metabase_card_returns_its_columns_with_rows_as_analytics_reader() {
    let spec = Spec::load(&repo().join("metabase/dashboard.json")).expect("dashboard.json is valid");
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    for card in &spec.cards {
        let l = card.layout;
        assert!(l.col + l.size_x <= 24 && l.size_x > 0 && l.size_y > 0, "{}: {l:?}", card.name);
    }
    let t = filled_warehouse().await;
    dbt_build(&t).await;
    let empty: Vec<_> = run_cards(&t, &spec).await.into_iter().filter(|(_, n)| *n == 0).collect();
    assert!(empty.is_empty(), "cards without rows on a filled warehouse: {empty:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dbt_and_every_metabase_card_work_on_an_empty_warehouse() {
    let spec = Spec::load(&repo().join("metabase/dashboard.json")).unwrap();
    let t = TestDb::new().await;
    dbt_build(&t).await;
    // Aggregates without GROUP BY answer one row; the rest none. No error, the same columns.
    assert_eq!(run_cards(&t, &spec).await.len(), spec.cards.len());
}
