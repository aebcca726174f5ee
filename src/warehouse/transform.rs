//! The pure transform: change rows in, each table's rows out. No I/O.
//!
//! * Changes are taken in version order and each is decoded once, by its table
//!   ([`crate::tables`]); one whose table is unknown, that cannot be decoded or that breaks a rule
//!   of the model is [`Rejected`] with why, and the rest of the batch goes on.
//! * What a table keeps is its own: type 1 dimensions and facts the last change of each row, type
//!   2 products every change, stock the sum of its movements per day.

use std::collections::BTreeMap;

use tokio_postgres::binary_copy::BinaryCopyOutRow;

use crate::{
    change::{ChangeRow, DecodeError, Op},
    tables::{self, Rows, Source, TransformError, ALL},
};

/// Everything one batch writes to the warehouse.
pub(crate) struct WarehouseBatch {
    /// Each table's rows, in [`ALL`] order.
    pub rows: Vec<Box<dyn Rows>>,
    /// Changes that could not be mapped, with why.
    pub rejected: Vec<Rejected>,
    /// Changes mapped, by source table and op.
    pub applied: BTreeMap<(&'static str, Op), u64>,
    /// Whether the sink moves the rollups with the facts (captured changes); a snapshot job's
    /// rows do not: the job rebuilds the rollups at its end.
    pub moves_rollups: bool,
}

impl WarehouseBatch {
    fn new() -> Self {
        WarehouseBatch {
            rows: ALL.iter().map(|t| t.rows()).collect(),
            rejected: Vec::new(),
            applied: BTreeMap::new(),
            moves_rollups: true,
        }
    }
}

/// A change the transform cannot map.
#[derive(Debug)]
pub(crate) struct Rejected {
    pub change: ChangeRow,
    pub error: TransformError,
}

/// Map changes (in any order) onto warehouse rows.
pub(crate) fn transform<'a>(changes: impl IntoIterator<Item = &'a ChangeRow>) -> WarehouseBatch {
    let mut batch = WarehouseBatch::new();
    let mut ordered: Vec<&ChangeRow> = changes.into_iter().collect();
    ordered.sort_by_key(|c| c.version());
    for change in ordered {
        let added = match tables::source(&change.table) {
            Some((table, source)) => batch.rows[table].add_change(source, change).map(|()| source.name),
            None => Err(DecodeError::UnknownTable(change.table.clone()).into()),
        };
        match added {
            Ok(name) => *batch.applied.entry((name, change.op)).or_default() += 1,
            Err(error) => batch.rejected.push(Rejected { change: change.clone(), error }),
        }
    }
    batch
}

/// Map rows snapshot job `job` read from `source` onto warehouse rows; the first row that cannot
/// be mapped fails the whole (its index and why).
pub(crate) fn transform_snapshot(
    job: i64,
    source: &Source,
    rows: &[BinaryCopyOutRow],
) -> Result<WarehouseBatch, (usize, TransformError)> {
    let mut batch = WarehouseBatch { moves_rollups: false, ..WarehouseBatch::new() };
    let (table, _) = tables::source(source.name).expect("a registered source");
    for (i, row) in rows.iter().enumerate() {
        batch.rows[table].add_snapshot(source, row, job).map_err(|e| (i, e))?;
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn change(id: i64, table: &str, after: &str) -> ChangeRow {
        ChangeRow {
            id,
            txid: 1000 + id,
            table: table.into(),
            op: Op::Insert,
            row_id: id,
            before: None,
            after: Some(after.into()),
            changed_at: Utc.timestamp_opt(1_750_000_000 + id, 0).unwrap(),
        }
    }

    #[test]
    fn a_bad_change_is_rejected_and_the_rest_goes_on() {
        let store = r#"{"id": 1, "name": "Central", "city": "Lisbon"}"#;
        let b = transform(&[
            change(1, "stores", store),
            change(2, "stores", "{not json"),
            change(3, "ledger", store),
            change(
                4,
                "orders",
                r#"{"id": 7, "customer_id": 3, "employee_id": null, "store_id": 2,
                "status": "lost", "order_time": "2025-07-20T23:30:00+00:00", "total": 7.60}"#,
            ),
        ]);
        assert_eq!(b.applied, BTreeMap::from([(("stores", Op::Insert), 1)]));
        let why: Vec<String> = b.rejected.iter().map(|r| crate::telemetry::Chain(&r.error).to_string()).collect();
        assert_eq!(why.len(), 3);
        assert!(why[0].starts_with("the after image does not decode: key must be a string"), "{why:?}");
        assert_eq!(why[1], "unknown table 'ledger'");
        assert_eq!(why[2], "order 7 has unknown status 'lost'");
        let (stores, _) = tables::source("stores").unwrap();
        assert!(!b.rows[stores].is_empty());
    }
}
