//! Customers: `POST /customers/new`.

use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};

use super::{extract::ApiJson, sql, validate, ApiError, ApiResult, AppState};

/// The body of `POST /customers/new`.
#[derive(Debug, Deserialize)]
pub(super) struct NewCustomer {
    pub name: String,
    pub email: String,
}

/// A customer as the API returns it.
#[derive(Debug, Serialize)]
pub(super) struct Customer {
    pub id: i32,
    pub name: String,
    pub email: String,
}

/// `POST /customers/new`: 422 for an implausible email, 409 when the email is taken.
pub(super) async fn create(
    State(state): State<AppState>,
    ApiJson(c): ApiJson<NewCustomer>,
) -> ApiResult<Json<Customer>> {
    let name = validate::text("name", &c.name)?;
    let email = validate::email(&c.email)?;
    let client = state.client().await?;
    let sql = "insert into customers (name, email) values ($1, $2) on conflict (email) do nothing returning id";
    match sql::query_opt(&client, sql, &[&name, &email]).await? {
        Some(row) => Ok(Json(Customer { id: row.get(0), name, email })),
        None => Err(ApiError::conflict("email", format!("a customer with email {email} already exists"))),
    }
}
