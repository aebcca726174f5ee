//! Benchmarks (functions, not tests): each measures one figure and the baseline it is judged by,
//! in the same run on the same machine, so the ratio means something even on a noisy box.
//!
//! [`run::run`] is `brewlytics bench`: it starts a private durable PostgreSQL, clones a migrated
//! and seeded pair of databases for each scenario, and runs the scenarios in order:
//! [`drain`], [`freshness`] (also `longtx`), [`gate`], [`api`], [`snapshot`] and [`capture`]. [`analytics`] (endpoint
//! latencies on a year of sales) runs only when asked for by name. `drain` and `snapshot` also
//! run into a warehouse on another server (a Citus cluster) when given `--olap-url` ([`scratch`]).

mod analytics;
mod analytics_fill;
pub mod api;
mod bulk;
mod capture;
mod daemon;
mod dbt;
mod drain;
mod env;
mod freshness;
mod gate;
pub mod report;
pub mod run;
mod scratch;
mod snapshot;
mod workload;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Seed(#[from] crate::tools::seed::SeedError),
    #[error(transparent)]
    Cluster(#[from] crate::tools::cluster::ClusterError),
    #[error(transparent)]
    Load(#[from] crate::tools::load::LoadError),
    #[error("database query failed")]
    Sql(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Cdc(#[from] crate::cdc::CdcError),
    #[error("i/o failed")]
    Io(#[from] std::io::Error),
    #[error("pgbench failed: {0}")]
    Pgbench(String),
    #[error("the cdc daemon under test failed: {0}")]
    Daemon(String),
    #[error("dbt failed: {0}")]
    Dbt(String),
    #[error("the scratch warehouse: {0}")]
    Scratch(String),
    #[error("the analytics service under test failed: {0}")]
    Analytics(String),
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout { what: &'static str, seconds: u64 },
    #[error("writing the JSON report failed")]
    Json(#[from] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use super::BenchError;
    use crate::telemetry::Chain;

    #[test]
    fn a_cause_is_printed_once() {
        let io = BenchError::from(std::io::Error::other("disk full"));
        assert_eq!(Chain(&io).to_string(), "i/o failed: disk full");
        let json = BenchError::from(serde_json::from_str::<u8>("x").unwrap_err());
        assert_eq!(Chain(&json).to_string().matches("expected value").count(), 1, "{}", Chain(&json));
    }
}
