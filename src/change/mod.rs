//! The change model: one row of `cdc_orders` as stored ([`ChangeRow`]), its version and place,
//! and the decoding of its images ([`decode`]). The source produces rows, the tables decode and
//! map them, and the dead-letter table stores the rows that could not be applied; this module
//! depends on nothing else of the crate.

mod decode;

use chrono::{DateTime, Utc};

pub(crate) use decode::{to_json, DecodeError, Side};

/// A captured change as stored in `cdc_orders`, its images still JSON text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChangeRow {
    pub id: i64,
    pub txid: i64,
    /// The captured table, as stored (`crate::tables::source` finds its table).
    pub table: String,
    pub op: Op,
    pub row_id: i64,
    pub before: Option<String>,
    pub after: Option<String>,
    pub changed_at: DateTime<Utc>,
}

impl ChangeRow {
    /// Bytes of the images, for batch sizing.
    pub(crate) fn size(&self) -> usize {
        64 + self.table.len() + self.before.as_ref().map_or(0, String::len) + self.after.as_ref().map_or(0, String::len)
    }

    /// The version of this change: later changes of the same row compare greater.
    pub(crate) fn version(&self) -> Version {
        Version { changed_at: self.changed_at, src_id: self.id }
    }

    /// Where this change is in the reader's (txid, id) order.
    pub(crate) fn position(&self) -> Position {
        Position { txid: self.txid, id: self.id }
    }
}

/// What a change did to its row (`cdc_orders.op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Op {
    Insert,
    Update,
    Delete,
}

/// `op` was not one of `I`, `U`, `D`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown op '{0}' (expected I, U or D)")]
pub(crate) struct UnknownOp(pub String);

impl Op {
    /// The stored code: `I`, `U` or `D`.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Op::Insert => "I",
            Op::Update => "U",
            Op::Delete => "D",
        }
    }

    /// Parse a stored code.
    pub(crate) fn from_code(code: &str) -> Result<Self, UnknownOp> {
        match code.trim() {
            "I" => Ok(Op::Insert),
            "U" => Ok(Op::Update),
            "D" => Ok(Op::Delete),
            other => Err(UnknownOp(other.to_string())),
        }
    }
}

/// The source version of a change: its `changed_at`, then its `cdc_orders` id. The warehouse
/// applies a change to a row only when its version is newer than the row's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Version {
    pub changed_at: DateTime<Utc>,
    pub src_id: i64,
}

/// A place in the reader's order of changes: (transaction id, change id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub txid: i64,
    pub id: i64,
}
