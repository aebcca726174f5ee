//! Dead letters: changes (and rows a snapshot job read) the warehouse could not take, kept with
//! the reason in `cdc_dead_letter`, in the same transaction as the batch they came from, so
//! nothing is lost and the pipeline goes on. This module is the storage: what a letter is
//! ([`DeadLetter`], [`Kind`]), writing, listing and counting them. Finding them is the apply
//! step's (`crate::apply`), and so is replaying them (`brewlytics dlq replay`).

mod store;

use chrono::DateTime;

use crate::{
    change::{ChangeRow, Op},
    tables::{Source, TransformError},
};

pub(crate) use store::insert;
pub use store::{list, pending, DeadLetterEntry};

/// A change that cannot be applied, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeadLetter {
    pub change: ChangeRow,
    pub kind: Kind,
    pub reason: String,
}

/// Why a change became a dead letter (`cdc_dead_letter.error_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The stored change cannot be understood: unknown table, missing or malformed image.
    Decode,
    /// It decodes, but a value breaks a rule of the model (unknown status, non-positive price, …).
    Invalid,
    /// The warehouse rejected it (SQLSTATE class 22 or 23).
    Apply,
    /// A row a snapshot job read that the warehouse rejected, or that breaks a rule of the model.
    Snapshot,
}

impl Kind {
    /// The stored value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Decode => "decode",
            Kind::Invalid => "invalid",
            Kind::Apply => "apply",
            Kind::Snapshot => "snapshot",
        }
    }

    /// The stored value's kind.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Kind::Decode, Kind::Invalid, Kind::Apply, Kind::Snapshot].into_iter().find(|k| k.as_str() == text)
    }
}

impl DeadLetter {
    /// A change the transform could not map. A snapshot row's letter (negative id, see
    /// [`DeadLetter::snapshot`]) keeps its kind when it fails again.
    pub(crate) fn rejected(change: ChangeRow, error: &TransformError) -> Self {
        let kind = match error {
            _ if change.id < 0 => Kind::Snapshot,
            TransformError::Decode(_) => Kind::Decode,
            TransformError::Invalid(_) => Kind::Invalid,
        };
        DeadLetter { change, kind, reason: crate::telemetry::Chain(error).to_string() }
    }

    /// A change the warehouse rejected as data.
    pub(crate) fn refused(change: ChangeRow, e: &tokio_postgres::Error) -> Self {
        let kind = if change.id < 0 { Kind::Snapshot } else { Kind::Apply };
        DeadLetter { change, kind, reason: format!("warehouse rejected the change: {}", rejection(e)) }
    }

    /// Row `row_id` of `source` that snapshot job `job` read (`image`: as a change would carry it)
    /// and could not load, for `why`.
    ///
    /// A snapshot row has no `cdc_orders` id, so its letter is keyed by a negative `source_id`
    /// ([`snapshot_source_id`]): one per job, table and row, never a captured change's (positive)
    /// id. `op` is `I`, `txid` 0 and `changed_at` the Unix epoch: older than every captured change,
    /// newer than the job's own rows. So a fix of the row in OLTP streams in as usual, and a replay
    /// re-reads the row from OLTP and writes it only where no captured change is newer.
    pub(crate) fn snapshot(job: i64, source: &Source, row_id: i64, image: Option<String>, why: &str) -> Self {
        let reason = format!(
            "snapshot job {job} could not load {} {row_id}: {why}; fix the row in OLTP (the fix streams in), \
             or fix the warehouse and run `brewlytics dlq replay`",
            source.name
        );
        let change = ChangeRow {
            id: snapshot_source_id(job, source, row_id),
            txid: 0,
            table: source.name.to_string(),
            op: Op::Insert,
            row_id,
            before: None,
            after: image,
            changed_at: DateTime::UNIX_EPOCH,
        };
        DeadLetter { change, kind: Kind::Snapshot, reason }
    }
}

/// The `source_id` of a snapshot row's letter: `-((job × 16 + code) × 2³² + row id)`, with the
/// source's stored code (never its place in a list, so rows already in `cdc_dead_letter` keep
/// their meaning whatever tables are added or reordered).
pub(crate) fn snapshot_source_id(job: i64, source: &Source, row_id: i64) -> i64 {
    -((job * i64::from(Source::CODES) + i64::from(source.code)) * (1 << 32) + row_id)
}

/// What the warehouse said: its message and SQLSTATE (never the row's values).
pub(crate) fn rejection(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => crate::telemetry::Chain(e).to_string(),
    }
}

/// A database step of the dead-letter table failed.
#[derive(Debug, thiserror::Error)]
#[error("{step}")]
pub struct DeadLetterError {
    pub step: &'static str,
    #[source]
    pub source: tokio_postgres::Error,
}

impl DeadLetterError {
    /// A `map_err` adapter naming the step.
    pub(crate) fn at(step: &'static str) -> impl Fn(tokio_postgres::Error) -> Self {
        move |source| DeadLetterError { step, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables;

    fn order_items() -> &'static Source {
        tables::source("order_items").unwrap().1
    }

    #[test]
    fn snapshot_ids_are_negative_and_one_per_job_table_and_row() {
        let stores = tables::source("stores").unwrap().1;
        let ids = [
            snapshot_source_id(1, order_items(), 1),
            snapshot_source_id(1, order_items(), 2),
            snapshot_source_id(2, order_items(), 1),
            snapshot_source_id(1, stores, 1),
            snapshot_source_id(1, order_items(), i64::from(i32::MAX)),
        ];
        assert!(ids.iter().all(|id| *id < 0), "{ids:?}");
        let unique: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
    }

    #[test]
    fn snapshot_ids_do_not_depend_on_the_order_of_the_registry() {
        // Letters written before the tables became a registry used each table's place in the
        // old enum (order_items was 5th of 10: t = 5): the same ids as the stored code now.
        assert_eq!(snapshot_source_id(3, order_items(), 17), -((3 * 16 + 5) * (1 << 32) + 17));
        // A registry in another order, or with a table inserted before it, keeps every id.
        let mut reordered: Vec<&Source> = tables::sources().map(|(_, s)| s).collect();
        reordered.reverse();
        for source in reordered {
            let (_, registered) = tables::source(source.name).unwrap();
            assert_eq!(snapshot_source_id(7, source, 42), snapshot_source_id(7, registered, 42));
        }
    }

    #[test]
    fn a_letter_names_the_row_and_the_job() {
        let dl =
            DeadLetter::snapshot(3, order_items(), 17, Some("{}".into()), "numeric field overflow (SQLSTATE 22003)");
        assert_eq!((dl.kind, dl.change.table.as_str(), dl.change.row_id), (Kind::Snapshot, "order_items", 17));
        assert!(dl.reason.starts_with("snapshot job 3 could not load order_items 17: numeric field overflow"));
        assert_eq!(dl.change.changed_at, DateTime::UNIX_EPOCH, "older than every captured change");
    }
}
