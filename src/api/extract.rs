//! Extractors whose rejections are [`ApiError`]s, so malformed input gets the same JSON error
//! shape as every other failure, naming the offending field.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, Request},
    http::{header, request::Parts, HeaderMap},
};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::{error::ApiError, BODY_LIMIT};

/// A JSON request body. Rejections: 415 without a JSON content type, 413 over [`BODY_LIMIT`],
/// 400 for malformed JSON, 422 (with `field`) for missing fields and wrong types.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::NotJson);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge { limit: BODY_LIMIT }
            } else {
                ApiError::Malformed { message: "could not read the request body".into(), field: None }
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Deserialize a JSON document, reporting the path of the first bad value.
pub(super) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(from_serde)?;
    de.end().map_err(|e| ApiError::Malformed {
        message: format!("malformed JSON: {}", without_position(&e)),
        field: None,
    })?;
    Ok(value)
}

fn from_serde(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = e.inner();
    let message = without_position(inner);
    if inner.classify() != Category::Data {
        return ApiError::Malformed { message: format!("malformed JSON: {message}"), field: None };
    }
    let path = e.path().to_string();
    let field = match missing_field(&message) {
        Some(name) if path == "." => name.to_string(),
        Some(name) => format!("{path}.{name}"),
        None if path == "." => {
            return ApiError::Invalid { message: format!("invalid request body: {message}"), field: None }
        }
        None => path,
    };
    ApiError::Invalid { message: format!("{field}: {message}"), field: Some(field) }
}

/// The field name of serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// serde_json's message without its " at line L column C" suffix.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) if e.line() > 0 => text[..i].to_string(),
        _ => text,
    }
}

/// A path parameter; a malformed one is a 400 naming the parameter.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(v)| ApiPath(v)).map_err(|rejection| {
            ApiError::Malformed {
                message: format!("bad path parameter: {}", rejection.body_text()),
                field: Some("id".into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Line {
        product_id: i32,
        quantity: i32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        customer_id: i32,
        items: Vec<Line>,
    }

    fn field_of(json: &str) -> (u16, Option<String>) {
        match parse_json::<Body>(json.as_bytes()) {
            Ok(_) => (200, None),
            Err(e) => {
                (e.status().as_u16(), e.to_string().split(':').next().map(str::to_string).filter(|_| e.status() == 422))
            }
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"items": []}"#), (422, Some("customer_id".into())));
        assert_eq!(
            field_of(r#"{"customer_id": 1, "items": [{"product_id": 1}]}"#),
            (422, Some("items[0].quantity".into()))
        );
        assert_eq!(field_of(r#"{"customer_id": "x", "items": []}"#), (422, Some("customer_id".into())));
        assert_eq!(field_of(r#"{"customer_id": 1, "items": [{"product_id": 1, "quantity": 1.5}]}"#).0, 422);
        assert_eq!(field_of(r#"{"customer_id": 1,"#).0, 400);
        assert_eq!(field_of(r#"{"customer_id": 1, "items": []} x"#).0, 400);
        assert_eq!(field_of(r#"[1]"#).0, 422);
        assert_eq!(field_of(r#"{"customer_id": 1, "items": []}"#).0, 200);
    }
}
