//! What each subcommand does, for the thin binary: connect, call the library, print.
//! Signal handling stays in the binary, which passes a cancellation token down.

use std::{process::ExitCode, time::Duration};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use brewlytics::{
    apply, cdc,
    config::Config,
    db::{self, Db},
    dead_letter, telemetry,
    tools::{bench, metabase},
};

/// How long the daemon's shutdown may take before the process gives up and exits non-zero.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// `brewlytics migrate`.
pub(crate) async fn migrate(config: &Config) -> anyhow::Result<()> {
    for which in [Db::Oltp, Db::Olap] {
        let mut client = db::connect(config, which).await?;
        let n = db::migrate(&mut client, which).await?;
        println!("{}: {n} migration(s) applied", which.label());
    }
    Ok(())
}

/// `brewlytics roles`.
pub(crate) async fn roles(config: &Config) -> anyhow::Result<()> {
    let oltp = db::connect(config, Db::Oltp).await?;
    let olap = db::connect(config, Db::Olap).await?;
    db::apply_roles(&oltp, &olap, config).await?;
    println!("roles ready");
    Ok(())
}

/// `brewlytics cdc`: the daemon and its metrics endpoint until `shutdown`, within the grace period.
pub(crate) async fn cdc(config: &Config, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    check_connections(config).await?;
    telemetry::metrics_handle();
    let listener = tokio::net::TcpListener::bind(config.metrics_addr)
        .await
        .with_context(|| format!("METRICS_ADDR {} cannot be bound", config.metrics_addr))?;
    tracing::info!(metrics = %config.metrics_addr, "cdc daemon starting");
    let token = shutdown.clone();
    let metrics = tokio::spawn(telemetry::serve_metrics(listener, async move { token.cancelled().await }));
    let daemon = cdc::run(config, shutdown.clone());
    tokio::pin!(daemon);
    tokio::select! {
        _ = &mut daemon => {}
        _ = async { shutdown.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            eprintln!("error: shutdown took longer than {SHUTDOWN_GRACE:?}");
            return Ok(ExitCode::FAILURE);
        }
    }
    metrics.abort();
    Ok(ExitCode::SUCCESS)
}

/// Connect once to each database before the daemon starts: a wrong setting, a certificate that
/// does not verify or a refused login ends the command here, naming the setting. A database that
/// is merely unreachable is left to the daemon's retries (it may be starting up).
async fn check_connections(config: &Config) -> anyhow::Result<()> {
    for which in [Db::Oltp, Db::Olap] {
        match db::connect(config, which).await {
            Ok(_) => {}
            Err(e) if e.is_permanent() => return Err(e.into()),
            Err(e) => tracing::warn!(error = %telemetry::Chain(&e), "database unreachable at startup; retrying"),
        }
    }
    Ok(())
}

/// `brewlytics status [--json]`.
pub(crate) async fn status(config: &Config, json: bool) -> anyhow::Result<()> {
    let (oltp, olap) = (db::connect(config, Db::Oltp).await?, db::connect(config, Db::Olap).await?);
    let s = cdc::ops::status::status(&oltp, &olap).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("active daemon:    {}", s.active.as_deref().unwrap_or("none"));
    println!("applied changes:  {} in {} batches", s.applied_changes, s.batches);
    println!("backlog:          {} changes, lag {:.3} s", s.backlog, s.lag_seconds);
    println!("oldest open txn:  {:.1} s", s.oldest_open_transaction_seconds);
    println!("dead letters:     {}", s.dead_letters);
    println!("checkpoint:       {} (updated {})", s.window_start, s.checkpoint_updated_at);
    if let Some(why) = &s.source_replaced {
        println!("SOURCE REPLACED:  {why}");
    }
    if let Some(p) = &s.snapshot {
        match p.state.as_str() {
            "done" => {
                let at = p.finished_at.map(|t| t.to_rfc3339()).unwrap_or_default();
                println!("snapshot:         #{} ({}) done at {at}", p.job_id, p.kind)
            }
            _ => println!("snapshot:         {}", progress_line(p)),
        }
    }
    let roles: Vec<String> =
        s.roles.iter().map(|(component, roles)| format!("{component} as {}", roles.join(", "))).collect();
    println!("runs as:          {}", if roles.is_empty() { "no component connected".into() } else { roles.join("; ") });
    Ok(())
}

/// `brewlytics verify`'s exit codes: 0 clean, 1 differences, 2 could not run (a setting, a
/// connection, a query), 3 no comparable moment within `--wait` (see [`cdc::reconcile`]).
pub(crate) const VERIFY_CANNOT_COMPARE: u8 = 3;

/// `brewlytics verify`: compare OLTP and the warehouse at the checkpoint, exactly, while writers run.
pub(crate) async fn verify(config: &Config, wait: Duration) -> ExitCode {
    match try_verify(config, wait).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", telemetry::Chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

async fn try_verify(config: &Config, wait: Duration) -> anyhow::Result<ExitCode> {
    let (mut oltp, mut olap) = (db::connect(config, Db::Oltp).await?, db::connect(config, Db::Olap).await?);
    let status = cdc::ops::status::status(&oltp, &olap).await?;
    println!("daemon: {}", status.active.as_deref().map_or("none active".to_string(), |a| format!("active ({a})")));
    let opts = cdc::reconcile::ReconcileOptions { wait, ..Default::default() };
    let outcome = cdc::reconcile::reconcile(&mut oltp, &mut olap, &opts).await.context("reconciling")?;
    let (report, checkpoint, pending) = match outcome {
        cdc::reconcile::Outcome::Compared { report, checkpoint, pending } => (report, checkpoint, pending),
        cdc::reconcile::Outcome::CannotCompare(reason) => {
            println!("verify: cannot compare now: {reason}; nothing was compared (try again, or raise --wait)");
            return Ok(ExitCode::from(VERIFY_CANNOT_COMPARE));
        }
    };
    println!("compared at checkpoint {checkpoint} ({pending} later change(s) undone on the OLTP side)");
    for (name, keys) in &report.checks {
        println!("checked {name}: {keys} keys");
    }
    for d in &report.differences {
        let (a, b) = (d.oltp.as_deref().unwrap_or("-"), d.warehouse.as_deref().unwrap_or("-"));
        println!("DIFFERENCE {} [{}]: oltp={a} warehouse={b}", d.check, d.key);
    }
    if report.is_clean() {
        println!("verify: clean");
        return Ok(ExitCode::SUCCESS);
    }
    println!("verify: {} difference(s)", report.differences.len());
    if status.dead_letters > 0 {
        println!(
            "note: {} dead letter(s) pending (`brewlytics dlq list`): the warehouse lacks their changes",
            status.dead_letters
        );
    }
    Ok(ExitCode::from(1))
}

/// `brewlytics resync [--table NAME…] [--no-wait]`: queue a resync for the active daemon and
/// follow it to its end. Exit 2 for an unknown table.
pub(crate) async fn resync(config: &Config, tables: &[String], no_wait: bool) -> anyhow::Result<ExitCode> {
    let mut targets = Vec::new();
    for name in tables {
        let Some(t) = cdc::snapshot_job::StarTable::from_name(name) else {
            let known: Vec<&str> = cdc::snapshot_job::StarTable::all().into_iter().map(|t| t.name()).collect();
            eprintln!("error: --table {name} is not a warehouse table (one of: {})", known.join(", "));
            return Ok(ExitCode::from(2));
        };
        targets.push(t);
    }
    let (oltp, olap) = (db::connect(config, Db::Oltp).await?, db::connect(config, Db::Olap).await?);
    let job = match cdc::snapshot_job::request_resync(&olap, &targets).await? {
        cdc::snapshot_job::ResyncRequest::Queued { job_id } => job_id,
        cdc::snapshot_job::ResyncRequest::Busy { job_id, kind } => {
            println!("a {kind} snapshot job (#{job_id}) is open already: it runs first; try again when it is done");
            return Ok(ExitCode::FAILURE);
        }
    };
    let status = cdc::ops::status::status(&oltp, &olap).await?;
    if status.active.is_none() {
        println!("resync #{job} queued; no daemon is active: it runs when `brewlytics cdc` (or `up`) starts");
        return Ok(ExitCode::SUCCESS);
    }
    println!("resync #{job} queued; the active daemon streams up to its snapshot, then loads it");
    if no_wait {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(p) = cdc::snapshot_job::progress(&olap).await? else { continue };
        if p.job_id != job {
            continue;
        }
        if p.state == "done" {
            let secs = p.finished_at.zip(p.started_at).map_or(0.0, |(f, s)| (f - s).num_milliseconds() as f64 / 1e3);
            println!("resync #{job} done in {secs:.1} s");
            return Ok(ExitCode::SUCCESS);
        }
        println!("{}", progress_line(&p));
    }
}

/// One line of a snapshot job's progress: its current table, rows done of total, rate, ETA.
pub(crate) fn progress_line(p: &cdc::snapshot_job::JobProgress) -> String {
    let current = p.tables.iter().find(|t| !t.done && t.rows_done > 0).or_else(|| p.tables.iter().find(|t| !t.done));
    match current {
        None if p.state == "requested" => format!("snapshot #{} ({}) waiting to start", p.job_id, p.kind),
        None => format!("snapshot #{} ({}) finishing", p.job_id, p.kind),
        Some(t) => {
            let eta = t.eta_seconds.map_or_else(|| "-".into(), |s| format!("{s:.0} s"));
            let tables_done = p.tables.iter().filter(|t| t.done).count();
            format!(
                "snapshot #{} ({}): {} {}/{} rows, {:.0} rows/s, ETA {eta} ({tables_done}/{} tables done)",
                p.job_id,
                p.kind,
                t.table,
                t.rows_done,
                t.rows_total,
                t.rows_per_second,
                p.tables.len()
            )
        }
    }
}

/// `brewlytics dlq list [--all]`.
pub(crate) async fn dlq_list(config: &Config, all: bool) -> anyhow::Result<()> {
    let olap = db::connect(config, Db::Olap).await?;
    let letters = dead_letter::list(&olap, all).await?;
    if letters.is_empty() {
        // stdout stays one JSON object per dead letter; the note is for the terminal.
        eprintln!("no {}dead letters", if all { "" } else { "pending " });
    }
    for d in letters {
        println!("{}", serde_json::to_string(&d)?);
    }
    Ok(())
}

/// `brewlytics dlq replay [--id N]`.
pub(crate) async fn dlq_replay(config: &Config, id: Option<i64>) -> anyhow::Result<()> {
    let (mut olap, oltp) = (db::connect(config, Db::Olap).await?, db::connect(config, Db::Oltp).await?);
    let r = apply::replay(&mut olap, &oltp, id).await?;
    println!("replayed {} dead letter(s), {} failed again", r.replayed.len(), r.failed.len());
    for (id, reason) in &r.failed {
        println!("  #{id}: {reason}");
    }
    Ok(())
}

/// `brewlytics metabase setup`: make Metabase match the dashboard description (idempotent).
pub(crate) async fn metabase_setup(config: &Config, args: &metabase::SetupArgs) -> anyhow::Result<()> {
    use metabase::{Metabase, Spec};
    let mut args = args.clone();
    args.read_secret_files()?;
    let args = &args;
    let spec = Spec::load(&args.dashboard)?;
    let details = spec.database_details(config)?;
    let report = metabase::setup(&mut Metabase::new(&args.metabase_host), args, &spec, details).await?;
    println!("{report}");
    Ok(())
}

/// `brewlytics bench [scenario]`: print the table; the JSON goes to `--json`. On `shutdown` the
/// run is dropped, which stops the daemon under test and the private cluster.
pub(crate) async fn bench(
    config: &Config,
    opts: &bench::run::BenchOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let report = tokio::select! {
        r = bench::run::run(config, opts) => r.context("running the benchmark")?,
        _ = shutdown.cancelled() => anyhow::bail!("benchmark interrupted"),
    };
    println!("{report}");
    println!("JSON report: {}", opts.json.display());
    Ok(())
}
