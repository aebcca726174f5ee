//! The analytics service's errors: every failure is a JSON body `{"error": "...", "field": "..."}`
//! (the order API's shape). Query parameters are named in `field`; internal causes are logged with
//! their chain and never sent.

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

use crate::telemetry::Chain;

/// Why an analytics request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AnalyticsError {
    /// 400: the query string cannot be parsed at all.
    #[error("{0}")]
    Malformed(String),
    /// 422: a query parameter is unknown, repeated or has an invalid value.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// 401: an API key is configured and the request did not carry it.
    #[error("this endpoint needs the API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`")]
    Unauthorized,
    /// 404: no such route.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method is not GET (axum adds `Allow`).
    #[error("only GET is served: see GET /docs")]
    MethodNotAllowed,
    /// 503: the warehouse cannot be reached, or the request took too long.
    #[error("the warehouse is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 500: anything else; logged, never detailed.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Shorthand for handler results.
pub(crate) type AnalyticsResult<T> = Result<T, AnalyticsError>;

impl AnalyticsError {
    /// A 422 about one query parameter.
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        AnalyticsError::Invalid { field: field.to_string(), message: message.into() }
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            AnalyticsError::Malformed(_) => StatusCode::BAD_REQUEST,
            AnalyticsError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AnalyticsError::Unauthorized => StatusCode::UNAUTHORIZED,
            AnalyticsError::NotFound(_) => StatusCode::NOT_FOUND,
            AnalyticsError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AnalyticsError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AnalyticsError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            AnalyticsError::Invalid { field, .. } => Some(field),
            AnalyticsError::Unauthorized => Some("Authorization"),
            _ => None,
        }
    }
}

/// The JSON body of every error.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for AnalyticsError {
    fn into_response(self) -> Response {
        match &self {
            AnalyticsError::Internal(cause) => {
                tracing::error!(error = %Chain(cause.as_ref()), "analytics request failed")
            }
            AnalyticsError::Unavailable(cause) => {
                tracing::warn!(error = %Chain(cause.as_ref()), "warehouse unavailable")
            }
            _ => {}
        }
        let message = self.to_string();
        let mut response = (self.status(), Json(ErrorBody { error: &message, field: self.field() })).into_response();
        if matches!(self, AnalyticsError::Unauthorized) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<tokio_postgres::Error> for AnalyticsError {
    fn from(e: tokio_postgres::Error) -> Self {
        match crate::db::classify(&e) {
            crate::db::ErrorKind::Connection | crate::db::ErrorKind::Transient => {
                AnalyticsError::Unavailable(Box::new(e))
            }
            _ => AnalyticsError::Internal(Box::new(e)),
        }
    }
}

impl From<deadpool_postgres::PoolError> for AnalyticsError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        AnalyticsError::Unavailable(Box::new(e))
    }
}
