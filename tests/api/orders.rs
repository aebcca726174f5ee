//! Placing orders and moving them through their life cycle.

use serde_json::json;

use super::{exact, TestApi};

#[tokio::test(flavor = "multi_thread")]
async fn an_order_writes_order_lines_payment_movements_and_stock_in_one_go() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let store = api.int(&format!("select store_id::int8 from employees where id = {}", f.employee)).await;
    let stock = |p: i64| format!("select on_hand::int8 from inventory where product_id = {p} and store_id = {store}");
    let (coffee_before, food_before) = (api.int(&stock(f.coffee)).await, api.int(&stock(f.food)).await);
    let cdc_before = api.int("select count(*) from cdc_orders").await;
    let body = json!({
        "customer_id": f.customer, "employee_id": f.employee,
        "items": [{"product_id": f.food, "quantity": 1}, {"product_id": f.coffee, "quantity": 2}, {"product_id": f.coffee, "quantity": 1}],
        "payment_method": "mobile",
    });
    let (status, order) = api.post("/orders/new", body).await;
    assert_eq!(status, 200, "{order}");
    let id = order["order_id"].as_i64().unwrap();
    assert_eq!((order["status"].as_str(), order["store_id"].as_i64()), (Some("placed"), Some(store)));
    assert_eq!(order["employee_id"].as_i64(), Some(f.employee));
    // Latte 4.00 x 3 + Soup 5.50 x 1; lines merged and sorted by product id.
    assert_eq!(exact(&order["total"]), "17.50");
    assert_eq!(order["items"].as_array().unwrap().len(), 2);
    let row = api
        .db
        .query_one(
            "select status, total::text, customer_id::int8, store_id::int8 from orders where id = $1",
            &[&(id as i32)],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, &str>(0), row.get::<_, &str>(1)), ("placed", "17.50"));
    assert_eq!((row.get::<_, i64>(2), row.get::<_, i64>(3)), (f.customer, store));
    let lines = api
        .text(&format!(
            "select string_agg(product_id || 'x' || quantity || '@' || price, ',' order by product_id) from order_items where order_id = {id}"
        ))
        .await;
    assert_eq!(lines, format!("{}x3@4.00,{}x1@5.50", f.coffee, f.food));
    assert_eq!(
        api.text(&format!("select string_agg(amount || ' ' || method, ',') from payments where order_id = {id}")).await,
        "17.50 mobile"
    );
    let moves = api
        .text(&format!(
            "select string_agg(product_id || ':' || quantity || ':' || reason || ':' || store_id, ',' order by product_id)
             from inventory_movements where order_id = {id}"
        ))
        .await;
    assert_eq!(moves, format!("{}:-3:sale:{store},{}:-1:sale:{store}", f.coffee, f.food));
    assert_eq!(api.int(&stock(f.coffee)).await, coffee_before - 3);
    assert_eq!(api.int(&stock(f.food)).await, food_before - 1);
    // Captured: 1 order + 2 lines + 1 payment + 2 movements + 2 stock updates.
    assert_eq!(api.int("select count(*) from cdc_orders").await - cdc_before, 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_staff_defaults_to_an_active_employee_of_the_store() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let line = json!([{"product_id": f.coffee, "quantity": 1}]);
    let lowest = api.int("select min(store_id)::int8 from employees where active").await;
    let (s, o) = api.post("/orders/new", json!({"customer_id": f.customer, "items": line})).await;
    assert_eq!((s, o["store_id"].as_i64()), (200, Some(lowest)), "{o}");
    let employee = o["employee_id"].as_i64().unwrap();
    let sql = format!("select count(*) from employees where id = {employee} and active and store_id = {lowest}");
    assert_eq!(api.int(&sql).await, 1);
    // A store without an employee: one of its active employees.
    let store = api.int("select max(id)::int8 from stores").await;
    let (s, o) = api.post("/orders/new", json!({"customer_id": f.customer, "store_id": store, "items": line})).await;
    assert_eq!((s, o["store_id"].as_i64()), (200, Some(store)), "{o}");
    let sql = format!("select store_id::int8 from employees where id = {} and active", o["employee_id"]);
    assert_eq!(api.int(&sql).await, store);
    // An employee without a store: the employee's store.
    let (s, o) =
        api.post("/orders/new", json!({"customer_id": f.customer, "employee_id": f.employee, "items": line})).await;
    let own = api.int(&format!("select store_id::int8 from employees where id = {}", f.employee)).await;
    assert_eq!((s, o["store_id"].as_i64()), (200, Some(own)));
    // Never an inactive employee: deactivate all but one at the lowest store.
    api.db
        .batch_execute(&format!(
            "update employees set active = false where store_id = {lowest} and id <> {}",
            f.employee
        ))
        .await
        .unwrap();
    for _ in 0..5 {
        let (_, o) = api.post("/orders/new", json!({"customer_id": f.customer, "items": line})).await;
        assert_eq!(o["employee_id"].as_i64(), Some(f.employee));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn get_order_returns_lines_and_payments() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let (_, placed) = api
        .post("/orders/new", json!({"customer_id": f.customer, "items": [{"product_id": f.coffee, "quantity": 2}]}))
        .await;
    let id = placed["order_id"].as_i64().unwrap();
    let (status, order) = api.get(&format!("/orders/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(exact(&order["total"]), "8.00");
    assert_eq!(exact(&order["items"][0]["price"]), "4.00");
    assert_eq!(order["items"][0]["quantity"], 2);
    assert_eq!(
        (exact(&order["payments"][0]["amount"]), order["payments"][0]["method"].as_str()),
        ("8.00".into(), Some("card"))
    );
    assert_eq!(order["order_time"], placed["order_time"]);
    let (status, body) = api.get("/orders/999999").await;
    assert_eq!((status, body["error"].as_str().is_some()), (404, true));
    let (status, body) = api.get("/orders/abc").await;
    assert_eq!((status, body["field"].as_str()), (400, Some("id")));
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_then_refund_records_a_negative_payment() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let items = json!([{"product_id": f.coffee, "quantity": 1}]);
    let (_, o) =
        api.post("/orders/new", json!({"customer_id": f.customer, "items": items, "payment_method": "cash"})).await;
    let id = o["order_id"].as_i64().unwrap();
    let moves_before = api.int("select count(*) from inventory_movements").await;
    let (s, served) = api.post(&format!("/orders/{id}/status"), json!({"status": "served"})).await;
    assert_eq!((s, served["status"].as_str()), (200, Some("served")), "{served}");
    let (s, refunded) = api.post(&format!("/orders/{id}/status"), json!({"status": "refunded"})).await;
    assert_eq!((s, refunded["status"].as_str()), (200, Some("refunded")), "{refunded}");
    let payments = api
        .text(&format!(
            "select string_agg(amount || ' ' || method, ',' order by id) from payments where order_id = {id}"
        ))
        .await;
    assert_eq!(payments, "4.00 cash,-4.00 cash");
    assert_eq!(api.text(&format!("select status from orders where id = {id}")).await, "refunded");
    assert_eq!(api.int("select count(*) from inventory_movements").await, moves_before, "a refund returns no stock");
    // Refunded is final.
    let before = api.counts().await;
    for to in ["served", "placed", "cancelled", "refunded"] {
        let (s, e) = api.post(&format!("/orders/{id}/status"), json!({"status": to})).await;
        assert_eq!((s, e["field"].as_str()), (409, Some("status")), "{to}: {e}");
    }
    assert_eq!(api.counts().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_refunds_the_charge_and_returns_the_stock() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let store = api.int(&format!("select store_id::int8 from employees where id = {}", f.employee)).await;
    let stock = format!("select on_hand::int8 from inventory where product_id = {} and store_id = {store}", f.coffee);
    let before = api.int(&stock).await;
    let body = json!({"customer_id": f.customer, "employee_id": f.employee, "items": [{"product_id": f.coffee, "quantity": 3}]});
    let (_, o) = api.post("/orders/new", body).await;
    let id = o["order_id"].as_i64().unwrap();
    assert_eq!(api.int(&stock).await, before - 3);
    let (s, c) = api.post(&format!("/orders/{id}/status"), json!({"status": "cancelled"})).await;
    assert_eq!((s, c["status"].as_str()), (200, Some("cancelled")), "{c}");
    assert_eq!(api.int(&stock).await, before);
    let moves = api.text(&format!("select string_agg(quantity || ' ' || reason, ',' order by id) from inventory_movements where order_id = {id}")).await;
    assert_eq!(moves, "-3 sale,3 adjustment");
    let net = api.text(&format!("select sum(amount)::text from payments where order_id = {id}")).await;
    assert_eq!(net, "0.00");
    // A cancelled order cannot be served.
    let (s, e) = api.post(&format!("/orders/{id}/status"), json!({"status": "served"})).await;
    assert_eq!((s, e["field"].as_str()), (409, Some("status")));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_errors_write_nothing() {
    let api = TestApi::seeded().await;
    let f = api.fixture().await;
    let (_, o) = api
        .post("/orders/new", json!({"customer_id": f.customer, "items": [{"product_id": f.coffee, "quantity": 1}]}))
        .await;
    let id = o["order_id"].as_i64().unwrap();
    let before = api.counts().await;
    let (s, e) = api.post(&format!("/orders/{id}/status"), json!({"status": "eaten"})).await;
    assert_eq!((s, e["field"].as_str()), (422, Some("status")), "{e}");
    let (s, e) = api.post(&format!("/orders/{id}/status"), json!({"status": "refunded"})).await;
    assert_eq!((s, e["field"].as_str()), (409, Some("status")), "placed cannot be refunded: {e}");
    let (s, e) = api.post(&format!("/orders/{id}/status"), json!({"status": "placed"})).await;
    assert_eq!(s, 409, "{e}");
    let (s, _) = api.post("/orders/424242/status", json!({"status": "served"})).await;
    assert_eq!(s, 404);
    let (s, e) = api.post(&format!("/orders/{id}/status"), json!({})).await;
    assert_eq!((s, e["field"].as_str()), (422, Some("status")));
    assert_eq!(api.counts().await, before);
    assert_eq!(api.text(&format!("select status from orders where id = {id}")).await, "placed");
}

#[tokio::test(flavor = "multi_thread")]
async fn random_orders_come_from_the_catalogue() {
    let api = TestApi::empty().await;
    let (s, e) = api.post("/orders/random", json!({})).await;
    assert_eq!(s, 409, "an empty database has no catalogue: {e}");
    let mut client = api.t.oltp().await;
    brewlytics::tools::seed::seed(&mut client).await.unwrap();
    let mut placed = Vec::new();
    for _ in 0..20 {
        let (s, o) = api.post("/orders/random", json!({})).await;
        assert_eq!(s, 200, "{o}");
        placed.push(o["order_id"].as_i64().unwrap());
        let n = o["items"].as_array().unwrap().len();
        assert!((1..=4).contains(&n));
    }
    let ids = placed.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let sql = format!(
        "select count(*) from orders o where id in ({ids}) and status = 'placed'
           and exists (select from employees e where e.id = o.employee_id and e.active and e.store_id = o.store_id)
           and total = (select sum(quantity * price) from order_items where order_id = o.id)
           and total = (select sum(amount) from payments where order_id = o.id)"
    );
    assert_eq!(api.int(&sql).await, 20);
}
