//! Stock: `POST /inventory/restock`.

use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};

use super::{extract::ApiJson, sql, ApiError, ApiResult, AppState};

/// Most units one restock may add.
pub(super) const MAX_RESTOCK: i32 = 100_000;

/// The body of `POST /inventory/restock`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Restock {
    pub product_id: i32,
    pub store_id: i32,
    pub quantity: i32,
}

/// What a restock did.
#[derive(Debug, Serialize)]
pub(super) struct Restocked {
    pub movement_id: i32,
    pub product_id: i32,
    pub store_id: i32,
    pub quantity: i32,
    pub on_hand: i32,
}

/// `POST /inventory/restock`: a `restock` movement and the on-hand increase, in one statement.
pub(super) async fn restock(State(state): State<AppState>, ApiJson(r): ApiJson<Restock>) -> ApiResult<Json<Restocked>> {
    if !(1..=MAX_RESTOCK).contains(&r.quantity) {
        return Err(ApiError::invalid("quantity", format!("quantity must be 1 to {MAX_RESTOCK}, got {}", r.quantity)));
    }
    let client = state.client().await?;
    let exists = "select exists (select from products where id = $1), exists (select from stores where id = $2)";
    let row = sql::query_one(&client, exists, &[&r.product_id, &r.store_id]).await?;
    if !row.get::<_, bool>(0) {
        return Err(ApiError::invalid("product_id", format!("product {} does not exist", r.product_id)));
    }
    if !row.get::<_, bool>(1) {
        return Err(ApiError::invalid("store_id", format!("store {} does not exist", r.store_id)));
    }
    let row = sql::query_one(&client, RESTOCK, &[&r.product_id, &r.store_id, &r.quantity]).await?;
    Ok(Json(Restocked {
        movement_id: row.get(0),
        product_id: r.product_id,
        store_id: r.store_id,
        quantity: r.quantity,
        on_hand: row.get(1),
    }))
}

const RESTOCK: &str = "
    with m as (
        insert into inventory_movements (product_id, store_id, quantity, reason)
        values ($1, $2, $3, 'restock')
        returning id
    ), s as (
        insert into inventory (product_id, store_id, on_hand) values ($1, $2, $3)
        on conflict (product_id, store_id)
        do update set on_hand = inventory.on_hand + excluded.on_hand, updated_at = now()
        returning on_hand
    )
    select m.id, s.on_hand from m, s";
