//! The refinery migrations of both databases, embedded in the binary at build time.

use super::DbError;

mod oltp_migrations {
    refinery::embed_migrations!("migrations/oltp");
}
mod olap_migrations {
    refinery::embed_migrations!("migrations/olap");
}

pub(super) fn oltp() -> refinery::Runner {
    oltp_migrations::migrations::runner()
}

pub(super) fn olap() -> refinery::Runner {
    olap_migrations::migrations::runner()
}

/// Our OLTP migration `version`, as embedded.
pub(super) fn oltp_migration(version: i32) -> Result<refinery::Migration, DbError> {
    let found = oltp().get_migrations().iter().find(|m| m.version() == version).cloned();
    found.ok_or(DbError::MissingMigration { version })
}
