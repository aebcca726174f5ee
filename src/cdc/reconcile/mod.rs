//! Reconciliation: the warehouse against OLTP *at the same moment*, exactly, on a live system —
//! `brewlytics verify` and the daemon's scheduled check ([`schedule`]). Each table says what is
//! compared ([`crate::tables::Check`]); [`compare`] reads both sides and compares them; this
//! module picks the moment.
//!
//! The warehouse holds exactly "every change visible in the checkpoint snapshot C"
//! (`cdc_offset.window_start`) when no window is open. So:
//!
//! 1. one repeatable-read transaction on OLAP reads C and the warehouse aggregates; if a window
//!    is open (a large window applied page by page), wait for a moment without one. On Citus,
//!    where that snapshot is per node, it first takes [`CITUS_HOLD_BATCHES`] so that no batch
//!    commits while it reads;
//! 2. then a repeatable-read transaction on OLTP: its snapshot S was taken after C was committed,
//!    so S sees everything C sees. OLTP as of C is S minus the changes of the transactions in
//!    (C, S], undone from their before images in `cdc_orders` (retention never deletes them: it
//!    only prunes changes visible in a checkpoint, and those older than `CDC_RETENTION`).
//!
//! Writers never have to stop and the daemon need not run: a stopped daemon is compared at its
//! last checkpoint. It cannot compare *now* while a snapshot job (initial load, resync) is open or
//! the checkpoint stays inside an open window past the deadline, or when more than `max_pending`
//! changes wait (the undo would be too costly), nor while the OLTP source is not the one the
//! checkpoint describes (`crate::cdc::rebase`). Rows loaded by a snapshot job hold the state of
//! its snapshot, which the checkpoint then starts from, so they compare like streamed ones; but
//! a job resumed after a kill read its later tables from a newer snapshot (its `latest`), so
//! until the checkpoint covers that one the warehouse is not one cut, and it cannot compare.

mod checks;
mod compare;
mod repair;
pub(super) mod schedule;

use std::time::{Duration, Instant};

use tokio_postgres::{Client, IsolationLevel};

pub use compare::{Difference, Scope, VerifyReport};

use super::{
    error::CdcError,
    stream::{checkpoint::SOURCE, PgSnapshot},
};
use crate::db;

/// Taken first by the warehouse side on Citus (see `attempt`): batches wait while it reads.
pub const CITUS_HOLD_BATCHES: &str = "lock table cdc_offset in share mode";

/// How long to wait between attempts when the moment is not right.
const RETRY: Duration = Duration::from_millis(100);

/// How a reconciliation runs.
#[derive(Debug, Clone, Copy)]
pub struct ReconcileOptions {
    pub scope: Scope,
    /// How long to wait for a checkpoint outside an open window with few enough pending changes.
    pub wait: Duration,
    /// Most committed-but-unapplied changes to undo; beyond this, wait (then give up).
    pub max_pending: i64,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions { scope: Scope::All, wait: Duration::from_secs(10), max_pending: 200_000 }
    }
}

/// Why the two sides cannot be compared now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotNow {
    /// The OLTP source is not the one the checkpoint describes (`why`); the daemon re-bases on it
    /// or, with `CDC_ON_SOURCE_CHANGE=stop`, waits for an operator.
    SourceReplaced { why: String },
    /// The checkpoint stayed inside a partly applied window.
    OpenWindow,
    /// A snapshot job (initial load or resync) is loading tables.
    SnapshotJob,
    /// More changes wait than the comparison may undo.
    Behind { pending: i64 },
    /// Snapshot job `job` resumed after a kill from a newer snapshot that streaming has not passed.
    ResumedSnapshot { job: i64 },
}

impl std::fmt::Display for NotNow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotNow::SourceReplaced { why } => write!(
                f,
                "the OLTP source was replaced ({why}); the warehouse is re-based on the new source, or waits for \
                 `brewlytics resync` under CDC_ON_SOURCE_CHANGE=stop"
            ),
            NotNow::OpenWindow => {
                f.write_str("the daemon is in the middle of a large window (a backlog being applied)")
            }
            NotNow::SnapshotJob => f.write_str("a snapshot job (initial load or resync) is loading tables"),
            NotNow::Behind { pending } => write!(f, "the daemon is behind by more than {pending} changes"),
            NotNow::ResumedSnapshot { job } => write!(
                f,
                "snapshot job {job} resumed after a restart and read its last tables from a newer OLTP snapshot, \
                 which streaming has not passed yet (until then its tables show two moments)"
            ),
        }
    }
}

/// What a reconciliation found.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Both sides compared at checkpoint `checkpoint`, undoing `pending` later changes.
    Compared { report: VerifyReport, checkpoint: String, pending: i64 },
    /// No consistent moment within the deadline.
    CannotCompare(NotNow),
}

/// Compare every key (what `brewlytics verify` does), waiting up to 10 s for a comparable moment.
pub async fn verify(oltp: &mut Client, olap: &mut Client) -> Result<Outcome, CdcError> {
    reconcile(oltp, olap, &ReconcileOptions::default()).await
}

/// Compare OLTP and the warehouse at one moment; see the module docs.
pub async fn reconcile(oltp: &mut Client, olap: &mut Client, opts: &ReconcileOptions) -> Result<Outcome, CdcError> {
    let deadline = Instant::now() + opts.wait;
    loop {
        match attempt(oltp, olap, opts).await? {
            Ok(outcome) => return Ok(outcome),
            // Waiting does not help: the daemon re-bases first (or an operator must act).
            Err(reason @ NotNow::SourceReplaced { .. }) => return Ok(Outcome::CannotCompare(reason)),
            Err(reason) if Instant::now() >= deadline => return Ok(Outcome::CannotCompare(reason)),
            Err(_) => tokio::time::sleep(RETRY).await,
        }
    }
}

async fn attempt(
    oltp: &mut Client,
    olap: &mut Client,
    opts: &ReconcileOptions,
) -> Result<Result<Outcome, NotNow>, CdcError> {
    let db = |step| move |e| CdcError::db(step, e);
    let citus = db::citus::is_citus(olap).await.map_err(db("looking for the citus extension"))?;
    let tx = repeatable_read(olap).await.map_err(db("reading the warehouse side"))?;
    if citus {
        // On Citus a repeatable-read snapshot is per node: the checkpoint (on the coordinator)
        // and the facts (on the workers) would be read at different moments, and a batch
        // committing in between shows as differences. A batch updates cdc_offset and keeps its
        // locks until every worker has committed (two-phase commit), so holding SHARE on
        // cdc_offset makes the read see whole batches only; batches wait meanwhile.
        tx.batch_execute(CITUS_HOLD_BATCHES).await.map_err(db("holding batches on Citus"))?;
    }
    let row = tx
        .query_one(
            "select o.window_start, o.window_end is not null,
                    exists (select from cdc_snapshot where state <> 'done'), j.job_id, j.latest, o.source_replaced
             from cdc_offset o
             left join lateral (select job_id, latest from cdc_snapshot where state = 'done'
                                order by job_id desc limit 1) j on true
             where o.source = $1",
            &[&SOURCE],
        )
        .await
        .map_err(db("reading the checkpoint"))?;
    if let Some(why) = row.get::<_, Option<String>>(5) {
        return Ok(Err(NotNow::SourceReplaced { why }));
    }
    if row.get::<_, bool>(2) {
        return Ok(Err(NotNow::SnapshotJob));
    }
    if row.get::<_, bool>(1) {
        return Ok(Err(NotNow::OpenWindow));
    }
    let start = match row.get::<_, Option<String>>(0) {
        Some(text) => text.parse().map_err(|e| CdcError::internal("parsing the checkpoint", e))?,
        None => PgSnapshot::origin(),
    };
    if let Some(latest) = row.get::<_, Option<String>>(4) {
        let latest: PgSnapshot =
            latest.parse().map_err(|e| CdcError::internal("parsing the job's latest snapshot", e))?;
        if !start.covers(&latest) {
            return Ok(Err(NotNow::ResumedSnapshot { job: row.get(3) }));
        }
    }
    let warehouse = compare::warehouse_side(&tx, opts.scope).await.map_err(db("reading the warehouse side"))?;
    tx.commit().await.map_err(db("reading the warehouse side"))?;

    let tx = repeatable_read(oltp).await.map_err(db("reading the OLTP side"))?;
    let (text, xmin) = (start.to_string(), start.xmin.to_string());
    let pending: i64 = tx
        .query_one(
            "select count(*) from (select 1 from cdc_orders
               where txid >= $2::text::xid8 and not pg_visible_in_snapshot(txid, $1::text::pg_snapshot)
               limit $3) p",
            &[&text, &xmin, &(opts.max_pending + 1)],
        )
        .await
        .map_err(db("counting the changes after the checkpoint"))?
        .get(0);
    if pending > opts.max_pending {
        return Ok(Err(NotNow::Behind { pending: opts.max_pending }));
    }
    let truth =
        compare::oltp_side_as_of(&tx, &text, start.xmin, opts.scope).await.map_err(db("reading the OLTP side"))?;
    tx.commit().await.map_err(db("reading the OLTP side"))?;
    Ok(Ok(Outcome::Compared { report: compare::compare(&truth, &warehouse), checkpoint: text, pending }))
}

async fn repeatable_read(client: &mut Client) -> Result<tokio_postgres::Transaction<'_>, tokio_postgres::Error> {
    client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await
}
