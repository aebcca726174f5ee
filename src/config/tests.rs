//! Unit tests of the settings.

use super::*;

#[test]
fn durations_parse() {
    assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
    assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
    assert!(parse_duration("1w").is_err());
}

#[test]
fn bad_dsn_names_the_setting() {
    let mut c = Config::defaults();
    c.olap_database_url = Some("postgres://u@h:notaport/db".into());
    let err = c.target(Db::Olap).unwrap_err().to_string();
    assert!(err.starts_with("OLAP_DATABASE_URL"), "{err}");
}

#[test]
fn dsn_wins_over_parts() {
    let mut c = Config::defaults();
    c.oltp_host = Some("elsewhere".into());
    c.oltp_database_url = Some("postgres://a:b@dsnhost:6000/x".into());
    let t = c.target(Db::Oltp).unwrap();
    assert_eq!(t.source, "OLTP_DATABASE_URL");
    assert_eq!(t.redacted(), "dsnhost:6000/x as a");
}

#[test]
fn tls_comes_from_the_dsn_then_pgsslmode_then_prefer() {
    let mut c = Config::defaults();
    c.sslmode = None;
    c.sslrootcert = None;
    assert_eq!(c.target(Db::Oltp).unwrap().tls.mode, SslMode::Prefer);
    c.sslmode = Some(SslMode::Require);
    c.sslrootcert = Some("/etc/ca.pem".into());
    let t = c.target(Db::Olap).unwrap();
    assert_eq!(
        (t.tls.mode, t.tls.mode_setting, t.tls.effective_mode()),
        (SslMode::Require, "PGSSLMODE", SslMode::VerifyCa)
    );
    assert_eq!(t.pg.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
    c.olap_database_url = Some("postgres://u:pw@h/db?sslmode=verify-full&sslrootcert=system".into());
    let t = c.target(Db::Olap).unwrap();
    assert_eq!((t.tls.mode, t.tls.mode_setting), (SslMode::VerifyFull, "OLAP_DATABASE_URL"));
    assert_eq!(t.tls.root_cert, Some(RootCert::System));
    c.olap_database_url = Some("host=h sslmode=disable password=pw".into());
    let t = c.target(Db::Olap).unwrap();
    assert_eq!(t.pg.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
    assert_eq!(
        t.configured_by(),
        "OLAP_DATABASE_URL, sslmode=disable (OLAP_DATABASE_URL), sslrootcert=/etc/ca.pem (PGSSLROOTCERT)"
    );
}

#[test]
fn debug_shows_no_password() {
    let mut c = Config::defaults();
    c.db_password = "pw-parts".into();
    c.oltp_database_url = Some("postgres://u:pw-dsn@h/db".into());
    c.api_key = Some("key-1".into());
    let c = c.connect_as("brewlytics_cdc", "pw-role".into(), "CDC_DB_PASSWORD");
    let text = format!("{c:?} {:?} {:?}", c.target(Db::Oltp).unwrap(), c.target(Db::Olap).unwrap());
    for secret in ["pw-parts", "pw-dsn", "key-1", "pw-role", "brew_api", "brew_cdc"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("as brewlytics_cdc") && text.contains("password CDC_DB_PASSWORD"), "{text}");
}

#[test]
fn secret_files_win_and_name_their_setting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "from-file\n").unwrap();
    let mut c = Config::defaults();
    c.cdc_db_password_file = Some(dir.path().join("pw"));
    c.olap_database_url_file = Some(dir.path().join("pw"));
    c.read_secret_files().unwrap();
    assert_eq!(c.cdc_db_password.expose(), "from-file");
    assert_eq!(c.olap_database_url.as_ref().map(Secret::expose), Some("from-file"));
    c.api_key_file = Some(dir.path().join("missing"));
    let err = c.read_secret_files().unwrap_err().to_string();
    assert!(err.starts_with("API_KEY_FILE cannot be read"), "{err}");
}
