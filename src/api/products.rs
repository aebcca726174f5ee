//! The menu: `GET /products`, `POST /products/new`, `PATCH /products/{id}`.
//!
//! A PATCH that changes nothing writes nothing (no empty change reaches the warehouse); one that
//! changes name, price, category or active opens a new type-2 version of the product there.

use axum::{extract::State, Json};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::{
    extract::{ApiJson, ApiPath},
    sql, validate, ApiError, ApiResult, AppState,
};

/// A product as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Product {
    pub id: i32,
    pub name: String,
    pub category: String,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub price: Decimal,
    pub active: bool,
}

impl From<&Row> for Product {
    fn from(r: &Row) -> Self {
        Product { id: r.get(0), name: r.get(1), category: r.get(2), price: r.get(3), active: r.get(4) }
    }
}

/// The body of `POST /products/new`; `category` defaults to `coffee`.
#[derive(Debug, Deserialize)]
pub(super) struct NewProduct {
    pub name: String,
    pub price: Decimal,
    #[serde(default)]
    pub category: Option<String>,
}

/// The body of `PATCH /products/{id}`: the fields to change (absent: unchanged; null and
/// unknown fields are refused, as the OpenAPI document says).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProductPatch {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub price: Option<Decimal>,
    #[serde(default, deserialize_with = "present")]
    pub category: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub active: Option<bool>,
}

/// A field that, when present, must hold a value (not null).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `GET /products`: every product, active or not, by id.
pub(super) async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<Product>>> {
    let client = state.client().await?;
    let rows = sql::query(&client, "select id, name, category, price, active from products order by id", &[]).await?;
    Ok(Json(rows.iter().map(Product::from).collect()))
}

/// `POST /products/new`: add a product to the menu.
pub(super) async fn create(State(state): State<AppState>, ApiJson(p): ApiJson<NewProduct>) -> ApiResult<Json<Product>> {
    let name = validate::text("name", &p.name)?;
    let price = validate::price(p.price)?;
    let category = validate::category(p.category.as_deref().unwrap_or("coffee"))?;
    let client = state.client().await?;
    let sql = "insert into products (name, category, price) values ($1, $2, $3)
               returning id, name, category, price, active";
    let row = sql::query_one(&client, sql, &[&name, &category, &price]).await?;
    state.invalidate_catalog();
    Ok(Json(Product::from(&row)))
}

/// `PATCH /products/{id}`: change some of name, price, category and active.
pub(super) async fn update(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i32>,
    ApiJson(patch): ApiJson<ProductPatch>,
) -> ApiResult<Json<Product>> {
    if patch.name.is_none() && patch.price.is_none() && patch.category.is_none() && patch.active.is_none() {
        return Err(ApiError::Invalid {
            message: "give at least one of name, price, category, active".into(),
            field: None,
        });
    }
    let name = patch.name.as_deref().map(|n| validate::text("name", n)).transpose()?;
    let price = patch.price.map(validate::price).transpose()?;
    let category = patch.category.as_deref().map(validate::category).transpose()?;
    let client = state.client().await?;
    let row = sql::query_opt(&client, PATCH, &[&id, &name, &price, &category, &patch.active]).await?;
    let row = row.ok_or_else(|| ApiError::not_found(format!("product {id} not found")))?;
    state.invalidate_catalog();
    Ok(Json(Product::from(&row)))
}

/// Update only when something differs; return the product either way (no row: no product).
const PATCH: &str = "
    with new as (
        select id, coalesce($2::text, name) as name, coalesce($3::numeric, price) as price,
               coalesce($4::text, category) as category, coalesce($5::bool, active) as active
        from products where id = $1
    ), upd as (
        update products p set name = new.name, price = new.price, category = new.category, active = new.active
        from new
        where p.id = new.id
          and (p.name, p.price, p.category, p.active) is distinct from (new.name, new.price, new.category, new.active)
        returning p.id, p.name, p.category, p.price, p.active
    )
    select id, name, category, price, active from upd
    union all
    select id, name, category, price, active from products where id = $1 and not exists (select from upd)";
