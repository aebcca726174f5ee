//! App events: `POST /events` stores a batch of one app session's events — what a customer did in
//! the order-ahead app or at a kiosk (`app_events`, captured like every business table) — for the
//! conversion funnel.
//!
//! * Idempotent: `(session_id, event_id)` is unique, so a batch sent twice (a mobile retry)
//!   stores each event once; the answer counts the new events and the duplicates (a duplicate
//!   keeps the event stored first, whatever the later one carries).
//! * Per type, exactly the fields it needs: `product_id` for `product_view`, `add_to_cart` and
//!   `remove_from_cart` (with `quantity`, default 1), `query` for `search`, `order_id` for
//!   `order_placed`; any other field for a type is refused.
//! * Bad input writes nothing of the batch and is a 4xx naming the field (`events[3].product_id`):
//!   an unknown type, a missing or extra field for the type, an unknown store, customer, product
//!   or order, an order of another customer than the session's, a time more than a day ahead of
//!   the server's, no event or more than [`MAX_EVENTS`], one event id twice in the batch.
//! * An `order_placed` event records its order's total as it is then: the purchase's revenue in
//!   the funnel.

use std::collections::BTreeSet;

use axum::{extract::State, Json};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{extract::ApiJson, sql, validate, ApiError, ApiResult, AppState};
use crate::shop::EventType;

/// Most events in one batch.
pub(crate) const MAX_EVENTS: usize = 500;
/// Most units of a cart event.
pub(crate) const MAX_QUANTITY: i32 = 1000;
/// How far ahead of the server's clock an event's time may be.
const MAX_AHEAD: Duration = Duration::days(1);

/// The body of `POST /events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewEvents {
    pub session_id: Uuid,
    pub store_id: i32,
    #[serde(default)]
    pub customer_id: Option<i32>,
    pub events: Vec<NewEvent>,
}

/// One event as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewEvent {
    pub event_id: i32,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub product_id: Option<i32>,
    #[serde(default)]
    pub quantity: Option<i32>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub order_id: Option<i32>,
}

/// An event that passed the checks of its own fields.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    event_id: i32,
    kind: EventType,
    at: DateTime<Utc>,
    product_id: Option<i32>,
    quantity: Option<i32>,
    query: Option<String>,
    order_id: Option<i32>,
}

/// The answer: events stored now, and events the server had already.
#[derive(Debug, Serialize)]
pub(super) struct Accepted {
    pub accepted: usize,
    pub duplicates: usize,
}

/// `POST /events`; see the module docs.
pub(super) async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewEvents>,
) -> ApiResult<Json<Accepted>> {
    let events = validate_batch(&body, Utc::now())?;
    let mut client = state.client().await?;
    let tx = client.transaction().await?;
    check_references(&tx, &body, &events).await?;
    let accepted = insert(&tx, &body, &events).await?;
    tx.commit().await?;
    Ok(Json(Accepted { accepted, duplicates: events.len() - accepted }))
}

/// Check the batch's size and each event's own fields.
fn validate_batch(body: &NewEvents, now: DateTime<Utc>) -> ApiResult<Vec<Event>> {
    if body.events.is_empty() || body.events.len() > MAX_EVENTS {
        return Err(ApiError::invalid(
            "events",
            format!("a batch holds 1 to {MAX_EVENTS} events, got {}", body.events.len()),
        ));
    }
    let mut ids = BTreeSet::new();
    let mut events = Vec::with_capacity(body.events.len());
    for (i, e) in body.events.iter().enumerate() {
        if !ids.insert(e.event_id) {
            return Err(ApiError::invalid(
                format!("events[{i}].event_id"),
                format!("event id {} appears twice in the batch", e.event_id),
            ));
        }
        events.push(validate_event(i, e, now)?);
    }
    Ok(events)
}

/// One event: its type, the fields the type needs (and no other), its time.
fn validate_event(i: usize, e: &NewEvent, now: DateTime<Utc>) -> ApiResult<Event> {
    let field = |name: &str| format!("events[{i}].{name}");
    let Some(kind) = EventType::parse(&e.kind) else {
        let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        return Err(ApiError::invalid(
            field("type"),
            format!("unknown event type {:?} (one of {})", e.kind, known.join(", ")),
        ));
    };
    if e.event_id < 0 {
        return Err(ApiError::invalid(field("event_id"), "event_id must not be negative"));
    }
    if e.at > now + MAX_AHEAD {
        return Err(ApiError::invalid(
            field("at"),
            format!("at {} is more than a day in the future", e.at.to_rfc3339()),
        ));
    }
    let wanted = fields_of(kind);
    let given = [
        ("product_id", e.product_id.is_some()),
        ("quantity", e.quantity.is_some()),
        ("query", e.query.is_some()),
        ("order_id", e.order_id.is_some()),
    ];
    for (name, present) in given {
        let allowed = wanted.contains(&name) || name == "quantity" && is_cart(kind);
        if present && !allowed {
            return Err(ApiError::invalid(field(name), format!("{name} is not a field of a {} event", kind.as_str())));
        }
        if !present && wanted.contains(&name) {
            return Err(ApiError::invalid(field(name), format!("a {} event needs {name}", kind.as_str())));
        }
    }
    let quantity = is_cart(kind).then(|| e.quantity.unwrap_or(1));
    if let Some(q) = quantity.filter(|q| !(1..=MAX_QUANTITY).contains(q)) {
        return Err(ApiError::invalid(
            field("quantity"),
            format!("quantity must be from 1 to {MAX_QUANTITY}, got {q}"),
        ));
    }
    let query = e.query.as_deref().map(|q| validate::text(&field("query"), q)).transpose()?;
    Ok(Event { event_id: e.event_id, kind, at: e.at, product_id: e.product_id, quantity, query, order_id: e.order_id })
}

/// The fields an event of `kind` must carry (a cart event's `quantity` is optional).
pub(super) fn fields_of(kind: EventType) -> &'static [&'static str] {
    match kind {
        EventType::ProductView | EventType::AddToCart | EventType::RemoveFromCart => &["product_id"],
        EventType::Search => &["query"],
        EventType::OrderPlaced => &["order_id"],
        EventType::SessionStart | EventType::MenuView | EventType::CheckoutStart => &[],
    }
}

/// Whether `kind` changes the cart (and so has a quantity).
pub(super) fn is_cart(kind: EventType) -> bool {
    matches!(kind, EventType::AddToCart | EventType::RemoveFromCart)
}

/// The store, the customer, and each event's product and order must exist; an order must be the
/// session customer's (when the session has one).
async fn check_references<C: deadpool_postgres::GenericClient>(
    client: &C,
    body: &NewEvents,
    events: &[Event],
) -> ApiResult<()> {
    let products: Vec<i32> = events.iter().filter_map(|e| e.product_id).collect();
    let orders: Vec<i32> = events.iter().filter_map(|e| e.order_id).collect();
    let row = sql::query_one(client, REFERENCES, &[&body.store_id, &body.customer_id, &products, &orders]).await?;
    if !row.get::<_, bool>(0) {
        return Err(ApiError::invalid("store_id", format!("store {} not found", body.store_id)));
    }
    if !row.get::<_, bool>(1) {
        let id = body.customer_id.unwrap_or_default();
        return Err(ApiError::invalid("customer_id", format!("customer {id} not found")));
    }
    let (missing_products, missing_orders, foreign_orders): (Vec<i32>, Vec<i32>, Vec<i32>) =
        (row.get(2), row.get(3), row.get(4));
    for (i, e) in events.iter().enumerate() {
        if let Some(p) = e.product_id.filter(|p| missing_products.contains(p)) {
            return Err(ApiError::invalid(format!("events[{i}].product_id"), format!("product {p} not found")));
        }
        if let Some(o) = e.order_id.filter(|o| missing_orders.contains(o)) {
            return Err(ApiError::invalid(format!("events[{i}].order_id"), format!("order {o} not found")));
        }
        if let Some(o) = e.order_id.filter(|o| foreign_orders.contains(o)) {
            return Err(ApiError::invalid(
                format!("events[{i}].order_id"),
                format!("order {o} belongs to another customer than the session's"),
            ));
        }
    }
    Ok(())
}

/// $1 store, $2 customer (or null), $3 products, $4 orders named by the batch.
const REFERENCES: &str = "
    select exists (select from stores where id = $1),
           $2::int4 is null or exists (select from customers where id = $2),
           array(select p from unnest($3::int4[]) p where not exists (select from products where id = p)),
           array(select o from unnest($4::int4[]) o where not exists (select from orders where id = o)),
           array(select id from orders where id = any($4::int4[]) and $2::int4 is not null and customer_id <> $2)";

/// Store the events; returns how many were new.
async fn insert<C: deadpool_postgres::GenericClient>(
    client: &C,
    body: &NewEvents,
    events: &[Event],
) -> ApiResult<usize> {
    let column = |f: fn(&Event) -> Option<i32>| events.iter().map(f).collect::<Vec<_>>();
    let ids: Vec<i32> = events.iter().map(|e| e.event_id).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let times: Vec<DateTime<Utc>> = events.iter().map(|e| e.at).collect();
    let queries: Vec<Option<&str>> = events.iter().map(|e| e.query.as_deref()).collect();
    let rows = sql::query(
        client,
        INSERT,
        &[
            &body.session_id,
            &body.store_id,
            &body.customer_id,
            &ids,
            &kinds,
            &times,
            &column(|e| e.product_id),
            &column(|e| e.quantity),
            &queries,
            &column(|e| e.order_id),
        ],
    )
    .await?;
    Ok(rows.len())
}

/// $1 session, $2 store, $3 customer, then one array per event column. An order's total is read
/// with the insert (a placed order's revenue in the funnel).
const INSERT: &str = "
    insert into app_events (session_id, event_id, event_type, at, store_id, customer_id, product_id, quantity,
                            query, order_id, order_total)
    select $1, e.event_id, e.event_type, e.at, $2, $3, e.product_id, e.quantity, e.query, e.order_id, o.total
    from unnest($4::int4[], $5::text[], $6::timestamptz[], $7::int4[], $8::int4[], $9::text[], $10::int4[])
         as e(event_id, event_type, at, product_id, quantity, query, order_id)
    left join orders o on o.id = e.order_id
    order by e.event_id
    on conflict (session_id, event_id) do nothing
    returning 1";

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> NewEvent {
        NewEvent {
            event_id: 1,
            kind: kind.into(),
            at: "2026-12-07T10:00:00Z".parse().unwrap(),
            product_id: None,
            quantity: None,
            query: None,
            order_id: None,
        }
    }

    fn field(e: &NewEvent) -> Result<Event, String> {
        let now = "2026-12-07T12:00:00Z".parse().unwrap();
        validate_event(3, e, now).map_err(|e| match e {
            ApiError::Invalid { field, .. } => field.unwrap_or_default(),
            other => panic!("{other}"),
        })
    }

    #[test]
    fn each_type_takes_exactly_its_fields() {
        assert_eq!(field(&event("session_start")).unwrap().kind, EventType::SessionStart);
        assert_eq!(field(&event("teleport")).unwrap_err(), "events[3].type");
        assert_eq!(field(&event("product_view")).unwrap_err(), "events[3].product_id");
        assert_eq!(field(&event("search")).unwrap_err(), "events[3].query");
        assert_eq!(field(&event("order_placed")).unwrap_err(), "events[3].order_id");
        let cart = NewEvent { product_id: Some(2), ..event("add_to_cart") };
        assert_eq!(field(&cart).unwrap().quantity, Some(1), "a cart event's quantity defaults to 1");
        assert_eq!(field(&NewEvent { quantity: Some(0), ..cart }).unwrap_err(), "events[3].quantity");
        let extra = NewEvent { product_id: Some(2), ..event("search") };
        assert_eq!(field(&NewEvent { query: Some("latte".into()), ..extra }).unwrap_err(), "events[3].product_id");
        let view = NewEvent { product_id: Some(2), quantity: Some(2), ..event("product_view") };
        assert_eq!(field(&view).unwrap_err(), "events[3].quantity");
        assert_eq!(field(&NewEvent { query: Some("  ".into()), ..event("search") }).unwrap_err(), "events[3].query");
    }

    #[test]
    fn a_time_more_than_a_day_ahead_is_refused() {
        let late = NewEvent { at: "2026-12-08T11:59:00Z".parse().unwrap(), ..event("menu_view") };
        assert!(field(&late).is_ok());
        let ahead = NewEvent { at: "2026-12-08T12:01:00Z".parse().unwrap(), ..event("menu_view") };
        assert_eq!(field(&ahead).unwrap_err(), "events[3].at");
    }
}
