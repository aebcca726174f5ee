//! The real `brewlytics` binary as a subprocess, for kill and signal tests.

use std::{
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use brewlytics::db::Db;

use super::TestDb;

/// A running `brewlytics cdc`, killed on drop.
pub(crate) struct DaemonProcess {
    pub child: Child,
}

impl DaemonProcess {
    /// Start the daemon on the test's databases, as the `brewlytics_cdc` role (as `up` and the
    /// compose file run it).
    pub(crate) fn start(t: &TestDb) -> Self {
        Self::start_with(&t.url_as(Db::Oltp, "brewlytics_cdc"), &t.url_as(Db::Olap, "brewlytics_cdc"), &[])
    }

    /// Start the daemon on explicit DSNs, with extra environment.
    pub(crate) fn start_with(oltp_url: &str, olap_url: &str, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brewlytics"));
        cmd.arg("cdc")
            .env("OLTP_DATABASE_URL", oltp_url)
            .env("OLAP_DATABASE_URL", olap_url)
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("CDC_POLL_INTERVAL_MS", "100")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        DaemonProcess { child: cmd.spawn().expect("spawn brewlytics cdc") }
    }

    /// Start the daemon with JSON logs (at `info`) collected into [`Logs`].
    pub(crate) fn start_logged(oltp_url: &str, olap_url: &str, env: &[(&str, &str)]) -> (Self, Logs) {
        let mut all = vec![("LOG_FORMAT", "json"), ("RUST_LOG", "info")];
        all.extend_from_slice(env);
        let mut daemon = Self::start_piped(oltp_url, olap_url, &all);
        let stderr = daemon.child.stderr.take().expect("piped stderr");
        let logs = Logs::default();
        let lines = logs.0.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    lines.lock().unwrap().push(v);
                }
            }
        });
        (daemon, logs)
    }

    fn start_piped(oltp_url: &str, olap_url: &str, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brewlytics"));
        cmd.arg("cdc")
            .env("OLTP_DATABASE_URL", oltp_url)
            .env("OLAP_DATABASE_URL", olap_url)
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("CDC_POLL_INTERVAL_MS", "100")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        DaemonProcess { child: cmd.spawn().expect("spawn brewlytics cdc") }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL and reap.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send SIGTERM.
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("kill -TERM");
        assert!(status.success());
    }

    /// Wait for the process to exit, up to `deadline`.
    pub(crate) fn wait_exit(&mut self, deadline: Duration) -> Option<(ExitStatus, Duration)> {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some((status, start.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON log lines of a daemon started with [`DaemonProcess::start_logged`].
#[derive(Clone, Default)]
pub(crate) struct Logs(std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>);

impl Logs {
    /// The first line at `level` whose message contains `text`.
    pub(crate) fn find(&self, level: &str, text: &str) -> Option<serde_json::Value> {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .find(|l| l["level"] == level && l["fields"]["message"].as_str().is_some_and(|m| m.contains(text)))
            .cloned()
    }

    /// How many lines at `level` contain `text`.
    pub(crate) fn count(&self, level: &str, text: &str) -> usize {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .filter(|l| l["level"] == level && l["fields"]["message"].as_str().is_some_and(|m| m.contains(text)))
            .count()
    }
}

/// `brewlytics status --json` on the test's databases.
pub(crate) fn status_json(t: &TestDb) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_brewlytics"))
        .args(["status", "--json"])
        .env("OLTP_DATABASE_URL", &t.oltp_url)
        .env("OLAP_DATABASE_URL", &t.olap_url)
        .output()
        .expect("run brewlytics status");
    assert!(out.status.success(), "status failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
}
