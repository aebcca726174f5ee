//! The `brewlytics` binary: parse the CLI, set up logging, run one subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use brewlytics::{config::Config, db, telemetry};

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
    }
    Ok(ExitCode::SUCCESS)
}
