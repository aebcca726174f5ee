//! Customer feedback: `feedback` in OLTP → `fact_feedback`, one row per rating (1 to 5), keyed by
//! (order, rating) like order lines. `date_key` is the day of the rating; the order's date, store,
//! customer and employee keys are copied from `fact_orders` (again whenever the order changes).

use chrono::{DateTime, Utc};
use futures_util::future::{try_join_all, BoxFuture};
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
use crate::change::{to_json, ChangeRow, DecodeError};

/// The `feedback` table.
pub(crate) struct Feedback;

/// `feedback` row image: one customer rating of an order.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct FeedbackImage {
    id: i32,
    order_id: i32,
    rating: i32,
    comment: Option<String>,
    created_at: DateTime<Utc>,
}

static SOURCES: [Source; 1] = [Source {
    name: "feedback",
    code: 9,
    snapshot: SnapshotRead {
        step: Step::Chunks,
        read: Read::Rows {
            columns: "id, order_id, rating::int4, comment, created_at",
            types: &[Type::INT4, Type::INT4, Type::INT4, Type::TEXT, Type::TIMESTAMPTZ],
        },
    },
}];

static TARGETS: [Target; 1] = [Target {
    name: "fact_feedback",
    placement: Placement::Distributed { column: "order_id", with: Some("fact_orders") },
    retire: Retire::ByJob(
        "update fact_feedback set is_deleted = true, loaded_at = now()
         where not is_deleted and (changed_at, src_id) is distinct from ('-infinity'::timestamptz, -$1::int8)",
    ),
}];

const UPSERT: &str = concat!(
    "insert into fact_feedback as t (feedback_id, order_id, rating, comment, rated_at, date_key, time_key,
            is_deleted, changed_at, src_id, order_date_key, store_key, customer_key, employee_key, loaded_at)
     select s.feedback_id, s.order_id, s.rating, s.comment, s.rated_at, s.date_key, s.time_key, s.is_deleted,
            coalesce(s.changed_at, '-infinity'), s.src_id, coalesce(o.date_key, 0), coalesce(o.store_key, 0),
            coalesce(o.customer_key, 0), coalesce(o.employee_key, 0), clock_timestamp()
     from unnest($1::int4[], $2::int4[], $3::int4[], $4::text[], $5::timestamptz[], $6::int4[], $7::int4[],
                 $8::bool[], $9::timestamptz[], $10::int8[])
          as s(feedback_id, order_id, rating, comment, rated_at, date_key, time_key, is_deleted, changed_at,
               src_id)
     left join (select order_id, date_key, store_key, customer_key, employee_key
                from fact_orders where order_id @orders($11)) o on o.order_id = s.order_id
     on conflict (order_id, feedback_id) do update set rating = excluded.rating,
       comment = excluded.comment, rated_at = excluded.rated_at, date_key = excluded.date_key,
       time_key = excluded.time_key, is_deleted = excluded.is_deleted, changed_at = excluded.changed_at,
       src_id = excluded.src_id, order_date_key = excluded.order_date_key, store_key = excluded.store_key,
       customer_key = excluded.customer_key, employee_key = excluded.employee_key,
       loaded_at = excluded.loaded_at
     where ",
    guard!()
);

/// Copy the keys of the orders `$1` onto their ratings (both sides restricted to the batch's
/// orders, as for order lines).
const HEADERS: &str = "
    update fact_feedback f set order_date_key = o.date_key, store_key = o.store_key,
           customer_key = o.customer_key, employee_key = o.employee_key
    from fact_orders o
    where o.order_id @orders($1) and f.order_id @orders($1) and f.order_id = o.order_id
      and (f.order_date_key, f.store_key, f.customer_key, f.employee_key)
          is distinct from (o.date_key, o.store_key, o.customer_key, o.employee_key)";

static CHECKS: [Check; 1] = [Check {
    name: "feedback (count/rating sum by day of the rating)",
    oltp: "select to_char(created_at at time zone 'UTC', 'YYYYMMDD')::int4,
                  to_char(created_at at time zone 'UTC', 'YYYYMMDD'),
                  count(*)::numeric, sum(rating)::numeric
           from feedback group by 1, 2",
    olap: "select date_key, date_key::text, count(*)::numeric, sum(rating)::numeric
           from fact_feedback where not is_deleted group by 1, 2",
    values: 2,
    totals: true,
}];

impl Table for Feedback {
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
        Box::<FeedbackRows>::default()
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

fn from_copy(r: &BinaryCopyOutRow) -> Result<FeedbackImage, DecodeError> {
    let image = || -> Result<_, tokio_postgres::Error> {
        Ok(FeedbackImage {
            id: r.try_get(0)?,
            order_id: r.try_get(1)?,
            rating: r.try_get(2)?,
            comment: r.try_get(3)?,
            created_at: r.try_get(4)?,
        })
    };
    image().map_err(DecodeError::Column)
}

/// One row of `fact_feedback`.
#[derive(Debug, Clone, PartialEq)]
struct FeedbackRow {
    feedback_id: i32,
    order_id: i32,
    rating: i32,
    comment: Option<String>,
    rated_at: DateTime<Utc>,
    is_deleted: bool,
    version: RowVersion,
}

/// By (order_id, feedback_id), the warehouse's key.
#[derive(Default)]
struct FeedbackRows(Latest<(i32, i32), FeedbackRow>);

impl FeedbackRows {
    fn add(
        &mut self,
        f: FeedbackImage,
        is_deleted: bool,
        version: RowVersion,
        moved_from: Option<i32>,
    ) -> Result<(), TransformError> {
        if !(1..=5).contains(&f.rating) {
            return Err(Violation::new("feedback", f.id, format!("has a rating {} outside 1 to 5", f.rating)).into());
        }
        let row = FeedbackRow {
            feedback_id: f.id,
            order_id: f.order_id,
            rating: f.rating,
            comment: f.comment,
            rated_at: f.created_at,
            is_deleted,
            version,
        };
        if let Some(from) = moved_from {
            self.0.insert((from, f.id), FeedbackRow { order_id: from, is_deleted: true, ..row.clone() });
        }
        self.0.insert((f.order_id, f.id), row);
        Ok(())
    }
}

impl Rows for FeedbackRows {
    fn add_change(&mut self, _: &Source, change: &ChangeRow) -> Result<(), TransformError> {
        let image: FeedbackImage = change.image()?;
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

/// Write the ratings `r` as `landing` says.
async fn land(w: &Writer<'_>, landing: Landing, r: &[&FeedbackRow]) -> Result<u64, tokio_postgres::Error> {
    let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
    let comments: Vec<Option<&str>> = r.iter().map(|x| x.comment.as_deref()).collect();
    let (scope, orders) = Scope::of_ids(r.iter().map(|x| x.order_id));
    let params: [&(dyn ToSql + Sync); 11] = [
        &col(r, |x| x.feedback_id),
        &col(r, |x| x.order_id),
        &col(r, |x| x.rating),
        &comments,
        &col(r, |x| x.rated_at),
        &col(r, |x| date_key(x.rated_at)),
        &col(r, |x| time_key(x.rated_at)),
        &del,
        &at,
        &src,
        &orders,
    ];
    w.tx.execute(w.form(UPSERT, scope, landing), &params).await
}
