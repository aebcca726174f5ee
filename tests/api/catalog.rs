//! Menu, customers, staff, stock, catalogue and the operational routes.

use std::collections::BTreeSet;

use brewlytics::api;
use serde_json::json;

use super::{exact, TestApi};

#[tokio::test(flavor = "multi_thread")]
async fn products_are_created_listed_and_patched() {
    let api = TestApi::seeded().await;
    let (s, p) = api.post("/products/new", json!({"name": "Large Cortado", "price": 3.5})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (p["name"].as_str(), exact(&p["price"]), p["category"].as_str()),
        (Some("Large Cortado"), "3.50".into(), Some("coffee"))
    );
    let id = p["id"].as_i64().unwrap();
    assert_eq!(api.text(&format!("select price::text from products where id = {id}")).await, "3.50");
    let (s, p) = api.post("/products/new", json!({"name": "Scone", "price": "2.25", "category": "Bakery"})).await;
    assert_eq!((s, p["category"].as_str()), (200, Some("bakery")));
    for (body, field) in [
        (json!({"name": "Free", "price": 0}), "price"),
        (json!({"name": "Odd", "price": 1.234}), "price"),
        (json!({"name": " ", "price": 1}), "name"),
        (json!({"price": 1}), "name"),
        (json!({"name": "X", "price": "cheap"}), "price"),
    ] {
        let before = api.counts().await;
        let (s, e) = api.post("/products/new", body.clone()).await;
        assert_eq!((s, e["field"].as_str()), (422, Some(field)), "{body}: {e}");
        assert_eq!(api.counts().await, before);
    }
    let (s, list) = api.get("/products").await;
    assert_eq!(s, 200);
    let ids: Vec<i64> = list.as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]) && ids.contains(&id));
    // PATCH: a real change writes one captured update, a no-op writes nothing.
    let updates =
        format!("select count(*) from cdc_orders where table_name = 'products' and op = 'U' and row_id = {id}");
    let (s, p) = api.patch(&format!("/products/{id}"), json!({"price": 3.75, "active": false})).await;
    assert_eq!((s, exact(&p["price"]), p["active"].as_bool()), (200, "3.75".into(), Some(false)), "{p}");
    assert_eq!(api.int(&updates).await, 1);
    let (s, p) = api.patch(&format!("/products/{id}"), json!({"price": "3.750", "active": false})).await;
    assert_eq!((s, p["name"].as_str()), (200, Some("Large Cortado")));
    assert_eq!(api.int(&updates).await, 1, "a no-op PATCH writes nothing");
    let (s, p) = api.patch(&format!("/products/{id}"), json!({"name": "Big Cortado", "category": "coffee"})).await;
    assert_eq!((s, p["name"].as_str(), exact(&p["price"])), (200, Some("Big Cortado"), "3.75".into()));
    assert_eq!(api.int(&updates).await, 2);
    assert_eq!(api.patch("/products/999999", json!({"price": 1})).await.0, 404);
    let (s, e) = api.patch(&format!("/products/{id}"), json!({})).await;
    assert_eq!(s, 422, "{e}");
    let (s, e) = api.patch(&format!("/products/{id}"), json!({"price": -1})).await;
    assert_eq!((s, e["field"].as_str()), (422, Some("price")));
    assert_eq!(api.int(&updates).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_need_a_plausible_unique_email() {
    let api = TestApi::seeded().await;
    let (s, c) = api.post("/customers/new", json!({"name": "Ada Lovelace", "email": "ada@example.org"})).await;
    assert_eq!((s, c["email"].as_str()), (200, Some("ada@example.org")), "{c}");
    let id = c["id"].as_i64().unwrap();
    assert_eq!(
        api.text(&format!("select name || ' ' || email from customers where id = {id}")).await,
        "Ada Lovelace ada@example.org"
    );
    let before = api.counts().await;
    let (s, e) = api.post("/customers/new", json!({"name": "Ada Again", "email": "ada@example.org"})).await;
    assert_eq!((s, e["field"].as_str()), (409, Some("email")), "{e}");
    for email in ["ada", "ada@", "@example.org", "a da@example.org", "ada@example"] {
        let (s, e) = api.post("/customers/new", json!({"name": "Ada", "email": email})).await;
        assert_eq!((s, e["field"].as_str()), (422, Some("email")), "{email}: {e}");
    }
    let (s, e) = api.post("/customers/new", json!({"name": "No Mail"})).await;
    assert_eq!((s, e["field"].as_str()), (422, Some("email")));
    assert_eq!(api.counts().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn active_employees_are_listed_by_id_with_their_store() {
    let api = TestApi::seeded().await;
    let (s, list) = api.get("/employees/active").await;
    assert_eq!(s, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len() as i64, api.int("select count(*) from employees where active").await);
    assert!(list.windows(2).all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64()));
    let inactive = api.int("select min(id)::int8 from employees where not active").await;
    assert!(list.iter().all(|e| e["id"].as_i64() != Some(inactive)));
    assert!(list.iter().all(|e| e["store_id"].is_i64() && e["role"].is_string() && e["name"].is_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn restock_adds_a_movement_and_stock() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let store = api.int("select min(id)::int8 from stores").await;
    let stock = format!("select on_hand::int8 from inventory where product_id = {} and store_id = {store}", f.food);
    let before = api.int(&stock).await;
    let (s, r) = api.post("/inventory/restock", json!({"product_id": f.food, "store_id": store, "quantity": 25})).await;
    assert_eq!((s, r["on_hand"].as_i64()), (200, Some(before + 25)), "{r}");
    assert_eq!(api.int(&stock).await, before + 25);
    let movement = format!(
        "select quantity::int8 from inventory_movements where id = {} and reason = 'restock'",
        r["movement_id"]
    );
    assert_eq!(api.int(&movement).await, 25);
    let counts = api.counts().await;
    for (body, field) in [
        (json!({"product_id": f.food, "store_id": store, "quantity": 0}), "quantity"),
        (json!({"product_id": f.food, "store_id": store, "quantity": -5}), "quantity"),
        (json!({"product_id": 999_999, "store_id": store, "quantity": 5}), "product_id"),
        (json!({"product_id": f.food, "store_id": 999_999, "quantity": 5}), "store_id"),
        (json!({"product_id": f.food, "store_id": store}), "quantity"),
    ] {
        let (s, e) = api.post("/inventory/restock", body.clone()).await;
        assert_eq!((s, e["field"].as_str()), (422, Some(field)), "{body}: {e}");
    }
    assert_eq!(api.counts().await, counts);
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_lists_what_orders_are_built_from() {
    let api = TestApi::seeded().await;
    api.db.batch_execute("update products set active = false where name = 'Mocha'").await.unwrap();
    let (s, c) = api.get("/catalog").await;
    assert_eq!(s, 200);
    assert_eq!(
        c["products"].as_array().unwrap().len() as i64,
        api.int("select count(*) from products where active").await
    );
    assert!(c["products"].as_array().unwrap().iter().all(|p| p["name"] != "Mocha"));
    assert_eq!(c["customer_ids"].as_array().unwrap().len() as i64, api.int("select count(*) from customers").await);
    let stores = c["stores"].as_array().unwrap();
    assert_eq!(stores.len(), 4);
    assert!(stores.iter().all(|s| !s["employee_ids"].as_array().unwrap().is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_metrics() {
    let api = TestApi::seeded().await;
    assert_eq!(api.get("/health").await, (200, json!({"status": "ok"})));
    api.get("/orders/123456").await;
    let text = reqwest::get(format!("{}/metrics", api.url)).await.unwrap().text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains("route=\"/orders/{id}\"")
                && l.contains("status=\"404\"")
        })
        .unwrap_or_else(|| panic!("no http_requests_total for GET /orders/{{id}} 404 in:\n{text}"));
    assert!(line.contains("method=\"GET\""), "{line}");
    assert!(text.contains("http_request_duration_seconds_bucket{"), "latency histogram missing");
    assert!(text.contains("# HELP http_requests_total"));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_503_when_the_database_is_down() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut config = brewlytics::config::Config::defaults();
    config.oltp_database_url = Some(format!("postgresql://nobody@127.0.0.1:{port}/gone").into());
    let target = config.target(brewlytics::db::Db::Oltp).unwrap();
    let pool = brewlytics::db::pool(&target, brewlytics::db::Db::Oltp, 2).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, api::router(api::AppState::new(pool))).await });
    let response = reqwest::get(format!("{url}/health")).await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "the database is unavailable");
    let (status, body) = {
        let r = reqwest::Client::new()
            .post(format!("{url}/customers/new"))
            .json(&json!({"name": "A", "email": "a@b.co"}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
    };
    assert_eq!((status, body["error"].as_str()), (503, Some("the database is unavailable")));
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_documents_every_route_and_only_those() {
    let api = TestApi::seeded().await;
    let (s, doc) = api.get("/openapi.json").await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    let routed: BTreeSet<(String, String)> =
        api::endpoints().iter().map(|e| (e.method.to_string(), e.path.to_string())).collect();
    assert_eq!(documented, routed, "openapi.json and the router disagree");
    // Every $ref resolves.
    let text = doc.to_string();
    for part in text.split("#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(doc["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
    }
    // And every documented route is really routed (not 404/405).
    for (method, path) in &routed {
        let path = path.replace("{id}", "1");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let (s, body) = api.send(api.request(method.clone(), &path).json(&json!({}))).await;
        assert!(
            s != 405 && !(s == 404 && body["error"].as_str().unwrap_or("").contains("no such route")),
            "{method} {path}: {s}"
        );
    }
}
