//! `GET /openapi.json`: a hand-written OpenAPI 3.0 document of every route. A test checks that it
//! lists exactly the routes of [`super::endpoints`].

use axum::{extract::State, Json};
use serde_json::{json, Map, Value};

use super::{
    events::{fields_of, is_cart, MAX_EVENTS, MAX_QUANTITY},
    AppState,
};
use crate::shop::EventType;

/// `GET /openapi.json`: the writes declare the API key only when the server has one.
pub(super) async fn document(State(state): State<AppState>) -> Json<Value> {
    Json(spec(state.api_key.is_some()))
}

/// The OpenAPI document; with `secured`, every write needs the API key.
pub(super) fn spec(secured: bool) -> Value {
    let (paths, schemes) =
        if secured { (with_write_security(paths()), security_schemes()) } else { (paths(), json!({})) };
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Brewlytics order API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Orders, menu, customers, staff and stock of the coffee chain (coffee_oltp). \
                Errors are JSON {error, field?}. Money is an exact JSON number. Ids in a request body that \
                name no row are 422 with `field`; an unknown id in the path is 404.",
        },
        "paths": paths,
        "components": { "schemas": schemas(), "securitySchemes": schemes },
    })
}

/// The API key (`API_KEY`), either header.
fn security_schemes() -> Value {
    json!({
        "bearerAuth": { "type": "http", "scheme": "bearer", "description": "The API key as a bearer token." },
        "apiKeyHeader": { "type": "apiKey", "in": "header", "name": "X-API-Key" },
    })
}

/// Every write operation (not GET) needs the API key (the server has one): its security
/// requirement (either scheme) and the 401 answer.
fn with_write_security(mut paths: Value) -> Value {
    let writes = paths.as_object_mut().into_iter().flat_map(|p| p.values_mut()).flat_map(|ops| {
        ops.as_object_mut().into_iter().flat_map(|o| o.iter_mut()).filter(|(m, _)| *m != "get").map(|(_, op)| op)
    });
    for op in writes {
        op["security"] = json!([{ "bearerAuth": [] }, { "apiKeyHeader": [] }]);
        op["responses"]["401"] = json!({
            "description": "missing or wrong API key",
            "content": json_schema("Error"),
        });
    }
    paths
}

fn paths() -> Value {
    json!({
        "/orders/new": { "post": op("Place an order (one transaction). Missing employee_id: a random active \
            employee of the store. Missing store_id: the employee's store, else the lowest-id store with an \
            active employee. Lines of the same product are merged.", Some("NewOrder"), "Order", &[422]) },
        "/orders/random": { "post": op("Place a realistic random order drawn from the catalogue (day-part \
            weighted).", None, "Order", &[409]) },
        "/orders/{id}": { "get": with_id(op("An order with its lines and payments.", None, "Order", &[400, 404])) },
        "/orders/{id}/status": { "post": with_id(op("Change the status: placed→served, placed→cancelled \
            (refund + stock returned), served→refunded (refund). Other transitions are 409.",
            Some("StatusChange"), "Order", &[404, 409, 422])) },
        "/orders/{id}/feedback": { "post": with_id(op("Rate an order 1-5 with an optional comment (at most 500 \
            characters). Only served or refunded orders can be rated (a placed or cancelled order is 409); one \
            rating per order (a second is 409).", Some("NewFeedback"), "Feedback", &[404, 409, 422])) },
        "/events": { "post": op("Store a batch of one app session's events (1 to 500) for the conversion funnel. \
            Idempotent: (session_id, event_id) is unique, so a batch sent twice stores each event once (the answer \
            counts new events and duplicates). Each type takes exactly its fields; an unknown store, customer, \
            product or order, an order of another customer than the session's, a time more than a day ahead of \
            the server's or an event id twice in the batch is 422 naming the field, and nothing of the batch is \
            stored.", Some("NewEvents"), "EventsAccepted", &[422]) },
        "/products": { "get": op("Every product, by id.", None, "ProductList", &[]) },
        "/products/new": { "post": op("Add a product.", Some("NewProduct"), "Product", &[422]) },
        "/products/{id}": { "patch": with_id(op("Change name, price, category or active (a no-op writes \
            nothing). Fields absent stay as they are; null and unknown fields are 422.", Some("ProductPatch"), "Product", &[404, 422])) },
        "/customers/new": { "post": op("Add a customer (email unique).", Some("NewCustomer"), "Customer", &[409, 422]) },
        "/employees/active": { "get": op("Active employees, by id.", None, "EmployeeList", &[]) },
        "/inventory/restock": { "post": op("Add stock: a restock movement and the on-hand increase.",
            Some("Restock"), "Restocked", &[422]) },
        "/catalog": { "get": op("What a load generator needs: active products, up to 1000 random customer ids, \
            stores with their active employees.", None, "Catalog", &[]) },
        "/health": { "get": op("200 when the database answers, else 503.", None, "Health", &[503]) },
        "/metrics": { "get": {
            "summary": "Prometheus metrics (text format).",
            "responses": { "200": { "description": "metrics", "content": { "text/plain": { "schema": { "type": "string" } } } } },
        } },
        "/openapi.json": { "get": {
            "summary": "This document.",
            "responses": { "200": { "description": "OpenAPI 3 document", "content": { "application/json": { "schema": { "type": "object" } } } } },
        } },
    })
}

/// One operation: summary, optional JSON request body, 200 response schema and error statuses.
/// A JSON body can also be malformed (400), too large (413) or not declared as JSON (415).
fn op(summary: &str, request: Option<&str>, response: &str, errors: &[u16]) -> Value {
    let mut responses = Map::new();
    responses.insert("200".into(), json!({ "description": "OK", "content": json_schema(response) }));
    let body_errors: &[u16] = if request.is_some() { &[400, 413, 415] } else { &[] };
    for status in errors.iter().chain(body_errors).chain(&[500, 503]) {
        responses.insert(status.to_string(), json!({ "description": "error", "content": json_schema("Error") }));
    }
    let mut op = json!({ "summary": summary, "responses": responses });
    if let Some(request) = request {
        op["requestBody"] = json!({ "required": true, "content": json_schema(request) });
    }
    op
}

/// A path id: a 32-bit integer (anything else is 400).
fn with_id(mut op: Value) -> Value {
    op["parameters"] = json!([{ "name": "id", "in": "path", "required": true, "schema": int32() }]);
    op
}

fn int32() -> Value {
    json!({ "type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX })
}

/// What `validate::text` accepts: at most 200 characters as sent, no NUL, not only ASCII whitespace.
fn name_text() -> Value {
    json!({ "type": "string", "maxLength": 200, "pattern": "^[^\\x00]*[^\\x00 \\t\\n\\f\\r][^\\x00]*$" })
}

/// A request price: positive, below 99,999,999, at most 2 decimals (also accepted as a numeric string).
fn price() -> Value {
    json!({
        "type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 99_999_999, "exclusiveMaximum": true,
        "multipleOf": 0.01, "description": "exact decimal, at most 2 places",
    })
}

fn json_schema(name: &str) -> Value {
    json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } })
}

fn obj(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

fn list(item: &str) -> Value {
    json!({ "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } })
}

fn schemas() -> Value {
    let int = json!({ "type": "integer" });
    let id = int32();
    let nullable_id =
        json!({ "type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX, "nullable": true });
    let money = json!({ "type": "number", "description": "exact decimal, 2 places" });
    let text = json!({ "type": "string" });
    let time = json!({ "type": "string", "format": "date-time" });
    let method = json!({ "type": "string", "enum": ["cash", "card", "mobile"] });
    let status = json!({ "type": "string", "enum": ["placed", "served", "cancelled", "refunded"] });
    let email = json!({
        "type": "string", "maxLength": 200,
        "pattern": "^[ \\t\\n\\f\\r]*[^@\\x00-\\x20\\x7f]+@[^@.\\x00-\\x20\\x7f]+(\\.[^@.\\x00-\\x20\\x7f]+)+[ \\t\\n\\f\\r]*$",
        "description": "local@domain.tld: one @, no space or control character, leading/trailing whitespace trimmed",
    });
    json!({
        "Error": obj(&["error"], json!({ "error": text, "field": text })),
        "NewLine": obj(&["product_id", "quantity"], json!({ "product_id": id, "quantity": { "type": "integer", "minimum": 1, "maximum": 1000 } })),
        "NewOrder": obj(&["customer_id", "items"], json!({
            "customer_id": id, "employee_id": nullable_id, "store_id": nullable_id,
            "payment_method": { "type": "string", "enum": ["cash", "card", "mobile"], "nullable": true },
            "items": { "type": "array", "minItems": 1, "items": { "$ref": "#/components/schemas/NewLine" } },
        })),
        "OrderLine": obj(&["product_id", "quantity", "price", "line_total"], json!({ "product_id": int, "quantity": int, "price": money, "line_total": money })),
        "Payment": obj(&["id", "amount", "method", "paid_at"], json!({ "id": int, "amount": money, "method": method, "paid_at": time })),
        "Order": obj(&["order_id", "customer_id", "store_id", "status", "order_time", "total", "items", "payments"], json!({
            "order_id": int, "customer_id": int, "employee_id": { "type": "integer", "nullable": true }, "store_id": int,
            "status": status, "order_time": time, "total": money, "items": list("OrderLine"), "payments": list("Payment"),
        })),
        "StatusChange": obj(&["status"], json!({ "status": status })),
        "NewProduct": obj(&["name", "price"], json!({ "name": name_text(), "price": price(), "category": nullable(name_text()) })),
        "ProductPatch": {
            "type": "object", "minProperties": 1, "additionalProperties": false,
            "properties": { "name": name_text(), "price": price(), "category": name_text(), "active": { "type": "boolean" } },
        },
        "Product": obj(&["id", "name", "category", "price", "active"], json!({ "id": int, "name": text, "category": text, "price": money, "active": { "type": "boolean" } })),
        "ProductList": list("Product"),
        "NewCustomer": obj(&["name", "email"], json!({ "name": name_text(), "email": email })),
        "Customer": obj(&["id", "name", "email"], json!({ "id": int, "name": text, "email": text })),
        "Employee": obj(&["id", "name", "store_id", "role"], json!({ "id": int, "name": text, "store_id": int, "role": text })),
        "EmployeeList": list("Employee"),
        "Restock": obj(&["product_id", "store_id", "quantity"], json!({ "product_id": id, "store_id": id, "quantity": { "type": "integer", "minimum": 1, "maximum": 100_000 } })),
        "Restocked": obj(&["movement_id", "product_id", "store_id", "quantity", "on_hand"], json!({ "movement_id": int, "product_id": int, "store_id": int, "quantity": int, "on_hand": int })),
        "CatalogProduct": obj(&["id", "name", "category", "price"], json!({ "id": int, "name": text, "category": text, "price": money })),
        "CatalogStore": obj(&["id", "name", "employee_ids"], json!({ "id": int, "name": text, "employee_ids": { "type": "array", "items": int } })),
        "Catalog": obj(&["products", "customer_ids", "stores"], json!({
            "products": list("CatalogProduct"), "customer_ids": { "type": "array", "items": int }, "stores": list("CatalogStore"),
        })),
        "Health": obj(&["status"], json!({ "status": text })),
        "NewFeedback": obj(&["rating"], json!({
            "rating": { "type": "integer", "minimum": 1, "maximum": 5 },
            "comment": { "type": "string", "maxLength": 500, "pattern": "^[^\\x00]*$", "nullable": true },
        })),
        "NewEvents": {
            "type": "object", "required": ["session_id", "store_id", "events"], "additionalProperties": false,
            "properties": {
                "session_id": { "type": "string", "format": "uuid" },
                "store_id": id,
                "customer_id": nullable_id,
                "events": { "type": "array", "minItems": 1, "maxItems": MAX_EVENTS, "items": { "$ref": "#/components/schemas/NewEvent" } },
            },
        },
        "NewEvent": new_event(),
        "EventsAccepted": obj(&["accepted", "duplicates"], json!({ "accepted": int, "duplicates": int })),
        "Feedback": obj(&["feedback_id", "order_id", "rating", "comment", "created_at"], json!({
            "feedback_id": int, "order_id": int, "rating": int,
            "comment": { "type": "string", "nullable": true }, "created_at": time,
        })),
    })
}

fn nullable(mut schema: Value) -> Value {
    schema["nullable"] = json!(true);
    schema
}

/// One app event: a variant per type, each with exactly its fields (`oneOf`: `type` tells them apart).
fn new_event() -> Value {
    let variants: Vec<Value> = EventType::ALL
        .iter()
        .map(|&kind| {
            let mut properties = Map::new();
            properties.insert("event_id".into(), json!({ "type": "integer", "format": "int32", "minimum": 0, "maximum": i32::MAX }));
            properties.insert("type".into(), json!({ "type": "string", "enum": [kind.as_str()] }));
            properties.insert("at".into(), json!({ "type": "string", "format": "date-time", "description": "the client's time; at most a day ahead of the server's" }));
            let mut required = vec!["event_id", "type", "at"];
            for &field in fields_of(kind) {
                properties.insert(field.into(), event_field(field));
                required.push(field);
            }
            if is_cart(kind) {
                properties.insert("quantity".into(), event_field("quantity"));
            }
            json!({ "type": "object", "required": required, "additionalProperties": false, "properties": properties })
        })
        .collect();
    json!({ "oneOf": variants })
}

fn event_field(name: &str) -> Value {
    match name {
        "quantity" => json!({ "type": "integer", "minimum": 1, "maximum": MAX_QUANTITY, "default": 1 }),
        "query" => name_text(),
        _ => int32(),
    }
}
