//! Gauges the daemon exports, refreshed every second on connections of their own: backlog, lag,
//! the oldest open OLTP transaction, pending dead letters, the checkpoint position.

use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::cdc::stream::checkpoint::Checkpoint;
use crate::{
    config::{Config, Db},
    db, dead_letter,
    telemetry::{self, Chain},
};

const EVERY: Duration = Duration::from_secs(1);
/// Counting stops here, so a huge backlog costs a bounded scan.
pub(in crate::cdc) const BACKLOG_CAP: i64 = 1_000_000;

/// What the source side looks like from a checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(in crate::cdc) struct SourceStats {
    /// Committed changes not visible in the checkpoint's window start (capped at [`BACKLOG_CAP`]).
    pub backlog: i64,
    pub lag_seconds: f64,
    pub oldest_transaction_seconds: f64,
}

/// Measure the source against `checkpoint`.
pub(in crate::cdc) async fn source_stats(
    oltp: &Client,
    checkpoint: &Checkpoint,
) -> Result<SourceStats, tokio_postgres::Error> {
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

/// Refresh the gauges until `shutdown`.
pub(in crate::cdc) async fn run(
    config: Config,
    checkpoint: watch::Receiver<Option<Checkpoint>>,
    shutdown: CancellationToken,
) {
    let mut conns: Option<(Client, Client)> = None;
    // Log the first failure of a streak, not one line per second.
    let mut failing = false;
    loop {
        if conns.is_none() {
            conns = match connect(&config).await {
                Ok(c) => Some(c),
                Err(error) => {
                    if !failing {
                        tracing::warn!(error = %Chain(&error), "monitor cannot connect; gauges are stale until it can");
                    }
                    failing = true;
                    None
                }
            };
        }
        if let Some((oltp, olap)) = &conns {
            let current = checkpoint.borrow().clone();
            match refresh(oltp, olap, current).await {
                Ok(()) => failing = false,
                Err(error) => {
                    tracing::debug!(error = %Chain(&error), "monitor query failed; reconnecting");
                    conns = None;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

async fn connect(config: &Config) -> Result<(Client, Client), db::DbError> {
    Ok((db::connect(config, Db::Oltp).await?, db::connect(config, Db::Olap).await?))
}

async fn refresh(oltp: &Client, olap: &Client, checkpoint: Option<Checkpoint>) -> Result<(), tokio_postgres::Error> {
    metrics::gauge!(telemetry::CDC_DEAD_LETTERS_PENDING).set(dead_letter::pending(olap).await? as f64);
    let Some(checkpoint) = checkpoint else { return Ok(()) };
    let stats = source_stats(oltp, &checkpoint).await?;
    metrics::gauge!(telemetry::CDC_BACKLOG).set(stats.backlog as f64);
    metrics::gauge!(telemetry::CDC_LAG).set(stats.lag_seconds);
    metrics::gauge!(telemetry::CDC_OLDEST_XACT).set(stats.oldest_transaction_seconds);
    metrics::gauge!(telemetry::CDC_CHECKPOINT_CHANGES).set(checkpoint.applied_changes as f64);
    metrics::gauge!(telemetry::CDC_CHECKPOINT_XMAX).set(checkpoint.window_start.xmax as f64);
    Ok(())
}
