//! schemathesis (the real CLI) against `/openapi.json` with every check (`--checks all`): the
//! document must state every status and bound the server enforces, and the server must honour
//! every bound the document states. The order API runs twice, as deployed (API_KEY set) and as a
//! newcomer runs it (no key: writes are open and the document declares no scheme); the analytics
//! service once. The order API's only exception is in schemathesis.toml (ids in a body that name
//! no row are 422).

use std::time::Duration;

use super::TestApi;
use crate::readers::{repo, run_tool, tool};

const INSTALL_SCHEMATHESIS: &str = "scripts/setup.sh --no-build (schemathesis==4.32.5 into .venv)";

#[tokio::test(flavor = "multi_thread")]
async fn the_order_api_with_a_key_passes_every_check() {
    // Writes need the key (schemathesis checks that they refuse requests without it or with a
    // wrong one).
    const KEY: &str = "schemathesis-test-key";
    let api = TestApi::seeded_with_key(Some(KEY)).await;
    // The key in both of the document's schemes, so that every request is authenticated and the
    // auth checks see what a missing or wrong key gets.
    let headers = [format!("X-API-Key: {KEY}"), format!("Authorization: Bearer {KEY}")];
    assert_schemathesis_clean(&api.url, &headers, 10).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_order_api_without_a_key_passes_every_check() {
    let api = TestApi::seeded().await;
    assert_schemathesis_clean(&api.url, &[], 10).await;
}

/// Run `schemathesis run --checks all` against `url`'s `/openapi.json` with `headers`; every
/// operation must be tested (at least `operations`) and every generated case pass.
pub(crate) async fn assert_schemathesis_clean(url: &str, headers: &[String], operations: usize) {
    let schemathesis = tool("SCHEMATHESIS_BIN", "schemathesis", INSTALL_SCHEMATHESIS);
    let mut cmd = tokio::process::Command::new(schemathesis);
    cmd.current_dir(repo()).args(["--no-color", "run", &format!("{url}/openapi.json")]);
    for header in headers {
        cmd.args(["--header", header]);
    }
    // One worker: hypothesis describes strategies with `ast.parse`, and CPython 3.11's AST
    // conversion keeps its recursion depth per interpreter, not per thread, so two workers
    // parsing at once can fail with "AST constructor recursion depth mismatch" (a tool error, not
    // a finding about the API).
    cmd.args(["--checks", "all", "--max-examples", "25", "--workers", "1", "--request-timeout", "10"])
        .env("SCHEMATHESIS_HOOKS", "")
        .env("HYPOTHESIS_STORAGE_DIRECTORY", std::env::temp_dir().join("brewlytics-hypothesis"));
    let out = run_tool("schemathesis run --checks all", cmd, Duration::from_secs(240)).await;
    let summary = out.lines().filter(|l| l.contains("generated") || l.contains("Tested:")).collect::<Vec<_>>();
    eprintln!("schemathesis {url}: {}", summary.join("; "));
    let number = |label: &str| {
        let line =
            out.lines().find_map(|l| l.trim().strip_prefix(label)).unwrap_or_else(|| panic!("no {label}:\n{out}"));
        line.trim().split('/').next().unwrap().parse::<usize>().unwrap()
    };
    let (selected, tested) = (number("Selected:"), number("Tested:"));
    assert!(tested == selected && tested >= operations, "only {tested} of {selected} operations tested:\n{out}");
    // "N generated, N passed[, K skipped]" (with failures: "N generated, M found K unique failures").
    let cases = out.lines().find(|l| l.contains(" generated, ")).unwrap_or_else(|| panic!("no case count:\n{out}"));
    let words: Vec<&str> = cases.split_whitespace().map(|w| w.trim_end_matches(',')).collect();
    assert!(words.len() >= 4 && words[1] == "generated" && words[3] == "passed" && words[0] == words[2], "{out}");
    assert!(words.len() == 4 || (words.len() == 6 && words[5] == "skipped"), "{out}");
}
