//! The daemon under test: the real `brewlytics cdc` binary as a subprocess, so its peak RSS
//! (`VmHWM`) is the daemon's alone, with its Prometheus endpoint scraped for phase timings.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio::process::{Child, Command};
use tokio_postgres::Client;

use super::{env::DbPair, BenchError};

/// A running `brewlytics cdc` process.
pub(crate) struct DaemonProcess {
    child: Child,
    metrics_url: String,
}

/// The daemon's settings under test.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct DaemonSettings {
    pub batch_rows: i64,
    /// Whether a new warehouse starts with a snapshot (the `snapshot` scenario) or replays the
    /// change backlog (`drain`, `freshness`: they measure streaming).
    pub initial_snapshot: bool,
    /// `CDC_SYNC_STANDBYS` (the gate scenario).
    pub sync_standbys: Option<&'static str>,
    /// `CDC_ROLLUPS` (what maintaining the rollups costs).
    pub rollups: bool,
}

/// Time spent in one phase of the daemon's batches (`cdc_batch_duration_seconds{phase}`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PhaseTime {
    pub phase: String,
    pub seconds: f64,
    pub batches: u64,
}

impl DaemonProcess {
    /// Start `bin cdc` on `pair`, logging to `log`, with `settings` (CDC_BATCH_ROWS, …) set.
    pub(super) fn start(bin: &Path, pair: &DbPair, settings: &DaemonSettings, log: &Path) -> Result<Self, BenchError> {
        let port = crate::tools::cluster::free_port()?;
        let log = std::fs::File::create(log)?;
        let child = Command::new(bin)
            .arg("cdc")
            .env("OLTP_DATABASE_URL", &pair.oltp_dsn)
            .env("OLAP_DATABASE_URL", &pair.olap_dsn)
            .env("METRICS_ADDR", format!("127.0.0.1:{port}"))
            .env("CDC_BATCH_ROWS", settings.batch_rows.to_string())
            .env("CDC_SNAPSHOT", if settings.initial_snapshot { "initial" } else { "never" })
            .env("CDC_SYNC_STANDBYS", settings.sync_standbys.unwrap_or_default())
            .env("CDC_ROLLUPS", if settings.rollups { "on" } else { "off" })
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::Daemon(format!("cannot start {}: {e}", bin.display())))?;
        Ok(DaemonProcess { child, metrics_url: format!("http://127.0.0.1:{port}/metrics") })
    }

    /// The process's peak resident set (`VmHWM`), in KiB.
    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
    }

    /// Sum and count of each batch phase so far, from the metrics endpoint.
    pub(crate) async fn phases(&self) -> Result<Vec<PhaseTime>, BenchError> {
        let text = reqwest::get(&self.metrics_url)
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| BenchError::Daemon(format!("scraping {}: {e}", self.metrics_url)))?
            .text()
            .await
            .map_err(|e| BenchError::Daemon(format!("reading {}: {e}", self.metrics_url)))?;
        Ok(parse_phases(&text))
    }

    /// Fail if the process has exited.
    pub(crate) fn check_alive(&mut self) -> Result<(), BenchError> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(BenchError::Daemon(format!("exited early with {status}"))),
        }
    }

    /// SIGTERM, then SIGKILL if it does not stop within 15 s.
    pub(crate) async fn stop(mut self) -> Result<(), BenchError> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await.is_err() {
            self.child.kill().await?;
        }
        Ok(())
    }
}

/// Wait until the warehouse checkpoint has applied `target` changes; returns when it saw it.
pub(crate) async fn wait_applied(
    olap: &Client,
    daemon: &mut DaemonProcess,
    target: i64,
    deadline: Duration,
) -> Result<Instant, BenchError> {
    let started = Instant::now();
    loop {
        let applied: i64 = olap.query_one("select applied_changes from cdc_offset", &[]).await?.get(0);
        if applied >= target {
            return Ok(Instant::now());
        }
        daemon.check_alive()?;
        if started.elapsed() > deadline {
            return Err(BenchError::Timeout { what: "the daemon to apply the backlog", seconds: deadline.as_secs() });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The `brewlytics` binary to run as the daemon: beside the current executable, else the current
/// executable itself (when it is `brewlytics`).
pub(crate) fn default_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("brewlytics"));
    exe.parent().map(|d| d.join("brewlytics")).filter(|b| b.is_file()).unwrap_or(exe)
}

fn parse_phases(text: &str) -> Vec<PhaseTime> {
    let metric = crate::telemetry::CDC_BATCH_DURATION;
    let value = |suffix: &str, phase: &str| -> Option<f64> {
        let prefix = format!("{metric}_{suffix}{{phase=\"{phase}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
    };
    ["read", "prefetch", "transform", "write", "commit", "standby_wait"]
        .iter()
        .filter_map(|p| {
            Some(PhaseTime { phase: p.to_string(), seconds: value("sum", p)?, batches: value("count", p)? as u64 })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn phases_are_read_from_the_exposition() {
        let text = "cdc_batch_duration_seconds_sum{phase=\"write\"} 1.5\n\
                    cdc_batch_duration_seconds_count{phase=\"write\"} 3\n";
        let p = super::parse_phases(text);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].phase.as_str(), p[0].seconds, p[0].batches), ("write", 1.5, 3));
    }
}
