//! Settings, read from the environment (the original `.env` names) and CLI flags.
//!
//! Each database is configured either by a full DSN (`OLTP_DATABASE_URL`, `OLAP_DATABASE_URL`)
//! or by parts (`DB_USER`, `DB_PASSWORD`, `OLTP_HOST`, `OLTP_PORT`, `OLTP_DB`, …); a DSN wins.
//! When neither a DSN nor a host is given and `brewlytics up` has a private PostgreSQL running
//! in `.brewlytics/`, that cluster is used, so `status` and `verify` work next to `up`.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use clap::Args;

/// Why a setting was rejected; the message always names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting} is not a valid PostgreSQL connection string: {reason}")]
    BadDsn { setting: &'static str, reason: String },
    #[error("{setting} is invalid: {reason}")]
    Invalid { setting: &'static str, reason: String },
}

/// Every setting of every subcommand. `brewlytics --help` lists them with their env names.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database user for both databases (used when no *_DATABASE_URL is given).
    #[arg(long, env = "DB_USER", default_value = "brew", global = true)]
    pub db_user: String,
    /// Database password for both databases (dev default; set your own).
    #[arg(long, env = "DB_PASSWORD", default_value = "brew", hide_default_value = true, global = true)]
    pub db_password: String,
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
    /// Full OLTP DSN (postgres://user:pass@host:port/db or key=value); wins over the parts.
    #[arg(long, env = "OLTP_DATABASE_URL", global = true)]
    pub oltp_database_url: Option<String>,
    /// Full OLAP DSN; wins over the parts.
    #[arg(long, env = "OLAP_DATABASE_URL", global = true)]
    pub olap_database_url: Option<String>,
    /// Directory of the private PostgreSQL that `brewlytics up` starts when no database is set.
    #[arg(long, env = "BREWLYTICS_HOME", default_value = ".brewlytics", global = true)]
    pub home: PathBuf,
    /// Address of the order API.
    #[arg(long, env = "API_ADDR", default_value = "127.0.0.1:8000", global = true)]
    pub api_addr: SocketAddr,
    /// Address of the daemon's Prometheus endpoint (path /metrics).
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9898", global = true)]
    pub metrics_addr: SocketAddr,
    /// Log format: text or json.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// Fallback poll interval of the CDC daemon when no NOTIFY arrives, in milliseconds.
    #[arg(long, env = "CDC_POLL_INTERVAL_MS", default_value_t = 500, global = true)]
    pub cdc_poll_interval_ms: u64,
    /// Most change rows read and applied in one warehouse transaction.
    #[arg(long, env = "CDC_BATCH_ROWS", default_value_t = 5000, global = true)]
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
    /// Password of the `brewlytics_api` role (writes OLTP business tables).
    #[arg(long, env = "API_DB_PASSWORD", default_value = "brew_api", hide_default_value = true, global = true)]
    pub api_db_password: String,
    /// Password of the `brewlytics_cdc` role (reads OLTP, writes OLAP).
    #[arg(long, env = "CDC_DB_PASSWORD", default_value = "brew_cdc", hide_default_value = true, global = true)]
    pub cdc_db_password: String,
    /// Password of the read-only `analytics_reader` role (Metabase, Grafana).
    #[arg(long, env = "READER_DB_PASSWORD", default_value = "brew_reader", hide_default_value = true, global = true)]
    pub reader_db_password: String,
    /// Password of the `brewlytics_dbt` role (reads the star, owns schema marts).
    #[arg(long, env = "DBT_DB_PASSWORD", default_value = "brew_dbt", hide_default_value = true, global = true)]
    pub dbt_db_password: String,
    /// Both DSNs point at the private PostgreSQL of `brewlytics up` (for error messages).
    #[arg(skip)]
    pub private_cluster: bool,
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

/// Which database a setting is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Oltp,
    Olap,
}

/// A resolved connection: the parsed config and the setting it came from, for error messages.
#[derive(Clone)]
pub struct DbTarget {
    pub pg: tokio_postgres::Config,
    pub source: &'static str,
}

impl fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.redacted(), self.source)
    }
}

impl DbTarget {
    /// `host:port/dbname as user`, never the password.
    pub fn redacted(&self) -> String {
        let host = self.pg.get_hosts().first().map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        });
        let port = self.pg.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}:{}/{} as {}",
            host.unwrap_or_else(|| "localhost".into()),
            port,
            self.pg.get_dbname().unwrap_or("?"),
            self.pg.get_user().unwrap_or("?")
        )
    }
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
        self.oltp_database_url = Some(dsn(&self.oltp_db));
        self.olap_database_url = Some(dsn(&self.olap_db));
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
        if let Some(url) = url {
            let pg = tokio_postgres::Config::from_str(url)
                .map_err(|e| ConfigError::BadDsn { setting: url_name, reason: e.to_string() })?;
            if pg.get_hosts().is_empty() {
                return Err(ConfigError::BadDsn { setting: url_name, reason: "no host given".into() });
            }
            let source = if self.private_cluster { "the private PostgreSQL in BREWLYTICS_HOME" } else { url_name };
            return Ok(DbTarget { pg, source });
        }
        let mut pg = tokio_postgres::Config::new();
        pg.host(host.as_deref().unwrap_or("localhost"))
            .port(port)
            .dbname(name)
            .user(&self.db_user)
            .password(&self.db_password)
            .application_name("brewlytics")
            .connect_timeout(Duration::from_secs(5));
        Ok(DbTarget {
            pg,
            source: if host.is_some() { host_name } else { "DB_USER/DB_PASSWORD and default host localhost:5432" },
        })
    }

    /// The fallback poll interval of the daemon.
    pub(crate) fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.cdc_poll_interval_ms)
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
mod tests {
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
}
