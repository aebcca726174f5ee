//! The `brewlytics` binary: parse the CLI, set up logging, run one subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use brewlytics::{api, config::Config, db, loadgen, seed, telemetry};

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
    /// Serve the order API on API_ADDR until SIGINT or SIGTERM.
    Api,
    /// Load the coffee chain's reference data (a second run adds nothing).
    Seed,
    /// Send a realistic stream of orders to the API, then print the achieved rate and latencies.
    Load(loadgen::LoadOptions),
}

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
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config;
    match cli.command {
        Command::Migrate => {
            for which in [db::Db::Oltp, db::Db::Olap] {
                let mut client = db::connect(&config, which).await?;
                let n = db::migrate(&mut client, which).await?;
                println!("{}: {n} migration(s) applied", which.label());
            }
        }
        Command::Roles => {
            let oltp = db::connect(&config, db::Db::Oltp).await?;
            let olap = db::connect(&config, db::Db::Olap).await?;
            db::apply_roles(&oltp, &olap, &config).await?;
            println!("roles ready");
        }
        Command::Api => {
            let listener = tokio::net::TcpListener::bind(config.api_addr).await?;
            let stop = tokio_util::sync::CancellationToken::new();
            tokio::spawn(cancel_on_signal(stop.clone()));
            api::serve(&config, listener, stop.cancelled_owned()).await?;
        }
        Command::Seed => {
            let mut client = db::connect(&config, db::Db::Oltp).await?;
            println!("{}", seed::seed(&mut client).await?);
        }
        Command::Load(mut opts) => {
            opts.api.get_or_insert_with(|| format!("http://{}", config.api_addr));
            let stop = tokio_util::sync::CancellationToken::new();
            tokio::spawn(cancel_on_signal(stop.clone()));
            println!("{}", loadgen::run_load(&opts, stop).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Cancel `token` on the first SIGINT or SIGTERM.
async fn cancel_on_signal(token: tokio_util::sync::CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        tracing::error!("cannot install the SIGINT/SIGTERM handlers; stop with SIGKILL");
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutdown signal received");
    token.cancel();
}
