//! Gauges the daemon exports, refreshed every second on connections of their own: backlog, lag,
//! the oldest open OLTP transaction, pending dead letters, the checkpoint position.

use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::checkpoint::Checkpoint;
use crate::{
    config::{Config, Db},
    db, telemetry,
};

const EVERY: Duration = Duration::from_secs(1);
/// Counting stops here, so a huge backlog costs a bounded scan.
pub const BACKLOG_CAP: i64 = 1_000_000;

/// What the source side looks like from a checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SourceStats {
    /// Committed changes not visible in the checkpoint's window start (capped at [`BACKLOG_CAP`]).
    pub backlog: i64,
    pub lag_seconds: f64,
    pub oldest_transaction_seconds: f64,
}

/// Measure the source against `checkpoint`.
pub async fn source_stats(oltp: &Client, checkpoint: &Checkpoint) -> Result<SourceStats, tokio_postgres::Error> {
    let start = &checkpoint.window_start;
    let xip: Vec<String> = start.xip.iter().map(u64::to_string).collect();
    let row = oltp
        .query_one(
            "select
               (select count(*) from (
                  select 1 from cdc_orders where txid = any($1::text[]::xid8[])
                  union all
                  select 1 from cdc_orders where txid >= $2::text::xid8 limit $3) b),
               (select coalesce(extract(epoch from now() - min(changed_at)), 0)::float8 from (
                  (select changed_at from cdc_orders where txid = any($1::text[]::xid8[]) order by txid, id limit 1)
                  union all
                  (select changed_at from cdc_orders where txid >= $2::text::xid8 order by txid, id limit 1)) l),
               (select coalesce(extract(epoch from max(now() - xact_start)), 0)::float8
                from pg_stat_activity where backend_xid is not null and pid <> pg_backend_pid())",
            &[&xip, &start.xmax.to_string(), &BACKLOG_CAP],
        )
        .await?;
    Ok(SourceStats { backlog: row.get(0), lag_seconds: row.get(1), oldest_transaction_seconds: row.get(2) })
}

/// Dead letters not yet replayed.
pub async fn pending_dead_letters(olap: &Client) -> Result<i64, tokio_postgres::Error> {
    Ok(olap.query_one("select count(*) from cdc_dead_letter where replayed_at is null", &[]).await?.get(0))
}

/// Refresh the gauges until `shutdown`.
pub async fn run(config: Config, checkpoint: watch::Receiver<Option<Checkpoint>>, shutdown: CancellationToken) {
    let mut conns: Option<(Client, Client)> = None;
    loop {
        if conns.is_none() {
            conns = connect(&config).await;
        }
        if let Some((oltp, olap)) = &conns {
            let current = checkpoint.borrow().clone();
            if let Err(error) = refresh(oltp, olap, current).await {
                tracing::debug!(error = %error, "monitor query failed; reconnecting");
                conns = None;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

async fn connect(config: &Config) -> Option<(Client, Client)> {
    let oltp = db::connect(config, Db::Oltp).await.ok()?;
    let olap = db::connect(config, Db::Olap).await.ok()?;
    Some((oltp, olap))
}

async fn refresh(oltp: &Client, olap: &Client, checkpoint: Option<Checkpoint>) -> Result<(), tokio_postgres::Error> {
    metrics::gauge!(telemetry::CDC_DEAD_LETTERS_PENDING).set(pending_dead_letters(olap).await? as f64);
    let Some(checkpoint) = checkpoint else { return Ok(()) };
    let stats = source_stats(oltp, &checkpoint).await?;
    metrics::gauge!(telemetry::CDC_BACKLOG).set(stats.backlog as f64);
    metrics::gauge!(telemetry::CDC_LAG).set(stats.lag_seconds);
    metrics::gauge!(telemetry::CDC_OLDEST_XACT).set(stats.oldest_transaction_seconds);
    metrics::gauge!(telemetry::CDC_CHECKPOINT_CHANGES).set(checkpoint.applied_changes as f64);
    metrics::gauge!(telemetry::CDC_CHECKPOINT_XMAX).set(checkpoint.window_start.xmax as f64);
    Ok(())
}
