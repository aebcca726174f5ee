//! Logging and metrics: tracing setup, metric names as consts (each described once, with HELP),
//! and the Prometheus recorder whose text the `/metrics` endpoints render.

use std::sync::OnceLock;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::config::LogFormat;

/// Changes applied to the warehouse, labels `table` and `op`.
pub(crate) const CDC_CHANGES_APPLIED: &str = "cdc_changes_applied_total";
/// Batches committed.
pub(crate) const CDC_BATCHES: &str = "cdc_batches_total";
/// Change rows per batch.
pub(crate) const CDC_BATCH_ROWS: &str = "cdc_batch_rows";
/// Batch phase durations, label `phase` = read | prefetch | transform | write | commit |
/// standby_wait (`prefetch`: the next page of an open window, read while the previous batch
/// applies; `standby_wait`: a new window waiting for the `CDC_SYNC_STANDBYS` to replay it).
pub(crate) const CDC_BATCH_DURATION: &str = "cdc_batch_duration_seconds";
/// From a change in OLTP (its changed_at) to its warehouse commit: one sample per batch, the age
/// of the batch's oldest change.
pub(crate) const CDC_FRESHNESS: &str = "cdc_freshness_seconds";
/// Committed changes not yet applied.
pub(crate) const CDC_BACKLOG: &str = "cdc_backlog_rows";
/// Age of the oldest committed change not yet applied (0 when caught up).
pub(crate) const CDC_LAG: &str = "cdc_lag_seconds";
/// How long the oldest open OLTP transaction has been open.
pub(crate) const CDC_OLDEST_XACT: &str = "cdc_oldest_open_transaction_seconds";
/// The checkpoint: number of changes applied since the start.
pub(crate) const CDC_CHECKPOINT_CHANGES: &str = "cdc_checkpoint_applied_changes";
/// The checkpoint: xmax of the last completed snapshot window.
pub(crate) const CDC_CHECKPOINT_XMAX: &str = "cdc_checkpoint_window_xmax";
/// Unix time of the last committed batch.
pub(crate) const CDC_LAST_SUCCESS: &str = "cdc_last_success_timestamp_seconds";
/// Errors by `kind` (connection, transient, data, internal).
pub(crate) const CDC_ERRORS: &str = "cdc_errors_total";
/// Retries after a transient failure.
pub(crate) const CDC_RETRIES: &str = "cdc_retries_total";
/// Changes sent to the dead-letter table, label `table`.
pub(crate) const CDC_DEAD_LETTERS: &str = "cdc_dead_letters_total";
/// Dead letters waiting in `cdc_dead_letter` (not replayed).
pub(crate) const CDC_DEAD_LETTERS_PENDING: &str = "cdc_dead_letters_pending";
/// 1 when this instance holds the apply lock, 0 on standby.
pub(crate) const CDC_ACTIVE: &str = "cdc_active";
/// Differences found by the last scheduled reconciliation (0 = the warehouse matches OLTP).
pub(crate) const CDC_RECONCILE_DIFFERENCES: &str = "cdc_reconcile_differences";
/// Unix time of the last completed scheduled reconciliation.
pub(crate) const CDC_RECONCILE_LAST_RUN: &str = "cdc_reconcile_last_run_timestamp_seconds";
/// How long the last completed scheduled reconciliation took.
pub(crate) const CDC_RECONCILE_DURATION: &str = "cdc_reconcile_duration_seconds";
/// Scheduled reconciliations by `outcome` (clean, differences, skipped, error).
pub(crate) const CDC_RECONCILE_RUNS: &str = "cdc_reconcile_runs_total";
/// The OLTP source was found replaced, label `reason` (system, timeline, txids, ids, pruned).
pub(crate) const CDC_SOURCE_CHANGES: &str = "cdc_source_changes_total";
/// 1 while the checkpoint does not describe the source (re-basing, or waiting for an operator).
pub(crate) const CDC_SOURCE_REPLACED: &str = "cdc_source_replaced";
/// Repairs the scheduled reconciliation started (a resync of a table), label `table`.
pub(crate) const CDC_RECONCILE_REPAIRS: &str = "cdc_reconcile_repairs_total";
/// 1 when a repair did not make the next reconciliation clean.
pub(crate) const CDC_RECONCILE_REPAIR_FAILED: &str = "cdc_reconcile_repair_failed";
/// 1 while a snapshot job (initial load or resync) runs.
pub const CDC_SNAPSHOT_RUNNING: &str = "cdc_snapshot_running";
/// Rows the open snapshot job has loaded (committed), label `table` (the OLTP table).
pub const CDC_SNAPSHOT_ROWS_DONE: &str = "cdc_snapshot_rows_done";
/// Rows the open snapshot job reads in all (counted in its snapshot), label `table`.
pub const CDC_SNAPSHOT_ROWS_ESTIMATED: &str = "cdc_snapshot_rows_estimated";
/// Inferred dimension members created, label `dim`.
pub(crate) const WAREHOUSE_INFERRED: &str = "warehouse_inferred_members_total";
/// Type 2 versions opened, label `dim`.
pub(crate) const WAREHOUSE_SCD2_VERSIONS: &str = "warehouse_scd2_versions_total";
/// HTTP requests of the API, labels `method`, `route`, `status`.
pub(crate) const HTTP_REQUESTS: &str = "http_requests_total";
/// HTTP request latency of the API, labels `method`, `route`, `status`.
pub(crate) const HTTP_DURATION: &str = "http_request_duration_seconds";

/// An error and its causes, each printed once: `outer: cause: root cause`. Some errors (like
/// tokio-postgres's) put their cause in their own message *and* return it from `source()`; that
/// repeated tail is dropped, so no cause is ever printed twice.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut messages = Vec::new();
        let mut cur = Some(self.0);
        while let Some(e) = cur {
            messages.push(e.to_string());
            cur = e.source();
        }
        let mut first = true;
        for (i, message) in messages.iter().enumerate() {
            let own = match messages.get(i + 1) {
                Some(next) if message == next => continue,
                Some(next) => message.strip_suffix(next.as_str()).and_then(|m| m.strip_suffix(": ")).unwrap_or(message),
                None => message,
            };
            if own.is_empty() {
                continue;
            }
            if !first {
                f.write_str(": ")?;
            }
            f.write_str(own)?;
            first = false;
        }
        Ok(())
    }
}

/// Install the tracing subscriber (RUST_LOG filter, default `info`). tokio-postgres logs every
/// statement with its parameters (row values, role verifiers) at debug: it stays at `info`
/// unless RUST_LOG names it. Colours only when stderr is a terminal: a log file or a pipe gets
/// plain text.
pub fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let spec = std::env::var("RUST_LOG").ok().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "info".into());
    let mut filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info"));
    if !spec.contains("tokio_postgres") {
        filter = filter.add_directive("tokio_postgres=info".parse().expect("a valid directive"));
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Install the global Prometheus recorder once and return its handle.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
            let rows = [1.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0];
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(CDC_BATCH_ROWS.into()), &rows))
                .expect("static bucket lists are valid")
                .install_recorder()
                .expect("the metrics recorder is installed once");
            describe();
            spawn_upkeep(handle.clone());
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(CDC_CHANGES_APPLIED, "Changes applied to the warehouse, by source table and op (I/U/D).");
    describe_counter!(CDC_BATCHES, "Warehouse transactions committed by the CDC daemon.");
    describe_histogram!(CDC_BATCH_ROWS, "Change rows per committed batch.");
    describe_histogram!(CDC_BATCH_DURATION, Unit::Seconds, "Batch phase duration (read, transform, write, commit).");
    describe_histogram!(
        CDC_FRESHNESS,
        Unit::Seconds,
        "Time from a change in OLTP (changed_at) to its warehouse commit; one sample per batch, its oldest change."
    );
    describe_gauge!(CDC_BACKLOG, "Committed changes in cdc_orders not yet applied to the warehouse.");
    describe_gauge!(CDC_LAG, Unit::Seconds, "Age of the oldest committed change not yet applied; 0 when caught up.");
    describe_gauge!(CDC_OLDEST_XACT, Unit::Seconds, "How long the oldest open OLTP transaction has been open.");
    describe_gauge!(
        CDC_CHECKPOINT_CHANGES,
        "Changes applied since the checkpoint was created (cdc_offset.applied_changes)."
    );
    describe_gauge!(
        CDC_CHECKPOINT_XMAX,
        "xmax of the snapshot that starts the current window (cdc_offset.window_start)."
    );
    describe_gauge!(CDC_LAST_SUCCESS, Unit::Seconds, "Unix time of the last committed batch.");
    describe_counter!(CDC_ERRORS, "Errors of the CDC daemon by kind (connection, transient, data, internal).");
    describe_counter!(CDC_RETRIES, "Retries after a transient failure.");
    describe_counter!(CDC_DEAD_LETTERS, "Changes written to cdc_dead_letter, by source table.");
    describe_gauge!(CDC_DEAD_LETTERS_PENDING, "Dead letters in cdc_dead_letter that have not been replayed.");
    describe_gauge!(CDC_ACTIVE, "1 when this daemon holds the apply lock (active), 0 when it waits (standby).");
    describe_gauge!(
        CDC_RECONCILE_DIFFERENCES,
        "Keys (per day and totals) where the last scheduled reconciliation found OLTP and the warehouse different."
    );
    describe_gauge!(CDC_RECONCILE_LAST_RUN, Unit::Seconds, "Unix time of the last completed scheduled reconciliation.");
    describe_gauge!(CDC_RECONCILE_DURATION, Unit::Seconds, "Duration of the last completed scheduled reconciliation.");
    describe_counter!(
        CDC_RECONCILE_RUNS,
        "Scheduled reconciliations by outcome (clean, differences, skipped: no comparable moment, error)."
    );
    describe_gauge!(CDC_SNAPSHOT_RUNNING, "1 while a snapshot job (initial load or resync) runs, else 0.");
    describe_counter!(CDC_SOURCE_CHANGES, "Times the OLTP source was found replaced, by reason.");
    describe_gauge!(
        CDC_SOURCE_REPLACED,
        "1 while the checkpoint does not describe the OLTP source (re-basing or stopped)."
    );
    describe_counter!(CDC_RECONCILE_REPAIRS, "Resyncs the scheduled reconciliation started to repair a table.");
    describe_gauge!(CDC_RECONCILE_REPAIR_FAILED, "1 when a repair did not make the next reconciliation clean.");
    describe_gauge!(CDC_SNAPSHOT_ROWS_DONE, "Rows the open snapshot job has loaded and committed, by OLTP table.");
    describe_gauge!(CDC_SNAPSHOT_ROWS_ESTIMATED, "Rows the open snapshot job reads in all, by OLTP table.");
    describe_counter!(WAREHOUSE_INFERRED, "Inferred dimension members created for facts that arrived first, by dim.");
    describe_counter!(WAREHOUSE_SCD2_VERSIONS, "Type 2 dimension versions opened, by dim.");
    describe_counter!(HTTP_REQUESTS, "HTTP requests served by the order API, by method, matched route and status.");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency of the order API, by method, matched route and status."
    );
}

/// Record the duration of one batch phase.
pub(crate) fn observe_phase(phase: &'static str, elapsed: std::time::Duration) {
    metrics::histogram!(CDC_BATCH_DURATION, "phase" => phase).record(elapsed.as_secs_f64());
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// `install_recorder` spawns no upkeep task: until a scrape renders them, histogram samples pile
/// up in memory (the daemon records per batch, but the API records per request). A plain thread
/// folds them in every few seconds, whatever runtime or scraper there is.
fn spawn_upkeep(handle: PrometheusHandle) {
    let upkeep = move || loop {
        std::thread::sleep(UPKEEP_EVERY);
        handle.run_upkeep();
    };
    if let Err(e) = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(upkeep) {
        tracing::warn!(error = %Chain(&e), "cannot start the metrics upkeep thread; histograms grow until scraped");
    }
}

/// Serve `GET /metrics` (Prometheus text) on `addr` until `shutdown` completes.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = metrics_handle();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { ([("content-type", "text/plain; version=0.0.4")], handle.render()) }
        }),
    );
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::Chain;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Middle);

    /// Like tokio-postgres: the cause is in the message and in `source()`.
    #[derive(Debug, thiserror::Error)]
    #[error("middle: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn each_cause_is_printed_once() {
        let e = Outer(Middle(std::io::Error::other("Connection refused")));
        assert_eq!(Chain(&e).to_string(), "outer: middle: Connection refused");
        let io = std::io::Error::other("alone");
        assert_eq!(Chain(&io).to_string(), "alone");
    }
}
