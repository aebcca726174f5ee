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
    Ok(pool_of(config.target(db)?, size))
}

/// A pool of warehouse connections as the read-only `analytics_reader` role (READER_DB_PASSWORD),
/// each session read-only and with a statement timeout: the analytics service's only access.
pub fn reader_pool(config: &Config, size: usize) -> Result<deadpool_postgres::Pool, DbError> {
    let mut target = config.target(Db::Olap)?;
    target
        .pg
        .user(super::roles::names::READER)
        .password(config.reader_db_password.as_str())
        .application_name("brewlytics-analytics")
        .options("-c default_transaction_read_only=on -c statement_timeout=10s");
    Ok(pool_of(target, size))
}

fn pool_of(target: DbTarget, size: usize) -> deadpool_postgres::Pool {
    let mgr = deadpool_postgres::Manager::from_config(
        target.pg,
        NoTls,
        deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
    );
    deadpool_postgres::Pool::builder(mgr).max_size(size).build().expect("pool without runtime-specific options")
}
