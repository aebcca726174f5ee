//! Retention: applied `cdc_orders` rows older than `CDC_RETENTION` are deleted in small chunks.
//! A row is applied for sure when its transaction is visible in the checkpoint's window start.
//! Each chunk also raises the durable mark of what was pruned (`cdc_pruned`, in OLTP, in the same
//! statement): a warehouse restored to a checkpoint that has not seen those transactions needs
//! changes that are gone, and the daemon says so (`crate::cdc::stream::identity`).

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::cdc::{error::CdcError, stream::checkpoint::Checkpoint};

const CHUNK: i64 = 5_000;
const TIME_BUDGET: Duration = Duration::from_millis(500);

/// Delete applied rows older than `retention` (0 disables). Returns how many were deleted.
pub async fn prune(client: &Client, checkpoint: &Checkpoint, retention: Duration) -> Result<u64, CdcError> {
    if retention.is_zero() {
        return Ok(0);
    }
    let horizon = checkpoint.window_start.to_string();
    let started = Instant::now();
    let mut total = 0;
    loop {
        let n: i64 = client
            .query_one(
                // Walks the primary key (txid, id) from its start, oldest transactions first, and
                // deletes by ctid: no index on changed_at (or on id alone) is needed.
                "with gone as (
                     delete from cdc_orders where ctid = any (array(
                         select ctid from (select ctid, txid, changed_at from cdc_orders order by txid, id limit $3) oldest
                         where changed_at < now() - make_interval(secs => $2)
                           and pg_visible_in_snapshot(txid, $1::text::pg_snapshot)))
                     returning txid),
                 marked as (
                     insert into cdc_pruned (max_txid, horizon)
                     select max(txid), $1::text::pg_snapshot from gone having count(*) > 0
                     on conflict (singleton) do update
                         set max_txid = greatest(cdc_pruned.max_txid, excluded.max_txid), horizon = excluded.horizon,
                             pruned_at = now())
                 select count(*) from gone",
                &[&horizon, &retention.as_secs_f64(), &CHUNK],
            )
            .await
            .map_err(|e| CdcError::db("pruning cdc_orders", e))?
            .get(0);
        total += n as u64;
        if n < CHUNK || started.elapsed() > TIME_BUDGET {
            break;
        }
    }
    if total > 0 {
        tracing::info!(rows = total, "pruned applied changes");
    }
    Ok(total)
}
