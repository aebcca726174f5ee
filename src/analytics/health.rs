//! `GET /api/v1/health/pipeline` (seed 003 `health_check`): is the warehouse current? Freshness
//! and the last applied change come from the warehouse (per-row `loaded_at − changed_at`,
//! `cdc_offset`); backlog and reconciliation from the daemon's metrics ([`super::daemon_metrics`]),
//! reported as unavailable when the daemon does not answer. `GET /health` is the service's own
//! liveness (the warehouse answers).

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use tokio_postgres::Client;

use super::{daemon_metrics::DaemonGauges, error::AnalyticsResult, params::Params, AnalyticsState};

/// Lines streamed in this window (to the minute: rollup_freshness) are the freshness sample.
pub(crate) const FRESHNESS_WINDOW: &str = "5 minutes";

/// Freshness of the rows loaded recently (rows a snapshot job loaded have no capture time and
/// are left out).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Freshness {
    /// Order lines loaded in the last 5 minutes.
    pub rows_sampled: i64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub last_loaded_at: Option<DateTime<Utc>>,
}

/// The daemon's checkpoint.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct LastApplied {
    pub applied_changes: i64,
    pub batches: i64,
    pub at: DateTime<Utc>,
    pub seconds_ago: f64,
}

/// `GET /api/v1/health/pipeline`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PipelineHealth {
    /// `ok`, or `degraded` with the reasons in `problems`.
    pub status: &'static str,
    pub problems: Vec<String>,
    pub freshness: Freshness,
    pub last_applied_change: LastApplied,
    pub dead_letters_pending: i64,
    /// Committed changes not yet applied (daemon gauge `cdc_backlog_rows`), or "unavailable".
    pub backlog: Value,
    /// Seconds since the oldest unapplied change (`cdc_lag_seconds`), or "unavailable".
    pub lag_seconds: Value,
    /// `cdc_reconcile_differences` of the daemon: 0 = consistent, or "unavailable".
    pub reconciliation: Value,
    pub metrics_url: String,
}

/// `GET /api/v1/health/pipeline`.
pub(crate) async fn pipeline(
    State(state): State<AnalyticsState>,
    params: Params,
) -> AnalyticsResult<Json<PipelineHealth>> {
    params.only(&[])?;
    let client = state.client().await?;
    let (warehouse, gauges) = tokio::join!(load_warehouse(&client), state.daemon.gauges());
    let (freshness, last, dead) = warehouse?;
    Ok(Json(assess(freshness, last, dead, gauges, state.daemon.url())))
}

const WAREHOUSE: &str = "
    select f.lines, f.p50_ms, f.p99_ms,
           (select max(loaded_at) from fact_sales),
           o.applied_changes, o.batch_seq, o.updated_at, extract(epoch from now() - o.updated_at)::float8,
           (select count(*)::int8 from cdc_dead_letter where replayed_at is null)
    from cdc_offset o, freshness_since(now() - $1::text::interval) f
    where o.source = 'cdc_orders'";

/// The warehouse's side of the health.
pub(crate) async fn load_warehouse(client: &Client) -> AnalyticsResult<(Freshness, LastApplied, i64)> {
    let r = client.query_one(WAREHOUSE, &[&FRESHNESS_WINDOW]).await?;
    let freshness = Freshness { rows_sampled: r.get(0), p50_ms: r.get(1), p99_ms: r.get(2), last_loaded_at: r.get(3) };
    let last = LastApplied { applied_changes: r.get(4), batches: r.get(5), at: r.get(6), seconds_ago: r.get(7) };
    Ok((freshness, last, r.get(8)))
}

/// Put the pieces together and judge them.
fn assess(
    freshness: Freshness,
    last: LastApplied,
    dead: i64,
    gauges: Option<DaemonGauges>,
    url: &str,
) -> PipelineHealth {
    let mut problems = Vec::new();
    let unavailable = || json!("unavailable");
    let gauge = |v: Option<f64>| v.map_or_else(unavailable, |v| json!(v));
    match &gauges {
        None => problems.push(format!("the daemon's metrics at {url} do not answer")),
        Some(g) => {
            if g.backlog.unwrap_or(0.0) >= 1000.0 {
                problems.push(format!("backlog of {} changes", g.backlog.unwrap_or(0.0)));
            }
            if g.reconcile_differences.unwrap_or(0.0) > 0.0 {
                problems.push("the last reconciliation found differences".into());
            }
        }
    }
    if dead > 0 {
        problems.push(format!("{dead} dead letter(s) pending"));
    }
    if freshness.p99_ms.is_some_and(|p| p > 5000.0) {
        problems.push("freshness p99 above 5 s".into());
    }
    let g = gauges.unwrap_or_default();
    PipelineHealth {
        status: if problems.is_empty() { "ok" } else { "degraded" },
        problems,
        freshness,
        last_applied_change: last,
        dead_letters_pending: dead,
        backlog: gauge(g.backlog),
        lag_seconds: gauge(g.lag_seconds),
        reconciliation: g.reconcile_differences.map_or_else(unavailable, |d| json!({ "differences": d })),
        metrics_url: url.to_string(),
    }
}

/// `GET /health`: 200 when the warehouse answers as the reader role, else 503.
pub(crate) async fn liveness(State(state): State<AnalyticsState>) -> AnalyticsResult<Json<Value>> {
    let client = state.client().await?;
    client.simple_query("select 1").await?;
    Ok(Json(json!({ "status": "ok" })))
}
