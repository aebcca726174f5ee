//! Opening connections and pools: every connection of every command goes through here, with the
//! TLS connector its settings ask for ([`super::tls`]).

use tokio_postgres::{Client, Connection, Socket};

use super::{tls, Db, DbError};
use crate::config::{Config, DbTarget};

/// The stream of a connection (TLS or plain, as negotiated).
pub type Stream = <tls::Connector as tokio_postgres::tls::MakeTlsConnect<Socket>>::Stream;

/// Open one connection and drive it on a background task.
pub async fn connect(config: &Config, db: Db) -> Result<Client, DbError> {
    connect_target(&config.target(db)?, db).await
}

/// Open one connection to a bare DSN (test harnesses, the benchmark's own cluster).
pub async fn connect_dsn(dsn: &str) -> Result<Client, DbError> {
    let target = DbTarget::from_dsn(dsn, "a DSN")?;
    spawn(connect_raw(&target, "PostgreSQL").await?)
}

/// Open one connection to an already resolved target.
pub(crate) async fn connect_target(target: &DbTarget, db: Db) -> Result<Client, DbError> {
    spawn(connect_raw(target, db.label()).await?)
}

/// Open one connection and return it undriven, for a caller that polls its messages itself
/// (LISTEN); `label` names the database in errors.
pub async fn connect_raw(
    target: &DbTarget,
    label: &'static str,
) -> Result<(Client, Connection<Socket, Stream>), DbError> {
    let connector = tls::connector(&target.tls).map_err(|e| tls_error(target, label, e))?;
    target.pg.connect(connector).await.map_err(|source| DbError::Connect {
        db: label,
        target: target.redacted(),
        configured: target.configured_by(),
        source,
    })
}

fn tls_error(target: &DbTarget, label: &'static str, source: tls::TlsError) -> DbError {
    DbError::Tls { db: label, configured: target.configured_by(), source: Box::new(source) }
}

fn spawn((client, connection): (Client, Connection<Socket, Stream>)) -> Result<Client, DbError> {
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(error = %crate::telemetry::Chain(&error), "database connection closed");
        }
    });
    Ok(client)
}

/// A connection pool (the API's) over a resolved target.
pub fn pool(target: &DbTarget, db: Db, size: usize) -> Result<deadpool_postgres::Pool, DbError> {
    let connector = tls::connector(&target.tls).map_err(|e| tls_error(target, db.label(), e))?;
    let mgr = deadpool_postgres::Manager::from_config(
        target.pg.clone(),
        connector,
        deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
    );
    Ok(deadpool_postgres::Pool::builder(mgr).max_size(size).build().expect("pool without runtime-specific options"))
}

/// A pool of warehouse connections as the read-only `analytics_reader` role (READER_DB_PASSWORD,
/// with the TLS settings of the OLAP target), each session read-only and with a statement
/// timeout: the analytics service's only access.
pub fn reader_pool(config: &Config, size: usize) -> Result<deadpool_postgres::Pool, DbError> {
    let mut target = super::Role::Reader.config(config).target(Db::Olap)?;
    target
        .pg
        .application_name(super::application::ANALYTICS)
        .options("-c default_transaction_read_only=on -c statement_timeout=10s");
    pool(&target, Db::Olap, size)
}
