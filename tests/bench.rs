//! `brewlytics bench` end to end at a tiny scale: every scenario completes and reports sane
//! figures. Speeds are never asserted (they belong to docs/PERFORMANCE.md, not to a shared CI box).

use std::time::Duration;

use brewlytics::{
    config::Config,
    tools::bench::run::{run, BenchOptions, Scenario},
};

fn figure(s: &brewlytics::tools::bench::report::ScenarioResult, name: &str) -> f64 {
    s.figures
        .iter()
        .find(|f| f.name.starts_with(name))
        .unwrap_or_else(|| panic!("{}: no figure {name}", s.scenario))
        .value
}

/// Options of a tiny run into `json`: every scenario's knobs at their smallest.
fn tiny(scenario: Scenario, json: std::path::PathBuf) -> BenchOptions {
    BenchOptions {
        scenario,
        scale: 300,
        duration: Duration::from_secs(3),
        rate: 50.0,
        api_step: Duration::from_secs(1),
        api_concurrency: vec![1, 2],
        capture_step: Duration::from_secs(1),
        capture_rounds: 1,
        analytics_orders: 0,
        analytics_requests: 0,
        analytics_step: Duration::ZERO,
        scales: vec![],
        dbt_bin: "dbt".into(),
        dbt_project: "dbt".into(),
        json,
        daemon_bin: Some(env!("CARGO_BIN_EXE_brewlytics").into()),
        work_dir: None,
        olap_url: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_scenario_runs_at_a_tiny_scale() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("bench.json");
    let opts = tiny(Scenario::All, json.clone());
    let report = run(&Config::defaults(), &opts).await.expect("the benchmark runs");
    let names: Vec<_> = report.scenarios.iter().map(|s| s.scenario).collect();
    assert_eq!(
        names,
        [
            "drain",
            "freshness",
            "small batch",
            "freshness (app events)",
            "freshness (rollups off)",
            "standby gate",
            "longtx",
            "api",
            "snapshot",
            "capture"
        ]
    );
    for s in &report.scenarios {
        // The api figure counts only levels whose p99 stayed under 50 ms, which a machine busy
        // with the other tests may miss: its steps are checked below instead.
        assert!(s.ratio.is_finite() && (s.ratio > 0.0 || s.scenario == "api"), "{}: ratio {}", s.scenario, s.ratio);
        assert!(s.baseline.value.is_finite() && s.baseline.value > 0.0, "{}: baseline {:?}", s.scenario, s.baseline);
        assert!(s.figures.iter().all(|f| f.value.is_finite()), "{}: {:?}", s.scenario, s.figures);
    }
    let drain = &report.scenarios[0];
    assert!(figure(drain, "change rows/s") > 0.0 && figure(drain, "fact rows/s") > 0.0);
    assert!(figure(drain, "daemon peak RSS") > 0.0, "VmHWM of the daemon process is read");
    assert!(drain.goals.iter().filter(|g| g.goal.contains("verify")).all(|g| g.met), "{:?}", drain.goals);
    assert!(figure(&report.scenarios[2], "write per batch") > 0.0, "the daemon's phases were scraped");
    assert!(figure(drain, "change rows/s with the rollups off") > 0.0);
    // The rollups' cost comes from drains on, off, off, on.
    assert!(figure(drain, "change rows/s, the second drain with the rollups") > 0.0);
    assert_eq!(drain.details["run_rollups_off"].as_array().map(Vec::len), Some(2), "{}", drain.details);
    assert!(figure(drain, "what maintaining the rollups costs").is_finite());
    let gate = &report.scenarios[5];
    assert!(figure(gate, "standby wait per window") > 0.0, "the gated daemon waited for the standby");
    for s in [&report.scenarios[1], &report.scenarios[3], &report.scenarios[4], &report.scenarios[6]] {
        let (p50, p95, p99) =
            (figure(s, "commit->applied p50"), figure(s, "commit->applied p95"), figure(s, "commit->applied p99"));
        assert!(0.0 < p50 && p50 <= p95 && p95 <= p99, "{}: {p50} {p95} {p99}", s.scenario);
        assert!(figure(s, "fact rows sampled") > 0.0);
    }
    let events = &report.scenarios[3];
    assert!(figure(events, "app events/s achieved") > 0.0 && figure(events, "app event rows sampled") > 0.0);
    let steps = report.scenarios[7].details["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "one step per concurrency level");
    assert!(steps.iter().all(|s| s["orders_per_s"].as_f64().unwrap() > 0.0), "{steps:?}");
    let snapshot = &report.scenarios[8];
    assert!(figure(snapshot, "source rows/s") > 0.0 && figure(snapshot, "daemon peak RSS") > 0.0);
    assert!(snapshot.goals.iter().filter(|g| g.goal.contains("verify")).all(|g| g.met), "{:?}", snapshot.goals);
    let capture = &report.scenarios[9];
    assert!(figure(capture, "order tps") > 0.0 && figure(capture, "order tps, ours + app events") > 0.0);
    for protocol in ["prepared", "simple"] {
        assert!(
            figure(capture, &format!("tps ours / tps PgQ, {protocol} protocol")) > 0.0,
            "ours and PgQ head to head"
        );
    }
    let variants = capture.details["variants"].as_array().unwrap();
    assert!(
        variants.iter().all(|v| v["ratios_to_baseline"].as_array().unwrap().len() == 1),
        "one ratio per round: {variants:?}"
    );
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written["scenarios"].as_array().map(Vec::len), Some(10));
}

/// `--olap-url`: the drain and the snapshot also run into a scratch database created beside the
/// given warehouse (here a plain PostgreSQL; a Citus coordinator gets it on its workers too),
/// verify clean there, report the rate over the plain one's, and drop it.
#[tokio::test(flavor = "multi_thread")]
async fn drain_and_snapshot_also_run_into_a_scratch_warehouse_beside_the_olap_url() {
    let t = crate::support::TestDb::new().await;
    let out = tempfile::tempdir().unwrap();
    for (scenario, figure_name) in [
        (Scenario::Drain, "ratio --olap-url / plain PostgreSQL (change rows/s)"),
        (Scenario::Snapshot, "ratio --olap-url / plain PostgreSQL (source rows/s)"),
    ] {
        let opts = BenchOptions {
            scale: 200,
            olap_url: Some(t.olap_url.clone()),
            ..tiny(scenario, out.path().join("bench.json"))
        };
        let report = run(&Config::defaults(), &opts).await.expect("the benchmark runs");
        let s = &report.scenarios[0];
        assert!(figure(s, figure_name) > 0.0, "{:?}", s.figures);
        assert!(
            s.goals.iter().any(|g| g.goal.contains("--olap-url") && g.goal.contains("verify") && g.met),
            "{:?}",
            s.goals
        );
        let written = std::fs::read_to_string(out.path().join("bench.json")).unwrap();
        assert!(!written.contains(&t.olap_url), "the URL (and its password) stays out of the report");
    }
    let left: i64 =
        crate::support::scalar(&t.olap().await, "select count(*) from pg_database where datname like 'bench_%'").await;
    assert_eq!(left, 0, "the scratch databases are dropped");
}

/// The daemon's drain levers keep exactly-once: pages of 7 rows (so most windows span pages and
/// the next page is prefetched while a batch commits) with FK checks skipped still verify clean.
#[tokio::test(flavor = "multi_thread")]
async fn paged_prefetching_drain_without_fk_checks_is_exact() {
    use crate::support::{assert_verified, scalar, shop, wait_caught_up, InProcessDaemon, TestDb};
    let mut t = TestDb::new().await;
    t.config.cdc_batch_rows = 7;
    t.config.cdc_snapshot = brewlytics::config::SnapshotMode::Never; // the backlog is streamed
    let oltp = t.oltp().await;
    oltp.batch_execute(shop::SHOP).await.unwrap();
    let mut c = t.oltp().await;
    let tx = c.transaction().await.unwrap();
    for _ in 0..40 {
        shop::random_order(&tx).await; // one large transaction: one window, many pages
    }
    tx.commit().await.unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    for _ in 0..20 {
        shop::random_order(&oltp).await; // and small ones while it drains
    }
    wait_caught_up(&t, Duration::from_secs(30)).await;
    daemon.stop().await;
    assert_verified(&t).await;
    let olap = t.olap().await;
    let batches: i64 = scalar(&olap, "select batch_seq from cdc_offset").await;
    let changes: i64 = scalar(&olap, "select applied_changes from cdc_offset").await;
    assert_eq!(changes, scalar::<i64>(&oltp, "select count(*) from cdc_orders").await);
    assert!(batches > changes / 7, "{batches} batches for {changes} changes: pages were used");
}

/// The analytics scenario at two tiny scales: every endpoint measured over HTTP and directly,
/// every Metabase card, dbt full and incremental, the growth from one scale to the other.
#[tokio::test(flavor = "multi_thread")]
async fn the_analytics_scenario_measures_every_endpoint() {
    let dbt = crate::readers::tool("DBT_BIN", "dbt", crate::readers::INSTALL_DBT);
    let out = tempfile::tempdir().unwrap();
    let opts = BenchOptions {
        scale: 0,
        duration: Duration::from_secs(1),
        rate: 1.0,
        api_concurrency: vec![1],
        analytics_orders: 3000,
        analytics_requests: 3,
        // Long enough that the fast cases make more than 3 requests: as many at both scales only
        // when the scales are measured in turn.
        analytics_step: Duration::from_millis(50),
        scales: vec![2000, 4000],
        dbt_bin: dbt,
        ..tiny(Scenario::Analytics, out.path().join("bench.json"))
    };
    let report = run(&Config::defaults(), &opts).await.expect("the benchmark runs");
    let s = &report.scenarios[0];
    assert_eq!(s.scenario, "analytics");
    assert!(figure(s, "order lines") >= 3000.0, "{:?}", s.figures);
    let scales = s.details["scales"].as_array().unwrap();
    assert_eq!(scales.len(), 2);
    assert!(scales[1]["lines"].as_i64() > scales[0]["lines"].as_i64(), "{scales:?}");
    let cases = brewlytics::analytics::bench_cases::cases(chrono::Utc::now().date_naive()).len();
    let cards =
        brewlytics::tools::metabase::Spec::load(std::path::Path::new("metabase/dashboard.json")).unwrap().cards.len();
    // The scales are measured in turn, request by request: as many of each case at both.
    let requests = |scale: &serde_json::Value| -> Vec<i64> {
        let all = scale["endpoints"].as_array().unwrap().iter().chain(scale["cards"].as_array().unwrap());
        all.map(|t| t["requests"].as_i64().unwrap()).collect()
    };
    assert_eq!(requests(&scales[0]), requests(&scales[1]));
    assert!(requests(&scales[0]).iter().all(|&n| n >= 3), "{scales:?}");
    assert!(requests(&scales[0]).iter().any(|&n| n > 3), "no case was measured for its time: {scales:?}");
    for scale in scales {
        let endpoints = scale["endpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), cases);
        for e in endpoints {
            assert!(e["http_p99_ms"].as_f64().unwrap() > 0.0 && e["sql_p99_ms"].as_f64().unwrap() > 0.0, "{e}");
        }
        assert_eq!(scale["cards"].as_array().unwrap().len(), cards);
        assert!(scale["dbt"]["full"]["models_seconds"].as_f64().unwrap() > 0.0, "{scale}");
        assert!(scale["dbt"]["incremental"]["models_seconds"].as_f64().unwrap() > 0.0, "{scale}");
    }
    assert!(figure(s, "sales/summary (30 days) p99 ratio") > 0.0);
    assert!(figure(s, "card Daily Revenue p99 ratio") > 0.0);
    assert!(s.ratio.is_finite() && s.ratio > 0.0);
}
