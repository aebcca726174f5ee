//! The daemon's loop: take the apply lock, wait for a NOTIFY (or the poll interval), then apply
//! batches until caught up. Each batch is one warehouse transaction holding its rows and the
//! checkpoint, so a kill at any instant loses nothing and applies nothing twice.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    checkpoint::Checkpoint,
    daemon::Daemon,
    error::{CdcError, ErrorKind},
    listen::{Cadence, Listener},
    lock, monitor, reconciler, retention,
    session::{connect, target},
    source::Source,
};
use crate::{
    config::{Config, Db},
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
    let reconciler = tokio::spawn(reconciler::run(config.clone(), checkpoint_rx, shutdown.child_token()));
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
    let olap = connect(config, Db::Olap).await?;
    if !lock::acquire(&olap, shutdown).await? {
        return Ok(());
    }
    let source = Source::new(connect(config, Db::Oltp).await?).await?;
    // Retention deletes, so it has a connection of its own: the reader's never holds an xid.
    let pruner = connect(config, Db::Oltp).await?;
    let mut listener = Listener::start(&target(config, Db::Oltp)?).await?;
    let mut daemon = Daemon::new(config, olap, source, checkpoint_tx).await?;
    tracing::info!(applied_changes = daemon.checkpoint().applied_changes, "cdc daemon active");
    let mut last_retention = Instant::now() - RETENTION_EVERY;
    let mut last_jobs = Instant::now() - JOBS_EVERY;
    let mut cadence = Cadence::new(config.poll_min(), config.poll_interval());
    let mut found = true;
    loop {
        if last_jobs.elapsed() >= JOBS_EVERY {
            daemon.run_jobs(config).await?;
            last_jobs = Instant::now();
        }
        found |= daemon.drain(shutdown).await?;
        backoff.reset();
        if last_retention.elapsed() >= RETENTION_EVERY {
            retention::prune(&pruner, daemon.checkpoint(), config.cdc_retention).await?;
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
