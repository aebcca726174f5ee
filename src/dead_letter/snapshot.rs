//! Snapshot rows the warehouse rejects. A chunk of a snapshot job that the warehouse rejects as
//! data (SQLSTATE class 22 or 23), or with a row that breaks a rule of the model, is halved under
//! savepoints until the rows at fault are found (at most about 2 × log₂(chunk) writes per bad
//! row); those become dead letters of kind `snapshot`, the rest is written.
//!
//! A snapshot row has no `cdc_orders` id, so its letter is keyed by a negative `source_id`,
//! `-((job × 16 + t) × 2³² + row id)` with `t` the table's place in [`Table::ALL`]: one per job,
//! table and row, never a captured change's (positive) id. `table_name` and `row_id` name the row,
//! `op` is `I`, `after` is the row as the job read it (the capture triggers' image), `txid` is 0
//! and `changed_at` the Unix epoch: older than every captured change, newer than the job's own
//! rows. So a fix of the row in OLTP streams in as usual; `brewlytics dlq replay` re-reads the
//! row from OLTP ([`current_image`]) and writes it only where no captured change is newer: it
//! succeeds (harmlessly) after such a fix, or once the warehouse accepts the row as it is.

use std::ops::Range;

use chrono::DateTime;
use tokio_postgres::{Client, Transaction};

use super::{insert, rejection, DeadLetter, DeadLetterError, Kind};
use crate::{
    change::{ChangeRow, Op, Record, Table},
    db::{classify, ErrorKind},
    warehouse::{transform_snapshot, Sink, WarehouseBatch},
};

/// Write `records` (rows snapshot job `job` read) in `tx`, finding and dead-lettering the rows
/// the warehouse rejects; returns the dead letters, which are written in `tx` too.
pub(crate) async fn isolate_snapshot(
    sink: &Sink,
    tx: &mut Transaction<'_>,
    job: i64,
    records: Vec<Record>,
) -> Result<Vec<DeadLetter>, DeadLetterError> {
    let mut letters = Vec::new();
    let mut parts: Vec<Range<usize>> = Vec::new();
    parts.push(0..records.len());
    while let Some(part) = parts.pop() {
        let refused = match transform_snapshot(job, records[part.clone()].to_vec()) {
            Err(violation) => Some(violation.to_string()),
            Ok(batch) => write_part(sink, tx, &batch).await?.err(),
        };
        let Some(why) = refused else { continue };
        if part.len() == 1 {
            letters.push(letter(job, &records[part.start], &why));
        } else {
            let mid = part.start + part.len() / 2;
            parts.push(mid..part.end);
            parts.push(part.start..mid);
        }
    }
    insert(&*tx, &letters).await.map_err(DeadLetterError::at("writing dead letters"))?;
    Ok(letters)
}

/// Write one part under a savepoint: `Err(why)` when the warehouse rejects it as data.
async fn write_part(
    sink: &Sink,
    tx: &mut Transaction<'_>,
    batch: &WarehouseBatch,
) -> Result<Result<(), String>, DeadLetterError> {
    let sp = tx.savepoint("snapshot_rows").await.map_err(DeadLetterError::at("taking a savepoint"))?;
    match sink.write(&sp, batch).await {
        Ok(_) => {
            sp.commit().await.map_err(DeadLetterError::at("releasing a savepoint"))?;
            Ok(Ok(()))
        }
        Err(e) if classify(&e) == ErrorKind::Data => {
            let why = format!("the warehouse rejected it: {}", rejection(&e));
            sp.rollback().await.map_err(DeadLetterError::at("rolling back a savepoint"))?;
            Ok(Err(why))
        }
        Err(e) => Err(DeadLetterError::at("writing snapshot rows")(e)),
    }
}

/// A snapshot row's image as OLTP holds it now (`to_jsonb`, as the capture triggers render it);
/// `None` when the row is gone or `table` is not a business table keyed by `id`.
pub(super) async fn current_image(oltp: &Client, table: &str, row_id: i64) -> Result<Option<String>, DeadLetterError> {
    let Some(table) = Table::from_name(table).filter(|t| !matches!(t, Table::Inventory)) else { return Ok(None) };
    let sql = format!("select to_jsonb(t)::text from {} t where id = $1::int8", table.name());
    let row = oltp.query_opt(&sql, &[&row_id]).await.map_err(DeadLetterError::at("reading a snapshot row"))?;
    Ok(row.map(|r| r.get(0)))
}

/// The dead letter of `record`, refused for `why`.
fn letter(job: i64, record: &Record, why: &str) -> DeadLetter {
    let (table, row_id, image) = record.image();
    let reason = format!(
        "snapshot job {job} could not load {} {row_id}: {why}; fix the row in OLTP (the fix streams in), \
         or fix the warehouse and run `brewlytics dlq replay`",
        table.name()
    );
    let change = ChangeRow {
        id: source_id(job, table, row_id),
        txid: 0,
        table: table.name().to_string(),
        op: Op::Insert,
        row_id,
        before: None,
        after: image.ok(),
        changed_at: DateTime::UNIX_EPOCH,
    };
    DeadLetter { change, kind: Kind::Snapshot, reason }
}

/// The `source_id` of a snapshot row's letter (see the module docs).
fn source_id(job: i64, table: Table, row_id: i64) -> i64 {
    let t = Table::ALL.iter().position(|x| *x == table).unwrap_or_default() as i64;
    -((job * 16 + t) * (1 << 32) + row_id)
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::change::{Change, OrderItemImage, StoreImage};

    fn line(id: i32) -> Record {
        let price = Decimal::new(9_999_999, 2);
        Record::OrderItem(OrderItemImage { id, order_id: 7, product_id: 2, quantity: 1_000_000, price })
    }

    #[test]
    fn a_letter_decodes_back_to_the_row_the_job_read() {
        let dl = letter(3, &line(17), "the warehouse rejected it: numeric field overflow (SQLSTATE 22003)");
        assert_eq!((dl.kind, dl.change.table.as_str(), dl.change.row_id), (Kind::Snapshot, "order_items", 17));
        assert!(dl.reason.starts_with("snapshot job 3 could not load order_items 17: the warehouse rejected"));
        let change = Change::decode(&dl.change).expect("the image decodes");
        let Record::OrderItem(i) = change.record else { panic!("an order line: {:?}", change.record) };
        assert_eq!((i.id, i.order_id, i.quantity, i.price), (17, 7, 1_000_000, Decimal::new(9_999_999, 2)));
        assert_eq!(change.version.changed_at, DateTime::UNIX_EPOCH, "older than every captured change");
    }

    #[test]
    fn source_ids_are_negative_and_one_per_job_table_and_row() {
        let store = |id| Record::Store(StoreImage { id, name: "s".into(), city: "c".into() });
        let ids = [
            letter(1, &line(1), "").change.id,
            letter(1, &line(2), "").change.id,
            letter(2, &line(1), "").change.id,
            letter(1, &store(1), "").change.id,
            letter(1, &line(i32::MAX), "").change.id,
        ];
        assert!(ids.iter().all(|id| *id < 0), "{ids:?}");
        let unique: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
    }
}
