//! Operations: `GET /health`, `GET /metrics`, and the JSON 404/405 fallbacks.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::IntoResponse,
    Json,
};
use serde_json::{json, Value};

use super::{ApiError, ApiResult, AppState};

/// `GET /health`: 200 `{"status":"ok"}` when `select 1` succeeds, else 503 with a JSON error.
pub(super) async fn health(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let client = state.client().await?;
    client.simple_query("select 1").await.map_err(|e| ApiError::Unavailable(Box::new(e)))?;
    Ok(Json(json!({ "status": "ok" })))
}

/// `GET /metrics`: the process's metrics in the Prometheus text format.
pub(super) async fn metrics() -> impl IntoResponse {
    let text = crate::telemetry::metrics_handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}

/// Any path that is not a route.
pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no such route: see GET /openapi.json")
}

/// A route called with a method it does not have.
pub(super) async fn method_not_allowed() -> impl IntoResponse {
    let body = json!({ "error": "method not allowed for this route: see GET /openapi.json" });
    (StatusCode::METHOD_NOT_ALLOWED, Json(body))
}
