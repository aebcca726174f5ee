//! Applying one page of changes: transform, write, save the checkpoint, commit — one warehouse
//! transaction. A change the warehouse rejects as data (SQLSTATE class 22/23) is isolated: the
//! batch is retried change by change under savepoints, and the rejected ones go to
//! `cdc_dead_letter` in the same transaction, so the pipeline goes on.

use std::time::Instant;

use chrono::Utc;
use tokio_postgres::{Client, Transaction};

use super::{
    change::ChangeRow,
    checkpoint::{self, Checkpoint},
    error::{classify, CdcError, ErrorKind},
};
use crate::{
    telemetry,
    warehouse::{
        rows::DeadLetter,
        sink::{Sink, WriteStats, INFERRED_DIMS},
        transform::{transform, WarehouseBatch},
    },
};

/// Owns the warehouse connection (which also holds the apply lock) and the sink's statements.
pub struct Applier {
    client: Client,
    sink: Sink,
    /// Batch transactions run with `session_replication_role = replica` (no FK triggers).
    skip_fk_checks: bool,
}

impl Applier {
    /// Prepare the sink on the warehouse connection.
    pub async fn new(client: Client) -> Result<Self, CdcError> {
        let sink = Sink::prepare(&client).await.map_err(|e| CdcError::db("preparing the sink", e))?;
        Ok(Applier { client, sink, skip_fk_checks: false })
    }

    /// Skip the warehouse's foreign-key triggers in batch transactions when `wanted` and the
    /// role may set `session_replication_role`; otherwise warn and keep them. Every key the sink
    /// writes comes from a dimension lookup in the same transaction (or is the unknown member),
    /// so the constraints hold by construction; the checks only cost time.
    pub async fn skip_fk_checks(mut self, wanted: bool) -> Self {
        if wanted {
            let probe = "set session_replication_role = replica; reset session_replication_role";
            match self.client.batch_execute(probe).await {
                Ok(()) => self.skip_fk_checks = true,
                Err(e) => {
                    tracing::warn!(error = %e, "CDC_SKIP_FK_CHECKS ignored: the role may not set session_replication_role")
                }
            }
        }
        self
    }

    /// Apply `rows` and move the checkpoint from `prev` to `next`, atomically.
    pub async fn apply(&mut self, rows: &[ChangeRow], prev: &Checkpoint, next: &Checkpoint) -> Result<(), CdcError> {
        let started = Instant::now();
        let batch = transform(rows);
        telemetry::observe_phase("transform", started.elapsed());
        let result = self.try_apply(&batch, prev, next).await;
        let batch = match result {
            Err(e) if e.kind == ErrorKind::Data => {
                tracing::warn!(error = %e, rows = rows.len(), "batch rejected by the warehouse, isolating changes");
                self.isolate(rows, prev, next).await?
            }
            other => {
                other?;
                batch
            }
        };
        record(rows, &batch);
        Ok(())
    }

    async fn try_apply(
        &mut self,
        batch: &WarehouseBatch,
        prev: &Checkpoint,
        next: &Checkpoint,
    ) -> Result<(), CdcError> {
        let write_started = Instant::now();
        let tx = self.client.transaction().await.map_err(|e| CdcError::db("beginning a batch", e))?;
        if self.skip_fk_checks {
            tx.batch_execute("set local session_replication_role = replica")
                .await
                .map_err(|e| CdcError::db("skipping FK checks", e))?;
        }
        let stats = self.sink.write(&tx, batch).await.map_err(|e| CdcError::db("writing a batch", e))?;
        checkpoint::save(&tx, prev, next).await?;
        telemetry::observe_phase("write", write_started.elapsed());
        let commit_started = Instant::now();
        tx.commit().await.map_err(|e| CdcError::db("committing a batch", e))?;
        telemetry::observe_phase("commit", commit_started.elapsed());
        record_stats(stats);
        Ok(())
    }

    /// Apply change by change; returns what was applied, with the dead letters.
    async fn isolate(
        &mut self,
        rows: &[ChangeRow],
        prev: &Checkpoint,
        next: &Checkpoint,
    ) -> Result<WarehouseBatch, CdcError> {
        let Applier { client, sink, .. } = self;
        let mut tx = client.transaction().await.map_err(|e| CdcError::db("beginning an isolation batch", e))?;
        let mut applied = WarehouseBatch::default();
        let mut ordered: Vec<&ChangeRow> = rows.iter().collect();
        ordered.sort_by_key(|c| c.version());
        for change in ordered {
            let mut single = transform(std::slice::from_ref(change));
            applied.dead_letters.append(&mut single.dead_letters);
            if single.applied.is_empty() {
                continue;
            }
            match apply_one(sink, &mut tx, &single).await? {
                Some(reason) => applied.dead_letters.push(DeadLetter { change: change.clone(), reason, kind: "apply" }),
                None => {
                    for (key, n) in single.applied {
                        *applied.applied.entry(key).or_default() += n;
                    }
                }
            }
        }
        sink.write_dead_letters(&tx, &applied.dead_letters)
            .await
            .map_err(|e| CdcError::db("writing dead letters", e))?;
        checkpoint::save(&tx, prev, next).await?;
        tx.commit().await.map_err(|e| CdcError::db("committing an isolation batch", e))?;
        Ok(applied)
    }
}

/// Write one change under a savepoint; `Some(reason)` when the warehouse rejects it as data.
async fn apply_one(sink: &Sink, tx: &mut Transaction<'_>, single: &WarehouseBatch) -> Result<Option<String>, CdcError> {
    let sp = tx.savepoint("change").await.map_err(|e| CdcError::db("savepoint", e))?;
    match sink.write(&sp, single).await {
        Ok(stats) => {
            sp.commit().await.map_err(|e| CdcError::db("releasing a savepoint", e))?;
            record_stats(stats);
            Ok(None)
        }
        Err(e) if classify(&e) == ErrorKind::Data => {
            let reason = match e.as_db_error() {
                Some(db) => format!("warehouse rejected the change: {} (SQLSTATE {})", db.message(), db.code().code()),
                None => format!("warehouse rejected the change: {e}"),
            };
            sp.rollback().await.map_err(|e| CdcError::db("rolling back a savepoint", e))?;
            Ok(Some(reason))
        }
        Err(e) => Err(CdcError::db("writing a change", e)),
    }
}

fn record_stats(stats: WriteStats) {
    for (dim, n) in INFERRED_DIMS.iter().zip(stats.inferred) {
        if n > 0 {
            metrics::counter!(telemetry::WAREHOUSE_INFERRED, "dim" => *dim).increment(n);
        }
    }
    if stats.product_versions > 0 {
        metrics::counter!(telemetry::WAREHOUSE_SCD2_VERSIONS, "dim" => "product").increment(stats.product_versions);
    }
}

/// Metrics of a committed batch.
fn record(rows: &[ChangeRow], batch: &WarehouseBatch) {
    let now = Utc::now();
    for ((table, op), n) in &batch.applied {
        metrics::counter!(telemetry::CDC_CHANGES_APPLIED, "table" => table.clone(), "op" => op.clone()).increment(*n);
    }
    for dl in &batch.dead_letters {
        metrics::counter!(telemetry::CDC_DEAD_LETTERS, "table" => dl.change.table.clone()).increment(1);
        tracing::warn!(source_id = dl.change.id, table = %dl.change.table, kind = dl.kind, reason = %dl.reason, "change dead-lettered");
    }
    let freshness = metrics::histogram!(telemetry::CDC_FRESHNESS);
    for row in rows {
        freshness.record((now - row.changed_at).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6);
    }
    metrics::counter!(telemetry::CDC_BATCHES).increment(1);
    metrics::histogram!(telemetry::CDC_BATCH_ROWS).record(rows.len() as f64);
    metrics::gauge!(telemetry::CDC_LAST_SUCCESS).set(now.timestamp_millis() as f64 / 1e3);
    tracing::debug!(rows = rows.len(), dead_letters = batch.dead_letters.len(), "batch committed");
}
