//! The original project's clients, unmodified, against our API: its k6 script `loadtest.js`
//! (only its stages shortened on the k6 command line) and its pytest order test, both
//! reconstructed in tests/fixtures/original/. Then the warehouse must verify clean.

use std::time::Duration;

use serde_json::Value;

use super::{k6::k6_binary, TestApi};
use crate::{
    readers::{repo, run_tool, tool},
    support::{assert_verified, wait_caught_up, InProcessDaemon},
};

const INSTALL_PYTEST: &str = "scripts/setup.sh --no-build (pytest, requests and python-dotenv into .venv)";

#[tokio::test(flavor = "multi_thread")]
async fn the_original_k6_script_runs_unmodified_against_a_seeded_system() {
    let api = TestApi::seeded().await;
    let daemon = InProcessDaemon::start(&api.t.config);
    let before = api.int("select count(*) from orders").await;
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let mut k6 = tokio::process::Command::new(k6_binary());
    k6.current_dir(repo())
        .args(["run", "--quiet", "--no-color", "--stage", "5s:5,5s:10,2s:0", "--env"])
        .arg(format!("API_URL={}", api.url))
        .arg("--summary-export")
        .arg(&summary)
        .arg("tests/fixtures/original/loadtest.js")
        .env("K6_NO_USAGE_REPORT", "true");
    // setup() loops until it has 10 customers and 10 products: it finishes only if no seeded
    // e-mail collides with the ones it generates (k6 fails the run at its 60 s setup timeout).
    let out = run_tool("k6 run tests/fixtures/original/loadtest.js", k6, Duration::from_secs(120)).await;
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let checks = &summary["metrics"]["checks"];
    let (passes, fails) = (checks["passes"].as_i64().unwrap_or(0), checks["fails"].as_i64().unwrap_or(-1));
    let placed = api.int("select count(*) from orders").await - before;
    eprintln!("original loadtest.js: setup done, {placed} orders, checks {passes} passed / {fails} failed");
    assert_eq!(fails, 0, "failed order requests:\n{out}");
    assert!(passes >= 40 && placed >= 20, "only {placed} orders ({passes} checks):\n{out}");
    let created = api.int("select count(*) from customers where email like '%@example.com'").await;
    assert!(created >= 10, "setup() created {created} customers");
    wait_caught_up(&api.t, Duration::from_secs(60)).await;
    daemon.stop().await;
    assert_verified(&api.t).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_original_pytest_order_test_passes_with_real_pytest() {
    let api = TestApi::seeded().await;
    let pytest = tool("PYTEST_BIN", "pytest", INSTALL_PYTEST);
    let mut cmd = tokio::process::Command::new(pytest);
    cmd.current_dir(repo().join("tests/fixtures/original"))
        .args(["-q", "-p", "no:cacheprovider", "test_create_order.py"])
        .env("API_URL", &api.url)
        .env("DB_USER", "brew")
        .env("DB_PASSWORD", "brew")
        .env("OLTP_DB", &api.t.config.oltp_db)
        .env("OLAP_DB", &api.t.config.olap_db)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run_tool("pytest tests/fixtures/original/test_create_order.py", cmd, Duration::from_secs(120)).await;
    assert!(out.contains("1 passed"), "{out}");
    assert_eq!(api.int("select count(*) from customers where email ~ '_[0-9]+@example.com$'").await, 1);
}
