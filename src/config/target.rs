//! A resolved connection of one database: what to connect to, with which TLS settings, and the
//! settings it came from (for messages that name them, never the password).

use std::{fmt, str::FromStr};

use super::{tls, ConfigError, RootCert, SslMode, TlsSettings};

/// A resolved connection: the parsed config, its TLS settings and the settings it came from,
/// for error messages. `Debug` never shows the password.
#[derive(Clone)]
pub struct DbTarget {
    pub pg: tokio_postgres::Config,
    pub source: &'static str,
    pub tls: TlsSettings,
    /// Where the password came from when connecting as a role (e.g. `CDC_DB_PASSWORD`).
    pub password_setting: Option<&'static str>,
}

impl fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.redacted(), self.configured_by())
    }
}

impl DbTarget {
    /// The target of a bare DSN (test harnesses, the benchmark's own cluster): TLS from the DSN
    /// alone, `prefer` by default.
    pub fn from_dsn(dsn: &str, setting: &'static str) -> Result<Self, ConfigError> {
        let defaults =
            TlsSettings { mode: SslMode::Prefer, mode_setting: "default", root_cert: None, root_setting: "" };
        Self::parse(dsn, setting, setting, defaults)
    }

    /// Parse a DSN named by `setting`; its sslmode/sslrootcert win over `tls`.
    pub(super) fn parse(
        dsn: &str,
        setting: &'static str,
        source: &'static str,
        mut tls: TlsSettings,
    ) -> Result<Self, ConfigError> {
        let bad = |reason| ConfigError::BadDsn { setting, reason };
        let split = tls::split_dsn(dsn).map_err(bad)?;
        if let Some(mode) = split.mode().map_err(bad)? {
            (tls.mode, tls.mode_setting) = (mode, setting);
        }
        if let Some(root) = &split.sslrootcert {
            (tls.root_cert, tls.root_setting) = (Some(RootCert::parse(root)), setting);
        }
        let mut pg = tokio_postgres::Config::from_str(&split.rest).map_err(|e| bad(e.to_string()))?;
        if pg.get_hosts().is_empty() && pg.get_hostaddrs().is_empty() {
            return Err(bad("no host given".into()));
        }
        pg.ssl_mode(tls::postgres_mode(tls.mode));
        Ok(DbTarget { pg, source, tls, password_setting: None })
    }

    /// `host:port/dbname as user`, never the password.
    pub fn redacted(&self) -> String {
        let host = self.pg.get_hosts().first().map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        });
        let host = host.or_else(|| self.pg.get_hostaddrs().first().map(|a| a.to_string()));
        let port = self.pg.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}:{}/{} as {}",
            host.unwrap_or_else(|| "localhost".into()),
            port,
            self.pg.get_dbname().unwrap_or("?"),
            self.pg.get_user().unwrap_or("?")
        )
    }

    /// The settings behind this target, for messages: `OLTP_HOST, password CDC_DB_PASSWORD,
    /// sslmode=require (PGSSLMODE)`.
    pub fn configured_by(&self) -> String {
        let password = self.password_setting.map(|s| format!(", password {s}")).unwrap_or_default();
        format!("{}{password}, {}", self.source, self.tls)
    }
}
