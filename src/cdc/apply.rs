//! Applying one page of changes: transform, write, save the checkpoint, commit — one warehouse
//! transaction. Changes the transform rejects go to `cdc_dead_letter` in the same transaction; a
//! batch the warehouse rejects as data (SQLSTATE class 22/23) goes through dead-letter isolation
//! (change by change under savepoints), so the pipeline goes on.

use std::{collections::BTreeMap, time::Instant};

use chrono::Utc;
use tokio_postgres::Client;

use super::{
    checkpoint::{self, Checkpoint},
    error::{CdcError, ErrorKind},
};
use crate::{
    change::{ChangeRow, Op, Table},
    dead_letter::{self, DeadLetter},
    telemetry,
    warehouse::{transform, Sink, WarehouseBatch, WriteStats},
};

/// Owns the warehouse connection (which also holds the apply lock) and the sink's statements.
pub(crate) struct Applier {
    client: Client,
    sink: Sink,
}

/// What a committed batch did, for metrics.
struct Applied {
    by_table: BTreeMap<(Table, Op), u64>,
    dead_letters: Vec<DeadLetter>,
}

impl Applier {
    /// Prepare the sink on the warehouse connection.
    pub(super) async fn new(client: Client) -> Result<Self, CdcError> {
        let sink = Sink::prepare(&client).await.map_err(|e| CdcError::db("preparing the sink", e))?;
        Ok(Applier { client, sink })
    }

    /// The warehouse connection.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The connection and the sink, for a snapshot job's own transactions.
    pub(crate) fn parts(&mut self) -> (&mut Client, &Sink) {
        (&mut self.client, &self.sink)
    }

    /// Apply `rows` and move the checkpoint from `prev` to `next`, atomically.
    pub(crate) async fn apply(
        &mut self,
        rows: &[ChangeRow],
        prev: &Checkpoint,
        next: &Checkpoint,
    ) -> Result<(), CdcError> {
        let started = Instant::now();
        let batch = transform(rows);
        telemetry::observe_phase("transform", started.elapsed());
        let applied = match self.try_apply(batch, prev, next).await {
            Err(e) if e.kind == ErrorKind::Data => {
                tracing::warn!(error = %telemetry::Chain(&e), rows = rows.len(), "batch rejected by the warehouse, isolating changes");
                self.isolate(rows, prev, next).await?
            }
            other => other?,
        };
        record(rows, &applied);
        Ok(())
    }

    async fn try_apply(
        &mut self,
        mut batch: WarehouseBatch,
        prev: &Checkpoint,
        next: &Checkpoint,
    ) -> Result<Applied, CdcError> {
        let write_started = Instant::now();
        let tx = self.client.transaction().await.map_err(|e| CdcError::db("beginning a batch", e))?;
        let stats = self.sink.write(&tx, &batch).await.map_err(|e| CdcError::db("writing a batch", e))?;
        let dead_letters: Vec<DeadLetter> = batch.rejected.drain(..).map(DeadLetter::from).collect();
        dead_letter::insert(&tx, &dead_letters).await.map_err(|e| CdcError::db("writing dead letters", e))?;
        checkpoint::save(&tx, prev, next).await?;
        telemetry::observe_phase("write", write_started.elapsed());
        let commit_started = Instant::now();
        tx.commit().await.map_err(|e| CdcError::db("committing a batch", e))?;
        telemetry::observe_phase("commit", commit_started.elapsed());
        record_stats(&stats);
        Ok(Applied { by_table: batch.applied, dead_letters })
    }

    /// Apply change by change; returns what was applied, with the dead letters.
    async fn isolate(&mut self, rows: &[ChangeRow], prev: &Checkpoint, next: &Checkpoint) -> Result<Applied, CdcError> {
        let Applier { client, sink } = self;
        let mut tx = client.transaction().await.map_err(|e| CdcError::db("beginning an isolation batch", e))?;
        let isolated = dead_letter::isolate(sink, &mut tx, rows).await?;
        checkpoint::save(&tx, prev, next).await?;
        tx.commit().await.map_err(|e| CdcError::db("committing an isolation batch", e))?;
        isolated.stats.iter().for_each(record_stats);
        Ok(Applied { by_table: isolated.applied, dead_letters: isolated.dead_letters })
    }
}

fn record_stats(stats: &WriteStats) {
    for (dim, &n) in stats.inferred.iter() {
        if n > 0 {
            metrics::counter!(telemetry::WAREHOUSE_INFERRED, "dim" => dim.label()).increment(n);
        }
    }
    if stats.product_versions > 0 {
        metrics::counter!(telemetry::WAREHOUSE_SCD2_VERSIONS, "dim" => "product").increment(stats.product_versions);
    }
}

/// Metrics and logs of a committed batch. Freshness is one sample per batch: the age of its
/// oldest change, an upper bound for every change in it.
fn record(rows: &[ChangeRow], applied: &Applied) {
    let now = Utc::now();
    for (&(table, op), &n) in &applied.by_table {
        metrics::counter!(telemetry::CDC_CHANGES_APPLIED, "table" => table.name(), "op" => op.code()).increment(n);
    }
    for dl in &applied.dead_letters {
        let table = Table::from_name(&dl.change.table).map_or("unknown", Table::name);
        metrics::counter!(telemetry::CDC_DEAD_LETTERS, "table" => table).increment(1);
        tracing::warn!(source_id = dl.change.id, table = %dl.change.table, kind = dl.kind.as_str(), reason = %dl.reason, "change dead-lettered");
    }
    if let Some(oldest) = rows.iter().map(|r| r.changed_at).min() {
        let age = (now - oldest).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
        metrics::histogram!(telemetry::CDC_FRESHNESS).record(age);
    }
    metrics::counter!(telemetry::CDC_BATCHES).increment(1);
    metrics::histogram!(telemetry::CDC_BATCH_ROWS).record(rows.len() as f64);
    metrics::gauge!(telemetry::CDC_LAST_SUCCESS).set(now.timestamp_millis() as f64 / 1e3);
    tracing::debug!(rows = rows.len(), dead_letters = applied.dead_letters.len(), "batch committed");
}
