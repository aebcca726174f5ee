//! PostgreSQL errors classified once, by SQLSTATE (never by message text).

use tokio_postgres::error::SqlState;

/// How a caller should react to a failed statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The connection is gone or the server is restarting: reconnect with backoff.
    Connection,
    /// Serialization failure, deadlock, resource shortage, a Citus worker lost in the middle of a
    /// transaction (which rolled back): retry.
    Transient,
    /// The data cannot be applied (bad value, constraint): isolate it.
    Data,
    /// The server refuses to plan one of our statements (Citus's planner refusals, a conflict
    /// target or parameter type it cannot resolve): a bug in our SQL to report. Retrying does not
    /// fix it, so the daemon waits long between attempts.
    Unsupported,
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
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Internal => "internal",
        }
    }
}

/// Map a tokio-postgres error to how the caller reacts.
pub(crate) fn classify(e: &tokio_postgres::Error) -> ErrorKind {
    match e.code() {
        Some(code) => classify_code(code),
        // No SQLSTATE: an I/O error or a closed connection.
        None => ErrorKind::Connection,
    }
}

fn classify_code(code: &SqlState) -> ErrorKind {
    let class = &code.code()[..2];
    match class {
        // 08006 also when Citus cannot reach a worker; 57P01 when a worker shuts down.
        "08" => ErrorKind::Connection,
        "57" if *code != SqlState::QUERY_CANCELED => ErrorKind::Connection,
        "40" | "53" | "55" | "57" => ErrorKind::Transient,
        "22" | "23" => ErrorKind::Data,
        _ if is_planner_refusal(code) => ErrorKind::Unsupported,
        // What Citus reports when a worker is lost during a transaction (58030 "failed to COPY to
        // shard", XX000 at COMMIT when PREPARE TRANSACTION finds the worker gone): the whole
        // transaction rolled back, so it is safe to retry. PostgreSQL's own internal errors are
        // XX000 too; they were retried before as well, only under another label.
        _ if *code == SqlState::IO_ERROR || *code == SqlState::INTERNAL_ERROR => ErrorKind::Transient,
        _ => ErrorKind::Internal,
    }
}

/// 0A000 (feature not supported: Citus's "could not run distributed query with GROUPING SETS",
/// "functions used in the DO UPDATE SET clause … must be marked IMMUTABLE", "could not create
/// distributed plan"), 42P10 (no unique constraint matches the ON CONFLICT target), 42P16
/// (invalid table definition: "table … is already distributed"), 42P18 (indeterminate datatype:
/// a parameter Citus cannot type).
fn is_planner_refusal(code: &SqlState) -> bool {
    [
        SqlState::FEATURE_NOT_SUPPORTED,
        SqlState::INVALID_COLUMN_REFERENCE,
        SqlState::INVALID_TABLE_DEFINITION,
        SqlState::INDETERMINATE_DATATYPE,
    ]
    .contains(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str) -> ErrorKind {
        classify_code(&SqlState::from_code(code))
    }

    #[test]
    fn citus_planner_refusals_are_unsupported_not_retried_as_internal() {
        for code in ["0A000", "42P10", "42P16", "42P18"] {
            assert_eq!(kind(code), ErrorKind::Unsupported, "{code}");
        }
    }

    #[test]
    fn a_lost_worker_is_transient_or_a_connection_loss() {
        assert_eq!(kind("58030"), ErrorKind::Transient, "failed to COPY to shard");
        assert_eq!(kind("XX000"), ErrorKind::Transient, "COMMIT after a worker crash");
        assert_eq!(kind("08006"), ErrorKind::Connection, "connection to the remote node failed");
        assert_eq!(kind("57P01"), ErrorKind::Connection, "terminating connection due to administrator command");
        assert_eq!(kind("40P01"), ErrorKind::Transient, "distributed deadlock");
    }

    #[test]
    fn the_other_classes_keep_their_kinds() {
        assert_eq!(kind("22004"), ErrorKind::Data, "NULL in the partition column");
        assert_eq!(kind("23505"), ErrorKind::Data);
        assert_eq!(kind("57014"), ErrorKind::Transient, "query canceled");
        assert_eq!(kind("53300"), ErrorKind::Transient);
        assert_eq!(kind("42501"), ErrorKind::Internal, "insufficient privilege");
        assert_eq!(kind("42P01"), ErrorKind::Internal, "undefined table");
        assert_eq!(kind("42704"), ErrorKind::Internal, "role missing on a worker");
        assert_eq!(kind("58P01"), ErrorKind::Internal, "undefined file");
    }
}
