//! Analytics: how the readers' latency grows with the history. At each scale (orders over the
//! last 365 days, [`analytics_fill`](super::analytics_fill)) in one run, the scales measured
//! request by request in turn: every analytics endpoint (HTTP p50/p99, each against its own
//! queries run directly: the same-run baseline), every Metabase card's SQL as
//! `analytics_reader`; and `dbt build` (full, then incremental after one more day of orders). The figures `<endpoint> p99` are the largest scale's; each endpoint and
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
    /// Requests measured (after the warm-up).
    pub requests: usize,
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
    /// Requests per endpoint and card at each scale, at least.
    pub requests: usize,
    /// How long each endpoint and card is measured at least, per scale.
    pub at_least: Duration,
    pub dbt: dbt::Dbt,
}

/// Run the scenario at every scale: write every scale's warehouse, then measure them together,
/// one request at each scale in turn, so that a slow stretch of the shared machine falls on every
/// scale alike instead of on whichever was measured then.
pub(super) async fn run(env: &BenchEnv, opts: &AnalyticsOptions) -> Result<ScenarioResult, BenchError> {
    let mut written = Vec::new();
    for &orders in &opts.scales {
        written.push(write(env, orders, opts).await?);
    }
    let pairs: Vec<&DbPair> = written.iter().map(|w| &w.pair).collect();
    let rounds = Rounds { requests: opts.requests, at_least: opts.at_least, scales: pairs.len() };
    let mut endpoints = endpoints(&pairs, rounds).await?.into_iter();
    let mut cards = cards(&pairs, rounds).await?.into_iter();
    let mut scales = Vec::new();
    for w in written {
        analytics_fill::add_day(&mut w.pair.olap().await?, w.orders).await?;
        let incremental = dbt::build(&opts.dbt, &w.pair, false).await?;
        scales.push(Scale {
            orders: w.orders,
            lines: w.lines,
            fill_seconds: w.fill_seconds,
            endpoints: endpoints.next().expect("one per scale"),
            cards: cards.next().expect("one per scale"),
            dbt: dbt::DbtTimes { full: w.full, incremental },
        });
    }
    Ok(result(opts.requests, scales))
}

/// One scale's warehouse, written and built by dbt once.
struct Written {
    pair: DbPair,
    orders: i64,
    lines: i64,
    fill_seconds: f64,
    full: dbt::DbtRun,
}

async fn write(env: &BenchEnv, orders: i64, opts: &AnalyticsOptions) -> Result<Written, BenchError> {
    let pair = env.fresh_pair("analytics").await?;
    let started = Instant::now();
    let lines = analytics_fill::fill(&pair, orders).await?;
    let fill_seconds = started.elapsed().as_secs_f64();
    tracing::info!(orders, lines, seconds = fill_seconds, "analytics warehouse written");
    let full = dbt::build(&opts.dbt, &pair, true).await?;
    Ok(Written { pair, orders, lines, fill_seconds, full })
}

/// Every endpoint over HTTP (a service in-process as `analytics_reader` per scale) and directly;
/// one list per scale.
async fn endpoints(pairs: &[&DbPair], rounds: Rounds) -> Result<Vec<Vec<Times>>, BenchError> {
    let stop = tokio_util::sync::CancellationToken::new();
    let (mut bases, mut servers) = (Vec::new(), Vec::new());
    for pair in pairs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        bases.push(format!("http://{}", listener.local_addr()?));
        let mut config = pair.config.clone();
        config.analytics_metrics_url =
            Some(format!("http://127.0.0.1:{}/metrics", crate::tools::cluster::free_port()?));
        let shutdown = stop.clone().cancelled_owned();
        servers.push(tokio::spawn(async move { analytics::serve(&config, listener, shutdown).await }));
    }
    let times = measure_endpoints(pairs, &bases, rounds).await;
    stop.cancel();
    for server in servers {
        let _ = server.await;
    }
    times
}

async fn measure_endpoints(pairs: &[&DbPair], bases: &[String], rounds: Rounds) -> Result<Vec<Vec<Times>>, BenchError> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("a plain HTTP client");
    let mut olaps = Vec::new();
    for pair in pairs {
        olaps.push(pair.olap().await?);
    }
    let today = Utc::now().date_naive();
    let mut out = vec![Vec::new(); pairs.len()];
    for case in analytics::bench_cases::cases(today) {
        let mut measured = vec![(Vec::new(), Vec::new()); pairs.len()];
        let case_started = Instant::now();
        for i in (0..).take_while(|&i| rounds.more(i, case_started)) {
            for ((base, olap), (http_times, sql_times)) in bases.iter().zip(&olaps).zip(&mut measured) {
                let url = format!("{base}{}", case.path);
                let started = Instant::now();
                let response =
                    http.get(&url).send().await.map_err(|e| BenchError::Analytics(format!("GET {url}: {e}")))?;
                let status = response.status();
                let _ = response.bytes().await;
                if !status.is_success() {
                    return Err(BenchError::Analytics(format!("GET {url} answered {status}")));
                }
                let http_time = started.elapsed();
                let started = Instant::now();
                case.run_queries(olap, today)
                    .await
                    .map_err(|e| BenchError::Analytics(crate::telemetry::Chain(&e).to_string()))?;
                if i >= 2 {
                    // The first two of each are warm-up.
                    http_times.push(http_time);
                    sql_times.push(started.elapsed());
                }
            }
        }
        for (scale, (mut http_times, mut sql_times)) in out.iter_mut().zip(measured) {
            scale.push(times(case.name.to_string(), case.path.clone(), &mut http_times, &mut sql_times));
        }
    }
    Ok(out)
}

/// Every card of metabase/dashboard.json, its SQL run as Metabase runs it (`analytics_reader`);
/// one list per scale.
async fn cards(pairs: &[&DbPair], rounds: Rounds) -> Result<Vec<Vec<Times>>, BenchError> {
    let spec = Spec::parse(include_str!("../../../metabase/dashboard.json"), "metabase/dashboard.json")
        .map_err(|e| BenchError::Analytics(crate::telemetry::Chain(&e).to_string()))?;
    let mut readers = Vec::new();
    for pair in pairs {
        readers.push(crate::db::connect(&Role::Reader.config(&pair.config), crate::config::Db::Olap).await?);
    }
    let mut out = vec![Vec::new(); pairs.len()];
    for card in &spec.cards {
        let mut measured = vec![Vec::new(); pairs.len()];
        let case_started = Instant::now();
        for i in (0..).take_while(|&i| rounds.more(i, case_started)) {
            for (reader, sql_times) in readers.iter().zip(&mut measured) {
                let started = Instant::now();
                run_card(reader, &card.sql)
                    .await
                    .map_err(|e| BenchError::Analytics(format!("card {}: {e}", card.name)))?;
                if i >= 2 {
                    sql_times.push(started.elapsed());
                }
            }
        }
        for (scale, mut sql_times) in out.iter_mut().zip(measured) {
            let mut copy = sql_times.clone();
            scale.push(times(format!("card {}", card.name), String::new(), &mut sql_times, &mut copy));
        }
    }
    Ok(out)
}

/// How many requests of a case are made at each scale: at least `requests` (after two of
/// warm-up), and until the case has run `at_least` per scale.
#[derive(Debug, Clone, Copy)]
struct Rounds {
    requests: usize,
    at_least: Duration,
    scales: usize,
}

impl Rounds {
    /// Whether round `i` (one request at each scale) of a case that started at `started` is made.
    fn more(&self, i: usize, started: Instant) -> bool {
        i < self.requests + 2 || started.elapsed() < self.at_least * self.scales as u32
    }
}

async fn run_card(reader: &Client, sql: &str) -> Result<(), tokio_postgres::Error> {
    reader.simple_query(sql).await.map(drop)
}

fn times(name: String, path: String, http: &mut [Duration], sql: &mut [Duration]) -> Times {
    let (hp50, hp99) = percentiles(http);
    let (sp50, sp99) = percentiles(sql);
    let requests = http.len();
    Times { name, path, http_p50_ms: hp50, http_p99_ms: hp99, sql_p50_ms: sp50, sql_p99_ms: sp99, requests }
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
        details: serde_json::json!({ "requests_per_endpoint_at_least": requests, "scales": scales }),
    }
}
