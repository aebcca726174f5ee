//! Payments: `payments` in OLTP → `fact_payments`, one row per payment (refunds and cancellations
//! are negative payments), keyed by (order, payment) like order lines, with its order's store and
//! customer.

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
    shop::PaymentMethod,
};

/// The `payments` table.
pub(crate) struct Payments;

/// `payments` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct PaymentImage {
    id: i32,
    order_id: i32,
    amount: Decimal,
    method: String,
    paid_at: DateTime<Utc>,
}

static SOURCES: [Source; 1] = [Source {
    name: "payments",
    code: 6,
    snapshot: SnapshotRead {
        step: Step::Chunks,
        read: Read::Rows {
            columns: "id, order_id, amount, method, paid_at",
            types: &[Type::INT4, Type::INT4, Type::NUMERIC, Type::TEXT, Type::TIMESTAMPTZ],
        },
    },
}];

static TARGETS: [Target; 1] = [Target {
    name: "fact_payments",
    placement: Placement::Distributed { column: "order_id", with: Some("fact_orders") },
    retire: Retire::ByJob(
        "update fact_payments set is_deleted = true, loaded_at = now()
         where not is_deleted and (changed_at, src_id) is distinct from ('-infinity'::timestamptz, -$1::int8)",
    ),
}];

const UPSERT: &str = concat!(
    "insert into fact_payments as t (payment_id, order_id, amount, method, paid_at, date_key, time_key,
            is_deleted, changed_at, src_id, store_key, customer_key, loaded_at)
     select s.payment_id, s.order_id, s.amount, s.method, s.paid_at, s.date_key, s.time_key, s.deleted,
            coalesce(s.at, '-infinity'), s.src, coalesce(o.store_key, 0), coalesce(o.customer_key, 0),
            clock_timestamp()
     from unnest($1::int4[], $2::int4[], $3::numeric[], $4::text[], $5::timestamptz[], $6::int4[], $7::int4[],
                 $8::bool[], $9::timestamptz[], $10::int8[])
          as s(payment_id, order_id, amount, method, paid_at, date_key, time_key, deleted, at, src)
     left join (select order_id, store_key, customer_key from fact_orders where order_id @orders($11)) o
            on o.order_id = s.order_id
     on conflict (order_id, payment_id) do update set amount = excluded.amount,
       method = excluded.method, paid_at = excluded.paid_at, date_key = excluded.date_key,
       time_key = excluded.time_key, is_deleted = excluded.is_deleted, changed_at = excluded.changed_at,
       src_id = excluded.src_id, store_key = excluded.store_key, customer_key = excluded.customer_key,
       loaded_at = excluded.loaded_at
     where ",
    guard!()
);

/// Copy the store and customer of the orders `$1` onto their payments (both sides restricted to
/// the batch's orders, as for order lines).
const HEADERS: &str = "
    update fact_payments f set store_key = o.store_key, customer_key = o.customer_key
    from fact_orders o
    where o.order_id @orders($1) and f.order_id @orders($1) and f.order_id = o.order_id
      and (f.store_key, f.customer_key) is distinct from (o.store_key, o.customer_key)";

static CHECKS: [Check; 1] = [Check {
    name: "payments (count/amount by day and method)",
    oltp: "select to_char(paid_at at time zone 'UTC', 'YYYYMMDD')::int4,
                  to_char(paid_at at time zone 'UTC', 'YYYYMMDD') || ':' || method,
                  count(*)::numeric, sum(amount)
           from payments group by 1, 2",
    olap: "select date_key, date_key || ':' || method, count(*)::numeric, sum(amount)
           from fact_payments where not is_deleted group by 1, 2",
    values: 2,
    totals: true,
}];

impl Table for Payments {
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
        Box::<PaymentRows>::default()
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

fn from_copy(r: &BinaryCopyOutRow) -> Result<PaymentImage, DecodeError> {
    let image = || -> Result<_, tokio_postgres::Error> {
        Ok(PaymentImage {
            id: r.try_get(0)?,
            order_id: r.try_get(1)?,
            amount: r.try_get(2)?,
            method: r.try_get(3)?,
            paid_at: r.try_get(4)?,
        })
    };
    image().map_err(DecodeError::Column)
}

/// One row of `fact_payments`.
#[derive(Debug, Clone, PartialEq)]
struct PaymentRow {
    payment_id: i32,
    order_id: i32,
    amount: Decimal,
    method: PaymentMethod,
    paid_at: DateTime<Utc>,
    is_deleted: bool,
    version: RowVersion,
}

/// By (order_id, payment_id), the warehouse's key.
#[derive(Default)]
struct PaymentRows(Latest<(i32, i32), PaymentRow>);

impl PaymentRows {
    fn add(
        &mut self,
        p: PaymentImage,
        is_deleted: bool,
        version: RowVersion,
        moved_from: Option<i32>,
    ) -> Result<(), TransformError> {
        let Some(method) = PaymentMethod::parse(&p.method) else {
            return Err(Violation::new("payment", p.id, format!("has unknown method '{}'", p.method)).into());
        };
        let row = PaymentRow {
            payment_id: p.id,
            order_id: p.order_id,
            amount: p.amount,
            method,
            paid_at: p.paid_at,
            is_deleted,
            version,
        };
        if let Some(from) = moved_from {
            self.0.insert((from, p.id), PaymentRow { order_id: from, is_deleted: true, ..row.clone() });
        }
        self.0.insert((p.order_id, p.id), row);
        Ok(())
    }
}

impl Rows for PaymentRows {
    fn add_change(&mut self, _: &Source, change: &ChangeRow) -> Result<(), TransformError> {
        let image: PaymentImage = change.image()?;
        let moved_from = change.moved_from(image.order_id)?;
        self.add(image, change.is_delete(), RowVersion::Change(change.version()), moved_from)
    }

    fn add_snapshot(&mut self, _: &Source, row: &BinaryCopyOutRow, job: i64) -> Result<(), TransformError> {
        self.add(from_copy(row)?, false, RowVersion::Snapshot { job }, None)
    }

    fn keys(&self, _: &mut DimKeys, _: &mut DimKeys) {}

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

/// Write the payments `r` as `landing` says.
async fn land(w: &Writer<'_>, landing: Landing, r: &[&PaymentRow]) -> Result<u64, tokio_postgres::Error> {
    let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
    let (scope, orders) = Scope::of_ids(r.iter().map(|x| x.order_id));
    let params: [&(dyn ToSql + Sync); 11] = [
        &col(r, |x| x.payment_id),
        &col(r, |x| x.order_id),
        &col(r, |x| x.amount),
        &col(r, |x| x.method.as_str()),
        &col(r, |x| x.paid_at),
        &col(r, |x| date_key(x.paid_at)),
        &col(r, |x| time_key(x.paid_at)),
        &del,
        &at,
        &src,
        &orders,
    ];
    w.tx.execute(w.form(UPSERT, scope, landing), &params).await
}
