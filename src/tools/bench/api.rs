//! Order API throughput: orders/s through `POST /orders/new` while p99 stays under a target,
//! against `pgbench` running the same order transaction in SQL (`bench/order.sql`) on the same
//! database in the same run. The gap between the two is the cost of HTTP, JSON and validation.
//!
//! The API runs in-process on a free loopback port. For each concurrency level, that many closed-
//! loop clients place generator-drawn orders ([`crate::shop::draft_order`]) for
//! `step_duration`; the best level is the one with the most orders/s whose p99 is under target.
//! Run it against a seeded, durable database (never the tests' fsync=off cluster).

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use super::{workload::Workload, BenchError};
use crate::{
    api,
    config::{Config, Db},
    db,
    shop::{draft_order, Catalog},
};

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct ApiBenchOptions {
    /// Closed-loop client counts to try, in order.
    pub concurrency: Vec<usize>,
    /// How long each level (and pgbench) runs.
    pub step_duration: Duration,
    /// The p99 latency a level must stay under to count.
    pub p99_target: Duration,
}

impl Default for ApiBenchOptions {
    fn default() -> Self {
        ApiBenchOptions {
            concurrency: vec![1, 2, 4, 8, 16, 32],
            step_duration: Duration::from_secs(10),
            p99_target: Duration::from_millis(50),
        }
    }
}

/// One concurrency level's result.
#[derive(Debug, Clone, Copy)]
pub struct ApiStep {
    pub concurrency: usize,
    pub orders_per_s: f64,
    pub failed: u64,
    pub p50: Duration,
    pub p99: Duration,
}

/// The benchmark's figures.
#[derive(Debug, Clone)]
pub struct ApiBenchFigures {
    pub steps: Vec<ApiStep>,
    /// The level with the most orders/s and p99 under target, if any.
    pub best: Option<ApiStep>,
    /// Transactions/s of `bench/order.sql` under pgbench, at the best level's client count.
    pub pgbench_tps: f64,
    pub pgbench_clients: usize,
}

/// Run the benchmark; see the module docs. Seeds the database first (idempotent).
pub async fn bench_api(config: &Config, opts: &ApiBenchOptions) -> Result<ApiBenchFigures, BenchError> {
    let mut client = db::connect(config, Db::Oltp).await?;
    crate::tools::seed::seed(&mut client).await?;
    let catalog = Arc::new(Catalog::load(&client).await?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let stop = CancellationToken::new();
    let server = {
        let (config, shutdown) = (config.clone(), stop.clone().cancelled_owned());
        tokio::spawn(async move { api::serve(&config, listener, shutdown).await })
    };
    let mut steps = Vec::new();
    for &concurrency in &opts.concurrency {
        steps.push(api_step(&base, &catalog, concurrency, opts.step_duration).await);
    }
    stop.cancel();
    let _ = server.await;
    let best = steps
        .iter()
        .filter(|s| s.p99 < opts.p99_target && s.failed == 0)
        .max_by(|a, b| a.orders_per_s.total_cmp(&b.orders_per_s))
        .copied();
    let pgbench_clients = best.map_or(8, |b| b.concurrency);
    let pgbench_tps = pgbench(config, &client, Workload::Orders, pgbench_clients, opts.step_duration).await?;
    Ok(ApiBenchFigures { steps, best, pgbench_tps, pgbench_clients })
}

/// `concurrency` clients placing orders back to back for `duration`.
async fn api_step(base: &str, catalog: &Arc<Catalog>, concurrency: usize, duration: Duration) -> ApiStep {
    let http = reqwest::Client::new();
    let start = Instant::now();
    let mut clients = JoinSet::new();
    for _ in 0..concurrency {
        let (http, catalog, url) = (http.clone(), catalog.clone(), format!("{base}/orders/new"));
        clients.spawn(async move {
            let mut rng: rand::rngs::StdRng = rand::make_rng();
            let (mut latencies, mut failed) = (Vec::new(), 0u64);
            while start.elapsed() < duration {
                let Some(order) = draft_order(&catalog, 9, &mut rng) else { break };
                let sent = Instant::now();
                match http.post(&url).json(&order).send().await {
                    Ok(r) if r.status().is_success() => latencies.push(sent.elapsed()),
                    _ => failed += 1,
                }
            }
            (latencies, failed)
        });
    }
    let (mut latencies, mut failed) = (Vec::new(), 0);
    while let Some(Ok((l, f))) = clients.join_next().await {
        latencies.extend(l);
        failed += f;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |q: f64| latencies.get(((q * latencies.len() as f64).ceil() as usize).saturating_sub(1)).copied();
    ApiStep {
        concurrency,
        orders_per_s: latencies.len() as f64 / elapsed,
        failed,
        p50: pct(0.50).unwrap_or_default(),
        p99: pct(0.99).unwrap_or_default(),
    }
}

/// How pgbench sends its statements (`-M`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// Parsed and planned once per connection (the API's driver does the same).
    Prepared,
    /// Each statement sent as text (pgbench's default, and any client without prepared statements).
    Simple,
}

impl Protocol {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Prepared => "prepared",
            Protocol::Simple => "simple",
        }
    }
}

/// Run `workload` under pgbench (prepared protocol) and return its tps (script executions per second).
pub(crate) async fn pgbench(
    config: &Config,
    client: &tokio_postgres::Client,
    workload: Workload,
    clients: usize,
    duration: Duration,
) -> Result<f64, BenchError> {
    pgbench_at(config, client, workload, clients, duration, None, Protocol::Prepared).await
}

/// [`pgbench`] throttled to `rate` transactions per second in all (`pgbench -R`), when given,
/// with `protocol`.
pub(crate) async fn pgbench_at(
    config: &Config,
    client: &tokio_postgres::Client,
    workload: Workload,
    clients: usize,
    duration: Duration,
    rate: Option<f64>,
    protocol: Protocol,
) -> Result<f64, BenchError> {
    let counts = client
        .query_one(
            "select (select count(*) from customers), (select count(distinct store_id) from employees where active),
                    (select count(*) from products where active)",
            &[],
        )
        .await?;
    let (customers, stores, products): (i64, i64, i64) = (counts.get(0), counts.get(1), counts.get(2));
    let script = workload.script();
    let target = config.target(Db::Oltp).map_err(db::DbError::from)?;
    let mut cmd = tokio::process::Command::new(pgbench_binary());
    cmd.args(["-n", "-M", protocol.name(), "-j", "2"])
        .args(["-c", &clients.to_string(), "-T", &duration.as_secs().max(1).to_string()])
        .args(["-D", &format!("customers={customers}"), "-D", &format!("stores={stores}")])
        .args(["-D", &format!("products={products}"), "-f"])
        .arg(&script)
        .kill_on_drop(true);
    if let Some(rate) = rate {
        cmd.args(["-R", &format!("{rate}")]);
    }
    set_libpq_env(&mut cmd, &target.pg);
    let out = cmd.output().await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(BenchError::Pgbench(format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr))));
    }
    parse_tps(&stdout).ok_or_else(|| BenchError::Pgbench(format!("no tps in its output: {stdout}")))
}

/// `pgbench` on PATH, else beside the PostgreSQL server binaries.
fn pgbench_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("pgbench")).find(|b| b.is_file()));
    let beside_server = || crate::tools::cluster::find_bin_dir().map(|d| d.join("pgbench")).filter(|b| b.is_file());
    on_path.or_else(beside_server).unwrap_or_else(|| PathBuf::from("pgbench"))
}

/// PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE from a connection config.
fn set_libpq_env(cmd: &mut tokio::process::Command, pg: &tokio_postgres::Config) {
    if let Some(host) = pg.get_hosts().first() {
        let host = match host {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        };
        cmd.env("PGHOST", host);
    }
    if let Some(port) = pg.get_ports().first() {
        cmd.env("PGPORT", port.to_string());
    }
    if let Some(user) = pg.get_user() {
        cmd.env("PGUSER", user);
    }
    if let Some(password) = pg.get_password() {
        cmd.env("PGPASSWORD", String::from_utf8_lossy(password).into_owned());
    }
    if let Some(dbname) = pg.get_dbname() {
        cmd.env("PGDATABASE", dbname);
    }
}

/// The `tps = N (without initial connection time)` figure of pgbench's report.
fn parse_tps(report: &str) -> Option<f64> {
    report
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tps_is_read_from_the_report() {
        let report = "latency average = 2.1 ms\ninitial connection time = 3.2 ms\ntps = 3781.512 (without initial connection time)\n";
        assert_eq!(super::parse_tps(report), Some(3781.512));
        assert_eq!(super::parse_tps("nothing"), None);
    }
}
