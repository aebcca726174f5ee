//! One active daemon's work on its connections: apply batches until caught up, and run the
//! snapshot jobs (the initial load, resyncs) before streaming goes on.

use std::time::Instant;

use tokio::sync::watch;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::{
    apply::Applier,
    backfill::{self, Job, JobKind, Lane, SnapshotReader},
    checkpoint::{self, Checkpoint},
    error::CdcError,
    session::connect,
    source::{Page, Source},
    window::{Snapshot, Window},
};
use crate::{
    change::ChangeRow,
    config::{Config, Db, SnapshotMode},
    telemetry,
    warehouse::Sink,
};

/// What one step did.
enum Step {
    Applied,
    Idle,
}

/// The active daemon's state on its connections.
pub(super) struct Daemon<'a> {
    applier: Applier,
    source: Source,
    checkpoint: Checkpoint,
    checkpoint_tx: &'a watch::Sender<Option<Checkpoint>>,
    max_rows: i64,
    max_bytes: i64,
    snapshot_mode: SnapshotMode,
    /// The next page of the open window, read while the previous batch was being applied.
    prefetched: Option<Page>,
}

impl<'a> Daemon<'a> {
    pub(super) async fn new(
        config: &Config,
        olap: Client,
        source: Source,
        checkpoint_tx: &'a watch::Sender<Option<Checkpoint>>,
    ) -> Result<Self, CdcError> {
        let checkpoint = checkpoint::load(&olap).await?;
        let applier = Applier::new(olap).await?;
        checkpoint_tx.send_replace(Some(checkpoint.clone()));
        Ok(Daemon {
            applier,
            source,
            checkpoint,
            checkpoint_tx,
            max_rows: config.cdc_batch_rows,
            max_bytes: config.cdc_batch_bytes,
            snapshot_mode: config.cdc_snapshot,
            prefetched: None,
        })
    }

    /// The checkpoint.
    pub(super) fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Apply batches until nothing is left, stopping early (between batches) on shutdown.
    /// Returns whether any change was applied.
    pub(super) async fn drain(&mut self, shutdown: &CancellationToken) -> Result<bool, CdcError> {
        let mut applied = false;
        while !shutdown.is_cancelled() {
            match self.step(None).await? {
                Step::Applied => applied = true,
                Step::Idle => break,
            }
        }
        Ok(applied)
    }

    /// Apply batches up to exactly `target` (a snapshot taken after the checkpoint's): afterwards
    /// the warehouse holds every change `target` sees and no other.
    async fn catch_up_to(&mut self, target: &Snapshot) -> Result<(), CdcError> {
        while let Step::Applied = self.step(Some(target)).await? {}
        Ok(())
    }

    /// Run the open snapshot job, or open the initial one when the warehouse never started
    /// (`CDC_SNAPSHOT=initial`). Streaming waits meanwhile. `oltp` gives the job's reader.
    pub(super) async fn run_jobs(&mut self, config: &Config) -> Result<(), CdcError> {
        let olap = self.applier.client();
        let job = match backfill::open_job(olap).await? {
            Some(job) => job,
            None if self.checkpoint.never_set && self.snapshot_mode == SnapshotMode::Initial => {
                backfill::create_initial(olap).await?
            }
            None => return Ok(()),
        };
        let reader = SnapshotReader::open(connect(config, Db::Oltp).await?).await?;
        let olap = connect(config, Db::Olap).await?;
        let sink = Sink::prepare(&olap).await.map_err(|e| CdcError::db("preparing the sink", e))?;
        let lane = Lane { reader: reader.join(connect(config, Db::Oltp).await?).await?, client: olap, sink };
        self.run_job(job, reader, lane).await
    }

    async fn run_job(&mut self, job: Job, reader: SnapshotReader, lane: Lane) -> Result<(), CdcError> {
        if job.origin.is_none() && job.kind == JobKind::Resync && !self.checkpoint.never_set {
            tracing::info!(job = job.id, "resync: streaming up to its snapshot first");
            self.catch_up_to(&reader.snapshot).await?;
        }
        let chunk_rows = self.max_rows;
        let (client, sink) = self.applier.parts();
        let mut writer = backfill::Writer { client, sink, checkpoint: &mut self.checkpoint, chunk_rows };
        backfill::run(job, &reader, &mut writer, Some(lane)).await?;
        reader.close().await;
        self.checkpoint_tx.send_replace(Some(self.checkpoint.clone()));
        Ok(())
    }

    /// Apply one batch: of the open window, else of a new one ending at `target` (default: now).
    async fn step(&mut self, target: Option<&Snapshot>) -> Result<Step, CdcError> {
        let started = Instant::now();
        let (window, resuming) = match self.checkpoint.open_window() {
            Some(w) => (w, true),
            None => {
                let cur = match target {
                    Some(t) => t.clone(),
                    None => self.source.snapshot().await?,
                };
                let w = Window { prev: self.checkpoint.window_start.clone(), cur };
                if w.is_empty() {
                    return Ok(Step::Idle);
                }
                (w, false)
            }
        };
        // A prefetched page is always of the open window at the current checkpoint (see below).
        let page = match self.prefetched.take() {
            Some(page) if resuming => page,
            _ => self.source.read_page(&window, self.checkpoint.after, self.max_rows, self.max_bytes).await?,
        };
        if page.rows.is_empty() && !resuming {
            // Nothing committed in between: keep the old start, nothing to write.
            return Ok(Step::Idle);
        }
        telemetry::observe_phase("read", started.elapsed());
        let last = page.rows.last().map(ChangeRow::position);
        let next = self.checkpoint.advanced(&window, last, page.complete, page.rows.len() as i64);
        // While the batch commits, read the page after it when the window is still open: the
        // changes of a window are committed and immutable, so that page is exactly what the next
        // step would read. It is kept only if the batch commits.
        let Daemon { applier, source, checkpoint, max_rows, max_bytes, .. } = self;
        let prefetch = async {
            let Some(w) = next.open_window() else { return Ok(None) };
            let started = Instant::now();
            let page = source.read_page(&w, next.after, *max_rows, *max_bytes).await?;
            telemetry::observe_phase("prefetch", started.elapsed());
            Ok::<_, CdcError>(Some(page))
        };
        let (applied, prefetched) = tokio::join!(applier.apply(&page.rows, checkpoint, &next), prefetch);
        applied?;
        self.prefetched = prefetched?;
        self.checkpoint = next;
        self.checkpoint_tx.send_replace(Some(self.checkpoint.clone()));
        Ok(Step::Applied)
    }
}
