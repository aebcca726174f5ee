//! Loading one source of a job: whole, inside the job's first transaction, or chunk by chunk,
//! each chunk a unit of the apply step committed with the source's position (the next chunk is
//! read while one is written).

use std::time::Instant;

use tokio_postgres::{Client, Transaction};

use super::{
    job::{self, Advance, Job},
    read::{Chunk, SnapshotReader},
};
use crate::{
    apply::{Applier, Input},
    cdc::error::CdcError,
    tables::{Read, Source},
    telemetry,
};

/// Every row of `source` inside `tx` (the job's first step), keyed rows in chunks of
/// `chunk_rows`. Returns the rows read.
pub(super) async fn whole(
    tx: &mut Transaction<'_>,
    applier: &Applier,
    job: &Job,
    source: &'static Source,
    reader: &SnapshotReader,
    chunk_rows: i64,
) -> Result<i64, CdcError> {
    if let Read::Query { .. } = source.snapshot.read {
        let chunk = reader.whole(source).await?;
        applier.apply_in(tx, Input::Snapshot { job: job.id, source, rows: &chunk.rows }).await?;
        return Ok(chunk.rows.len() as i64);
    }
    let (mut after, mut rows) = (0, 0);
    loop {
        let chunk = reader.chunk(source, after, chunk_rows).await?;
        let n = chunk.rows.len() as i64;
        if n > 0 {
            applier.apply_in(tx, Input::Snapshot { job: job.id, source, rows: &chunk.rows }).await?;
        }
        (after, rows) = (chunk.last_id, rows + n);
        if n < chunk_rows {
            return Ok(rows);
        }
    }
}

/// The chunks of `source` after the job's position, each committed with its progress.
pub(super) async fn chunks(
    job: &Job,
    source: &'static Source,
    reader: &SnapshotReader,
    client: &mut Client,
    applier: &Applier,
    chunk_rows: i64,
) -> Result<(), CdcError> {
    let key = source.name;
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
        let n = chunk.rows.len() as i64;
        let last = if n == 0 { after } else { chunk.last_id };
        let complete = n < chunk_rows;
        let mark = Advance { job, source: key, prev: after, last, rows: n, done: complete };
        let write = applier.apply(client, Input::Snapshot { job: job.id, source, rows: &chunk.rows }, &mark);
        let next = async {
            if complete {
                return Ok(Chunk::default());
            }
            reader.chunk(source, last, chunk_rows).await
        };
        let (wrote, next) = tokio::join!(write, next);
        wrote?;
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

pub(super) fn log_table(job: &Job, table: &str, rows: i64, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    let rate = rows as f64 / seconds.max(1e-6);
    tracing::info!(job = job.id, table, rows, seconds, rows_per_second = rate.round(), "snapshot table loaded");
}
