//! Stores: `GET /api/v1/stores/monthly` (sales per store per month, seed 000 `store_monthly`) and
//! `GET /api/v1/stores/peak-hours` (each store's busiest UTC hour, seed 000 `store_peak_hours`).

use axum::{extract::State, Json};
use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::Client;

use super::{
    error::{AnalyticsError, AnalyticsResult},
    params::{DateRange, Params},
    sales::{ratio, today, REVENUE_RULE},
    AnalyticsState,
};

/// Most months one request may cover.
const MAX_MONTHS: u32 = 36;

/// One store in one month.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct StoreMonth {
    pub store_id: Option<i32>,
    pub store_name: String,
    /// `YYYY-MM`.
    pub month: String,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub revenue: Decimal,
    pub orders: i64,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub average_order_value: Option<Decimal>,
}

/// `GET /api/v1/stores/monthly`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Monthly {
    pub from: String,
    pub to: String,
    pub months: Vec<StoreMonth>,
    pub revenue_rule: &'static str,
}

/// `GET /api/v1/stores/monthly?from=YYYY-MM&to=YYYY-MM`: served revenue and orders per store and
/// month with sales (default: the last 12 months, this one included).
pub(crate) async fn monthly(State(state): State<AnalyticsState>, params: Params) -> AnalyticsResult<Json<Monthly>> {
    params.only(&["from", "to"])?;
    let this_month = today().with_day(1).expect("day 1 exists");
    let to = params.month("to")?.unwrap_or(this_month);
    let from = params.month("from")?.unwrap_or_else(|| to - Months::new(11));
    if from > to {
        return Err(AnalyticsError::invalid("from", format!("from {} is after to {}", ym(from), ym(to))));
    }
    if from + Months::new(MAX_MONTHS) <= to {
        return Err(AnalyticsError::invalid("to", format!("a range covers at most {MAX_MONTHS} months")));
    }
    let last_day = to + Months::new(1) - chrono::Duration::days(1);
    let client = state.client().await?;
    let months = load_monthly(&client, DateRange { from, to: last_day }).await?;
    Ok(Json(Monthly { from: ym(from), to: ym(to), months, revenue_rule: REVENUE_RULE }))
}

fn ym(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

const MONTHLY: &str = "
    select s.store_id, coalesce(s.name, 'Unknown'), m.month, m.revenue, m.orders
    from (select store_key, date_key / 100 as month, sum(revenue)::numeric as revenue, sum(orders)::int8 as orders
          from rollup_orders_daily
          where date_key between $1 and $2 and status = 'served'
          group by 1, 2
          having sum(orders) > 0) m
    left join dim_store s on s.store_key = m.store_key
    order by s.store_id nulls last, m.month";

/// Store months of `range` (whole months).
pub(crate) async fn load_monthly(client: &Client, range: DateRange) -> AnalyticsResult<Vec<StoreMonth>> {
    let (a, b) = range.keys();
    let rows = client.query(MONTHLY, &[&a, &b]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let (month, revenue, orders): (i32, Decimal, i64) = (r.get(2), r.get(3), r.get(4));
            StoreMonth {
                store_id: r.get(0),
                store_name: r.get(1),
                month: format!("{:04}-{:02}", month / 100, month % 100),
                revenue,
                orders,
                average_order_value: ratio(revenue, orders),
            }
        })
        .collect())
}

/// A store's busiest hour.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct PeakHour {
    pub store_id: Option<i32>,
    pub store_name: String,
    /// UTC hour of the day, 0–23; ties go to the earlier hour.
    pub peak_hour: i32,
    /// Served orders placed in that hour over the range.
    pub orders_in_peak_hour: i64,
    /// Served orders of the store over the range.
    pub orders: i64,
}

/// `GET /api/v1/stores/peak-hours`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PeakHours {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub stores: Vec<PeakHour>,
}

/// `GET /api/v1/stores/peak-hours?from=&to=`: per store, the UTC hour with the most served
/// orders (default: the last 28 days).
pub(crate) async fn peak_hours(
    State(state): State<AnalyticsState>,
    params: Params,
) -> AnalyticsResult<Json<PeakHours>> {
    params.only(&["date", "from", "to"])?;
    let range = params.range(today(), 28)?;
    let client = state.client().await?;
    let stores = load_peak_hours(&client, range).await?;
    Ok(Json(PeakHours { from: range.from, to: range.to, stores }))
}

const PEAK_HOURS: &str = "
    select s.store_id, coalesce(s.name, 'Unknown'), h.hour, h.orders, h.store_orders
    from (select distinct on (store_key) store_key, hour, orders, (sum(orders) over (partition by store_key))::int8 as store_orders
          from (select store_key, hour, sum(orders)::int8 as orders
                from rollup_orders_hourly
                where date_key between $1 and $2 and hour >= 0 and status = 'served'
                group by 1, 2
                having sum(orders) > 0) by_hour
          order by store_key, orders desc, hour) h
    left join dim_store s on s.store_key = h.store_key
    order by s.store_id nulls last";

/// Peak hours of `range`.
pub(crate) async fn load_peak_hours(client: &Client, range: DateRange) -> AnalyticsResult<Vec<PeakHour>> {
    let (a, b) = range.keys();
    let rows = client.query(PEAK_HOURS, &[&a, &b]).await?;
    Ok(rows
        .iter()
        .map(|r| PeakHour {
            store_id: r.get(0),
            store_name: r.get(1),
            peak_hour: r.get(2),
            orders_in_peak_hour: r.get(3),
            orders: r.get(4),
        })
        .collect())
}
