//! TLS to every database, against a private PostgreSQL with `ssl = on`, a server certificate
//! signed by a CA made here with the real `openssl` CLI, and a `pg_hba.conf` of `hostssl` lines
//! only. One such cluster serves every TLS test; each test has databases of its own.

mod failures;
mod pipeline;
mod version1;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::OnceLock,
};

use brewlytics::tools::cluster::{ClusterOptions, PrivateCluster, ServerTls};

/// The TLS cluster: its port, the CA that signed its certificate, and a CA that did not.
pub(crate) struct TlsServer {
    pub port: u16,
    pub ca: PathBuf,
    pub wrong_ca: PathBuf,
}

/// The databases made for the TLS tests, each test using its own pair.
const DATABASES: &[&str] = &["pipe_oltp", "pipe_olap", "fail_oltp", "fail_olap"];

static SERVER: OnceLock<TlsServer> = OnceLock::new();

/// The TLS cluster, started on first use.
pub(crate) fn server() -> &'static TlsServer {
    SERVER.get_or_init(|| std::thread::spawn(start).join().expect("TLS server setup panicked"))
}

fn start() -> TlsServer {
    let dir = std::env::temp_dir().join(format!("brewlytics-tls-test-{}", std::process::id()));
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let ca = make_ca(&certs, "ca", "Brewlytics test CA");
    let wrong_ca = make_ca(&certs, "wrong-ca", "Some other CA");
    let (cert, key) = make_server_cert(&certs);
    let cluster = PrivateCluster::start(ClusterOptions {
        // The certificates live in the cluster's directory, removed with it.
        dir,
        durable: false,
        remove_on_drop: true,
        tls: Some(ServerTls { cert, key }),
        // Only TLS connections: the superuser without a password, every role with its own.
        hba: vec![
            "hostssl all postgres 127.0.0.1/32 trust".into(),
            "hostssl all all 127.0.0.1/32 scram-sha-256".into(),
        ],
    })
    .expect("start the TLS cluster");
    for name in DATABASES {
        cluster.create_database(name).expect("create a TLS test database");
    }
    let state = cluster.stop_when_process_exits(std::process::id());
    TlsServer { port: state.port, ca, wrong_ca }
}

/// `openssl`, which the test script installs.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs (scripts/test.sh installs it)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A self-signed CA (P-256); returns its certificate.
fn make_ca(dir: &Path, name: &str, subject: &str) -> PathBuf {
    let (key, cert) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={subject}"),
            "-keyout",
            &key,
            "-out",
            &cert,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(cert)
}

/// A server certificate for `localhost` and 127.0.0.1 signed by `ca`; returns (cert, key).
fn make_server_cert(dir: &Path) -> (PathBuf, PathBuf) {
    new_key_and_request(dir, "server");
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
    (dir.join("server.crt"), dir.join("server.key"))
}

/// A P-256 key `<name>.key` and a signing request `<name>.csr` for `localhost`.
pub(crate) fn new_key_and_request(dir: &Path, name: &str) {
    let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
}

/// The built binary with only the given database settings (none inherited from the caller).
pub(crate) fn brewlytics(args: &[&str], env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brewlytics"));
    cmd.args(args).stdin(Stdio::null());
    for (var, _) in std::env::vars() {
        if var.starts_with("PG") || var.starts_with("OLTP_") || var.starts_with("OLAP_") || var.ends_with("PASSWORD") {
            cmd.env_remove(var);
        }
    }
    cmd.env("BREWLYTICS_HOME", std::env::temp_dir().join("brewlytics-tls-no-home"));
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd
}

/// Run the binary to completion, within a minute (every command here stops by itself).
pub(crate) async fn run(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = tokio::process::Command::from(brewlytics(args, env));
    cmd.kill_on_drop(true);
    tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("brewlytics {args:?} did not finish within 60 s"))
        .expect("run brewlytics")
}

/// Everything a run printed.
pub(crate) fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}
