//! Freshness: pgbench drives the order transaction (`bench/order.sql`, the API's in SQL) into
//! OLTP at a fixed rate (`pgbench -R`: a C client with prepared statements, so the driver is not
//! what limits the rate on 2 cores shared with both databases and the daemon) while the daemon
//! (the real binary) runs; commit→applied is `loaded_at - changed_at` of every `fact_orders` and
//! `fact_sales` row written during the run. With `hold_open`, one OLTP transaction that has
//! written a row (so it holds an xid) stays open for the whole run.
//!
//! `changed_at` is the capture trigger's `clock_timestamp()` (just before the OLTP commit) and
//! `loaded_at` the sink statement's `clock_timestamp()` (just before the warehouse commit), both
//! from the same server clock.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use super::{
    api::{pgbench_at, Protocol},
    daemon::{self, DaemonProcess},
    env::{BenchEnv, DbPair},
    workload::Workload,
    BenchError,
};

/// The idle baseline: orders one at a time, this many a second, for this long.
const IDLE_RATE: f64 = 10.0;
const IDLE_FOR: Duration = Duration::from_secs(2);
/// pgbench clients of the load (enough to keep the rate when one commit waits).
const DRIVER_CLIENTS: usize = 8;
const CATCH_UP: Duration = Duration::from_secs(120);

/// How to run one freshness measurement.
#[derive(Debug, Clone)]
pub(crate) struct FreshnessOptions {
    pub rate: f64,
    pub duration: Duration,
    pub daemon_bin: PathBuf,
    pub settings: daemon::DaemonSettings,
    pub log_dir: PathBuf,
    /// What pgbench drives (the events mix also posts each order's app session).
    pub workload: Workload,
}

/// Commit→applied percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub samples: i64,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Freshness {
    pub workload: Workload,
    /// Order and order-line rows.
    pub loaded: Percentiles,
    /// App event rows (none without events).
    pub events: Percentiles,
    pub achieved_events_per_s: f64,
    /// Orders placed one at a time before the load, same daemon.
    pub idle: Percentiles,
    pub achieved_orders_per_s: f64,
    /// Mean time of one `select 1` round trip to the warehouse, same run (the small batch's baseline).
    pub warehouse_round_trip_ms: f64,
    pub daemon_peak_rss_mib: f64,
    pub daemon_phases: Vec<daemon::PhaseTime>,
}

/// Run the load against a fresh pair of databases; see the module docs.
pub(crate) async fn measure(env: &BenchEnv, opts: &FreshnessOptions, hold_open: bool) -> Result<Freshness, BenchError> {
    let name = match (hold_open, opts.workload) {
        (true, _) => "longtx",
        (false, Workload::Orders) => "freshness",
        (false, Workload::OrdersWithEvents) => "freshness_events",
    };
    let pair = env.fresh_pair(name).await?;
    let (oltp, olap) = (pair.oltp().await?, pair.olap().await?);
    let log = opts.log_dir.join(format!("daemon-{name}.log"));
    let mut process = DaemonProcess::start(&opts.daemon_bin, &pair, &opts.settings, &log)?;
    catch_up(&oltp, &olap, &mut process).await?;

    let idle = idle_baseline(&pair, &oltp, &olap, &mut process).await?;

    let mut held_client = pair.oltp().await?;
    let held = if hold_open {
        let tx = held_client.transaction().await?;
        tx.batch_execute("insert into customers (name, email) values ('Held Open', 'held-open@bench.example')").await?;
        Some(tx)
    } else {
        None
    };
    let from = now(&oltp).await?;
    let events_before = count_events(&oltp).await?;
    let started = Instant::now();
    let achieved = pgbench_at(
        &pair.config,
        &oltp,
        opts.workload,
        DRIVER_CLIENTS,
        opts.duration,
        Some(opts.rate),
        Protocol::Prepared,
    )
    .await?;
    let achieved_events_per_s = (count_events(&oltp).await? - events_before) as f64 / started.elapsed().as_secs_f64();
    catch_up(&oltp, &olap, &mut process).await?;
    let loaded = percentiles(&olap, from, ORDER_LAGS).await?;
    let events = percentiles(&olap, from, EVENT_LAGS).await?;
    if let Some(tx) = held {
        tx.rollback().await?;
    }
    let warehouse_round_trip_ms = round_trip_ms(&olap).await?;
    let daemon_peak_rss_mib = process.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
    let daemon_phases = process.phases().await.unwrap_or_default();
    process.stop().await?;
    Ok(Freshness {
        workload: opts.workload,
        loaded,
        events,
        achieved_events_per_s,
        idle,
        achieved_orders_per_s: achieved,
        warehouse_round_trip_ms,
        daemon_peak_rss_mib,
        daemon_phases,
    })
}

/// Freshness of orders placed one at a time with nothing else running (one pgbench client at
/// a few orders a second).
async fn idle_baseline(
    pair: &DbPair,
    oltp: &Client,
    olap: &Client,
    process: &mut DaemonProcess,
) -> Result<Percentiles, BenchError> {
    let from = now(oltp).await?;
    pgbench_at(&pair.config, oltp, Workload::Orders, 1, IDLE_FOR, Some(IDLE_RATE), Protocol::Prepared).await?;
    catch_up(oltp, olap, process).await?;
    percentiles(olap, from, ORDER_LAGS).await
}

/// The mean of 200 `select 1` round trips.
async fn round_trip_ms(olap: &Client) -> Result<f64, BenchError> {
    let started = Instant::now();
    for _ in 0..200 {
        olap.query_one("select 1", &[]).await?;
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0 / 200.0)
}

async fn now(oltp: &Client) -> Result<DateTime<Utc>, BenchError> {
    Ok(oltp.query_one("select clock_timestamp()", &[]).await?.get(0))
}

/// Wait until every change committed so far is applied.
async fn catch_up(oltp: &Client, olap: &Client, process: &mut DaemonProcess) -> Result<Instant, BenchError> {
    let target: i64 = oltp.query_one("select count(*) from cdc_orders", &[]).await?.get(0);
    daemon::wait_applied(olap, process, target, CATCH_UP).await
}

/// `loaded_at - changed_at` of the order and line rows written since `$1`.
const ORDER_LAGS: &str = "select extract(epoch from loaded_at - changed_at)::float8 * 1000 as lag
                          from fact_orders where changed_at >= $1
                          union all
                          select extract(epoch from loaded_at - changed_at)::float8 * 1000
                          from fact_sales where changed_at >= $1";

/// The same of the app event rows.
const EVENT_LAGS: &str = "select extract(epoch from loaded_at - changed_at)::float8 * 1000 as lag
                          from fact_app_events where changed_at >= $1";

async fn count_events(oltp: &Client) -> Result<i64, BenchError> {
    Ok(oltp.query_one("select count(*) from app_events", &[]).await?.get(0))
}

/// Commit→applied percentiles of the rows `lags` selects.
async fn percentiles(olap: &Client, from: DateTime<Utc>, lags: &str) -> Result<Percentiles, BenchError> {
    let sql = format!(
        "select coalesce(percentile_cont(array[0.5, 0.95, 0.99]) within group (order by lag), array[0, 0, 0]),
                count(*)
         from ({lags}) as l"
    );
    let row = olap.query_one(&sql, &[&from]).await?;
    let p: Vec<f64> = row.get(0);
    Ok(Percentiles { p50: p[0], p95: p[1], p99: p[2], samples: row.get(1) })
}
