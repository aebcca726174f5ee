//! The database roles `brewlytics roles` creates, and their privileges in both databases.
//!
//! | role | OLTP | OLAP |
//! |---|---|---|
//! | `brewlytics_api` | writes the captured (business) tables | cannot connect |
//! | `brewlytics_cdc` | reads the business tables and `cdc_orders`, deletes applied changes (and marks what it pruned in `cdc_pruned`) | writes every table (also later ones), not the migration history |
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
/// the roles on the workers. A role that exists already but is not a distributed object of the
/// warehouse (created through another database, or before the extension) is distributed first
/// ([`distribute_role`]).
pub async fn apply_roles(oltp: &Client, olap: &Client, config: &Config) -> Result<(), DbError> {
    let sql = |step, source| DbError::Sql { step, source };
    super::migrate::quiet(oltp).await?;
    super::migrate::quiet(olap).await?;
    if citus::is_citus(olap).await.map_err(|e| sql("looking for the citus extension", e))? {
        for role in undistributed_roles(olap).await.map_err(|e| sql("checking the roles on Citus", e))? {
            distribute_role(olap, &role)
                .await
                .map_err(|e| sql("distributing an existing role to the Citus workers", e))?;
            tracing::info!(role, "citus: existing role distributed to every node");
        }
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
    for statement in olap_grants() {
        olap.batch_execute(&statement).await.map_err(|e| sql("granting OLAP privileges", e))?;
    }
    grant_database_access(oltp, olap).await
}

/// The warehouse roles that exist but are not distributed objects of the Citus warehouse.
async fn undistributed_roles(olap: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
    let names: Vec<&str> = Role::ALL.into_iter().filter(|r| r.uses(Db::Olap)).map(Role::name).collect();
    let rows = olap
        .query(
            "select r.rolname::text from pg_roles r
             where r.rolname = any($1)
               and not exists (select from pg_dist_object o where o.classid = 'pg_authid'::regclass and o.objid = r.oid)
             order by 1",
            &[&names],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Make an existing role a distributed object of the Citus warehouse: Citus creates (or alters)
/// it on every worker, with its password verifier, when it becomes a member dependency of a
/// distributed role (here a throw-away one, in one transaction). From then on `alter role`
/// reaches the workers too.
async fn distribute_role(olap: &Client, role: &str) -> Result<(), tokio_postgres::Error> {
    olap.batch_execute(&format!(
        "begin;
         create role brewlytics_role_sync nologin;
         grant {role} to brewlytics_role_sync;
         drop role brewlytics_role_sync;
         commit;"
    ))
    .await
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
         grant select, insert, update on cdc_pruned to {cdc};
         grant pg_read_all_stats to {cdc};"
    )
}

/// The OLAP grants, one statement each: they run one by one (each its own transaction), since
/// Citus refuses a schema command after a parallel command on its shards in one transaction.
fn olap_grants() -> Vec<String> {
    let (cdc, reader, dbt) = (Role::Cdc.name(), Role::Reader.name(), Role::Dbt.name());
    [
        "revoke all on schema public from public".to_string(),
        format!("grant usage on schema public to {cdc}, {reader}, {dbt}"),
        format!("grant select, insert, update, delete on all tables in schema public to {cdc}"),
        format!("grant usage on all sequences in schema public to {cdc}"),
        format!("grant execute on function fact_partition_create(regclass, bigint) to {cdc}"),
        format!("grant select on all tables in schema public to {reader}, {dbt}"),
        format!("alter default privileges in schema public grant select, insert, update, delete on tables to {cdc}"),
        format!("alter default privileges in schema public grant usage on sequences to {cdc}"),
        format!("alter default privileges in schema public grant select on tables to {reader}, {dbt}"),
        format!(
            "do $history$ begin
               if to_regclass('refinery_schema_history') is not null then
                 revoke all on refinery_schema_history from {cdc};
               end if;
             end $history$"
        ),
        format!("create schema if not exists marts authorization {dbt}"),
        format!("grant usage on schema marts to {reader}"),
        format!("alter default privileges for role {dbt} in schema marts grant select on tables to {reader}"),
        format!("grant select on all tables in schema marts to {reader}"),
        format!("grant usage on schema brewlytics_v1 to {reader}"),
        format!("grant select on all tables in schema brewlytics_v1 to {reader}"),
    ]
    .into()
}
