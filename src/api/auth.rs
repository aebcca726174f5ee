//! The API key: with `API_KEY` set, every write (a routed request whose method is not GET, HEAD,
//! OPTIONS or TRACE) must carry it, as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
//! Reads, `/health`, `/metrics` and `/openapi.json` stay open; unknown routes stay 404.

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderMap},
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use super::{error::ApiError, AppState};

/// The header of the `X-API-Key` form.
pub(super) const API_KEY_HEADER: &str = "x-api-key";

/// Refuse a write without the right key with 401 (compared in constant time).
pub(super) async fn require_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = state.api_key.as_deref() else { return next.run(req).await };
    if req.method().is_safe() || req.extensions().get::<MatchedPath>().is_none() {
        return next.run(req).await;
    }
    match presented(req.headers()) {
        Some((_, given)) if bool::from(given.as_bytes().ct_eq(key.expose().as_bytes())) => next.run(req).await,
        Some((field, _)) => ApiError::Unauthorized { message: "the API key is not valid", field }.into_response(),
        None => ApiError::Unauthorized {
            message: "this route needs the API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
            field: "Authorization",
        }
        .into_response(),
    }
}

/// The key a request presents, and the header it came in.
fn presented(headers: &HeaderMap) -> Option<(&'static str, &str)> {
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| ("Authorization", token.trim()))
    });
    bearer.or_else(|| headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok()).map(|v| ("X-API-Key", v.trim())))
}
