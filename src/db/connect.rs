//! Opening connections and pools.

use tokio_postgres::{Client, NoTls};

use super::{Db, DbError};
use crate::config::{Config, DbTarget};

/// Open one connection and drive it on a background task.
pub async fn connect(config: &Config, db: Db) -> Result<Client, DbError> {
    connect_target(&config.target(db)?, db).await
}

/// Open one connection to an already resolved target.
pub(crate) async fn connect_target(target: &DbTarget, db: Db) -> Result<Client, DbError> {
    let (client, connection) = target.pg.connect(NoTls).await.map_err(|source| DbError::Connect {
        db: db.label(),
        target: target.redacted(),
        setting: target.source,
        source,
    })?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(error = %crate::telemetry::Chain(&error), "database connection closed");
        }
    });
    Ok(client)
}

/// A connection pool (the API's).
pub fn pool(config: &Config, db: Db, size: usize) -> Result<deadpool_postgres::Pool, DbError> {
    let target = config.target(db)?;
    let mgr = deadpool_postgres::Manager::from_config(
        target.pg,
        NoTls,
        deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
    );
    Ok(deadpool_postgres::Pool::builder(mgr).max_size(size).build().expect("pool without runtime-specific options"))
}
