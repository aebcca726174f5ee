//! The optional API key (ANALYTICS_API_KEY, seed 004): when set, every data route needs it, as
//! `Authorization: Bearer <key>` or `X-API-Key: <key>`, compared in constant time; otherwise 401.
//!
//! A browser cannot add headers to the live page's event stream, so the page also accepts the key
//! once as `/?key=<key>` and then sets it as an HttpOnly, SameSite=Strict cookie that the stream
//! request carries. The docs page, `/openapi.json` and `/health` stay open.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{error::AnalyticsError, AnalyticsState};

/// The cookie the live page keeps the key in.
pub(crate) const COOKIE: &str = "brewlytics_analytics_key";

/// Middleware: pass when no key is configured or the request carries it; 401 JSON otherwise.
pub(crate) async fn require_key(State(state): State<AnalyticsState>, request: Request, next: Next) -> Response {
    let Some(key) = state.api_key.as_deref() else { return next.run(request).await };
    if presented(request.headers()).is_some_and(|k| same(k.as_bytes(), key.as_bytes())) {
        return next.run(request).await;
    }
    let from_query = (request.uri().path() == "/").then(|| query_key(request.uri().query())).flatten();
    if from_query.is_some_and(|k| same(k.as_bytes(), key.as_bytes())) {
        let mut response = next.run(request).await;
        let cookie = format!("{COOKIE}={key}; HttpOnly; SameSite=Strict; Path=/");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        return response;
    }
    AnalyticsError::Unauthorized.into_response()
}

/// The key of the `Authorization: Bearer`, `X-API-Key` or cookie header, if any.
fn presented(headers: &HeaderMap) -> Option<&str> {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(bearer) = text(header::AUTHORIZATION.as_str()).and_then(|v| v.strip_prefix("Bearer ")) {
        return Some(bearer.trim());
    }
    if let Some(k) = text("x-api-key") {
        return Some(k.trim());
    }
    let cookies = text(header::COOKIE.as_str())?;
    cookies.split(';').filter_map(|c| c.trim().split_once('=')).find(|(n, _)| *n == COOKIE).map(|(_, v)| v)
}

fn query_key(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query?);
    pairs.into_iter().find(|(k, _)| k == "key").map(|(_, v)| v)
}

fn serde_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    let uri: axum::http::Uri = match format!("/?{query}").parse() {
        Ok(u) => u,
        Err(_) => return Vec::new(),
    };
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default()
}

/// Equal bytes, in time that depends on the length only.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_in_every_accepted_place_and_compared_exactly() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert_eq!(presented(&h), Some("s3cret"));
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("s3cret"));
        assert_eq!(presented(&h), Some("s3cret"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; brewlytics_analytics_key=s3cret"));
        assert_eq!(presented(&h), Some("s3cret"));
        assert_eq!(presented(&HeaderMap::new()), None);
        assert!(same(b"s3cret", b"s3cret") && !same(b"s3cret", b"s3creT") && !same(b"s3cret", b"s3cre"));
        assert_eq!(query_key(Some("x=1&key=a%20b")), Some("a b".into()));
    }
}
