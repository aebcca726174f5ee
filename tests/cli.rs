//! The binary's startup errors and help text.

use std::process::Command;

fn brewlytics(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brewlytics"));
    cmd.args(args);
    for var in ["OLTP_DATABASE_URL", "OLAP_DATABASE_URL", "OLTP_HOST", "OLAP_HOST"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied()).output().expect("run brewlytics")
}

#[test]
fn help_documents_every_setting() {
    let out = brewlytics(&["--help"], &[]);
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "DB_USER",
        "DB_PASSWORD",
        "OLTP_DB",
        "OLAP_DB",
        "OLTP_HOST",
        "OLTP_PORT",
        "OLAP_HOST",
        "OLAP_PORT",
        "OLTP_DATABASE_URL",
        "OLAP_DATABASE_URL",
        "API_ADDR",
        "METRICS_ADDR",
        "LOG_FORMAT",
        "CDC_POLL_INTERVAL_MS",
        "CDC_BATCH_ROWS",
        "CDC_BATCH_BYTES",
        "CDC_RETENTION",
        "CDC_RECONCILE_EVERY",
        "CDC_RECONCILE_REPAIR",
        "CDC_ROLLUPS",
        "CDC_ON_SOURCE_CHANGE",
        "CDC_SYNC_STANDBYS",
        "READER_DB_PASSWORD",
        "API_DB_PASSWORD",
        "CDC_DB_PASSWORD",
        "DBT_DB_PASSWORD",
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "API_KEY",
        "API_KEY_FILE",
        "DB_PASSWORD_FILE",
        "API_DB_PASSWORD_FILE",
        "CDC_DB_PASSWORD_FILE",
        "READER_DB_PASSWORD_FILE",
        "DBT_DB_PASSWORD_FILE",
        "OLTP_DATABASE_URL_FILE",
        "OLAP_DATABASE_URL_FILE",
        "ANALYTICS_ADDR",
        "ANALYTICS_API_KEY",
        "ANALYTICS_METRICS_URL",
    ] {
        assert!(help.contains(&format!("[env: {var}")), "--help lacks {var}");
    }
}

/// Secrets set in the environment are not shown by --help (clap shows other settings' values).
#[test]
fn help_hides_the_values_of_secrets() {
    let secrets = [
        ("DB_PASSWORD", "s3cret-db"),
        ("API_DB_PASSWORD", "s3cret-api"),
        ("OLTP_DATABASE_URL", "postgres://u:s3cret-dsn@h/db"),
        ("API_KEY", "s3cret-key"),
        ("METABASE_PASSWORD", "s3cret-mb"),
    ];
    for args in [&["--help"][..], &["metabase", "setup", "--help"]] {
        let out = brewlytics(args, &secrets);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("[env: DB_PASSWORD]"), "{help}");
        assert!(!help.contains("s3cret"), "{args:?} shows a secret:\n{help}");
    }
}

#[test]
fn a_malformed_dsn_names_its_setting_without_a_panic() {
    let out = brewlytics(&["status"], &[("OLAP_DATABASE_URL", "postgres://u@h:notaport/db")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("OLAP_DATABASE_URL is not a valid PostgreSQL connection string"), "{err}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
}

#[test]
fn an_unreachable_database_names_its_setting() {
    let port = brewlytics::tools::cluster::free_port().unwrap().to_string();
    let out = brewlytics(&["migrate"], &[("OLTP_HOST", "127.0.0.1"), ("OLTP_PORT", &port)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot connect to the OLTP database") && err.contains("OLTP_HOST"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    let out = brewlytics(&["cdc"], &[("CDC_BATCH_ROWS", "0")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("CDC_BATCH_ROWS is invalid"));
}

/// Every cause of a failing command is printed once (no `cause: cause` repetition).
#[test]
fn a_failing_command_names_each_cause_once() {
    let out = brewlytics(&["metabase", "setup", "--dashboard", "/nonexistent.json"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot read the dashboard description /nonexistent.json"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");

    let port = brewlytics::tools::cluster::free_port().unwrap().to_string();
    let out = brewlytics(&["status"], &[("OLTP_HOST", "127.0.0.1"), ("OLTP_PORT", &port)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot connect to the OLTP database"), "{err}");
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
}
