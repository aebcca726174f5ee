//! The snapshot scenario: an OLTP database holding `scale` orders that `cdc_orders` never saw
//! (capture bypassed, as in a restored or pre-capture database), a new warehouse, and the real
//! daemon's initial snapshot of it. Baseline, same run, as the drain scenario defines its limit:
//! COPY of the same source tables out of OLTP (read to the end) plus COPY of them into empty
//! copies (with their keys and indexes), piped from another COPY out, table by table.

use std::{
    path::Path,
    pin::pin,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, TryStreamExt};
use serde::Serialize;

use super::{
    bulk,
    daemon::{DaemonProcess, DaemonSettings},
    env::{BenchEnv, DbPair},
    report::{Figure, Goal, ScenarioResult},
    scratch::Scratch,
    BenchError,
};

/// The OLTP tables a snapshot reads: every captured table.
fn sources() -> impl Iterator<Item = &'static str> {
    crate::tables::sources().map(|(_, s)| s.name)
}

/// One snapshot run's figures.
#[derive(Debug, Clone, Serialize)]
struct SnapshotRun {
    seconds: f64,
    source_rows: i64,
    rows_per_s: f64,
    peak_rss_mib: f64,
    verify_clean: bool,
    /// Per OLTP table, in load order: rows, and seconds since the previous table finished.
    tables: Vec<(String, i64, f64)>,
}

/// Run the snapshot scenario at `scale` orders; with `olap_url`, the same data also into a scratch
/// warehouse beside that one (a Citus cluster), judged against the plain snapshot of the same run.
pub(super) async fn run(
    env: &BenchEnv,
    scale: i64,
    daemon_bin: &Path,
    settings: DaemonSettings,
    log_dir: &Path,
    olap_url: Option<&str>,
) -> Result<ScenarioResult, BenchError> {
    let pair = env.fresh_pair("snapshot").await?;
    let mut oltp = pair.oltp().await?;
    let generated = bulk::generate(&mut oltp, scale, bulk::Capture::Bypassed).await?;
    let lines: i64 = oltp.query_one("select count(*) from order_items", &[]).await?.get(0);
    tracing::info!(orders = scale, lines, seconds = generated.elapsed.as_secs_f64(), "existing data written");
    oltp.batch_execute("vacuum analyze").await?;
    oltp.batch_execute("checkpoint").await?;
    let limit = copy_limit(&pair).await?;
    let limit_rate = limit.rows as f64 / (limit.copy_out + limit.copy_in).as_secs_f64();
    let settings = DaemonSettings { initial_snapshot: true, ..settings };
    // The same data for the snapshot into --olap-url (a copy: no session may be open on it).
    drop(oltp);
    let elsewhere = match olap_url {
        Some(_) => Some(env.copy_pair(&pair, "snapshot_elsewhere").await?),
        None => None,
    };
    let run = snapshot_once(&pair, daemon_bin, &settings, &log_dir.join("daemon-snapshot.log")).await?;
    let ratio = run.rows_per_s / limit_rate;
    let other = match (elsewhere, olap_url) {
        (Some(pair), Some(url)) => Some(snapshot_elsewhere(pair, url, daemon_bin, &settings, log_dir).await?),
        _ => None,
    };
    let mut result = ScenarioResult {
        scenario: "snapshot",
        figures: vec![
            Figure::new("orders in OLTP", scale as f64, "orders"),
            Figure::new("order lines", lines as f64, "rows"),
            Figure::new("source rows read", run.source_rows as f64, "rows"),
            Figure::new("snapshot time", run.seconds, "s"),
            Figure::new("source rows/s", run.rows_per_s, "rows/s"),
            Figure::new("daemon peak RSS (VmHWM)", run.peak_rss_mib, "MiB"),
        ],
        baseline: Figure::new("COPY out + COPY in of the same tables", limit_rate, "rows/s"),
        ratio,
        ratio_of: "source rows/s / COPY rows/s".into(),
        goals: vec![
            Goal::new("ratio >= 0.6", ratio >= 0.6),
            Goal::new("peak RSS <= 64 MiB", run.peak_rss_mib <= 64.0),
            Goal::new("verify clean after the snapshot", run.verify_clean),
        ],
        details: serde_json::json!({
            "generate_seconds": generated.elapsed.as_secs_f64(),
            "limit_rows": limit.rows,
            "limit_copy_out_seconds": limit.copy_out.as_secs_f64(),
            "limit_copy_in_seconds": limit.copy_in.as_secs_f64(),
            "pipelined_copy_rows_per_s": limit.rows as f64 / limit.copy_in.as_secs_f64(),
            "run": run,
            "run_olap_url": other,
        }),
    };
    if let Some(other) = &other {
        let versus_plain = other.rows_per_s / run.rows_per_s.max(1e-9);
        result.figures.push(Figure::new("source rows/s into --olap-url (same data)", other.rows_per_s, "rows/s"));
        result.figures.push(Figure::new("ratio --olap-url / plain PostgreSQL (source rows/s)", versus_plain, "x"));
        result.goals.push(Goal::new("verify clean after the --olap-url snapshot", other.verify_clean));
    }
    Ok(result)
}

/// Snapshot `pair`'s OLTP into a scratch warehouse beside `url`'s, then drop it.
async fn snapshot_elsewhere(
    mut pair: DbPair,
    url: &str,
    daemon_bin: &Path,
    settings: &DaemonSettings,
    log_dir: &Path,
) -> Result<SnapshotRun, BenchError> {
    let scratch = Scratch::migrated(url, "snapshot").await?;
    pair.olap_dsn = scratch.dsn.clone();
    let run = snapshot_once(&pair, daemon_bin, settings, &log_dir.join("daemon-snapshot-olap-url.log")).await;
    scratch.drop_all().await?;
    run
}

/// Start the daemon on the new warehouse, wait for its initial snapshot job to finish, stop it.
async fn snapshot_once(
    pair: &DbPair,
    daemon_bin: &Path,
    settings: &DaemonSettings,
    log: &Path,
) -> Result<SnapshotRun, BenchError> {
    let (mut oltp, mut olap) = (pair.oltp().await?, pair.olap().await?);
    let started = Instant::now();
    let mut process = DaemonProcess::start(daemon_bin, pair, settings, log)?;
    let deadline = Duration::from_secs(1800);
    loop {
        let done = olap
            .query_opt("select 1 from cdc_snapshot where kind = 'initial' and state = 'done'", &[])
            .await?
            .is_some();
        if done {
            break;
        }
        process.check_alive()?;
        if started.elapsed() > deadline {
            return Err(BenchError::Timeout { what: "the initial snapshot", seconds: deadline.as_secs() });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_mib = process.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
    process.stop().await?;
    let source_rows: i64 = olap
        .query_one(
            "select (coalesce(sum(rows_total), 0))::int8 from cdc_snapshot_table
             where job_id = (select max(job_id) from cdc_snapshot)",
            &[],
        )
        .await?
        .get(0);
    let tables = olap
        .query(
            "select t.source, t.rows_total,
                    extract(epoch from t.finished_at - lag(t.finished_at, 1, j.started_at) over (order by t.finished_at))::float8
             from cdc_snapshot_table t join cdc_snapshot j using (job_id)
             where job_id = (select max(job_id) from cdc_snapshot) order by t.finished_at",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get::<_, Option<f64>>(2).unwrap_or(0.0)))
        .collect();
    let verify_clean = matches!(
        crate::cdc::reconcile::verify(&mut oltp, &mut olap).await?,
        crate::cdc::reconcile::Outcome::Compared { report, .. } if report.is_clean()
    );
    let rows_per_s = source_rows as f64 / seconds;
    Ok(SnapshotRun { seconds, source_rows, rows_per_s, peak_rss_mib, verify_clean, tables })
}

/// The baseline's parts: every source table read out of OLTP, and piped into an empty copy.
struct Limit {
    rows: i64,
    copy_out: Duration,
    copy_in: Duration,
}

/// COPY every source table out of OLTP to the end (`copy_out`), then pipe each from another COPY
/// out into an empty copy of it with its primary key and indexes (`copy_in`), binary format.
async fn copy_limit(pair: &DbPair) -> Result<Limit, BenchError> {
    let (source, target) = (pair.oltp().await?, pair.oltp().await?);
    let started = Instant::now();
    for table in sources() {
        let mut out = pin!(source.copy_out(&format!("copy {table} to stdout (format binary)")).await?);
        while out.try_next().await?.is_some() {}
    }
    let copy_out = started.elapsed();
    let (mut rows, mut copy_in) = (0, Duration::ZERO);
    for table in sources() {
        let copy = format!("bench_copy_{table}");
        target
            .batch_execute(&format!("drop table if exists {copy}; create table {copy} (like {table} including all)"))
            .await?;
        let started = Instant::now();
        let mut out = pin!(source.copy_out(&format!("copy {table} to stdout (format binary)")).await?);
        let mut sink = pin!(target.copy_in(&format!("copy {copy} from stdin (format binary)")).await?);
        while let Some(chunk) = out.try_next().await? {
            sink.feed(chunk).await?;
        }
        rows += sink.as_mut().finish().await? as i64;
        copy_in += started.elapsed();
        target.batch_execute(&format!("drop table {copy}")).await?;
    }
    Ok(Limit { rows, copy_out, copy_in })
}
