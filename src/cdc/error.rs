//! Errors of the CDC daemon, classified once by SQLSTATE (never by message text).

use tokio_postgres::error::SqlState;

/// How the daemon reacts to a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The connection is gone or the server is restarting: reconnect with backoff.
    Connection,
    /// Serialization failure, deadlock, resource shortage: retry the batch.
    Transient,
    /// The data cannot be applied (bad value, constraint): isolate the change into the dead-letter table.
    Data,
    /// Anything else (missing table, privileges, bug): log, back off and retry; needs an operator.
    Internal,
}

impl ErrorKind {
    /// The `kind` label of `cdc_errors_total`.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Connection => "connection",
            ErrorKind::Transient => "transient",
            ErrorKind::Data => "data",
            ErrorKind::Internal => "internal",
        }
    }
}

/// A failure of one step of the daemon.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub struct CdcError {
    pub step: &'static str,
    pub kind: ErrorKind,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl CdcError {
    /// Wrap a database error, classifying it.
    pub fn db(step: &'static str, e: tokio_postgres::Error) -> Self {
        CdcError { step, kind: classify(&e), source: Box::new(e) }
    }

    /// A failure that is not a database error.
    pub fn internal(step: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        CdcError { step, kind: ErrorKind::Internal, source: Box::new(e) }
    }
}

/// Map a tokio-postgres error to how the daemon reacts.
pub fn classify(e: &tokio_postgres::Error) -> ErrorKind {
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
