//! The `brewlytics` binary: parse the CLI, set up logging, run one subcommand, map the result to
//! an exit code. Signals are handled here only; library code takes a cancellation token.
//! [`commands`] and [`up`] are the binary's glue around the library (they may use `anyhow`).

mod commands;
mod up;

use std::{process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use brewlytics::{
    analytics, api,
    config::Config,
    db,
    telemetry::{self, Chain},
    tools::{bench, cluster::ClusterState, load, metabase, seed},
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
    /// Rebuild warehouse tables from OLTP truth while the system runs (the active daemon does it).
    Resync {
        /// A warehouse table to rebuild (dim_store, dim_customer, dim_employee, dim_product,
        /// fact_orders, fact_sales, fact_payments, fact_inventory); repeat it for several; all when none.
        #[arg(long = "table", value_name = "NAME")]
        tables: Vec<String>,
        /// Queue the job and return at once instead of following it to its end.
        #[arg(long)]
        no_wait: bool,
    },
    /// Inspect or replay the dead-letter table.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Serve the order API on API_ADDR until SIGINT or SIGTERM.
    Api,
    /// Serve the analytics API, its docs and the live page on ANALYTICS_ADDR (warehouse only, read-only).
    Analytics,
    /// Load the coffee chain's reference data (a second run adds nothing).
    Seed,
    /// Send a realistic stream of orders to the API, then print the achieved rate and latencies.
    Load(load::LoadOptions),
    /// Benchmark the pipeline on a private durable PostgreSQL (drain, freshness, longtx, api, capture, snapshot).
    Bench(bench::run::BenchOptions),
    /// Run everything (private PostgreSQL if none is configured, API, CDC daemon, generator).
    Up(up::UpOptions),
    /// Manage the Metabase dashboard described by metabase/dashboard.json.
    Metabase {
        #[command(subcommand)]
        action: MetabaseAction,
    },
}

#[derive(Subcommand)]
enum MetabaseAction {
    /// Create or update the data source, cards and dashboard (a second run changes nothing).
    Setup(metabase::SetupArgs),
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

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    telemetry::init_tracing(cli.config.log_format);
    if let Err(e) = cli.config.read_secret_files().and_then(|()| cli.config.validate()) {
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
            eprintln!("error: {}", Chain(e.as_ref()));
            ExitCode::FAILURE
        }
    };
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = match cli.command {
        // `up` decides itself whether to start the private cluster.
        Command::Up(_) => cli.config,
        _ => with_running_private_cluster(cli.config),
    };
    match cli.command {
        Command::Migrate => commands::migrate(&config).await?,
        Command::Roles => commands::roles(&config).await?,
        Command::Cdc => return commands::cdc(&config, shutdown_on_signals()).await,
        Command::Status { json } => commands::status(&config, json).await?,
        Command::Verify => return commands::verify(&config).await,
        Command::Resync { tables, no_wait } => return commands::resync(&config, &tables, no_wait).await,
        Command::Dlq { action: DlqAction::List { all } } => commands::dlq_list(&config, all).await?,
        Command::Dlq { action: DlqAction::Replay { id } } => commands::dlq_replay(&config, id).await?,
        Command::Api => {
            let listener = tokio::net::TcpListener::bind(config.api_addr).await?;
            api::serve(&config, listener, shutdown_on_signals().cancelled_owned()).await?;
        }
        Command::Analytics => {
            let listener = tokio::net::TcpListener::bind(config.analytics_addr)
                .await
                .with_context(|| format!("ANALYTICS_ADDR {} cannot be bound", config.analytics_addr))?;
            analytics::serve(&config, listener, shutdown_on_signals().cancelled_owned()).await?;
        }
        Command::Seed => {
            let mut client = db::connect(&config, db::Db::Oltp).await?;
            println!("{}", seed::seed(&mut client).await?);
        }
        Command::Bench(opts) => commands::bench(&config, &opts, shutdown_on_signals()).await?,
        Command::Load(mut opts) => {
            opts.api.get_or_insert_with(|| format!("http://{}", config.api_addr));
            opts.api_key = config.api_key.clone();
            println!("{}", load::run_load(&opts, shutdown_on_signals()).await?);
        }
        Command::Up(opts) => up::up(config, opts, shutdown_on_signals()).await?,
        Command::Metabase { action: MetabaseAction::Setup(args) } => commands::metabase_setup(&config, &args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// With no database configured, the private PostgreSQL of a running `brewlytics up` in
/// BREWLYTICS_HOME, if there is one.
fn with_running_private_cluster(config: Config) -> Config {
    if !config.uses_private_cluster() {
        return config;
    }
    match ClusterState::load(&config.home) {
        Some(state) => config.with_private_cluster(|db| state.dsn(db)),
        None => config,
    }
}

/// A token cancelled on the first SIGINT or SIGTERM (signal-hook).
fn shutdown_on_signals() -> CancellationToken {
    use futures_util::StreamExt;
    use signal_hook::consts::{SIGINT, SIGTERM};
    let token = CancellationToken::new();
    let cancel = token.clone();
    match signal_hook_tokio::Signals::new([SIGINT, SIGTERM]) {
        Ok(mut signals) => {
            tokio::spawn(async move {
                if let Some(signal) = signals.next().await {
                    tracing::info!(signal, "shutdown requested");
                    cancel.cancel();
                }
            });
        }
        Err(error) => {
            tracing::error!(error = %Chain(&error), "cannot install the SIGINT/SIGTERM handlers; stop with SIGKILL")
        }
    }
    token
}
