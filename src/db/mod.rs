//! PostgreSQL plumbing shared by every part: connections and pools ([`connect`], [`pool`]),
//! the embedded migrations of both databases ([`migrate`]), the database roles
//! ([`apply_roles`]), and the one classification of PostgreSQL errors ([`classify`]).

mod adopt;
mod classify;
mod connect;
mod migrate;
mod roles;

pub(crate) use classify::{classify, ErrorKind};
pub(crate) use connect::connect_target;
pub use connect::{connect, pool};
pub use migrate::migrate;
pub use roles::apply_roles;

use crate::config::ConfigError;
pub use crate::config::Db;

/// Database failures at startup, each naming the setting or step involved.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot connect to the {db} database at {target} (configured by {setting})")]
    Connect {
        db: &'static str,
        target: String,
        setting: &'static str,
        #[source]
        source: tokio_postgres::Error,
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
    #[error("{step} failed")]
    Sql {
        step: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
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
