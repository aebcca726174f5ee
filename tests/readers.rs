//! The warehouse readers against the real pipeline: dbt marts, Metabase cards and the setup
//! client, Prometheus alerts and Grafana expressions over the real binaries, and docker-compose.
//!
//! External tools are found as: the env var (`DBT_BIN`, `PROMETHEUS_BIN`, `PROMTOOL_BIN`), else
//! `.venv/bin/<tool>` in the repository, else `PATH`. A missing tool fails the test and says how
//! to install it.

mod compose;
pub(crate) mod dbt;
pub(crate) mod fill;
mod metabase;
mod metabase_stub;
mod prometheus;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

/// The repository root.
pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Locate an external tool (see the module docs); panics with the install hint when missing.
pub(crate) fn tool(env: &str, name: &str, install: &str) -> PathBuf {
    if let Ok(path) = std::env::var(env) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{env}={} does not exist; {install}", path.display());
        return path;
    }
    let venv = repo().join(".venv/bin").join(name);
    if venv.is_file() {
        return venv;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|f| f.is_file()))
        .unwrap_or_default();
    on_path
        .unwrap_or_else(|| panic!("{name} not found (checked ${env}, {}, PATH); install it: {install}", venv.display()))
}

pub(crate) const INSTALL_DBT: &str = "python3 -m venv .venv && .venv/bin/pip install 'dbt-postgres~=1.11.0' \
                               'dbt-core>=1.11,<1.12' (or set DBT_BIN)";
pub(crate) const INSTALL_PROMETHEUS: &str =
    "apt-get install -y --no-install-recommends prometheus (or set PROMETHEUS_BIN / PROMTOOL_BIN)";

/// A free TCP port on 127.0.0.1 (bound, then released for a child process to take).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed when dropped; its output goes to a log file shown on failure.
pub(crate) struct Child {
    pub name: &'static str,
    child: std::sync::Mutex<tokio::process::Child>,
    pub log: PathBuf,
}

impl Child {
    /// Spawn `cmd`, with stdout and stderr to `log`.
    pub(crate) fn spawn(name: &'static str, mut cmd: tokio::process::Command, log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).unwrap();
        cmd.stdout(Stdio::from(out.try_clone().unwrap())).stderr(Stdio::from(out)).kill_on_drop(true);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {name}: {e}"));
        Child { name, child: std::sync::Mutex::new(child), log }
    }

    /// The log so far (for failure messages).
    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panic with the log when the process has exited.
    pub(crate) fn assert_running(&self) {
        let status = self.child.lock().unwrap().try_wait();
        if let Ok(Some(status)) = status {
            panic!("{} exited with {status}:\n{}", self.name, self.output());
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.start_kill();
        }
    }
}

/// GET a URL's body as text, `None` on any failure.
pub(crate) async fn get_text(http: &reqwest::Client, url: &str) -> Option<String> {
    let response = http.get(url).timeout(Duration::from_secs(5)).send().await.ok()?;
    response.status().is_success().then_some(())?;
    response.text().await.ok()
}

/// Run a tool to completion (bounded by `deadline`), returning its combined output; panics
/// with the output when it fails.
pub(crate) async fn run_tool(what: &str, mut cmd: tokio::process::Command, deadline: Duration) -> String {
    cmd.kill_on_drop(true).stdin(Stdio::null());
    let output = tokio::time::timeout(deadline, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {deadline:?}"))
        .unwrap_or_else(|e| panic!("{what} could not start: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{what} failed ({}):\n{text}", output.status);
    text
}
