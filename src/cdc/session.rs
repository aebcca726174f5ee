//! The daemon's connections: each named in `pg_stat_activity`, the warehouse's tuned for Citus.

use tokio_postgres::Client;

use super::{
    error::{CdcError, ErrorKind},
    stream::lock,
};
use crate::{
    config::{Config, Db, DbTarget},
    db,
};

/// A database of the daemon, named `brewlytics-cdc <host>:<pid>` in `pg_stat_activity` (how
/// `status` finds the active daemon and the role it runs as).
pub(super) fn target(config: &Config, which: Db) -> Result<DbTarget, CdcError> {
    let mut target = config.target(which).map_err(|e| CdcError::internal("config", e))?;
    target.pg.application_name(format!("{} {}", db::application::CDC, lock::instance_name()));
    Ok(target)
}

/// One connection of the daemon's; a warehouse session is tuned for Citus when it is there.
pub(super) async fn connect(config: &Config, which: Db) -> Result<Client, CdcError> {
    let client = db::connect_target(&target(config, which)?, which).await.map_err(|e| CdcError {
        step: "connecting",
        kind: ErrorKind::Connection,
        source: Box::new(e),
    })?;
    if which == Db::Olap {
        // A batch's statements run in milliseconds: JIT compiling one (tens of milliseconds) never
        // pays, and the rollups' delta over a batch of app sessions is estimated above
        // `jit_above_cost`, so with JIT every such batch paid a compilation.
        let prepare = |e| CdcError::db("preparing the warehouse session", e);
        client.batch_execute("set jit = off").await.map_err(prepare)?;
        db::citus::tune_session(&client).await.map_err(prepare)?;
    }
    Ok(client)
}
