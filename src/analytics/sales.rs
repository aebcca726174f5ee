//! Sales over the star: `GET /api/v1/sales/summary`, `/api/v1/sales/top-items` and
//! `/api/v1/sales/hourly` (seeds 000 and 001).
//!
//! Revenue is [`REVENUE_RULE`]: served orders only, the sum of their order totals
//! (`fact_orders.total`); an item's revenue is its served lines' `line_total`. Days and hours are UTC.
//! Every figure is read from the rollups (`rollup_orders_daily`, `rollup_orders_hourly`,
//! `rollup_sales`), which the daemon keeps exact with the facts.

use axum::{extract::State, Json};
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::Client;

use super::{
    error::AnalyticsResult,
    params::{DateRange, Params},
    AnalyticsState,
};

/// How every revenue figure is counted; each response carries it.
pub(crate) const REVENUE_RULE: &str =
    "served orders only: the sum of their order totals (fact_orders.total); placed, cancelled and refunded orders are not revenue";
/// How an item's revenue is counted.
pub(crate) const ITEM_REVENUE_RULE: &str =
    "line totals (quantity x unit price) of the item's lines in served orders; they add up to the served order totals";

/// The UTC day now.
pub(crate) fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// Served revenue and orders of a range.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub revenue: Decimal,
    pub orders: i64,
    pub items: i64,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub average_order_value: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub items_per_order: Option<Decimal>,
}

/// Orders of the range by status (served ones are [`Period::orders`]).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct StatusCounts {
    pub placed: i64,
    pub served: i64,
    pub cancelled: i64,
    pub refunded: i64,
}

/// The change against the same days one week earlier, in percent (none when the earlier figure is 0).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Change {
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub revenue_pct: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub orders_pct: Option<Decimal>,
}

/// `GET /api/v1/sales/summary`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    #[serde(flatten)]
    pub current: Period,
    pub orders_by_status: StatusCounts,
    pub previous_week: Period,
    pub week_over_week: Change,
    pub revenue_rule: &'static str,
}

/// `GET /api/v1/sales/summary?date=|from=&to=`: the range's served revenue, orders, average order
/// value and items per order, against the same days a week earlier. Default: today (UTC).
pub(crate) async fn summary(State(state): State<AnalyticsState>, params: Params) -> AnalyticsResult<Json<Summary>> {
    params.only(&["date", "from", "to"])?;
    let range = params.range(today(), 1)?;
    let client = state.client().await?;
    Ok(Json(load_summary(&client, range).await?))
}

const SUMMARY_ORDERS: &str = "
    select status, coalesce(sum(orders) filter (where date_key between $1 and $2), 0)::int8,
           coalesce(sum(revenue) filter (where date_key between $1 and $2), 0)::numeric,
           coalesce(sum(orders) filter (where date_key between $3 and $4), 0)::int8,
           coalesce(sum(revenue) filter (where date_key between $3 and $4), 0)::numeric
    from rollup_orders_daily
    where date_key between $3 and $2
    group by status";
const SUMMARY_ITEMS: &str = "
    select coalesce(sum(quantity) filter (where date_key between $1 and $2), 0)::int8,
           coalesce(sum(quantity) filter (where date_key between $3 and $4), 0)::int8
    from rollup_sales
    where date_key between $3 and $2 and order_status = 'served'";

/// The summary of `range` (queries only).
pub(crate) async fn load_summary(client: &Client, range: DateRange) -> AnalyticsResult<Summary> {
    let prev = range.shifted(7);
    let ((a, b), (c, d)) = (range.keys(), prev.keys());
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&a, &b, &c, &d];
    let (orders, items) =
        tokio::try_join!(client.query(SUMMARY_ORDERS, &params), client.query_one(SUMMARY_ITEMS, &params))?;
    let mut status = StatusCounts::default();
    let (mut cur, mut old) = (period(range), period(prev));
    for row in &orders {
        let (name, n): (String, i64) = (row.get(0), row.get(1));
        if name == "served" {
            (cur.orders, cur.revenue, old.orders, old.revenue) = (n, row.get(2), row.get(3), row.get(4));
        }
        match name.as_str() {
            "placed" => status.placed = n,
            "served" => status.served = n,
            "cancelled" => status.cancelled = n,
            _ => status.refunded = n,
        }
    }
    (cur.items, old.items) = (items.get(0), items.get(1));
    for p in [&mut cur, &mut old] {
        p.average_order_value = ratio(p.revenue, p.orders);
        p.items_per_order = ratio(Decimal::from(p.items), p.orders);
    }
    let week_over_week =
        Change { revenue_pct: pct(cur.revenue, old.revenue), orders_pct: pct(cur.orders.into(), old.orders.into()) };
    Ok(Summary {
        current: cur,
        orders_by_status: status,
        previous_week: old,
        week_over_week,
        revenue_rule: REVENUE_RULE,
    })
}

fn period(r: DateRange) -> Period {
    Period {
        from: r.from,
        to: r.to,
        revenue: Decimal::ZERO,
        orders: 0,
        items: 0,
        average_order_value: None,
        items_per_order: None,
    }
}

/// `a / n` to 2 decimals, none when `n` is 0.
pub(crate) fn ratio(a: Decimal, n: i64) -> Option<Decimal> {
    (n != 0).then(|| (a / Decimal::from(n)).round_dp(2))
}

/// Percent change from `old` to `new`, 1 decimal; none when `old` is 0.
pub(crate) fn pct(new: Decimal, old: Decimal) -> Option<Decimal> {
    (!old.is_zero()).then(|| ((new - old) * Decimal::ONE_HUNDRED / old).round_dp(1))
}

/// One product of the top list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct TopItem {
    pub product_id: i32,
    pub name: String,
    pub category: String,
    pub quantity: i64,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub revenue: Decimal,
    /// Served orders with the product (one line per product and order).
    pub orders: i64,
}

/// `GET /api/v1/sales/top-items`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TopItems {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: &'static str,
    pub items: Vec<TopItem>,
    pub revenue_rule: &'static str,
}

/// `GET /api/v1/sales/top-items?from=&to=&by=quantity|revenue&limit=10`: the best-selling products
/// of served orders (names of the current product version). Default: the last 30 days.
pub(crate) async fn top_items(State(state): State<AnalyticsState>, params: Params) -> AnalyticsResult<Json<TopItems>> {
    params.only(&["date", "from", "to", "by", "limit"])?;
    let range = params.range(today(), 30)?;
    let by = params.choice("by", &["quantity", "revenue"])?;
    let limit = params.int("limit", 10, 1, 100)?;
    let client = state.client().await?;
    let items = load_top_items(&client, range, by == "revenue", limit).await?;
    Ok(Json(TopItems { from: range.from, to: range.to, by, items, revenue_rule: ITEM_REVENUE_RULE }))
}

/// Lines of one product are merged per order by the order API, so an item's lines count its orders.
const TOP_ITEMS: &str = "
    select t.product_id, coalesce(p.name, 'Product #' || t.product_id), coalesce(p.category, 'unknown'),
           t.quantity, t.revenue, t.orders
    from (select product_id, sum(quantity)::int8 as quantity, sum(revenue)::numeric as revenue, sum(lines)::int8 as orders
          from rollup_sales
          where date_key between $1 and $2 and order_status = 'served'
          group by product_id
          having sum(lines) > 0) t
    left join dim_product p on p.product_id = t.product_id and p.is_current
    order by case when $3 then t.revenue else t.quantity end desc, t.product_id
    limit $4";

/// The top `limit` products of `range`, by revenue or quantity.
pub(crate) async fn load_top_items(
    client: &Client,
    range: DateRange,
    by_revenue: bool,
    limit: i64,
) -> AnalyticsResult<Vec<TopItem>> {
    let (a, b) = range.keys();
    let rows = client.query(TOP_ITEMS, &[&a, &b, &by_revenue, &limit]).await?;
    Ok(rows
        .iter()
        .map(|r| TopItem {
            product_id: r.get(0),
            name: r.get(1),
            category: r.get(2),
            quantity: r.get(3),
            revenue: r.get(4),
            orders: r.get(5),
        })
        .collect())
}

/// One hour of a day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Hour {
    pub hour: i32,
    /// Served orders placed in this hour.
    pub orders: i64,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub revenue: Decimal,
    /// Orders of any status placed in this hour.
    pub all_orders: i64,
}

/// `GET /api/v1/sales/hourly`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Hourly {
    pub date: NaiveDate,
    pub hours: Vec<Hour>,
    pub revenue_rule: &'static str,
}

/// `GET /api/v1/sales/hourly?date=`: the 24 UTC hours of a day (default today).
pub(crate) async fn hourly(State(state): State<AnalyticsState>, params: Params) -> AnalyticsResult<Json<Hourly>> {
    params.only(&["date"])?;
    let date = params.date("date")?.unwrap_or_else(today);
    let client = state.client().await?;
    Ok(Json(Hourly { date, hours: load_hourly(&client, date).await?, revenue_rule: REVENUE_RULE }))
}

const HOURLY: &str = "
    select hour, coalesce(sum(orders) filter (where status = 'served'), 0)::int8,
           coalesce(sum(revenue) filter (where status = 'served'), 0)::numeric, sum(orders)::int8
    from rollup_orders_hourly
    where date_key = $1 and hour >= 0
    group by 1";

/// The dense 24 hours of `date`.
pub(crate) async fn load_hourly(client: &Client, date: NaiveDate) -> AnalyticsResult<Vec<Hour>> {
    let rows = client.query(HOURLY, &[&super::params::date_key(date)]).await?;
    let mut hours: Vec<Hour> =
        (0..24).map(|hour| Hour { hour, orders: 0, revenue: Decimal::ZERO, all_orders: 0 }).collect();
    for r in &rows {
        let h: i32 = r.get(0);
        if let Some(slot) = hours.get_mut(h as usize) {
            (slot.orders, slot.revenue, slot.all_orders) = (r.get(1), r.get(2), r.get(3));
        }
    }
    Ok(hours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_changes_round_and_never_divide_by_zero() {
        assert_eq!(ratio(Decimal::new(1000, 2), 3), Some(Decimal::new(333, 2)));
        assert_eq!(ratio(Decimal::TEN, 0), None);
        assert_eq!(pct(Decimal::from(150), Decimal::from(100)), Some(Decimal::new(500, 1)));
        assert_eq!(pct(Decimal::from(50), Decimal::from(200)), Some(Decimal::new(-750, 1)));
        assert_eq!(pct(Decimal::from(5), Decimal::ZERO), None);
    }
}
