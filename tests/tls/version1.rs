//! A server certificate of X.509 version 1, as `create extension citus` generates and `openssl
//! x509 -req` without extensions makes: libpq's `sslmode=require` accepts any certificate, and so
//! must every command (rustls' WebPKI parses only version 3); `verify-full` refuses it by name.

use std::path::Path;

use brewlytics::tools::cluster::{ClusterOptions, PrivateCluster, ServerTls};

use super::{new_key_and_request, openssl, run, text};

/// A self-signed version-1 certificate for `localhost` (no extensions); returns (cert, key).
fn make_version_1_cert(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    new_key_and_request(dir, "v1");
    openssl(dir, &["x509", "-req", "-in", "v1.csr", "-signkey", "v1.key", "-days", "2", "-out", "v1.crt"]);
    let out = std::process::Command::new("openssl")
        .args(["x509", "-in", "v1.crt", "-noout", "-text"])
        .current_dir(dir)
        .output()
        .expect("openssl x509 -text");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Version: 1 (0x0)"), "the test needs a v1 certificate");
    (dir.join("v1.crt"), dir.join("v1.key"))
}

#[tokio::test(flavor = "multi_thread")]
async fn require_accepts_a_version_1_certificate_and_verify_full_refuses_it_by_name() {
    let dir = std::env::temp_dir().join(format!("brewlytics-tls-v1-{}", std::process::id()));
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let (cert, key) = make_version_1_cert(&certs);
    let cluster = PrivateCluster::start(ClusterOptions {
        dir,
        durable: false,
        remove_on_drop: true,
        tls: Some(ServerTls { cert: cert.clone(), key }),
        hba: vec!["hostssl all postgres 127.0.0.1/32 trust".into()],
    })
    .expect("start a cluster with a version-1 certificate");
    for db in ["v1_oltp", "v1_olap"] {
        cluster.create_database(db).unwrap();
    }
    let env = |query: &str| {
        vec![
            ("OLTP_DATABASE_URL", format!("{}?{query}", cluster.state.dsn("v1_oltp"))),
            ("OLAP_DATABASE_URL", format!("{}?{query}", cluster.state.dsn("v1_olap"))),
        ]
    };
    for mode in ["require", "prefer"] {
        for args in [&["migrate"][..], &["status", "--json"]] {
            let out = run(args, &env(&format!("sslmode={mode}"))).await;
            assert!(out.status.success(), "{args:?} with sslmode={mode} and a v1 certificate:\n{}", text(&out));
        }
    }
    // Verification needs a version-3 certificate: refused at startup, naming the setting.
    let out = run(&["status"], &env(&format!("sslmode=verify-full&sslrootcert={}", cert.display()))).await;
    let err = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("sslmode=verify-full") && err.contains("OLTP_DATABASE_URL"), "{err}");
}
