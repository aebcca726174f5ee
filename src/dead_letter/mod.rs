//! Dead letters: changes the pipeline could not apply, kept with the reason in
//! `cdc_dead_letter` (in the warehouse, in the same transaction as the batch they came from) so
//! nothing is lost and the pipeline goes on.
//!
//! * [`DeadLetter`] and its [`Kind`]: why a change could not be applied.
//! * [`isolate`]: when the warehouse rejects a batch as data, apply it change by change under
//!   savepoints to find the culprits.
//! * [`isolate_snapshot`]: the same for a chunk of a snapshot job (the initial load, a resync),
//!   whose rows have no `cdc_orders` id (see [`snapshot`] for how their letters are keyed).
//! * [`list`], [`replay`]: `brewlytics dlq list` and `brewlytics dlq replay [--id N]`.

mod isolate;
mod replay;
mod snapshot;
mod store;

use crate::{
    change::ChangeRow,
    warehouse::{Rejected, TransformError},
};

pub(crate) use isolate::isolate;
pub use replay::{replay, ReplayReport};
pub(crate) use snapshot::isolate_snapshot;
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
}

impl From<Rejected> for DeadLetter {
    fn from(r: Rejected) -> Self {
        let kind = match r.error {
            TransformError::Decode(_) => Kind::Decode,
            TransformError::Invalid(_) => Kind::Invalid,
        };
        DeadLetter { change: r.change, kind, reason: r.error.to_string() }
    }
}

/// A database step of the dead-letter module failed.
#[derive(Debug, thiserror::Error)]
#[error("{step}")]
pub struct DeadLetterError {
    pub step: &'static str,
    #[source]
    pub source: tokio_postgres::Error,
}

impl DeadLetterError {
    /// A `map_err` adapter naming the step.
    fn at(step: &'static str) -> impl Fn(tokio_postgres::Error) -> Self {
        move |source| DeadLetterError { step, source }
    }
}

/// The reason of a change the warehouse rejected.
fn apply_reason(e: &tokio_postgres::Error) -> String {
    format!("warehouse rejected the change: {}", rejection(e))
}

/// What the warehouse said: its message and SQLSTATE (never the row's values).
fn rejection(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => crate::telemetry::Chain(e).to_string(),
    }
}
