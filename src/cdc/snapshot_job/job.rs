//! A job's row in `cdc_snapshot` and its progress per table in `cdc_snapshot_table`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{Client, GenericClient, Transaction};

use super::StarTable;
use crate::{
    apply::{ApplyError, Mark},
    cdc::{
        error::{CdcError, ErrorKind},
        stream::PgSnapshot,
    },
};

/// What a job is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::cdc) enum JobKind {
    Initial,
    Resync,
    /// Every table from a new source: the old position means nothing there (`crate::cdc::rebase`).
    Rebase,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Initial => "initial",
            JobKind::Resync => "resync",
            JobKind::Rebase => "rebase",
        }
    }

    fn parse(text: &str) -> Self {
        [JobKind::Initial, JobKind::Rebase].into_iter().find(|k| k.as_str() == text).unwrap_or(JobKind::Resync)
    }
}

/// An open job.
#[derive(Debug, Clone)]
pub(in crate::cdc) struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub targets: Vec<StarTable>,
    /// The snapshot of its first step; `None` until that step committed.
    pub origin: Option<PgSnapshot>,
}

fn db(step: &'static str) -> impl Fn(tokio_postgres::Error) -> CdcError {
    move |e| CdcError::db(step, e)
}

/// The open job, if any.
pub(in crate::cdc) async fn open_job(olap: &Client) -> Result<Option<Job>, CdcError> {
    let row = olap
        .query_opt("select job_id, kind, targets, origin from cdc_snapshot where state <> 'done'", &[])
        .await
        .map_err(db("loading the snapshot job"))?;
    let Some(row) = row else { return Ok(None) };
    let kind = JobKind::parse(row.get(1));
    let names: Vec<String> = row.get(2);
    let targets = names.iter().filter_map(|n| StarTable::from_name(n)).collect();
    let origin = row
        .get::<_, Option<String>>(3)
        .map(|s| s.parse().map_err(|e| CdcError::internal("parsing the job's origin", e)))
        .transpose()?;
    Ok(Some(Job { id: row.get(0), kind, targets, origin }))
}

/// Open the initial job (every table); returns the open job if there is one already.
pub(in crate::cdc) async fn create_initial(olap: &Client) -> Result<Job, CdcError> {
    let names: Vec<&str> = StarTable::all().into_iter().map(StarTable::name).collect();
    olap.execute(
        "insert into cdc_snapshot (kind, targets) values ($1, $2) on conflict do nothing",
        &[&JobKind::Initial.as_str(), &names],
    )
    .await
    .map_err(db("opening the initial snapshot job"))?;
    open_job(olap).await?.ok_or_else(|| CdcError::internal("opening the initial snapshot job", NoJob))
}

#[derive(Debug, thiserror::Error)]
#[error("the job row vanished")]
struct NoJob;

/// Queue a rebase of every table (the source was replaced), and return it. An open job starts
/// over as that rebase: what it loaded came from the old source.
pub(in crate::cdc) async fn queue_rebase(olap: &Client) -> Result<Job, CdcError> {
    let names: Vec<&str> = StarTable::all().into_iter().map(StarTable::name).collect();
    olap.batch_execute("begin").await.map_err(db("queueing a rebase"))?;
    let queued = async {
        let open = olap
            .query(
                "update cdc_snapshot set kind = 'rebase', targets = $1, state = 'requested', origin = null, latest = null,
                        started_at = null
                 where state <> 'done' returning job_id",
                &[&names],
            )
            .await?;
        match open.first() {
            Some(job) => {
                olap.execute("delete from cdc_snapshot_table where job_id = $1", &[&job.get::<_, i64>(0)]).await?
            }
            None => olap.execute("insert into cdc_snapshot (kind, targets) values ('rebase', $1)", &[&names]).await?,
        };
        olap.batch_execute("commit").await
    };
    if let Err(e) = queued.await {
        let _ = olap.batch_execute("rollback").await;
        return Err(CdcError::db("queueing a rebase", e));
    }
    open_job(olap).await?.ok_or_else(|| CdcError::internal("opening the rebase", NoJob))
}

/// What `brewlytics resync` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ResyncRequest {
    /// A new job was queued for the active daemon.
    Queued { job_id: i64 },
    /// A job is open already; it runs first.
    Busy { job_id: i64, kind: String },
}

/// Queue a resync of `targets` (all when empty).
pub async fn request_resync(olap: &Client, targets: &[StarTable]) -> Result<ResyncRequest, CdcError> {
    let all = StarTable::all();
    let targets = if targets.is_empty() { &all[..] } else { targets };
    let names: Vec<&str> = targets.iter().map(|t| t.name()).collect();
    let row = olap
        .query_opt(
            "insert into cdc_snapshot (kind, targets) values ('resync', $1) on conflict do nothing returning job_id",
            &[&names],
        )
        .await
        .map_err(db("queueing a resync"))?;
    if let Some(row) = row {
        return Ok(ResyncRequest::Queued { job_id: row.get(0) });
    }
    let row = olap
        .query_one("select job_id, kind from cdc_snapshot where state <> 'done'", &[])
        .await
        .map_err(db("finding the open job"))?;
    Ok(ResyncRequest::Busy { job_id: row.get(0), kind: row.get(1) })
}

/// Mark `job` running from `origin`, with its tables and their row counts, in the first step's
/// transaction.
pub(super) async fn start(
    tx: &impl GenericClient,
    job: &Job,
    origin: &PgSnapshot,
    totals: &[(&'static str, i64)],
) -> Result<(), CdcError> {
    tx.execute(
        "update cdc_snapshot set state = 'running', origin = $2, started_at = now() where job_id = $1",
        &[&job.id, &origin.to_string()],
    )
    .await
    .map_err(db("starting the snapshot job"))?;
    for (source, total) in totals {
        tx.execute(
            "insert into cdc_snapshot_table (job_id, source, rows_total) values ($1, $2, $3)
             on conflict (job_id, source) do update set rows_total = excluded.rows_total",
            &[&job.id, source, total],
        )
        .await
        .map_err(db("recording the job's tables"))?;
    }
    Ok(())
}

/// Record that `job` resumed after a kill and reads the rest of its rows from `snapshot`, newer
/// than its origin: until the checkpoint covers it, the warehouse is not one consistent cut
/// (`crate::cdc::reconcile` waits). Committed before any row is read from it.
pub(super) async fn resumed(olap: &Client, job: &Job, snapshot: &PgSnapshot) -> Result<(), CdcError> {
    olap.execute("update cdc_snapshot set latest = $2 where job_id = $1", &[&job.id, &snapshot.to_string()])
        .await
        .map_err(db("recording the snapshot job's resumption"))?;
    Ok(())
}

/// A chunk's mark: `source`'s position moves from `prev` to `last` (`rows` more done), in the
/// chunk's transaction; it fails if another writer moved it meanwhile.
pub(super) struct Advance<'a> {
    pub job: &'a Job,
    pub source: &'static str,
    pub prev: i64,
    pub last: i64,
    pub rows: i64,
    pub done: bool,
}

impl Mark for Advance<'_> {
    async fn save(&self, tx: &Transaction<'_>) -> Result<(), ApplyError> {
        let n = tx
            .execute(
                "update cdc_snapshot_table set last_id = $4, rows_done = rows_done + $5, done = $6,
                        started_at = coalesce(started_at, clock_timestamp()),
                        finished_at = case when $6 then clock_timestamp() end
                 where job_id = $1 and source = $2 and last_id = $3",
                &[&self.job.id, &self.source, &self.prev, &self.last, &self.rows, &self.done],
            )
            .await
            .map_err(ApplyError::db("recording snapshot progress"))?;
        if n == 1 {
            Ok(())
        } else {
            Err(ApplyError::other("recording snapshot progress", ErrorKind::Internal, Moved))
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("another writer moved the snapshot job's position (is a second daemon active?)")]
struct Moved;

/// Where `source` stands: its last key and whether it is done.
pub(super) async fn position(olap: &Client, job: &Job, source: &str) -> Result<(i64, bool), CdcError> {
    let row = olap
        .query_opt(
            "select last_id, done from cdc_snapshot_table where job_id = $1 and source = $2",
            &[&job.id, &source],
        )
        .await
        .map_err(db("loading snapshot progress"))?;
    Ok(row.map_or((0, false), |r| (r.get(0), r.get(1))))
}

/// `source`'s rows done and in all.
pub(super) async fn counts(olap: &Client, job: &Job, source: &str) -> Result<(i64, i64), CdcError> {
    let row = olap
        .query_opt(
            "select rows_done, rows_total from cdc_snapshot_table where job_id = $1 and source = $2",
            &[&job.id, &source],
        )
        .await
        .map_err(db("loading snapshot progress"))?;
    Ok(row.map_or((0, 0), |r| (r.get(0), r.get(1))))
}

/// Close `job`.
pub(super) async fn finish(tx: &impl GenericClient, job: &Job) -> Result<(), CdcError> {
    tx.execute("update cdc_snapshot set state = 'done', finished_at = now() where job_id = $1", &[&job.id])
        .await
        .map_err(db("closing the snapshot job"))?;
    Ok(())
}

/// A job as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobProgress {
    pub job_id: i64,
    pub kind: String,
    pub state: String,
    pub targets: Vec<String>,
    pub requested_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub tables: Vec<TableProgress>,
}

/// One table of a job.
#[derive(Debug, Clone, Serialize)]
pub struct TableProgress {
    pub table: String,
    pub rows_done: i64,
    pub rows_total: i64,
    pub done: bool,
    /// Rows per second since the table started.
    pub rows_per_second: f64,
    /// Seconds left at that rate.
    pub eta_seconds: Option<f64>,
}

/// The open job, or else the last one.
pub async fn progress(olap: &Client) -> Result<Option<JobProgress>, CdcError> {
    let job = olap
        .query_opt(
            "select job_id, kind, state, targets, requested_at, started_at, finished_at from cdc_snapshot
             order by (state = 'done'), job_id desc limit 1",
            &[],
        )
        .await
        .map_err(db("loading snapshot jobs"))?;
    let Some(job) = job else { return Ok(None) };
    let id: i64 = job.get(0);
    let tables = olap
        .query(
            "select source, rows_done, rows_total, done,
                    extract(epoch from coalesce(finished_at, clock_timestamp()) - started_at)::float8
             from cdc_snapshot_table where job_id = $1 order by started_at nulls last, source",
            &[&id],
        )
        .await
        .map_err(db("loading snapshot progress"))?;
    let tables = tables
        .iter()
        .map(|r| {
            let (done_rows, total): (i64, i64) = (r.get(1), r.get(2));
            let secs: Option<f64> = r.get(4);
            let rate = secs.filter(|s| *s > 0.0).map_or(0.0, |s| done_rows as f64 / s);
            let done: bool = r.get(3);
            let eta = (!done && rate > 0.0).then(|| (total - done_rows).max(0) as f64 / rate);
            TableProgress {
                table: r.get(0),
                rows_done: done_rows,
                rows_total: total,
                done,
                rows_per_second: rate,
                eta_seconds: eta,
            }
        })
        .collect();
    Ok(Some(JobProgress {
        job_id: id,
        kind: job.get(1),
        state: job.get(2),
        targets: job.get(3),
        requested_at: job.get(4),
        started_at: job.get(5),
        finished_at: job.get(6),
        tables,
    }))
}
