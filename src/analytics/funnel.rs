//! The conversion funnel (seed 004's headline) over the app's sessions: `GET /api/v1/funnel` (how
//! many sessions reach each milestone, the step and overall conversion, bounces, the median time
//! to purchase) and `GET /api/v1/products/interest` (what is looked at and added, against what is
//! bought: "looked at, not bought"). Days are the sessions' (events') UTC days.

use axum::{extract::State, Json};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::Client;

use super::{
    error::AnalyticsResult,
    params::{DateRange, Params},
    sales::today,
    AnalyticsState,
};

/// How many sessions reached each milestone (at least once, in any order).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct Stages {
    pub sessions: i64,
    pub viewed_product: i64,
    pub added_to_cart: i64,
    pub started_checkout: i64,
    pub purchased: i64,
    /// Sessions of exactly one event.
    pub bounced: i64,
}

/// `GET /api/v1/funnel`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Funnel {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub store_id: Option<i32>,
    #[serde(flatten)]
    pub stages: Stages,
    /// Each stage over the one before it, and purchases over sessions, in percent.
    pub conversion: Conversion,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub bounce_rate_pct: Option<Decimal>,
    /// Median seconds from a purchasing session's first event to its order.
    pub median_seconds_to_purchase: Option<f64>,
    /// The placed orders' totals when they were placed.
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub revenue: Decimal,
}

/// Step and overall conversion, in percent (none when the stage before is empty).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Conversion {
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub session_to_view_pct: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub view_to_cart_pct: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub cart_to_checkout_pct: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub checkout_to_purchase_pct: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub overall_pct: Option<Decimal>,
}

/// `part / whole` in percent, one decimal.
fn pct(part: i64, whole: i64) -> Option<Decimal> {
    (whole > 0).then(|| (Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole)).round_dp(1))
}

impl Stages {
    fn conversion(&self) -> Conversion {
        Conversion {
            session_to_view_pct: pct(self.viewed_product, self.sessions),
            view_to_cart_pct: pct(self.added_to_cart, self.viewed_product),
            cart_to_checkout_pct: pct(self.started_checkout, self.added_to_cart),
            checkout_to_purchase_pct: pct(self.purchased, self.started_checkout),
            overall_pct: pct(self.purchased, self.sessions),
        }
    }
}

/// `GET /api/v1/funnel?date=|from=&to=[&store_id=N]` (default: the last 7 days).
pub(crate) async fn funnel(State(state): State<AnalyticsState>, params: Params) -> AnalyticsResult<Json<Funnel>> {
    params.only(&["date", "from", "to", "store_id"])?;
    let range = params.range(today(), 7)?;
    let store = params.optional_int("store_id", 1, i64::from(i32::MAX))?.map(|s| s as i32);
    let client = state.client().await?;
    Ok(Json(load_funnel(&client, range, store).await?))
}

/// The stages from the rollup; the median from the histogram of the purchasing sessions' times
/// (migrations/olap/V11: within one bucket, ~9 %, of the exact median).
const FUNNEL: &str = "
    select coalesce(sum(r.sessions), 0)::int8, coalesce(sum(r.viewed), 0)::int8, coalesce(sum(r.added), 0)::int8,
           coalesce(sum(r.checked_out), 0)::int8, coalesce(sum(r.purchased), 0)::int8,
           coalesce(sum(r.bounced), 0)::int8,
           (select latency_quantile(0.5, array_agg(p.bucket), array_agg(p.sessions)) / 1000
            from rollup_purchase_times p
            where p.date_key between $1 and $2
              and ($3::int4 is null or p.store_key = (select store_key from dim_store where store_id = $3))),
           coalesce(sum(r.revenue), 0)
    from rollup_sessions r
    where r.date_key between $1 and $2
      and ($3::int4 is null or r.store_key = (select store_key from dim_store where store_id = $3))";

/// The funnel of the sessions started in `range` (at store `store`, or every store).
pub(crate) async fn load_funnel(client: &Client, range: DateRange, store: Option<i32>) -> AnalyticsResult<Funnel> {
    let (a, b) = range.keys();
    let r = client.query_one(FUNNEL, &[&a, &b, &store]).await?;
    let stages = Stages {
        sessions: r.get(0),
        viewed_product: r.get(1),
        added_to_cart: r.get(2),
        started_checkout: r.get(3),
        purchased: r.get(4),
        bounced: r.get(5),
    };
    Ok(Funnel {
        from: range.from,
        to: range.to,
        store_id: store,
        conversion: stages.conversion(),
        bounce_rate_pct: pct(stages.bounced, stages.sessions),
        median_seconds_to_purchase: r.get(6),
        revenue: r.get(7),
        stages,
    })
}

/// One product's interest.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct ProductInterest {
    pub product_id: i32,
    pub name: String,
    /// Sessions that viewed it, added it to their cart, and placed an order with it.
    pub viewed_sessions: i64,
    pub added_sessions: i64,
    pub bought_sessions: i64,
    /// Sessions that viewed it and placed no order with it.
    pub looked_not_bought: i64,
    pub units_added: i64,
}

/// `GET /api/v1/products/interest`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Interest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub store_id: Option<i32>,
    /// By sessions that looked at the product and did not buy it, most first.
    pub products: Vec<ProductInterest>,
}

/// `GET /api/v1/products/interest?date=|from=&to=[&store_id=N][&limit=N]` (default: the last 7
/// days, 20 products).
pub(crate) async fn interest(State(state): State<AnalyticsState>, params: Params) -> AnalyticsResult<Json<Interest>> {
    params.only(&["date", "from", "to", "store_id", "limit"])?;
    let range = params.range(today(), 7)?;
    let store = params.optional_int("store_id", 1, i64::from(i32::MAX))?.map(|s| s as i32);
    let limit = params.int("limit", 20, 1, 100)?;
    let client = state.client().await?;
    Ok(Json(load_interest(&client, range, store, limit).await?))
}

/// From the rollup: the sessions and products of the range (each pair on the day of its first
/// event), viewed, added (units), bought (in the session's order).
const INTEREST: &str = "
    select r.product_id, coalesce(d.name, 'Unknown'), sum(r.viewed)::int8, sum(r.added)::int8, sum(r.bought)::int8,
           sum(r.not_bought)::int8, sum(r.units)::int8
    from rollup_interest r
    left join dim_product d on d.product_id = r.product_id and d.is_current
    where r.date_key between $1 and $2
      and ($3::int4 is null or r.store_key = (select store_key from dim_store where store_id = $3))
    group by r.product_id, d.name
    having sum(r.viewed) <> 0 or sum(r.added) <> 0 or sum(r.bought) <> 0 or sum(r.units) <> 0
    order by 6 desc, 3 desc, 1
    limit $4";

/// The products looked at, added and bought in the sessions of `range`.
pub(crate) async fn load_interest(
    client: &Client,
    range: DateRange,
    store: Option<i32>,
    limit: i64,
) -> AnalyticsResult<Interest> {
    let (a, b) = range.keys();
    let rows = client.query(INTEREST, &[&a, &b, &store, &limit]).await?;
    let products = rows
        .iter()
        .map(|r| ProductInterest {
            product_id: r.get(0),
            name: r.get(1),
            viewed_sessions: r.get(2),
            added_sessions: r.get(3),
            bought_sessions: r.get(4),
            looked_not_bought: r.get(5),
            units_added: r.get(6),
        })
        .collect();
    Ok(Interest { from: range.from, to: range.to, store_id: store, products })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_is_each_stage_over_the_one_before() {
        let s = Stages {
            sessions: 200,
            viewed_product: 150,
            added_to_cart: 60,
            started_checkout: 30,
            purchased: 24,
            bounced: 40,
        };
        let c = s.conversion();
        let d = |t: &str| Some(t.parse::<Decimal>().unwrap());
        assert_eq!(
            (c.session_to_view_pct, c.view_to_cart_pct, c.cart_to_checkout_pct, c.checkout_to_purchase_pct),
            (d("75.0"), d("40.0"), d("50.0"), d("80.0"))
        );
        assert_eq!(c.overall_pct, d("12.0"));
        assert_eq!(Stages::default().conversion().overall_pct, None, "no session, no rate");
    }
}
