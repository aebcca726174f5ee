//! Orders: place (`POST /orders/new`, `POST /orders/random`), read (`GET /orders/{id}`) and move
//! through their life cycle (`POST /orders/{id}/status`).

mod place;
mod read;
mod status;

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::shop::{self, NewOrder, OrderStatus};

use super::{
    extract::{ApiJson, ApiPath},
    ApiError, ApiResult, AppState,
};

/// A line of an order, with the catalogue price at order time.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OrderLine {
    pub product_id: i32,
    pub quantity: i32,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub price: Decimal,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub line_total: Decimal,
}

/// A payment (negative for a refund).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Payment {
    pub id: i32,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub amount: Decimal,
    pub method: String,
    pub paid_at: DateTime<Utc>,
}

/// An order as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Order {
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
pub(crate) struct StatusChange {
    pub status: OrderStatus,
}

/// `POST /orders/new`: place an order in one transaction.
pub(crate) async fn create(State(state): State<AppState>, ApiJson(order): ApiJson<NewOrder>) -> ApiResult<Json<Order>> {
    let client = state.client().await?;
    place::place(&client, &order).await.map(Json)
}

/// `POST /orders/random`: the server drafts a realistic order from its catalogue
/// ([`shop::draft_order`]) and places it like `POST /orders/new`.
pub(crate) async fn create_random(State(state): State<AppState>) -> ApiResult<Json<Order>> {
    let catalog = state.catalog().await?;
    let draft = {
        let mut rng = rand::rng();
        shop::draft_order(&catalog, shop::local_hour(), &mut rng)
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
pub(crate) async fn get(State(state): State<AppState>, ApiPath(id): ApiPath<i32>) -> ApiResult<Json<Order>> {
    let client = state.client().await?;
    read::load(&client, id).await?.map(Json).ok_or_else(|| ApiError::not_found(format!("order {id} not found")))
}

/// `POST /orders/{id}/status`: move an order along placed → served → refunded, or placed → cancelled.
pub(crate) async fn change_status(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i32>,
    ApiJson(change): ApiJson<StatusChange>,
) -> ApiResult<Json<Order>> {
    let mut client = state.client().await?;
    status::change(&mut client, id, change.status).await.map(Json)
}
