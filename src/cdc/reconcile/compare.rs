//! The comparison: the same aggregates on both sides, per UTC day and in total, compared exactly
//! (numeric sums as text). The warehouse side is read as it is; the OLTP side is read *as of a
//! snapshot* (the checkpoint the warehouse state corresponds to), from inside a later snapshot,
//! by undoing the captured changes in between (their before images are in `cdc_orders`).

use std::collections::{BTreeMap, BTreeSet};

use tokio_postgres::{types::ToSql, GenericClient};

use super::checks::{as_of_prefix, checks, statement};
use crate::rollups::{self, RollupDifference};

/// Which keys to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every key.
    All,
    /// Keys of the last `days` UTC days (and keys without a day), plus the totals over everything.
    RecentDays(u32),
}

impl Scope {
    /// The first `yyyymmdd` day whose keys are compared.
    fn since(self) -> i32 {
        match self {
            Scope::All => i32::MIN,
            Scope::RecentDays(days) => {
                let first = chrono::Utc::now().date_naive() - chrono::Days::new(u64::from(days.saturating_sub(1)));
                first.format("%Y%m%d").to_string().parse().unwrap_or(i32::MIN)
            }
        }
    }
}

/// Each check's rows: key → values as text; on the warehouse side also what the rollups' own
/// check found (none when they are not maintained).
#[derive(Debug, Clone, Default)]
pub(crate) struct Side(Vec<BTreeMap<String, String>>, Option<(Vec<RollupDifference>, usize)>);

/// One value that differs between OLTP and the warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub check: &'static str,
    pub key: String,
    pub oltp: Option<String>,
    pub warehouse: Option<String>,
}

/// The outcome of a reconciliation.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Each check and how many OLTP keys it compared.
    pub checks: Vec<(&'static str, usize)>,
    pub differences: Vec<Difference>,
}

impl VerifyReport {
    /// No differences.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// The warehouse side, read as it is (call it inside the transaction that read the checkpoint).
pub(crate) async fn warehouse_side<C: GenericClient>(olap: &C, scope: Scope) -> Result<Side, tokio_postgres::Error> {
    let since = scope.since();
    let mut side = Side::default();
    for check in checks() {
        side.0.push(rows(olap, &statement("", check, check.olap, 1), &[&since]).await?);
    }
    if rollups::built(olap).await? {
        side.1 = Some(rollups::check(olap, Some(since)).await?);
    }
    Ok(side)
}

/// The OLTP side as of `snapshot` (`pg_snapshot` text), read inside a repeatable-read transaction
/// whose snapshot sees at least as much (every change in between is undone from `cdc_orders`).
pub(crate) async fn oltp_side_as_of<C: GenericClient>(
    oltp: &C,
    snapshot: &str,
    xmin: u64,
    scope: Scope,
) -> Result<Side, tokio_postgres::Error> {
    let (since, xmin) = (scope.since(), xmin.to_string());
    let prefix = as_of_prefix();
    let mut side = Side::default();
    for check in checks() {
        side.0.push(rows(oltp, &statement(&prefix, check, check.oltp, 3), &[&snapshot, &xmin, &since]).await?);
    }
    Ok(side)
}

/// Compare the two sides check by check, then add what the rollups' check found (each rollup
/// against the facts it summarises: `oltp` is what the facts say, `warehouse` the rollup's cell).
pub(crate) fn compare(oltp: &Side, warehouse: &Side) -> VerifyReport {
    let mut report = VerifyReport::default();
    for (i, check) in checks().enumerate() {
        let (truth, seen) = (&oltp.0[i], &warehouse.0[i]);
        report.checks.push((check.name, truth.len()));
        let keys: BTreeSet<&String> = truth.keys().chain(seen.keys()).collect();
        for key in keys {
            let (a, b) = (truth.get(key), seen.get(key));
            if a != b {
                report.differences.push(Difference {
                    check: check.name,
                    key: key.clone(),
                    oltp: a.cloned(),
                    warehouse: b.cloned(),
                });
            }
        }
    }
    if let Some((differences, cells)) = &warehouse.1 {
        report.checks.push(("rollups (against the facts they summarise)", *cells));
        report.differences.extend(differences.iter().map(|d| Difference {
            check: d.table,
            key: d.key.clone(),
            oltp: d.facts.clone(),
            warehouse: d.rollup.clone(),
        }));
    }
    report
}

async fn rows<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<BTreeMap<String, String>, tokio_postgres::Error> {
    let rows = client.query(sql, params).await?;
    Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1).unwrap_or_default())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_days_start_that_many_days_back() {
        assert_eq!(Scope::All.since(), i32::MIN);
        let today: i32 = chrono::Utc::now().format("%Y%m%d").to_string().parse().unwrap();
        assert_eq!(Scope::RecentDays(1).since(), today);
        assert!(Scope::RecentDays(7).since() < today);
    }

    #[test]
    fn no_statement_uses_grouping_sets_or_a_cte_column_list() {
        for check in checks() {
            for sql in [statement("", check, check.olap, 1), statement(&as_of_prefix(), check, check.oltp, 3)] {
                assert!(!sql.to_lowercase().contains("grouping sets"), "{sql}");
                // Citus drops a CTE's column list over a union of reference tables.
                assert!(!sql.contains("q(day"), "{sql}");
                assert!(sql.contains(") s(day, k, v1"), "{sql}");
            }
        }
    }
}
