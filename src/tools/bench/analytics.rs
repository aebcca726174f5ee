//! Analytics: how the readers' latency grows with the history. At each scale (orders over the
//! last 365 days, [`analytics_fill`](super::analytics_fill)) in one run: every analytics endpoint
//! (HTTP p50/p99, each against its own queries run directly: the same-run baseline), every
//! Metabase card's SQL as `analytics_reader`, and `dbt build` (full, then incremental after one
//! more day of orders). The figures `<endpoint> p99` are the largest scale's; each endpoint and
//! card also has its p99 at every scale and the ratio largest / smallest.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use tokio_postgres::Client;

use super::{
    analytics_fill, dbt,
    env::{BenchEnv, DbPair},
    report::{Figure, Goal, ScenarioResult},
    BenchError,
};
use crate::{analytics, db::Role, tools::metabase::Spec};

/// One endpoint's (or card's) latencies at one scale.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Times {
    pub name: String,
    pub path: String,
    pub http_p50_ms: f64,
    pub http_p99_ms: f64,
    pub sql_p50_ms: f64,
    pub sql_p99_ms: f64,
}

/// What one scale measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Scale {
    pub orders: i64,
    pub lines: i64,
    pub fill_seconds: f64,
    pub endpoints: Vec<Times>,
    pub cards: Vec<Times>,
    pub dbt: dbt::DbtTimes,
}

/// The scales (orders), requests per endpoint, and dbt.
#[derive(Debug, Clone)]
pub(crate) struct AnalyticsOptions {
    pub scales: Vec<i64>,
    pub requests: usize,
    pub dbt: dbt::Dbt,
}

/// Run the scenario at every scale.
pub(super) async fn run(env: &BenchEnv, opts: &AnalyticsOptions) -> Result<ScenarioResult, BenchError> {
    let mut scales = Vec::new();
    for &orders in &opts.scales {
        scales.push(one_scale(env, orders, opts).await?);
    }
    Ok(result(opts.requests, scales))
}

async fn one_scale(env: &BenchEnv, orders: i64, opts: &AnalyticsOptions) -> Result<Scale, BenchError> {
    let pair = env.fresh_pair("analytics").await?;
    let started = Instant::now();
    let lines = analytics_fill::fill(&pair, orders).await?;
    let fill_seconds = started.elapsed().as_secs_f64();
    tracing::info!(orders, lines, seconds = fill_seconds, "analytics warehouse written");
    let full = dbt::build(&opts.dbt, &pair, true).await?;
    let endpoints = endpoints(&pair, opts.requests).await?;
    let cards = cards(&pair, opts.requests).await?;
    analytics_fill::add_day(&mut pair.olap().await?, orders).await?;
    let incremental = dbt::build(&opts.dbt, &pair, false).await?;
    Ok(Scale { orders, lines, fill_seconds, endpoints, cards, dbt: dbt::DbtTimes { full, incremental } })
}

/// Every endpoint over HTTP (the service in-process as `analytics_reader`) and directly.
async fn endpoints(pair: &DbPair, requests: usize) -> Result<Vec<Times>, BenchError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let stop = tokio_util::sync::CancellationToken::new();
    let mut config = pair.config.clone();
    config.analytics_metrics_url = Some(format!("http://127.0.0.1:{}/metrics", crate::tools::cluster::free_port()?));
    let shutdown = stop.clone().cancelled_owned();
    let server = tokio::spawn(async move { analytics::serve(&config, listener, shutdown).await });
    let times = measure_endpoints(pair, &base, requests).await;
    stop.cancel();
    let _ = server.await;
    times
}

async fn measure_endpoints(pair: &DbPair, base: &str, requests: usize) -> Result<Vec<Times>, BenchError> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("a plain HTTP client");
    let olap = pair.olap().await?;
    let today = Utc::now().date_naive();
    let mut out = Vec::new();
    for case in analytics::bench_cases::cases(today) {
        let url = format!("{base}{}", case.path);
        let (mut http_times, mut sql_times) = (Vec::new(), Vec::new());
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
        out.push(times(case.name.to_string(), case.path.clone(), &mut http_times, &mut sql_times));
    }
    Ok(out)
}

/// Every card of metabase/dashboard.json, its SQL run as Metabase runs it (`analytics_reader`).
async fn cards(pair: &DbPair, requests: usize) -> Result<Vec<Times>, BenchError> {
    let spec = Spec::parse(include_str!("../../../metabase/dashboard.json"), "metabase/dashboard.json")
        .map_err(|e| BenchError::Analytics(crate::telemetry::Chain(&e).to_string()))?;
    let reader = crate::db::connect(&Role::Reader.config(&pair.config), crate::config::Db::Olap).await?;
    let mut out = Vec::new();
    for card in &spec.cards {
        let mut sql_times = Vec::new();
        for i in 0..requests + 2 {
            let started = Instant::now();
            run_card(&reader, &card.sql)
                .await
                .map_err(|e| BenchError::Analytics(format!("card {}: {e}", card.name)))?;
            if i >= 2 {
                sql_times.push(started.elapsed());
            }
        }
        let mut copy = sql_times.clone();
        out.push(times(format!("card {}", card.name), String::new(), &mut sql_times, &mut copy));
    }
    Ok(out)
}

async fn run_card(reader: &Client, sql: &str) -> Result<(), tokio_postgres::Error> {
    reader.simple_query(sql).await.map(drop)
}

fn times(name: String, path: String, http: &mut [Duration], sql: &mut [Duration]) -> Times {
    let (hp50, hp99) = percentiles(http);
    let (sp50, sp99) = percentiles(sql);
    Times { name, path, http_p50_ms: hp50, http_p99_ms: hp99, sql_p50_ms: sp50, sql_p99_ms: sp99 }
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

fn result(requests: usize, scales: Vec<Scale>) -> ScenarioResult {
    let (small, large) = (scales.first().expect("a scale"), scales.last().expect("a scale"));
    let mut figures = vec![
        Figure::new("order lines in the warehouse", large.lines as f64, "lines"),
        Figure::new("orders (365 days)", large.orders as f64, "orders"),
        Figure::new("warehouse written in", large.fill_seconds, "s"),
    ];
    figures.extend(large.endpoints.iter().map(|t| Figure::new(format!("{} p99", t.name), t.http_p99_ms, "ms")));
    let mut goals = vec![Goal::new(">= 1M order lines", large.lines >= 1_000_000)];
    let pairs = || {
        let endpoints = small.endpoints.iter().zip(&large.endpoints);
        endpoints.chain(small.cards.iter().zip(&large.cards))
    };
    let mut worst = (0.0f64, small.endpoints[0].clone());
    for (a, b) in pairs() {
        let ratio = b.http_p99_ms / a.http_p99_ms.max(1e-3);
        if ratio > worst.0 {
            worst = (ratio, a.clone());
        }
        for s in &scales {
            let t = s.endpoints.iter().chain(&s.cards).find(|t| t.name == a.name).expect("same cases");
            figures.push(Figure::new(format!("{} p50 at {} lines", a.name, s.lines), t.http_p50_ms, "ms"));
            figures.push(Figure::new(format!("{} p99 at {} lines", a.name, s.lines), t.http_p99_ms, "ms"));
        }
        figures.push(Figure::new(format!("{} p99 ratio (largest / smallest scale)", a.name), ratio, "x"));
    }
    let slow: Vec<&str> = pairs().filter(|(_, b)| b.http_p99_ms > 50.0).map(|(_, b)| b.name.as_str()).collect();
    let steep: Vec<&str> =
        pairs().filter(|(a, b)| b.http_p99_ms > 1.5 * a.http_p99_ms.max(1e-3)).map(|(a, _)| a.name.as_str()).collect();
    goals.push(Goal::new(
        format!("every endpoint and card p99 <= 50 ms at the largest scale (over: {slow:?})"),
        slow.is_empty(),
    ));
    goals.push(Goal::new(
        format!("every p99 <= 1.5x from the smallest to the largest scale (over: {steep:?})"),
        steep.is_empty(),
    ));
    let dbt = &large.dbt;
    figures.push(Figure::new("dbt build, full (models)", dbt.full.models_seconds, "s"));
    figures.push(Figure::new("dbt build, incremental after a day (models)", dbt.incremental.models_seconds, "s"));
    figures.push(Figure::new("dbt build, full (wall)", dbt.full.wall_seconds, "s"));
    figures.push(Figure::new("dbt build, incremental (wall)", dbt.incremental.wall_seconds, "s"));
    let dbt_ratio = dbt.incremental.models_seconds / dbt.full.models_seconds.max(1e-6);
    figures.push(Figure::new("dbt incremental / full (models)", dbt_ratio, "x"));
    goals.push(Goal::new("incremental dbt build <= 10% of a full one", dbt_ratio <= 0.1));
    ScenarioResult {
        scenario: "analytics",
        figures,
        baseline: Figure::new(
            format!("{} p99 at {} lines (the smallest scale, same run)", worst.1.name, small.lines),
            worst.1.http_p99_ms.max(1e-3),
            "ms",
        ),
        ratio: worst.0,
        ratio_of: "worst endpoint or card p99, largest / smallest scale".into(),
        goals,
        details: serde_json::json!({ "requests_per_endpoint": requests, "scales": scales }),
    }
}
