//! Continuous reconciliation: every `CDC_RECONCILE_EVERY` the active daemon runs the exact
//! comparison of [`super::reconcile`] on connections of its own and exports the result.
//!
//! Bounded cost: per-day aggregates (never row by row) for the last [`RECONCILE_DAYS`] UTC days,
//! plus the totals over all time, which catch a difference on any older day too (one aggregate
//! scan per table on each side).
//!
//! What two runs in a row find is repaired ([`super::repair`]) unless `CDC_RECONCILE_REPAIR=off`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::{reconcile, repair::Repairer, Outcome, ReconcileOptions, Scope};
use crate::{
    cdc::stream::checkpoint::Checkpoint,
    config::{Config, Db},
    db,
    telemetry::{self, Chain},
};

/// Days compared key by key by the scheduled check.
pub(crate) const RECONCILE_DAYS: u32 = 7;
/// The first run waits this long after the daemon became active (its first batches land first).
const FIRST_RUN_AFTER: Duration = Duration::from_secs(1);

/// Run the scheduled reconciliation until `shutdown`; only while this instance is active (it has
/// published a checkpoint). `CDC_RECONCILE_EVERY=0s` turns it off.
pub(in crate::cdc) async fn run(
    config: Config,
    checkpoint: watch::Receiver<Option<Checkpoint>>,
    shutdown: CancellationToken,
) {
    let every = config.cdc_reconcile_every;
    if every.is_zero() {
        return;
    }
    let options = ReconcileOptions {
        scope: Scope::RecentDays(RECONCILE_DAYS),
        wait: every.min(Duration::from_secs(30)),
        ..ReconcileOptions::default()
    };
    let mut repairer = Repairer::new(config.cdc_reconcile_repair.is_on());
    let mut conns: Option<(Client, Client)> = None;
    let mut next = FIRST_RUN_AFTER;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(next) => {}
        }
        next = every;
        if checkpoint.borrow().is_none() {
            next = FIRST_RUN_AFTER; // standby: check again soon
            continue;
        }
        if conns.is_none() {
            match connect(&config).await {
                Ok(c) => conns = Some(c),
                Err(error) => {
                    tracing::warn!(error = %Chain(&error), "reconciliation cannot connect; retrying next cycle");
                    continue;
                }
            }
        }
        let Some((oltp, olap)) = conns.as_mut() else { continue };
        if !run_once(oltp, olap, &options, &mut repairer).await {
            conns = None;
        }
    }
}

async fn connect(config: &Config) -> Result<(Client, Client), db::DbError> {
    Ok((db::connect(config, Db::Oltp).await?, db::connect(config, Db::Olap).await?))
}

/// One reconciliation and its metrics; false when the connections failed.
async fn run_once(oltp: &mut Client, olap: &mut Client, options: &ReconcileOptions, repairer: &mut Repairer) -> bool {
    let started = Instant::now();
    let outcome = match reconcile(oltp, olap, options).await {
        Ok(outcome) => outcome,
        Err(error) => {
            metrics::counter!(telemetry::CDC_RECONCILE_RUNS, "outcome" => "error").increment(1);
            tracing::warn!(error = %Chain(&error), "reconciliation failed");
            return false;
        }
    };
    let elapsed = started.elapsed();
    match outcome {
        Outcome::Compared { report, checkpoint, pending } => {
            let n = report.differences.len();
            let label = if n == 0 { "clean" } else { "differences" };
            metrics::counter!(telemetry::CDC_RECONCILE_RUNS, "outcome" => label).increment(1);
            metrics::gauge!(telemetry::CDC_RECONCILE_DIFFERENCES).set(n as f64);
            metrics::gauge!(telemetry::CDC_RECONCILE_DURATION).set(elapsed.as_secs_f64());
            metrics::gauge!(telemetry::CDC_RECONCILE_LAST_RUN).set(unix_now());
            if n == 0 {
                tracing::debug!(checkpoint = %checkpoint, pending, ms = elapsed.as_millis() as u64, "reconciliation clean");
            } else {
                for d in report.differences.iter().take(10) {
                    tracing::warn!(check = d.check, key = %d.key, "reconciliation difference");
                }
                tracing::warn!(differences = n, checkpoint = %checkpoint, "warehouse differs from OLTP");
            }
            if let Err(error) = repairer.after_run(olap, &report).await {
                tracing::warn!(error = %Chain(&error), "reconciliation could not queue a repair");
                return false;
            }
        }
        Outcome::CannotCompare(reason) => {
            metrics::counter!(telemetry::CDC_RECONCILE_RUNS, "outcome" => "skipped").increment(1);
            tracing::info!(reason = %reason, "reconciliation skipped this cycle");
        }
    }
    true
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}
