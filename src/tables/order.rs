//! Orders: `orders` in OLTP → `fact_orders`, an accumulating snapshot (one row per order, updated
//! in place as its status goes placed → served / cancelled → refunded). Its keys (date, time,
//! store, customer, employee) are the header the other order facts copy.

use chrono::{DateTime, Utc};
use futures_util::future::{try_join_all, BoxFuture};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio_postgres::{
    binary_copy::BinaryCopyOutRow,
    types::{ToSql, Type},
};

use super::{
    date_key,
    row::{col, guard, time_key, versions, Latest},
    Check, DimKeys, Landing, Placement, Read, Retire, RowVersion, Rows, Scope, SnapshotRead, Source, Stage, Step,
    Table, Target, Touched, TransformError, Violation, Writer,
};
use crate::{
    change::{to_json, ChangeRow, DecodeError},
    shop::OrderStatus,
};

/// The `orders` table.
pub(crate) struct Orders;

/// `orders` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct OrderImage {
    id: i32,
    customer_id: i32,
    employee_id: Option<i32>,
    store_id: i32,
    status: String,
    order_time: DateTime<Utc>,
    total: Decimal,
}

static SOURCES: [Source; 1] = [Source {
    name: "orders",
    code: 4,
    snapshot: SnapshotRead {
        step: Step::Chunks,
        read: Read::Rows {
            columns: "id, customer_id, employee_id, store_id, status, order_time, total",
            types: &[Type::INT4, Type::INT4, Type::INT4, Type::INT4, Type::TEXT, Type::TIMESTAMPTZ, Type::NUMERIC],
        },
    },
}];

static TARGETS: [Target; 1] = [Target {
    name: "fact_orders",
    placement: Placement::Distributed { column: "order_id", with: None },
    retire: Retire::ByJob(
        "update fact_orders set is_deleted = true, loaded_at = now()
         where not is_deleted and (changed_at, src_id) is distinct from ('-infinity'::timestamptz, -$1::int8)",
    ),
}];

const UPSERT: &str = concat!(
    "insert into fact_orders as t (order_id, customer_id, employee_id, store_id, status, order_time, total,
            date_key, time_key, is_deleted, changed_at, src_id, store_key, customer_key, employee_key, loaded_at)
     select s.order_id, s.customer_id, s.employee_id, s.store_id, s.status, s.order_time, s.total, s.date_key,
            s.time_key, s.deleted, coalesce(s.at, '-infinity'), s.src,
            coalesce(ds.store_key, 0), coalesce(dc.customer_key, 0), coalesce(de.employee_key, 0), clock_timestamp()
     from unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::text[], $6::timestamptz[], $7::numeric[],
                 $8::int4[], $9::int4[], $10::bool[], $11::timestamptz[], $12::int8[])
          as s(order_id, customer_id, employee_id, store_id, status, order_time, total, date_key, time_key,
               deleted, at, src)
     left join dim_store ds on ds.store_id = s.store_id
     left join dim_customer dc on dc.customer_id = s.customer_id
     left join dim_employee de on de.employee_id = s.employee_id
     on conflict (order_id) do update set customer_id = excluded.customer_id, employee_id = excluded.employee_id,
       store_id = excluded.store_id, status = excluded.status, order_time = excluded.order_time,
       total = excluded.total, date_key = excluded.date_key, time_key = excluded.time_key,
       is_deleted = excluded.is_deleted, changed_at = excluded.changed_at, src_id = excluded.src_id,
       store_key = excluded.store_key, customer_key = excluded.customer_key,
       employee_key = excluded.employee_key, loaded_at = excluded.loaded_at
     where ",
    guard!()
);

static CHECKS: [Check; 1] = [Check {
    name: "orders (count/total by day and status)",
    oltp: "select to_char(order_time at time zone 'UTC', 'YYYYMMDD')::int4,
                  to_char(order_time at time zone 'UTC', 'YYYYMMDD') || ':' || status,
                  count(*)::numeric, sum(total)
           from orders group by 1, 2",
    olap: "select date_key, date_key || ':' || status, count(*)::numeric, sum(total)
           from fact_orders where not is_deleted group by 1, 2",
    values: 2,
    totals: true,
}];

impl Table for Orders {
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }

    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn stage(&self) -> Stage {
        Stage::Orders
    }

    fn rows(&self) -> Box<dyn Rows> {
        Box::<OrderRows>::default()
    }

    fn statements(&self) -> Vec<&'static str> {
        vec![UPSERT]
    }

    fn checks(&self) -> &'static [Check] {
        &CHECKS
    }

    fn snapshot_image(&self, _: &Source, row: &BinaryCopyOutRow) -> Result<String, TransformError> {
        Ok(to_json(&from_copy(row)?)?)
    }
}

fn from_copy(r: &BinaryCopyOutRow) -> Result<OrderImage, DecodeError> {
    let image = || -> Result<_, tokio_postgres::Error> {
        Ok(OrderImage {
            id: r.try_get(0)?,
            customer_id: r.try_get(1)?,
            employee_id: r.try_get(2)?,
            store_id: r.try_get(3)?,
            status: r.try_get(4)?,
            order_time: r.try_get(5)?,
            total: r.try_get(6)?,
        })
    };
    image().map_err(DecodeError::Column)
}

/// One row of `fact_orders`.
#[derive(Debug, Clone, PartialEq)]
struct OrderRow {
    order_id: i32,
    customer_id: i32,
    employee_id: Option<i32>,
    store_id: i32,
    status: OrderStatus,
    order_time: DateTime<Utc>,
    total: Decimal,
    is_deleted: bool,
    version: RowVersion,
}

#[derive(Default)]
struct OrderRows(Latest<i32, OrderRow>);

impl OrderRows {
    fn add(&mut self, o: OrderImage, is_deleted: bool, version: RowVersion) -> Result<(), TransformError> {
        let Some(status) = OrderStatus::parse(&o.status) else {
            return Err(Violation::new("order", o.id, format!("has unknown status '{}'", o.status)).into());
        };
        let row = OrderRow {
            order_id: o.id,
            customer_id: o.customer_id,
            employee_id: o.employee_id,
            store_id: o.store_id,
            status,
            order_time: o.order_time,
            total: o.total,
            is_deleted,
            version,
        };
        self.0.insert(o.id, row);
        Ok(())
    }
}

impl Rows for OrderRows {
    fn add_change(&mut self, _: &Source, change: &ChangeRow) -> Result<(), TransformError> {
        self.add(change.image()?, change.is_delete(), RowVersion::Change(change.version()))
    }

    fn add_snapshot(&mut self, _: &Source, row: &BinaryCopyOutRow, job: i64) -> Result<(), TransformError> {
        self.add(from_copy(row)?, false, RowVersion::Snapshot { job })
    }

    fn keys(&self, referenced: &mut DimKeys, _: &mut DimKeys) {
        for o in self.0.values() {
            referenced.customer.insert(o.customer_id);
            referenced.store.insert(o.store_id);
            referenced.employee.extend(o.employee_id);
        }
    }

    fn touched(&self, t: &mut Touched) {
        t.orders.extend(self.0.keys().copied());
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn write<'a>(&'a self, w: &'a Writer<'a>) -> BoxFuture<'a, Result<u64, tokio_postgres::Error>> {
        Box::pin(async move {
            let all = self.0.sorted();
            let ids = col(&all, |x| x.order_id);
            // Both parts are sent before the other facts, which read these orders.
            let parts = w.split(TARGETS[0].name, all, |x| x.order_id);
            try_join_all(parts.iter().map(|(landing, r)| land(w, *landing, r))).await?;
            // Lines, payments and ratings loaded before their order (or before a status change)
            // take its keys now.
            w.refresh_headers(&ids).await?;
            Ok(0)
        })
    }
}

/// Write the orders `r` as `landing` says.
async fn land(w: &Writer<'_>, landing: Landing, r: &[&OrderRow]) -> Result<u64, tokio_postgres::Error> {
    let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
    let params: [&(dyn ToSql + Sync); 12] = [
        &col(r, |x| x.order_id),
        &col(r, |x| x.customer_id),
        &col(r, |x| x.employee_id),
        &col(r, |x| x.store_id),
        &col(r, |x| x.status.as_str()),
        &col(r, |x| x.order_time),
        &col(r, |x| x.total),
        &col(r, |x| date_key(x.order_time)),
        &col(r, |x| time_key(x.order_time)),
        &del,
        &at,
        &src,
    ];
    w.tx.execute(w.form(UPSERT, Scope::List, landing), &params).await
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::change::Op;

    const ORDER: &str = r#"{"id": 7, "customer_id": 3, "employee_id": null, "store_id": 2, "status": "placed",
        "order_time": "2025-07-20T23:30:00+00:00", "total": 7.60}"#;

    fn change(id: i64, op: Op, before: Option<&str>, after: Option<&str>) -> ChangeRow {
        ChangeRow {
            id,
            txid: 1000 + id,
            table: "orders".into(),
            op,
            row_id: 7,
            before: before.map(str::to_string),
            after: after.map(str::to_string),
            changed_at: Utc.timestamp_opt(1_750_000_000 + id, 0).unwrap(),
        }
    }

    #[test]
    fn keys_come_from_utc_time_and_reference_the_dimensions() {
        let mut rows = OrderRows::default();
        rows.add_change(&SOURCES[0], &change(1, Op::Insert, None, Some(ORDER))).unwrap();
        let o = rows.0.sorted()[0];
        assert_eq!((date_key(o.order_time), time_key(o.order_time)), (20250720, 23 * 60 + 30));
        assert_eq!(o.employee_id, None);
        let (mut referenced, mut written) = (DimKeys::default(), DimKeys::default());
        rows.keys(&mut referenced, &mut written);
        assert!(referenced.customer.contains(&3) && referenced.store.contains(&2) && referenced.employee.is_empty());
    }

    #[test]
    fn the_last_change_of_an_order_wins() {
        let served = ORDER.replace("placed", "served");
        let mut rows = OrderRows::default();
        for c in [change(1, Op::Insert, None, Some(ORDER)), change(3, Op::Delete, Some(&served), None)] {
            rows.add_change(&SOURCES[0], &c).unwrap();
        }
        let o = rows.0.sorted();
        assert_eq!(o.len(), 1);
        assert!(o[0].is_deleted && o[0].status == OrderStatus::Served, "the delete is the latest change");
        assert_eq!(o[0].version.columns().1, 3);
    }

    #[test]
    fn an_unknown_status_is_a_violation() {
        let bad = ORDER.replace("placed", "lost");
        let err = OrderRows::default().add_change(&SOURCES[0], &change(1, Op::Insert, None, Some(&bad))).unwrap_err();
        assert_eq!(err.to_string(), "order 7 has unknown status 'lost'");
    }
}
