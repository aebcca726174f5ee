//! The `brewlytics` binary: parse the CLI, set up logging, run one subcommand, map the result to
//! an exit code. Signals are handled here only; library code takes a cancellation token.

use std::{process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use brewlytics::{
    cdc,
    config::Config,
    db::{self, Db},
    telemetry,
    warehouse::verify,
};

/// Brewlytics: CDC from coffee_oltp into the coffee_olap star schema.
///
/// Every setting can be given as an environment variable (shown in brackets) or a flag.
#[derive(Parser)]
#[command(name = "brewlytics", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the migrations of both databases (a second run is a no-op).
    Migrate,
    /// Create the database roles and grant their privileges.
    Roles,
    /// Run the CDC daemon: tail cdc_orders into the star schema until SIGINT/SIGTERM.
    Cdc,
    /// Show the checkpoint, backlog, lag, dead letters and the active daemon.
    Status {
        /// Print JSON (keys applied_changes, backlog, lag_seconds, dead_letters, active, …).
        #[arg(long)]
        json: bool,
    },
    /// Reconcile OLTP with the warehouse; exits 1 when they differ.
    Verify,
    /// Inspect or replay the dead-letter table.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
}

#[derive(Subcommand)]
enum DlqAction {
    /// List pending dead letters (newest first).
    List {
        /// Include replayed ones.
        #[arg(long)]
        all: bool,
    },
    /// Apply pending dead letters again (all, or one).
    Replay {
        #[arg(long)]
        id: Option<i64>,
    },
}

/// How long shutdown may take before the process gives up and exits non-zero.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_tracing(cli.config.log_format);
    if let Err(e) = cli.config.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    };
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config;
    match cli.command {
        Command::Migrate => {
            for which in [Db::Oltp, Db::Olap] {
                let mut client = db::connect(&config, which).await?;
                let n = db::migrate(&mut client, which).await?;
                println!("{}: {n} migration(s) applied", which.label());
            }
        }
        Command::Roles => {
            let oltp = db::connect(&config, Db::Oltp).await?;
            let olap = db::connect(&config, Db::Olap).await?;
            db::apply_roles(&oltp, &olap, &config).await?;
            println!("roles ready");
        }
        Command::Cdc => return run_cdc(config).await,
        Command::Status { json } => {
            let (oltp, olap) = (db::connect(&config, Db::Oltp).await?, db::connect(&config, Db::Olap).await?);
            let s = cdc::status::status(&oltp, &olap).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("active daemon:    {}", s.active.as_deref().unwrap_or("none"));
                println!("applied changes:  {} in {} batches", s.applied_changes, s.batches);
                println!("backlog:          {} changes, lag {:.3} s", s.backlog, s.lag_seconds);
                println!("oldest open txn:  {:.1} s", s.oldest_open_transaction_seconds);
                println!("dead letters:     {}", s.dead_letters);
                println!("checkpoint:       {} (updated {})", s.window_start, s.checkpoint_updated_at);
            }
        }
        Command::Verify => {
            let (oltp, olap) = (db::connect(&config, Db::Oltp).await?, db::connect(&config, Db::Olap).await?);
            let report = verify::verify(&oltp, &olap).await.context("running the reconciliation queries")?;
            for (name, keys) in &report.checks {
                println!("checked {name}: {keys} keys");
            }
            for d in &report.differences {
                println!(
                    "DIFFERENCE {} [{}]: oltp={} warehouse={}",
                    d.check,
                    d.key,
                    d.oltp.as_deref().unwrap_or("-"),
                    d.warehouse.as_deref().unwrap_or("-")
                );
            }
            if !report.is_clean() {
                println!("verify: {} difference(s)", report.differences.len());
                return Ok(ExitCode::from(1));
            }
            println!("verify: clean");
        }
        Command::Dlq { action } => {
            let mut olap = db::connect(&config, Db::Olap).await?;
            match action {
                DlqAction::List { all } => {
                    for d in cdc::dlq::list(&olap, all).await? {
                        println!("{}", serde_json::to_string(&d)?);
                    }
                }
                DlqAction::Replay { id } => {
                    let r = cdc::dlq::replay(&mut olap, id).await?;
                    println!("replayed {} dead letter(s), {} failed again", r.replayed.len(), r.failed.len());
                    for (id, reason) in &r.failed {
                        println!("  #{id}: {reason}");
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The daemon with its metrics endpoint; returns on SIGINT/SIGTERM within the grace period.
async fn run_cdc(config: Config) -> anyhow::Result<ExitCode> {
    let shutdown = shutdown_on_signals()?;
    telemetry::metrics_handle();
    let listener = tokio::net::TcpListener::bind(config.metrics_addr)
        .await
        .with_context(|| format!("METRICS_ADDR {} cannot be bound", config.metrics_addr))?;
    tracing::info!(metrics = %config.metrics_addr, "cdc daemon starting");
    let token = shutdown.clone();
    let metrics = tokio::spawn(telemetry::serve_metrics(listener, async move { token.cancelled().await }));
    let daemon = cdc::run(&config, shutdown.clone());
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

/// A token cancelled on the first SIGINT or SIGTERM.
fn shutdown_on_signals() -> anyhow::Result<CancellationToken> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook_tokio::Signals::new([SIGINT, SIGTERM]).context("installing signal handlers")?;
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        if let Some(signal) = signals.next().await {
            tracing::info!(signal, "shutdown requested");
            cancel.cancel();
        }
    });
    Ok(token)
}
