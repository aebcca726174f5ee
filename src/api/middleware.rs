//! Cross-cutting request handling: latency/count metrics by matched route, and the request timeout.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{error::ApiError, REQUEST_TIMEOUT};
use crate::telemetry::{HTTP_DURATION, HTTP_REQUESTS};

/// The `route` label of requests that matched no route (bounded, unlike the raw path).
pub(super) const UNMATCHED_ROUTE: &str = "unmatched";

/// Record [`HTTP_REQUESTS`] and [`HTTP_DURATION`], labelled by method, matched route and status.
pub(super) async fn track_metrics(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or(UNMATCHED_ROUTE, MatchedPath::as_str).to_owned();
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(req).await;
    let labels = [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(start.elapsed().as_secs_f64());
    response
}

/// Answer 503 with a JSON error when a request runs longer than [`REQUEST_TIMEOUT`]. (tower-http's
/// `TimeoutLayer` does the same with an empty body; this keeps the API's JSON error shape.)
/// Dropping the handler rolls its open transaction back.
pub(super) async fn timeout(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut(REQUEST_TIMEOUT).into_response(),
    }
}
