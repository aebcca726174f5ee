//! Isolation: a unit the warehouse rejected (or with a snapshot row that breaks a rule) is written
//! again in halves, each under a savepoint, halving what fails until single rows remain: those
//! become dead letters, everything else is applied, in the caller's transaction. A bad row costs
//! about 2 × log₂(unit) writes. Halves are written in version order (changes are sorted first),
//! and every write carries the version guard, so applying a unit in parts ends where applying it
//! whole would.

use std::ops::Range;

use tokio_postgres::{binary_copy::BinaryCopyOutRow, Transaction};

use super::{Applied, Applier, ApplyError, Input};
use crate::{
    change::ChangeRow,
    db::{classify, ErrorKind},
    dead_letter::{self, rejection, DeadLetter},
    tables::{self, Source, TransformError},
    telemetry::Chain,
    warehouse::{transform, transform_snapshot, WarehouseBatch, WriteStats},
};

/// Why a part was not applied.
enum Refusal {
    /// The warehouse rejected it as data.
    Warehouse(tokio_postgres::Error),
    /// A snapshot row breaks a rule of the model.
    Rule(TransformError),
}

/// A unit's rows, in the order they are applied.
enum Units<'a> {
    Changes(Vec<&'a ChangeRow>),
    Snapshot { job: i64, source: &'static Source, rows: &'a [BinaryCopyOutRow] },
}

impl<'a> Units<'a> {
    fn new(input: Input<'a>) -> Self {
        match input {
            Input::Changes(rows) => {
                let mut ordered: Vec<&ChangeRow> = rows.iter().collect();
                ordered.sort_by_key(|c| c.version());
                Units::Changes(ordered)
            }
            Input::Snapshot { job, source, rows } => Units::Snapshot { job, source, rows },
        }
    }

    fn len(&self) -> usize {
        match self {
            Units::Changes(rows) => rows.len(),
            Units::Snapshot { rows, .. } => rows.len(),
        }
    }

    fn transform(&self, part: Range<usize>) -> Result<WarehouseBatch, Refusal> {
        match self {
            Units::Changes(rows) => Ok(transform(rows[part].iter().copied())),
            Units::Snapshot { job, source, rows } => {
                transform_snapshot(*job, source, &rows[part]).map_err(|(_, e)| Refusal::Rule(e))
            }
        }
    }

    /// The dead letter of row `i`.
    fn letter(&self, i: usize, refusal: Refusal) -> DeadLetter {
        match (self, refusal) {
            (Units::Changes(rows), Refusal::Warehouse(e)) => DeadLetter::refused(rows[i].clone(), &e),
            (Units::Changes(rows), Refusal::Rule(e)) => DeadLetter::rejected(rows[i].clone(), &e),
            (Units::Snapshot { job, source, rows }, refusal) => {
                let why = match refusal {
                    Refusal::Warehouse(e) => format!("the warehouse rejected it: {}", rejection(&e)),
                    Refusal::Rule(e) => Chain(&e).to_string(),
                };
                let (table, _) = tables::source(source.name).expect("a registered source");
                let row_id = tables::key_of(&rows[i]);
                let image = tables::ALL[table].snapshot_image(source, &rows[i]).ok();
                DeadLetter::snapshot(*job, source, row_id, image, &why)
            }
        }
    }
}

/// Apply `input` part by part in `tx`, dead-lettering the single rows the warehouse rejects; the
/// letters are written in `tx` too.
pub(super) async fn isolate(
    applier: &Applier,
    tx: &mut Transaction<'_>,
    input: Input<'_>,
) -> Result<Applied, ApplyError> {
    let units = Units::new(input);
    let mut applied = Applied::default();
    let mut parts: Vec<Range<usize>> = Vec::new();
    parts.push(0..units.len());
    while let Some(part) = parts.pop() {
        let refusal = match units.transform(part.clone()) {
            Err(refusal) => refusal,
            Ok(batch) => match write_part(applier, tx, &batch).await? {
                Ok(stats) => {
                    applied.add(batch, &stats);
                    continue;
                }
                Err(e) => Refusal::Warehouse(e),
            },
        };
        if part.len() == 1 {
            applied.dead_letters.push(units.letter(part.start, refusal));
        } else {
            let mid = part.start + part.len() / 2;
            parts.push(mid..part.end);
            parts.push(part.start..mid);
        }
    }
    dead_letter::insert(&*tx, &applied.dead_letters).await.map_err(ApplyError::db("writing dead letters"))?;
    Ok(applied)
}

/// Write one part under a savepoint: `Ok(Err(e))` when the warehouse rejects it as data.
async fn write_part(
    applier: &Applier,
    tx: &mut Transaction<'_>,
    batch: &WarehouseBatch,
) -> Result<Result<WriteStats, tokio_postgres::Error>, ApplyError> {
    let sp = tx.savepoint("part").await.map_err(ApplyError::db("taking a savepoint"))?;
    match applier.write_rows(&sp, batch).await {
        Ok(stats) => {
            sp.commit().await.map_err(ApplyError::db("releasing a savepoint"))?;
            Ok(Ok(stats))
        }
        Err(e) if classify(&e) == ErrorKind::Data => {
            sp.rollback().await.map_err(ApplyError::db("rolling back a savepoint"))?;
            Ok(Err(e))
        }
        Err(e) => Err(ApplyError::db("writing rows")(e)),
    }
}
