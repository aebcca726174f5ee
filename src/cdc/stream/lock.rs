//! One active daemon: a session advisory lock in the warehouse, held on the connection that
//! writes the batches. A second daemon waits as standby and takes over within a poll interval
//! of the active one's connection closing (which a killed process's does at once).

use std::time::Duration;

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::cdc::error::CdcError;
use crate::telemetry;

/// The advisory lock key ("brewcdc1").
pub(crate) const LOCK_KEY: i64 = 0x6272_6577_6364_6331;
const STANDBY_POLL: Duration = Duration::from_millis(250);

/// This process's name in `pg_stat_activity.application_name`.
pub(crate) fn instance_name() -> String {
    let host =
        std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Wait until this connection holds the lock (true) or shutdown (false).
pub(crate) async fn acquire(client: &Client, shutdown: &CancellationToken) -> Result<bool, CdcError> {
    let mut announced = false;
    loop {
        let row = client
            .query_one("select pg_try_advisory_lock($1)", &[&LOCK_KEY])
            .await
            .map_err(|e| CdcError::db("taking the apply lock", e))?;
        if row.get::<_, bool>(0) {
            metrics::gauge!(telemetry::CDC_ACTIVE).set(1.0);
            return Ok(true);
        }
        metrics::gauge!(telemetry::CDC_ACTIVE).set(0.0);
        if !announced {
            tracing::info!("another daemon is active; waiting as standby");
            announced = true;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(false),
            _ = tokio::time::sleep(STANDBY_POLL) => {}
        }
    }
}
