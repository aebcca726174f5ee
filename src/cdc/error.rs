//! Errors of the CDC daemon: which step failed, classified once so the loop knows how to react.

pub(crate) use crate::db::ErrorKind;
use crate::{apply::ApplyError, db::classify, dead_letter::DeadLetterError};

/// A failure of one step of the daemon.
#[derive(Debug, thiserror::Error)]
#[error("{step}")]
pub struct CdcError {
    pub step: &'static str,
    pub(crate) kind: ErrorKind,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl CdcError {
    /// Wrap a database error, classifying it.
    pub(crate) fn db(step: &'static str, e: tokio_postgres::Error) -> Self {
        CdcError { step, kind: classify(&e), source: Box::new(e) }
    }

    /// A failure that is not a database error.
    pub(crate) fn internal(step: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        CdcError { step, kind: ErrorKind::Internal, source: Box::new(e) }
    }
}

impl From<DeadLetterError> for CdcError {
    fn from(e: DeadLetterError) -> Self {
        CdcError { step: e.step, kind: classify(&e.source), source: Box::new(e.source) }
    }
}

impl From<ApplyError> for CdcError {
    fn from(e: ApplyError) -> Self {
        CdcError { step: e.step, kind: e.kind, source: e.source }
    }
}
