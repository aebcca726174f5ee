//! Repair: differences the scheduled reconciliation finds in two runs in a row are damage, not
//! changes in flight (a comparison is exact at its checkpoint, but one run alone could still meet
//! a dead letter about to be replayed, or a table an operator is fixing), so the tables whose
//! checks differ are resynced (`crate::cdc::snapshot_job`): rows rewritten from one OLTP snapshot,
//! rows OLTP lacks retired. The next compared run says whether it worked; if not,
//! `cdc_reconcile_repair_failed` is 1 (alerted on) until a run is clean. `CDC_RECONCILE_REPAIR=off`
//! only reports.

use std::collections::BTreeSet;

use tokio_postgres::Client;

use super::VerifyReport;
use crate::{
    cdc::{
        error::CdcError,
        snapshot_job::{request_resync, ResyncRequest, StarTable},
    },
    rollups::ROLLUPS,
    tables, telemetry,
};

/// A difference as the next run recognises it: (check, key).
type Seen = BTreeSet<(&'static str, String)>;

/// What the repairer remembers between runs.
#[derive(Debug, Default)]
pub(super) struct Repairer {
    enabled: bool,
    /// The differences of the last compared run.
    last: Seen,
    /// The checks of the repair queued after the last run, until a run compares after it.
    repaired: Option<BTreeSet<&'static str>>,
}

impl Repairer {
    pub(super) fn new(enabled: bool) -> Self {
        metrics::gauge!(telemetry::CDC_RECONCILE_REPAIR_FAILED).set(0.0);
        Repairer { enabled, ..Repairer::default() }
    }

    /// Take a compared run's report: judge the last repair, and repair what persisted.
    pub(super) async fn after_run(&mut self, olap: &Client, report: &VerifyReport) -> Result<(), CdcError> {
        let found: Seen = report.differences.iter().map(|d| (d.check, d.key.clone())).collect();
        if let Some(checks) = self.repaired.take() {
            judge(&checks, &found);
        } else if found.is_empty() {
            metrics::gauge!(telemetry::CDC_RECONCILE_REPAIR_FAILED).set(0.0);
        }
        let persisting: Vec<&(&str, String)> = found.intersection(&self.last).collect();
        if !self.enabled || persisting.is_empty() {
            self.last = found;
            return Ok(());
        }
        let checks: BTreeSet<&'static str> = persisting.iter().map(|(c, _)| *c).collect();
        let targets = owners(&checks);
        let names: Vec<&str> = targets.iter().map(|t| t.name()).collect();
        match request_resync(olap, &targets).await? {
            ResyncRequest::Queued { job_id } => {
                for name in &names {
                    metrics::counter!(telemetry::CDC_RECONCILE_REPAIRS, "table" => *name).increment(1);
                }
                let keys: Vec<String> = persisting.iter().take(10).map(|(c, k)| format!("{c}[{k}]")).collect();
                tracing::warn!(
                    job = job_id,
                    tables = ?names,
                    differences = persisting.len(),
                    found = %keys.join(", "),
                    "reconciliation found the same differences twice: repairing (a resync of the tables that own them)"
                );
                self.repaired = Some(checks);
                self.last.clear();
            }
            ResyncRequest::Busy { job_id, kind } => {
                tracing::info!(job = job_id, kind, "a repair waits for the open snapshot job");
                self.last = found;
            }
        }
        Ok(())
    }
}

/// Say whether the repair of `checks` made them clean.
fn judge(checks: &BTreeSet<&'static str>, found: &Seen) {
    let left: Vec<String> =
        found.iter().filter(|(c, _)| checks.contains(c)).map(|(c, k)| format!("{c}[{k}]")).collect();
    if left.is_empty() {
        metrics::gauge!(telemetry::CDC_RECONCILE_REPAIR_FAILED).set(0.0);
        tracing::info!(checks = ?checks, "repair done: the reconciliation after it is clean for what it repaired");
    } else {
        metrics::gauge!(telemetry::CDC_RECONCILE_REPAIR_FAILED).set(1.0);
        tracing::error!(
            left = %left.iter().take(10).cloned().collect::<Vec<_>>().join(", "),
            "a repair did not make the next reconciliation clean: the warehouse still differs (see docs/OPERATIONS.md)"
        );
    }
}

/// The tables that own `checks`, in load order: a table's own checks, and for a rollup's (named
/// by its table) the table whose facts it summarises (a resync rebuilds the rollups).
fn owners(checks: &BTreeSet<&'static str>) -> Vec<StarTable> {
    let facts: BTreeSet<&str> = ROLLUPS.iter().filter(|r| checks.contains(r.table)).map(|r| r.fact).collect();
    tables::ALL
        .iter()
        .filter(|t| {
            t.checks().iter().any(|c| checks.contains(c.name)) || t.targets().iter().any(|x| facts.contains(x.name))
        })
        .filter_map(|t| StarTable::from_name(t.targets()[0].name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_has_an_owner_that_a_job_rebuilds() {
        for table in tables::ALL.iter() {
            for check in table.checks() {
                let owners = owners(&BTreeSet::from([check.name]));
                assert_eq!(owners.len(), 1, "check {} belongs to one table", check.name);
                assert_eq!(owners[0].name(), table.targets()[0].name);
            }
        }
        for rollup in &ROLLUPS {
            let owners = owners(&BTreeSet::from([rollup.table]));
            assert_eq!(owners.len(), 1, "rollup {} is repaired by one table's resync", rollup.table);
        }
    }
}
