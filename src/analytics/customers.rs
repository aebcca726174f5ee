//! `GET /api/v1/customers/segments`: RFM segmentation (seed 004) of every known customer with a
//! served order, over the star (the same rules as the dbt mart `customer_rfm`, with monetary value
//! from the order totals).
//!
//! Recency = days since the last served order (UTC), frequency = served orders, monetary = their
//! totals; each scored 1–5 by `ntile(5)` (5 = best), ties split by customer key. Segments, first
//! match: champions R≥4 F≥4; loyal R≥3 F≥3; new R≥4 F≤2; potential_loyalist R=3 F≤2; at_risk
//! R≤2 F≥3; lost R=1 F=1; hibernating otherwise.

use axum::{extract::State, Json};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::Client;

use super::{
    error::AnalyticsResult,
    params::Params,
    sales::{today, REVENUE_RULE},
    AnalyticsState,
};

/// Every segment, in the order of the rules.
pub(crate) const SEGMENTS: [&str; 7] =
    ["champions", "loyal", "new", "potential_loyalist", "at_risk", "lost", "hibernating"];

/// The rules, as responses state them.
pub(crate) const RULES: &str = "recency = days since the last served order, frequency = served orders, monetary = \
    their order totals; each scored 1-5 by ntile(5) (5 = best). champions R>=4 F>=4; loyal R>=3 F>=3; new R>=4 F<=2; \
    potential_loyalist R=3 F<=2; at_risk R<=2 F>=3; lost R=1 F=1; hibernating otherwise (first rule that matches)";

/// One segment.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Segment {
    pub segment: &'static str,
    pub customers: i64,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub revenue: Decimal,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub average_recency_days: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub average_frequency: Option<Decimal>,
}

/// One scored customer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct ScoredCustomer {
    pub customer_id: Option<i32>,
    pub name: String,
    pub segment: String,
    pub recency_days: i32,
    pub frequency: i64,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub monetary: Decimal,
    /// R, F and M scores, e.g. "545".
    pub rfm: String,
}

/// `GET /api/v1/customers/segments`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Segments {
    pub as_of: NaiveDate,
    pub customers_scored: i64,
    pub segments: Vec<Segment>,
    /// The customers of `segment` (or of all) with the highest monetary value.
    pub top_customers: Vec<ScoredCustomer>,
    pub rules: &'static str,
    pub revenue_rule: &'static str,
}

/// `GET /api/v1/customers/segments?segment=&limit=20`.
pub(crate) async fn segments(State(state): State<AnalyticsState>, params: Params) -> AnalyticsResult<Json<Segments>> {
    params.only(&["segment", "limit"])?;
    let segment = params.optional_choice("segment", &SEGMENTS)?;
    let limit = params.int("limit", 20, 0, 1000)?;
    let client = state.client().await?;
    Ok(Json(load_segments(&client, today(), segment, limit).await?))
}

const SCORED: &str = "
    with c as (
        select customer_key, orders as frequency, revenue as monetary, last_order_at
        from rollup_customers
        where orders > 0 and customer_key <> 0
    ), m as (
        select c.*, greatest(0, $1::date - (c.last_order_at at time zone 'UTC')::date) as recency_days from c
    ), s as (
        select m.*,
               ntile(5) over (order by m.recency_days desc, m.customer_key) as r,
               ntile(5) over (order by m.frequency, m.customer_key) as f,
               ntile(5) over (order by m.monetary, m.customer_key) as mo
        from m
    )
    select s.customer_key, s.recency_days, s.frequency::int8, s.monetary::numeric, r || '' || f || '' || mo,
           case when r >= 4 and f >= 4 then 'champions'
                when r >= 3 and f >= 3 then 'loyal'
                when r >= 4 and f <= 2 then 'new'
                when r = 3 and f <= 2 then 'potential_loyalist'
                when r <= 2 and f >= 3 then 'at_risk'
                when r = 1 and f = 1 then 'lost'
                else 'hibernating' end as segment
    from s";

/// One pass over the scored customers: the segment rows (kind 0) and the top customers (kind 1, by rank).
const RESULT_SQL: &str = "
    , agg as (
        select segment, count(*)::int8 as n, sum(monetary)::numeric as revenue,
               round(avg(recency_days), 1) as recency, round(avg(frequency), 1) as frequency
        from scored group by segment
    ), top as (
        select t.*, row_number() over (order by t.monetary desc, t.customer_key) as rank
        from scored t where $2::text is null or t.segment = $2
        order by t.monetary desc, t.customer_key limit $3
    )
    select 0 as kind, 0::int8 as rank, segment, n, revenue, recency, frequency,
           null::int4, null::text, null::int4, null::int8, null::numeric, null::text
    from agg
    union all
    select 1, t.rank, t.segment, null, null, null, null, d.customer_id, coalesce(d.name, 'Unknown'),
           t.recency_days, t.frequency, t.monetary, t.rfm
    from top t left join dim_customer d on d.customer_key = t.customer_key
    order by kind, rank";

/// Segments as of `today`, with the top `limit` customers of `segment` (all when none).
pub(crate) async fn load_segments(
    client: &Client,
    today: NaiveDate,
    segment: Option<&str>,
    limit: i64,
) -> AnalyticsResult<Segments> {
    let sql = format!(
        "with scored (customer_key, recency_days, frequency, monetary, rfm, segment) as ({SCORED}) {RESULT_SQL}"
    );
    let rows = client.query(&sql, &[&today, &segment, &limit]).await?;
    let (groups, top): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.get::<_, i32>(0) == 0);
    let segments: Vec<Segment> = SEGMENTS
        .iter()
        .map(|&name| {
            let row = groups.iter().find(|r| r.get::<_, &str>(2) == name);
            Segment {
                segment: name,
                customers: row.map_or(0, |r| r.get(3)),
                revenue: row.map_or(Decimal::ZERO, |r| r.get(4)),
                average_recency_days: row.map(|r| r.get(5)),
                average_frequency: row.map(|r| r.get(6)),
            }
        })
        .collect();
    let top_customers = top
        .iter()
        .map(|r| ScoredCustomer {
            customer_id: r.get(7),
            name: r.get(8),
            segment: r.get(2),
            recency_days: r.get(9),
            frequency: r.get(10),
            monetary: r.get(11),
            rfm: r.get(12),
        })
        .collect();
    Ok(Segments {
        as_of: today,
        customers_scored: segments.iter().map(|s| s.customers).sum(),
        segments,
        top_customers,
        rules: RULES,
        revenue_rule: REVENUE_RULE,
    })
}
