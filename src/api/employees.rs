//! Staff: `GET /employees/active`.

use axum::{extract::State, Json};
use serde::Serialize;

use super::{sql, ApiResult, AppState};

/// An employee as the API returns it.
#[derive(Debug, Serialize)]
pub(super) struct Employee {
    pub id: i32,
    pub name: String,
    pub store_id: i32,
    pub role: String,
}

/// `GET /employees/active`: active employees of every store, by id.
pub(super) async fn active(State(state): State<AppState>) -> ApiResult<Json<Vec<Employee>>> {
    let client = state.client().await?;
    let sql = "select id, name, store_id, role from employees where active order by id";
    let rows = sql::query(&client, sql, &[]).await?;
    Ok(Json(
        rows.iter().map(|r| Employee { id: r.get(0), name: r.get(1), store_id: r.get(2), role: r.get(3) }).collect(),
    ))
}
