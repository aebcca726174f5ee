//! Analytics: p99 latency of every analytics endpoint on a warehouse of a year of sales.
//!
//! The warehouse is written **directly in SQL** (not through OLTP and the daemon: a year of
//! history needs order times spread over 365 days, which the capture path cannot backdate): the
//! dimensions of a small chain, `orders` orders over the last 365 days (UTC, weighted to the day;
//! ids and rows in time order, as the daemon loads them),
//! 1 to 3 lines each (so ≥ 1M lines at the default 500k orders), 96% served / 3% cancelled / 1%
//! refunded, a rating for 30% of served orders, then `analyze`. The service runs in-process as
//! `analytics_reader`; each endpoint is requested `requests` times in a row over HTTP. The
//! same-run baseline of each endpoint is its own queries run directly on one connection.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;

use super::{
    env::{BenchEnv, DbPair},
    report::{Figure, Goal, ScenarioResult},
    BenchError,
};
use crate::{analytics, db};

/// One endpoint's latencies.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EndpointTimes {
    pub endpoint: &'static str,
    pub path: String,
    pub http_p50_ms: f64,
    pub http_p99_ms: f64,
    pub sql_p50_ms: f64,
    pub sql_p99_ms: f64,
}

const DIMS: &str = "
    set timezone = 'UTC';
    insert into dim_store (store_id, name, city, changed_at, src_id)
    select i, 'Store ' || i, 'City ' || i, now(), i from generate_series(1, 4) i;
    insert into dim_employee (employee_id, store_id, name, role, active, changed_at, src_id)
    select i, 1 + (i - 1) % 4, 'Barista ' || i, 'barista', true, now(), i from generate_series(1, 16) i;
    insert into dim_customer (customer_id, name, email, changed_at, src_id)
    select i, 'Customer ' || i, 'c' || i || '@example.com', now(), i from generate_series(1, 1000) i;
    insert into dim_product (product_id, name, category, price, active, changed_at, src_id)
    select i, 'Product ' || i, (array['coffee', 'tea', 'bakery', 'food', 'cold drinks'])[1 + i % 5],
           2.50 + (i % 8) * 0.50, true, now(), i
    from generate_series(1, 20) i;";

const ORDERS: &str = "
    insert into fact_orders (order_id, customer_id, employee_id, store_id, date_key, time_key, store_key, customer_key,
                             employee_key, order_time, status, total, changed_at, src_id, loaded_at)
    select row_number() over (order by t), c, e, 1 + (e - 1) % 4, to_char(t, 'YYYYMMDD')::int, (extract(hour from t) * 60 + extract(minute from t))::int,
           s.store_key, dc.customer_key, de.employee_key, t,
           case when r < 0.96 then 'served' when r < 0.99 then 'cancelled' else 'refunded' end, 0, t, g,
           t + interval '40 milliseconds'
    from (select g, 1 + floor(random() * 1000)::int as c, 1 + floor(random() * 16)::int as e, random() as r,
                 date_trunc('day', now()) - floor(random() * 365) * interval '1 day'
                   + (6 + 14 * random() * random() + 2 * random()) * interval '1 hour' as t
          from generate_series(1, $1::int) g) o
    join dim_customer dc on dc.customer_id = o.c
    join dim_employee de on de.employee_id = o.e
    join dim_store s on s.store_id = 1 + (o.e - 1) % 4
    where o.t < now()
    order by t";

const LINES: &str = "
    insert into fact_sales (order_item_id, order_id, product_id, date_key, time_key, store_key, customer_key, employee_key,
                            product_key, quantity, unit_price, line_total, order_status, order_time, changed_at, src_id, loaded_at)
    select row_number() over (), o.order_id, p.product_id, o.date_key, o.time_key, o.store_key, o.customer_key,
           o.employee_key, p.product_key, q.quantity, p.price, q.quantity * p.price, o.status, o.order_time,
           o.changed_at, o.src_id, o.loaded_at
    from fact_orders o
    cross join lateral generate_series(1, 1 + (o.order_id * 7) % 3) as l(n)
    cross join lateral (select 1 + (o.order_id * 13 + l.n * 7) % 20 as product_id,
                               case when (o.order_id + l.n) % 6 = 0 then 2 else 1 end as quantity) q
    join dim_product p on p.product_id = q.product_id and p.is_current;
    update fact_orders o set total = s.total
    from (select order_id, sum(line_total) as total from fact_sales group by 1) s where s.order_id = o.order_id;
    insert into fact_feedback (feedback_id, order_id, date_key, time_key, order_date_key, store_key, customer_key,
                               employee_key, rating, comment, rated_at, changed_at, src_id, loaded_at)
    select row_number() over (), order_id, date_key, time_key, date_key, store_key, customer_key, employee_key,
           (array[1, 2, 3, 4, 4, 5, 5, 5])[1 + (order_id * 11) % 8], null, order_time + interval '10 minutes',
           order_time, src_id, loaded_at
    from fact_orders where status = 'served' and order_id % 10 < 3;
    update cdc_offset set applied_changes = (select count(*) from fact_sales) * 4, updated_at = now();
    analyze;";

/// Run the scenario: `orders` orders of history, `requests` requests per endpoint.
pub(super) async fn run(env: &BenchEnv, orders: i64, requests: usize) -> Result<ScenarioResult, BenchError> {
    let pair = env.fresh_pair("analytics").await?;
    let fill_started = Instant::now();
    let lines = fill(&pair, orders).await?;
    let fill_seconds = fill_started.elapsed().as_secs_f64();
    tracing::info!(orders, lines, seconds = fill_seconds, "analytics warehouse written");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let stop = tokio_util::sync::CancellationToken::new();
    let mut config = pair.config.clone();
    config.analytics_metrics_url = Some(format!("http://127.0.0.1:{}/metrics", crate::tools::cluster::free_port()?));
    let shutdown = stop.clone().cancelled_owned();
    let server = tokio::spawn(async move { analytics::serve(&config, listener, shutdown).await });
    let times = measure(&pair, &base, requests).await;
    stop.cancel();
    let _ = server.await;
    let times = times?;
    Ok(result(orders, lines, fill_seconds, requests, times))
}

async fn fill(pair: &DbPair, orders: i64) -> Result<i64, BenchError> {
    let (oltp, olap) = (pair.oltp().await?, pair.olap().await?);
    db::apply_roles(&oltp, &olap, &pair.config).await?;
    olap.batch_execute(DIMS).await?;
    olap.execute(ORDERS, &[&(orders as i32)]).await?;
    olap.batch_execute(LINES).await?;
    Ok(olap.query_one("select count(*) from fact_sales", &[]).await?.get(0))
}

async fn measure(pair: &DbPair, base: &str, requests: usize) -> Result<Vec<EndpointTimes>, BenchError> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("a plain HTTP client");
    let olap = pair.olap().await?;
    let today = Utc::now().date_naive();
    let mut out = Vec::new();
    for case in analytics::bench_cases::cases(today) {
        let url = format!("{base}{}", case.path);
        let mut http_times = Vec::with_capacity(requests);
        let mut sql_times = Vec::with_capacity(requests);
        for i in 0..requests + 2 {
            let started = Instant::now();
            let response = http.get(&url).send().await.map_err(|e| BenchError::Analytics(format!("GET {url}: {e}")))?;
            let status = response.status();
            let _ = response.bytes().await;
            if !status.is_success() {
                return Err(BenchError::Analytics(format!("GET {url} answered {status}")));
            }
            let http_time = started.elapsed();
            let started = Instant::now();
            case.run_queries(&olap, today)
                .await
                .map_err(|e| BenchError::Analytics(crate::telemetry::Chain(&e).to_string()))?;
            if i >= 2 {
                // The first two of each are warm-up.
                http_times.push(http_time);
                sql_times.push(started.elapsed());
            }
        }
        let (hp50, hp99) = percentiles(&mut http_times);
        let (sp50, sp99) = percentiles(&mut sql_times);
        out.push(EndpointTimes {
            endpoint: case.name,
            path: case.path.clone(),
            http_p50_ms: hp50,
            http_p99_ms: hp99,
            sql_p50_ms: sp50,
            sql_p99_ms: sp99,
        });
    }
    Ok(out)
}

/// p50 and p99 in milliseconds (nearest rank).
fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let at = |q: f64| {
        let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len().max(1));
        times.get(rank - 1).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    (at(0.5), at(0.99))
}

fn result(orders: i64, lines: i64, fill_seconds: f64, requests: usize, times: Vec<EndpointTimes>) -> ScenarioResult {
    let slowest = times.iter().max_by(|a, b| a.http_p99_ms.total_cmp(&b.http_p99_ms)).cloned();
    // p50, not p99: on a shared 2-core box the tails of both series are noise of the same size.
    let worst_overhead = times.iter().map(|t| t.http_p50_ms - t.sql_p50_ms).fold(0.0, f64::max);
    let mut figures = vec![
        Figure::new("order lines in the warehouse", lines as f64, "lines"),
        Figure::new("orders (365 days)", orders as f64, "orders"),
        Figure::new("warehouse written in", fill_seconds, "s"),
    ];
    figures.extend(times.iter().map(|t| Figure::new(format!("{} p99", t.endpoint), t.http_p99_ms, "ms")));
    let slowest_p99 = slowest.as_ref().map_or(0.0, |s| s.http_p99_ms);
    let baseline_p99 = slowest.as_ref().map_or(0.0, |s| s.sql_p99_ms);
    ScenarioResult {
        scenario: "analytics",
        figures,
        baseline: Figure::new(
            format!("its SQL p99 ({})", slowest.as_ref().map_or("-", |s| s.endpoint)),
            baseline_p99.max(1e-3),
            "ms",
        ),
        ratio: slowest_p99 / baseline_p99.max(1e-3),
        ratio_of: "slowest endpoint p99 / its SQL p99".into(),
        goals: vec![
            Goal::new(">= 1M order lines", lines >= 1_000_000),
            Goal::new("every endpoint p99 <= 500 ms", times.iter().all(|t| t.http_p99_ms <= 500.0)),
            Goal::new("every endpoint p50 <= its SQL p50 + 10 ms (HTTP and JSON)", worst_overhead <= 10.0),
        ],
        details: serde_json::json!({ "requests_per_endpoint": requests, "endpoints": times }),
    }
}
