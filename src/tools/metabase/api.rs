//! The Metabase REST calls `setup` needs: JSON in and out, the session header, and errors that
//! name the call (method and path), the status and the body; never the password.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use super::MetabaseError;

/// Longest response body quoted in an error.
const BODY_IN_ERROR: usize = 500;

/// A client of one Metabase, logged in after [`Metabase::log_in`].
pub struct Metabase {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
    /// Every call made, as `"METHOD /path"`, in order.
    pub calls: Vec<String>,
}

impl Metabase {
    /// A client of the Metabase at `base` (e.g. `http://127.0.0.1:3000`).
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("a plain HTTP client");
        Metabase { http, base: base.trim_end_matches('/').to_string(), session: None, calls: Vec::new() }
    }

    /// Send one request; any non-2xx answer is an error.
    pub(crate) async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, MetabaseError> {
        let name = format!("{method} {path}");
        self.calls.push(name.clone());
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.session {
            request = request.header("X-Metabase-Session", token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let failed = |source| MetabaseError::Request { call: name.clone(), source };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let text = response.text().await.map_err(failed)?;
        if !status.is_success() {
            let body: String = text.chars().take(BODY_IN_ERROR).collect();
            return Err(MetabaseError::Status { call: name, status: status.as_u16(), body });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| MetabaseError::Response { call: name, reason: e.to_string() })
    }

    /// Wait until `GET /api/health` answers 200 (Metabase starts slowly), at most `wait`.
    pub(crate) async fn wait_healthy(&mut self, wait: Duration) -> Result<(), MetabaseError> {
        let started = Instant::now();
        loop {
            let last = match self.call(Method::GET, "/api/health", None).await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if started.elapsed() >= wait {
                return Err(MetabaseError::NotReady { base: self.base.clone(), waited: wait, last: Box::new(last) });
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Log in: the first-run setup when no admin exists yet (`POST /api/setup`), else
    /// `POST /api/session`. Returns whether the first-run setup was done.
    pub(crate) async fn log_in(&mut self, user: &str, password: &str) -> Result<bool, MetabaseError> {
        let props = self.call(Method::GET, "/api/session/properties", None).await?;
        let has_user = props.get("has-user-setup").and_then(Value::as_bool).unwrap_or(false);
        let setup_token = props.get("setup-token").and_then(Value::as_str).filter(|_| !has_user);
        let (path, body, first_run) = match setup_token {
            Some(token) => (
                "/api/setup",
                json!({
                    "token": token,
                    "user": {"email": user, "password": password, "first_name": "Brewlytics",
                             "last_name": "Admin", "site_name": "Brewlytics"},
                    "prefs": {"site_name": "Brewlytics", "site_locale": "en", "allow_tracking": false},
                }),
                true,
            ),
            None => ("/api/session", json!({"username": user, "password": password}), false),
        };
        let answer = self.call(Method::POST, path, Some(&body)).await?;
        let token = answer.get("id").and_then(Value::as_str).ok_or_else(|| MetabaseError::Response {
            call: format!("POST {path}"),
            reason: "no session id (string \"id\") in the answer".into(),
        })?;
        self.session = Some(token.to_string());
        Ok(first_run)
    }

    /// `GET path` answering a list: a bare array, or `{"data": [...]}` (older versions).
    pub async fn list(&mut self, path: &str) -> Result<Vec<Value>, MetabaseError> {
        let answer = self.call(Method::GET, path, None).await?;
        let items = match answer {
            Value::Array(items) => items,
            Value::Object(mut o) => match o.remove("data") {
                Some(Value::Array(items)) => items,
                _ => return Err(not_a_list(path)),
            },
            _ => return Err(not_a_list(path)),
        };
        Ok(items)
    }
}

fn not_a_list(path: &str) -> MetabaseError {
    MetabaseError::Response { call: format!("GET {path}"), reason: "expected a list or {\"data\": [...]}".into() }
}

/// The integer `id` of an object a call returned.
pub(super) fn id_of(v: &Value, call: &str) -> Result<i64, MetabaseError> {
    v.get("id").and_then(Value::as_i64).ok_or_else(|| MetabaseError::Response {
        call: call.to_string(),
        reason: "no integer \"id\" in the answer".into(),
    })
}

/// The live object of `items` named `name` (the lowest id when several).
pub(super) fn find_by_name<'a>(items: &'a [Value], name: &str) -> Option<&'a Value> {
    items
        .iter()
        .filter(|v| v.get("name").and_then(Value::as_str) == Some(name))
        .filter(|v| !v.get("archived").and_then(Value::as_bool).unwrap_or(false))
        .filter(|v| v.get("id").and_then(Value::as_i64).is_some())
        .min_by_key(|v| v.get("id").and_then(Value::as_i64))
}
