//! Forecasts (seed 001 `forecast/daily`, `forecast/hourly`): `GET /api/v1/forecast/daily` (served
//! revenue of the next days) and `GET /api/v1/forecast/hourly` (served orders of the next hours),
//! from the star's last four weeks through the pure [`model`]. Each response states its method and
//! carries the history it was computed from.

pub(crate) mod model;

use axum::{extract::State, Json};
use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::Client;

use super::{
    error::{AnalyticsError, AnalyticsResult},
    params::{date_key, Params},
    sales::{today, REVENUE_RULE},
    AnalyticsState,
};

/// What the method does, in words (the module docs of [`model`] have the formula).
pub(crate) const METHOD_DESCRIPTION: &str = "for each future slot (weekday for days, hour of the week for hours): the \
    mean of the same slot over the last 4 complete weeks, plus the least-squares trend of the 4 weekly totals carried \
    from the middle of those weeks to the forecast time; never below 0. Periods without sales count as 0.";

/// One forecast day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct DayValue {
    pub date: NaiveDate,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub revenue: Decimal,
}

/// `GET /api/v1/forecast/daily`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DailyForecast {
    pub method: &'static str,
    pub method_description: &'static str,
    pub forecast: Vec<DayValue>,
    /// The 28 complete days before today the forecast is computed from.
    pub history: Vec<DayValue>,
    pub revenue_rule: &'static str,
}

/// `GET /api/v1/forecast/daily?days=7`: served revenue of each of the next `days` days (from tomorrow, UTC).
pub(crate) async fn daily(State(state): State<AnalyticsState>, params: Params) -> AnalyticsResult<Json<DailyForecast>> {
    params.only(&["days"])?;
    let days = params.int("days", 7, 1, 14)? as usize;
    let client = state.client().await?;
    Ok(Json(load_daily(&client, today(), days).await?))
}

const DAILY_HISTORY: &str = "
    select date_key, sum(revenue)::numeric from rollup_orders_daily
    where date_key between $1 and $2 and status = 'served'
    group by 1";

/// The daily forecast as of `today`.
pub(crate) async fn load_daily(client: &Client, today: NaiveDate, days: usize) -> AnalyticsResult<DailyForecast> {
    let span = (model::WEEKS * 7) as i64;
    let first = today - Duration::days(span);
    let rows = client.query(DAILY_HISTORY, &[&date_key(first), &date_key(today - Duration::days(1))]).await?;
    let mut history: Vec<DayValue> =
        (0..span).map(|i| DayValue { date: first + Duration::days(i), revenue: Decimal::ZERO }).collect();
    for r in &rows {
        let key: i32 = r.get(0);
        if let Some(day) = history.iter_mut().find(|d| date_key(d.date) == key) {
            day.revenue = r.get(1);
        }
    }
    let values: Vec<Decimal> = history.iter().map(|d| d.revenue).collect();
    let predicted = model::forecast(&values, 7, span as usize + 1, days).ok_or_else(bad_shape)?;
    let forecast = predicted
        .into_iter()
        .enumerate()
        .map(|(i, v)| DayValue { date: today + Duration::days(i as i64 + 1), revenue: v.round_dp(2) })
        .collect();
    Ok(DailyForecast {
        method: model::METHOD,
        method_description: METHOD_DESCRIPTION,
        forecast,
        history,
        revenue_rule: REVENUE_RULE,
    })
}

fn bad_shape() -> AnalyticsError {
    AnalyticsError::Internal("the forecast history has the wrong length".into())
}

/// One forecast hour.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct HourValue {
    pub hour_start: DateTime<Utc>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub orders: Decimal,
}

/// `GET /api/v1/forecast/hourly`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HourlyForecast {
    pub method: &'static str,
    pub method_description: &'static str,
    pub forecast: Vec<HourValue>,
    /// Start of the first of the 672 complete hours (4 weeks) the forecast is computed from.
    pub history_from: DateTime<Utc>,
    /// Served orders of each of those hours, oldest first.
    pub history: Vec<i64>,
    pub counts: &'static str,
}

/// `GET /api/v1/forecast/hourly?hours=24`: served orders of each of the next `hours` hours (from the next full hour).
pub(crate) async fn hourly(
    State(state): State<AnalyticsState>,
    params: Params,
) -> AnalyticsResult<Json<HourlyForecast>> {
    params.only(&["hours"])?;
    let hours = params.int("hours", 24, 1, 48)? as usize;
    let client = state.client().await?;
    Ok(Json(load_hourly(&client, Utc::now(), hours).await?))
}

/// Served orders per UTC hour from `$1` (the hour's index from there), of the days `$2` to `$3`;
/// the caller keeps the hours of its window.
const HOURLY_HISTORY: &str = "
    select floor(extract(epoch from make_timestamptz(date_key / 10000, date_key / 100 % 100, date_key % 100, hour, 0, 0,
                                                     'UTC') - $1) / 3600)::int4,
           sum(orders)::int8
    from rollup_orders_hourly
    where date_key between $2 and $3 and hour >= 0 and status = 'served'
    group by 1";

/// The hourly forecast as of `now`.
pub(crate) async fn load_hourly(client: &Client, now: DateTime<Utc>, hours: usize) -> AnalyticsResult<HourlyForecast> {
    let span = model::WEEKS * 168;
    let current = now.duration_trunc(Duration::hours(1)).map_err(|e| AnalyticsError::Internal(Box::new(e)))?;
    let first = current - Duration::hours(span as i64);
    let days = (date_key(first.date_naive()), date_key(current.date_naive()));
    let rows = client.query(HOURLY_HISTORY, &[&first, &days.0, &days.1]).await?;
    let mut history = vec![0i64; span];
    for r in &rows {
        if let Some(slot) = usize::try_from(r.get::<_, i32>(0)).ok().and_then(|i| history.get_mut(i)) {
            *slot = r.get(1);
        }
    }
    let values: Vec<Decimal> = history.iter().map(|&n| Decimal::from(n)).collect();
    let predicted = model::forecast(&values, 168, span + 1, hours).ok_or_else(bad_shape)?;
    let forecast = predicted
        .into_iter()
        .enumerate()
        .map(|(i, v)| HourValue { hour_start: current + Duration::hours(i as i64 + 1), orders: v.round_dp(1) })
        .collect();
    Ok(HourlyForecast {
        method: model::METHOD,
        method_description: METHOD_DESCRIPTION,
        forecast,
        history_from: first,
        history,
        counts: "served orders placed in each UTC hour",
    })
}
