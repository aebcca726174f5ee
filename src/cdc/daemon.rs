//! The daemon's loop: take the apply lock, run the open snapshot job (the initial load, a
//! resync) before streaming goes on, then stream batches until caught up, prune applied changes
//! now and then, and wait for a NOTIFY (or the poll interval). The monitor and the scheduled
//! reconciliation run beside it. A failed session is retried with capped exponential backoff.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::rollups;

use super::{
    error::{CdcError, ErrorKind},
    ops::{monitor, partitions, retention},
    rebase,
    reconcile::schedule,
    session::{connect, target},
    snapshot_job::{self, JobKind, Lane, SnapshotReader},
    stream::{
        checkpoint::Checkpoint,
        listen::{Cadence, Listener},
        lock,
        source::Source,
        Stream,
    },
};
use crate::{
    apply::Applier,
    config::{Config, Db, SnapshotMode},
    telemetry::{self, Chain},
};

const RETENTION_EVERY: Duration = Duration::from_secs(60);
/// How often the daemon looks for a requested snapshot job (`brewlytics resync`).
const JOBS_EVERY: Duration = Duration::from_secs(1);

/// The pause after the warehouse refused to plan a statement ([`ErrorKind::Unsupported`]): a bug
/// no retry fixes, so the daemon does not hammer the server; it retries this rarely (someone may
/// have repaired the schema) and says so loudly each time.
const UNSUPPORTED_RETRY: Duration = Duration::from_secs(300);

/// Capped exponential backoff between sessions, back at the start after a healthy session.
struct Backoff {
    next: Duration,
}

impl Backoff {
    const START: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(10);

    fn new() -> Self {
        Backoff { next: Self::START }
    }

    /// The delay before the next attempt; each call doubles the one after, up to the cap.
    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }

    /// A session worked (it drained the backlog once): the next failure starts over.
    fn reset(&mut self) {
        self.next = Self::START;
    }
}

/// Run the daemon until `shutdown` is cancelled. Database failures are retried with capped
/// exponential backoff; this returns only on shutdown.
pub async fn run(config: &Config, shutdown: CancellationToken) {
    let (checkpoint_tx, checkpoint_rx) = watch::channel(None);
    let monitor = tokio::spawn(monitor::run(config.clone(), checkpoint_rx.clone(), shutdown.child_token()));
    let reconciler = tokio::spawn(schedule::run(config.clone(), checkpoint_rx, shutdown.child_token()));
    let mut backoff = Backoff::new();
    while !shutdown.is_cancelled() {
        let delay = match run_connected(config, &shutdown, &checkpoint_tx, &mut backoff).await {
            Ok(()) => break,
            Err(e) => failed(&e, &mut backoff),
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    metrics::gauge!(telemetry::CDC_ACTIVE).set(0.0);
    monitor.abort();
    reconciler.abort();
    tracing::info!("cdc daemon stopped");
}

/// Count and log a failed session; returns the pause before the next one.
fn failed(e: &CdcError, backoff: &mut Backoff) -> Duration {
    metrics::counter!(telemetry::CDC_ERRORS, "kind" => e.kind.label()).increment(1);
    metrics::counter!(telemetry::CDC_RETRIES).increment(1);
    if e.kind == ErrorKind::Unsupported {
        let delay = UNSUPPORTED_RETRY;
        tracing::error!(
            error = %Chain(e),
            kind = e.kind.label(),
            retry_in_ms = delay.as_millis() as u64,
            "the warehouse refuses to plan a statement of the daemon: this is a bug, please report it with this message; retrying rarely"
        );
        return delay;
    }
    let delay = backoff.next_delay();
    tracing::warn!(error = %Chain(e), kind = e.kind.label(), retry_in_ms = delay.as_millis() as u64, "cdc failure, retrying");
    delay
}

/// One connected session: returns Ok on shutdown, Err when a connection or step fails.
async fn run_connected(
    config: &Config,
    shutdown: &CancellationToken,
    checkpoint_tx: &watch::Sender<Option<Checkpoint>>,
    backoff: &mut Backoff,
) -> Result<(), CdcError> {
    let mut olap = connect(config, Db::Olap).await?;
    if !lock::acquire(&olap, shutdown).await? {
        return Ok(());
    }
    rollups::at_start(&mut olap, config.cdc_rollups.is_on())
        .await
        .map_err(|e| CdcError::db("building the rollups", e))?;
    let source = Source::new(connect(config, Db::Oltp).await?).await?;
    // Retention deletes, so it has a connection of its own: the reader's never holds an xid.
    let pruner = connect(config, Db::Oltp).await?;
    let mut listener = Listener::start(&target(config, Db::Oltp)?).await?;
    let mut stream = Stream::new(config, olap, source, checkpoint_tx).await?;
    tracing::info!(applied_changes = stream.checkpoint().applied_changes, "cdc daemon active");
    // Know the source before applying anything from the checkpoint's position.
    if let Some(replaced) = stream.check_source().await? {
        rebase::replaced(config, &mut stream, &replaced).await?;
    }
    // Partitions for every order OLTP has, before a snapshot job or a backlog writes them.
    partitions::upkeep(stream.olap(), &pruner).await;
    let mut last_retention = Instant::now() - RETENTION_EVERY;
    let mut last_jobs = Instant::now() - JOBS_EVERY;
    let mut cadence = Cadence::new(config.poll_min(), config.poll_interval());
    let mut found = true;
    loop {
        if last_jobs.elapsed() >= JOBS_EVERY {
            run_jobs(config, &mut stream, shutdown).await?;
            last_jobs = Instant::now();
        }
        metrics::gauge!(telemetry::CDC_SOURCE_REPLACED)
            .set(f64::from(u8::from(stream.checkpoint().replaced.is_some())));
        if stream.checkpoint().replaced.is_some() {
            // Nothing is applied from the old position: a rebase job runs first (queued, or by an
            // operator's `brewlytics resync` under CDC_ON_SOURCE_CHANGE=stop).
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(JOBS_EVERY) => continue,
            }
        }
        let drain = stream.drain(shutdown).await?;
        found |= drain.applied;
        backoff.reset();
        if let Some(replaced) = drain.replaced {
            rebase::replaced(config, &mut stream, &replaced).await?;
            continue;
        }
        if last_retention.elapsed() >= RETENTION_EVERY {
            partitions::upkeep(stream.olap(), &pruner).await;
            retention::prune(&pruner, stream.checkpoint(), config.cdc_retention).await?;
            last_retention = Instant::now();
        }
        let wait = cadence.after(found);
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(()),
            r = listener.wait(wait) => found = r?,
        }
    }
}

/// Most rows of a snapshot chunk (less when `CDC_BATCH_ROWS` is lower). A job holds two chunks
/// (one read while the other is written). A 100k-order snapshot, since new rows are appended:
/// 2.93-2.96 s and 37 MiB at 10,000 rows, 3.29-3.43 s and 25 MiB at 5,000; at 20,000 it had
/// peaked at 59 MiB.
const SNAPSHOT_CHUNK_ROWS: i64 = 10000;

/// Run the open snapshot job, or open the initial one when the warehouse never started
/// (`CDC_SNAPSHOT=initial`). Streaming waits meanwhile; a resync first streams up to exactly the
/// job's snapshot, a rebase (the source was replaced) does not. The job's snapshot passes the
/// standby gate before anything of it is written.
async fn run_jobs(config: &Config, stream: &mut Stream<'_>, shutdown: &CancellationToken) -> Result<(), CdcError> {
    let olap = stream.olap();
    let job = match snapshot_job::open_job(olap).await? {
        // On a replaced source only a rebase of every table makes the warehouse one cut again: an
        // operator's resync (under CDC_ON_SOURCE_CHANGE=stop) of some tables runs as that.
        Some(job) if job.kind != JobKind::Rebase && stream.checkpoint().replaced.is_some() => {
            tracing::info!(job = job.id, "the source was replaced: the job runs as a rebase of every table");
            snapshot_job::queue_rebase(olap).await?
        }
        Some(job) => job,
        None if stream.checkpoint().never_set && config.cdc_snapshot == SnapshotMode::Initial => {
            snapshot_job::create_initial(olap).await?
        }
        None => return Ok(()),
    };
    let reader = SnapshotReader::open(connect(config, Db::Oltp).await?).await?;
    if !stream.gate().wait(stream.oltp(), reader.lsn, shutdown).await? {
        return Ok(());
    }
    let rebase = job.kind == JobKind::Rebase || stream.checkpoint().replaced.is_some();
    let lane_olap = connect(config, Db::Olap).await?;
    let applier = Applier::prepare(&lane_olap).await?;
    let lane = Lane { reader: reader.join(connect(config, Db::Oltp).await?).await?, client: lane_olap, applier };
    if job.origin.is_none() && job.kind == JobKind::Resync && !rebase && !stream.checkpoint().never_set {
        tracing::info!(job = job.id, "resync: streaming up to its snapshot first");
        stream.catch_up_to(&reader.snapshot).await?;
    }
    let chunk_rows = config.cdc_batch_rows.min(SNAPSHOT_CHUNK_ROWS);
    let (client, applier, checkpoint) = stream.parts();
    let mut writer = snapshot_job::Writer { client, applier, checkpoint, chunk_rows, rebase };
    snapshot_job::run(job, &reader, &mut writer, Some(lane)).await?;
    reader.close().await;
    stream.publish();
    Ok(())
}
