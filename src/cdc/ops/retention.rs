//! Retention: applied `cdc_orders` rows older than `CDC_RETENTION` are deleted in small chunks.
//! A row is applied for sure when its transaction is visible in the checkpoint's window start.

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
        let n = client
            .execute(
                // Walks the primary key (txid, id) from its start, oldest transactions first, and
                // deletes by ctid: no index on changed_at (or on id alone) is needed.
                "delete from cdc_orders where ctid = any (array(
                     select ctid from (select ctid, txid, changed_at from cdc_orders order by txid, id limit $3) oldest
                     where changed_at < now() - make_interval(secs => $2)
                       and pg_visible_in_snapshot(txid, $1::text::pg_snapshot)))",
                &[&horizon, &retention.as_secs_f64(), &CHUNK],
            )
            .await
            .map_err(|e| CdcError::db("pruning cdc_orders", e))?;
        total += n;
        if (n as i64) < CHUNK || started.elapsed() > TIME_BUDGET {
            break;
        }
    }
    if total > 0 {
        tracing::info!(rows = total, "pruned applied changes");
    }
    Ok(total)
}
