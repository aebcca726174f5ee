//! Streaming: every committed change of `cdc_orders`, read in snapshot windows, applied once.
//!
//! ```text
//! source (windows of cdc_orders, in pages) ─▶ apply step, with the checkpoint as its mark
//! ```
//!
//! * [`window`] defines the window between two transaction snapshots ([`PgSnapshot`]); [`source`]
//!   reads its pages.
//! * Each page is one unit of the apply step (`crate::apply`), committed with the move of the
//!   [`checkpoint`] in the same warehouse transaction: a kill at any instant loses nothing and
//!   applies nothing twice.
//! * [`lock`] keeps one daemon active; [`listen`] wakes it up.

pub mod checkpoint;
pub(super) mod listen;
pub(super) mod lock;
pub(super) mod source;
pub(crate) mod window;

use std::time::Instant;

use chrono::Utc;
use tokio::sync::watch;
use tokio_postgres::{Client, Transaction};
use tokio_util::sync::CancellationToken;

use super::error::CdcError;
use crate::{
    apply::{Applied, Applier, ApplyError, Input, Mark},
    change::ChangeRow,
    config::Config,
    telemetry,
};
use checkpoint::Checkpoint;
use source::{Page, Source};
pub(crate) use window::PgSnapshot;
use window::Window;

/// What one step did.
enum Step {
    Applied,
    Idle,
}

/// The stream on its connections: the warehouse's (which also holds the apply lock) and OLTP's.
pub(super) struct Stream<'a> {
    olap: Client,
    applier: Applier,
    source: Source,
    checkpoint: Checkpoint,
    checkpoint_tx: &'a watch::Sender<Option<Checkpoint>>,
    max_rows: i64,
    max_bytes: i64,
    /// The next page of the open window, read while the previous batch was being applied.
    prefetched: Option<Page>,
}

impl<'a> Stream<'a> {
    pub(super) async fn new(
        config: &Config,
        olap: Client,
        source: Source,
        checkpoint_tx: &'a watch::Sender<Option<Checkpoint>>,
    ) -> Result<Self, CdcError> {
        let checkpoint = checkpoint::load(&olap).await?;
        let applier = Applier::prepare(&olap).await?;
        checkpoint_tx.send_replace(Some(checkpoint.clone()));
        Ok(Stream {
            olap,
            applier,
            source,
            checkpoint,
            checkpoint_tx,
            max_rows: config.cdc_batch_rows,
            max_bytes: config.cdc_batch_bytes,
            prefetched: None,
        })
    }

    /// The checkpoint.
    pub(super) fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The warehouse connection (it holds the apply lock).
    pub(super) fn olap(&self) -> &Client {
        &self.olap
    }

    /// The warehouse connection, the apply step on it and the checkpoint, for a snapshot job; the
    /// job publishes the checkpoint it leaves with [`Stream::publish`].
    pub(super) fn parts(&mut self) -> (&mut Client, &Applier, &mut Checkpoint) {
        (&mut self.olap, &self.applier, &mut self.checkpoint)
    }

    /// Tell the monitor and the reconciler where the checkpoint is.
    pub(super) fn publish(&self) {
        self.checkpoint_tx.send_replace(Some(self.checkpoint.clone()));
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
    pub(super) async fn catch_up_to(&mut self, target: &PgSnapshot) -> Result<(), CdcError> {
        while let Step::Applied = self.step(Some(target)).await? {}
        Ok(())
    }

    /// Apply one batch: of the open window, else of a new one ending at `target` (default: now).
    async fn step(&mut self, target: Option<&PgSnapshot>) -> Result<Step, CdcError> {
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
        let Stream { olap, applier, source, checkpoint, max_rows, max_bytes, .. } = self;
        let prefetch = async {
            let Some(w) = next.open_window() else { return Ok(None) };
            let started = Instant::now();
            let page = source.read_page(&w, next.after, *max_rows, *max_bytes).await?;
            telemetry::observe_phase("prefetch", started.elapsed());
            Ok::<_, CdcError>(Some(page))
        };
        let mark = CheckpointMove { prev: checkpoint, next: &next };
        let apply = applier.apply(olap, Input::Changes(&page.rows), &mark);
        let (applied, prefetched) = tokio::join!(apply, prefetch);
        record(&page.rows, &applied?);
        self.prefetched = prefetched?;
        self.checkpoint = next;
        self.publish();
        Ok(Step::Applied)
    }
}

/// The mark of a streamed batch: the checkpoint moves from `prev` to `next`.
struct CheckpointMove<'a> {
    prev: &'a Checkpoint,
    next: &'a Checkpoint,
}

impl Mark for CheckpointMove<'_> {
    async fn save(&self, tx: &Transaction<'_>) -> Result<(), ApplyError> {
        checkpoint::save(tx, self.prev, self.next).await
    }
}

/// Metrics and logs of a committed batch. Freshness is one sample per batch: the age of its
/// oldest change, an upper bound for every change in it.
fn record(rows: &[ChangeRow], applied: &Applied) {
    let now = Utc::now();
    for (&(table, op), &n) in &applied.applied {
        metrics::counter!(telemetry::CDC_CHANGES_APPLIED, "table" => table, "op" => op.code()).increment(n);
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
