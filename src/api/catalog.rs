//! `GET /catalog`: what a load generator needs to build orders (see [`Catalog`]).

use axum::{extract::State, Json};

use super::{ApiResult, AppState};
use crate::shop::Catalog;

/// `GET /catalog`: active products, a sample of customer ids, stores with their active staff.
pub(super) async fn get(State(state): State<AppState>) -> ApiResult<Json<Catalog>> {
    let client = state.client().await?;
    Ok(Json(Catalog::load(&client).await?))
}
