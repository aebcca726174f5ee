//! A scratch warehouse on another server (`bench drain|snapshot --olap-url URL`): a new database
//! beside the one the URL names, never that one. When the URL's database has the `citus`
//! extension, the new database gets it too, on the coordinator and on every worker it lists, and
//! the same workers; so the scenario runs on the same cluster layout. Dropped everywhere after.
//! The URL's role must be allowed to create databases (and the extension) on every node.

use std::str::FromStr;

use tokio_postgres::{config::Host, config::SslMode, Client, Config};

use super::{env::connect, BenchError};

/// A database created for one scenario run.
pub(crate) struct Scratch {
    name: String,
    /// The coordinator (or the one server), then the workers, as `(host, port)`.
    nodes: Vec<(String, u16)>,
    pg: Config,
    /// The scratch database's DSN.
    pub dsn: String,
}

impl Scratch {
    /// Create database `name` beside the one `url` names (and on its Citus workers).
    pub(crate) async fn create(url: &str, name: &str) -> Result<Self, BenchError> {
        let pg = Config::from_str(url).map_err(|e| BenchError::Scratch(format!("--olap-url: {e}")))?;
        let (host, port) = match (pg.get_hosts().first(), pg.get_ports().first()) {
            (Some(Host::Tcp(h)), p) => (h.clone(), p.copied().unwrap_or(5432)),
            _ => return Err(BenchError::Scratch("--olap-url needs a TCP host".into())),
        };
        let origin = connect(url).await?;
        let workers = workers(&origin).await?;
        let mut nodes = vec![(host, port)];
        nodes.extend(workers.iter().cloned());
        let scratch = Scratch { name: name.to_string(), dsn: dsn(&pg, &nodes[0], name), nodes, pg };
        for node in &scratch.nodes {
            connect(&dsn(&scratch.pg, node, "postgres"))
                .await?
                .batch_execute(&format!("create database \"{name}\""))
                .await?;
        }
        if !workers.is_empty() {
            let passwords = authinfo(&origin).await?;
            for node in &scratch.nodes {
                let client = connect(&dsn(&scratch.pg, node, name)).await?;
                client.batch_execute("create extension citus").await?;
                for (nodeid, role, info) in &passwords {
                    client
                        .execute(
                            "insert into pg_dist_authinfo (nodeid, rolename, authinfo) values ($1, $2, $3)",
                            &[nodeid, role, info],
                        )
                        .await?;
                }
            }
            let coordinator = connect(&scratch.dsn).await?;
            let (h, p) = &scratch.nodes[0];
            coordinator.execute("select citus_set_coordinator_host($1, $2)", &[h, &i32::from(*p)]).await?;
            for (h, p) in &workers {
                coordinator.execute("select citus_add_node($1, $2)", &[h, &i32::from(*p)]).await?;
            }
        }
        tracing::info!(database = name, nodes = scratch.nodes.len(), "bench: scratch warehouse created");
        Ok(scratch)
    }

    /// [`Scratch::create`] for `scenario`, with the warehouse migrated (so distributed on Citus).
    pub(crate) async fn migrated(url: &str, scenario: &str) -> Result<Self, BenchError> {
        let scratch = Scratch::create(url, &format!("bench_{scenario}_{}", std::process::id())).await?;
        let mut olap = connect(&scratch.dsn).await?;
        if let Err(e) = crate::db::migrate(&mut olap, crate::config::Db::Olap).await {
            scratch.drop_all().await?;
            return Err(e.into());
        }
        Ok(scratch)
    }

    /// Drop the database on every node.
    pub(crate) async fn drop_all(self) -> Result<(), BenchError> {
        for node in &self.nodes {
            connect(&dsn(&self.pg, node, "postgres"))
                .await?
                .batch_execute(&format!("drop database if exists \"{}\" with (force)", self.name))
                .await?;
        }
        Ok(())
    }
}

/// How the nodes of `origin`'s cluster authenticate to each other when that is set in the
/// database (`pg_dist_authinfo`, per database, readable by superusers only): its rows for every
/// node (node id 0, or -1 for the local node), which the scratch database needs to reach its
/// workers. None when the role may not read them (the cluster then authenticates otherwise, for
/// example with the server's `.pgpass`). Rows for one node are not copied: node ids differ
/// between databases.
async fn authinfo(origin: &Client) -> Result<Vec<(i32, String, String)>, BenchError> {
    let rows = match origin.query("select nodeid, rolename::text, authinfo from pg_dist_authinfo", &[]).await {
        Ok(rows) => rows,
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let (all, one): (Vec<_>, Vec<_>) = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).partition(|r| r.0 <= 0);
    if !one.is_empty() {
        tracing::warn!(
            rows = one.len(),
            "bench: pg_dist_authinfo rows for single nodes are not copied to the scratch warehouse"
        );
    }
    Ok(all)
}

/// The active primary workers a Citus coordinator lists (none without the extension).
async fn workers(client: &Client) -> Result<Vec<(String, u16)>, BenchError> {
    if !crate::db::citus::is_citus(client).await? {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "select nodename, nodeport from pg_dist_node
             where groupid <> 0 and noderole = 'primary' and isactive order by nodeid",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1) as u16)).collect())
}

/// A key/value DSN for `dbname` on `node` with `pg`'s role, password and TLS mode.
fn dsn(pg: &Config, (host, port): &(String, u16), dbname: &str) -> String {
    let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut parts = vec![
        format!("host={}", quote(host)),
        format!("port={port}"),
        format!("dbname={}", quote(dbname)),
        format!(
            "sslmode={}",
            match pg.get_ssl_mode() {
                SslMode::Disable => "disable",
                SslMode::Prefer => "prefer",
                _ => "require",
            }
        ),
    ];
    if let Some(user) = pg.get_user() {
        parts.push(format!("user={}", quote(user)));
    }
    if let Some(password) = pg.get_password() {
        parts.push(format!("password={}", quote(&String::from_utf8_lossy(password))));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_dsn_keeps_the_role_and_quotes_what_needs_it() {
        let pg = Config::from_str("postgresql://brew:it's@coord:9700/coffee_olap?sslmode=disable").unwrap();
        let d = dsn(&pg, &("w1".into(), 9701), "bench_x");
        assert_eq!(d, "host='w1' port=9701 dbname='bench_x' sslmode=disable user='brew' password='it\\'s'");
        let back = Config::from_str(&d).unwrap();
        assert_eq!((back.get_dbname(), back.get_password()), (Some("bench_x"), Some(&b"it's"[..])));
    }
}
