//! Customer feedback: `POST /orders/{id}/feedback` rates an order 1 to 5, with an optional
//! comment of at most [`MAX_COMMENT`] characters.
//!
//! * Only orders the customer received can be rated: `served`, and `refunded` (it was served
//!   first; a refund is often the reason for a low rating). A `placed` or `cancelled` order is 409.
//! * One rating per order (`feedback.order_id` is unique): a second one is 409, never an update.
//! * An unknown order is 404; a rating outside 1–5, a longer comment or one with a NUL character
//!   is 422 naming the field.
//! * A comment is trimmed; an empty one is stored as none.
//!
//! The check and the insert are one statement, so a failed request writes nothing.

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    extract::{ApiJson, ApiPath},
    sql, ApiError, ApiResult, AppState,
};
use crate::shop::OrderStatus;

/// Longest comment accepted, in characters.
pub(super) const MAX_COMMENT: usize = 500;

/// Statuses whose orders may be rated.
pub(super) const RATEABLE: [OrderStatus; 2] = [OrderStatus::Served, OrderStatus::Refunded];

/// The body of `POST /orders/{id}/feedback`.
#[derive(Debug, Deserialize)]
pub(super) struct NewFeedback {
    pub rating: i32,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A stored rating.
#[derive(Debug, Serialize)]
pub(super) struct Feedback {
    pub feedback_id: i32,
    pub order_id: i32,
    pub rating: i32,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `POST /orders/{id}/feedback`; see the module docs.
pub(super) async fn create(
    State(state): State<AppState>,
    ApiPath(order_id): ApiPath<i32>,
    ApiJson(body): ApiJson<NewFeedback>,
) -> ApiResult<Json<Feedback>> {
    let (rating, comment) = validate(body)?;
    let client = state.client().await?;
    let rateable: Vec<&str> = RATEABLE.iter().map(|s| s.as_str()).collect();
    let row = sql::query_one(&client, INSERT, &[&order_id, &rating, &comment, &rateable]).await?;
    let status: Option<String> = row.get(0);
    let Some(status) = status else { return Err(ApiError::not_found(format!("order {order_id} not found"))) };
    if !rateable.contains(&status.as_str()) {
        return Err(ApiError::conflict(
            "order_id",
            format!("order {order_id} is {status}: only served or refunded orders can be rated"),
        ));
    }
    let Some(feedback_id) = row.get::<_, Option<i32>>(1) else {
        return Err(ApiError::conflict("order_id", format!("order {order_id} has already been rated")));
    };
    Ok(Json(Feedback { feedback_id, order_id, rating, comment, created_at: row.get(2) }))
}

/// The rating (1–5) and the trimmed comment (none when empty), or a 422 naming the field.
fn validate(body: NewFeedback) -> ApiResult<(i32, Option<String>)> {
    if !(1..=5).contains(&body.rating) {
        return Err(ApiError::invalid("rating", format!("rating must be an integer from 1 to 5, got {}", body.rating)));
    }
    if body.comment.as_ref().is_some_and(|c| c.contains('\0')) {
        // PostgreSQL's text cannot hold NUL: refused here, not by the insert (a 500).
        return Err(ApiError::invalid("comment", "comment must not contain NUL characters".to_string()));
    }
    let comment = body.comment.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT) {
        return Err(ApiError::invalid("comment", format!("comment is longer than {MAX_COMMENT} characters")));
    }
    Ok((body.rating, comment))
}

/// $1 order, $2 rating, $3 comment, $4 rateable statuses. Returns the order's status (null: no
/// such order) and the new feedback's id and time (null: not rateable, or already rated).
const INSERT: &str = "
    with o as (
        select id, status from orders where id = $1
    ), ins as (
        insert into feedback (order_id, rating, comment)
        select o.id, $2::int4, $3::text from o where o.status = any($4::text[])
        on conflict (order_id) do nothing
        returning id, created_at
    )
    select (select status from o), ins.id, ins.created_at from (select 1) as one left join ins on true";

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rating: i32, comment: Option<&str>) -> Result<(i32, Option<String>), Option<String>> {
        validate(NewFeedback { rating, comment: comment.map(str::to_string) }).map_err(|e| match e {
            ApiError::Invalid { field, .. } => field,
            _ => None,
        })
    }

    #[test]
    fn ratings_and_comments_are_validated_by_field() {
        assert_eq!(check(5, Some("  lovely  ")), Ok((5, Some("lovely".into()))));
        assert_eq!(check(1, Some("   ")), Ok((1, None)));
        assert_eq!(check(3, None), Ok((3, None)));
        assert_eq!(check(0, None), Err(Some("rating".into())));
        assert_eq!(check(6, None), Err(Some("rating".into())));
        assert!(check(4, Some(&"é".repeat(MAX_COMMENT))).is_ok(), "characters, not bytes");
        assert_eq!(check(4, Some(&"x".repeat(MAX_COMMENT + 1))), Err(Some("comment".into())));
    }
}
