//! Wake-ups. By default the daemon polls (`pg_current_snapshot()`, which holds no xid) on an
//! adaptive [`Cadence`]: every `CDC_POLL_MIN_MS` while polls find changes, doubling up to
//! `CDC_POLL_INTERVAL_MS` while they find none. Where the capture's NOTIFY is turned on
//! (`select cdc_set_notify(true)` in OLTP), a dedicated connection LISTENs on `cdc_orders` and a
//! notification wakes the daemon at once; NOTIFY costs commit throughput (it serialises
//! notifying commits), so it is off by default.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use tokio::{sync::Notify, task::JoinHandle};
use tokio_postgres::{AsyncMessage, Client};

use crate::cdc::error::{CdcError, ErrorKind};
use crate::{
    config::{Db, DbTarget},
    db,
};

/// The channel the capture triggers notify.
pub(crate) const CHANNEL: &str = "cdc_orders";

/// A LISTEN connection and the task that drives it.
pub(crate) struct Listener {
    _client: Client,
    notify: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Connect and LISTEN.
    pub(crate) async fn start(target: &DbTarget) -> Result<Self, CdcError> {
        let (client, mut connection) = db::connect_raw(target, Db::Oltp.label()).await.map_err(|e| CdcError {
            step: "connecting the listener",
            kind: ErrorKind::Connection,
            source: Box::new(e),
        })?;
        let notify = Arc::new(Notify::new());
        let wake = notify.clone();
        let task = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(_) = message {
                    wake.notify_one();
                }
            }
        });
        client.batch_execute(&format!("listen {CHANNEL}")).await.map_err(|e| CdcError::db("listen", e))?;
        Ok(Listener { _client: client, notify, task })
    }

    /// Wait for a notification (true) or `poll` (false); fails if the listener connection died.
    pub(crate) async fn wait(&mut self, poll: Duration) -> Result<bool, CdcError> {
        tokio::select! {
            _ = self.notify.notified() => Ok(true),
            _ = tokio::time::sleep(poll) => {
                if self.task.is_finished() {
                    Err(CdcError { step: "listening", kind: ErrorKind::Connection, source: "the listener connection closed".into() })
                } else {
                    Ok(false)
                }
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long the daemon waits before its next poll: the floor while polls find changes (or a
/// notification came), doubling on every empty poll up to the ceiling. "Found" means changes in
/// the window, not a moved snapshot: the snapshot is cluster-wide, so the daemon's own warehouse
/// commits move it when both databases share a server.
#[derive(Debug, Clone)]
pub(crate) struct Cadence {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Cadence {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Cadence { min, max, next: min }
    }

    /// The wait before the next poll, after a poll that `found` changes (or not).
    pub(crate) fn after(&mut self, found: bool) -> Duration {
        self.next = if found { self.min } else { (self.next * 2).min(self.max) };
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cadence_backs_off_when_idle_and_snaps_back_on_changes() {
        let ms = Duration::from_millis;
        let mut c = Cadence::new(ms(10), ms(200));
        let idle: Vec<_> = (0..7).map(|_| c.after(false)).collect();
        assert_eq!(idle, [ms(20), ms(40), ms(80), ms(160), ms(200), ms(200), ms(200)]);
        assert_eq!(c.after(true), ms(10));
        assert_eq!(c.after(false), ms(20));
    }
}
