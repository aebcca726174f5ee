//! The API key: with API_KEY set, every write route answers 401 without it (and writes nothing),
//! 200 with it in either header; reads, /health, /metrics and /openapi.json stay open.

use axum::http::Method;
use brewlytics::api;
use serde_json::{json, Value};

use super::TestApi;

const KEY: &str = "the-right-key-7f3a";

/// A valid request to the write route `path` (ids filled in from `ids`).
fn valid(path: &str, ids: &Ids) -> (String, Option<Value>) {
    let (product, store, order) = (ids.product, ids.store, ids.order);
    match path {
        "/orders/new" => {
            (path.into(), Some(json!({"customer_id": ids.customer, "items": [{"product_id": product, "quantity": 1}]})))
        }
        "/orders/random" => (path.into(), None),
        "/orders/{id}/status" => (format!("/orders/{order}/status"), Some(json!({"status": "served"}))),
        // After the status change above: the order is served, so it may be rated.
        "/orders/{id}/feedback" => (format!("/orders/{order}/feedback"), Some(json!({"rating": 5}))),
        "/products/new" => (path.into(), Some(json!({"name": "Keyed Brew", "price": "3.10"}))),
        "/products/{id}" => (format!("/products/{product}"), Some(json!({"price": "3.90"}))),
        "/customers/new" => (path.into(), Some(json!({"name": "Key Holder", "email": "key.holder@example.test"}))),
        "/inventory/restock" => (path.into(), Some(json!({"product_id": product, "store_id": store, "quantity": 5}))),
        "/events" => {
            let at = chrono::Utc::now().to_rfc3339();
            let events = json!([{"event_id": 1, "type": "product_view", "at": at, "product_id": product}]);
            (path.into(), Some(json!({"session_id": uuid::Uuid::new_v4(), "store_id": store, "events": events})))
        }
        other => panic!("the write route {other} has no valid request in this test: add one"),
    }
}

struct Ids {
    customer: i64,
    product: i64,
    store: i64,
    order: i64,
}

fn request(api: &TestApi, method: &Method, path: &str, body: &Option<Value>) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
    let r = api.request(method, path);
    match body {
        Some(b) => r.json(b),
        None => r,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_api_key_every_write_needs_it_and_reads_stay_open() {
    let api = TestApi::seeded_with_key(Some(KEY)).await;
    let f = api.fixture().await;
    let store = api.int("select min(id)::int8 from stores").await;
    let mut ids = Ids { customer: f.customer, product: f.coffee, store, order: 0 };
    let (path, body) = valid("/orders/new", &ids);
    let (status, placed) = api.send(request(&api, &Method::POST, &path, &body).bearer_auth(KEY)).await;
    assert_eq!(status, 200, "{placed}");
    ids.order = placed["order_id"].as_i64().unwrap();
    let order = ids.order;
    let endpoints = api::endpoints();
    let writes: Vec<_> = endpoints.iter().filter(|e| e.method != Method::GET).collect();
    assert!(writes.len() >= 7, "every write route is checked");

    let before = api.counts().await;
    for e in &writes {
        let (path, body) = valid(e.path, &ids);
        let refused = [
            (request(&api, &e.method, &path, &body), "Authorization"),
            (request(&api, &e.method, &path, &body).bearer_auth("wrong"), "Authorization"),
            (request(&api, &e.method, &path, &body).header("Authorization", format!("Basic {KEY}")), "Authorization"),
            (request(&api, &e.method, &path, &body).header("X-API-Key", format!("{KEY}x")), "X-API-Key"),
        ];
        for (r, field) in refused {
            let (status, body) = api.send(r).await;
            assert_eq!(status, 401, "{} {path}: {body}", e.method);
            assert_eq!(body["field"], field, "{} {path}: {body}", e.method);
            assert!(body["error"].as_str().is_some_and(|m| m.contains("API key")), "{body}");
        }
    }
    assert_eq!(api.counts().await, before, "a refused write wrote nothing");

    for (i, e) in writes.iter().enumerate() {
        let (path, body) = valid(e.path, &ids);
        // Both headers are accepted: alternate them.
        let r = request(&api, &e.method, &path, &body);
        let r = if i % 2 == 0 { r.bearer_auth(KEY) } else { r.header("X-API-Key", KEY) };
        let (status, body) = api.send(r).await;
        assert_eq!(status, 200, "{} {path} with the key: {body}", e.method);
    }

    for e in endpoints.iter().filter(|e| e.method == Method::GET) {
        let path = e.path.replace("{id}", &order.to_string());
        let response = api.request(reqwest::Method::GET, &path).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path} is open");
    }
    // Unknown routes are still 404, not 401.
    let (status, _) = api.post("/no/such/route", json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_documents_the_key_on_every_write_and_only_there() {
    let api = TestApi::seeded_with_key(Some("k")).await;
    let (_, doc) = api.get("/openapi.json").await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(
        (schemes["apiKeyHeader"]["in"].as_str(), schemes["apiKeyHeader"]["name"].as_str()),
        (Some("header"), Some("X-API-Key"))
    );
    for e in api::endpoints() {
        let op = &doc["paths"][e.path][e.method.as_str().to_lowercase()];
        let write = e.method != Method::GET;
        assert_eq!(op.get("security").is_some(), write, "{} {}: security", e.method, e.path);
        assert_eq!(op["responses"].get("401").is_some(), write, "{} {}: 401", e.method, e.path);
        for requirement in op["security"].as_array().into_iter().flatten() {
            for name in requirement.as_object().unwrap().keys() {
                assert!(schemes.get(name).is_some(), "undeclared scheme {name}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_key_openapi_declares_no_scheme() {
    let api = TestApi::seeded().await;
    let (_, doc) = api.get("/openapi.json").await;
    assert_eq!(doc["components"]["securitySchemes"], json!({}), "no scheme without API_KEY");
    for e in api::endpoints() {
        let op = &doc["paths"][e.path][e.method.as_str().to_lowercase()];
        assert!(op.get("security").is_none() && op["responses"].get("401").is_none(), "{} {}", e.method, e.path);
    }
}
