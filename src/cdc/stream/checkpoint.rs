//! The checkpoint in the warehouse (`cdc_offset`), committed in the same transaction as the
//! star-schema rows of each batch, so a batch is applied exactly once.
//!
//! Its position is a snapshot window plus, while a large window is read page by page, the
//! (txid, id) of the last change applied. `batch_seq` fences writers: a batch commits only if the
//! checkpoint is still the one it started from.

use tokio_postgres::{Client, Transaction};

use super::window::{PgSnapshot, Window};
use crate::{
    apply::ApplyError,
    cdc::error::{CdcError, ErrorKind},
    change::Position,
};

/// The source name of the one row in `cdc_offset`.
pub(crate) const SOURCE: &str = "cdc_orders";

/// Where the daemon is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Every change visible in this snapshot has been applied.
    pub(crate) window_start: PgSnapshot,
    /// The window being read page by page, if one is open.
    pub(crate) window_end: Option<PgSnapshot>,
    /// The last change applied within the open window.
    pub(crate) after: Option<Position>,
    pub(crate) batch_seq: i64,
    pub(crate) applied_changes: i64,
    /// No window was ever applied: the warehouse has not started (`window_start` is NULL).
    pub(crate) never_set: bool,
}

impl Checkpoint {
    /// The open window, if any.
    pub(crate) fn open_window(&self) -> Option<Window> {
        self.window_end.clone().map(|cur| Window { prev: self.window_start.clone(), cur })
    }

    /// The checkpoint that starts streaming at `snapshot` (a snapshot job loaded everything it sees).
    pub(crate) fn at(&self, snapshot: &PgSnapshot) -> Self {
        Checkpoint {
            window_start: snapshot.clone(),
            window_end: None,
            after: None,
            batch_seq: self.batch_seq + 1,
            applied_changes: self.applied_changes,
            never_set: false,
        }
    }

    /// The checkpoint after applying `applied` changes of `window`, up to `last` or to its end.
    pub(crate) fn advanced(&self, window: &Window, last: Option<Position>, complete: bool, applied: i64) -> Self {
        let (window_start, window_end, after) = if complete {
            (window.cur.clone(), None, None)
        } else {
            (window.prev.clone(), Some(window.cur.clone()), last)
        };
        Checkpoint {
            window_start,
            window_end,
            after,
            batch_seq: self.batch_seq + 1,
            applied_changes: self.applied_changes + applied,
            never_set: false,
        }
    }
}

/// Read the checkpoint.
pub async fn load(client: &Client) -> Result<Checkpoint, CdcError> {
    let row = client
        .query_one(
            "select window_start, window_end, after_txid, after_id, batch_seq, applied_changes
             from cdc_offset where source = $1",
            &[&SOURCE],
        )
        .await
        .map_err(|e| CdcError::db("loading the checkpoint", e))?;
    let parse = |s: Option<String>| -> Result<Option<PgSnapshot>, CdcError> {
        s.map(|s| s.parse().map_err(|e| CdcError::internal("parsing the checkpoint", e))).transpose()
    };
    let after_txid: Option<i64> = row.get(2);
    let after_id: Option<i64> = row.get(3);
    let window_start = parse(row.get(0))?;
    Ok(Checkpoint {
        never_set: window_start.is_none(),
        window_start: window_start.unwrap_or_else(PgSnapshot::origin),
        window_end: parse(row.get(1))?,
        after: after_txid.zip(after_id).map(|(txid, id)| Position { txid, id }),
        batch_seq: row.get(4),
        applied_changes: row.get(5),
    })
}

/// Move the checkpoint from `prev` to `next` inside the batch transaction. Fails with a
/// `Transient` error if another writer moved it meanwhile (the batch must roll back).
pub(crate) async fn save(tx: &Transaction<'_>, prev: &Checkpoint, next: &Checkpoint) -> Result<(), ApplyError> {
    let n = tx
        .execute(
            "update cdc_offset set window_start = $2, window_end = $3, after_txid = $4, after_id = $5,
                    batch_seq = $6, applied_changes = $7, updated_at = now()
             where source = $1 and batch_seq = $8",
            &[
                &SOURCE,
                &next.window_start.to_string(),
                &next.window_end.as_ref().map(ToString::to_string),
                &next.after.map(|a| a.txid),
                &next.after.map(|a| a.id),
                &next.batch_seq,
                &next.applied_changes,
                &prev.batch_seq,
            ],
        )
        .await
        .map_err(ApplyError::db("saving the checkpoint"))?;
    if n == 1 {
        Ok(())
    } else {
        Err(ApplyError::other(
            "saving the checkpoint",
            ErrorKind::Transient,
            "another writer moved the checkpoint (is a second daemon active?)",
        ))
    }
}
