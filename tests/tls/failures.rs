//! What TLS refuses, and that each refusal stops every command at startup naming the setting and
//! the host; and that a verified connection works.

use super::{run, server, text};

/// Every command that connects to a database (api and cdc would otherwise run until stopped).
const COMMANDS: &[&[&str]] =
    &[&["migrate"], &["roles"], &["seed"], &["status"], &["verify"], &["dlq", "list"], &["cdc"], &["api"]];

/// Settings of the failure tests' databases by parts, as the superuser, with these TLS settings.
fn by_parts(tls: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let port = server().port.to_string();
    let mut env = vec![
        ("OLTP_HOST", "127.0.0.1".to_string()),
        ("OLAP_HOST", "127.0.0.1".to_string()),
        ("OLTP_PORT", port.clone()),
        ("OLAP_PORT", port),
        ("OLTP_DB", "fail_oltp".to_string()),
        ("OLAP_DB", "fail_olap".to_string()),
        ("DB_USER", "postgres".to_string()),
        ("API_ADDR", "127.0.0.1:0".to_string()),
        ("METRICS_ADDR", "127.0.0.1:0".to_string()),
    ];
    env.extend(tls.iter().cloned());
    env
}

/// Each command fails (exit 1; `verify`: 2) with a message containing every one of `needles`, and the
/// certificate's complaint `cause` exactly once.
async fn every_command_fails(env: &[(&'static str, String)], needles: &[&str], cause: &str) {
    for args in COMMANDS {
        let out = run(args, env).await;
        let err = text(&out);
        // `verify` exits 2 when it cannot run (1 means differences found; README).
        let code = if args[0] == "verify" { 2 } else { 1 };
        assert_eq!(out.status.code(), Some(code), "{args:?} should fail at startup:\n{err}");
        for needle in needles {
            assert!(err.contains(needle), "{args:?}: the error lacks {needle:?}:\n{err}");
        }
        assert_eq!(err.matches(cause).count(), 1, "{args:?}: {cause:?} once:\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_full_works_with_the_right_ca_and_fails_every_command_with_a_wrong_ca_or_host() {
    let s = server();
    let ca = s.ca.display().to_string();
    let verify_full = by_parts(&[("PGSSLMODE", "verify-full".into()), ("PGSSLROOTCERT", ca.clone())]);
    for args in [&["migrate"][..], &["status", "--json"]] {
        let out = run(args, &verify_full).await;
        assert!(out.status.success(), "{args:?} with verify-full and the right CA:\n{}", text(&out));
    }

    // A certificate of another CA: the setting that chose the roots and the host are named.
    let wrong_ca =
        by_parts(&[("PGSSLMODE", "verify-full".into()), ("PGSSLROOTCERT", s.wrong_ca.display().to_string())]);
    let host = format!("127.0.0.1:{}", s.port);
    every_command_fails(
        &wrong_ca,
        &[&host, "PGSSLROOTCERT", "sslmode=verify-full"],
        "invalid peer certificate: UnknownIssuer",
    )
    .await;
    // libpq's rule: require with a root certificate file checks the chain like verify-ca.
    let require = by_parts(&[("PGSSLMODE", "require".into()), ("PGSSLROOTCERT", s.wrong_ca.display().to_string())]);
    let out = run(&["status"], &require).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("UnknownIssuer"), "{}", text(&out));

    // The right CA, but the server is reached under a name its certificate does not carry.
    let dsn = |db: &str| {
        format!(
            "postgresql://postgres@wrong-host.test:{}/{db}?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca}",
            s.port
        )
    };
    let wrong_host = vec![
        ("OLTP_DATABASE_URL", dsn("fail_oltp")),
        ("OLAP_DATABASE_URL", dsn("fail_olap")),
        ("API_ADDR", "127.0.0.1:0".to_string()),
        ("METRICS_ADDR", "127.0.0.1:0".to_string()),
    ];
    let host = format!("wrong-host.test:{}", s.port);
    every_command_fails(&wrong_host, &[&host, "_DATABASE_URL"], "certificate not valid for name \"wrong-host.test\"")
        .await;
    // verify-ca checks the chain only: the same name is fine there.
    let verify_ca = wrong_host.iter().map(|(k, v)| (*k, v.replace("verify-full", "verify-ca"))).collect::<Vec<_>>();
    let out = run(&["status"], &verify_ca).await;
    assert!(out.status.success(), "verify-ca ignores the host name:\n{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn sslmode_disable_is_refused_by_the_server_and_the_error_says_so() {
    let env = by_parts(&[("PGSSLMODE", "disable".into())]);
    let out = run(&["migrate"], &env).await;
    let err = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("sslmode=disable (PGSSLMODE)") && err.contains("OLTP_HOST"), "{err}");
    assert!(err.contains("no pg_hba.conf entry") && err.contains("no encryption"), "the server's refusal: {err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_root_certificate_is_named_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    for (root, complaint) in [
        ("/nonexistent/ca.pem".to_string(), "cannot read the root certificate file /nonexistent/ca.pem"),
        (not_pem.display().to_string(), "holds no PEM certificate"),
    ] {
        let env = by_parts(&[("PGSSLMODE", "verify-full".into()), ("PGSSLROOTCERT", root)]);
        let out = run(&["status"], &env).await;
        let err = text(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("cannot set up TLS to the OLTP database") && err.contains("PGSSLROOTCERT"), "{err}");
        assert!(err.contains(complaint), "{err}");
    }
}
