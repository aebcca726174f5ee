//! App events: `app_events` in OLTP (what customers do in the order-ahead app and the kiosks,
//! posted by `POST /events`) → `fact_app_events`, one row per event, and `fact_app_sessions`, an
//! accumulating snapshot of each session (started, first product view, first add to cart,
//! checkout, purchase with its order and revenue, event count, bounced).
//!
//! A session's row is a function of its live events, recomputed from `fact_app_events` in the
//! same transaction whenever a batch writes one of them: so it ends the same whatever order its
//! events arrive in (a phone offline for an hour, a retried batch), and is applied exactly once
//! with them. A snapshot job rebuilds every session at its end instead ([`Retire::Rebuild`]).

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio_postgres::{
    binary_copy::BinaryCopyOutRow,
    types::{ToSql, Type},
};
use uuid::Uuid;

use super::{
    date_key,
    row::{col, guard, time_key, versions, Latest},
    Check, DimKeys, Placement, Read, Retire, RowVersion, Rows, SnapshotRead, Source, Stage, Step, Table, Target,
    Touched, TransformError, Violation, Writer,
};
use crate::{
    change::{to_json, ChangeRow, DecodeError},
    shop::EventType,
};

/// The `app_events` table.
pub(crate) struct AppEvents;

/// `app_events` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct EventImage {
    id: i64,
    session_id: Uuid,
    event_id: i32,
    event_type: String,
    at: DateTime<Utc>,
    store_id: i32,
    customer_id: Option<i32>,
    product_id: Option<i32>,
    quantity: Option<i32>,
    query: Option<String>,
    order_id: Option<i32>,
    order_total: Option<Decimal>,
}

static SOURCES: [Source; 1] = [Source {
    name: "app_events",
    code: 10,
    snapshot: SnapshotRead {
        step: Step::Chunks,
        read: Read::Rows {
            columns: "id, session_id, event_id, event_type, at, store_id, customer_id, product_id, quantity, query, \
                      order_id, order_total",
            types: &[
                Type::INT8,
                Type::UUID,
                Type::INT4,
                Type::TEXT,
                Type::TIMESTAMPTZ,
                Type::INT4,
                Type::INT4,
                Type::INT4,
                Type::INT4,
                Type::TEXT,
                Type::INT4,
                Type::NUMERIC,
            ],
        },
    },
}];

/// The sessions of the live events that `$where` selects, aggregated: the first event (by client
/// time, then event id) gives the start, its day, minute and store; the first event naming a
/// customer gives the customer; each milestone is the time of its first event.
macro_rules! sessions_from {
    ($where:literal) => {
        concat!(
            "select e.session_id,
                    (array_agg(e.date_key order by e.at, e.event_id))[1],
                    (array_agg(e.time_key order by e.at, e.event_id))[1],
                    (array_agg(e.store_key order by e.at, e.event_id))[1],
                    coalesce((array_agg(e.customer_key order by e.at, e.event_id)
                              filter (where e.customer_id is not null))[1], 0),
                    min(e.at), max(e.at),
                    min(e.at) filter (where e.event_type = 'product_view'),
                    min(e.at) filter (where e.event_type = 'add_to_cart'),
                    min(e.at) filter (where e.event_type = 'checkout_start'),
                    min(e.at) filter (where e.event_type = 'order_placed'),
                    (array_agg(e.order_id order by e.at, e.event_id) filter (where e.event_type = 'order_placed'))[1],
                    (array_agg(e.order_total order by e.at, e.event_id)
                     filter (where e.event_type = 'order_placed'))[1],
                    count(*)::int4, false, clock_timestamp()
             from fact_app_events e
             where not e.is_deleted and ",
            $where,
            " group by e.session_id"
        )
    };
}

/// The columns [`sessions_from`] selects.
macro_rules! sessions_insert {
    () => {
        "insert into fact_app_sessions as t (session_id, date_key, time_key, store_key, customer_key, started_at,
                ended_at, first_product_view_at, first_add_to_cart_at, checkout_at, purchased_at, order_id, revenue,
                event_count, is_deleted, loaded_at) "
    };
}

/// The upsert of aggregated sessions: a session's row is replaced whole (it is recomputed).
macro_rules! sessions_upsert {
    () => {
        "on conflict (session_id) do update set date_key = excluded.date_key, time_key = excluded.time_key,
           store_key = excluded.store_key, customer_key = excluded.customer_key, started_at = excluded.started_at,
           ended_at = excluded.ended_at, first_product_view_at = excluded.first_product_view_at,
           first_add_to_cart_at = excluded.first_add_to_cart_at, checkout_at = excluded.checkout_at,
           purchased_at = excluded.purchased_at, order_id = excluded.order_id, revenue = excluded.revenue,
           event_count = excluded.event_count, is_deleted = excluded.is_deleted, loaded_at = excluded.loaded_at"
    };
}

/// Rebuild every session from its live events (a snapshot job's end: it loaded or retired every
/// event), and mark the sessions left without one.
const REBUILD: [&str; 2] = [
    concat!(sessions_insert!(), sessions_from!("true"), " ", sessions_upsert!()),
    "update fact_app_sessions s set is_deleted = true
     where not s.is_deleted
       and not exists (select from fact_app_events e where e.session_id = s.session_id and not e.is_deleted)",
];

static TARGETS: [Target; 2] = [
    Target {
        name: "fact_app_events",
        placement: Placement::Distributed { column: "session_id", with: None },
        retire: Retire::ByJob(
            "update fact_app_events set is_deleted = true, loaded_at = now()
             where not is_deleted
               and (changed_at, src_id) is distinct from ('-infinity'::timestamptz, -$1::int8)",
        ),
    },
    Target {
        name: "fact_app_sessions",
        placement: Placement::Distributed { column: "session_id", with: Some("fact_app_events") },
        retire: Retire::Rebuild(&REBUILD),
    },
];

const UPSERT: &str = concat!(
    "insert into fact_app_events as t (session_id, event_id, event_type, at, date_key, time_key, store_id,
            customer_id, product_id, quantity, query, order_id, order_total, is_deleted, changed_at, src_id,
            store_key, customer_key, product_key, loaded_at)
     select s.session_id, s.event_id, s.event_type, s.at, s.date_key, s.time_key, s.store_id, s.customer_id,
            s.product_id, s.quantity, s.query, s.order_id, s.order_total, s.deleted, coalesce(s.at_version, '-infinity'),
            s.src, coalesce(ds.store_key, 0), coalesce(dc.customer_key, 0), coalesce(p.product_key, 0),
            clock_timestamp()
     from unnest($1::uuid[], $2::int4[], $3::text[], $4::timestamptz[], $5::int4[], $6::int4[], $7::int4[],
                 $8::int4[], $9::int4[], $10::int4[], $11::text[], $12::int4[], $13::numeric[], $14::bool[],
                 $15::timestamptz[], $16::int8[])
          as s(session_id, event_id, event_type, at, date_key, time_key, store_id, customer_id, product_id, quantity,
               query, order_id, order_total, deleted, at_version, src)
     left join dim_store ds on ds.store_id = s.store_id
     left join dim_customer dc on dc.customer_id = s.customer_id
     left join lateral (
         select d.product_key from dim_product d
         where d.product_id = s.product_id and s.at >= d.valid_from and s.at < d.valid_to
         order by d.valid_from desc limit 1) p on true
     on conflict (session_id, event_id) do update set event_type = excluded.event_type, at = excluded.at,
       date_key = excluded.date_key, time_key = excluded.time_key, store_id = excluded.store_id,
       customer_id = excluded.customer_id, product_id = excluded.product_id, quantity = excluded.quantity,
       query = excluded.query, order_id = excluded.order_id, order_total = excluded.order_total,
       is_deleted = excluded.is_deleted, changed_at = excluded.changed_at, src_id = excluded.src_id,
       store_key = excluded.store_key, customer_key = excluded.customer_key, product_key = excluded.product_key,
       loaded_at = excluded.loaded_at
     where ",
    guard!()
);

/// Recompute the sessions `$1` (`uuid[]`) from their live events.
const SESSIONS: &str =
    concat!(sessions_insert!(), sessions_from!("e.session_id = any($1::uuid[])"), " ", sessions_upsert!());

/// Mark the sessions `$1` left without a live event (their last events were deleted).
const EMPTIED: &str = "
    update fact_app_sessions f set is_deleted = true
    where f.session_id = any($1::uuid[]) and not f.is_deleted
      and not exists (select from fact_app_events e
                      where e.session_id = any($1::uuid[]) and e.session_id = f.session_id and not e.is_deleted)";

static CHECKS: [Check; 2] = [
    Check {
        name: "app events (count by day and type)",
        // The day as the warehouse keys it: 0 outside the calendar (a phone's clock may be off).
        oltp: "select d, d || ':' || event_type, count(*)::numeric
               from (select case when extract(year from at at time zone 'UTC') between 2015 and 2045
                                 then to_char(at at time zone 'UTC', 'YYYYMMDD')::int4 else 0 end as d, event_type
                     from app_events) e
               group by d, event_type",
        olap: "select date_key, date_key || ':' || event_type, count(*)::numeric
               from fact_app_events where not is_deleted group by 1, 2",
        values: 1,
        totals: true,
    },
    Check {
        name: "app sessions (count, events, bounced, viewed, added, checked out, purchased, revenue by start day)",
        oltp: "select d, d::text, count(*)::numeric, sum(n)::numeric, count(*) filter (where n = 1)::numeric,
                      count(*) filter (where viewed)::numeric, count(*) filter (where added)::numeric,
                      count(*) filter (where checkout)::numeric, count(*) filter (where purchased)::numeric,
                      coalesce(sum(revenue), 0)
               from (select (array_agg(case when extract(year from at at time zone 'UTC') between 2015 and 2045
                                            then to_char(at at time zone 'UTC', 'YYYYMMDD')::int4 else 0 end
                                       order by at, event_id))[1] as d,
                            count(*) as n,
                            bool_or(event_type = 'product_view') as viewed, bool_or(event_type = 'add_to_cart') as added,
                            bool_or(event_type = 'checkout_start') as checkout,
                            bool_or(event_type = 'order_placed') as purchased,
                            (array_agg(order_total order by at, event_id)
                             filter (where event_type = 'order_placed'))[1] as revenue
                     from app_events group by session_id) s
               group by d",
        olap: "select date_key, date_key::text, count(*)::numeric, sum(event_count)::numeric,
                      count(*) filter (where event_count = 1)::numeric,
                      count(first_product_view_at)::numeric, count(first_add_to_cart_at)::numeric,
                      count(checkout_at)::numeric, count(purchased_at)::numeric, coalesce(sum(revenue), 0)
               from fact_app_sessions where not is_deleted group by 1",
        values: 8,
        totals: true,
    },
];

impl Table for AppEvents {
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }

    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn stage(&self) -> Stage {
        Stage::Fact { headers: None }
    }

    fn rows(&self) -> Box<dyn Rows> {
        Box::<EventRows>::default()
    }

    fn statements(&self) -> Vec<&'static str> {
        vec![UPSERT]
    }

    #[cfg(test)]
    fn unprepared_statements(&self) -> Vec<&'static str> {
        vec![SESSIONS, EMPTIED]
    }

    fn checks(&self) -> &'static [Check] {
        &CHECKS
    }

    fn snapshot_image(&self, _: &Source, row: &BinaryCopyOutRow) -> Result<String, TransformError> {
        Ok(to_json(&from_copy(row)?)?)
    }
}

fn from_copy(r: &BinaryCopyOutRow) -> Result<EventImage, DecodeError> {
    let image = || -> Result<_, tokio_postgres::Error> {
        Ok(EventImage {
            id: r.try_get(0)?,
            session_id: r.try_get(1)?,
            event_id: r.try_get(2)?,
            event_type: r.try_get(3)?,
            at: r.try_get(4)?,
            store_id: r.try_get(5)?,
            customer_id: r.try_get(6)?,
            product_id: r.try_get(7)?,
            quantity: r.try_get(8)?,
            query: r.try_get(9)?,
            order_id: r.try_get(10)?,
            order_total: r.try_get(11)?,
        })
    };
    image().map_err(DecodeError::Column)
}

/// One row of `fact_app_events`.
#[derive(Debug, Clone)]
struct EventRow {
    image: EventImage,
    event_type: EventType,
    is_deleted: bool,
    version: RowVersion,
}

/// By (session_id, event_id), the warehouse's key.
#[derive(Default)]
struct EventRows(Latest<(Uuid, i32), EventRow>);

impl EventRows {
    fn add(&mut self, e: EventImage, is_deleted: bool, version: RowVersion) -> Result<(), TransformError> {
        let Some(event_type) = EventType::parse(&e.event_type) else {
            return Err(Violation::new("app event", e.id, format!("has unknown type '{}'", e.event_type)).into());
        };
        if let Some(q) = e.quantity.filter(|q| *q <= 0) {
            return Err(Violation::new("app event", e.id, format!("has a non-positive quantity {q}")).into());
        }
        self.0.insert((e.session_id, e.event_id), EventRow { image: e, event_type, is_deleted, version });
        Ok(())
    }

    /// The sessions whose rows this batch must recompute: those of its captured changes (a
    /// snapshot job rebuilds every session at its end).
    fn sessions(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self
            .0
            .values()
            .filter(|r| matches!(r.version, RowVersion::Change(_)))
            .map(|r| r.image.session_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

impl Rows for EventRows {
    fn add_change(&mut self, _: &Source, change: &ChangeRow) -> Result<(), TransformError> {
        self.add(change.image()?, change.is_delete(), RowVersion::Change(change.version()))
    }

    fn add_snapshot(&mut self, _: &Source, row: &BinaryCopyOutRow, job: i64) -> Result<(), TransformError> {
        self.add(from_copy(row)?, false, RowVersion::Snapshot { job })
    }

    fn keys(&self, referenced: &mut DimKeys, _: &mut DimKeys) {
        for r in self.0.values() {
            referenced.store.insert(r.image.store_id);
            referenced.customer.extend(r.image.customer_id);
            referenced.product.extend(r.image.product_id);
        }
    }

    fn touched(&self, t: &mut Touched) {
        t.sessions.extend(self.0.keys().map(|(session, _)| *session));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn write<'a>(&'a self, w: &'a Writer<'a>) -> BoxFuture<'a, Result<u64, tokio_postgres::Error>> {
        Box::pin(async move {
            let r = self.0.sorted();
            let (del, at, src) = versions(&r, |x| (x.is_deleted, x.version));
            let params: [&(dyn ToSql + Sync); 16] = [
                &col(&r, |x| x.image.session_id),
                &col(&r, |x| x.image.event_id),
                &col(&r, |x| x.event_type.as_str()),
                &col(&r, |x| x.image.at),
                &col(&r, |x| date_key(x.image.at)),
                &col(&r, |x| time_key(x.image.at)),
                &col(&r, |x| x.image.store_id),
                &col(&r, |x| x.image.customer_id),
                &col(&r, |x| x.image.product_id),
                &col(&r, |x| x.image.quantity),
                &col(&r, |x| x.image.query.clone()),
                &col(&r, |x| x.image.order_id),
                &col(&r, |x| x.image.order_total),
                &del,
                &at,
                &src,
            ];
            w.tx.execute(w.statement(UPSERT), &params).await?;
            let sessions = self.sessions();
            if !sessions.is_empty() {
                // Planned for these sessions each time (the unnamed statement, one round trip): a
                // plan cached while fact_app_events was small scans the whole table until the next
                // ANALYZE, which a warehouse that just started waits a minute or more for.
                let param = [(&sessions as &(dyn ToSql + Sync), Type::UUID_ARRAY)];
                w.tx.execute_typed(SESSIONS, &param).await?;
                w.tx.execute_typed(EMPTIED, &param).await?;
            }
            Ok(0)
        })
    }
}
