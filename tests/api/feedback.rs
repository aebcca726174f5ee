//! `POST /orders/{id}/feedback`: who may rate, once, validated by field; failures write nothing.

use serde_json::{json, Value};

use super::TestApi;

async fn placed_order(api: &TestApi) -> i64 {
    let f = api.fixture().await;
    let body = json!({"customer_id": f.customer, "items": [{"product_id": f.coffee, "quantity": 1}]});
    let (status, order) = api.post("/orders/new", body).await;
    assert_eq!(status, 200, "{order}");
    order["order_id"].as_i64().unwrap()
}

async fn set_status(api: &TestApi, id: i64, status: &str) {
    let (code, body) = api.post(&format!("/orders/{id}/status"), json!({ "status": status })).await;
    assert_eq!(code, 200, "{body}");
}

fn field(body: &Value) -> Option<&str> {
    body["field"].as_str()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_order_is_rated_once_and_the_rating_is_captured() {
    let api = TestApi::seeded().await;
    let id = placed_order(&api).await;
    let path = format!("/orders/{id}/feedback");
    let (status, body) = api.post(&path, json!({"rating": 5})).await;
    assert_eq!((status, field(&body)), (409, Some("order_id")), "a placed order cannot be rated: {body}");
    set_status(&api, id, "served").await;
    let captured_before = api.int("select count(*) from cdc_orders where table_name = 'feedback'").await;
    let (status, body) = api.post(&path, json!({"rating": 4, "comment": "  great flat white "})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["order_id"].as_i64(), body["rating"].as_i64()), (Some(id), Some(4)));
    assert_eq!(body["comment"].as_str(), Some("great flat white"));
    let stored = api.text(&format!("select rating || ':' || comment from feedback where order_id = {id}")).await;
    assert_eq!(stored, "4:great flat white");
    assert_eq!(api.int("select count(*) from cdc_orders where table_name = 'feedback'").await, captured_before + 1);

    let (status, body) = api.post(&path, json!({"rating": 1})).await;
    assert_eq!((status, field(&body)), (409, Some("order_id")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("already been rated"), "{body}");
    assert_eq!(api.int(&format!("select count(*) from feedback where order_id = {id}")).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn refunded_orders_may_be_rated_cancelled_and_unknown_ones_not() {
    let api = TestApi::seeded().await;
    let (refunded, cancelled) = (placed_order(&api).await, placed_order(&api).await);
    set_status(&api, refunded, "served").await;
    set_status(&api, refunded, "refunded").await;
    set_status(&api, cancelled, "cancelled").await;
    let (status, body) = api.post(&format!("/orders/{refunded}/feedback"), json!({"rating": 1, "comment": null})).await;
    assert_eq!((status, body["comment"].clone()), (200, Value::Null), "{body}");
    let (status, body) = api.post(&format!("/orders/{cancelled}/feedback"), json!({"rating": 2})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("is cancelled"), "{body}");
    let (status, body) = api.post("/orders/999999/feedback", json!({"rating": 2})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api.post("/orders/abc/feedback", json!({"rating": 2})).await;
    assert_eq!((status, field(&body)), (400, Some("id")), "{body}");
    assert_eq!(api.int("select count(*) from feedback").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_ratings_and_comments_are_422_naming_the_field_and_write_nothing() {
    let api = TestApi::seeded().await;
    let id = placed_order(&api).await;
    set_status(&api, id, "served").await;
    let path = format!("/orders/{id}/feedback");
    let long = "x".repeat(501);
    for (body, expected) in [
        (json!({"rating": 0}), "rating"),
        (json!({"rating": 6}), "rating"),
        (json!({"rating": 3.5}), "rating"),
        (json!({"rating": "five"}), "rating"),
        (json!({"comment": "no rating"}), "rating"),
        (json!({"rating": 3, "comment": long}), "comment"),
        (json!({"rating": 3, "comment": 7}), "comment"),
        (json!({"rating": 3, "comment": "a\u{0}b"}), "comment"),
    ] {
        let (status, answer) = api.post(&path, body.clone()).await;
        assert_eq!((status, field(&answer)), (422, Some(expected)), "{body} -> {answer}");
    }
    let captured = api.int("select count(*) from cdc_orders where table_name = 'feedback'").await;
    assert_eq!((api.int("select count(*) from feedback").await, captured), (0, 0));
    let (status, _) = api.post(&path, json!({"rating": 3, "comment": "x".repeat(500)})).await;
    assert_eq!(status, 200, "exactly 500 characters are accepted");
}
