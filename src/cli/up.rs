//! `brewlytics up`: the whole system in one process. With no database configured it runs a
//! private PostgreSQL under `.brewlytics/` (kept between runs; `--reset` wipes it), migrates and
//! seeds both databases, starts the order API, the analytics service (read API and live page), the
//! CDC daemon with its metrics endpoint and the order generator, prints where everything is and one
//! status line per second. On SIGINT or SIGTERM it stops in order: generator, API, analytics, daemon
//! (after its in-flight batch), PostgreSQL.
//!
//! Least privilege: the configured (owning) user only migrates and creates the roles; the API
//! connects as `brewlytics_api`, the analytics service as `analytics_reader` and the daemon as `brewlytics_cdc`, with their passwords
//! (`API_DB_PASSWORD`, `CDC_DB_PASSWORD`).

use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use brewlytics::{
    analytics, api, cdc,
    config::Config,
    db::{self, Db, Role},
    telemetry,
    tools::{
        cluster::{ClusterOptions, PrivateCluster},
        load::{self, LoadOptions},
        seed,
    },
};

/// Options of `brewlytics up`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct UpOptions {
    /// Orders per second from the built-in generator (0 = none).
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Wipe the private PostgreSQL in BREWLYTICS_HOME before starting.
    #[arg(long)]
    pub reset: bool,
}

/// Run everything until `shutdown`.
pub(crate) async fn up(config: Config, opts: UpOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (config, cluster) = database(config, &opts).await?;
    prepare(&config).await?;
    let api_listener = tokio::net::TcpListener::bind(config.api_addr)
        .await
        .with_context(|| format!("API_ADDR {} cannot be bound (is another `up` running?)", config.api_addr))?;
    let metrics_listener = tokio::net::TcpListener::bind(config.metrics_addr)
        .await
        .with_context(|| format!("METRICS_ADDR {} cannot be bound", config.metrics_addr))?;
    let analytics_listener = tokio::net::TcpListener::bind(config.analytics_addr)
        .await
        .with_context(|| format!("ANALYTICS_ADDR {} cannot be bound", config.analytics_addr))?;
    let api_url = format!("http://{}", api_listener.local_addr()?);
    let analytics_url = format!("http://{}", analytics_listener.local_addr()?);
    let metrics_url = format!("http://{}/metrics", metrics_listener.local_addr()?);

    let (api_stop, daemon_stop, load_stop) =
        (CancellationToken::new(), CancellationToken::new(), CancellationToken::new());
    let analytics_stop = CancellationToken::new();
    let analytics = tokio::spawn({
        let (config, stop) = (config.clone(), analytics_stop.clone());
        async move {
            analytics::serve(&config, analytics_listener, stop.cancelled_owned()).await.map_err(anyhow::Error::from)
        }
    });
    let api = tokio::spawn({
        let (config, stop) = (Role::Api.config(&config), api_stop.clone());
        async move { api::serve(&config, api_listener, stop.cancelled_owned()).await.map_err(anyhow::Error::from) }
    });
    telemetry::metrics_handle();
    let metrics = tokio::spawn(telemetry::serve_metrics(metrics_listener, daemon_stop.clone().cancelled_owned()));
    let daemon = tokio::spawn({
        let (config, stop) = (Role::Cdc.config(&config), daemon_stop.clone());
        async move { cdc::run(&config, stop).await }
    });
    let generator = start_generator(&opts, &api_url, &config, &load_stop);

    print_banner(&config, &Urls { api: &api_url, analytics: &analytics_url, metrics: &metrics_url }, opts.rate);
    status_lines(&config, &shutdown).await;

    println!("stopping: generator, API, analytics, CDC daemon, PostgreSQL");
    load_stop.cancel();
    if let Some(g) = generator {
        let _ = g.await;
    }
    api_stop.cancel();
    api.await.context("the API task")??;
    analytics_stop.cancel();
    analytics.await.context("the analytics task")??;
    daemon_stop.cancel();
    daemon.await.context("the CDC daemon task")?;
    metrics.abort();
    drop(cluster);
    println!("stopped; data is kept for the next `brewlytics up`");
    Ok(())
}

/// The configured databases, or a private cluster in BREWLYTICS_HOME.
async fn database(config: Config, opts: &UpOptions) -> anyhow::Result<(Config, Option<PrivateCluster>)> {
    if !config.uses_private_cluster() {
        println!("using the configured databases");
        return Ok((config, None));
    }
    let dir = config.home.clone();
    if opts.reset && dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    println!("starting a private PostgreSQL in {} …", dir.display());
    let (oltp, olap) = (config.oltp_db.clone(), config.olap_db.clone());
    let cluster = tokio::task::spawn_blocking(move || -> anyhow::Result<PrivateCluster> {
        let cluster =
            PrivateCluster::start(ClusterOptions { dir, durable: true, remove_on_drop: false, ..Default::default() })?;
        cluster.create_database(&oltp)?;
        cluster.create_database(&olap)?;
        Ok(cluster)
    })
    .await??;
    let state = cluster.state.clone();
    let config = config.with_private_cluster(|db| state.dsn(db));
    Ok((config, Some(cluster)))
}

/// Migrate, create the roles, seed.
async fn prepare(config: &Config) -> anyhow::Result<()> {
    let mut oltp = db::connect(config, Db::Oltp).await?;
    let mut olap = db::connect(config, Db::Olap).await?;
    db::migrate(&mut oltp, Db::Oltp).await?;
    db::migrate(&mut olap, Db::Olap).await?;
    db::apply_roles(&oltp, &olap, config).await?;
    let report = seed::seed(&mut oltp).await?;
    println!("reference data: {report}");
    Ok(())
}

fn start_generator(
    opts: &UpOptions,
    api_url: &str,
    config: &Config,
    stop: &CancellationToken,
) -> Option<JoinHandle<()>> {
    if opts.rate <= 0.0 {
        return None;
    }
    let load = LoadOptions {
        rate: opts.rate,
        duration: Duration::from_secs(365 * 86_400),
        api: Some(api_url.to_string()),
        concurrency: 16,
        api_key: config.api_key.clone(),
    };
    let stop = stop.clone();
    Some(tokio::spawn(async move {
        if let Err(error) = load::run_load(&load, stop).await {
            tracing::error!(error = %telemetry::Chain(&error), "the order generator stopped");
        }
    }))
}

/// Where the services listen.
struct Urls<'a> {
    api: &'a str,
    analytics: &'a str,
    metrics: &'a str,
}

fn print_banner(config: &Config, urls: &Urls<'_>, rate: f64) {
    let dsn = |db| config.target(db).map(|t| t.redacted()).unwrap_or_default();
    let Urls { api, analytics, metrics } = urls;
    println!("brewlytics is up");
    println!("  order API      {api}  (try {api}/openapi.json)");
    println!("  live page      {analytics}/  (analytics API docs: {analytics}/docs)");
    println!("  CDC metrics    {metrics}");
    println!("  OLTP database  {}", dsn(Db::Oltp));
    println!("  OLAP database  {}   (point psql or Metabase here)", dsn(Db::Olap));
    println!(
        "  runs as        API {}, CDC daemon {}, analytics {}",
        Role::Api.name(),
        Role::Cdc.name(),
        Role::Reader.name()
    );
    // Only the private cluster's DSN is printed: a configured one may hold a password.
    if let Some(url) = config.olap_database_url.as_ref().filter(|_| config.private_cluster) {
        println!("  psql \"{}\" -c 'select count(*) from fact_sales'", url.expose());
    }
    println!("  generator      {rate} orders/s   (Ctrl-C stops everything)");
}

/// One line per second until shutdown: orders/s, changes/s, freshness p99, backlog, dead letters.
async fn status_lines(config: &Config, shutdown: &CancellationToken) {
    let mut last: Option<(Instant, i64, i64)> = None;
    let mut conns: Option<(Client, Client)> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if conns.is_none() {
            conns = match (db::connect(config, Db::Oltp).await, db::connect(config, Db::Olap).await) {
                (Ok(a), Ok(b)) => Some((a, b)),
                _ => None,
            };
        }
        let Some((oltp, olap)) = &conns else { continue };
        match status_line(oltp, olap, &mut last).await {
            Ok(line) => println!("{line}"),
            Err(error) => {
                println!("status unavailable: {error}");
                conns = None;
            }
        }
    }
}

async fn status_line(oltp: &Client, olap: &Client, last: &mut Option<(Instant, i64, i64)>) -> anyhow::Result<String> {
    let status = cdc::ops::status::status(oltp, olap).await?;
    if let Some(p) = status.snapshot.as_ref().filter(|p| p.state != "done") {
        return Ok(crate::commands::progress_line(p));
    }
    let orders: i64 = oltp.query_one("select coalesce(max(id), 0)::int8 from orders", &[]).await?.get(0);
    let p99: Option<f64> = olap
        .query_one(
            "select (percentile_cont(0.99) within group (order by extract(epoch from loaded_at - changed_at)))::float8
             from fact_sales where loaded_at > now() - interval '10 seconds' and src_id > 0",
            &[],
        )
        .await?
        .get(0);
    let now = Instant::now();
    let (orders_rate, changes_rate) = match *last {
        Some((t, o, c)) => {
            let s = now.duration_since(t).as_secs_f64().max(1e-3);
            ((orders - o) as f64 / s, (status.applied_changes - c) as f64 / s)
        }
        None => (0.0, 0.0),
    };
    *last = Some((now, orders, status.applied_changes));
    let fresh = p99.map(|s| format!("{:.0} ms", s * 1e3)).unwrap_or_else(|| "-".into());
    Ok(format!(
        "orders/s {orders_rate:6.1} | changes/s {changes_rate:7.1} | freshness p99 {fresh:>7} | backlog {} | dead letters {}",
        status.backlog, status.dead_letters
    ))
}
