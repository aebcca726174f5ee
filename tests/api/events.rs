//! `POST /events`: one app session's batch stored once however often it is sent, every bad input
//! a 4xx naming its field with nothing of the batch stored, and a placed order's total recorded.

use serde_json::{json, Value};

use super::TestApi;

fn session() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A batch of `session` at the seeded store 1 by `customer`.
fn batch(session: &str, customer: i64, events: Value) -> Value {
    json!({ "session_id": session, "store_id": 1, "customer_id": customer, "events": events })
}

fn at(minutes_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago)).to_rfc3339()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_sent_twice_stores_each_event_once_and_an_order_records_its_total() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let (status, order) = api
        .post("/orders/new", json!({"customer_id": f.customer, "items": [{"product_id": f.coffee, "quantity": 2}]}))
        .await;
    assert_eq!(status, 200, "{order}");
    let order_id = order["order_id"].as_i64().unwrap();
    let s = session();
    let events = json!([
        {"event_id": 1, "type": "session_start", "at": at(5)},
        {"event_id": 2, "type": "search", "at": at(4), "query": "latte"},
        {"event_id": 3, "type": "product_view", "at": at(4), "product_id": f.coffee},
        {"event_id": 4, "type": "add_to_cart", "at": at(3), "product_id": f.coffee, "quantity": 2},
        {"event_id": 5, "type": "checkout_start", "at": at(2)},
        {"event_id": 6, "type": "order_placed", "at": at(1), "order_id": order_id},
    ]);
    let (status, body) = api.post("/events", batch(&s, f.customer, events.clone())).await;
    assert_eq!((status, body), (200, json!({"accepted": 6, "duplicates": 0})));
    let (status, body) = api.post("/events", batch(&s, f.customer, events)).await;
    assert_eq!((status, body), (200, json!({"accepted": 0, "duplicates": 6})), "a retry stores nothing");
    // A later batch of the same session with one old and one new event.
    let more =
        json!([{"event_id": 6, "type": "menu_view", "at": at(0)}, {"event_id": 7, "type": "menu_view", "at": at(0)}]);
    let (status, body) = api.post("/events", batch(&s, f.customer, more)).await;
    assert_eq!((status, body), (200, json!({"accepted": 1, "duplicates": 1})));
    assert_eq!(api.int(&format!("select count(*) from app_events where session_id = '{s}'")).await, 7);
    let total = api.text(&format!("select order_total::text from app_events where order_id = {order_id}")).await;
    assert_eq!(total, crate::api::exact(&order["total"]), "the purchase's revenue as placed");
    let cart = api.text(&format!("select quantity || '/' || product_id from app_events where session_id = '{s}' and event_type = 'add_to_cart'")).await;
    assert_eq!(cart, format!("2/{}", f.coffee));
    assert_eq!(api.int("select count(*) from cdc_orders where table_name = 'app_events'").await, 7, "captured");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_input_names_its_field_and_stores_nothing() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let other_customer = api.int(&format!("select max(id)::int8 from customers where id <> {}", f.customer)).await;
    let (_, order) = api
        .post("/orders/new", json!({"customer_id": other_customer, "items": [{"product_id": f.coffee, "quantity": 1}]}))
        .await;
    let foreign_order = order["order_id"].as_i64().unwrap();
    let good = json!({"event_id": 1, "type": "menu_view", "at": at(1)});
    let with = |event: Value| batch(&session(), f.customer, json!([good.clone(), event]));
    let too_many: Vec<Value> = (0..501).map(|i| json!({"event_id": i, "type": "menu_view", "at": at(1)})).collect();
    let tomorrow = (chrono::Utc::now() + chrono::Duration::hours(25)).to_rfc3339();
    let cases: Vec<(Value, u16, &str)> = vec![
        (with(json!({"event_id": 2, "type": "teleport", "at": at(1)})), 422, "events[1].type"),
        (with(json!({"event_id": 2, "type": "product_view", "at": at(1)})), 422, "events[1].product_id"),
        (with(json!({"event_id": 2, "type": "search", "at": at(1)})), 422, "events[1].query"),
        (with(json!({"event_id": 2, "type": "order_placed", "at": at(1)})), 422, "events[1].order_id"),
        (
            with(json!({"event_id": 2, "type": "menu_view", "at": at(1), "product_id": f.coffee})),
            422,
            "events[1].product_id",
        ),
        (
            with(json!({"event_id": 2, "type": "product_view", "at": at(1), "product_id": 999_999})),
            422,
            "events[1].product_id",
        ),
        (
            with(json!({"event_id": 2, "type": "order_placed", "at": at(1), "order_id": 999_999})),
            422,
            "events[1].order_id",
        ),
        (
            with(json!({"event_id": 2, "type": "order_placed", "at": at(1), "order_id": foreign_order})),
            422,
            "events[1].order_id",
        ),
        (with(json!({"event_id": 2, "type": "menu_view", "at": tomorrow})), 422, "events[1].at"),
        (with(json!({"event_id": 2, "type": "menu_view", "at": "yesterday"})), 422, "events[1].at"),
        (with(json!({"event_id": 1, "type": "menu_view", "at": at(1)})), 422, "events[1].event_id"),
        (
            with(json!({"event_id": 2, "type": "add_to_cart", "at": at(1), "product_id": f.coffee, "quantity": 0})),
            422,
            "events[1].quantity",
        ),
        (batch(&session(), f.customer, json!([])), 422, "events"),
        (batch(&session(), f.customer, Value::Array(too_many)), 422, "events"),
        (json!({"session_id": "not-a-uuid", "store_id": 1, "events": [good.clone()]}), 422, "session_id"),
        (json!({"session_id": session(), "store_id": 999, "events": [good.clone()]}), 422, "store_id"),
        (
            json!({"session_id": session(), "store_id": 1, "customer_id": 999_999, "events": [good.clone()]}),
            422,
            "customer_id",
        ),
        (json!({"session_id": session(), "events": [good.clone()]}), 422, "store_id"),
    ];
    let before = api.counts().await;
    for (body, status, field) in cases {
        let (got, answer) = api.post("/events", body.clone()).await;
        assert_eq!((got, answer["field"].as_str()), (status, Some(field)), "{body}: {answer}");
    }
    assert_eq!(api.counts().await, before, "nothing of a refused batch is stored");
}
