//! Running a job: its first step (dimensions and stock, atomically with the job's origin), its
//! chunks (the order tables), and its end (what it did not load is retired). A chunk the
//! warehouse rejects as data is read again and written through dead-letter isolation (see
//! `chunk`): its bad rows become dead letters, the rest loads, and the job goes on. Any other
//! failure fails the job's session (the daemon retries it).

use std::time::Instant;

use tokio_postgres::{Client, Transaction};

use super::{
    chunk::{self, ChunkAt, Progress},
    is_first_step, job,
    job::{Job, JobKind},
    progress_key,
    read::{Chunk, SnapshotReader},
    source, Source,
};
use crate::{
    cdc::{
        checkpoint::{self, Checkpoint},
        error::CdcError,
    },
    telemetry,
    warehouse::{Sink, WarehouseBatch},
};

/// The warehouse side a job writes through: the daemon's connection and sink.
pub(in crate::cdc) struct Writer<'a> {
    pub client: &'a mut Client,
    pub sink: &'a Sink,
    pub checkpoint: &'a mut Checkpoint,
    pub chunk_rows: i64,
}

/// A second reader on the job's snapshot and a second warehouse connection: order lines and
/// payments load side by side once the orders are in (both only look their orders up).
pub(in crate::cdc) struct Lane {
    pub reader: SnapshotReader,
    pub client: Client,
    pub sink: Sink,
}

/// Run `job` to its end, reading through `reader` (and `lane`, when there is one). For a resync
/// the caller has streamed up to exactly `reader.snapshot` first (when the job has no origin yet).
pub(in crate::cdc) async fn run(
    job: Job,
    reader: &SnapshotReader,
    w: &mut Writer<'_>,
    lane: Option<Lane>,
) -> Result<(), CdcError> {
    let started = Instant::now();
    let job = match job.origin {
        Some(_) => {
            // Resumed after a kill: the rest is read from this newer snapshot (see `job::resumed`).
            tracing::info!(job = job.id, snapshot = %reader.snapshot, "snapshot job resuming from a newer snapshot");
            job::resumed(w.client, &job, &reader.snapshot).await?;
            job
        }
        None => first_step(job, reader, w).await?,
    };
    let mut chunked: Vec<Source> =
        job.targets.iter().filter(|t| !is_first_step(**t)).filter_map(|t| source(*t)).collect();
    if let Some(i) = chunked.iter().position(|s| *s == Source::Orders) {
        let orders = chunked.remove(i);
        load_chunks(&job, orders, reader, w.client, w.sink, w.chunk_rows).await?;
    }
    match (lane, chunked.as_slice()) {
        (Some(mut lane), [first, second, rest @ ..]) => {
            let main = load_chunks(&job, *first, reader, w.client, w.sink, w.chunk_rows);
            let side = load_chunks(&job, *second, &lane.reader, &mut lane.client, &lane.sink, w.chunk_rows);
            tokio::try_join!(main, side)?;
            lane.reader.close().await;
            // Then the ratings (they too only look their orders up).
            for &source in rest {
                load_chunks(&job, source, reader, w.client, w.sink, w.chunk_rows).await?;
            }
        }
        _ => {
            for &source in &chunked {
                load_chunks(&job, source, reader, w.client, w.sink, w.chunk_rows).await?;
            }
        }
    }
    finish(&job, w).await?;
    metrics::gauge!(telemetry::CDC_SNAPSHOT_RUNNING).set(0.0);
    tracing::info!(job = job.id, seconds = started.elapsed().as_secs_f64(), "snapshot job done");
    Ok(())
}

/// Load the first-step tables, record the origin and every table's row count, in one transaction.
async fn first_step(mut job: Job, reader: &SnapshotReader, w: &mut Writer<'_>) -> Result<Job, CdcError> {
    let origin = reader.snapshot.clone();
    let mut totals = Vec::new();
    for &table in &job.targets {
        let total = match source(table) {
            Some(source) => reader.count(source).await?,
            None => reader.count_stock().await?,
        };
        totals.push((progress_key(table), total));
        metrics::gauge!(telemetry::CDC_SNAPSHOT_ROWS_ESTIMATED, "table" => progress_key(table)).set(total as f64);
        metrics::gauge!(telemetry::CDC_SNAPSHOT_ROWS_DONE, "table" => progress_key(table)).set(0.0);
    }
    tracing::info!(job = job.id, origin = %origin, tables = job.targets.len(), "snapshot job starting");
    metrics::gauge!(telemetry::CDC_SNAPSHOT_RUNNING).set(1.0);
    let mut tx = w.client.transaction().await.map_err(|e| CdcError::db("beginning the first snapshot step", e))?;
    job::start(&tx, &job, &origin, &totals).await?;
    for &table in job.targets.iter().filter(|t| is_first_step(**t)) {
        let started = Instant::now();
        let rows = match source(table) {
            Some(source) => load_whole(&mut tx, w.sink, &job, source, reader, w.chunk_rows).await?,
            None => load_stock(&tx, w.sink, reader).await?,
        };
        let key = progress_key(table);
        job::advance(&tx, &job, key, 0, 0, rows, true).await?;
        metrics::gauge!(telemetry::CDC_SNAPSHOT_ROWS_DONE, "table" => key).set(rows as f64);
        log_table(&job, key, rows, started);
    }
    if job.kind == JobKind::Resync {
        // The caller streamed exactly up to the origin: the checkpoint is that snapshot now.
        let next = w.checkpoint.at(&origin);
        checkpoint::save(&tx, w.checkpoint, &next).await?;
        *w.checkpoint = next;
    }
    tx.commit().await.map_err(|e| CdcError::db("committing the first snapshot step", e))?;
    job.origin = Some(origin);
    Ok(job)
}

/// Every row of `source`, chunk by chunk, inside `tx`. Returns the rows read.
async fn load_whole(
    tx: &mut Transaction<'_>,
    sink: &Sink,
    job: &Job,
    source: Source,
    reader: &SnapshotReader,
    chunk_rows: i64,
) -> Result<i64, CdcError> {
    let (mut after, mut rows) = (0, 0);
    loop {
        let chunk = reader.chunk(source, after, chunk_rows).await?;
        let n = chunk.records.len() as i64;
        if n == 0 {
            return Ok(rows);
        }
        let last = chunk.last_id;
        let at = ChunkAt { job, source, after, chunk_rows };
        chunk::write_within(tx, sink, reader, &at, chunk).await?;
        (after, rows) = (last, rows + n);
        if n < chunk_rows {
            return Ok(rows);
        }
    }
}

/// Stock: whole-day movement figures and the stock levels, inside `tx`. Returns the movements' rows.
async fn load_stock(
    tx: &tokio_postgres::Transaction<'_>,
    sink: &Sink,
    reader: &SnapshotReader,
) -> Result<i64, CdcError> {
    let (days, levels) = reader.inventory().await?;
    let rows = reader.count_stock().await?;
    let batch = WarehouseBatch { inventory_days: days, inventory: levels, ..WarehouseBatch::default() };
    sink.write(tx, &batch).await.map_err(|e| CdcError::db("writing snapshot stock", e))?;
    Ok(rows)
}

/// The chunks of `source` after the job's position, each committed with its progress; the next
/// chunk is read while one is written.
async fn load_chunks(
    job: &Job,
    source: Source,
    reader: &SnapshotReader,
    client: &mut Client,
    sink: &Sink,
    chunk_rows: i64,
) -> Result<(), CdcError> {
    let key = source.table();
    let (mut after, done) = job::position(client, job, key).await?;
    if done {
        return Ok(());
    }
    let (rows_done, rows_total) = job::counts(client, job, key).await?;
    metrics::gauge!(telemetry::CDC_SNAPSHOT_ROWS_DONE, "table" => key).set(rows_done as f64);
    metrics::gauge!(telemetry::CDC_SNAPSHOT_ROWS_ESTIMATED, "table" => key).set(rows_total as f64);
    let started = Instant::now();
    let mut written = 0;
    let mut chunk = reader.chunk(source, after, chunk_rows).await?;
    loop {
        let n = chunk.records.len() as i64;
        let last = if n == 0 { after } else { chunk.last_id };
        let complete = n < chunk_rows;
        let at = ChunkAt { job, source, after, chunk_rows };
        let progress = Progress { key, last, rows: n, done: complete };
        let batch = chunk::snapshot_batch(&at, std::mem::take(&mut chunk));
        let write = chunk::commit(client, sink, &at, &progress, batch);
        let next = async {
            if complete {
                return Ok(Chunk::default());
            }
            reader.chunk(source, last, chunk_rows).await
        };
        let (wrote, next) = tokio::join!(write, next);
        if !wrote? {
            // Rejected as data: read it again and isolate its bad rows, in a new transaction.
            chunk::commit_isolated(client, sink, reader, &at, &progress).await?;
        }
        written += n;
        metrics::gauge!(telemetry::CDC_SNAPSHOT_ROWS_DONE, "table" => key).increment(n as f64);
        if complete {
            break;
        }
        (after, chunk) = (last, next?);
    }
    log_table(job, key, written, started);
    Ok(())
}

/// Retire what the job did not load, close it, and (initial) start streaming at its origin.
async fn finish(job: &Job, w: &mut Writer<'_>) -> Result<(), CdcError> {
    let tx = w.client.transaction().await.map_err(|e| CdcError::db("beginning the end of a snapshot job", e))?;
    for &table in &job.targets {
        let retired = table.retire_unloaded(&tx, job.id).await.map_err(|e| CdcError::db("retiring rows", e))?;
        if retired > 0 {
            tracing::info!(job = job.id, table = table.name(), rows = retired, "rows not in OLTP retired");
        }
    }
    job::finish(&tx, job).await?;
    if job.kind == JobKind::Initial {
        let origin = job.origin.as_ref().expect("a finished job has its origin");
        let next = w.checkpoint.at(origin);
        checkpoint::save(&tx, w.checkpoint, &next).await?;
        *w.checkpoint = next;
    }
    tx.commit().await.map_err(|e| CdcError::db("committing the end of a snapshot job", e))
}

fn log_table(job: &Job, table: &str, rows: i64, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    let rate = rows as f64 / seconds.max(1e-6);
    tracing::info!(job = job.id, table, rows, seconds, rows_per_second = rate.round(), "snapshot table loaded");
}
