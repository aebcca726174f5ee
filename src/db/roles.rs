//! The database roles `brewlytics roles` creates, and their privileges in both databases.

use tokio_postgres::Client;

use super::DbError;
use crate::config::Config;

/// Names of the roles `brewlytics roles` manages.
pub(crate) mod names {
    pub(crate) const API: &str = "brewlytics_api";
    pub(crate) const CDC: &str = "brewlytics_cdc";
    pub(crate) const READER: &str = "analytics_reader";
    pub(crate) const DBT: &str = "brewlytics_dbt";
}

/// Create (or update the passwords of) the four roles and grant their privileges in both databases.
pub async fn apply_roles(oltp: &Client, olap: &Client, config: &Config) -> Result<(), DbError> {
    let sql = |step, source| DbError::Sql { step, source };
    super::migrate::quiet(oltp).await?;
    super::migrate::quiet(olap).await?;
    for (role, password) in [
        (names::API, &config.api_db_password),
        (names::CDC, &config.cdc_db_password),
        (names::READER, &config.reader_db_password),
        (names::DBT, &config.dbt_db_password),
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
    use names::*;
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
    use names::*;
    format!(
        "revoke all on schema public from public;
         grant usage on schema public to {CDC}, {READER}, {DBT};
         grant select, insert, update, delete on all tables in schema public to {CDC};
         grant usage on all sequences in schema public to {CDC};
         grant select on all tables in schema public to {READER}, {DBT};
         create schema if not exists marts authorization {DBT};
         grant usage on schema marts to {READER};
         alter default privileges for role {DBT} in schema marts grant select on tables to {READER};
         grant select on all tables in schema marts to {READER};
         grant usage on schema brewlytics_v1 to {READER};
         grant select on all tables in schema brewlytics_v1 to {READER};"
    )
}
