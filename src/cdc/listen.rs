//! Wake-ups: a dedicated OLTP connection LISTENs on `cdc_orders`; the capture triggers send one
//! NOTIFY per committing transaction. A fallback poll interval covers lost notifications.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use tokio::{sync::Notify, task::JoinHandle};
use tokio_postgres::{AsyncMessage, Client};

use super::error::{CdcError, ErrorKind};
use crate::{
    config::{Db, DbTarget},
    db,
};

/// The channel the capture triggers notify.
pub(super) const CHANNEL: &str = "cdc_orders";

/// A LISTEN connection and the task that drives it.
pub(super) struct Listener {
    _client: Client,
    notify: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Connect and LISTEN.
    pub(super) async fn start(target: &DbTarget) -> Result<Self, CdcError> {
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

    /// Wait for a notification or the poll interval; fails if the listener connection died.
    pub(super) async fn wait(&mut self, poll: Duration) -> Result<(), CdcError> {
        tokio::select! {
            _ = self.notify.notified() => Ok(()),
            _ = tokio::time::sleep(poll) => {
                if self.task.is_finished() {
                    Err(CdcError { step: "listening", kind: ErrorKind::Connection, source: "the listener connection closed".into() })
                } else {
                    Ok(())
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
