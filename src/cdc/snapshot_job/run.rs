//! Running a job: its first step (the sources read whole, atomically with the job's origin), its
//! chunked sources (the order tables), and its end (what it did not load is retired). A chunk the
//! warehouse rejects as data goes through the apply step's isolation: its bad rows become dead
//! letters, the rest loads, and the job goes on. Any other failure fails the job's session (the
//! daemon retries it).

use std::time::Instant;

use tokio_postgres::{Client, Transaction};

use super::{
    job::{self, Job, JobKind},
    load,
    read::SnapshotReader,
};
use crate::{
    apply::Applier,
    cdc::{
        error::CdcError,
        stream::checkpoint::{self, Checkpoint},
    },
    tables::{Retire, Source, Stage, Step, ALL},
    telemetry,
};

/// The warehouse side a job writes through: the daemon's connection and its apply step.
pub(in crate::cdc) struct Writer<'a> {
    pub client: &'a mut Client,
    pub applier: &'a Applier,
    pub checkpoint: &'a mut Checkpoint,
    pub chunk_rows: i64,
    /// The source was replaced: the first step moves the checkpoint to the job's snapshot, which
    /// the daemon did not stream up to.
    pub rebase: bool,
}

/// A second reader on the job's snapshot and a second warehouse connection: the chunked sources
/// after the orders load two at a time (they only look their orders up).
pub(in crate::cdc) struct Lane {
    pub reader: SnapshotReader,
    pub client: Client,
    pub applier: Applier,
}

/// The sources of `job`'s tables read in `step`; chunked ones of the orders' table first.
fn sources(job: &Job, step: Step) -> Vec<&'static Source> {
    let mut tables: Vec<usize> = job.targets.iter().map(|t| t.0).collect();
    tables.sort_by_key(|&i| !matches!(ALL[i].stage(), Stage::Orders));
    tables.iter().flat_map(|&i| ALL[i].sources()).filter(|s| s.snapshot.step == step).collect()
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
    let chunked = sources(&job, Step::Chunks);
    let (orders, rest) = chunked.split_at(chunked.len().min(1));
    for &source in orders {
        load::chunks(&job, source, reader, w.client, w.applier, w.chunk_rows).await?;
    }
    match lane {
        Some(mut lane) => {
            for pair in rest.chunks(2) {
                let main = load::chunks(&job, pair[0], reader, w.client, w.applier, w.chunk_rows);
                match pair.get(1) {
                    Some(&second) => {
                        let side =
                            load::chunks(&job, second, &lane.reader, &mut lane.client, &lane.applier, w.chunk_rows);
                        tokio::try_join!(main, side)?;
                    }
                    None => main.await?,
                }
            }
            lane.reader.close().await;
        }
        None => {
            for &source in rest {
                load::chunks(&job, source, reader, w.client, w.applier, w.chunk_rows).await?;
            }
        }
    }
    finish(&job, w).await?;
    metrics::gauge!(telemetry::CDC_SNAPSHOT_RUNNING).set(0.0);
    tracing::info!(job = job.id, seconds = started.elapsed().as_secs_f64(), "snapshot job done");
    Ok(())
}

/// Load the first-step sources, record the origin and every source's row count, in one transaction.
async fn first_step(mut job: Job, reader: &SnapshotReader, w: &mut Writer<'_>) -> Result<Job, CdcError> {
    let origin = reader.snapshot.clone();
    let mut totals = Vec::new();
    for step in [Step::First, Step::Chunks] {
        for source in sources(&job, step) {
            let total = reader.count(source).await?;
            totals.push((source.name, total));
            metrics::gauge!(telemetry::CDC_SNAPSHOT_ROWS_ESTIMATED, "table" => source.name).set(total as f64);
            metrics::gauge!(telemetry::CDC_SNAPSHOT_ROWS_DONE, "table" => source.name).set(0.0);
        }
    }
    tracing::info!(job = job.id, origin = %origin, tables = job.targets.len(), "snapshot job starting");
    metrics::gauge!(telemetry::CDC_SNAPSHOT_RUNNING).set(1.0);
    let mut tx = w.client.transaction().await.map_err(|e| CdcError::db("beginning the first snapshot step", e))?;
    job::start(&tx, &job, &origin, &totals).await?;
    for source in sources(&job, Step::First) {
        let started = Instant::now();
        let rows = load::whole(&mut tx, w.applier, &job, source, reader, w.chunk_rows).await?;
        // A whole read is done at once: its progress is its count.
        let total = totals.iter().find(|(name, _)| *name == source.name).map_or(rows, |t| t.1);
        let mark = job::Advance { job: &job, source: source.name, prev: 0, last: 0, rows: total, done: true };
        crate::apply::Mark::save(&mark, &tx).await?;
        metrics::gauge!(telemetry::CDC_SNAPSHOT_ROWS_DONE, "table" => source.name).set(total as f64);
        load::log_table(&job, source.name, rows, started);
    }
    if job.kind != JobKind::Initial || w.rebase {
        // A resync streamed exactly up to the origin; a rebase starts over there: the checkpoint
        // is that snapshot of this source now.
        let next = w.checkpoint.at(&origin, reader.mark.clone());
        checkpoint::save(&tx, w.checkpoint, &next).await?;
        *w.checkpoint = next;
    } else {
        // The initial load: streaming starts at the origin once the job is done; the source it
        // read is known from now on (a failover in between is seen at the next connect).
        checkpoint::save_mark(&tx, &reader.mark).await?;
        w.checkpoint.source = reader.mark.clone();
    }
    tx.commit().await.map_err(|e| CdcError::db("committing the first snapshot step", e))?;
    job.origin = Some(origin);
    Ok(job)
}

/// Retire what the job did not load, close it, and (initial) start streaming at its origin.
async fn finish(job: &Job, w: &mut Writer<'_>) -> Result<(), CdcError> {
    let tx = w.client.transaction().await.map_err(|e| CdcError::db("beginning the end of a snapshot job", e))?;
    for &table in &job.targets {
        for target in ALL[table.0].targets() {
            let retired = retire(&tx, job, target.retire).await;
            let retired = retired.map_err(|e| CdcError::db("retiring rows", e))?;
            if retired > 0 {
                tracing::info!(job = job.id, table = target.name, rows = retired, "rows not in OLTP retired");
            }
        }
    }
    if w.applier.rollups() {
        // The job's rows did not move the rollups: they are rebuilt from the facts it leaves.
        crate::rollups::rebuild(&tx).await.map_err(|e| CdcError::db("rebuilding the rollups", e))?;
    }
    job::finish(&tx, job).await?;
    if job.kind == JobKind::Initial && w.checkpoint.never_set {
        let origin = job.origin.as_ref().expect("a finished job has its origin");
        let next = w.checkpoint.at(origin, w.checkpoint.source.clone());
        checkpoint::save(&tx, w.checkpoint, &next).await?;
        *w.checkpoint = next;
    }
    tx.commit().await.map_err(|e| CdcError::db("committing the end of a snapshot job", e))
}

/// Retire what `job` did not load of one star table; returns the rows retired (rebuilt, for a
/// derived table).
async fn retire(tx: &Transaction<'_>, job: &Job, retire: Retire) -> Result<u64, tokio_postgres::Error> {
    match retire {
        Retire::ByJob(sql) => tx.execute(sql, &[&job.id]).await,
        Retire::ByStart(sql) => {
            let started = "select started_at from cdc_snapshot where job_id = $1";
            let started: Option<chrono::DateTime<chrono::Utc>> = tx.query_one(started, &[&job.id]).await?.get(0);
            tx.execute(sql, &[&started]).await
        }
        Retire::Rebuild(statements) => {
            let mut changed = 0;
            for sql in statements {
                changed = tx.execute(*sql, &[]).await?;
            }
            Ok(changed)
        }
    }
}
