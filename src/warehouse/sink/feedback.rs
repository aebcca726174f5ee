//! The sink's `fact_feedback` statements (one rating per row), kept apart from the other facts:
//! one bulk `unnest` upsert with the version guard (a snapshot row's NULL `changed_at` stored as
//! `-infinity`, see [`super::sql`]), as `fact_payments`, that binds the order's
//! date, store, customer and employee keys from `fact_orders`; and the header refresh that copies
//! them again when an order changes (or arrives after its rating). Deletes are soft (`is_deleted`).

use tokio_postgres::{types::ToSql, Client, Statement, Transaction};

use super::{col, sql::GUARD, versions, FeedbackRow};

/// The prepared statements of `fact_feedback`.
pub(super) struct FeedbackStatements {
    upsert: Statement,
    headers: Statement,
}

impl FeedbackStatements {
    /// Prepare both statements on `client`.
    pub(super) async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        Ok(FeedbackStatements {
            upsert: client.prepare(&upsert_sql(GUARD)).await?,
            headers: client.prepare(HEADERS_SQL).await?,
        })
    }

    /// Upsert `rows` (after `fact_orders` of the same batch was written).
    pub(super) async fn write(&self, tx: &Transaction<'_>, r: &[FeedbackRow]) -> Result<(), tokio_postgres::Error> {
        if r.is_empty() {
            return Ok(());
        }
        let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
        let comments: Vec<Option<&str>> = r.iter().map(|x| x.comment.as_deref()).collect();
        let params: [&(dyn ToSql + Sync); 10] = [
            &col(r, |x| x.feedback_id),
            &col(r, |x| x.order_id),
            &col(r, |x| x.rating),
            &comments,
            &col(r, |x| x.rated_at),
            &col(r, |x| x.date_key),
            &col(r, |x| x.time_key),
            &del,
            &at,
            &src,
        ];
        tx.execute(&self.upsert, &params).await.map(drop)
    }

    /// Copy the keys of the orders `order_ids` onto their ratings.
    pub(super) async fn refresh_headers(
        &self,
        tx: &Transaction<'_>,
        order_ids: &[i32],
    ) -> Result<(), tokio_postgres::Error> {
        tx.execute(&self.headers, &[&order_ids]).await.map(drop)
    }
}

pub(super) fn upsert_sql(guard: &str) -> String {
    format!(
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
                    from fact_orders where order_id = any($2::int4[])) o on o.order_id = s.order_id
         on conflict (order_id, feedback_id) do update set rating = excluded.rating,
           comment = excluded.comment, rated_at = excluded.rated_at, date_key = excluded.date_key,
           time_key = excluded.time_key, is_deleted = excluded.is_deleted, changed_at = excluded.changed_at,
           src_id = excluded.src_id, order_date_key = excluded.order_date_key, store_key = excluded.store_key,
           customer_key = excluded.customer_key, employee_key = excluded.employee_key,
           loaded_at = excluded.loaded_at
         where {guard}"
    )
}

pub(super) const HEADERS_SQL: &str = "
    update fact_feedback f set order_date_key = o.date_key, store_key = o.store_key,
           customer_key = o.customer_key, employee_key = o.employee_key
    from fact_orders o
    where o.order_id = any($1::int4[]) and f.order_id = any($1::int4[]) and f.order_id = o.order_id
      and (f.order_date_key, f.store_key, f.customer_key, f.employee_key)
          is distinct from (o.date_key, o.store_key, o.customer_key, o.employee_key)";
