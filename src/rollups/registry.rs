//! The rollups: which cell each live fact row falls in and what it adds there. Days and hours
//! are UTC (the facts' `date_key` and `time_key`); products are keyed by `product_id` (all
//! versions: every reader shows the current one).

use super::{By, Extra, Rollup};

/// The latency bucket (migrations/olap/V11) of a duration in milliseconds (`float8`): 0 up to
/// 1 ms, then `b` for (2^((b-1)/8), 2^(b/8)] ms, at most 240.
macro_rules! bucket {
    ($ms:literal) => {
        concat!("greatest(0, least(240, ceil(8 * ln(greatest(", $ms, ", 1)) / ln(2))))::int")
    };
}

/// The UTC minute a line was loaded (minutes since 1970).
macro_rules! loaded_minute {
    () => {
        "floor(date_part('epoch', s.loaded_at) / 60)::int"
    };
}

/// The UTC day (`yyyymmdd`) a line was loaded, from its minute: a per-cell key (the minute's
/// cell holds it), so a batch computes it once per minute it touches, not once per line (by
/// line it was half of what the delta spent on this rollup).
const LOADED_DAY: &str =
    concat!("to_char(to_timestamp((", loaded_minute!(), ")::float8 * 60) at time zone 'UTC', 'YYYYMMDD')::int");

/// Every rollup, in the order they are written.
pub(crate) static ROLLUPS: [Rollup; 10] = [
    Rollup {
        table: "rollup_orders_hourly",
        fact: "fact_orders",
        int_keys: &[
            ("date_key", "o.date_key"),
            ("hour", "case when o.time_key < 0 then -1 else o.time_key / 60 end"),
            ("store_key", "o.store_key"),
        ],
        text_keys: &[("status", "o.status")],
        measures: &[("orders", "1"), ("revenue", "o.total")],
        from: "fact_orders o where not o.is_deleted",
        day: "o.date_key",
        by: By::Order("o.order_id"),
        extras: &[],
        per_cell: &[],
    },
    Rollup {
        table: "rollup_orders_daily",
        fact: "fact_orders",
        int_keys: &[("date_key", "o.date_key"), ("store_key", "o.store_key"), ("employee_key", "o.employee_key")],
        text_keys: &[("status", "o.status")],
        measures: &[("orders", "1"), ("revenue", "o.total")],
        from: "fact_orders o where not o.is_deleted",
        day: "o.date_key",
        by: By::Order("o.order_id"),
        extras: &[],
        per_cell: &[],
    },
    Rollup {
        table: "rollup_sales",
        fact: "fact_sales",
        int_keys: &[("date_key", "s.date_key"), ("product_id", "s.product_id")],
        text_keys: &[("order_status", "s.order_status")],
        measures: &[("lines", "1"), ("quantity", "s.quantity"), ("revenue", "s.line_total")],
        from: "fact_sales s where not s.is_deleted",
        day: "s.date_key",
        by: By::Order("s.order_id"),
        extras: &[],
        per_cell: &[],
    },
    Rollup {
        table: "rollup_payments",
        fact: "fact_payments",
        int_keys: &[("date_key", "p.date_key")],
        text_keys: &[("method", "p.method"), ("kind", "case when p.amount < 0 then 'refund' else 'payment' end")],
        measures: &[("payments", "1"), ("amount", "p.amount")],
        from: "fact_payments p where not p.is_deleted",
        day: "p.date_key",
        by: By::Order("p.order_id"),
        extras: &[],
        per_cell: &[],
    },
    Rollup {
        table: "rollup_ratings",
        fact: "fact_feedback",
        int_keys: &[("date_key", "f.date_key"), ("store_key", "f.store_key"), ("rating", "f.rating")],
        text_keys: &[],
        measures: &[("ratings", "1"), ("comments", "(f.comment is not null)::int")],
        from: "fact_feedback f where not f.is_deleted",
        day: "f.date_key",
        by: By::Order("f.order_id"),
        extras: &[],
        per_cell: &[],
    },
    Rollup {
        table: "rollup_customers",
        fact: "fact_orders",
        int_keys: &[("customer_key", "o.customer_key")],
        text_keys: &[],
        measures: &[("orders", "1"), ("revenue", "o.total")],
        from: "fact_orders o where not o.is_deleted and o.status = 'served'",
        day: "o.date_key",
        by: By::Order("o.order_id"),
        extras: &[
            Extra {
                column: "first_order_at",
                aggregate: "min(o.order_time)",
                combine: "least",
                lookup: "(select min(x.order_time) from fact_orders x
                          where x.customer_key = d.i1 and x.status = 'served' and not x.is_deleted)",
            },
            Extra {
                column: "last_order_at",
                aggregate: "max(o.order_time)",
                combine: "greatest",
                lookup: "(select max(x.order_time) from fact_orders x
                          where x.customer_key = d.i1 and x.status = 'served' and not x.is_deleted)",
            },
        ],
        per_cell: &[],
    },
    Rollup {
        table: "rollup_sessions",
        fact: "fact_app_sessions",
        int_keys: &[("date_key", "a.date_key"), ("store_key", "a.store_key")],
        text_keys: &[],
        measures: &[
            ("sessions", "1"),
            ("viewed", "(a.first_product_view_at is not null)::int"),
            ("added", "(a.first_add_to_cart_at is not null)::int"),
            ("checked_out", "(a.checkout_at is not null)::int"),
            ("purchased", "(a.purchased_at is not null)::int"),
            ("bounced", "a.bounced::int"),
            ("revenue", "coalesce(a.revenue, 0)"),
        ],
        from: "fact_app_sessions a where not a.is_deleted",
        day: "a.date_key",
        by: By::Session("a.session_id"),
        extras: &[],
        per_cell: &[],
    },
    Rollup {
        table: "rollup_freshness",
        fact: "fact_sales",
        int_keys: &[
            ("date_key", LOADED_DAY),
            ("minute", loaded_minute!()),
            ("bucket", bucket!("date_part('epoch', s.loaded_at - s.changed_at) * 1000")),
        ],
        text_keys: &[],
        measures: &[("lines", "1")],
        from: "fact_sales s where not s.is_deleted and s.src_id > 0",
        day: LOADED_DAY,
        by: By::Order("s.order_id"),
        extras: &[],
        per_cell: &["date_key"],
    },
    Rollup {
        table: "rollup_purchase_times",
        fact: "fact_app_sessions",
        int_keys: &[
            ("date_key", "a.date_key"),
            ("store_key", "a.store_key"),
            ("bucket", bucket!("date_part('epoch', a.purchased_at - a.started_at) * 1000")),
        ],
        text_keys: &[],
        measures: &[("sessions", "1")],
        from: "fact_app_sessions a where not a.is_deleted and a.purchased_at is not null",
        day: "a.date_key",
        by: By::Session("a.session_id"),
        extras: &[],
        per_cell: &[],
    },
    Rollup {
        table: "rollup_interest",
        fact: "fact_app_events",
        int_keys: &[("date_key", "i.date_key"), ("store_key", "i.store_key"), ("product_id", "i.product_id")],
        text_keys: &[],
        measures: &[
            ("viewed", "i.viewed::int"),
            ("added", "i.added::int"),
            ("bought", "i.bought::int"),
            ("not_bought", "(i.viewed and not i.bought)::int"),
            ("units", "i.units"),
        ],
        // One row per session and product: its events, and the lines of the order it placed. The
        // sessions' events are read once; the lines of their orders in a second step, so that
        // Citus joins them on the shards with the placed orders as an intermediate result rather
        // than repartitioning the lines.
        from: "(with ev as materialized (
                    select e.session_id, e.event_type, e.product_id, e.quantity, e.order_id, e.date_key, e.store_key
                    from fact_app_events e where not e.is_deleted and e.session_id {sessions}),
                placed as materialized (
                    select v.session_id, v.order_id, v.date_key, v.store_key from ev v where v.event_type = 'order_placed'),
                bought as materialized (
                    select distinct p.session_id, l.product_id, p.date_key, p.store_key
                    from placed p join fact_sales l on l.order_id = p.order_id and not l.is_deleted
                    where l.order_id in (select order_id from placed))
                select x.session_id, x.product_id, min(x.date_key) as date_key, min(x.store_key) as store_key,
                       bool_or(x.viewed) as viewed, bool_or(x.added) as added, bool_or(x.bought) as bought,
                       sum(x.units) as units
                from (select v.session_id, v.product_id, v.date_key, v.store_key,
                             v.event_type = 'product_view' as viewed, v.event_type = 'add_to_cart' as added,
                             false as bought,
                             case when v.event_type = 'add_to_cart' then coalesce(v.quantity, 0) else 0 end as units
                      from ev v where v.product_id is not null
                      union all
                      select b.session_id, b.product_id, b.date_key, b.store_key, false, false, true, 0
                      from bought b) x
                group by x.session_id, x.product_id) i where true",
        day: "i.date_key",
        by: By::Session("i.session_id"),
        extras: &[],
        per_cell: &[],
    },
];
