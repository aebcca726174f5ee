//! Every endpoint on a warehouse the real pipeline filled, each figure against OLTP.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio_postgres::Client;

use super::{dec, TestAnalytics};
use crate::{readers::fill::filled_warehouse, support::scalar};

/// Served orders of a UTC day range in OLTP: (count, sum of totals, items).
async fn served(oltp: &Client, from: NaiveDate, to: NaiveDate) -> (i64, Decimal, i64) {
    let row = oltp
        .query_one(
            "select count(*)::int8, coalesce(sum(total), 0)::numeric,
                    coalesce((select sum(i.quantity) from order_items i join orders o2 on o2.id = i.order_id
                              where o2.status = 'served' and (o2.order_time at time zone 'UTC')::date between $1 and $2), 0)::int8
             from orders where status = 'served' and (order_time at time zone 'UTC')::date between $1 and $2",
            &[&from, &to],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_agrees_with_oltp_on_a_warehouse_filled_by_the_pipeline() {
    let t = filled_warehouse().await;
    let oltp = t.oltp().await;
    let svc = TestAnalytics::start(&t.config).await;
    let today = Utc::now().date_naive();
    summary(&svc, &oltp, today).await;
    top_items(&svc, &oltp, today).await;
    hourly(&svc, &oltp, today).await;
    stores(&svc, &oltp, today).await;
    forecasts(&svc, &oltp, today).await;
    segments(&svc, &oltp).await;
    satisfaction(&svc, &oltp, today).await;
    health_and_live(&svc, &t).await;
    // Ratings carry their order's keys, also for the orders whose date moved after they were rated.
    let olap = t.olap().await;
    let unbound: i64 = scalar(
        &olap,
        "select count(*) from fact_feedback f join fact_orders o using (order_id)
         where (f.order_date_key, f.store_key, f.customer_key, f.employee_key)
               is distinct from (o.date_key, o.store_key, o.customer_key, o.employee_key)",
    )
    .await;
    assert_eq!(unbound, 0);
}

async fn summary(svc: &TestAnalytics, oltp: &Client, today: NaiveDate) {
    for (from, to) in
        [(today, today), (today - Duration::days(34), today), (today - Duration::days(9), today - Duration::days(3))]
    {
        let s = svc.ok(&format!("/api/v1/sales/summary?from={from}&to={to}")).await;
        let (orders, revenue, items) = served(oltp, from, to).await;
        assert_eq!(
            (s["orders"].as_i64(), dec(&s["revenue"]), s["items"].as_i64()),
            (Some(orders), revenue, Some(items)),
            "{s}"
        );
        if orders > 0 {
            assert_eq!(dec(&s["average_order_value"]), (revenue / Decimal::from(orders)).round_dp(2));
            assert_eq!(dec(&s["items_per_order"]), (Decimal::from(items) / Decimal::from(orders)).round_dp(2));
        }
        let (prev_orders, prev_revenue, _) = served(oltp, from - Duration::days(7), to - Duration::days(7)).await;
        let p = &s["previous_week"];
        assert_eq!((p["orders"].as_i64(), dec(&p["revenue"])), (Some(prev_orders), prev_revenue), "{s}");
        if !prev_revenue.is_zero() {
            let pct = ((revenue - prev_revenue) * Decimal::ONE_HUNDRED / prev_revenue).round_dp(1);
            assert_eq!(dec(&s["week_over_week"]["revenue_pct"]), pct);
        }
        let cancelled: i64 = oltp
            .query_one(
                "select count(*)::int8 from orders where status = 'cancelled'
                 and (order_time at time zone 'UTC')::date between $1 and $2",
                &[&from, &to],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(s["orders_by_status"]["cancelled"].as_i64(), Some(cancelled));
        assert!(s["revenue_rule"].as_str().unwrap().contains("served orders only"));
    }
    let (orders, _, _) = served(oltp, today - Duration::days(34), today).await;
    assert!(orders >= 50, "the checks above compared real figures");
}

async fn top_items(svc: &TestAnalytics, oltp: &Client, today: NaiveDate) {
    let from = today - Duration::days(34);
    let rows = oltp
        .query(
            "select i.product_id, sum(i.quantity)::int8, sum(i.quantity * i.price)::numeric
             from order_items i join orders o on o.id = i.order_id
             where o.status = 'served' and (o.order_time at time zone 'UTC')::date between $1 and $2
             group by 1",
            &[&from, &today],
        )
        .await
        .unwrap();
    let truth: BTreeMap<i32, (i64, Decimal)> = rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect();
    for by in ["quantity", "revenue"] {
        let body = svc.ok(&format!("/api/v1/sales/top-items?from={from}&by={by}&limit=100")).await;
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), truth.len(), "{body}");
        for item in items {
            let id = item["product_id"].as_i64().unwrap() as i32;
            assert_eq!((item["quantity"].as_i64().unwrap(), dec(&item["revenue"])), truth[&id], "product {id}");
        }
        let key = |i: &Value| {
            if by == "quantity" {
                Decimal::from(i["quantity"].as_i64().unwrap())
            } else {
                dec(&i["revenue"])
            }
        };
        assert!(items.windows(2).all(|w| key(&w[0]) >= key(&w[1])), "sorted by {by}");
    }
    let top3 = svc.ok("/api/v1/sales/top-items?limit=3").await;
    assert_eq!(top3["items"].as_array().unwrap().len(), 3.min(truth.len()));
}

async fn hourly(svc: &TestAnalytics, oltp: &Client, today: NaiveDate) {
    let body = svc.ok(&format!("/api/v1/sales/hourly?date={today}")).await;
    let hours = body["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    let rows = oltp
        .query(
            "select extract(hour from order_time at time zone 'UTC')::int4, count(*) filter (where status = 'served')::int8,
                    coalesce(sum(total) filter (where status = 'served'), 0)::numeric, count(*)::int8
             from orders where (order_time at time zone 'UTC')::date = $1 group by 1",
            &[&today],
        )
        .await
        .unwrap();
    for h in hours {
        let hour = h["hour"].as_i64().unwrap() as i32;
        let want = rows.iter().find(|r| r.get::<_, i32>(0) == hour);
        let (orders, revenue, all) = want.map_or((0, Decimal::ZERO, 0), |r| (r.get(1), r.get(2), r.get(3)));
        assert_eq!(
            (h["orders"].as_i64(), dec(&h["revenue"]), h["all_orders"].as_i64()),
            (Some(orders), revenue, Some(all)),
            "hour {hour}"
        );
    }
}

async fn stores(svc: &TestAnalytics, oltp: &Client, today: NaiveDate) {
    let body = svc.ok("/api/v1/stores/monthly").await;
    let rows = oltp
        .query(
            "select o.store_id, to_char(o.order_time at time zone 'UTC', 'YYYY-MM'), sum(o.total)::numeric, count(*)::int8
             from orders o where o.status = 'served' group by 1, 2 order by 1, 2",
            &[],
        )
        .await
        .unwrap();
    let months = body["months"].as_array().unwrap();
    assert_eq!(months.len(), rows.len(), "{body}");
    for (m, r) in months.iter().zip(&rows) {
        let want = (Some(r.get::<_, i32>(0) as i64), r.get::<_, String>(1), r.get::<_, Decimal>(2), r.get::<_, i64>(3));
        assert_eq!(
            (
                m["store_id"].as_i64(),
                m["month"].as_str().unwrap().to_string(),
                dec(&m["revenue"]),
                m["orders"].as_i64().unwrap()
            ),
            want
        );
    }
    let from = today - Duration::days(34);
    let body = svc.ok(&format!("/api/v1/stores/peak-hours?from={from}")).await;
    let rows = oltp
        .query(
            "select distinct on (store_id) store_id, h, n from (
                 select store_id, extract(hour from order_time at time zone 'UTC')::int4 as h, count(*)::int8 as n
                 from orders where status = 'served' and (order_time at time zone 'UTC')::date between $1 and $2
                 group by 1, 2) x
             order by store_id, n desc, h",
            &[&from, &today],
        )
        .await
        .unwrap();
    let stores = body["stores"].as_array().unwrap();
    assert_eq!(stores.len(), rows.len(), "{body}");
    for (s, r) in stores.iter().zip(&rows) {
        let want = (Some(r.get::<_, i32>(0) as i64), Some(r.get::<_, i32>(1) as i64), Some(r.get::<_, i64>(2)));
        assert_eq!((s["store_id"].as_i64(), s["peak_hour"].as_i64(), s["orders_in_peak_hour"].as_i64()), want);
    }
}

async fn forecasts(svc: &TestAnalytics, oltp: &Client, today: NaiveDate) {
    let body = svc.ok("/api/v1/forecast/daily").await;
    assert_eq!(body["method"], "seasonal_mean_with_linear_trend");
    assert!(body["method_description"].as_str().unwrap().contains("last 4 complete weeks"));
    let history = body["history"].as_array().unwrap();
    assert_eq!(history.len(), 28);
    for day in history {
        let date: NaiveDate = day["date"].as_str().unwrap().parse().unwrap();
        assert!(date < today && date >= today - Duration::days(28));
        assert_eq!(dec(&day["revenue"]), served(oltp, date, date).await.1, "history of {date}");
    }
    let forecast = body["forecast"].as_array().unwrap();
    let dates: Vec<&str> = forecast.iter().map(|d| d["date"].as_str().unwrap()).collect();
    let want: Vec<String> = (1..=7).map(|i| (today + Duration::days(i)).to_string()).collect();
    assert_eq!(dates, want);
    assert!(forecast.iter().all(|d| dec(&d["revenue"]) >= Decimal::ZERO));
    assert!(forecast.iter().any(|d| dec(&d["revenue"]) > Decimal::ZERO), "a month of history forecasts sales: {body}");

    let body = svc.ok("/api/v1/forecast/hourly?hours=24").await;
    assert_eq!(body["forecast"].as_array().unwrap().len(), 24);
    let from: chrono::DateTime<Utc> = body["history_from"].as_str().unwrap().parse().unwrap();
    let history: i64 = body["history"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).sum();
    let truth: i64 = oltp
        .query_one(
            "select count(*)::int8 from orders where status = 'served' and order_time >= $1 and order_time < $1 + interval '672 hours'",
            &[&from],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(history, truth);
}

async fn segments(svc: &TestAnalytics, oltp: &Client) {
    let body = svc.ok("/api/v1/customers/segments?limit=1000").await;
    let (customers, revenue): (i64, Decimal) = {
        let r = oltp
            .query_one("select count(distinct customer_id)::int8, coalesce(sum(total), 0)::numeric from orders where status = 'served'", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(body["customers_scored"].as_i64(), Some(customers));
    let segments = body["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 7);
    assert_eq!(segments.iter().map(|s| dec(&s["revenue"])).sum::<Decimal>(), revenue);
    assert_eq!(body["top_customers"].as_array().unwrap().len() as i64, customers.min(1000));
    let champions = svc.ok("/api/v1/customers/segments?segment=champions&limit=5").await;
    assert!(champions["top_customers"].as_array().unwrap().iter().all(|c| c["segment"] == "champions"));
}

async fn satisfaction(svc: &TestAnalytics, oltp: &Client, today: NaiveDate) {
    let body = svc.ok(&format!("/api/v1/satisfaction?date={today}")).await;
    let r = oltp
        .query_one(
            "select count(*)::int8, round(avg(rating), 2), count(*) filter (where rating = 5)::int8, count(comment)::int8
             from feedback where (created_at at time zone 'UTC')::date = $1",
            &[&today],
        )
        .await
        .unwrap();
    let (n, avg, fives, comments): (i64, Option<Decimal>, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
    assert!(n >= 10, "the generator left ratings");
    assert_eq!(body["ratings"].as_i64(), Some(n), "{body}");
    assert_eq!(Some(dec(&body["average_rating"])), avg);
    assert_eq!((body["distribution"][4].as_i64(), body["with_comment"].as_i64()), (Some(fives), Some(comments)));
    let per_store: i64 = body["stores"].as_array().unwrap().iter().map(|s| s["ratings"].as_i64().unwrap()).sum();
    assert_eq!(per_store, n);
}

async fn health_and_live(svc: &TestAnalytics, t: &crate::support::TestDb) {
    let olap = t.olap().await;
    let oltp = t.oltp().await;
    let body = svc.ok("/api/v1/health/pipeline").await;
    let applied: i64 = scalar(&olap, "select applied_changes from cdc_offset").await;
    assert_eq!(body["last_applied_change"]["applied_changes"].as_i64(), Some(applied));
    assert_eq!((body["backlog"].as_str(), body["reconciliation"].as_str()), (Some("unavailable"), Some("unavailable")));
    assert_eq!(body["status"], "degraded", "{body}");
    let live = svc.ok("/api/v1/live").await;
    let today = Utc::now().date_naive();
    let (orders, revenue, _) = served(&oltp, today, today).await;
    assert_eq!((live["served_orders_today"].as_i64(), dec(&live["revenue_today"])), (Some(orders), revenue));
    let last: i64 = scalar(&oltp, "select max(id)::int8 from orders").await;
    assert_eq!(live["last_orders"][0]["order_id"].as_i64(), Some(last));
    assert_eq!(live["orders_by_hour"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).sum::<i64>(), orders);
}
