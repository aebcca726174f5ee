//! PostgreSQL errors classified once, by SQLSTATE (never by message text).

use tokio_postgres::error::SqlState;

/// How a caller should react to a failed statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The connection is gone or the server is restarting: reconnect with backoff.
    Connection,
    /// Serialization failure, deadlock, resource shortage: retry.
    Transient,
    /// The data cannot be applied (bad value, constraint): isolate it.
    Data,
    /// Anything else (missing table, privileges, bug): needs an operator.
    Internal,
}

impl ErrorKind {
    /// The `kind` label of `cdc_errors_total`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            ErrorKind::Connection => "connection",
            ErrorKind::Transient => "transient",
            ErrorKind::Data => "data",
            ErrorKind::Internal => "internal",
        }
    }
}

/// Map a tokio-postgres error to how the caller reacts.
pub(crate) fn classify(e: &tokio_postgres::Error) -> ErrorKind {
    let Some(code) = e.code() else {
        // No SQLSTATE: an I/O error or a closed connection.
        return ErrorKind::Connection;
    };
    let class = &code.code()[..2];
    match class {
        "08" => ErrorKind::Connection,
        "57" if *code != SqlState::QUERY_CANCELED => ErrorKind::Connection,
        "40" | "53" | "55" | "57" => ErrorKind::Transient,
        "22" | "23" => ErrorKind::Data,
        _ => ErrorKind::Internal,
    }
}
