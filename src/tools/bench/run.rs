//! `brewlytics bench [scenario]`: start a private durable PostgreSQL, run the scenarios, print
//! the table and write the JSON report.

use std::{path::PathBuf, time::Duration};

use super::{
    analytics,
    api::{bench_api, ApiBenchOptions},
    capture, daemon, dbt, drain,
    env::{self, BenchEnv},
    freshness::{self, Freshness, FreshnessOptions},
    gate,
    report::{BenchReport, Figure, Goal, ScenarioResult},
    snapshot,
    workload::{Workload, EVENTS_PER_ORDER},
    BenchError,
};
use crate::config::{parse_duration, Config};

/// Which scenario to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    All,
    Drain,
    Freshness,
    Longtx,
    Api,
    Capture,
    Snapshot,
    /// Freshness with the standby gate on against off, a streaming standby running in both.
    Gate,
    /// Not part of `all`: endpoint p99s of the analytics service on a year of sales.
    Analytics,
}

/// Settings of `brewlytics bench`.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct BenchOptions {
    /// Scenario to run.
    #[arg(value_enum, default_value = "all")]
    pub scenario: Scenario,
    /// Orders in the drain backlog (and in the snapshot scenario's existing data).
    #[arg(long, default_value_t = 100_000)]
    pub scale: i64,
    /// Duration of the freshness and longtx load (e.g. 60s).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    #[serde(with = "secs")]
    pub duration: Duration,
    /// Orders per second during freshness and longtx.
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Duration of each API concurrency level and of its pgbench run.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    #[serde(with = "secs")]
    pub api_step: Duration,
    /// API client counts to try.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32")]
    pub api_concurrency: Vec<usize>,
    /// Duration of each pgbench run of the capture scenario.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    #[serde(with = "secs")]
    pub capture_step: Duration,
    /// Capture rounds: each runs every variant once, beside one run of its baseline.
    #[arg(long, default_value_t = 6)]
    pub capture_rounds: usize,
    /// Orders of the analytics scenario's year of sales (1 to 3 lines each).
    #[arg(long, default_value_t = 500_000)]
    pub analytics_orders: i64,
    /// The analytics scenario at several scales in one run (orders each, e.g. 500000,5000000);
    /// default: --analytics-orders alone.
    #[arg(long, value_delimiter = ',')]
    pub scales: Vec<i64>,
    /// dbt for the analytics scenario's builds.
    #[arg(long, env = "DBT_BIN", default_value = "dbt")]
    pub dbt_bin: PathBuf,
    /// The dbt project directory.
    #[arg(long, default_value = "dbt")]
    pub dbt_project: PathBuf,
    /// Requests per endpoint in the analytics scenario, at least (see `--analytics-step`). The
    /// p99 of 100 requests is their second slowest: one stall of the shared machine moved it
    /// 3-16x while the p50s stayed flat. Of 500 it is the fifth slowest.
    #[arg(long, default_value_t = 500)]
    pub analytics_requests: usize,
    /// How long each endpoint and card is measured at least, per scale (more requests than
    /// `--analytics-requests` when they are fast). A p99 of 500 sub-millisecond requests is their
    /// fifth slowest, and five stalls of the shared machine (0.5-1 ms each) made one scale's 4x
    /// the other's; a second of them is thousands of requests.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    #[serde(with = "secs")]
    pub analytics_step: Duration,
    /// Also drain (and snapshot) into a scratch database beside this warehouse's, e.g. a Citus
    /// coordinator's `coffee_olap` (its workers get the scratch database too), and report the
    /// rate over the private plain PostgreSQL's in the same run. Needs a role that may create
    /// databases and the extension on every node. Not written to the report (it may hold a
    /// password).
    #[arg(long)]
    #[serde(skip)]
    pub olap_url: Option<String>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench-results/latest.json")]
    pub json: PathBuf,
    /// The `brewlytics` binary to run as the daemon [default: this executable].
    #[arg(long)]
    pub daemon_bin: Option<PathBuf>,
    /// Directory for the cluster and daemon logs [default: a new temporary directory, removed after].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

mod secs {
    pub(super) fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// Run the scenarios `opts` asks for; `config` supplies the daemon's CDC_BATCH_ROWS.
pub async fn run(config: &Config, opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    let started_at = chrono::Utc::now();
    let dir = WorkDir::new(opts.work_dir.clone());
    let log_dir = dir.path.join("logs");
    std::fs::create_dir_all(&log_dir)?;
    let env = BenchEnv::start(&dir.path.join("pg")).await?;
    let machine = env::machine(&env::connect(&env.dsn("postgres")).await?).await?;
    let daemon_bin = opts.daemon_bin.clone().unwrap_or_else(daemon::default_binary);
    let settings = daemon::DaemonSettings {
        batch_rows: config.cdc_batch_rows,
        initial_snapshot: false,
        sync_standbys: None,
        rollups: true,
    };
    let wants = |s: Scenario| opts.scenario == Scenario::All || opts.scenario == s;
    let mut scenarios = Vec::new();
    if wants(Scenario::Drain) {
        tracing::info!(scale = opts.scale, "bench: drain");
        // Boxed: the drain's future holds the state of its drains (four; five with --olap-url).
        let drain = Box::pin(drain::run(&env, opts.scale, &daemon_bin, settings, &log_dir, opts.olap_url.as_deref()));
        scenarios.push(drain.await?);
    }
    let fresh_opts = FreshnessOptions {
        rate: opts.rate,
        duration: opts.duration,
        daemon_bin: daemon_bin.clone(),
        settings,
        log_dir: log_dir.clone(),
        workload: Workload::Orders,
    };
    let mut fresh = None;
    if wants(Scenario::Freshness) || wants(Scenario::Longtx) {
        tracing::info!("bench: freshness");
        let f = freshness::measure(&env, &fresh_opts, false).await?;
        scenarios.push(freshness_result(&f, opts.rate));
        scenarios.push(small_batch_result(&f));
        if wants(Scenario::Freshness) {
            tracing::info!("bench: freshness with app events");
            let events = FreshnessOptions { workload: Workload::OrdersWithEvents, ..fresh_opts.clone() };
            scenarios.push(events_result(&freshness::measure(&env, &events, false).await?, &f, opts.rate));
            tracing::info!("bench: freshness with the rollups off");
            let off = FreshnessOptions {
                settings: daemon::DaemonSettings { rollups: false, ..settings },
                ..fresh_opts.clone()
            };
            scenarios.push(rollups_off_result(&freshness::measure(&env, &off, false).await?, &f, opts.rate));
        }
        fresh = Some(f);
    }
    if wants(Scenario::Gate) {
        tracing::info!("bench: standby gate");
        scenarios.push(gate::run(&env, &fresh_opts, &dir.path.join("pg-standby")).await?);
    }
    if let (true, Some(base)) = (wants(Scenario::Longtx), &fresh) {
        tracing::info!("bench: longtx");
        let f = freshness::measure(&env, &fresh_opts, true).await?;
        scenarios.push(longtx_result(&f, base, opts.rate));
    }
    if wants(Scenario::Api) {
        tracing::info!("bench: api");
        let pair = env.fresh_pair("api").await?;
        let api_opts = ApiBenchOptions {
            concurrency: opts.api_concurrency.clone(),
            step_duration: opts.api_step,
            ..ApiBenchOptions::default()
        };
        scenarios.push(api_result(&bench_api(&pair.config, &api_opts).await?));
    }
    if wants(Scenario::Snapshot) {
        tracing::info!(scale = opts.scale, "bench: snapshot");
        scenarios
            .push(snapshot::run(&env, opts.scale, &daemon_bin, settings, &log_dir, opts.olap_url.as_deref()).await?);
    }
    if wants(Scenario::Capture) {
        tracing::info!("bench: capture");
        scenarios.push(capture::run(&env, opts.capture_step, opts.capture_rounds).await?);
    }
    if opts.scenario == Scenario::Analytics {
        let scales = if opts.scales.is_empty() { vec![opts.analytics_orders] } else { opts.scales.clone() };
        tracing::info!(?scales, "bench: analytics");
        let dbt = dbt::Dbt { bin: opts.dbt_bin.clone(), project: opts.dbt_project.clone() };
        let analytics = analytics::AnalyticsOptions {
            scales,
            requests: opts.analytics_requests,
            at_least: opts.analytics_step,
            dbt,
        };
        scenarios.push(analytics::run(&env, &analytics).await?);
    }
    drop(env);
    drop(dir);
    let report = BenchReport { started_at, machine, options: serde_json::to_value(opts)?, scenarios };
    if let Some(parent) = opts.json.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&opts.json, serde_json::to_string_pretty(&report)?)?;
    Ok(report)
}

/// The run's directory; a temporary one is removed when the run ends, however it ends (the
/// cluster inside it is stopped first, as `BenchEnv` is dropped before it).
struct WorkDir {
    path: PathBuf,
    remove: bool,
}

impl WorkDir {
    fn new(given: Option<PathBuf>) -> Self {
        match given {
            Some(path) => WorkDir { path, remove: false },
            None => {
                // Unique per run: two runs of one process (the tests) must not share a cluster.
                static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let path = std::env::temp_dir().join(format!("brewlytics-bench-{}-{n}", std::process::id()));
                WorkDir { path, remove: true }
            }
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn percentile_figures(f: &Freshness, rate: f64) -> Vec<Figure> {
    vec![
        Figure::new("commit->applied p50", f.loaded.p50, "ms"),
        Figure::new("commit->applied p95", f.loaded.p95, "ms"),
        Figure::new("commit->applied p99", f.loaded.p99, "ms"),
        Figure::new("fact rows sampled", f.loaded.samples as f64, "rows"),
        Figure::new(format!("orders/s achieved (target {rate})"), f.achieved_orders_per_s, "orders/s"),
        Figure::new("daemon peak RSS (VmHWM)", f.daemon_peak_rss_mib, "MiB"),
    ]
}

fn freshness_result(f: &Freshness, rate: f64) -> ScenarioResult {
    ScenarioResult {
        scenario: "freshness",
        figures: percentile_figures(f, rate),
        baseline: Figure::new("idle p50 (one order at a time)", f.idle.p50, "ms"),
        ratio: f.loaded.p50 / f.idle.p50.max(1e-3),
        ratio_of: "loaded p50 / idle p50".into(),
        goals: vec![
            Goal::new("p50 <= 30 ms", f.loaded.p50 <= 30.0),
            Goal::new("p99 <= 100 ms", f.loaded.p99 <= 100.0),
            Goal::new("rate achieved within 5%", f.achieved_orders_per_s >= 0.95 * rate),
        ],
        details: serde_json::to_value(f).unwrap_or_default(),
    }
}

/// Freshness under the events-heavy mix (each order followed by its app session's events), against
/// the orders-alone freshness of the same run.
fn events_result(e: &Freshness, orders: &Freshness, rate: f64) -> ScenarioResult {
    let target_events = rate * EVENTS_PER_ORDER as f64;
    let mut figures = percentile_figures(e, rate);
    figures.extend([
        Figure::new("app events/s achieved", e.achieved_events_per_s, "events/s"),
        Figure::new("app events commit->applied p50", e.events.p50, "ms"),
        Figure::new("app events commit->applied p99", e.events.p99, "ms"),
        Figure::new("app event rows sampled", e.events.samples as f64, "rows"),
    ]);
    ScenarioResult {
        scenario: "freshness (app events)",
        figures,
        baseline: Figure::new("freshness p50, orders alone", orders.loaded.p50, "ms"),
        ratio: e.loaded.p50 / orders.loaded.p50.max(1e-3),
        ratio_of: "orders' p50 with events / without".into(),
        goals: vec![
            Goal::new("p50 <= 30 ms", e.loaded.p50 <= 30.0),
            Goal::new("p99 <= 100 ms", e.loaded.p99 <= 100.0),
            Goal::new("rate achieved within 5%", e.achieved_orders_per_s >= 0.95 * rate),
            Goal::new(format!(">= {target_events:.0} app events/s"), e.achieved_events_per_s >= 0.95 * target_events),
        ],
        details: serde_json::to_value(e).unwrap_or_default(),
    }
}

/// Freshness with the daemon not maintaining the rollups, against the same run's freshness (with
/// them): what they cost a batch.
fn rollups_off_result(off: &Freshness, on: &Freshness, rate: f64) -> ScenarioResult {
    let cost = on.loaded.p50 - off.loaded.p50;
    ScenarioResult {
        scenario: "freshness (rollups off)",
        figures: percentile_figures(off, rate),
        baseline: Figure::new("freshness p50 with the rollups (same run)", on.loaded.p50, "ms"),
        ratio: on.loaded.p50 / off.loaded.p50.max(1e-3),
        ratio_of: "p50 with the rollups / without".into(),
        goals: vec![Goal::new("the rollups add <= 5 ms to freshness p50", cost <= 5.0)],
        details: serde_json::to_value(off).unwrap_or_default(),
    }
}

/// The per-batch fixed cost at the freshness load: the daemon's write and commit phases per batch
/// (`cdc_batch_duration_seconds`), against one warehouse round trip in the same run.
fn small_batch_result(f: &Freshness) -> ScenarioResult {
    let per_batch = |phase: &str| {
        f.daemon_phases.iter().find(|p| p.phase == phase).map_or(0.0, |p| p.seconds * 1000.0 / p.batches.max(1) as f64)
    };
    let batches = f.daemon_phases.iter().find(|p| p.phase == "write").map_or(0, |p| p.batches);
    let (write, commit) = (per_batch("write"), per_batch("commit"));
    ScenarioResult {
        scenario: "small batch",
        figures: vec![
            Figure::new("write per batch (mean)", write, "ms"),
            Figure::new("commit per batch (mean)", commit, "ms"),
            Figure::new("batches", batches as f64, "batches"),
            Figure::new("fact rows per batch", f.loaded.samples as f64 / batches.max(1) as f64, "rows"),
        ],
        baseline: Figure::new("one warehouse round trip", f.warehouse_round_trip_ms, "ms"),
        ratio: write / f.warehouse_round_trip_ms.max(1e-6),
        ratio_of: "write / round trip".into(),
        goals: vec![Goal::new("write <= 5 ms per freshness-sized batch", batches > 0 && write <= 5.0)],
        details: serde_json::json!({ "phases": f.daemon_phases }),
    }
}

fn longtx_result(f: &Freshness, base: &Freshness, rate: f64) -> ScenarioResult {
    ScenarioResult {
        scenario: "longtx",
        figures: percentile_figures(f, rate),
        baseline: Figure::new("freshness p99 (no open transaction)", base.loaded.p99, "ms"),
        ratio: f.loaded.p99 / base.loaded.p99.max(1e-3),
        ratio_of: "p99 / freshness p99".into(),
        goals: vec![Goal::new("p99 within 1 s of freshness p99", f.loaded.p99 - base.loaded.p99 <= 1000.0)],
        details: serde_json::to_value(f).unwrap_or_default(),
    }
}

fn api_result(a: &super::api::ApiBenchFigures) -> ScenarioResult {
    let best = a.best.map_or(0.0, |b| b.orders_per_s);
    let ratio = best / a.pgbench_tps.max(1e-9);
    let steps: Vec<_> = a
        .steps
        .iter()
        .map(|s| {
            serde_json::json!({"concurrency": s.concurrency, "orders_per_s": s.orders_per_s, "failed": s.failed,
                               "p50_ms": s.p50.as_secs_f64() * 1e3, "p99_ms": s.p99.as_secs_f64() * 1e3})
        })
        .collect();
    ScenarioResult {
        scenario: "api",
        figures: vec![
            Figure::new("orders/s at p99 < 50 ms", best, "orders/s"),
            Figure::new("clients at that level", a.best.map_or(0.0, |b| b.concurrency as f64), "clients"),
            Figure::new("p99 at that level", a.best.map_or(0.0, |b| b.p99.as_secs_f64() * 1e3), "ms"),
        ],
        baseline: Figure::new(format!("pgbench order.sql, {} clients", a.pgbench_clients), a.pgbench_tps, "tx/s"),
        ratio,
        ratio_of: "API orders/s / pgbench tps".into(),
        goals: vec![Goal::new("ratio >= 0.6", ratio >= 0.6)],
        details: serde_json::json!({ "steps": steps }),
    }
}
