//! The embedded refinery migrations of both databases (append-only: a landed file never changes).

use tokio_postgres::Client;

use super::{Db, DbError};

mod oltp_migrations {
    refinery::embed_migrations!("migrations/oltp");
}
mod olap_migrations {
    refinery::embed_migrations!("migrations/olap");
}

/// Apply the pending migrations of one database; a second run is a no-op. Returns how many ran.
pub async fn migrate(client: &mut Client, db: Db) -> Result<usize, DbError> {
    quiet(client).await?;
    let runner = match db {
        Db::Oltp => oltp_migrations::migrations::runner(),
        Db::Olap => olap_migrations::migrations::runner(),
    };
    let report =
        runner.set_abort_divergent(true).set_abort_missing(true).run_async(client).await.map_err(|e| error(db, e))?;
    Ok(report.applied_migrations().len())
}

/// Idempotent DDL (`create … if not exists`, a grant already held) answers with NOTICEs that
/// would be logged on every run: this session only reports warnings and errors.
pub(super) async fn quiet(client: &Client) -> Result<(), DbError> {
    client
        .batch_execute("set client_min_messages = warning")
        .await
        .map_err(|source| DbError::Sql { step: "setting client_min_messages", source })
}

fn error(db: Db, e: refinery::Error) -> DbError {
    match e.kind() {
        refinery::error::Kind::DivergentVersion(applied, local) => DbError::Divergent {
            db: db.label(),
            version: local.version(),
            name: local.name().to_string(),
            applied: applied.checksum(),
            local: local.checksum(),
        },
        _ => DbError::Migrate { db: db.label(), source: e },
    }
}
