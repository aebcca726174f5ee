//! Every class of bad request is a 4xx JSON error naming what is wrong, and writes nothing.

use reqwest::{header::CONTENT_TYPE, Method};
use serde_json::{json, Value};

use super::TestApi;

/// Words that would betray database internals in a client message.
const LEAKS: [&str; 6] = ["violates", "constraint", "sql", "postgres", "relation", "syntax error at"];

fn assert_clean(body: &Value) {
    let message = body["error"].as_str().unwrap_or_else(|| panic!("no error message in {body}")).to_lowercase();
    for word in LEAKS {
        assert!(!message.contains(word), "database detail leaked: {message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_orders_are_rejected_with_the_field_and_write_nothing() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let inactive_employee = api.int("select min(id)::int8 from employees where not active").await;
    api.db.batch_execute("update products set active = false where name = 'Mocha'").await.unwrap();
    let inactive_product = api.int("select id::int8 from products where name = 'Mocha'").await;
    let line = |p: i64, q: i64| json!([{"product_id": p, "quantity": q}]);
    let ok_line = line(f.coffee, 1);
    let cases: Vec<(&str, Value, u16, Option<&str>)> = vec![
        ("missing customer", json!({"items": ok_line}), 422, Some("customer_id")),
        ("customer as text", json!({"customer_id": "one", "items": ok_line}), 422, Some("customer_id")),
        ("missing items", json!({"customer_id": f.customer}), 422, Some("items")),
        (
            "missing quantity",
            json!({"customer_id": f.customer, "items": [{"product_id": f.coffee}]}),
            422,
            Some("items[0].quantity"),
        ),
        (
            "fractional quantity",
            json!({"customer_id": f.customer, "items": [{"product_id": f.coffee, "quantity": 1.5}]}),
            422,
            Some("items[0].quantity"),
        ),
        ("empty items", json!({"customer_id": f.customer, "items": []}), 422, Some("items")),
        (
            "zero quantity",
            json!({"customer_id": f.customer, "items": line(f.coffee, 0)}),
            422,
            Some("items[0].quantity"),
        ),
        (
            "negative quantity",
            json!({"customer_id": f.customer, "items": line(f.coffee, -2)}),
            422,
            Some("items[0].quantity"),
        ),
        (
            "huge quantity",
            json!({"customer_id": f.customer, "items": line(f.coffee, 1_000_000)}),
            422,
            Some("items[0].quantity"),
        ),
        ("unknown customer", json!({"customer_id": 999_999, "items": ok_line}), 422, Some("customer_id")),
        (
            "unknown employee",
            json!({"customer_id": f.customer, "employee_id": 999_999, "items": ok_line}),
            422,
            Some("employee_id"),
        ),
        (
            "employee zero",
            json!({"customer_id": f.customer, "employee_id": 0, "items": ok_line}),
            422,
            Some("employee_id"),
        ),
        (
            "inactive employee",
            json!({"customer_id": f.customer, "employee_id": inactive_employee, "items": ok_line}),
            422,
            Some("employee_id"),
        ),
        (
            "unknown store",
            json!({"customer_id": f.customer, "store_id": 999_999, "items": ok_line}),
            422,
            Some("store_id"),
        ),
        (
            "unknown product second line",
            json!({"customer_id": f.customer, "items": [{"product_id": f.coffee, "quantity": 1}, {"product_id": 999_999, "quantity": 1}]}),
            422,
            Some("items[1].product_id"),
        ),
        (
            "inactive product",
            json!({"customer_id": f.customer, "items": line(inactive_product, 1)}),
            422,
            Some("items[0].product_id"),
        ),
        (
            "bad payment method",
            json!({"customer_id": f.customer, "items": ok_line, "payment_method": "iou"}),
            422,
            Some("payment_method"),
        ),
        ("not an object", json!([1, 2]), 422, None),
    ];
    let before = api.counts().await;
    for (what, body, status, field) in cases {
        let (s, e) = api.post("/orders/new", body).await;
        assert_eq!((s, e["field"].as_str()), (status, field), "{what}: {e}");
        assert_clean(&e);
    }
    // An employee of another store than the one given.
    let other = api
        .int(&format!(
            "select min(id)::int8 from stores where id <> (select store_id from employees where id = {})",
            f.employee
        ))
        .await;
    let body = json!({"customer_id": f.customer, "employee_id": f.employee, "store_id": other, "items": ok_line});
    let (s, e) = api.post("/orders/new", body).await;
    assert_eq!((s, e["field"].as_str()), (422, Some("store_id")), "{e}");
    assert_eq!(api.counts().await, before, "failed requests wrote rows");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_unsupported_and_oversized_bodies() {
    let api = TestApi::seeded().await;
    let before = api.counts().await;
    let raw = |body: &'static str| {
        api.request(Method::POST, "/orders/new").header(CONTENT_TYPE, "application/json").body(body)
    };
    let (s, e) = api.send(raw("{\"customer_id\": 1,")).await;
    assert_eq!(s, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("malformed JSON"), "{e}");
    let (s, e) = api.send(raw("{\"customer_id\": 1, \"items\": []} trailing")).await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = api.send(api.request(Method::POST, "/orders/new").body("{}")).await;
    assert_eq!(s, 415, "no content type: {e}");
    assert!(e["error"].as_str().is_some());
    let (s, e) =
        api.send(api.request(Method::POST, "/customers/new").header(CONTENT_TYPE, "text/plain").body("{}")).await;
    assert_eq!(s, 415, "{e}");
    let name = "x".repeat(300 * 1024);
    let (s, e) = api.post("/customers/new", json!({"name": name, "email": "big@example.com"})).await;
    assert_eq!(s, 413, "{e}");
    assert!(e["error"].as_str().unwrap().contains("larger than"), "{e}");
    assert_eq!(api.counts().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_and_methods_answer_json() {
    let api = TestApi::seeded().await;
    let (s, e) = api.get("/nope").await;
    assert_eq!(s, 404);
    assert_clean(&e);
    let (s, e) = api.send(api.request(Method::DELETE, "/orders/1")).await;
    assert_eq!(s, 405);
    assert_clean(&e);
    let (s, e) = api.get("/orders/99999999999").await;
    assert_eq!((s, e["field"].as_str()), (400, Some("id")), "id out of range: {e}");
}
