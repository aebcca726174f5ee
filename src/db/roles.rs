//! The database roles `brewlytics roles` creates, and their privileges in both databases.
//!
//! | role | OLTP | OLAP |
//! |---|---|---|
//! | `brewlytics_api` | writes the captured (business) tables | cannot connect |
//! | `brewlytics_cdc` | reads the business tables and `cdc_orders`, deletes applied changes | writes every table (also later ones), not the migration history |
//! | `analytics_reader` | cannot connect | reads `public`, `marts` and the original's views (`brewlytics_v1`) |
//! | `brewlytics_dbt` | cannot connect | reads `public`, owns `marts` |
//!
//! Nothing but the capture functions (SECURITY DEFINER, owned by the migrating role) writes
//! `cdc_orders`. Run `roles` after `migrate`, as the same (owning) role: the business tables
//! are found by their capture triggers, and default privileges extend the OLAP grants to the
//! tables later migrations add.

use tokio_postgres::Client;

use super::{citus, Db, DbError};
use crate::config::{Config, Secret};

/// A role `brewlytics roles` manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The order API.
    Api,
    /// The CDC daemon.
    Cdc,
    /// Read-only readers of the warehouse (Metabase, analytics).
    Reader,
    /// dbt.
    Dbt,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Api, Role::Cdc, Role::Reader, Role::Dbt];

    /// The role's name in PostgreSQL.
    pub fn name(self) -> &'static str {
        match self {
            Role::Api => "brewlytics_api",
            Role::Cdc => "brewlytics_cdc",
            Role::Reader => "analytics_reader",
            Role::Dbt => "brewlytics_dbt",
        }
    }

    /// The setting of its password, and the password.
    pub fn password(self, config: &Config) -> (&'static str, &Secret) {
        match self {
            Role::Api => ("API_DB_PASSWORD", &config.api_db_password),
            Role::Cdc => ("CDC_DB_PASSWORD", &config.cdc_db_password),
            Role::Reader => ("READER_DB_PASSWORD", &config.reader_db_password),
            Role::Dbt => ("DBT_DB_PASSWORD", &config.dbt_db_password),
        }
    }

    /// `config`, connecting to both databases as this role (how `up` runs each component).
    pub fn config(self, config: &Config) -> Config {
        let (setting, password) = self.password(config);
        config.clone().connect_as(self.name(), password.clone(), setting)
    }

    /// Whether the role works in `db` (it is created on that server and may connect to it).
    fn uses(self, db: Db) -> bool {
        matches!((self, db), (Role::Api | Role::Cdc, Db::Oltp) | (Role::Cdc | Role::Reader | Role::Dbt, Db::Olap))
    }
}

/// Create (or update the passwords of) the roles on each server and grant their privileges in
/// both databases. The two databases may be on different servers.
///
/// On a Citus warehouse the roles are created through the warehouse connection first: Citus
/// propagates a `create role` run in a database with its extension to every worker (and later
/// password changes of such a role), never one run elsewhere, and the grants on the shards need
/// the roles on the workers. A role that already exists on the coordinator only is refused by
/// name ([`DbError::RoleNotOnWorkers`]).
pub async fn apply_roles(oltp: &Client, olap: &Client, config: &Config) -> Result<(), DbError> {
    let sql = |step, source| DbError::Sql { step, source };
    let on_citus = citus::is_citus(olap).await.map_err(|e| sql("looking for the citus extension", e))?;
    if on_citus {
        refuse_roles_only_on_the_coordinator(olap).await?;
    }
    // Each role gets one verifier, so both servers (or one server seen twice) store the same.
    let verifiers: Vec<(Role, String)> =
        Role::ALL.into_iter().map(|r| (r, scram_verifier(r.password(config).1))).collect();
    for (client, db) in [(olap, Db::Olap), (oltp, Db::Oltp)] {
        for (role, verifier) in verifiers.iter().filter(|(r, _)| r.uses(db)) {
            client.batch_execute(&create_role(*role, verifier)).await.map_err(|e| sql("creating roles", e))?;
        }
    }
    oltp.batch_execute(&oltp_grants()).await.map_err(|e| sql("granting OLTP privileges", e))?;
    olap.batch_execute(&olap_grants()).await.map_err(|e| sql("granting OLAP privileges", e))?;
    grant_database_access(oltp, olap).await
}

/// On Citus: fail on a warehouse role that exists but is not a distributed object (it was created
/// through a database without Citus, so it is missing on the workers, and `alter role` does not
/// propagate it).
async fn refuse_roles_only_on_the_coordinator(olap: &Client) -> Result<(), DbError> {
    let names: Vec<&str> = Role::ALL.into_iter().filter(|r| r.uses(Db::Olap)).map(Role::name).collect();
    let rows = olap
        .query(
            "select r.rolname::text from pg_roles r
             where r.rolname = any($1)
               and not exists (select from pg_dist_object o
                               where o.classid = 'pg_authid'::regclass and o.objid = r.oid)
             order by 1",
            &[&names],
        )
        .await
        .map_err(|source| DbError::Sql { step: "checking the roles on Citus", source })?;
    match rows.first() {
        None => Ok(()),
        Some(row) => Err(DbError::RoleNotOnWorkers { role: row.get(0) }),
    }
}

/// Only the roles that work in a database may connect to it (CONNECT revoked from PUBLIC). A
/// database cloned from a template does not inherit this: the test harness applies it to each.
pub async fn grant_database_access(oltp: &Client, olap: &Client) -> Result<(), DbError> {
    for (client, db) in [(oltp, Db::Oltp), (olap, Db::Olap)] {
        let roles: Vec<&str> = Role::ALL.into_iter().filter(|r| r.uses(db)).map(Role::name).collect();
        let stmt = format!(
            "do $grant$ begin
               execute format('revoke connect on database %I from public', current_database());
               execute format('grant connect on database %I to {}', current_database());
             end $grant$",
            roles.join(", ")
        );
        client.batch_execute(&stmt).await.map_err(|source| DbError::Sql { step: "granting CONNECT", source })?;
    }
    Ok(())
}

/// The SCRAM verifier of `password`: the only form of it that reaches a server (and its
/// statement log).
fn scram_verifier(password: &Secret) -> String {
    postgres_protocol::password::scram_sha_256(password.expose().as_bytes())
}

/// Create or alter a login role with its SCRAM `verifier`.
fn create_role(role: Role, verifier: &str) -> String {
    let role = role.name();
    format!(
        "do $role$ begin
           if not exists (select from pg_roles where rolname = '{role}') then
             create role {role} login password '{verifier}';
           else
             alter role {role} login password '{verifier}';
           end if;
         end $role$"
    )
}

fn oltp_grants() -> String {
    let (api, cdc) = (Role::Api.name(), Role::Cdc.name());
    // The business tables are the captured ones (cdc_capture_table), so a table a later migration
    // captures is granted too when `roles` runs again.
    format!(
        "revoke all on schema public from public;
         grant usage on schema public to {api}, {cdc};
         do $grants$ declare t regclass; s text; begin
           for t in select distinct tgrelid::regclass from pg_trigger where tgname = 'cdc_capture_i' loop
             execute format('grant select, insert, update, delete on %s to {api}', t);
             execute format('grant select on %s to {cdc}', t);
             s := pg_get_serial_sequence(t::text, 'id');
             if s is not null then execute format('grant usage on sequence %s to {api}', s); end if;
           end loop;
         end $grants$;
         grant select, delete on cdc_orders to {cdc};
         grant pg_read_all_stats to {cdc};"
    )
}

fn olap_grants() -> String {
    let (cdc, reader, dbt) = (Role::Cdc.name(), Role::Reader.name(), Role::Dbt.name());
    format!(
        "revoke all on schema public from public;
         grant usage on schema public to {cdc}, {reader}, {dbt};
         grant select, insert, update, delete on all tables in schema public to {cdc};
         grant usage on all sequences in schema public to {cdc};
         grant select on all tables in schema public to {reader}, {dbt};
         alter default privileges in schema public grant select, insert, update, delete on tables to {cdc};
         alter default privileges in schema public grant usage on sequences to {cdc};
         alter default privileges in schema public grant select on tables to {reader}, {dbt};
         do $history$ begin
           if to_regclass('refinery_schema_history') is not null then
             revoke all on refinery_schema_history from {cdc};
           end if;
         end $history$;
         create schema if not exists marts authorization {dbt};
         grant usage on schema marts to {reader};
         alter default privileges for role {dbt} in schema marts grant select on tables to {reader};
         grant select on all tables in schema marts to {reader};
         grant usage on schema brewlytics_v1 to {reader};
         grant select on all tables in schema brewlytics_v1 to {reader};"
    )
}
