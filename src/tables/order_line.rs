//! Order lines: `order_items` in OLTP → `fact_sales`, one row per line, keyed by (order, line)
//! like the warehouse: a line moved to another order is also written, soft-deleted, under the
//! order it left. A line binds to the product version valid when its order was placed and copies
//! its order's header (status, date, time, store, customer, employee).

use futures_util::future::{try_join_all, BoxFuture};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio_postgres::{
    binary_copy::BinaryCopyOutRow,
    types::{ToSql, Type},
};

use super::{
    row::{col, guard, versions, Latest},
    Check, DimKeys, Landing, Placement, Read, Retire, RowVersion, Rows, Scope, SnapshotRead, Source, Stage, Step,
    Table, Target, Touched, TransformError, Violation, Writer,
};
use crate::change::{to_json, ChangeRow, DecodeError};

/// The `order_items` table.
pub(crate) struct OrderLines;

/// `order_items` row image (`price` is the unit price snapshot).
#[derive(Debug, Clone, Deserialize, Serialize)]
struct OrderItemImage {
    id: i32,
    order_id: i32,
    product_id: i32,
    quantity: i32,
    price: Decimal,
}

static SOURCES: [Source; 1] = [Source {
    name: "order_items",
    code: 5,
    snapshot: SnapshotRead {
        step: Step::Chunks,
        read: Read::Rows {
            columns: "id, order_id, product_id, quantity, price",
            types: &[Type::INT4, Type::INT4, Type::INT4, Type::INT4, Type::NUMERIC],
        },
    },
}];

static TARGETS: [Target; 1] = [Target {
    name: "fact_sales",
    placement: Placement::Distributed { column: "order_id", with: Some("fact_orders") },
    retire: Retire::ByJob(
        "update fact_sales set is_deleted = true, loaded_at = now()
         where not is_deleted and (changed_at, src_id) is distinct from ('-infinity'::timestamptz, -$1::int8)",
    ),
}];

/// The lines with their order's header and product version. The version comes from one hash join
/// with `dim_product` (a row per product and price change), not a probe per line; when several
/// versions would match, `distinct on` keeps the latest, as the probe's `order by valid_from desc
/// limit 1` did.
const UPSERT: &str = concat!(
    "insert into fact_sales as t (order_item_id, order_id, product_id, quantity, unit_price, line_total,
            is_deleted, changed_at, src_id, date_key, time_key, store_key, customer_key, employee_key,
            product_key, order_status, order_time, loaded_at)
     select distinct on (s.order_id, s.order_item_id)
            s.order_item_id, s.order_id, s.product_id, s.quantity, s.unit_price, s.line_total, s.deleted,
            coalesce(s.at, '-infinity'), s.src, coalesce(o.date_key, 0), coalesce(o.time_key, -1),
            coalesce(o.store_key, 0), coalesce(o.customer_key, 0), coalesce(o.employee_key, 0),
            coalesce(p.product_key, 0), coalesce(o.status, 'unknown'), o.order_time, clock_timestamp()
     from unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::numeric[], $6::numeric[], $7::bool[],
                 $8::timestamptz[], $9::int8[])
          as s(order_item_id, order_id, product_id, quantity, unit_price, line_total, deleted, at, src)
     left join (select order_id, date_key, time_key, store_key, customer_key, employee_key, status, order_time
                from fact_orders where order_id @orders($10)) o on o.order_id = s.order_id
     left join dim_product p on p.product_id = s.product_id
           and (case when o.order_time is null then p.is_current
                     else o.order_time >= p.valid_from and o.order_time < p.valid_to end)
     order by s.order_id, s.order_item_id, p.valid_from desc nulls last
     on conflict (order_id, order_item_id) do update set product_id = excluded.product_id,
       quantity = excluded.quantity, unit_price = excluded.unit_price, line_total = excluded.line_total,
       is_deleted = excluded.is_deleted, changed_at = excluded.changed_at, src_id = excluded.src_id,
       date_key = excluded.date_key, time_key = excluded.time_key, store_key = excluded.store_key,
       customer_key = excluded.customer_key, employee_key = excluded.employee_key,
       product_key = excluded.product_key, order_status = excluded.order_status,
       order_time = excluded.order_time, loaded_at = excluded.loaded_at
     where ",
    guard!()
);

/// Copy the header of the orders `$1` onto their lines. Both sides are restricted to the batch's
/// orders: `f.order_id = any($1)` lets the planner reach the lines through their key (with the
/// join condition alone it hashed a scan of the whole fact table, every batch), and on Citus the
/// filter on `o` alone does not prune the shards of `f`.
const HEADERS: &str = "
    update fact_sales f set store_key = o.store_key, customer_key = o.customer_key, order_status = o.status,
           employee_key = o.employee_key, order_time = o.order_time, date_key = o.date_key, time_key = o.time_key
    from fact_orders o
    where o.order_id @orders($1) and f.order_id @orders($1) and f.order_id = o.order_id
      and (f.store_key, f.customer_key, f.order_status, f.employee_key, f.date_key, f.time_key)
          is distinct from (o.store_key, o.customer_key, o.status, o.employee_key, o.date_key, o.time_key)";

static CHECKS: [Check; 1] = [Check {
    name: "order lines (count/quantity/amount by day and order status)",
    oltp: "select to_char(o.order_time at time zone 'UTC', 'YYYYMMDD')::int4,
                  to_char(o.order_time at time zone 'UTC', 'YYYYMMDD') || ':' || o.status,
                  count(*)::numeric, sum(i.quantity)::numeric, sum(i.quantity * i.price)
           from order_items i join orders o on o.id = i.order_id
           group by 1, 2",
    olap: "select date_key, date_key || ':' || order_status,
                  count(*)::numeric, sum(quantity)::numeric, sum(line_total)
           from fact_sales where not is_deleted group by 1, 2",
    values: 3,
    totals: true,
}];

impl Table for OrderLines {
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }

    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn stage(&self) -> Stage {
        Stage::Fact { headers: Some(HEADERS) }
    }

    fn rows(&self) -> Box<dyn Rows> {
        Box::<SaleRows>::default()
    }

    fn statements(&self) -> Vec<&'static str> {
        vec![UPSERT, HEADERS]
    }

    fn checks(&self) -> &'static [Check] {
        &CHECKS
    }

    fn snapshot_image(&self, _: &Source, row: &BinaryCopyOutRow) -> Result<String, TransformError> {
        Ok(to_json(&from_copy(row)?)?)
    }
}

fn from_copy(r: &BinaryCopyOutRow) -> Result<OrderItemImage, DecodeError> {
    let image = || -> Result<_, tokio_postgres::Error> {
        Ok(OrderItemImage {
            id: r.try_get(0)?,
            order_id: r.try_get(1)?,
            product_id: r.try_get(2)?,
            quantity: r.try_get(3)?,
            price: r.try_get(4)?,
        })
    };
    image().map_err(DecodeError::Column)
}

/// One row of `fact_sales`.
#[derive(Debug, Clone, PartialEq)]
struct SaleRow {
    order_item_id: i32,
    order_id: i32,
    product_id: i32,
    quantity: i32,
    unit_price: Decimal,
    is_deleted: bool,
    version: RowVersion,
}

impl SaleRow {
    fn line_total(&self) -> Decimal {
        self.unit_price * Decimal::from(self.quantity)
    }
}

/// By (order_id, order_item_id), the warehouse's key.
#[derive(Default)]
struct SaleRows(Latest<(i32, i32), SaleRow>);

impl SaleRows {
    fn add(
        &mut self,
        i: OrderItemImage,
        is_deleted: bool,
        version: RowVersion,
        moved_from: Option<i32>,
    ) -> Result<(), TransformError> {
        if i.quantity <= 0 {
            return Err(
                Violation::new("order item", i.id, format!("has a non-positive quantity {}", i.quantity)).into()
            );
        }
        let row = SaleRow {
            order_item_id: i.id,
            order_id: i.order_id,
            product_id: i.product_id,
            quantity: i.quantity,
            unit_price: i.price,
            is_deleted,
            version,
        };
        if let Some(from) = moved_from {
            self.0.insert((from, i.id), SaleRow { order_id: from, is_deleted: true, ..row.clone() });
        }
        self.0.insert((i.order_id, i.id), row);
        Ok(())
    }
}

impl Rows for SaleRows {
    fn add_change(&mut self, _: &Source, change: &ChangeRow) -> Result<(), TransformError> {
        let image: OrderItemImage = change.image()?;
        let moved_from = change.moved_from(image.order_id)?;
        self.add(image, change.is_delete(), RowVersion::Change(change.version()), moved_from)
    }

    fn add_snapshot(&mut self, _: &Source, row: &BinaryCopyOutRow, job: i64) -> Result<(), TransformError> {
        self.add(from_copy(row)?, false, RowVersion::Snapshot { job }, None)
    }

    fn keys(&self, referenced: &mut DimKeys, _: &mut DimKeys) {
        referenced.product.extend(self.0.values().map(|s| s.product_id));
    }

    fn touched(&self, t: &mut Touched) {
        t.orders.extend(self.0.keys().map(|(order, _)| *order));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn write<'a>(&'a self, w: &'a Writer<'a>) -> BoxFuture<'a, Result<u64, tokio_postgres::Error>> {
        Box::pin(async move {
            let parts = w.split(TARGETS[0].name, self.0.sorted(), |x| x.order_id);
            try_join_all(parts.iter().map(|(landing, r)| land(w, *landing, r))).await?;
            Ok(0)
        })
    }
}

/// Write the lines `r` as `landing` says.
async fn land(w: &Writer<'_>, landing: Landing, r: &[&SaleRow]) -> Result<u64, tokio_postgres::Error> {
    let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
    let (scope, orders) = Scope::of_ids(r.iter().map(|x| x.order_id));
    let params: [&(dyn ToSql + Sync); 10] = [
        &col(r, |x| x.order_item_id),
        &col(r, |x| x.order_id),
        &col(r, |x| x.product_id),
        &col(r, |x| x.quantity),
        &col(r, |x| x.unit_price),
        &col(r, SaleRow::line_total),
        &del,
        &at,
        &src,
        &orders,
    ];
    w.tx.execute(w.form(UPSERT, scope, landing), &params).await
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::change::Op;

    fn change(id: i64, op: Op, before: Option<&str>, after: Option<&str>) -> ChangeRow {
        ChangeRow {
            id,
            txid: 1000 + id,
            table: "order_items".into(),
            op,
            row_id: 1,
            before: before.map(str::to_string),
            after: after.map(str::to_string),
            changed_at: Utc.timestamp_opt(1_750_000_000 + id, 0).unwrap(),
        }
    }

    fn rows(changes: &[ChangeRow]) -> SaleRows {
        let mut rows = SaleRows::default();
        for c in changes {
            rows.add_change(&SOURCES[0], c).unwrap();
        }
        rows
    }

    #[test]
    fn money_stays_exact() {
        let one = r#"{"id": 1, "order_id": 7, "product_id": 2, "quantity": 3, "price": 0.10}"#;
        let two = r#"{"id": 2, "order_id": 7, "product_id": 2, "quantity": 1, "price": 0.20}"#;
        let r = rows(&[change(1, Op::Insert, None, Some(one)), change(2, Op::Insert, None, Some(two))]);
        let lines = r.0.sorted();
        assert_eq!(lines[0].line_total().to_string(), "0.30");
        let sum: Decimal = lines.iter().map(|s| s.unit_price).sum();
        assert_eq!(sum.to_string(), "0.30");
    }

    #[test]
    fn a_moved_line_is_deleted_under_the_order_it_left() {
        let before = r#"{"id": 1, "order_id": 7, "product_id": 2, "quantity": 3, "price": 0.10}"#;
        let after = before.replace("\"order_id\": 7", "\"order_id\": 8");
        let r = rows(&[change(1, Op::Update, Some(before), Some(&after))]);
        let lines: Vec<(i32, bool)> = r.0.sorted().iter().map(|s| (s.order_id, s.is_deleted)).collect();
        assert_eq!(lines, [(7, true), (8, false)]);
    }

    #[test]
    fn a_non_positive_quantity_is_a_violation() {
        let bad = r#"{"id": 4, "order_id": 7, "product_id": 2, "quantity": 0, "price": 0.10}"#;
        let err = SaleRows::default().add_change(&SOURCES[0], &change(1, Op::Insert, None, Some(bad))).unwrap_err();
        assert_eq!(err.to_string(), "order item 4 has a non-positive quantity 0");
    }
}
