//! `brewlytics up` end to end: the built binary in a fresh directory, with no database configured.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use brewlytics::tools::cluster::{free_port, ClusterState};

use crate::support::{connect_url, scalar, streamed_changes, wait_for};

fn brewlytics(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brewlytics"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    for var in ["OLTP_DATABASE_URL", "OLAP_DATABASE_URL", "OLTP_HOST", "OLAP_HOST", "BREWLYTICS_HOME"] {
        cmd.env_remove(var);
    }
    cmd
}

/// A running `brewlytics up`; a failing test still stops it (and so its PostgreSQL) on drop.
struct Up(Option<Child>);

impl Drop for Up {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            for _ in 0..100 {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
        }
    }
}

fn start_up(dir: &Path, rate: &str, analytics_port: u16) -> Up {
    let child = brewlytics(dir, &["up", "--rate", rate])
        .env("API_ADDR", format!("127.0.0.1:{}", free_port().unwrap()))
        .env("ANALYTICS_ADDR", format!("127.0.0.1:{analytics_port}"))
        .env("METRICS_ADDR", format!("127.0.0.1:{}", free_port().unwrap()))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("up-{rate}.log"))).unwrap())
        .spawn()
        .expect("spawn brewlytics up");
    Up(Some(child))
}

/// SIGINT, then the exit status within `deadline`.
async fn interrupt(mut up: Up, deadline: Duration) -> std::process::ExitStatus {
    let mut child = up.0.take().expect("a running up");
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    wait_for("up to exit after SIGINT", deadline, || {
        let status = child.try_wait().unwrap();
        async move { status }
    })
    .await
}

/// The OLAP DSN of the private cluster once it runs and has fact rows.
async fn wait_for_facts(dir: &Path, at_least: i64) -> (String, String, i64) {
    wait_for("orders in the warehouse", Duration::from_secs(90), || async {
        let state = ClusterState::load(&dir.join(".brewlytics"))?;
        let (oltp, olap) = (state.dsn("coffee_oltp"), state.dsn("coffee_olap"));
        let c = brewlytics::db::connect_dsn(&olap).await.ok()?;
        let n: i64 = c.query_one("select count(*) from fact_sales", &[]).await.ok()?.get(0);
        (n >= at_least).then_some((oltp, olap, n))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn up_runs_everything_stops_cleanly_and_keeps_its_data() {
    // Kept on failure (the logs of both runs are in it), removed on success.
    let dir = tempfile::Builder::new().prefix("brewlytics-up-test-").tempdir().unwrap().keep();
    let analytics_port = free_port().unwrap();
    let first = start_up(&dir, "25", analytics_port);
    let (_, _, facts) = wait_for_facts(&dir, 10).await;
    // Least privilege: status shows the API and the daemon connected as their roles.
    let out = brewlytics(&dir, &["status", "--json"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["roles"]["api"], serde_json::json!(["brewlytics_api"]), "{status}");
    assert_eq!(status["roles"]["cdc"], serde_json::json!(["brewlytics_cdc"]), "{status}");
    let text = String::from_utf8(brewlytics(&dir, &["status"]).output().unwrap().stdout).unwrap();
    assert!(text.contains("runs as:          api as brewlytics_api; cdc as brewlytics_cdc"), "{text}");
    let status = interrupt(first, Duration::from_secs(15)).await;
    assert!(status.success(), "first up exited with {status}");

    // A second run reuses the data, with the generator off.
    let second = start_up(&dir, "0", analytics_port);
    let (oltp_url, olap_url, _) = wait_for_facts(&dir, facts).await;
    let (oltp, olap) = (connect_url(&oltp_url).await, connect_url(&olap_url).await);
    // status finds the private database from the same directory, with no DSN.
    let status =
        wait_for("the daemon of the second up to be active and caught up", Duration::from_secs(30), || async {
            let out = brewlytics(&dir, &["status", "--json"]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let changes = streamed_changes(&oltp, &olap).await;
            (status["active"].is_string() && status["applied_changes"] == changes).then_some(status)
        })
        .await;
    assert!(status["applied_changes"].as_i64().unwrap() > 0);
    assert_eq!(scalar::<i64>(&olap, "select applied_changes from cdc_offset").await, status["applied_changes"]);
    // The analytics service of `up` answers from the same warehouse, and its live page renders.
    let analytics = format!("http://127.0.0.1:{analytics_port}");
    let http = reqwest::Client::new();
    let summary: serde_json::Value = wait_for("the analytics service of up", Duration::from_secs(20), || async {
        http.get(format!("{analytics}/api/v1/health/pipeline")).send().await.ok()?.json().await.ok()
    })
    .await;
    assert_eq!(summary["last_applied_change"]["applied_changes"], status["applied_changes"], "{summary}");
    let page = http.get(format!("{analytics}/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Brewlytics live") && page.contains("/live/events"), "{page}");
    let out = brewlytics(&dir, &["verify"]).output().unwrap();
    assert!(out.status.success(), "verify: {}", String::from_utf8_lossy(&out.stdout));
    let status = interrupt(second, Duration::from_secs(15)).await;
    assert!(status.success(), "second up exited with {status}");
    assert!(ClusterState::load(&dir.join(".brewlytics")).is_none(), "PostgreSQL stopped with up");
    std::fs::remove_dir_all(&dir).unwrap();
}
