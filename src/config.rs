//! Settings, read from the environment (the original `.env` names) and CLI flags.
//!
//! Each database is configured either by a full DSN (`OLTP_DATABASE_URL`, `OLAP_DATABASE_URL`)
//! or by parts (`DB_USER`, `DB_PASSWORD`, `OLTP_HOST`, `OLTP_PORT`, `OLTP_DB`, …); a DSN wins.
//! When neither a DSN nor a host is given and `brewlytics up` has a private PostgreSQL running
//! in `.brewlytics/`, that cluster is used, so `status` and `verify` work next to `up`.
//!
//! Secrets (passwords, DSNs, the API key) are [`Secret`]s, which print as `***`, and each can
//! also be read from a file (`…_FILE`, [`Config::read_secret_files`]). TLS follows libpq:
//! `sslmode` and `sslrootcert` in a DSN, else `PGSSLMODE`/`PGSSLROOTCERT` ([`tls`]).

mod secret;
mod target;
pub mod tls;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Args;

pub use secret::Secret;
pub use target::DbTarget;
pub use tls::{RootCert, SslMode, TlsSettings};

/// Why a setting was rejected; the message always names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting} is not a valid PostgreSQL connection string: {reason}")]
    BadDsn { setting: &'static str, reason: String },
    #[error("{setting} is invalid: {reason}")]
    Invalid { setting: &'static str, reason: String },
    #[error("{setting} cannot be read from {path}")]
    SecretFile {
        setting: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Every setting of every subcommand. `brewlytics --help` lists them with their env names.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database user for both databases (used when no *_DATABASE_URL is given).
    #[arg(long, env = "DB_USER", default_value = "brew", global = true)]
    pub db_user: String,
    /// Database password for both databases (dev default; set your own).
    #[arg(
        long,
        env = "DB_PASSWORD",
        default_value = "brew",
        hide_default_value = true,
        hide_env_values = true,
        global = true
    )]
    pub db_password: Secret,
    /// File holding DB_PASSWORD (Docker/Kubernetes secret); wins over DB_PASSWORD.
    #[arg(long, env = "DB_PASSWORD_FILE", global = true)]
    pub db_password_file: Option<PathBuf>,
    /// OLTP database name.
    #[arg(long, env = "OLTP_DB", default_value = "coffee_oltp", global = true)]
    pub oltp_db: String,
    /// OLTP host.
    #[arg(long, env = "OLTP_HOST", global = true)]
    pub oltp_host: Option<String>,
    /// OLTP port.
    #[arg(long, env = "OLTP_PORT", default_value_t = 5432, global = true)]
    pub oltp_port: u16,
    /// OLAP (warehouse) database name.
    #[arg(long, env = "OLAP_DB", default_value = "coffee_olap", global = true)]
    pub olap_db: String,
    /// OLAP host.
    #[arg(long, env = "OLAP_HOST", global = true)]
    pub olap_host: Option<String>,
    /// OLAP port.
    #[arg(long, env = "OLAP_PORT", default_value_t = 5432, global = true)]
    pub olap_port: u16,
    /// Full OLTP DSN (postgres://user:pass@host:port/db?sslmode=… or key=value); wins over the parts.
    #[arg(long, env = "OLTP_DATABASE_URL", hide_env_values = true, global = true)]
    pub oltp_database_url: Option<Secret>,
    /// File holding OLTP_DATABASE_URL; wins over OLTP_DATABASE_URL.
    #[arg(long, env = "OLTP_DATABASE_URL_FILE", global = true)]
    pub oltp_database_url_file: Option<PathBuf>,
    /// Full OLAP DSN; wins over the parts.
    #[arg(long, env = "OLAP_DATABASE_URL", hide_env_values = true, global = true)]
    pub olap_database_url: Option<Secret>,
    /// File holding OLAP_DATABASE_URL; wins over OLAP_DATABASE_URL.
    #[arg(long, env = "OLAP_DATABASE_URL_FILE", global = true)]
    pub olap_database_url_file: Option<PathBuf>,
    /// TLS to both databases (libpq's sslmode): disable, prefer, require, verify-ca or verify-full
    /// [default: prefer]. An sslmode in a DSN wins.
    #[arg(long, env = "PGSSLMODE", value_enum, global = true)]
    pub sslmode: Option<SslMode>,
    /// Root certificate(s) the server certificate must chain to (PEM file, or `system` for the
    /// operating system's store; verify-* without it also use the system store). An sslrootcert in a DSN wins.
    #[arg(long, env = "PGSSLROOTCERT", global = true)]
    pub sslrootcert: Option<String>,
    /// Directory of the private PostgreSQL that `brewlytics up` starts when no database is set.
    #[arg(long, env = "BREWLYTICS_HOME", default_value = ".brewlytics", global = true)]
    pub home: PathBuf,
    /// Address of the order API.
    #[arg(long, env = "API_ADDR", default_value = "127.0.0.1:8000", global = true)]
    pub api_addr: SocketAddr,
    /// Address of the daemon's Prometheus endpoint (path /metrics).
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9898", global = true)]
    pub metrics_addr: SocketAddr,
    /// Address of the analytics service (`brewlytics analytics`: read API, docs and live page).
    #[arg(long, env = "ANALYTICS_ADDR", default_value = "127.0.0.1:8001", global = true)]
    pub analytics_addr: SocketAddr,
    /// API key of the analytics service; when set, its data endpoints and live page require it
    /// (`Authorization: Bearer <key>` or `X-API-Key: <key>`). Unset = open.
    #[arg(long, env = "ANALYTICS_API_KEY", hide_env_values = true, global = true)]
    pub analytics_api_key: Option<String>,
    /// URL of the CDC daemon's Prometheus metrics, read by the analytics service for the backlog and
    /// reconciliation state [default: http://METRICS_ADDR/metrics].
    #[arg(long, env = "ANALYTICS_METRICS_URL", global = true)]
    pub analytics_metrics_url: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// Longest wait of the CDC daemon between two polls of OLTP, in milliseconds (reached while
    /// polls find nothing; a NOTIFY, when turned on, wakes it at once).
    #[arg(long, env = "CDC_POLL_INTERVAL_MS", default_value_t = 200, global = true)]
    pub cdc_poll_interval_ms: u64,
    /// Shortest wait of the CDC daemon between two polls of OLTP, in milliseconds (while polls
    /// find changes).
    #[arg(long, env = "CDC_POLL_MIN_MS", default_value_t = 10, global = true)]
    pub cdc_poll_min_ms: u64,
    /// Most change rows read and applied in one warehouse transaction.
    #[arg(long, env = "CDC_BATCH_ROWS", default_value_t = 20000, global = true)]
    pub cdc_batch_rows: i64,
    /// Most bytes of change images read in one batch.
    #[arg(long, env = "CDC_BATCH_BYTES", default_value_t = 8 << 20, global = true)]
    pub cdc_batch_bytes: i64,
    /// What a warehouse whose checkpoint was never set starts with: `initial` loads the current
    /// state of every business table from one OLTP snapshot, then streams from it; `never`
    /// replays cdc_orders from its beginning instead.
    #[arg(long, env = "CDC_SNAPSHOT", default_value = "initial", global = true)]
    pub cdc_snapshot: SnapshotMode,
    /// Applied cdc_orders rows older than this are deleted (e.g. 1d, 12h, 30m, 0s = never).
    #[arg(long, env = "CDC_RETENTION", default_value = "1d", value_parser = parse_duration, global = true)]
    pub cdc_retention: Duration,
    /// How often the daemon reconciles the warehouse with OLTP (last 7 days per day, plus totals; 0s = never).
    #[arg(long, env = "CDC_RECONCILE_EVERY", default_value = "5m", value_parser = parse_duration, global = true)]
    pub cdc_reconcile_every: Duration,
    /// What the scheduled reconciliation does with differences found in two runs in a row:
    /// `on` resyncs the tables they are in, `off` only reports them.
    #[arg(long, env = "CDC_RECONCILE_REPAIR", default_value = "on", global = true)]
    pub cdc_reconcile_repair: Switch,
    /// Whether the daemon keeps the rollups (aggregate tables the readers use) exact with every
    /// batch: `off` only to measure what they cost (they go stale; turned on again, the daemon
    /// rebuilds them from the facts at its start).
    #[arg(long, env = "CDC_ROLLUPS", default_value = "on", global = true)]
    pub cdc_rollups: Switch,
    /// What the daemon does when the OLTP source was replaced (a promoted standby, a restore, a
    /// new cluster, a warehouse restored behind what retention pruned): `resync` re-bases the
    /// warehouse on the new source from one snapshot; `stop` applies nothing and waits until an
    /// operator runs `brewlytics resync`.
    #[arg(long, env = "CDC_ON_SOURCE_CHANGE", default_value = "resync", global = true)]
    pub cdc_on_source_change: OnSourceChange,
    /// Physical standbys of OLTP (their `application_name`s, comma-separated) that must have
    /// replayed a window's changes before the daemon applies them, so that after a failover to one
    /// of them the warehouse holds nothing the new primary lacks. Empty: no gate.
    #[arg(long, env = "CDC_SYNC_STANDBYS", value_delimiter = ',', global = true)]
    pub cdc_sync_standbys: Vec<String>,
    /// Password of the `brewlytics_api` role (writes OLTP business tables).
    #[arg(
        long,
        env = "API_DB_PASSWORD",
        default_value = "brew_api",
        hide_default_value = true,
        hide_env_values = true,
        global = true
    )]
    pub api_db_password: Secret,
    /// File holding API_DB_PASSWORD; wins over API_DB_PASSWORD.
    #[arg(long, env = "API_DB_PASSWORD_FILE", global = true)]
    pub api_db_password_file: Option<PathBuf>,
    /// Password of the `brewlytics_cdc` role (reads OLTP, writes OLAP).
    #[arg(
        long,
        env = "CDC_DB_PASSWORD",
        default_value = "brew_cdc",
        hide_default_value = true,
        hide_env_values = true,
        global = true
    )]
    pub cdc_db_password: Secret,
    /// File holding CDC_DB_PASSWORD; wins over CDC_DB_PASSWORD.
    #[arg(long, env = "CDC_DB_PASSWORD_FILE", global = true)]
    pub cdc_db_password_file: Option<PathBuf>,
    /// Password of the read-only `analytics_reader` role (Metabase, Grafana).
    #[arg(
        long,
        env = "READER_DB_PASSWORD",
        default_value = "brew_reader",
        hide_default_value = true,
        hide_env_values = true,
        global = true
    )]
    pub reader_db_password: Secret,
    /// File holding READER_DB_PASSWORD; wins over READER_DB_PASSWORD.
    #[arg(long, env = "READER_DB_PASSWORD_FILE", global = true)]
    pub reader_db_password_file: Option<PathBuf>,
    /// Password of the `brewlytics_dbt` role (reads the star, owns schema marts).
    #[arg(
        long,
        env = "DBT_DB_PASSWORD",
        default_value = "brew_dbt",
        hide_default_value = true,
        hide_env_values = true,
        global = true
    )]
    pub dbt_db_password: Secret,
    /// File holding DBT_DB_PASSWORD; wins over DBT_DB_PASSWORD.
    #[arg(long, env = "DBT_DB_PASSWORD_FILE", global = true)]
    pub dbt_db_password_file: Option<PathBuf>,
    /// Key the order API requires on every write (`Authorization: Bearer …` or `X-API-Key`);
    /// unset = writes are open (local load tests). `brewlytics load` sends it.
    #[arg(long, env = "API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<Secret>,
    /// File holding API_KEY; wins over API_KEY.
    #[arg(long, env = "API_KEY_FILE", global = true)]
    pub api_key_file: Option<PathBuf>,
    /// Both DSNs point at the private PostgreSQL of `brewlytics up` (for error messages).
    #[arg(skip)]
    pub private_cluster: bool,
    /// Connect as this role instead of the configured user ([`Config::connect_as`]).
    #[arg(skip)]
    login: Option<Login>,
}

/// A role to connect as, its password, and the setting the password came from.
#[derive(Debug, Clone)]
struct Login {
    user: &'static str,
    password: Secret,
    setting: &'static str,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// How a new warehouse starts (`CDC_SNAPSHOT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SnapshotMode {
    Initial,
    Never,
}

/// A setting that is on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl Switch {
    pub fn is_on(self) -> bool {
        self == Switch::On
    }
}

/// What the daemon does when the OLTP source was replaced (`CDC_ON_SOURCE_CHANGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnSourceChange {
    /// Re-base on the new source: a full resync from one snapshot of it, then stream from there.
    Resync,
    /// Apply nothing; wait for an operator (`brewlytics resync`).
    Stop,
}

/// Which database a setting is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Oltp,
    Olap,
}

impl Config {
    /// Parse an empty environment-free config (defaults only); used by tests and `up`.
    pub fn defaults() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            c: Config,
        }
        Only::parse_from(["brewlytics"]).c
    }

    /// Range checks that clap cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |setting, v: i64| {
            if v > 0 {
                Ok(())
            } else {
                Err(ConfigError::Invalid { setting, reason: format!("must be > 0, got {v}") })
            }
        };
        positive("CDC_BATCH_ROWS", self.cdc_batch_rows)?;
        positive("CDC_BATCH_BYTES", self.cdc_batch_bytes)?;
        positive("CDC_POLL_INTERVAL_MS", self.cdc_poll_interval_ms as i64)?;
        positive("CDC_POLL_MIN_MS", self.cdc_poll_min_ms as i64)?;
        if self.cdc_poll_min_ms > self.cdc_poll_interval_ms {
            return Err(ConfigError::Invalid {
                setting: "CDC_POLL_MIN_MS",
                reason: format!("must not exceed CDC_POLL_INTERVAL_MS ({})", self.cdc_poll_interval_ms),
            });
        }
        if self.api_key.as_ref().is_some_and(|k| k.expose().trim().is_empty()) {
            return Err(ConfigError::Invalid {
                setting: "API_KEY",
                reason: "is empty (unset it to leave writes open)".into(),
            });
        }
        if self.analytics_api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return Err(ConfigError::Invalid {
                setting: "ANALYTICS_API_KEY",
                reason: "must not be empty when set".into(),
            });
        }
        if let Some(url) = &self.analytics_metrics_url {
            if reqwest::Url::parse(url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
                return Err(ConfigError::Invalid {
                    setting: "ANALYTICS_METRICS_URL",
                    reason: format!("'{url}' is not an http(s) URL"),
                });
            }
        }
        self.target(Db::Oltp)?;
        self.target(Db::Olap)?;
        Ok(())
    }

    /// Whether neither database is configured explicitly (no DSN and no host).
    pub fn uses_private_cluster(&self) -> bool {
        self.oltp_database_url.is_none()
            && self.olap_database_url.is_none()
            && self.oltp_host.is_none()
            && self.olap_host.is_none()
    }

    /// Point both databases at the private PostgreSQL of `brewlytics up`; `dsn` gives the DSN of
    /// a database name.
    pub fn with_private_cluster(mut self, dsn: impl Fn(&str) -> String) -> Self {
        self.oltp_database_url = Some(dsn(&self.oltp_db).into());
        self.olap_database_url = Some(dsn(&self.olap_db).into());
        self.private_cluster = true;
        self
    }

    /// The connection settings of one database, naming the setting that was wrong.
    pub fn target(&self, db: Db) -> Result<DbTarget, ConfigError> {
        let (url, url_name, host, host_name, port, name) = match db {
            Db::Oltp => (
                &self.oltp_database_url,
                "OLTP_DATABASE_URL",
                &self.oltp_host,
                "OLTP_HOST",
                self.oltp_port,
                &self.oltp_db,
            ),
            Db::Olap => (
                &self.olap_database_url,
                "OLAP_DATABASE_URL",
                &self.olap_host,
                "OLAP_HOST",
                self.olap_port,
                &self.olap_db,
            ),
        };
        let mut target = match url {
            Some(url) => {
                let source = if self.private_cluster { "the private PostgreSQL in BREWLYTICS_HOME" } else { url_name };
                DbTarget::parse(url.expose(), url_name, source, self.tls_settings())?
            }
            None => {
                let tls = self.tls_settings();
                let mut pg = tokio_postgres::Config::new();
                pg.host(host.as_deref().unwrap_or("localhost"))
                    .port(port)
                    .dbname(name)
                    .user(&self.db_user)
                    .password(self.db_password.expose())
                    .application_name("brewlytics")
                    .connect_timeout(Duration::from_secs(5))
                    .ssl_mode(tls::postgres_mode(tls.mode));
                let source =
                    if host.is_some() { host_name } else { "DB_USER/DB_PASSWORD and default host localhost:5432" };
                DbTarget { pg, source, tls, password_setting: None }
            }
        };
        if let Some(login) = &self.login {
            target.pg.user(login.user).password(login.password.expose());
            target.password_setting = Some(login.setting);
        }
        Ok(target)
    }

    /// The TLS settings of PGSSLMODE/PGSSLROOTCERT (flags or environment), `prefer` by default.
    fn tls_settings(&self) -> TlsSettings {
        TlsSettings {
            mode: self.sslmode.unwrap_or(SslMode::Prefer),
            mode_setting: if self.sslmode.is_some() { "PGSSLMODE" } else { "default" },
            root_cert: self.sslrootcert.as_deref().map(RootCert::parse),
            root_setting: "PGSSLROOTCERT",
        }
    }

    /// Connect to both databases as `user` with `password` (named by `setting`, e.g.
    /// `CDC_DB_PASSWORD`) instead of the configured user: how `up` runs each component as its role.
    pub fn connect_as(mut self, user: &'static str, password: Secret, setting: &'static str) -> Self {
        self.login = Some(Login { user, password, setting });
        self
    }

    /// Replace each secret by the content of its `…_FILE` setting, when that is set.
    pub fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        let read = |file: &Option<PathBuf>, setting| file.as_deref().map(|p| Secret::from_file(setting, p)).transpose();
        for (file, setting, value) in [
            (&self.db_password_file, "DB_PASSWORD_FILE", &mut self.db_password),
            (&self.api_db_password_file, "API_DB_PASSWORD_FILE", &mut self.api_db_password),
            (&self.cdc_db_password_file, "CDC_DB_PASSWORD_FILE", &mut self.cdc_db_password),
            (&self.reader_db_password_file, "READER_DB_PASSWORD_FILE", &mut self.reader_db_password),
            (&self.dbt_db_password_file, "DBT_DB_PASSWORD_FILE", &mut self.dbt_db_password),
        ] {
            if let Some(secret) = read(file, setting)? {
                *value = secret;
            }
        }
        for (file, setting, value) in [
            (&self.oltp_database_url_file, "OLTP_DATABASE_URL_FILE", &mut self.oltp_database_url),
            (&self.olap_database_url_file, "OLAP_DATABASE_URL_FILE", &mut self.olap_database_url),
            (&self.api_key_file, "API_KEY_FILE", &mut self.api_key),
        ] {
            if let Some(secret) = read(file, setting)? {
                *value = Some(secret);
            }
        }
        Ok(())
    }

    /// Where the analytics service reads the daemon's metrics: ANALYTICS_METRICS_URL, else
    /// `http://METRICS_ADDR/metrics`.
    pub fn analytics_metrics_url(&self) -> String {
        self.analytics_metrics_url.clone().unwrap_or_else(|| format!("http://{}/metrics", self.metrics_addr))
    }

    /// The daemon's longest wait between polls.
    pub(crate) fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.cdc_poll_interval_ms)
    }

    /// The daemon's shortest wait between polls.
    pub(crate) fn poll_min(&self) -> Duration {
        Duration::from_millis(self.cdc_poll_min_ms)
    }
}

/// Parse `1d`, `12h`, `30m`, `45s`, `250ms` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("'{s}' is not a duration like 1d, 12h, 30m or 45s"))?;
    let secs = match unit {
        "" | "s" => return Ok(Duration::from_secs(n)),
        "ms" => return Ok(Duration::from_millis(n)),
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit '{unit}' in '{s}' (use ms, s, m, h or d)")),
    };
    Ok(Duration::from_secs(n * secs))
}

#[cfg(test)]
mod tests;
