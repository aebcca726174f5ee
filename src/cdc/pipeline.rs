//! The daemon's loop: take the apply lock, wait for a NOTIFY (or the poll interval), then apply
//! batches until caught up. Each batch is one warehouse transaction holding its rows and the
//! checkpoint, so a kill at any instant loses nothing and applies nothing twice.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::{
    apply::Applier,
    checkpoint::{self, Checkpoint},
    error::{CdcError, ErrorKind},
    listen::Listener,
    lock, monitor, reconciler, retention,
    snapshot::Window,
    source::{Page, Source},
};
use crate::{
    change::ChangeRow,
    config::{Config, Db},
    db,
    telemetry::{self, Chain},
};

const RETENTION_EVERY: Duration = Duration::from_secs(60);

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
    let reconciler = tokio::spawn(reconciler::run(config.clone(), checkpoint_rx, shutdown.child_token()));
    let mut backoff = Backoff::new();
    while !shutdown.is_cancelled() {
        let delay = match run_connected(config, &shutdown, &checkpoint_tx, &mut backoff).await {
            Ok(()) => break,
            Err(e) => {
                let delay = backoff.next_delay();
                metrics::counter!(telemetry::CDC_ERRORS, "kind" => e.kind.label()).increment(1);
                metrics::counter!(telemetry::CDC_RETRIES).increment(1);
                tracing::warn!(error = %Chain(&e), kind = e.kind.label(), retry_in_ms = delay.as_millis() as u64, "cdc failure, retrying");
                delay
            }
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

/// One connected session: returns Ok on shutdown, Err when a connection or step fails.
async fn run_connected(
    config: &Config,
    shutdown: &CancellationToken,
    checkpoint_tx: &watch::Sender<Option<Checkpoint>>,
    backoff: &mut Backoff,
) -> Result<(), CdcError> {
    let olap = connect(config, Db::Olap).await?;
    if !lock::acquire(&olap, shutdown).await? {
        return Ok(());
    }
    let source = Source::new(connect(config, Db::Oltp).await?).await?;
    // Retention deletes, so it has a connection of its own: the reader's never holds an xid.
    let pruner = connect(config, Db::Oltp).await?;
    let mut listener = Listener::start(&config.target(Db::Oltp).map_err(|e| CdcError::internal("config", e))?).await?;
    let mut daemon = Daemon::new(config, olap, source, checkpoint_tx).await?;
    tracing::info!(applied_changes = daemon.checkpoint.applied_changes, "cdc daemon active");
    let mut last_retention = Instant::now() - RETENTION_EVERY;
    loop {
        daemon.drain(shutdown).await?;
        backoff.reset();
        if last_retention.elapsed() >= RETENTION_EVERY {
            retention::prune(&pruner, &daemon.checkpoint, config.cdc_retention).await?;
            last_retention = Instant::now();
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(()),
            r = listener.wait(config.poll_interval()) => r?,
        }
    }
}

async fn connect(config: &Config, which: Db) -> Result<Client, CdcError> {
    let mut target = config.target(which).map_err(|e| CdcError::internal("config", e))?;
    target.pg.application_name(format!("brewlytics-cdc {}", lock::instance_name()));
    db::connect_target(&target, which).await.map_err(|e| CdcError {
        step: "connecting",
        kind: ErrorKind::Connection,
        source: Box::new(e),
    })
}

/// What one step did.
enum Step {
    Applied,
    Idle,
}

struct Daemon<'a> {
    applier: Applier,
    source: Source,
    checkpoint: Checkpoint,
    checkpoint_tx: &'a watch::Sender<Option<Checkpoint>>,
    max_rows: i64,
    max_bytes: i64,
    /// The next page of the open window, read while the previous batch was being applied.
    prefetched: Option<Page>,
}

impl<'a> Daemon<'a> {
    async fn new(
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
            prefetched: None,
        })
    }

    /// Apply batches until nothing is left, stopping early (between batches) on shutdown.
    async fn drain(&mut self, shutdown: &CancellationToken) -> Result<(), CdcError> {
        while !shutdown.is_cancelled() {
            if let Step::Idle = self.step().await? {
                break;
            }
        }
        Ok(())
    }

    async fn step(&mut self) -> Result<Step, CdcError> {
        let started = Instant::now();
        let (window, resuming) = match self.checkpoint.open_window() {
            Some(w) => (w, true),
            None => {
                let cur = self.source.snapshot().await?;
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
