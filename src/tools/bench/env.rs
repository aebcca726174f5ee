//! The benchmark's PostgreSQL: one private durable cluster (fsync on, synchronous commit) holding
//! both OLTP and OLAP databases on the same machine, and migrated templates to clone a fresh
//! pair of databases from for each scenario.

use std::{path::Path, time::Duration};

use tokio_postgres::Client;

use super::BenchError;
use crate::{
    config::{Config, Db},
    db,
    tools::cluster::{ClusterOptions, PrivateCluster, DEFAULT_HBA, REPLICATION_HBA},
};

const TPL_OLTP: &str = "bench_tpl_oltp";
const TPL_OLAP: &str = "bench_tpl_olap";

/// The running cluster and its templates (OLTP migrated and seeded, OLAP migrated).
pub(crate) struct BenchEnv {
    cluster: PrivateCluster,
    next: std::sync::atomic::AtomicU32,
}

/// A fresh pair of databases for one scenario.
#[derive(Debug, Clone)]
pub(crate) struct DbPair {
    pub config: Config,
    pub oltp_dsn: String,
    pub olap_dsn: String,
}

impl DbPair {
    pub(crate) async fn oltp(&self) -> Result<Client, BenchError> {
        connect(&self.oltp_dsn).await
    }

    pub(crate) async fn olap(&self) -> Result<Client, BenchError> {
        connect(&self.olap_dsn).await
    }
}

impl BenchEnv {
    /// Start the cluster in `dir` (removed when this is dropped) and build the templates.
    pub(super) async fn start(dir: &Path) -> Result<Self, BenchError> {
        // Replication allowed: the gate scenario streams a standby of this cluster.
        let hba = DEFAULT_HBA.iter().copied().chain([REPLICATION_HBA]).map(String::from).collect();
        let opts =
            ClusterOptions { dir: dir.to_path_buf(), durable: true, remove_on_drop: true, hba, ..Default::default() };
        let cluster = tokio::task::spawn_blocking(move || PrivateCluster::start(opts))
            .await
            .map_err(|e| BenchError::Daemon(format!("cluster start panicked: {e}")))??;
        let env = BenchEnv { cluster, next: 0.into() };
        let admin = connect(&env.dsn("postgres")).await?;
        for name in [TPL_OLTP, TPL_OLAP] {
            admin.batch_execute(&format!("create database {name}")).await?;
        }
        let mut oltp = connect(&env.dsn(TPL_OLTP)).await?;
        let mut olap = connect(&env.dsn(TPL_OLAP)).await?;
        db::migrate(&mut oltp, Db::Oltp).await?;
        db::migrate(&mut olap, Db::Olap).await?;
        crate::tools::seed::seed(&mut oltp).await?;
        // Scenarios should not pay for the template build's dirty buffers.
        oltp.batch_execute("checkpoint").await?;
        Ok(env)
    }

    /// A streaming standby of the cluster in `dir`, named `application_name` (removed when dropped).
    pub(super) fn start_standby(&self, dir: &Path, application_name: &str) -> Result<PrivateCluster, BenchError> {
        let opts = ClusterOptions { dir: dir.to_path_buf(), durable: true, remove_on_drop: true, ..Default::default() };
        // pg_basebackup and pg_ctl block: keep them off the runtime's other tasks.
        Ok(tokio::task::block_in_place(|| self.cluster.start_standby(opts, application_name))?)
    }

    /// A superuser DSN for database `db`.
    pub(super) fn dsn(&self, db: &str) -> String {
        self.cluster.state.dsn(db)
    }

    /// Clone both templates into a new pair named after `scenario`.
    pub(crate) async fn fresh_pair(&self, scenario: &str) -> Result<DbPair, BenchError> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (oltp, olap) = (format!("{scenario}_{n}_oltp"), format!("{scenario}_{n}_olap"));
        let admin = connect(&self.dsn("postgres")).await?;
        for (name, tpl) in [(&oltp, TPL_OLTP), (&olap, TPL_OLAP)] {
            clone_database(&admin, name, tpl).await?;
        }
        let mut config = Config::defaults();
        let (oltp_dsn, olap_dsn) = (self.dsn(&oltp), self.dsn(&olap));
        config.oltp_database_url = Some(oltp_dsn.clone().into());
        config.olap_database_url = Some(olap_dsn.clone().into());
        config.oltp_db = oltp;
        config.olap_db = olap;
        Ok(DbPair { config, oltp_dsn, olap_dsn })
    }

    /// A pair whose OLTP is a copy of `from`'s (no session may be open on it) and whose warehouse
    /// is new: the same backlog drained again under other settings.
    pub(crate) async fn copy_pair(&self, from: &DbPair, scenario: &str) -> Result<DbPair, BenchError> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (oltp, olap) = (format!("{scenario}_{n}_oltp"), format!("{scenario}_{n}_olap"));
        let admin = connect(&self.dsn("postgres")).await?;
        clone_database(&admin, &oltp, &from.config.oltp_db).await?;
        clone_database(&admin, &olap, TPL_OLAP).await?;
        let mut config = Config::defaults();
        let (oltp_dsn, olap_dsn) = (self.dsn(&oltp), self.dsn(&olap));
        config.oltp_database_url = Some(oltp_dsn.clone().into());
        config.olap_database_url = Some(olap_dsn.clone().into());
        config.oltp_db = oltp;
        config.olap_db = olap;
        Ok(DbPair { config, oltp_dsn, olap_dsn })
    }

    /// A clone of the seeded OLTP template only (for the capture scenario).
    pub(crate) async fn fresh_oltp(&self, name: &str) -> Result<String, BenchError> {
        self.fresh_db(name, TPL_OLTP).await
    }

    async fn fresh_db(&self, name: &str, tpl: &str) -> Result<String, BenchError> {
        let admin = connect(&self.dsn("postgres")).await?;
        clone_database(&admin, name, tpl).await?;
        Ok(self.dsn(name))
    }
}

/// `create database name template tpl`, retried while a closing session still holds the template.
async fn clone_database(admin: &Client, name: &str, tpl: &str) -> Result<(), BenchError> {
    let sql = format!("create database \"{name}\" template \"{tpl}\"");
    let mut tries = 0;
    loop {
        match admin.batch_execute(&sql).await {
            Ok(()) => return Ok(()),
            Err(e) if tries < 50 => {
                tries += 1;
                tracing::debug!(error = %e, "template busy, retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Connect to a DSN and drive the connection in the background.
pub(super) async fn connect(dsn: &str) -> Result<Client, BenchError> {
    Ok(db::connect_dsn(dsn).await?)
}

/// Machine facts for the report.
pub(crate) async fn machine(client: &Client) -> Result<serde_json::Value, BenchError> {
    let row = client
        .query_one(
            "select version(), current_setting('shared_buffers'), current_setting('fsync'),
                    current_setting('synchronous_commit'), current_setting('full_page_writes'),
                    current_setting('max_wal_size')",
            &[],
        )
        .await?;
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse::<u64>().ok());
    Ok(serde_json::json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory_mib": mem_kib.map(|k| k / 1024),
        "postgres": row.get::<_, String>(0),
        "shared_buffers": row.get::<_, String>(1),
        "fsync": row.get::<_, String>(2),
        "synchronous_commit": row.get::<_, String>(3),
        "full_page_writes": row.get::<_, String>(4),
        "max_wal_size": row.get::<_, String>(5),
        "note": "OLTP and OLAP databases, the daemon and the load driver share one machine",
    }))
}
