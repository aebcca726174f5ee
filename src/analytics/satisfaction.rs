//! `GET /api/v1/satisfaction`: customer ratings (seed 003 `satisfaction_summary`) from
//! `fact_feedback`, by the UTC day the rating was given: count, average, distribution, share of
//! satisfied customers (4 or 5), and the same per store.

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

/// Ratings of one scope (all stores, or one).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Ratings {
    pub ratings: i64,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub average_rating: Option<Decimal>,
    /// Share of ratings that are 4 or 5, in percent.
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub satisfied_pct: Option<Decimal>,
    /// Ratings of 1, 2, 3, 4 and 5.
    pub distribution: [i64; 5],
    pub with_comment: i64,
}

/// One store's ratings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct StoreRatings {
    pub store_id: Option<i32>,
    pub store_name: String,
    #[serde(flatten)]
    pub ratings: Ratings,
}

/// `GET /api/v1/satisfaction`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Satisfaction {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(flatten)]
    pub total: Ratings,
    pub stores: Vec<StoreRatings>,
}

/// `GET /api/v1/satisfaction?date=|from=&to=` (default: the last 30 days).
pub(crate) async fn satisfaction(
    State(state): State<AnalyticsState>,
    params: Params,
) -> AnalyticsResult<Json<Satisfaction>> {
    params.only(&["date", "from", "to"])?;
    let range = params.range(today(), 30)?;
    let client = state.client().await?;
    Ok(Json(load_satisfaction(&client, range).await?))
}

const RATINGS: &str = "
    select s.store_id, coalesce(s.name, 'Unknown'), grouping(f.store_key) = 1 as total,
           coalesce(sum(f.ratings), 0)::int8,
           round(sum(f.rating * f.ratings)::numeric / nullif(sum(f.ratings), 0), 2),
           round(100.0 * coalesce(sum(f.ratings) filter (where f.rating >= 4), 0) / nullif(sum(f.ratings), 0), 1),
           coalesce(sum(f.ratings) filter (where f.rating = 1), 0)::int8,
           coalesce(sum(f.ratings) filter (where f.rating = 2), 0)::int8,
           coalesce(sum(f.ratings) filter (where f.rating = 3), 0)::int8,
           coalesce(sum(f.ratings) filter (where f.rating = 4), 0)::int8,
           coalesce(sum(f.ratings) filter (where f.rating = 5), 0)::int8, coalesce(sum(f.comments), 0)::int8
    from rollup_ratings f
    left join dim_store s on s.store_key = f.store_key
    where f.date_key between $1 and $2
    group by grouping sets ((f.store_key, s.store_id, s.name), ())
    having sum(f.ratings) > 0 or grouping(f.store_key) = 1
    order by total desc, s.store_id nulls last";

/// Ratings given in `range`.
pub(crate) async fn load_satisfaction(client: &Client, range: DateRange) -> AnalyticsResult<Satisfaction> {
    let (a, b) = range.keys();
    let rows = client.query(RATINGS, &[&a, &b]).await?;
    let ratings = |r: &tokio_postgres::Row| Ratings {
        ratings: r.get(3),
        average_rating: r.get(4),
        satisfied_pct: r.get(5),
        distribution: [r.get(6), r.get(7), r.get(8), r.get(9), r.get(10)],
        with_comment: r.get(11),
    };
    let total = rows.iter().find(|r| r.get::<_, bool>(2)).map(ratings).unwrap_or(Ratings {
        ratings: 0,
        average_rating: None,
        satisfied_pct: None,
        distribution: [0; 5],
        with_comment: 0,
    });
    let stores = rows
        .iter()
        .filter(|r| !r.get::<_, bool>(2))
        .map(|r| StoreRatings { store_id: r.get(0), store_name: r.get(1), ratings: ratings(r) })
        .collect();
    Ok(Satisfaction { from: range.from, to: range.to, total, stores })
}
