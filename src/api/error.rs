//! The API's error type: every failure becomes a JSON body `{"error": "...", "field": "..."}`.
//!
//! Client errors name what is wrong (and the request field, when there is one). Internal errors
//! are logged with their cause chain and answered with a generic message: no database detail ever
//! reaches the client.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400: the body is not JSON, or a path parameter is malformed.
    #[error("{message}")]
    Malformed { message: String, field: Option<String> },
    /// 422: well-formed, but a value is invalid or refers to something that does not exist.
    #[error("{message}")]
    Invalid { message: String, field: Option<String> },
    /// 404: the resource named by the path does not exist.
    #[error("{message}")]
    NotFound { message: String },
    /// 409: the request conflicts with the current state (duplicate email, status transition).
    #[error("{message}")]
    Conflict { message: String, field: Option<String> },
    /// 401: a write without the API key, or with a wrong one.
    #[error("{message}")]
    Unauthorized { message: &'static str, field: &'static str },
    /// 413: the body is larger than the limit.
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// 415: the body is not declared as JSON.
    #[error("expected a request body with `Content-Type: application/json`")]
    NotJson,
    /// 503: the request took longer than the server allows.
    #[error("the request took longer than {} s", .0.as_secs())]
    TimedOut(std::time::Duration),
    /// 503: the database cannot be reached.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 500: anything else; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Shorthand for handler results.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 422 about one request field.
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid { message: message.into(), field: Some(field.into()) }
    }

    /// A 404 about the resource in the path.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound { message: message.into() }
    }

    /// A 409 about one request field.
    pub(crate) fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Conflict { message: message.into(), field: Some(field.into()) }
    }

    /// The HTTP status of this error.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TimedOut(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ApiError::Malformed { field, .. } | ApiError::Invalid { field, .. } | ApiError::Conflict { field, .. } => {
                field.as_deref()
            }
            ApiError::Unauthorized { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
pub(super) struct ErrorBody<'a> {
    pub error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) => tracing::error!(error = %chain(cause.as_ref()), "request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(error = %chain(cause.as_ref()), "database unavailable"),
            _ => {}
        }
        let message = self.to_string();
        let mut response = (self.status(), Json(ErrorBody { error: &message, field: self.field() })).into_response();
        if let ApiError::Unauthorized { .. } = self {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The whole cause chain of an error, for the server log.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.is_closed() {
            ApiError::Unavailable(Box::new(e))
        } else {
            ApiError::Internal(Box::new(e))
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ApiError::Unavailable(Box::new(e))
    }
}
