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
//! * [`identity`]: the checkpoint knows which source it describes; a poll that finds another
//!   timeline or transaction ids behind it stops the stream ([`Drain::replaced`]).
//! * [`gate`]: with `CDC_SYNC_STANDBYS`, a new window waits until those standbys replayed it.
//! * [`lock`] keeps one daemon active; [`listen`] wakes it up.

pub mod checkpoint;
pub(crate) mod gate;
pub(crate) mod identity;
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
use checkpoint::{Batch, Checkpoint};
use gate::{Gate, Lsn};
use identity::{Observed, Replaced, SourceMark, Verdict};
use source::{Page, Source};
pub(crate) use window::PgSnapshot;
use window::Window;

/// What one step did.
enum Step {
    Applied,
    Idle,
    /// The source is not the checkpoint's any more: nothing was applied.
    Replaced(Replaced),
}

/// What a drain did.
#[derive(Debug, Default)]
pub(super) struct Drain {
    pub applied: bool,
    /// It stopped because the source was replaced.
    pub replaced: Option<Replaced>,
}

/// The stream on its connections: the warehouse's (which also holds the apply lock) and OLTP's.
pub(super) struct Stream<'a> {
    olap: Client,
    applier: Applier,
    source: Source,
    gate: Gate,
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
            gate: Gate::new(&config.cdc_sync_standbys),
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

    /// The standby gate (the snapshot jobs wait on it too).
    pub(super) fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The OLTP connection of the reader.
    pub(super) fn oltp(&self) -> &Client {
        self.source.client()
    }

    /// Compare everything the daemon checks of the source with the checkpoint (at every connect,
    /// and when a poll finds another timeline or transaction ids behind). A checkpoint that
    /// recorded no identity yet takes the source's; one that was never set has no position to
    /// check. A new timeline that holds everything applied is taken on.
    pub(super) async fn check_source(&mut self) -> Result<Option<Replaced>, CdcError> {
        let seen = self.source.observe().await?;
        let cp = &mut self.checkpoint;
        if cp.source.system.is_none() && cp.source.timeline.is_none() {
            cp.source = SourceMark { system: seen.system.clone(), timeline: seen.timeline, ..cp.source.clone() };
        }
        let verdict = if cp.never_set {
            let identity_only = Observed { system: seen.system, timeline: seen.timeline, ..Observed::default() };
            identity::check(&cp.window_start, None, &cp.source, &identity_only)
        } else {
            identity::check(&cp.window_start, cp.window_end.as_ref(), &cp.source, &seen)
        };
        match verdict {
            Verdict::Same => Ok(None),
            Verdict::Replaced(why) => Ok(Some(why)),
            Verdict::Promoted { from, to, forked_at, applied } => {
                tracing::warn!(
                    from,
                    to,
                    forked_at = %forked_at,
                    applied = %applied,
                    "OLTP timeline {from} → {to} (promoted standby): it forked at {forked_at}, after every change \
                     the warehouse applied (up to {applied}); streaming on"
                );
                metrics::counter!(telemetry::CDC_SOURCE_CHANGES, "reason" => "promoted").increment(1);
                cp.source.timeline = Some(to);
                checkpoint::save_mark(&self.olap, &cp.source).await?;
                Ok(None)
            }
        }
    }

    /// Record, in memory, that the source was replaced (the caller records it in `cdc_offset`).
    pub(super) fn set_replaced(&mut self, why: String) {
        self.checkpoint.replaced = Some(why);
    }

    /// Apply batches until nothing is left, stopping early (between batches) on shutdown or when
    /// the source turns out to be replaced.
    pub(super) async fn drain(&mut self, shutdown: &CancellationToken) -> Result<Drain, CdcError> {
        let mut drain = Drain::default();
        while !shutdown.is_cancelled() {
            match self.step(None, shutdown).await? {
                Step::Applied => drain.applied = true,
                Step::Idle => break,
                Step::Replaced(r) => {
                    drain.replaced = Some(r);
                    break;
                }
            }
        }
        Ok(drain)
    }

    /// Apply batches up to exactly `target` (a snapshot taken after the checkpoint's, the standby
    /// gate passed): afterwards the warehouse holds every change `target` sees and no other.
    pub(super) async fn catch_up_to(&mut self, target: &PgSnapshot) -> Result<(), CdcError> {
        let never = CancellationToken::new();
        while let Step::Applied = self.step(Some(target), &never).await? {}
        Ok(())
    }

    /// The next window, ending at `target` or (polled) now, with the WAL position read with a
    /// polled snapshot: `Err(step)` when there is nothing to apply, the source was replaced, or
    /// shutdown came while the window waited for the standbys.
    async fn new_window(
        &mut self,
        target: Option<&PgSnapshot>,
        shutdown: &CancellationToken,
    ) -> Result<Result<(Window, Option<Lsn>), Step>, CdcError> {
        let Some(target) = target else {
            let poll = self.source.poll().await?;
            let cp = &self.checkpoint;
            let seen = Observed {
                timeline: Some(poll.timeline),
                snapshot: Some(poll.snapshot.clone()),
                ..Observed::default()
            };
            if identity::check(&cp.window_start, None, &cp.source, &seen) != Verdict::Same {
                if let Some(replaced) = self.check_source().await? {
                    return Ok(Err(Step::Replaced(replaced)));
                }
            }
            let w = Window { prev: self.checkpoint.window_start.clone(), cur: poll.snapshot };
            if w.is_empty() || !self.gate.wait(self.source.client(), poll.lsn, shutdown).await? {
                return Ok(Err(Step::Idle));
            }
            return Ok(Ok((w, Some(poll.lsn))));
        };
        let w = Window { prev: self.checkpoint.window_start.clone(), cur: target.clone() };
        Ok(if w.is_empty() { Err(Step::Idle) } else { Ok((w, None)) })
    }

    /// Apply one batch: of the open window, else of a new one ending at `target` (default: now).
    async fn step(&mut self, target: Option<&PgSnapshot>, shutdown: &CancellationToken) -> Result<Step, CdcError> {
        let started = Instant::now();
        let (window, lsn, resuming) = match self.checkpoint.open_window() {
            Some(w) => (w, None, true),
            None => match self.new_window(target, shutdown).await? {
                Ok((w, lsn)) => (w, lsn, false),
                Err(step) => return Ok(step),
            },
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
        let batch = Batch {
            last: page.rows.last().map(ChangeRow::position),
            complete: page.complete,
            applied: page.rows.len() as i64,
            max_id: page.rows.iter().map(|r| r.id).max(),
            lsn,
        };
        let next = self.checkpoint.advanced(&window, &batch);
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
