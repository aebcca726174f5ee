//! `brewlytics status`: where the daemon is, from the databases alone (works with no daemon).

use std::collections::BTreeMap;

use serde::Serialize;
use tokio_postgres::Client;

use super::monitor;
use crate::cdc::{
    error::CdcError,
    snapshot_job::{self, JobProgress},
    stream::{checkpoint, lock::LOCK_KEY},
};
use crate::dead_letter;

/// The daemon's state as `status --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub applied_changes: i64,
    pub batches: i64,
    pub backlog: i64,
    pub lag_seconds: f64,
    pub oldest_open_transaction_seconds: f64,
    pub dead_letters: i64,
    /// `application_name` of the daemon holding the apply lock, if one is active.
    pub active: Option<String>,
    pub window_start: String,
    pub checkpoint_updated_at: String,
    /// The database roles the running components connect as, by component (`api`, `cdc`, …):
    /// found by their `application_name` (`brewlytics-<component>`) in both databases.
    pub roles: BTreeMap<String, Vec<String>>,
    /// The open snapshot job (initial load, resync or rebase), or else the last one.
    pub snapshot: Option<JobProgress>,
    /// Why the OLTP source is not the one the checkpoint describes (a promoted standby, a
    /// restore): the daemon re-bases on it, or waits for an operator. Null otherwise.
    pub source_replaced: Option<String>,
}

/// Gather the status.
pub async fn status(oltp: &Client, olap: &Client) -> Result<Status, CdcError> {
    let cp = checkpoint::load(olap).await?;
    let stats = monitor::source_stats(oltp, &cp).await.map_err(|e| CdcError::db("measuring the backlog", e))?;
    let dead_letters = dead_letter::pending(olap).await.map_err(|e| CdcError::db("counting dead letters", e))?;
    let row = olap
        .query_one(
            "select (select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid
                     where l.locktype = 'advisory' and l.granted
                       and l.database = (select oid from pg_database where datname = current_database())
                       and ((l.classid::int8 << 32) | l.objid::int8) = $1 limit 1),
                    (select updated_at::text from cdc_offset where source = $2)",
            &[&LOCK_KEY, &checkpoint::SOURCE],
        )
        .await
        .map_err(|e| CdcError::db("finding the active daemon", e))?;
    let mut roles = BTreeMap::<String, Vec<String>>::new();
    for client in [oltp, olap] {
        for (component, role) in
            component_roles(client).await.map_err(|e| CdcError::db("finding the components' roles", e))?
        {
            let list = roles.entry(component).or_default();
            if !list.contains(&role) {
                list.push(role);
                list.sort();
            }
        }
    }
    Ok(Status {
        roles,
        applied_changes: cp.applied_changes,
        batches: cp.batch_seq,
        backlog: stats.backlog,
        lag_seconds: stats.lag_seconds,
        oldest_open_transaction_seconds: stats.oldest_transaction_seconds,
        dead_letters,
        active: row.get(0),
        window_start: cp.window_start.to_string(),
        checkpoint_updated_at: row.get::<_, Option<String>>(1).unwrap_or_default(),
        snapshot: snapshot_job::progress(olap).await?,
        source_replaced: cp.replaced,
    })
}

/// (component, role) of the sessions named `brewlytics-<component> …` in `client`'s database.
async fn component_roles(client: &Client) -> Result<Vec<(String, String)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "select distinct substr(split_part(application_name, ' ', 1), length('brewlytics-') + 1), usename::text
             from pg_stat_activity
             where datname = current_database() and application_name like 'brewlytics-%' and usename is not null",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
