//! Drain: N orders written to OLTP while the daemon is stopped, then the real daemon binary
//! drains the backlog. Judged against the physical limit measured just before on the same data:
//! COPY the change rows out of `cdc_orders` plus COPY the resulting fact rows into empty copies
//! of the fact tables.

use std::{
    path::Path,
    pin::pin,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, TryStreamExt};
use tokio_postgres::Client;

use serde::Serialize;

use super::{
    bulk,
    daemon::{self, DaemonProcess, DaemonSettings, PhaseTime},
    env::{BenchEnv, DbPair},
    report::{Figure, Goal, ScenarioResult},
    scratch::Scratch,
    BenchError,
};

/// The reader's own projection of `cdc_orders` (see `cdc::stream::source`).
const CHANGES_OUT: &str = "copy (select id, txid::text::int8, table_name, op, row_id, before::text, after::text,
                                        changed_at from cdc_orders order by txid, id) to stdout";

/// (fact table, OLTP query producing rows of its shape).
const FACTS: [(&str, &str); 3] = [
    (
        "fact_orders",
        "select o.id, o.customer_id, o.employee_id, o.store_id, 20260101, 600, o.store_id, o.customer_id,
                coalesce(o.employee_id, 0), o.order_time, o.status, o.total, false, now(), o.id, now()
         from orders o",
    ),
    (
        "fact_sales",
        "select i.id, i.order_id, i.product_id, 20260101, 600, o.store_id, o.customer_id, coalesce(o.employee_id, 0),
                i.product_id, i.quantity, i.price, i.quantity * i.price, o.status, o.order_time, false, now(), i.id,
                now()
         from order_items i join orders o on o.id = i.order_id",
    ),
    (
        "fact_payments",
        "select p.id, p.order_id, 20260101, 600, 1, 1, p.amount, p.method, p.paid_at, false, now(), p.id, now()
         from payments p",
    ),
];

/// One drain of the backlog by the daemon.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DrainRun {
    pub settings: DaemonSettings,
    pub seconds: f64,
    pub change_rows_per_s: f64,
    pub fact_rows_per_s: f64,
    pub peak_rss_mib: f64,
    pub verify_clean: bool,
    pub phases: Vec<PhaseTime>,
}

/// Run the drain scenario at `scale` orders; with `olap_url`, the same backlog also into a scratch
/// warehouse beside that one (a Citus cluster), judged against the plain drains of the same run
/// that bracket it.
pub(super) async fn run(
    env: &BenchEnv,
    scale: i64,
    daemon_bin: &Path,
    settings: DaemonSettings,
    log_dir: &Path,
    olap_url: Option<&str>,
) -> Result<ScenarioResult, BenchError> {
    let pair = env.fresh_pair("drain").await?;
    let mut oltp = pair.oltp().await?;
    let generated = bulk::generate(&mut oltp, scale, bulk::Capture::On).await?;
    let changes: i64 = oltp.query_one("select count(*) from cdc_orders", &[]).await?.get(0);
    tracing::info!(orders = scale, changes, seconds = generated.elapsed.as_secs_f64(), "backlog written");
    // The same backlog three more times: what maintaining the rollups costs is measured by drains
    // with and without them in the order on, off, off, on, so that a drift of the machine over
    // the four (a checkpoint, the page cache, a neighbour) falls on both sides alike.
    drop(oltp);
    let unrolled = [env.copy_pair(&pair, "drain_rollups_off").await?, env.copy_pair(&pair, "drain_rollups_off").await?];
    let again = env.copy_pair(&pair, "drain_rollups_on").await?;
    let mut elsewhere = match olap_url {
        Some(_) => Some(env.copy_pair(&pair, "drain_elsewhere").await?),
        None => None,
    };
    let oltp = pair.oltp().await?;

    oltp.batch_execute("checkpoint").await?;
    let limit = physical_limit(&pair, &oltp, &pair.olap().await?).await?;
    let limit_rate = changes as f64 / limit.total().as_secs_f64();

    let main = &drain_once(&pair, changes, daemon_bin, settings, &log_dir.join("daemon-drain.log")).await?;
    let off = DaemonSettings { rollups: false, ..settings };
    let mut without = Vec::new();
    let mut other = None;
    for (i, unrolled) in unrolled.iter().enumerate() {
        let log = log_dir.join(format!("daemon-drain-rollups-off-{}.log", i + 1));
        without.push(drain_once(unrolled, changes, daemon_bin, off, &log).await?);
        // The drain elsewhere runs midway, so that the two plain drains with the rollups (the
        // first and the last) bracket it and a drift of the machine falls on both sides alike.
        if let (0, Some(pair), Some(url)) = (i, elsewhere.take(), olap_url) {
            other = Some(drain_elsewhere(pair, url, changes, daemon_bin, settings, log_dir).await?);
        }
    }
    let second = drain_once(&again, changes, daemon_bin, settings, &log_dir.join("daemon-drain-2.log")).await?;
    let (on_seconds, off_seconds) = (main.seconds + second.seconds, without.iter().map(|r| r.seconds).sum::<f64>());
    let rollups_cost = 1.0 - off_seconds / on_seconds.max(1e-9);
    let off_rate = 2.0 * changes as f64 / off_seconds.max(1e-9);
    let on_rate = 2.0 * changes as f64 / on_seconds.max(1e-9);
    let ratio = main.change_rows_per_s / limit_rate;
    let mut figures = vec![
        Figure::new("orders in the backlog", scale as f64, "orders"),
        Figure::new("change rows", changes as f64, "rows"),
        Figure::new("drain time", main.seconds, "s"),
        Figure::new("change rows/s", main.change_rows_per_s, "rows/s"),
        Figure::new("fact rows/s", main.fact_rows_per_s, "rows/s"),
        Figure::new("daemon peak RSS (VmHWM)", main.peak_rss_mib, "MiB"),
        Figure::new("change rows/s, the second drain with the rollups", second.change_rows_per_s, "rows/s"),
        Figure::new("change rows/s with the rollups off (same backlog, two drains)", off_rate, "rows/s"),
        Figure::new("what maintaining the rollups costs (share of throughput, on off off on)", rollups_cost, "x"),
    ];
    let mut goals = vec![
        Goal::new("ratio >= 0.65", ratio >= 0.65),
        Goal::new(">= 100k change rows/s", main.change_rows_per_s >= 100_000.0),
        Goal::new("peak RSS <= 64 MiB", main.peak_rss_mib <= 64.0),
        Goal::new("verify clean after the drain", main.verify_clean),
        Goal::new("the rollups cost <= 15% of drain throughput", rollups_cost <= 0.15),
    ];
    if let Some(other) = &other {
        let versus_plain = other.change_rows_per_s / on_rate.max(1e-9);
        figures.push(Figure::new("change rows/s into --olap-url (same backlog)", other.change_rows_per_s, "rows/s"));
        figures.push(Figure::new("plain PostgreSQL, both drains with the rollups (change rows/s)", on_rate, "rows/s"));
        figures.push(Figure::new("ratio --olap-url / plain PostgreSQL (change rows/s)", versus_plain, "x"));
        goals.push(Goal::new("--olap-url drains >= 0.5 x plain PostgreSQL", versus_plain >= 0.5));
        goals.push(Goal::new("verify clean after the --olap-url drain", other.verify_clean));
    }
    Ok(ScenarioResult {
        scenario: "drain",
        figures,
        baseline: Figure::new("COPY out + COPY in (limit)", limit_rate, "rows/s"),
        ratio,
        ratio_of: "change rows/s / limit".into(),
        goals,
        details: serde_json::json!({
            "generate_seconds": generated.elapsed.as_secs_f64(),
            "limit_copy_out_seconds": limit.copy_out.as_secs_f64(),
            "limit_copy_out_bytes": limit.bytes_out,
            "limit_copy_in_seconds": limit.copy_in.as_secs_f64(),
            "limit_fact_rows": limit.fact_rows,
            "run": main,
            "run_rollups_off": without,
            "run_rollups_on_again": second,
            "run_olap_url": other,
        }),
    })
}

/// Drain `pair`'s backlog into a scratch warehouse beside `url`'s, then drop it.
async fn drain_elsewhere(
    mut pair: DbPair,
    url: &str,
    changes: i64,
    daemon_bin: &Path,
    settings: DaemonSettings,
    log_dir: &Path,
) -> Result<DrainRun, BenchError> {
    let scratch = Scratch::migrated(url, "drain").await?;
    pair.olap_dsn = scratch.dsn.clone();
    let run = drain_once(&pair, changes, daemon_bin, settings, &log_dir.join("daemon-drain-olap-url.log")).await;
    scratch.drop_all().await?;
    run
}

/// Start the daemon on `pair`, wait until it has applied `changes`, stop it.
async fn drain_once(
    pair: &DbPair,
    changes: i64,
    daemon_bin: &Path,
    settings: DaemonSettings,
    log: &Path,
) -> Result<DrainRun, BenchError> {
    let (mut oltp, mut olap) = (pair.oltp().await?, pair.olap().await?);
    oltp.batch_execute("checkpoint").await?;
    let started = Instant::now();
    let mut process = DaemonProcess::start(daemon_bin, pair, &settings, log)?;
    let deadline = Duration::from_secs(600).max(Duration::from_millis(changes as u64 / 5));
    let done = daemon::wait_applied(&olap, &mut process, changes, deadline).await?;
    let seconds = done.duration_since(started).as_secs_f64();
    let peak_rss_mib = process.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
    let phases = process.phases().await.unwrap_or_default();
    process.stop().await?;
    let facts: i64 = olap
        .query_one(
            "select (select count(*) from fact_orders) + (select count(*) from fact_sales)
                  + (select count(*) from fact_payments) + (select count(*) from fact_inventory)",
            &[],
        )
        .await?
        .get(0);
    let verify_clean = matches!(
        crate::cdc::reconcile::verify(&mut oltp, &mut olap).await?,
        crate::cdc::reconcile::Outcome::Compared { report, .. } if report.is_clean()
    );
    Ok(DrainRun {
        settings,
        seconds,
        change_rows_per_s: changes as f64 / seconds,
        fact_rows_per_s: facts as f64 / seconds,
        peak_rss_mib,
        verify_clean,
        phases,
    })
}

/// The physical limit's parts.
struct Limit {
    copy_out: Duration,
    bytes_out: u64,
    copy_in: Duration,
    fact_rows: u64,
}

impl Limit {
    fn total(&self) -> Duration {
        self.copy_out + self.copy_in
    }
}

async fn physical_limit(pair: &DbPair, oltp: &Client, olap: &Client) -> Result<Limit, BenchError> {
    let started = Instant::now();
    let mut bytes_out = 0u64;
    {
        let mut stream = pin!(oltp.copy_out(CHANGES_OUT).await?);
        while let Some(chunk) = stream.try_next().await? {
            bytes_out += chunk.len() as u64;
        }
    }
    let copy_out = started.elapsed();

    let source = pair.oltp().await?;
    let mut fact_rows = 0;
    let mut copy_in = Duration::ZERO;
    for (table, query) in FACTS {
        let copy = format!("bench_limit_{table}");
        olap.batch_execute(&format!("drop table if exists {copy}; create table {copy} (like {table} including all)"))
            .await?;
        let started = Instant::now();
        let mut rows = pin!(source.copy_out(&format!("copy ({query}) to stdout")).await?);
        let mut sink = pin!(olap.copy_in(&format!("copy {copy} from stdin")).await?);
        while let Some(chunk) = rows.try_next().await? {
            sink.feed(chunk).await?;
        }
        fact_rows += sink.as_mut().finish().await?;
        copy_in += started.elapsed();
        olap.batch_execute(&format!("drop table {copy}")).await?;
    }
    Ok(Limit { copy_out, bytes_out, copy_in, fact_rows })
}
