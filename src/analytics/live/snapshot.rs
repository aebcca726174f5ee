//! What the live page shows, read from the star in one round of pipelined queries.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::Client;

use crate::analytics::{
    error::AnalyticsResult,
    funnel::{load_funnel, Stages},
    params::{date_key, DateRange},
    sales::{load_hourly, load_top_items, TopItem, REVENUE_RULE},
};

/// Orders shown in the "last orders" table.
pub(crate) const LAST_ORDERS: i64 = 8;
/// Products in the top list.
pub(crate) const TOP_PRODUCTS: i64 = 5;

/// One recently loaded order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct LastOrder {
    pub order_id: i32,
    pub order_time: Option<DateTime<Utc>>,
    pub store: String,
    pub status: String,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub total: Decimal,
    /// Its last change's `loaded_at − changed_at` (none for a row a snapshot job loaded).
    pub freshness_ms: Option<f64>,
}

/// `GET /api/v1/live` and the page's content.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Live {
    pub generated_at: DateTime<Utc>,
    pub today: NaiveDate,
    /// `cdc_offset.applied_changes`: the page is re-rendered when it moves.
    pub applied_changes: i64,
    /// Orders of any status placed in the last 60 s.
    pub orders_last_minute: i64,
    pub served_orders_today: i64,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub revenue_today: Decimal,
    /// Order lines loaded in the last 60 s, and their `loaded_at − changed_at` percentiles.
    pub freshness_rows: i64,
    pub freshness_p50_ms: Option<f64>,
    pub freshness_p99_ms: Option<f64>,
    /// The daemon's `cdc_backlog_rows`; none when its metrics do not answer.
    pub backlog: Option<f64>,
    pub top_products: Vec<TopItem>,
    /// Served orders today per UTC hour, 0–23.
    pub orders_by_hour: Vec<i64>,
    pub last_orders: Vec<LastOrder>,
    pub ratings_today: i64,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub average_rating_30d: Option<Decimal>,
    /// Today's app sessions: how many reached each milestone of the funnel.
    pub funnel_today: Stages,
    pub revenue_rule: &'static str,
}

const SCALARS: &str = "
    select coalesce((select applied_changes from cdc_offset where source = 'cdc_orders'), 0),
           (select count(*)::int8 from fact_orders where order_time > now() - interval '1 minute' and not is_deleted),
           (select coalesce(sum(orders), 0)::int8 from rollup_orders_daily where date_key = $1 and status = 'served'),
           (select coalesce(sum(revenue), 0)::numeric from rollup_orders_daily where date_key = $1 and status = 'served'),
           f.n, f.p50, f.p99,
           (select coalesce(sum(ratings), 0)::int8 from rollup_ratings where date_key = $1),
           (select round(sum(rating * ratings)::numeric / nullif(sum(ratings), 0), 2) from rollup_ratings
            where date_key between $2 and $1),
           now()
    from freshness_since(now() - interval '1 minute') f (n, p50, p95, p99)";

const LAST: &str = "
    select o.order_id, o.order_time, coalesce(s.name, 'Unknown'), o.status, o.total,
           case when o.changed_at > '-infinity' then (extract(epoch from o.loaded_at - o.changed_at) * 1000)::float8 end
    from fact_orders o left join dim_store s on s.store_key = o.store_key
    where not o.is_deleted order by o.order_id desc limit $1";

/// Read the snapshot; `backlog` comes from the daemon's metrics.
pub(crate) async fn load(client: &Client, today: NaiveDate, backlog: Option<f64>) -> AnalyticsResult<Live> {
    let (key, month_ago) = (date_key(today), date_key(today - Duration::days(29)));
    let range = DateRange { from: today, to: today };
    let (s, top, hours, last, funnel) = tokio::try_join!(
        async {
            client.query_one(SCALARS, &[&key, &month_ago]).await.map_err(crate::analytics::error::AnalyticsError::from)
        },
        load_top_items(client, range, false, TOP_PRODUCTS),
        load_hourly(client, today),
        async { client.query(LAST, &[&LAST_ORDERS]).await.map_err(crate::analytics::error::AnalyticsError::from) },
        load_funnel(client, range, None),
    )?;
    let last_orders = last
        .iter()
        .map(|r| LastOrder {
            order_id: r.get(0),
            order_time: r.get(1),
            store: r.get(2),
            status: r.get(3),
            total: r.get(4),
            freshness_ms: r.get(5),
        })
        .collect();
    Ok(Live {
        generated_at: s.get(9),
        today,
        applied_changes: s.get(0),
        orders_last_minute: s.get(1),
        served_orders_today: s.get(2),
        revenue_today: s.get(3),
        freshness_rows: s.get(4),
        freshness_p50_ms: s.get(5),
        freshness_p99_ms: s.get(6),
        backlog,
        top_products: top,
        orders_by_hour: hours.iter().map(|h| h.orders).collect(),
        last_orders,
        ratings_today: s.get(7),
        average_rating_30d: s.get(8),
        funnel_today: funnel.stages,
        revenue_rule: REVENUE_RULE,
    })
}

/// The cheap query the event stream polls: has anything been applied since?
pub(crate) async fn applied_changes(client: &Client) -> AnalyticsResult<i64> {
    let row = client.query_one("select coalesce(max(applied_changes), 0) from cdc_offset", &[]).await?;
    Ok(row.get(0))
}
