//! Writing one chunk of a snapshot job, and isolating a chunk the warehouse rejects as data
//! (SQLSTATE class 22 or 23) or with a row that breaks a rule of the model: the chunk is read
//! again (the job's snapshot does not move, so it is the same rows) and written through
//! [`dead_letter::isolate_snapshot`], which dead-letters the bad rows and writes the rest.

use tokio_postgres::{Client, Transaction};

use super::{
    job::{self, Job},
    read::{Chunk, SnapshotReader},
    Source,
};
use crate::{
    cdc::error::{CdcError, ErrorKind},
    db::classify,
    dead_letter,
    telemetry::{self, Chain},
    warehouse::{transform_snapshot, Sink, WarehouseBatch},
};

/// Which chunk: `source`'s next at most `chunk_rows` rows after key `after`, for `job`.
pub(super) struct ChunkAt<'a> {
    pub job: &'a Job,
    pub source: Source,
    pub after: i64,
    pub chunk_rows: i64,
}

/// The progress a chunk commits with (see [`job::advance`]).
pub(super) struct Progress {
    pub key: &'static str,
    pub last: i64,
    pub rows: i64,
    pub done: bool,
}

/// Map a chunk onto warehouse rows; `None` when a row breaks a rule of the model (the chunk is
/// then isolated).
pub(super) fn snapshot_batch(at: &ChunkAt<'_>, chunk: Chunk) -> Option<WarehouseBatch> {
    let batch = transform_snapshot(at.job.id, chunk.records);
    if batch.is_err() {
        tracing::warn!(
            job = at.job.id,
            table = at.source.table(),
            "a snapshot row breaks a rule of the model, isolating its chunk"
        );
    }
    batch.ok()
}

/// Write `batch` and its progress in a transaction of its own. `Ok(false)`: nothing committed,
/// as the warehouse rejected it as data (or `batch` is `None`); isolate it with [`commit_isolated`].
pub(super) async fn commit(
    client: &mut Client,
    sink: &Sink,
    at: &ChunkAt<'_>,
    progress: &Progress,
    batch: Option<WarehouseBatch>,
) -> Result<bool, CdcError> {
    let Some(batch) = batch else { return Ok(false) };
    let tx = client.transaction().await.map_err(|e| CdcError::db("beginning a snapshot chunk", e))?;
    match sink.write(&tx, &batch).await {
        Ok(_) => {}
        Err(e) if classify(&e) == ErrorKind::Data => {
            rejected(at, &e);
            return Ok(false); // dropping `tx` rolls it back
        }
        Err(e) => return Err(CdcError::db("writing a snapshot chunk", e)),
    }
    advance(&tx, at, progress).await?;
    tx.commit().await.map_err(|e| CdcError::db("committing a snapshot chunk", e))?;
    Ok(true)
}

/// Read the chunk again and write it through isolation, with its progress, in a new transaction.
pub(super) async fn commit_isolated(
    client: &mut Client,
    sink: &Sink,
    reader: &SnapshotReader,
    at: &ChunkAt<'_>,
    progress: &Progress,
) -> Result<(), CdcError> {
    let mut tx = client.transaction().await.map_err(|e| CdcError::db("beginning a snapshot chunk", e))?;
    isolate(&mut tx, sink, reader, at).await?;
    advance(&tx, at, progress).await?;
    tx.commit().await.map_err(|e| CdcError::db("committing a snapshot chunk", e))
}

/// Write `chunk` inside `tx` (the job's first step) under a savepoint; isolate it when rejected.
pub(super) async fn write_within(
    tx: &mut Transaction<'_>,
    sink: &Sink,
    reader: &SnapshotReader,
    at: &ChunkAt<'_>,
    chunk: Chunk,
) -> Result<(), CdcError> {
    if let Some(batch) = snapshot_batch(at, chunk) {
        let sp = tx.savepoint("snapshot_chunk").await.map_err(|e| CdcError::db("taking a savepoint", e))?;
        match sink.write(&sp, &batch).await {
            Ok(_) => return sp.commit().await.map_err(|e| CdcError::db("releasing a savepoint", e)),
            Err(e) if classify(&e) == ErrorKind::Data => {
                rejected(at, &e);
                sp.rollback().await.map_err(|e| CdcError::db("rolling back a savepoint", e))?;
            }
            Err(e) => return Err(CdcError::db("writing snapshot rows", e)),
        }
    }
    isolate(tx, sink, reader, at).await
}

async fn isolate(
    tx: &mut Transaction<'_>,
    sink: &Sink,
    reader: &SnapshotReader,
    at: &ChunkAt<'_>,
) -> Result<(), CdcError> {
    let chunk = reader.chunk(at.source, at.after, at.chunk_rows).await?;
    let letters = dead_letter::isolate_snapshot(sink, tx, at.job.id, chunk.records).await?;
    for dl in &letters {
        metrics::counter!(telemetry::CDC_DEAD_LETTERS, "table" => at.source.table()).increment(1);
        tracing::warn!(
            job = at.job.id,
            table = %dl.change.table,
            row_id = dl.change.row_id,
            source_id = dl.change.id,
            kind = dl.kind.as_str(),
            "snapshot row dead-lettered (see `brewlytics dlq list`)"
        );
    }
    Ok(())
}

fn rejected(at: &ChunkAt<'_>, e: &tokio_postgres::Error) {
    tracing::warn!(job = at.job.id, table = at.source.table(), error = %Chain(e), "snapshot chunk rejected by the warehouse, isolating its rows");
}

async fn advance(tx: &Transaction<'_>, at: &ChunkAt<'_>, p: &Progress) -> Result<(), CdcError> {
    job::advance(tx, at.job, p.key, at.after, p.last, p.rows, p.done).await
}
