//! The endpoints as the benchmark measures them (`brewlytics bench analytics`): each case is a
//! request path and the same queries run directly on a connection, the same-run baseline.

use std::{future::Future, pin::Pin};

use chrono::{Duration, NaiveDate, Utc};
use tokio_postgres::Client;

use super::{customers, forecast, funnel, health, live, params::DateRange, sales, satisfaction, stores};

/// The direct queries of one case failed.
#[derive(Debug, thiserror::Error)]
#[error("the queries of {case} failed")]
pub struct CaseError {
    case: &'static str,
    #[source]
    source: super::error::AnalyticsError,
}

/// The direct queries of a case: `(client, today)`.
type Queries = for<'a> fn(&'a Client, NaiveDate) -> Pin<Box<dyn Future<Output = Result<(), CaseError>> + Send + 'a>>;

/// One endpoint to measure.
pub struct Case {
    pub name: &'static str,
    /// Path and query, relative to the service.
    pub path: String,
    queries: Queries,
}

impl Case {
    /// Run the endpoint's queries directly on `client`.
    pub async fn run_queries(&self, client: &Client, today: NaiveDate) -> Result<(), CaseError> {
        (self.queries)(client, today).await
    }
}

macro_rules! case {
    ($name:literal, $path:expr, |$c:ident, $t:ident| $body:expr) => {
        Case {
            name: $name,
            path: $path,
            queries: |$c, $t| {
                Box::pin(async move { $body.await.map(drop).map_err(|source| CaseError { case: $name, source }) })
            },
        }
    };
}

fn last(today: NaiveDate, days: i64) -> DateRange {
    DateRange { from: today - Duration::days(days - 1), to: today }
}

/// Every data endpoint with representative parameters (ranges ending `today`).
pub fn cases(today: NaiveDate) -> Vec<Case> {
    vec![
        case!("sales/summary (one day)", format!("/api/v1/sales/summary?date={today}"), |c, t| sales::load_summary(
            c,
            last(t, 1)
        )),
        case!(
            "sales/summary (30 days)",
            format!("/api/v1/sales/summary?from={}", today - Duration::days(29)),
            |c, t| { sales::load_summary(c, last(t, 30)) }
        ),
        case!("sales/top-items (30 days)", "/api/v1/sales/top-items".into(), |c, t| sales::load_top_items(
            c,
            last(t, 30),
            false,
            10
        )),
        case!("sales/hourly", "/api/v1/sales/hourly".into(), |c, t| sales::load_hourly(c, t)),
        case!("stores/monthly (12 months)", "/api/v1/stores/monthly".into(), |c, t| {
            use chrono::{Datelike, Months};
            let first = t.with_day(1).expect("day 1") - Months::new(11);
            stores::load_monthly(c, DateRange { from: first, to: t })
        }),
        case!("stores/peak-hours (28 days)", "/api/v1/stores/peak-hours".into(), |c, t| stores::load_peak_hours(
            c,
            last(t, 28)
        )),
        case!("forecast/daily", "/api/v1/forecast/daily".into(), |c, t| forecast::load_daily(c, t, 7)),
        case!("forecast/hourly", "/api/v1/forecast/hourly".into(), |c, _t| forecast::load_hourly(c, Utc::now(), 24)),
        case!("customers/segments", "/api/v1/customers/segments".into(), |c, t| customers::load_segments(
            c, t, None, 20
        )),
        case!("satisfaction (30 days)", "/api/v1/satisfaction".into(), |c, t| satisfaction::load_satisfaction(
            c,
            last(t, 30)
        )),
        case!("funnel (7 days)", "/api/v1/funnel".into(), |c, t| funnel::load_funnel(c, last(t, 7), None)),
        case!("products/interest (7 days)", "/api/v1/products/interest".into(), |c, t| funnel::load_interest(
            c,
            last(t, 7),
            None,
            20
        )),
        case!("health/pipeline", "/api/v1/health/pipeline".into(), |c, _t| health::load_warehouse(c)),
        case!("live", "/api/v1/live".into(), |c, t| live::load_snapshot(c, t)),
    ]
}
