//! A stand-in Metabase (axum on 127.0.0.1:0) following the REST calls of metabase/README.md:
//! first-run setup, session, data sources, cards and dashboards with dashcards. It keeps the
//! state, checks bodies the way Metabase does, and records every call.

use std::sync::{Arc, Mutex};

use axum::{
    extract::{Path, Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};

/// What the stub holds; public so tests can read and compare it.
#[derive(Debug, Default, Clone)]
pub(super) struct Stub {
    pub calls: Vec<String>,
    pub setup_token: Option<String>,
    pub admin: Option<(String, String)>,
    pub sessions: Vec<String>,
    pub databases: Vec<Value>,
    pub cards: Vec<Value>,
    pub dashboards: Vec<Value>,
    next_id: i64,
}

type Shared = Arc<Mutex<Stub>>;
type Answer = Result<Json<Value>, (StatusCode, String)>;

fn bad(status: StatusCode, msg: &str) -> (StatusCode, String) {
    (status, json!({ "message": msg }).to_string())
}

impl Stub {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }
}

/// Serve a fresh Metabase (no admin yet, setup token `tok`); returns its URL and its state.
pub(super) async fn start() -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(Stub { setup_token: Some("tok".into()), ..Default::default() }));
    let app = Router::new()
        .route("/api/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/api/session/properties", get(properties))
        .route("/api/setup", post(setup))
        .route("/api/session", post(session))
        .route("/api/database", get(list_databases).post(create_database))
        .route(
            "/api/card",
            get(|State(s): State<Shared>| async move { Json(Value::from(s.lock().unwrap().cards.clone())) })
                .post(create_card),
        )
        .route("/api/card/{id}", axum::routing::put(update_card))
        .route("/api/dashboard", get(list_dashboards).post(create_dashboard))
        .route("/api/dashboard/{id}", get(get_dashboard).put(update_dashboard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record_and_authenticate))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

/// Record the call; everything but health, properties, setup and login needs a live session.
async fn record_and_authenticate(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let open = ["/api/health", "/api/session/properties", "/api/setup", "/api/session"].contains(&path.as_str());
    {
        let mut s = s.lock().unwrap();
        s.calls.push(format!("{} {path}", req.method()));
        let token = req.headers().get("X-Metabase-Session").and_then(|v| v.to_str().ok());
        if !open && !token.is_some_and(|t| s.sessions.iter().any(|x| x == t)) {
            return (StatusCode::UNAUTHORIZED, "Unauthenticated").into_response();
        }
    }
    next.run(req).await
}

async fn properties(State(s): State<Shared>) -> Json<Value> {
    let s = s.lock().unwrap();
    Json(json!({"setup-token": s.setup_token, "has-user-setup": s.admin.is_some(), "version": {"tag": "v0.50.36"}}))
}

async fn setup(State(s): State<Shared>, Json(b): Json<Value>) -> Answer {
    let mut s = s.lock().unwrap();
    if s.admin.is_some() || b["token"].as_str() != s.setup_token.as_deref() {
        return Err(bad(StatusCode::FORBIDDEN, "The /api/setup route can only be used to create the first user"));
    }
    let (email, password) = (b["user"]["email"].as_str(), b["user"]["password"].as_str());
    let (Some(email), Some(password)) = (email, password) else {
        return Err(bad(StatusCode::BAD_REQUEST, "user.email and user.password are required"));
    };
    s.admin = Some((email.into(), password.into()));
    s.setup_token = None;
    let token = format!("session-{}", s.id());
    s.sessions.push(token.clone());
    Ok(Json(json!({ "id": token })))
}

async fn session(State(s): State<Shared>, Json(b): Json<Value>) -> Answer {
    let mut s = s.lock().unwrap();
    let given = (b["username"].as_str().unwrap_or(""), b["password"].as_str().unwrap_or(""));
    if s.admin.as_ref().map(|(u, p)| (u.as_str(), p.as_str())) != Some(given) {
        let body = json!({"errors": {"password": "did not match stored password"}});
        return Err((StatusCode::UNAUTHORIZED, body.to_string()));
    }
    let token = format!("session-{}", s.id());
    s.sessions.push(token.clone());
    Ok(Json(json!({ "id": token })))
}

async fn list_databases(State(s): State<Shared>) -> Json<Value> {
    let s = s.lock().unwrap();
    Json(json!({"data": s.databases, "total": s.databases.len()}))
}

async fn create_database(State(s): State<Shared>, Json(b): Json<Value>) -> Answer {
    let d = &b["details"];
    if b["name"].as_str().is_none() || b["engine"] != "postgres" || d["host"].as_str().is_none() {
        return Err(bad(StatusCode::BAD_REQUEST, "name, engine and details.host are required"));
    }
    if d["user"] != "analytics_reader" || d["password"].as_str().is_none() || !d["port"].is_u64() {
        return Err(bad(StatusCode::BAD_REQUEST, "FATAL: password authentication failed"));
    }
    let mut s = s.lock().unwrap();
    let mut db = json!({"id": s.id(), "name": b["name"], "engine": "postgres", "details": d});
    db["details"]["password"] = "**MetabasePass**".into(); // stored, but redacted in answers
    db["stored_password"] = d["password"].clone();
    s.databases.push(db.clone());
    Ok(Json(db))
}

/// Check a card body as Metabase would (a native query on an existing database).
fn check_card(s: &Stub, b: &Value) -> Result<(), (StatusCode, String)> {
    let q = &b["dataset_query"];
    let db_exists = s.databases.iter().any(|d| d["id"] == q["database"]);
    if b["name"].as_str().is_none() || b["display"].as_str().is_none() || q["type"] != "native" || !db_exists {
        return Err(bad(StatusCode::BAD_REQUEST, "invalid card"));
    }
    if q["native"]["query"].as_str().is_none() || !q["native"]["template-tags"].is_object() {
        return Err(bad(StatusCode::BAD_REQUEST, "native.query and native.template-tags are required"));
    }
    Ok(())
}

async fn create_card(State(s): State<Shared>, Json(mut b): Json<Value>) -> Answer {
    let mut s = s.lock().unwrap();
    check_card(&s, &b)?;
    b["id"] = s.id().into();
    b["archived"] = false.into();
    s.cards.push(b.clone());
    Ok(Json(b))
}

async fn update_card(State(s): State<Shared>, Path(id): Path<i64>, Json(b): Json<Value>) -> Answer {
    let mut s = s.lock().unwrap();
    check_card(&s, &b)?;
    let card = s.cards.iter_mut().find(|c| c["id"] == id).ok_or_else(|| bad(StatusCode::NOT_FOUND, "Not found."))?;
    for (k, v) in b.as_object().unwrap() {
        card[k] = v.clone();
    }
    Ok(Json(card.clone()))
}

async fn list_dashboards(State(s): State<Shared>) -> Json<Value> {
    let s = s.lock().unwrap();
    let list: Vec<Value> =
        s.dashboards.iter().map(|d| json!({"id": d["id"], "name": d["name"], "archived": false})).collect();
    Json(list.into())
}

async fn create_dashboard(State(s): State<Shared>, Json(b): Json<Value>) -> Answer {
    let mut s = s.lock().unwrap();
    let Some(name) = b["name"].as_str() else { return Err(bad(StatusCode::BAD_REQUEST, "name is required")) };
    let d = json!({"id": s.id(), "name": name, "description": b["description"], "dashcards": [], "tabs": []});
    s.dashboards.push(d.clone());
    Ok(Json(d))
}

async fn get_dashboard(State(s): State<Shared>, Path(id): Path<i64>) -> Answer {
    let s = s.lock().unwrap();
    s.dashboards
        .iter()
        .find(|d| d["id"] == id)
        .cloned()
        .map(Json)
        .ok_or_else(|| bad(StatusCode::NOT_FOUND, "Not found."))
}

/// Replace the dashcards: existing ids are kept, negative ids are new, absent ones are removed.
async fn update_dashboard(State(s): State<Shared>, Path(id): Path<i64>, Json(b): Json<Value>) -> Answer {
    let mut guard = s.lock().unwrap();
    let s = &mut *guard;
    let i = s.dashboards.iter().position(|d| d["id"] == id).ok_or_else(|| bad(StatusCode::NOT_FOUND, "Not found."))?;
    let Some(wanted) = b["dashcards"].as_array() else { return Err(bad(StatusCode::BAD_REQUEST, "dashcards")) };
    let current = s.dashboards[i]["dashcards"].as_array().unwrap().clone();
    let mut next = Vec::new();
    for (n, dc) in wanted.iter().enumerate() {
        let Some(dc_id) = dc["id"].as_i64() else { return Err(bad(StatusCode::BAD_REQUEST, "dashcard id")) };
        let fits = ["col", "row", "size_x", "size_y"].iter().all(|k| dc[k].is_u64())
            && dc["col"].as_u64().unwrap() + dc["size_x"].as_u64().unwrap() <= 24;
        let card_ok = s.cards.iter().any(|c| c["id"] == dc["card_id"]);
        let id_ok = if dc_id < 0 {
            !wanted[..n].iter().any(|o| o["id"] == dc_id)
        } else {
            current.iter().any(|c| c["id"] == dc_id)
        };
        if !(fits && card_ok && id_ok) {
            return Err(bad(StatusCode::BAD_REQUEST, &format!("invalid dashcard {dc}")));
        }
        let mut kept = dc.clone();
        if dc_id < 0 {
            kept["id"] = s.id().into();
        }
        next.push(kept);
    }
    s.dashboards[i]["dashcards"] = next.into();
    for k in ["name", "description"] {
        if let Some(v) = b.get(k) {
            s.dashboards[i][k] = v.clone();
        }
    }
    Ok(Json(s.dashboards[i].clone()))
}

impl Stub {
    /// Calls since index `from` with the given method.
    pub(super) fn calls_with(&self, from: usize, method: &Method) -> Vec<String> {
        let prefix = format!("{method} ");
        self.calls[from..].iter().filter(|c| c.starts_with(&prefix)).cloned().collect()
    }
}
