//! Orders: place (`POST /orders/new`, `POST /orders/random`), read (`GET /orders/{id}`) and move
//! through their life cycle (`POST /orders/{id}/status`).

mod place;
mod read;
mod status;

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use place::{MAX_LINES, MAX_QUANTITY};
pub use status::OrderStatus;

use super::{
    extract::{ApiJson, ApiPath},
    ApiError, ApiResult, AppState,
};

/// How an order is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    Cash,
    Card,
    Mobile,
}

impl PaymentMethod {
    /// The value stored in `payments.method`.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
            PaymentMethod::Mobile => "mobile",
        }
    }
}

/// The body of `POST /orders/new` (the original contract plus `store_id` and `payment_method`).
///
/// * `employee_id` missing or null: an active employee of the order's store, picked at random.
/// * `store_id` missing or null: the employee's store when an employee is given, else the
///   lowest-id store that has an active employee.
/// * Several lines for the same product are merged into one line (quantities added).
/// * `payment_method` defaults to `card`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewOrder {
    pub customer_id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<i32>,
    pub items: Vec<NewLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<PaymentMethod>,
}

/// One requested line: a product and how many.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct NewLine {
    pub product_id: i32,
    pub quantity: i32,
}

/// A line of an order, with the catalogue price at order time.
#[derive(Debug, Clone, Serialize)]
pub struct OrderLine {
    pub product_id: i32,
    pub quantity: i32,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub price: Decimal,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub line_total: Decimal,
}

/// A payment (negative for a refund).
#[derive(Debug, Clone, Serialize)]
pub struct Payment {
    pub id: i32,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub amount: Decimal,
    pub method: String,
    pub paid_at: DateTime<Utc>,
}

/// An order as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub order_id: i32,
    pub customer_id: i32,
    pub employee_id: Option<i32>,
    pub store_id: i32,
    pub status: OrderStatus,
    pub order_time: DateTime<Utc>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub total: Decimal,
    pub items: Vec<OrderLine>,
    pub payments: Vec<Payment>,
}

/// The body of `POST /orders/{id}/status`.
#[derive(Debug, Deserialize)]
pub struct StatusChange {
    pub status: OrderStatus,
}

/// `POST /orders/new`: place an order in one transaction.
pub async fn create(State(state): State<AppState>, ApiJson(order): ApiJson<NewOrder>) -> ApiResult<Json<Order>> {
    let client = state.client().await?;
    place::place(&client, &order).await.map(Json)
}

/// `POST /orders/random`: the server drafts a realistic order from its catalogue
/// ([`crate::loadgen::draft_order`]) and places it like `POST /orders/new`.
pub async fn create_random(State(state): State<AppState>) -> ApiResult<Json<Order>> {
    let catalog = state.catalog().await?;
    let draft = {
        let mut rng = rand::rng();
        crate::loadgen::draft_order(&catalog, crate::loadgen::local_hour(), &mut rng)
    };
    let Some(order) = draft else {
        return Err(ApiError::Conflict {
            message: "the catalogue has no customers, active products or staffed stores: run `brewlytics seed`".into(),
            field: None,
        });
    };
    let client = state.client().await?;
    let placed = place::place(&client, &order).await;
    if placed.is_err() {
        state.invalidate_catalog();
    }
    placed.map(Json)
}

/// `GET /orders/{id}`: the order with its lines and payments.
pub async fn get(State(state): State<AppState>, ApiPath(id): ApiPath<i32>) -> ApiResult<Json<Order>> {
    let client = state.client().await?;
    read::load(&client, id).await?.map(Json).ok_or_else(|| ApiError::not_found(format!("order {id} not found")))
}

/// `POST /orders/{id}/status`: move an order along placed → served → refunded, or placed → cancelled.
pub async fn change_status(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i32>,
    ApiJson(change): ApiJson<StatusChange>,
) -> ApiResult<Json<Order>> {
    let mut client = state.client().await?;
    status::change(&mut client, id, change.status).await.map(Json)
}
