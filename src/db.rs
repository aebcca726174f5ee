//! Connections, migrations (refinery, both databases) and database roles.

use tokio_postgres::{Client, NoTls};

pub use crate::config::Db;

use crate::config::{Config, ConfigError, DbTarget};

mod oltp_migrations {
    refinery::embed_migrations!("migrations/oltp");
}
mod olap_migrations {
    refinery::embed_migrations!("migrations/olap");
}

/// Database failures at startup, each naming the setting or step involved.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot connect to the {db} database at {target} (configured by {setting}): {cause}")]
    Connect { db: &'static str, target: String, setting: &'static str, cause: String },
    #[error("migrating the {db} database failed: {cause}")]
    Migrate { db: &'static str, cause: String },
    #[error("{step} failed: {source}")]
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

/// Open one connection and drive it on a background task.
pub async fn connect(config: &Config, db: Db) -> Result<Client, DbError> {
    connect_target(&config.target(db)?, db).await
}

/// Open one connection to an already resolved target.
pub async fn connect_target(target: &DbTarget, db: Db) -> Result<Client, DbError> {
    let (client, connection) = target.pg.connect(NoTls).await.map_err(|e| DbError::Connect {
        db: db.label(),
        target: target.redacted(),
        setting: target.source,
        cause: root_cause(&e),
    })?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(error = %error, "database connection closed");
        }
    });
    Ok(client)
}

/// A connection pool for the API.
pub fn pool(config: &Config, db: Db, size: usize) -> Result<deadpool_postgres::Pool, DbError> {
    let target = config.target(db)?;
    let mgr = deadpool_postgres::Manager::from_config(
        target.pg,
        NoTls,
        deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
    );
    Ok(deadpool_postgres::Pool::builder(mgr).max_size(size).build().expect("pool without runtime-specific options"))
}

/// The innermost error message (e.g. "Connection refused"), without the wrapper noise.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        msg = s.to_string();
        cur = s.source();
    }
    msg
}

/// Apply the pending migrations of one database; a second run is a no-op. Returns how many ran.
pub async fn migrate(client: &mut Client, db: Db) -> Result<usize, DbError> {
    let runner = match db {
        Db::Oltp => oltp_migrations::migrations::runner(),
        Db::Olap => olap_migrations::migrations::runner(),
    };
    let report = runner
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run_async(client)
        .await
        .map_err(|e| DbError::Migrate { db: db.label(), cause: migrate_cause(&e) })?;
    Ok(report.applied_migrations().len())
}

fn migrate_cause(e: &refinery::Error) -> String {
    match e.kind() {
        refinery::error::Kind::DivergentVersion(applied, local) => format!(
            "migration V{} '{}' was changed after it was applied (checksum {} in the database, {} on disk); \
             landed migrations are append-only: restore the file and add a new migration instead",
            local.version(),
            local.name(),
            applied.checksum(),
            local.checksum()
        ),
        _ => format!("{e}"),
    }
}

/// Names of the roles `brewlytics roles` manages.
pub mod roles {
    pub const API: &str = "brewlytics_api";
    pub const CDC: &str = "brewlytics_cdc";
    pub const READER: &str = "analytics_reader";
    pub const DBT: &str = "brewlytics_dbt";
}

/// Create (or update the passwords of) the four roles and grant their privileges in both databases.
pub async fn apply_roles(oltp: &Client, olap: &Client, config: &Config) -> Result<(), DbError> {
    let sql = |step, source| DbError::Sql { step, source };
    for (role, password) in [
        (roles::API, &config.api_db_password),
        (roles::CDC, &config.cdc_db_password),
        (roles::READER, &config.reader_db_password),
        (roles::DBT, &config.dbt_db_password),
    ] {
        let literal = password.replace('\'', "''");
        let stmt = format!(
            "do $$ begin
               if not exists (select from pg_roles where rolname = '{role}') then
                 create role {role} login password '{literal}';
               else
                 alter role {role} login password '{literal}';
               end if;
             end $$"
        );
        oltp.batch_execute(&stmt).await.map_err(|e| sql("creating roles", e))?;
    }
    oltp.batch_execute(&oltp_grants()).await.map_err(|e| sql("granting OLTP privileges", e))?;
    olap.batch_execute(&olap_grants()).await.map_err(|e| sql("granting OLAP privileges", e))?;
    Ok(())
}

const BUSINESS_TABLES: &str =
    "stores, customers, products, employees, orders, order_items, payments, inventory, inventory_movements";

fn oltp_grants() -> String {
    use roles::*;
    format!(
        "revoke all on schema public from public;
         grant usage on schema public to {API}, {CDC};
         grant select, insert, update, delete on {BUSINESS_TABLES} to {API};
         grant usage on all sequences in schema public to {API};
         grant select on {BUSINESS_TABLES} to {CDC};
         grant select, delete on cdc_orders to {CDC};
         grant pg_read_all_stats to {CDC};"
    )
}

fn olap_grants() -> String {
    use roles::*;
    format!(
        "revoke all on schema public from public;
         grant usage on schema public to {CDC}, {READER}, {DBT};
         grant select, insert, update, delete on all tables in schema public to {CDC};
         grant usage on all sequences in schema public to {CDC};
         grant select on all tables in schema public to {READER}, {DBT};
         create schema if not exists marts authorization {DBT};
         grant usage on schema marts to {READER};
         alter default privileges for role {DBT} in schema marts grant select on tables to {READER};
         grant select on all tables in schema marts to {READER};"
    )
}
