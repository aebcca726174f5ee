//! PostgreSQL plumbing shared by every part: connections and pools ([`connect`], [`pool`]),
//! always through the TLS connector of their settings ([`tls`]), the embedded migrations of
//! both databases ([`migrate`]) with the warehouse's distribution on Citus ([`citus`]), the
//! database roles ([`apply_roles`]), and the one classification of PostgreSQL errors
//! ([`classify`]).

mod adopt;
pub(crate) mod citus;
mod classify;
mod connect;
mod embedded;
mod migrate;
mod roles;
pub mod tls;
mod writers;

pub(crate) use classify::{classify, ErrorKind};
pub(crate) use connect::connect_target;
pub use connect::{connect, connect_dsn, connect_raw, pool, reader_pool, Stream};
pub use migrate::migrate;
pub use roles::apply_roles;
pub(crate) use writers::Writer;
pub use writers::WRITERS_LOCK;

use crate::config::ConfigError;
pub use crate::config::Db;
pub use citus::{unplaced as unplaced_on_citus, Misplaced};
pub use roles::{grant_database_access, Role};

/// `application_name`s of the long-running components: `status` finds them in
/// `pg_stat_activity` by the first word (the daemon appends its host and pid) and reports the
/// role each runs as.
pub(crate) mod application {
    pub(crate) const API: &str = "brewlytics-api";
    pub(crate) const CDC: &str = "brewlytics-cdc";
    pub(crate) const ANALYTICS: &str = "brewlytics-analytics";
}

/// Database failures at startup, each naming the setting or step involved.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot connect to the {db} database at {target} (configured by {configured})")]
    Connect {
        db: &'static str,
        target: String,
        /// The settings behind the target ([`crate::config::DbTarget::configured_by`]).
        configured: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("cannot set up TLS to the {db} database (configured by {configured})")]
    Tls {
        db: &'static str,
        configured: String,
        #[source]
        source: Box<tls::TlsError>,
    },
    #[error(
        "migration V{version} '{name}' of the {db} database was changed after it was applied (checksum {applied} in \
         the database, {local} on disk); landed migrations are append-only: restore the file and add a new \
         migration instead"
    )]
    Divergent { db: &'static str, version: i32, name: String, applied: u64, local: u64 },
    #[error(
        "the {db} database is neither empty, ours, nor the original Brewlytics'; nothing was changed. \
         What differs from the original's schema:\n  {}",
        differences.join("\n  ")
    )]
    Foreign { db: &'static str, differences: Vec<String> },
    #[error("migration V{version} is not embedded in this binary")]
    MissingMigration { version: i32 },
    #[error("migrating the {db} database failed")]
    Migrate {
        db: &'static str,
        #[source]
        source: refinery::Error,
    },
    #[error(transparent)]
    Misplaced(citus::Misplaced),
    #[error("{step} failed")]
    Sql {
        step: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
}

impl DbError {
    /// Whether retrying cannot help: a setting is wrong (bad DSN, unusable root certificate), a
    /// certificate does not verify, the server refused TLS or the login (SQLSTATE class 28), or
    /// the database does not exist. A refused or lost connection is not permanent.
    pub fn is_permanent(&self) -> bool {
        match self {
            DbError::Config(_) | DbError::Tls { .. } => true,
            DbError::Connect { source, .. } => match source.code() {
                Some(_) => matches!(classify(source), ErrorKind::Internal | ErrorKind::Unsupported),
                None => tls::is_tls_failure(source) || !has_io_cause(source) && !source.is_closed(),
            },
            _ => false,
        }
    }
}

/// Whether an I/O error (refused, reset, timed out, unresolved) is among the causes.
fn has_io_cause(e: &tokio_postgres::Error) -> bool {
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        if err.is::<std::io::Error>() {
            return true;
        }
        cur = err.source();
    }
    false
}

impl Db {
    /// The name used in messages.
    pub fn label(self) -> &'static str {
        match self {
            Db::Oltp => "OLTP",
            Db::Olap => "OLAP",
        }
    }
}
