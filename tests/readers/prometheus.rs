//! Prometheus over the real binaries: `brewlytics cdc` and `brewlytics api` as subprocesses
//! (each with its own metrics registry) under the load generator, a real Prometheus scraping both
//! every second with prometheus/alerts.yml loaded, and every Grafana and alert expression
//! evaluated through its HTTP API. Plus promtool on the checked-in files and the /metrics texts.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use brewlytics::tools::{
    load::{run_load, LoadOptions},
    metabase::{spec::overlap, Layout},
    seed,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{free_port, get_text, repo, run_tool, tool, Child, INSTALL_PROMETHEUS};
use crate::support::{wait_for, TestDb};

/// What each alert's expression must show under healthy load. Evaluating an alert expression
/// directly ignores its `for:`, so:
/// - `parts` are sub-expressions of the alert (checked to occur in it verbatim) that must return
///   data: they prove the series the alert watches exist with these names and labels;
/// - `quiet` alerts must return nothing: under healthy load their condition is false (checkpoint
///   moving, no dead letters, no long transaction, an active daemon, both targets up);
/// - the other two may return data for a moment on a busy machine without being wrong (the
///   backlog rises between batches; freshness p99 depends on the shared CPUs), so only their
///   parts are required and the expression must evaluate without error.
const ALERTS: [(&str, &[&str], bool); 12] = [
    ("CdcBacklogGrowing", &["deriv(cdc_backlog_rows[5m])", "cdc_backlog_rows"], false),
    (
        "CdcFreshnessP99High",
        &["histogram_quantile(0.99, sum by (job, le) (rate(cdc_freshness_seconds_bucket[5m])))"],
        false,
    ),
    (
        "CdcCheckpointStalled",
        &["max by (job) (changes(cdc_checkpoint_applied_changes[5m]))", "max by (job) (cdc_backlog_rows)"],
        true,
    ),
    ("CdcDeadLettersPending", &["max by (job) (cdc_dead_letters_pending)"], true),
    ("CdcLongOpenTransaction", &["max by (job) (cdc_oldest_open_transaction_seconds)"], true),
    // The refusal counter exists only once a statement was refused: nothing to require.
    ("CdcStatementRefused", &[], true),
    ("CdcNoActiveDaemon", &["max(cdc_active)"], true),
    // Exact at one moment, so quiet under load: a false difference would fire it.
    ("CdcReconcileDifferences", &["max by (job) (cdc_reconcile_differences)"], true),
    ("CdcReconcileStale", &["max by (job) (cdc_reconcile_last_run_timestamp_seconds)"], true),
    ("CdcReconcileRepairFailed", &["max by (job) (cdc_reconcile_repair_failed)"], true),
    ("CdcSourceReplaced", &["max by (job) (cdc_source_replaced)"], true),
    ("BrewlyticsTargetDown", &["up{job=~\"brewlytics-cdc|brewlytics-api\"}"], true),
];

fn yaml(path: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string(repo().join(path)).unwrap()).unwrap()
}

/// (alert name, expression with whitespace collapsed) of prometheus/alerts.yml.
fn alert_rules() -> Vec<(String, String)> {
    let doc = yaml("prometheus/alerts.yml");
    let rules = doc["groups"].as_sequence().unwrap().iter().flat_map(|g| g["rules"].as_sequence().unwrap().clone());
    let collapse = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    rules.map(|r| (r["alert"].as_str().unwrap().to_string(), collapse(r["expr"].as_str().unwrap()))).collect()
}

/// (dashboard file, panel title, expression) of every target of grafana/dashboards/*.json.
fn grafana_expressions() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut files: Vec<_> =
        std::fs::read_dir(repo().join("grafana/dashboards")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files.iter().filter(|f| f.extension().is_some_and(|x| x == "json")) {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        for panel in d["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap().to_string();
                out.push((name.clone(), panel["title"].as_str().unwrap().to_string(), expr));
            }
        }
    }
    out
}

/// An instant query: the number of series and whether one has a finite value.
async fn query(http: &reqwest::Client, prom: &str, expr: &str) -> Result<(usize, bool), String> {
    let response = http.get(format!("{prom}/api/v1/query")).query(&[("query", expr)]).send().await;
    let body: Value = response.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
    if body["status"] != "success" {
        return Err(format!("query failed: {body}"));
    }
    let result = body["data"]["result"].as_array().cloned().unwrap_or_default();
    let finite =
        result.iter().any(|s| s["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()).is_some_and(f64::is_finite));
    Ok((result.len(), finite))
}

/// Everything not yet as required; empty when done.
async fn problems(http: &reqwest::Client, prom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (file, title, expr) in grafana_expressions() {
        match query(http, prom, &expr).await {
            Ok((_, true)) => {}
            Ok((n, false)) => problems.push(format!("{file} '{title}': {expr}: {n} series, no finite value")),
            Err(e) => problems.push(format!("{file} '{title}': {expr}: {e}")),
        }
    }
    for (alert, expr) in alert_rules() {
        let Some((_, parts, quiet)) = ALERTS.iter().find(|a| a.0 == alert) else {
            problems.push(format!("alert {alert} is not in this test's ALERTS table: add what it needs"));
            continue;
        };
        for part in *parts {
            assert!(expr.contains(part), "{alert}: '{part}' is not part of its expr '{expr}'");
            if !matches!(query(http, prom, part).await, Ok((_, true))) {
                problems.push(format!("alert {alert}: '{part}' returns no data"));
            }
        }
        match query(http, prom, &expr).await {
            Ok((n, _)) if *quiet && n > 0 => {
                problems.push(format!("alert {alert} would fire under healthy load: {expr}"))
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("alert {alert}: {expr}: {e}")),
        }
    }
    // Prometheus itself evaluates the loaded rules without error.
    let rules: Value = http.get(format!("{prom}/api/v1/rules")).send().await.unwrap().json().await.unwrap();
    for group in rules["data"]["groups"].as_array().cloned().unwrap_or_default() {
        for rule in group["rules"].as_array().unwrap() {
            if rule["health"] != "ok" {
                problems.push(format!("rule {} health {}: {}", rule["name"], rule["health"], rule["lastError"]));
            }
        }
    }
    problems
}

fn brewlytics(t: &TestDb, subcommand: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_brewlytics"));
    cmd.arg(subcommand).env("OLTP_DATABASE_URL", &t.oltp_url).env("OLAP_DATABASE_URL", &t.olap_url);
    cmd
}

async fn promtool_check_metrics(promtool: &Path, what: &str, text: String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.unwrap().unwrap();
    let msg = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool check metrics on {what}:\n{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_over_the_real_binaries_has_data_for_every_dashboard_and_alert() {
    let prometheus = tool("PROMETHEUS_BIN", "prometheus", INSTALL_PROMETHEUS);
    let promtool = tool("PROMTOOL_BIN", "promtool", INSTALL_PROMETHEUS);
    let t = TestDb::new().await;
    seed::seed(&mut t.oltp().await).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cdc_port, api_port, prom_port) = (free_port(), free_port(), free_port());
    let mut cdc = brewlytics(&t, "cdc");
    cdc.env("METRICS_ADDR", format!("127.0.0.1:{cdc_port}")).env("CDC_RECONCILE_EVERY", "2s");
    let cdc = Child::spawn("brewlytics cdc", cdc, dir.path().join("cdc.log"));
    let mut api = brewlytics(&t, "api");
    api.env("API_ADDR", format!("127.0.0.1:{api_port}"));
    let api = Child::spawn("brewlytics api", api, dir.path().join("api.log"));
    let http = reqwest::Client::new();
    let (cdc_metrics, api_url) =
        (format!("http://127.0.0.1:{cdc_port}/metrics"), format!("http://127.0.0.1:{api_port}"));
    wait_for("both binaries to serve /metrics", Duration::from_secs(30), || async {
        cdc.assert_running();
        api.assert_running();
        let up = get_text(&http, &cdc_metrics).await.is_some()
            && get_text(&http, &format!("{api_url}/metrics")).await.is_some();
        up.then_some(())
    })
    .await;

    let stop = CancellationToken::new();
    let options = LoadOptions {
        rate: 20.0,
        duration: Duration::from_secs(300),
        api: Some(api_url),
        concurrency: 8,
        api_key: None,
    };
    let load = tokio::spawn(run_load_until(options, stop.clone()));

    let config = format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}
rule_files: [{alerts:?}]
scrape_configs:
  - job_name: brewlytics-cdc
    static_configs: [{{targets: ['127.0.0.1:{cdc_port}']}}]
  - job_name: brewlytics-api
    static_configs: [{{targets: ['127.0.0.1:{api_port}']}}]
",
        alerts = repo().join("prometheus/alerts.yml").display().to_string()
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let mut cmd = tokio::process::Command::new(prometheus);
    cmd.arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let prom = Child::spawn("prometheus", cmd, dir.path().join("prometheus.log"));
    let prom_url = format!("http://127.0.0.1:{prom_port}");
    wait_for("Prometheus to scrape both targets", Duration::from_secs(60), || async {
        prom.assert_running();
        let targets: Value =
            serde_json::from_str(&get_text(&http, &format!("{prom_url}/api/v1/targets")).await?).ok()?;
        let active = targets["data"]["activeTargets"].as_array()?.clone();
        (active.len() == 2 && active.iter().all(|t| t["health"] == "up")).then_some(())
    })
    .await;

    // rate()[1m] needs two samples and the daemon's first batches must land: poll until every
    // requirement holds, reporting what is still missing at the deadline.
    let started = Instant::now();
    let mut missing = problems(&http, &prom_url).await;
    while !missing.is_empty() && started.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        cdc.assert_running();
        api.assert_running();
        missing = problems(&http, &prom_url).await;
    }
    assert!(missing.is_empty(), "after {:?} of load:\n{}", started.elapsed(), missing.join("\n"));

    for (what, url) in
        [("brewlytics cdc", cdc_metrics), ("brewlytics api", format!("http://127.0.0.1:{api_port}/metrics"))]
    {
        let text = get_text(&http, &url).await.unwrap_or_else(|| panic!("{what} /metrics"));
        promtool_check_metrics(&promtool, what, text).await;
    }
    stop.cancel();
    let report = load.await.unwrap();
    assert_eq!(report.orders_failed, 0, "{report}");
}

async fn run_load_until(options: LoadOptions, stop: CancellationToken) -> brewlytics::tools::load::LoadReport {
    run_load(&options, stop).await.expect("load runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn promtool_accepts_the_rules_their_unit_tests_and_the_configs() {
    let promtool = tool("PROMTOOL_BIN", "promtool", INSTALL_PROMETHEUS);
    for args in [
        ["check", "rules", "prometheus/alerts.yml"],
        ["test", "rules", "prometheus/alerts_test.yml"],
        ["check", "config", "prometheus/prometheus.yml"],
        ["check", "config", "prometheus/prometheus.compose.yml"],
    ] {
        let mut cmd = tokio::process::Command::new(&promtool);
        cmd.current_dir(repo()).args(args);
        run_tool(&format!("promtool {}", args.join(" ")), cmd, Duration::from_secs(60)).await;
    }
    // Every alert of alerts.yml has a unit test in alerts_test.yml.
    let tests = std::fs::read_to_string(repo().join("prometheus/alerts_test.yml")).unwrap();
    for (alert, _) in alert_rules() {
        assert!(tests.contains(&format!("alertname: {alert}")), "{alert} has no test in alerts_test.yml");
    }
}

#[test]
fn grafana_panels_use_the_prometheus_datasource_and_fit_the_grid() {
    let mut files: Vec<_> =
        std::fs::read_dir(repo().join("grafana/dashboards")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 2);
    for file in files {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut placed: Vec<(String, Layout)> = Vec::new();
        for panel in d["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap().to_string();
            let g = &panel["gridPos"];
            let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| g[k].as_u64().unwrap() as u32);
            let here = Layout { col: x, row: y, size_x: w, size_y: h };
            assert!(x + w <= 24 && w > 0 && h > 0, "{file:?} '{title}' does not fit 24 columns");
            if let Some((other, _)) = placed.iter().find(|(_, l)| overlap(l, &here)) {
                panic!("{file:?}: '{title}' overlaps '{other}'");
            }
            assert_eq!(panel["datasource"]["uid"], "prometheus", "{file:?} '{title}'");
            for target in panel["targets"].as_array().unwrap() {
                assert_eq!(target["datasource"]["uid"], "prometheus", "{file:?} '{title}'");
                assert!(!target["expr"].as_str().unwrap().contains('$'), "{file:?} '{title}': Grafana-only variable");
            }
            placed.push((title, here));
        }
    }
}
