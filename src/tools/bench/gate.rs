//! The standby gate's cost (`CDC_SYNC_STANDBYS`): freshness at the freshness rate with a streaming
//! standby of the benchmark's cluster running, the daemon gated on it and not, in the same run.
//! Both runs pay for the standby's WAL sender and replay; only the gate differs.

use std::path::Path;

use super::{
    daemon::DaemonSettings,
    env::BenchEnv,
    freshness::{self, Freshness, FreshnessOptions},
    report::{Figure, Goal, ScenarioResult},
    BenchError,
};

/// The standby's `application_name`.
const STANDBY: &str = "bench_standby";

/// Run the ungated baseline, then the gated run, on a standby made in `dir`.
pub(super) async fn run(env: &BenchEnv, fresh: &FreshnessOptions, dir: &Path) -> Result<ScenarioResult, BenchError> {
    let standby = env.start_standby(dir, STANDBY)?;
    let off = freshness::measure(env, fresh, false).await?;
    let gated = FreshnessOptions {
        settings: DaemonSettings { sync_standbys: Some(STANDBY), ..fresh.settings },
        ..fresh.clone()
    };
    let on = freshness::measure(env, &gated, false).await?;
    tokio::task::block_in_place(|| drop(standby));
    Ok(result(&on, &off, fresh.rate))
}

fn result(on: &Freshness, off: &Freshness, rate: f64) -> ScenarioResult {
    let waited = on.daemon_phases.iter().find(|p| p.phase == "standby_wait");
    ScenarioResult {
        scenario: "standby gate",
        figures: vec![
            Figure::new("commit->applied p50, gated", on.loaded.p50, "ms"),
            Figure::new("commit->applied p99, gated", on.loaded.p99, "ms"),
            Figure::new("commit->applied p99, ungated", off.loaded.p99, "ms"),
            Figure::new("fact rows sampled", on.loaded.samples as f64, "rows"),
            Figure::new(format!("orders/s achieved, gated (target {rate})"), on.achieved_orders_per_s, "orders/s"),
            Figure::new(
                "standby wait per window (mean)",
                waited.map_or(0.0, |w| w.seconds * 1000.0 / w.batches.max(1) as f64),
                "ms",
            ),
        ],
        baseline: Figure::new("commit->applied p50, ungated (same standby)", off.loaded.p50, "ms"),
        ratio: on.loaded.p50 / off.loaded.p50.max(1e-3),
        ratio_of: "gated p50 / ungated p50".into(),
        goals: vec![
            Goal::new("gated p99 <= 100 ms", on.loaded.p99 <= 100.0),
            Goal::new("rate achieved within 5%", on.achieved_orders_per_s >= 0.95 * rate),
        ],
        details: serde_json::json!({ "gated": on, "ungated": off }),
    }
}
