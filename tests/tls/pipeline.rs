//! The whole pipeline over TLS (`sslmode=require`, `hostssl` only), each component as its role,
//! with known passwords and an API key, every process at debug level: orders through the API
//! reach the warehouse, `verify` is clean, `status` shows the roles, and nothing the binary
//! printed holds a password or the key.

use std::{path::Path, process::Child, time::Duration};

use serde_json::Value;

use super::{brewlytics, run, server, text};
use crate::support::{scalar, streamed_changes, wait_for};

/// The known secrets of this run, all different from the development defaults.
struct Secrets {
    owner: String,
    api: String,
    cdc: String,
    reader: String,
    dbt: String,
    api_key: String,
}

impl Secrets {
    fn new() -> Self {
        let tag = format!("{}{}", std::process::id(), std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_nanos());
        let s = |name: &str| format!("Pw{name}{tag}x");
        Secrets {
            owner: s("Owner"),
            api: s("Api"),
            cdc: s("Cdc"),
            reader: s("Reader"),
            dbt: s("Dbt"),
            api_key: s("Key"),
        }
    }

    fn all(&self) -> [&str; 6] {
        [&self.owner, &self.api, &self.cdc, &self.reader, &self.dbt, &self.api_key]
    }
}

/// A process of the run, its output in a file; killed if still running when dropped.
struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str], env: &[(&str, String)], log: &Path) -> Running {
    let file = std::fs::File::create(log).unwrap();
    let child = brewlytics(args, env).stdout(file.try_clone().unwrap()).stderr(file).spawn().expect("spawn brewlytics");
    Running { child }
}

/// SIGTERM, then the exit within 15 s.
async fn stop(mut r: Running) {
    std::process::Command::new("kill").args(["-TERM", &r.child.id().to_string()]).status().unwrap();
    let child = &mut r.child;
    let status = wait_for("the process to exit after SIGTERM", Duration::from_secs(15), || {
        std::future::ready(child.try_wait().unwrap())
    })
    .await;
    assert!(status.success(), "exited with {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pipeline_runs_over_tls_as_the_roles_and_prints_no_secret() {
    let s = server();
    let secrets = Secrets::new();
    let dir = tempfile::tempdir().unwrap();
    let port = s.port.to_string();
    // The owner by parts (DB_PASSWORD is passed although the superuser is trusted), TLS required.
    let mut owner = vec![
        ("OLTP_HOST", "127.0.0.1".to_string()),
        ("OLAP_HOST", "127.0.0.1".to_string()),
        ("OLTP_PORT", port.clone()),
        ("OLAP_PORT", port.clone()),
        ("OLTP_DB", "pipe_oltp".to_string()),
        ("OLAP_DB", "pipe_olap".to_string()),
        ("DB_USER", "postgres".to_string()),
        ("DB_PASSWORD", secrets.owner.clone()),
        ("PGSSLMODE", "require".to_string()),
        ("RUST_LOG", "debug".to_string()),
        ("API_DB_PASSWORD", secrets.api.clone()),
        ("CDC_DB_PASSWORD", secrets.cdc.clone()),
        ("READER_DB_PASSWORD", secrets.reader.clone()),
        ("DBT_DB_PASSWORD", secrets.dbt.clone()),
        ("API_KEY", secrets.api_key.clone()),
    ];
    let mut printed = String::new();
    for args in [&["migrate"][..], &["roles"], &["seed"]] {
        let out = run(args, &owner).await;
        printed += &text(&out);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    // The API by DSNs holding its password (sslmode in the DSN), the daemon by parts with its
    // password in a file.
    let api_addr = format!("127.0.0.1:{}", brewlytics::tools::cluster::free_port().unwrap());
    let dsn = |db: &str| format!("postgresql://brewlytics_api:{}@127.0.0.1:{port}/{db}?sslmode=require", secrets.api);
    let api_env = vec![
        ("OLTP_DATABASE_URL", dsn("pipe_oltp")),
        ("OLAP_DATABASE_URL", dsn("pipe_olap")),
        ("API_ADDR", api_addr.clone()),
        ("API_KEY", secrets.api_key.clone()),
        ("RUST_LOG", "debug".to_string()),
    ];
    std::fs::write(dir.path().join("cdc-password"), format!("{}\n", secrets.cdc)).unwrap();
    let mut cdc_env: Vec<_> = owner.iter().filter(|(k, _)| !k.ends_with("PASSWORD")).cloned().collect();
    cdc_env.extend([
        ("DB_USER", "brewlytics_cdc".to_string()),
        ("DB_PASSWORD_FILE", dir.path().join("cdc-password").display().to_string()),
        ("METRICS_ADDR", "127.0.0.1:0".to_string()),
        ("CDC_POLL_INTERVAL_MS", "100".to_string()),
    ]);
    let api = spawn(&["api"], &api_env, &dir.path().join("api.log"));
    let cdc = spawn(&["cdc"], &cdc_env, &dir.path().join("cdc.log"));
    let http = reqwest::Client::new();
    wait_for("the API to answer", Duration::from_secs(30), || async {
        http.get(format!("http://{api_addr}/health")).send().await.ok().filter(|r| r.status().is_success())
    })
    .await;

    let api_url = format!("http://{api_addr}");
    // Fewer requests in flight than the API's pool has connections. Once, on a box loaded by the
    // other tests, the default 64 in flight got 503s at a p50 of 5.6 s: they waited for the pool
    // past its 5 s limit.
    let load = ["load", "--rate", "20", "--duration", "2s", "--concurrency", "4", "--api", &api_url];
    let out = run(&load, &owner).await;
    printed += &text(&out);
    assert!(out.status.success() && text(&out).contains(" 0 failed"), "load with the API key: {}", text(&out));

    // Everything reaches the warehouse; the server saw only TLS sessions from the components.
    let oltp =
        brewlytics::db::connect_dsn(&format!("postgresql://postgres@127.0.0.1:{port}/pipe_oltp?sslmode=require"))
            .await
            .unwrap();
    let olap =
        brewlytics::db::connect_dsn(&format!("postgresql://postgres@127.0.0.1:{port}/pipe_olap?sslmode=require"))
            .await
            .unwrap();
    let changes: i64 = scalar(&oltp, "select count(*) from cdc_orders").await;
    assert!(changes > 20, "orders were placed: {changes} changes");
    let (status, out): (Value, String) =
        wait_for("the daemon to apply every change", Duration::from_secs(60), || async {
            let open: i64 = scalar(&olap, "select count(*) from cdc_snapshot where state <> 'done'").await;
            let streamed = streamed_changes(&oltp, &olap).await;
            let out = run(&["status", "--json"], &owner).await;
            let status: Value = serde_json::from_slice(&out.stdout).ok()?;
            (open == 0 && status["applied_changes"] == streamed).then(|| (status, text(&out)))
        })
        .await;
    printed += &out;
    assert_eq!(status["roles"]["api"], serde_json::json!(["brewlytics_api"]), "{status}");
    assert_eq!(status["roles"]["cdc"], serde_json::json!(["brewlytics_cdc"]), "{status}");
    let plain: i64 = scalar(
        &oltp,
        "select count(*) from pg_stat_activity a join pg_stat_ssl s using (pid)
         where a.usename in ('brewlytics_api', 'brewlytics_cdc') and not s.ssl",
    )
    .await;
    assert_eq!(plain, 0, "every session of the components is encrypted");
    for args in [&["verify"][..], &["dlq", "list"], &["status"]] {
        let out = run(args, &owner).await;
        printed += &text(&out);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    assert!(printed.contains("verify: clean"), "{printed}");

    // Failures print no secret either: a wrong role password, and --help with secrets set.
    owner.push((
        "OLTP_DATABASE_URL",
        format!("postgresql://brewlytics_api:wrong{}@127.0.0.1:{port}/pipe_oltp", secrets.api),
    ));
    let out = run(&["status"], &owner).await;
    assert!(text(&out).contains("password authentication failed"), "{}", text(&out));
    printed += &text(&out);
    printed += &text(&run(&["--help"], &owner).await);
    printed += &text(&run(&["metabase", "setup", "--help"], &owner).await);

    stop(api).await;
    stop(cdc).await;
    for log in ["api.log", "cdc.log"] {
        printed += &std::fs::read_to_string(dir.path().join(log)).unwrap();
    }
    assert!(printed.contains("DEBUG"), "the processes logged at debug level");
    for secret in secrets.all() {
        assert!(!printed.contains(secret), "a secret was printed:\n{printed}");
    }
}
