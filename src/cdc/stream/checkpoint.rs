//! The checkpoint in the warehouse (`cdc_offset`), committed in the same transaction as the
//! star-schema rows of each batch, so a batch is applied exactly once.
//!
//! Its position is a snapshot window plus, while a large window is read page by page, the
//! (txid, id) of the last change applied. `batch_seq` fences writers: a batch commits only if the
//! checkpoint is still the one it started from. It also records which source it describes
//! ([`SourceMark`], see [`super::identity`]) and, while the daemon re-bases on a replaced source
//! (or waits for an operator to), why.

use tokio_postgres::{Client, GenericClient, Transaction};

use super::{
    gate::Lsn,
    identity::SourceMark,
    window::{PgSnapshot, Window},
};
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
    /// The source this checkpoint describes.
    pub(crate) source: SourceMark,
    /// Why the source is not that one any more (the daemon re-bases, or waits for an operator).
    pub(crate) replaced: Option<String>,
}

impl Checkpoint {
    /// The open window, if any.
    pub(crate) fn open_window(&self) -> Option<Window> {
        self.window_end.clone().map(|cur| Window { prev: self.window_start.clone(), cur })
    }

    /// The checkpoint that starts streaming at `snapshot` of `source` (a snapshot job loaded
    /// everything it sees there).
    pub(crate) fn at(&self, snapshot: &PgSnapshot, source: SourceMark) -> Self {
        Checkpoint {
            window_start: snapshot.clone(),
            window_end: None,
            after: None,
            batch_seq: self.batch_seq + 1,
            applied_changes: self.applied_changes,
            never_set: false,
            source,
            replaced: None,
        }
    }

    /// The checkpoint after applying `batch` of `window`.
    pub(crate) fn advanced(&self, window: &Window, batch: &Batch) -> Self {
        let Batch { last, complete, applied, max_id, lsn } = *batch;
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
            source: SourceMark {
                max_id: self.source.max_id.max(max_id.unwrap_or(0)),
                lsn: self.source.lsn.max(lsn),
                ..self.source.clone()
            },
            replaced: self.replaced.clone(),
        }
    }
}

/// What one batch applied of a window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batch {
    /// The last change applied; `complete`: the window's last.
    pub last: Option<Position>,
    pub complete: bool,
    /// How many changes.
    pub applied: i64,
    /// The highest `cdc_orders` id among them.
    pub max_id: Option<i64>,
    /// The WAL insert position read with the window's snapshot (none: recorded already).
    pub lsn: Option<Lsn>,
}

/// Read the checkpoint.
pub async fn load(client: &Client) -> Result<Checkpoint, CdcError> {
    let row = client
        .query_one(
            "select window_start, window_end, after_txid, after_id, batch_seq, applied_changes, source_system,
                    source_timeline, source_max_id, source_replaced, source_lsn::text
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
        source: SourceMark {
            system: row.get(6),
            timeline: row.get(7),
            max_id: row.get(8),
            lsn: parse_lsn(row.get(10))?,
        },
        replaced: row.get(9),
    })
}

/// Move the checkpoint from `prev` to `next` inside the batch transaction. Fails with a
/// `Transient` error if another writer moved it meanwhile (the batch must roll back).
pub(crate) async fn save(tx: &Transaction<'_>, prev: &Checkpoint, next: &Checkpoint) -> Result<(), ApplyError> {
    let n = tx
        .execute(
            "update cdc_offset set window_start = $2, window_end = $3, after_txid = $4, after_id = $5,
                    batch_seq = $6, applied_changes = $7, source_system = $9, source_timeline = $10,
                    source_max_id = $11, source_replaced = $12, source_lsn = $13::text::pg_lsn, updated_at = now()
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
                &next.source.system,
                &next.source.timeline,
                &next.source.max_id,
                &next.replaced,
                &next.source.lsn.map(|l| l.to_string()),
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

/// Record, outside any batch, that the source was replaced (`why`), so a restarted daemon, `status`
/// and `verify` know it; the next job's first step clears it ([`Checkpoint::at`]).
pub(crate) async fn mark_replaced(client: &Client, why: &str) -> Result<(), CdcError> {
    client
        .execute("update cdc_offset set source_replaced = $2 where source = $1", &[&SOURCE, &why])
        .await
        .map_err(|e| CdcError::db("recording that the source was replaced", e))?;
    Ok(())
}

/// Record which source the checkpoint describes: a snapshot job's source in its first step, or a
/// new timeline that holds everything applied.
pub(crate) async fn save_mark(client: &impl GenericClient, mark: &SourceMark) -> Result<(), CdcError> {
    client
        .execute(
            "update cdc_offset set source_system = $2, source_timeline = $3, source_max_id = $4,
                    source_lsn = $5::text::pg_lsn
             where source = $1",
            &[&SOURCE, &mark.system, &mark.timeline, &mark.max_id, &mark.lsn.map(|l| l.to_string())],
        )
        .await
        .map_err(|e| CdcError::db("recording the source of the checkpoint", e))?;
    Ok(())
}

fn parse_lsn(text: Option<String>) -> Result<Option<Lsn>, CdcError> {
    text.map(|t| t.parse()).transpose().map_err(|e| CdcError::internal("parsing the checkpoint's WAL position", e))
}
