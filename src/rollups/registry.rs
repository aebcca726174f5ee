//! The rollups: which cell each live fact row falls in and what it adds there. Days and hours
//! are UTC (the facts' `date_key` and `time_key`); products are keyed by `product_id` (all
//! versions: every reader shows the current one).

use super::{By, Extra, Rollup};

/// Every rollup, in the order they are written.
pub(crate) static ROLLUPS: [Rollup; 7] = [
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
                lookup: "(select min(x.order_time) from fact_orders x
                          where x.customer_key = d.i1 and x.status = 'served' and not x.is_deleted)",
            },
            Extra {
                column: "last_order_at",
                aggregate: "max(o.order_time)",
                lookup: "(select max(x.order_time) from fact_orders x
                          where x.customer_key = d.i1 and x.status = 'served' and not x.is_deleted)",
            },
        ],
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
    },
];
