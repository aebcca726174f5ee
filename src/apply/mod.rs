//! The apply step: the one way rows reach the warehouse. A unit of input — a page of captured
//! changes, a chunk a snapshot job read, a replayed dead letter — is transformed, written, and
//! committed together with what it must record (its [`Mark`]: the checkpoint, the job's position,
//! the letter replayed). When the warehouse rejects the unit as data (SQLSTATE class 22 or 23),
//! or a snapshot row breaks a rule of the model, the unit is written again in halves under
//! savepoints until the rows at fault are found ([`isolate`]); those become dead letters in the
//! same transaction and the rest is applied. So a bad row never stops the pipeline and is never
//! lost.
//!
//! ```text
//! input ─▶ transform ─▶ sink ──────────────────────────────┬─▶ dead letters + mark ─▶ commit
//!                         └─ rejected as data ─▶ isolate ──┘
//! ```
//!
//! [`Applier::write_rows`] is the only caller of the sink.

mod isolate;
mod replay;

use std::{collections::BTreeMap, future::Future, time::Instant};

use tokio_postgres::{binary_copy::BinaryCopyOutRow, Client, Transaction};

pub use replay::{replay, ReplayReport};

use crate::{
    change::{ChangeRow, Op},
    db::{classify, ErrorKind, Writer},
    dead_letter::{self, DeadLetter},
    tables::{Read, Source},
    telemetry::{self, Chain},
    warehouse::{transform, transform_snapshot, Sink, WarehouseBatch, WriteStats},
};

/// What a unit applies.
#[derive(Clone, Copy)]
pub(crate) enum Input<'a> {
    /// Captured changes (a page of a window, a replayed dead letter), in any order.
    Changes(&'a [ChangeRow]),
    /// Rows snapshot job `job` read from `source`.
    Snapshot { job: i64, source: &'static Source, rows: &'a [BinaryCopyOutRow] },
}

impl Input<'_> {
    /// The whole unit's rows; `None` when a snapshot row breaks a rule of the model.
    fn transform(self) -> Option<WarehouseBatch> {
        match self {
            Input::Changes(rows) => Some(transform(rows)),
            Input::Snapshot { job, source, rows } => transform_snapshot(job, source, rows).ok(),
        }
    }

    /// Whether its rows can be told apart: captured changes, and snapshot rows read by key. A
    /// snapshot's whole query (stock by day) cannot: a rejected one fails its job.
    fn can_isolate(self) -> bool {
        match self {
            Input::Changes(_) => true,
            Input::Snapshot { source, .. } => matches!(source.snapshot.read, Read::Rows { .. }),
        }
    }
}

/// What a unit records with its rows, in the same transaction.
pub(crate) trait Mark: Sync {
    /// Record it in `tx`; the unit then commits.
    fn save(&self, tx: &Transaction<'_>) -> impl Future<Output = Result<(), ApplyError>> + Send;
}

/// What a unit applied.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Changes applied, by source table and op (snapshot rows are not counted).
    pub applied: BTreeMap<(&'static str, Op), u64>,
    /// What could not be applied, stored in `cdc_dead_letter`.
    pub dead_letters: Vec<DeadLetter>,
    pub stats: WriteStats,
}

impl Applied {
    fn add(&mut self, batch: WarehouseBatch, stats: &WriteStats) {
        for (key, n) in batch.applied {
            *self.applied.entry(key).or_default() += n;
        }
        self.dead_letters.extend(batch.rejected.into_iter().map(|r| DeadLetter::rejected(r.change, &r.error)));
        self.stats.add(stats);
    }
}

/// A step of the apply unit failed.
#[derive(Debug, thiserror::Error)]
#[error("{step}")]
pub struct ApplyError {
    pub step: &'static str,
    pub(crate) kind: ErrorKind,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl ApplyError {
    /// A `map_err` adapter for a database error of `step`, classified.
    pub(crate) fn db(step: &'static str) -> impl Fn(tokio_postgres::Error) -> Self {
        move |e| ApplyError { step, kind: classify(&e), source: Box::new(e) }
    }

    /// A step that could not go on for another reason (`kind` says how the caller reacts).
    pub(crate) fn other(
        step: &'static str,
        kind: ErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ApplyError { step, kind, source: source.into() }
    }
}

impl From<dead_letter::DeadLetterError> for ApplyError {
    fn from(e: dead_letter::DeadLetterError) -> Self {
        ApplyError::db(e.step)(e.source)
    }
}

/// The apply step on one warehouse connection: the sink's statements prepared on it.
pub(crate) struct Applier {
    sink: Sink,
}

impl Applier {
    /// Prepare the sink on `client` for the daemon, the warehouse's one writer of new facts; it
    /// moves the rollups with the facts when they hold them (`cdc_offset.rollups_built`).
    pub(crate) async fn prepare(client: &Client) -> Result<Self, ApplyError> {
        Self::prepare_as(client, Writer::Daemon).await
    }

    /// Prepare the sink on `client` for `writer`.
    async fn prepare_as(client: &Client, writer: Writer) -> Result<Self, ApplyError> {
        let rollups = crate::rollups::built(client).await.map_err(ApplyError::db("reading the rollups' state"))?;
        let sink = Sink::prepare(client, rollups, writer).await.map_err(ApplyError::db("preparing the sink"))?;
        Ok(Applier { sink })
    }

    /// Whether it moves the rollups with the facts.
    pub(crate) fn rollups(&self) -> bool {
        self.sink.rollups()
    }

    /// Apply `input` and `mark` in a transaction of their own on `client` (the connection the
    /// statements were prepared on), isolating the rows at fault if the warehouse rejects it.
    pub(crate) async fn apply(
        &self,
        client: &mut Client,
        input: Input<'_>,
        mark: &impl Mark,
    ) -> Result<Applied, ApplyError> {
        let started = Instant::now();
        let batch = input.transform();
        telemetry::observe_phase("transform", started.elapsed());
        if let Some(batch) = batch {
            let started = Instant::now();
            let tx = client.transaction().await.map_err(ApplyError::db("beginning a batch"))?;
            match self.write_rows(&tx, &batch).await {
                Ok(stats) => {
                    let mut applied = Applied::default();
                    applied.add(batch, &stats);
                    return commit(tx, applied, mark, started).await;
                }
                Err(e) if classify(&e) == ErrorKind::Data && input.can_isolate() => rejected(&e, input),
                Err(e) => return Err(ApplyError::db("writing a batch")(e)),
            }
            // Dropping `tx` rolled it back.
        } else if !input.can_isolate() {
            return Err(ApplyError::other(
                "mapping snapshot rows",
                ErrorKind::Internal,
                "a row breaks a rule of the model",
            ));
        }
        let started = Instant::now();
        let mut tx = client.transaction().await.map_err(ApplyError::db("beginning an isolation batch"))?;
        let applied = isolate::isolate(self, &mut tx, input).await?;
        commit(tx, applied, mark, started).await
    }

    /// Apply `input` inside the caller's transaction, under a savepoint (isolating the rows at
    /// fault under savepoints of their own); the caller records its progress and commits.
    pub(crate) async fn apply_in(&self, tx: &mut Transaction<'_>, input: Input<'_>) -> Result<Applied, ApplyError> {
        if let Some(batch) = input.transform() {
            let sp = tx.savepoint("unit").await.map_err(ApplyError::db("taking a savepoint"))?;
            match self.write_rows(&sp, &batch).await {
                Ok(stats) => {
                    let mut applied = Applied::default();
                    applied.add(batch, &stats);
                    dead_letter::insert(&sp, &applied.dead_letters)
                        .await
                        .map_err(ApplyError::db("writing dead letters"))?;
                    sp.commit().await.map_err(ApplyError::db("releasing a savepoint"))?;
                    record(&applied);
                    return Ok(applied);
                }
                Err(e) if classify(&e) == ErrorKind::Data && input.can_isolate() => {
                    rejected(&e, input);
                    sp.rollback().await.map_err(ApplyError::db("rolling back a savepoint"))?;
                }
                Err(e) => return Err(ApplyError::db("writing rows")(e)),
            }
        } else if !input.can_isolate() {
            return Err(ApplyError::other(
                "mapping snapshot rows",
                ErrorKind::Internal,
                "a row breaks a rule of the model",
            ));
        }
        let applied = isolate::isolate(self, tx, input).await?;
        record(&applied);
        Ok(applied)
    }

    /// Write `batch` in `tx`: the one call of the sink.
    async fn write_rows(
        &self,
        tx: &Transaction<'_>,
        batch: &WarehouseBatch,
    ) -> Result<WriteStats, tokio_postgres::Error> {
        self.sink.write(tx, batch).await
    }
}

/// Store the dead letters, save the mark, commit, and count what was done.
async fn commit(
    tx: Transaction<'_>,
    applied: Applied,
    mark: &impl Mark,
    started: Instant,
) -> Result<Applied, ApplyError> {
    dead_letter::insert(&tx, &applied.dead_letters).await.map_err(ApplyError::db("writing dead letters"))?;
    mark.save(&tx).await?;
    telemetry::observe_phase("write", started.elapsed());
    let started = Instant::now();
    tx.commit().await.map_err(ApplyError::db("committing a batch"))?;
    telemetry::observe_phase("commit", started.elapsed());
    record(&applied);
    Ok(applied)
}

fn rejected(e: &tokio_postgres::Error, input: Input<'_>) {
    let (what, rows) = match input {
        Input::Changes(rows) => ("batch", rows.len()),
        Input::Snapshot { rows, .. } => ("snapshot chunk", rows.len()),
    };
    tracing::warn!(error = %Chain(e), rows, "{what} rejected by the warehouse, isolating its rows");
}

/// Metrics and logs of what a unit wrote: inferred members, type 2 versions, dead letters.
fn record(applied: &Applied) {
    for (dim, &n) in applied.stats.inferred.iter() {
        if n > 0 {
            metrics::counter!(telemetry::WAREHOUSE_INFERRED, "dim" => dim.label()).increment(n);
        }
    }
    if applied.stats.product_versions > 0 {
        metrics::counter!(telemetry::WAREHOUSE_SCD2_VERSIONS, "dim" => "product")
            .increment(applied.stats.product_versions);
    }
    for dl in &applied.dead_letters {
        let table = crate::tables::source(&dl.change.table).map_or("unknown", |(_, s)| s.name);
        metrics::counter!(telemetry::CDC_DEAD_LETTERS, "table" => table).increment(1);
        tracing::warn!(source_id = dl.change.id, table = %dl.change.table, row_id = dl.change.row_id, kind = dl.kind.as_str(), reason = %dl.reason, "dead-lettered (see `brewlytics dlq list`)");
    }
}
