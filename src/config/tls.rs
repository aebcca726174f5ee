//! The TLS settings of a connection, with libpq's names and meanings: `sslmode` and
//! `sslrootcert`, from the DSN (URL query or key=value) or from `PGSSLMODE`/`PGSSLROOTCERT`.
//!
//! tokio-postgres itself knows only `disable`, `prefer` and `require` and no root certificate,
//! so both keys are taken out of the DSN here and applied by `db::tls`.

use std::{fmt, path::PathBuf};

/// How a connection uses TLS (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// TLS when the server offers it, certificate not checked; plain otherwise (the default).
    Prefer,
    /// TLS always, certificate not checked (checked like verify-ca when a root certificate is given).
    Require,
    /// TLS, the server certificate must chain to a trusted root.
    VerifyCa,
    /// TLS, chain to a trusted root and the host name must match the certificate.
    VerifyFull,
}

impl SslMode {
    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [SslMode::Disable, SslMode::Prefer, SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull]
            .into_iter()
            .find(|m| m.as_str() == value)
    }
}

/// Which roots a verified connection trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// The operating system's store (libpq's `sslrootcert=system`; Mozilla's roots if it is empty).
    System,
    /// The PEM certificates in this file.
    File(PathBuf),
}

impl RootCert {
    pub(crate) fn parse(value: &str) -> Self {
        if value == "system" {
            RootCert::System
        } else {
            RootCert::File(PathBuf::from(value))
        }
    }
}

/// The TLS settings of one connection, and the settings they came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    pub mode_setting: &'static str,
    pub root_cert: Option<RootCert>,
    pub root_setting: &'static str,
}

impl TlsSettings {
    /// The mode as libpq applies it: `require` with a root certificate file checks the chain.
    pub fn effective_mode(&self) -> SslMode {
        match (self.mode, &self.root_cert) {
            (SslMode::Require, Some(RootCert::File(_))) => SslMode::VerifyCa,
            (mode, _) => mode,
        }
    }
}

impl fmt::Display for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sslmode={} ({})", self.mode.as_str(), self.mode_setting)?;
        match &self.root_cert {
            Some(RootCert::File(path)) => write!(f, ", sslrootcert={} ({})", path.display(), self.root_setting),
            Some(RootCert::System) => write!(f, ", sslrootcert=system ({})", self.root_setting),
            None => Ok(()),
        }
    }
}

/// What tokio-postgres itself is told: whether to ask for TLS, and whether it must get it (the
/// certificate checks of the verify modes are the connector's, see `db::tls`).
pub(crate) fn postgres_mode(mode: SslMode) -> tokio_postgres::config::SslMode {
    use tokio_postgres::config::SslMode as Pg;
    match mode {
        SslMode::Disable => Pg::Disable,
        SslMode::Prefer => Pg::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Pg::Require,
    }
}

/// A DSN without its `sslmode` and `sslrootcert`, and their values.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SplitDsn {
    pub rest: String,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
}

impl SplitDsn {
    /// The `sslmode` of the DSN, checked.
    pub(crate) fn mode(&self) -> Result<Option<SslMode>, String> {
        self.sslmode
            .as_deref()
            .map(|v| {
                SslMode::parse(v).ok_or_else(|| {
                    format!("sslmode must be disable, prefer, require, verify-ca or verify-full, got '{v}'")
                })
            })
            .transpose()
    }
}

/// Take `sslmode` and `sslrootcert` out of a URL (`postgres://…?sslmode=…`) or key=value DSN.
/// Errors never quote the DSN (it may hold a password).
pub(crate) fn split_dsn(dsn: &str) -> Result<SplitDsn, String> {
    if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        Ok(split_url(dsn))
    } else {
        split_key_values(dsn)
    }
}

fn split_url(dsn: &str) -> SplitDsn {
    // A '?' in the user info must be percent-encoded, so the query starts at the first '?' after it.
    let after_userinfo = dsn.rfind('@').unwrap_or(0);
    let Some(q) = dsn[after_userinfo..].find('?').map(|i| i + after_userinfo) else {
        return SplitDsn { rest: dsn.to_string(), ..Default::default() };
    };
    let mut split = SplitDsn::default();
    let mut kept = Vec::new();
    for pair in dsn[q + 1..].split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = || percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned();
        match key {
            "sslmode" => split.sslmode = Some(decoded()),
            "sslrootcert" => split.sslrootcert = Some(decoded()),
            _ => kept.push(pair),
        }
    }
    split.rest = if kept.is_empty() { dsn[..q].to_string() } else { format!("{}?{}", &dsn[..q], kept.join("&")) };
    split
}

/// `key = value` pairs separated by spaces; values may be single-quoted, with `\'` and `\\`.
fn split_key_values(dsn: &str) -> Result<SplitDsn, String> {
    let mut split = SplitDsn::default();
    let mut rest = String::new();
    let mut chars = dsn.char_indices().peekable();
    // Errors point at the pair by its number: its text may be a password.
    for pair in 1.. {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else { break };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(format!("expected '=' in pair {pair} of the key=value list"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let (value, end) = read_value(&mut chars, dsn.len())
            .ok_or_else(|| format!("unterminated quoted value in pair {pair} of the key=value list"))?;
        match key.as_str() {
            "sslmode" => split.sslmode = Some(value),
            "sslrootcert" => split.sslrootcert = Some(value),
            _ => {
                rest.push_str(&dsn[start..end]);
                rest.push(' ');
            }
        }
    }
    split.rest = rest.trim_end().to_string();
    Ok(split)
}

/// One value, quoted or not, and the index just past it; `None` when a quote is not closed.
fn read_value(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, len: usize) -> Option<(String, usize)> {
    let mut value = String::new();
    let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            '\'' if quoted => return Some((value, i + 1)),
            c if c.is_whitespace() && !quoted => return Some((value, i)),
            c => value.push(c),
        }
    }
    (!quoted).then_some((value, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_tls_parameters_and_keep_the_others() {
        let s =
            split_dsn("postgresql://u:p%3Fw@h:5/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem")
                .unwrap();
        assert_eq!(s.rest, "postgresql://u:p%3Fw@h:5/db?application_name=x");
        assert_eq!(s.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(s.sslrootcert.as_deref(), Some("/tmp/ca.pem"));
        let s = split_dsn("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!((s.rest.as_str(), s.mode().unwrap()), ("postgres://u@h/db", Some(SslMode::Require)));
        assert_eq!(split_dsn("postgres://u@h/db").unwrap().rest, "postgres://u@h/db");
    }

    #[test]
    fn key_values_lose_their_tls_parameters_and_keep_quoting() {
        let s = split_dsn("host=h  sslmode = verify-ca password='a b\\'c' sslrootcert='/x y/ca.pem' dbname=d").unwrap();
        assert_eq!(s.rest, "host=h password='a b\\'c' dbname=d");
        assert_eq!(s.mode().unwrap(), Some(SslMode::VerifyCa));
        assert_eq!(s.sslrootcert.as_deref(), Some("/x y/ca.pem"));
        assert!(split_dsn("host=h password='open").unwrap_err().contains("unterminated"));
        assert!(split_dsn("host").is_err());
    }

    #[test]
    fn a_bad_mode_is_named_without_the_dsn() {
        let s = split_dsn("postgres://u:secret@h/db?sslmode=allow-ish").unwrap();
        let err = s.mode().unwrap_err();
        assert!(err.contains("allow-ish") && !err.contains("secret"), "{err}");
    }

    #[test]
    fn require_with_a_root_certificate_verifies_the_chain() {
        let mut t = TlsSettings { mode: SslMode::Require, mode_setting: "x", root_cert: None, root_setting: "y" };
        assert_eq!(t.effective_mode(), SslMode::Require);
        t.root_cert = Some(RootCert::File("/ca.pem".into()));
        assert_eq!(t.effective_mode(), SslMode::VerifyCa);
        assert_eq!(t.to_string(), "sslmode=require (x), sslrootcert=/ca.pem (y)");
    }
}
