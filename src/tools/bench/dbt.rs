//! `dbt build` of the project in `dbt/` on a benchmark warehouse, as the `brewlytics_dbt` role:
//! its wall time and the time its models took (run_results.json), full (`--full-refresh`) or
//! incremental (the models that can rebuild only the days that moved since their last run).

use std::{path::PathBuf, str::FromStr, time::Instant};

use serde::Serialize;

use super::{env::DbPair, BenchError};

/// One build.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct DbtRun {
    pub wall_seconds: f64,
    /// The sum of the models' own execution times (not dbt's start-up and parsing).
    pub models_seconds: f64,
}

/// A full build, then an incremental one after a day of changes.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct DbtTimes {
    pub full: DbtRun,
    pub incremental: DbtRun,
}

/// How to run dbt: the executable and the project directory.
#[derive(Debug, Clone)]
pub(crate) struct Dbt {
    pub bin: PathBuf,
    pub project: PathBuf,
}

/// Build every model and test on `pair`'s warehouse.
pub(crate) async fn build(dbt: &Dbt, pair: &DbPair, full: bool) -> Result<DbtRun, BenchError> {
    let pg = tokio_postgres::Config::from_str(&pair.olap_dsn).map_err(|e| BenchError::Dbt(e.to_string()))?;
    let host = match &pg.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => return Err(BenchError::Dbt(format!("dbt needs a TCP host, not {other:?}"))),
    };
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let out = std::env::temp_dir().join(format!("brewlytics-dbt-{}-{run}", std::process::id()));
    let mut cmd = tokio::process::Command::new(&dbt.bin);
    cmd.arg("build").arg("--project-dir").arg(&dbt.project).arg("--profiles-dir").arg(&dbt.project);
    cmd.arg("--target-path").arg(out.join("target")).arg("--log-path").arg(out.join("logs"));
    if full {
        cmd.arg("--full-refresh");
    }
    cmd.env("OLAP_HOST", host)
        .env("OLAP_PORT", pg.get_ports()[0].to_string())
        .env("OLAP_DB", &pair.config.olap_db)
        .env("DB_USER", "brewlytics_dbt")
        .env("DB_PASSWORD", pair.config.dbt_db_password.expose())
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .kill_on_drop(true);
    let started = Instant::now();
    let output = cmd.output().await.map_err(|e| {
        BenchError::Dbt(format!(
            "cannot run {} ({e}): install dbt (pip install dbt-postgres) or give --dbt-bin",
            dbt.bin.display()
        ))
    })?;
    let wall_seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stdout);
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        return Err(BenchError::Dbt(format!(
            "dbt build failed:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    let results = std::fs::read_to_string(out.join("target/run_results.json"));
    let _ = std::fs::remove_dir_all(&out);
    let results: serde_json::Value = serde_json::from_str(&results?)?;
    let models_seconds = results["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["unique_id"].as_str().is_some_and(|id| id.starts_with("model.")))
        .filter_map(|r| r["execution_time"].as_f64())
        .sum();
    Ok(DbtRun { wall_seconds, models_seconds })
}
