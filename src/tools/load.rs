//! `brewlytics load`: drive the API over HTTP at a steady order rate.
//!
//! A tick every `1/rate` s places one order (tokio interval, `MissedTickBehavior::Delay`: when the
//! API falls behind the rate drops instead of bursting). At most `concurrency` requests are in
//! flight (a semaphore: the tick waits for a free slot). Each tick also gives one order placed at
//! least [`FOLLOW_UP_AFTER`] ago its fate ([`crate::shop::generator::follow_up`]) — and, for some
//! served orders, the customer's rating ([`crate::shop::generator::feedback`]) — and now and then
//! changes a price or restocks. Half the orders come through the app: their session's events
//! (menu, products, cart, checkout, the order) go to `POST /events` once the order is placed, with
//! [`BROWSING_PER_APP_ORDER`] sessions that order nothing ([`crate::shop::session`]); now and then a
//! batch is sent twice, as a phone retries. The report gives the achieved rate and the latency
//! percentiles of `POST /orders/new`. With `API_KEY` set, every write carries it.

use std::{
    collections::VecDeque,
    fmt,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rand::{rngs::StdRng, RngExt};
use serde_json::json;
use tokio::{sync::Semaphore, task::JoinSet, time::MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::config::{parse_duration, Secret};
use crate::shop::{
    generator::{draft_order, feedback, follow_up, local_hour, price_change, restock, Catalog, FollowUp},
    session::{draft_browsing, draft_purchase, gap, SessionDraft, BROWSING_PER_APP_ORDER},
};

/// How long after placing an order its fate is decided.
pub(crate) const FOLLOW_UP_AFTER: Duration = Duration::from_millis(500);
/// Chance per tick of a price change.
const PRICE_CHANGE_P: f64 = 0.002;
/// Chance per tick of a restock.
const RESTOCK_P: f64 = 0.01;
/// Share of orders placed through the app (the rest at the till).
const APP_ORDER_P: f64 = 0.5;
/// Chance that the app sends a batch of events twice (a retry after a lost answer).
const RETRY_P: f64 = 0.03;
/// How long in-flight requests may finish after the run.
const DRAIN: Duration = Duration::from_secs(15);

/// Settings of a load run (`brewlytics load --rate R --duration D --api URL`).
#[derive(Debug, Clone, clap::Args)]
pub struct LoadOptions {
    /// Orders per second.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// How long to run (e.g. 30s, 5m, 1h).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Base URL of the order API [default: http://API_ADDR].
    #[arg(long = "api")]
    pub api: Option<String>,
    /// Most requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// The API key sent with every write (`Authorization: Bearer`); from the global API_KEY.
    #[arg(skip)]
    pub api_key: Option<Secret>,
}

/// Why a load run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("--rate must be a positive number of orders per second, got {0}")]
    BadRate(f64),
    #[error("fetching the catalogue from {url} failed: {source}")]
    Catalog {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the catalogue at {0} has no customers, active products or staffed stores: run `brewlytics seed`")]
    EmptyCatalog(String),
}

/// Below this share of the target rate a run says it fell short.
const SHORT_OF_TARGET: f64 = 0.98;

/// What a load run achieved.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// The orders per second asked for.
    pub target_rate: f64,
    pub elapsed: Duration,
    pub orders_placed: u64,
    pub orders_failed: u64,
    pub status_changes: u64,
    /// Ratings left with `POST /orders/{id}/feedback`.
    pub ratings: u64,
    pub price_changes: u64,
    pub restocks: u64,
    /// App sessions posted, their events stored and the duplicates the API recognised (retries).
    pub app_sessions: u64,
    pub app_events: u64,
    pub app_duplicates: u64,
    /// Failed follow-up requests (status, price, restock, events).
    pub other_failed: u64,
    /// The first failure seen, for the operator.
    pub first_error: Option<String>,
    /// Latency percentiles of successful `POST /orders/new`.
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
}

impl LoadReport {
    /// Placed orders per second over the run.
    pub fn achieved_rate(&self) -> f64 {
        self.orders_placed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// How many orders per second the run fell short of its target by, when it did (more than
    /// 2 %): the API, the database or this machine could not keep up (or orders failed).
    pub fn shortfall(&self) -> Option<f64> {
        let achieved = self.achieved_rate();
        (self.target_rate > 0.0 && achieved < self.target_rate * SHORT_OF_TARGET).then_some(self.target_rate - achieved)
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "orders: {} placed, {} failed in {:.1} s ({:.1} orders/s)",
            self.orders_placed,
            self.orders_failed,
            self.elapsed.as_secs_f64(),
            self.achieved_rate()
        )?;
        writeln!(
            f,
            "follow-ups: {} status changes, {} ratings, {} price changes, {} restocks, {} failed",
            self.status_changes, self.ratings, self.price_changes, self.restocks, self.other_failed
        )?;
        writeln!(
            f,
            "app: {} sessions, {} events stored, {} duplicates recognised",
            self.app_sessions, self.app_events, self.app_duplicates
        )?;
        write!(
            f,
            "POST /orders/new latency: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
            ms(self.p50),
            ms(self.p95),
            ms(self.p99)
        )?;
        if let Some(short) = self.shortfall() {
            write!(
                f,
                "\nFELL SHORT of the target {:.1} orders/s by {short:.1} orders/s ({:.1} %): the API, the \
                 database or this machine could not keep up (see the latencies), or orders failed",
                self.target_rate,
                100.0 * short / self.target_rate
            )?;
        }
        if let Some(e) = &self.first_error {
            write!(f, "\nfirst error: {e}")?;
        }
        Ok(())
    }
}

/// Counters shared by the request tasks.
#[derive(Default)]
struct Tally {
    report: LoadReport,
    latencies: Vec<Duration>,
}

/// One run's shared context.
struct Ctx {
    http: reqwest::Client,
    base: String,
    api_key: Option<Secret>,
    tally: Mutex<Tally>,
    placed: Mutex<VecDeque<(i32, Instant)>>,
}

/// Run load until `opts.duration` has passed or `shutdown` is cancelled; in-flight requests get
/// a grace period (`DRAIN`, 15 s) to finish.
pub async fn run_load(opts: &LoadOptions, shutdown: CancellationToken) -> Result<LoadReport, LoadError> {
    if !(opts.rate.is_finite() && opts.rate > 0.0) {
        return Err(LoadError::BadRate(opts.rate));
    }
    let base = opts.api.clone().unwrap_or_else(|| "http://127.0.0.1:8000".into()).trim_end_matches('/').to_string();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().expect("a plain HTTP client");
    let catalog = fetch_catalog(&http, &base).await?;
    let api_key = opts.api_key.clone();
    let ctx = Arc::new(Ctx { http, base, api_key, tally: Mutex::default(), placed: Mutex::default() });
    let slots = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut rng: StdRng = rand::make_rng();
    let mut tasks = JoinSet::new();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / opts.rate));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let start = Instant::now();
    while start.elapsed() < opts.duration {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        for job in plan_tick(&ctx, &catalog, &mut rng) {
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let ctx = ctx.clone();
            tasks.spawn(async move {
                job.run(&ctx).await;
                drop(slot);
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    let elapsed = start.elapsed();
    if tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
        tasks.abort_all();
    }
    let mut tally = std::mem::take(&mut *ctx.tally.lock().expect("tally lock"));
    tally.report.elapsed = elapsed;
    tally.report.target_rate = opts.rate;
    tally.latencies.sort();
    let pct = |q: f64| percentile(&tally.latencies, q);
    (tally.report.p50, tally.report.p95, tally.report.p99) = (pct(0.50), pct(0.95), pct(0.99));
    Ok(tally.report)
}

async fn fetch_catalog(http: &reqwest::Client, base: &str) -> Result<Catalog, LoadError> {
    let url = format!("{base}/catalog");
    let fail = |source| LoadError::Catalog { url: url.clone(), source };
    let response = http.get(&url).send().await.and_then(|r| r.error_for_status()).map_err(fail)?;
    let catalog: Catalog = response.json().await.map_err(fail)?;
    if catalog.is_usable() {
        Ok(catalog)
    } else {
        Err(LoadError::EmptyCatalog(base.to_string()))
    }
}

/// The `q` quantile of sorted durations (nearest rank), zero when empty.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One unit of work of a tick.
enum Job {
    /// An order, and the app session that placed it (its events go out once the order has an id).
    Place(serde_json::Value, Option<(SessionDraft, chrono::Duration, bool)>),
    /// An app session that orders nothing (sent twice when `true`).
    Session(serde_json::Value, bool),
    /// An order's fate, then maybe its rating (never for a cancelled order).
    Fate(i32, FollowUp, Option<(i32, Option<&'static str>)>),
    Price(i32, rust_decimal::Decimal),
    Restock(i32, i32, i32),
}

/// The jobs of one tick: an order, the fate of an older order, and maybe a price change or restock.
fn plan_tick(ctx: &Ctx, catalog: &Catalog, rng: &mut StdRng) -> Vec<Job> {
    let mut jobs = Vec::with_capacity(2);
    if let Some(order) = draft_order(catalog, local_hour(), rng) {
        let app = rng.random_bool(APP_ORDER_P);
        let session = app.then(|| (draft_purchase(catalog, &order, rng), gap(rng), rng.random_bool(RETRY_P)));
        jobs.push(Job::Place(serde_json::to_value(order).expect("an order serializes"), session));
        if app {
            for _ in 0..BROWSING_PER_APP_ORDER {
                let Some(session) = draft_browsing(catalog, rng) else { break };
                let body = session.body(chrono::Utc::now(), gap(rng));
                jobs.push(Job::Session(body, rng.random_bool(RETRY_P)));
            }
        }
    }
    let due = {
        let mut placed = ctx.placed.lock().expect("placed lock");
        match placed.front() {
            Some((_, at)) if at.elapsed() >= FOLLOW_UP_AFTER => placed.pop_front().map(|(id, _)| id),
            _ => None,
        }
    };
    if let Some(id) = due {
        let fate = follow_up(rng);
        let rating = if fate == FollowUp::Cancel { None } else { feedback(rng) };
        jobs.push(Job::Fate(id, fate, rating));
    }
    if rng.random_bool(PRICE_CHANGE_P) {
        jobs.extend(price_change(catalog, rng).map(|(id, price)| Job::Price(id, price)));
    }
    if rng.random_bool(RESTOCK_P) {
        jobs.extend(restock(catalog, rng).map(|(p, s, q)| Job::Restock(p, s, q)));
    }
    jobs
}

impl Job {
    async fn run(self, ctx: &Ctx) {
        match self {
            Job::Place(order, session) => {
                let started = Instant::now();
                let result = ctx.post("/orders/new", &order).await;
                let latency = started.elapsed();
                let placed = {
                    let mut tally = ctx.tally.lock().expect("tally lock");
                    match result.map(|v| v["order_id"].as_i64()) {
                        Ok(Some(id)) => {
                            tally.report.orders_placed += 1;
                            tally.latencies.push(latency);
                            ctx.placed.lock().expect("placed lock").push_back((id as i32, Instant::now()));
                            Some(id as i32)
                        }
                        Ok(None) => {
                            record_failure(&mut tally, true, "POST /orders/new answered without order_id".into());
                            None
                        }
                        Err(e) => {
                            record_failure(&mut tally, true, e);
                            None
                        }
                    }
                };
                if let (Some(id), Some((session, gap, retry))) = (placed, session) {
                    ctx.post_session(&session.ordered(id).body(chrono::Utc::now(), gap), retry).await;
                }
            }
            Job::Session(body, retry) => ctx.post_session(&body, retry).await,
            Job::Fate(id, fate, rating) => {
                let steps: &[&str] = match fate {
                    FollowUp::Serve => &["served"],
                    FollowUp::Cancel => &["cancelled"],
                    FollowUp::ServeThenRefund => &["served", "refunded"],
                };
                for status in steps {
                    let result = ctx.post(&format!("/orders/{id}/status"), &json!({ "status": status })).await;
                    ctx.count(result, |r| r.status_changes += 1);
                }
                if let Some((rating, comment)) = rating {
                    let body = json!({ "rating": rating, "comment": comment });
                    let result = ctx.post(&format!("/orders/{id}/feedback"), &body).await;
                    ctx.count(result, |r| r.ratings += 1);
                }
            }
            Job::Price(id, price) => {
                let result = ctx
                    .send(ctx.http.patch(ctx.url(&format!("/products/{id}"))).json(&json!({ "price": price })))
                    .await;
                ctx.count(result, |r| r.price_changes += 1);
            }
            Job::Restock(product_id, store_id, quantity) => {
                let body = json!({ "product_id": product_id, "store_id": store_id, "quantity": quantity });
                let result = ctx.post("/inventory/restock", &body).await;
                ctx.count(result, |r| r.restocks += 1);
            }
        }
    }
}

fn record_failure(tally: &mut Tally, order: bool, error: String) {
    if order {
        tally.report.orders_failed += 1;
    } else {
        tally.report.other_failed += 1;
    }
    tally.report.first_error.get_or_insert(error);
}

impl Ctx {
    /// Post one app session's events (twice when `retry`: the second answer counts duplicates).
    async fn post_session(&self, body: &serde_json::Value, retry: bool) {
        for _ in 0..=usize::from(retry) {
            let result = self.post("/events", body).await;
            let mut tally = self.tally.lock().expect("tally lock");
            match result {
                Ok(answer) => {
                    tally.report.app_events += answer["accepted"].as_u64().unwrap_or(0);
                    tally.report.app_duplicates += answer["duplicates"].as_u64().unwrap_or(0);
                }
                Err(e) => record_failure(&mut tally, false, e),
            }
        }
        self.tally.lock().expect("tally lock").report.app_sessions += 1;
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value, String> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// Send a request; a non-2xx answer is an error carrying the status and body.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<serde_json::Value, String> {
        let request = match &self.api_key {
            Some(key) => request.bearer_auth(key.expose()),
            None => request,
        };
        let response = request.send().await.map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| format!("reading the response failed: {e}"))?;
        if !status.is_success() {
            return Err(format!("{status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("response is not JSON: {e}"))
    }

    fn count(&self, result: Result<serde_json::Value, String>, ok: impl FnOnce(&mut LoadReport)) {
        let mut tally = self.tally.lock().expect("tally lock");
        match result {
            Ok(_) => ok(&mut tally.report),
            Err(e) => record_failure(&mut tally, false, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_below_its_target_says_by_how_much() {
        let report = |placed| LoadReport {
            target_rate: 50.0,
            elapsed: Duration::from_secs(10),
            orders_placed: placed,
            ..LoadReport::default()
        };
        assert_eq!(report(500).shortfall(), None);
        assert_eq!(report(495).shortfall(), None, "within 2 %");
        let short = report(452);
        assert!((short.shortfall().unwrap() - 4.8).abs() < 1e-9);
        assert!(
            short.to_string().contains("FELL SHORT of the target 50.0 orders/s by 4.8 orders/s (9.6 %)"),
            "{short}"
        );
        assert!(!report(500).to_string().contains("FELL SHORT"));
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let d: Vec<_> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&d, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
        assert_eq!(percentile(&d[..1], 0.99), Duration::from_millis(1));
    }
}
