//! The embedded refinery migrations of both databases (append-only: a landed file never changes).

use tokio_postgres::Client;

use super::{adopt, citus, embedded, Db, DbError};

/// Apply the pending migrations of one database; a second run is a no-op. Returns how many ran.
/// A database of the original Brewlytics is adopted first; one that is neither empty, ours nor
/// the original's is refused, untouched, with every difference named. A warehouse with the
/// `citus` extension is then distributed ([`citus::distribute`], idempotent).
pub async fn migrate(client: &mut Client, db: Db) -> Result<usize, DbError> {
    quiet(client).await?;
    match adopt::inspect(client, db).await? {
        adopt::Found::Empty | adopt::Found::Ours => {}
        adopt::Found::Original => adopt::adopt(client, db).await?,
        adopt::Found::Other(differences) => return Err(DbError::Foreign { db: db.label(), differences }),
    }
    let runner = match db {
        Db::Oltp => embedded::oltp(),
        Db::Olap => embedded::olap(),
    };
    let report =
        runner.set_abort_divergent(true).set_abort_missing(true).run_async(client).await.map_err(|e| error(db, e))?;
    if db == Db::Olap {
        if let Some(d) = citus::distribute(client).await? {
            tracing::info!(placed = d.placed.len(), already = d.already, "citus: the warehouse is distributed");
        }
    }
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
