//! App sessions, as the load generator posts them to `POST /events`: what customers do in the
//! order-ahead app before they buy, or leave. Pure: the functions take the catalogue, the time and
//! a random number generator.
//!
//! A session that ends with an order is drafted from the order ([`draft_purchase`]): it opens the
//! app, looks at the menu and some products (those it buys among them), adds each to its cart,
//! checks out and places the order. A browsing session ([`draft_browsing`]) drops off on the way:
//! a third bounce, a quarter leave after the menu, fewer after viewing products, after filling a
//! cart, or at checkout.

use chrono::{DateTime, Duration, Utc};
use rand::{seq::IndexedRandom, Rng, RngExt};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{generator::Catalog, EventType, NewOrder};

/// Browsing sessions the load generator posts per app order: with one order in two placed
/// through the app, about one session in five orders.
pub(crate) const BROWSING_PER_APP_ORDER: usize = 2;

/// What customers search for.
const QUERIES: [&str; 6] = ["latte", "oat milk", "croissant", "decaf", "iced tea", "sandwich"];

/// One event of a drafted session.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventDraft {
    pub kind: EventType,
    pub product_id: Option<i32>,
    pub quantity: Option<i32>,
    pub query: Option<&'static str>,
    pub order_id: Option<i32>,
}

impl EventDraft {
    fn plain(kind: EventType) -> Self {
        EventDraft { kind, product_id: None, quantity: None, query: None, order_id: None }
    }

    fn product(kind: EventType, product_id: i32) -> Self {
        EventDraft { product_id: Some(product_id), ..Self::plain(kind) }
    }

    fn cart(kind: EventType, product_id: i32, quantity: i32) -> Self {
        EventDraft { quantity: Some(quantity), ..Self::product(kind, product_id) }
    }
}

/// A session's events, in the order they happened.
#[derive(Debug, Clone)]
pub(crate) struct SessionDraft {
    pub session_id: Uuid,
    pub store_id: i32,
    pub customer_id: Option<i32>,
    pub events: Vec<EventDraft>,
}

impl SessionDraft {
    /// The session as a `POST /events` body: its events `gap` apart, the last one at `end`.
    pub(crate) fn body(&self, end: DateTime<Utc>, gap: Duration) -> Value {
        let n = self.events.len() as i32;
        let events: Vec<Value> = self
            .events
            .iter()
            .zip(0..)
            .map(|(e, i)| {
                let at = end - gap * (n - 1 - i);
                let mut event = json!({ "event_id": i, "type": e.kind.as_str(), "at": at.to_rfc3339() });
                for (name, value) in [
                    ("product_id", e.product_id.map(Value::from)),
                    ("quantity", e.quantity.map(Value::from)),
                    ("query", e.query.map(Value::from)),
                    ("order_id", e.order_id.map(Value::from)),
                ] {
                    if let Some(v) = value {
                        event[name] = v;
                    }
                }
                event
            })
            .collect();
        json!({ "session_id": self.session_id, "store_id": self.store_id, "customer_id": self.customer_id, "events": events })
    }

    /// Place the order `order_id` as the session's last event.
    pub(crate) fn ordered(mut self, order_id: i32) -> Self {
        self.events.push(EventDraft { order_id: Some(order_id), ..EventDraft::plain(EventType::OrderPlaced) });
        self
    }
}

/// The time between a session's events: 2 to 20 s.
pub(crate) fn gap<R: Rng + ?Sized>(rng: &mut R) -> Duration {
    Duration::seconds(rng.random_range(2..=20))
}

/// The session that places `order` (its `order_placed` event is added once the order has an id,
/// with [`SessionDraft::ordered`]).
pub(crate) fn draft_purchase<R: Rng + ?Sized>(catalog: &Catalog, order: &NewOrder, rng: &mut R) -> SessionDraft {
    let mut events = vec![EventDraft::plain(EventType::SessionStart), EventDraft::plain(EventType::MenuView)];
    if rng.random_bool(0.2) {
        events.push(EventDraft { query: QUERIES.choose(rng).copied(), ..EventDraft::plain(EventType::Search) });
    }
    if let Some(other) = catalog.products.choose(rng).filter(|_| rng.random_bool(0.4)) {
        events.push(EventDraft::product(EventType::ProductView, other.id));
    }
    for line in &order.items {
        events.push(EventDraft::product(EventType::ProductView, line.product_id));
        events.push(EventDraft::cart(EventType::AddToCart, line.product_id, line.quantity));
    }
    events.push(EventDraft::plain(EventType::CheckoutStart));
    SessionDraft {
        session_id: new_session_id(rng),
        store_id: order.store_id.unwrap_or_else(|| catalog.stores[0].id),
        customer_id: Some(order.customer_id),
        events,
    }
}

/// How far a browsing session gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Bounce,
    Menu,
    Products,
    Cart,
    Checkout,
}

/// A session that places no order; `None` when the catalogue has no product or store.
pub(crate) fn draft_browsing<R: Rng + ?Sized>(catalog: &Catalog, rng: &mut R) -> Option<SessionDraft> {
    let store = catalog.stores.choose(rng)?.id;
    let product = |rng: &mut R| catalog.products.choose(rng).map(|p| p.id);
    let reach =
        [(Reach::Bounce, 32), (Reach::Menu, 25), (Reach::Products, 23), (Reach::Cart, 12), (Reach::Checkout, 8)]
            .choose_weighted(rng, |c| c.1)
            .expect("static weights")
            .0;
    let mut events = vec![EventDraft::plain(EventType::SessionStart)];
    if reach != Reach::Bounce {
        events.push(EventDraft::plain(EventType::MenuView));
        if rng.random_bool(0.3) {
            events.push(EventDraft { query: QUERIES.choose(rng).copied(), ..EventDraft::plain(EventType::Search) });
        }
    }
    let mut cart = Vec::new();
    if matches!(reach, Reach::Products | Reach::Cart | Reach::Checkout) {
        for _ in 0..rng.random_range(1..=3) {
            let id = product(rng)?;
            events.push(EventDraft::product(EventType::ProductView, id));
            cart.push(id);
        }
    }
    if matches!(reach, Reach::Cart | Reach::Checkout) {
        for &id in &cart {
            events.push(EventDraft::cart(EventType::AddToCart, id, rng.random_range(1..=2)));
        }
        if cart.len() > 1 && rng.random_bool(0.3) {
            events.push(EventDraft::cart(EventType::RemoveFromCart, cart[0], 1));
        }
    }
    if reach == Reach::Checkout {
        events.push(EventDraft::plain(EventType::CheckoutStart));
    }
    let customer_id = catalog.customer_ids.choose(rng).copied().filter(|_| rng.random_bool(0.6));
    Some(SessionDraft { session_id: new_session_id(rng), store_id: store, customer_id, events })
}

fn new_session_id<R: Rng + ?Sized>(rng: &mut R) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

#[cfg(test)]
mod tests {
    use rand::{rngs::StdRng, SeedableRng};

    use super::*;
    use crate::shop::{
        generator::{CatalogProduct, CatalogStore},
        NewLine,
    };

    fn catalog() -> Catalog {
        let product = |id| CatalogProduct { id, name: format!("p{id}"), category: "coffee".into(), price: 3.into() };
        Catalog {
            products: (1..=6).map(product).collect(),
            customer_ids: vec![7, 8],
            stores: vec![CatalogStore { id: 2, name: "s".into(), employee_ids: vec![3] }],
        }
    }

    #[test]
    fn browsing_sessions_drop_off_on_the_way() {
        let mut rng = StdRng::seed_from_u64(7);
        let sessions: Vec<SessionDraft> = (0..2000).filter_map(|_| draft_browsing(&catalog(), &mut rng)).collect();
        let reached = |kind| sessions.iter().filter(|s| s.events.iter().any(|e| e.kind == kind)).count();
        let (views, carts, checkouts) =
            (reached(EventType::ProductView), reached(EventType::AddToCart), reached(EventType::CheckoutStart));
        assert!(
            sessions.len() > views && views > carts && carts > checkouts && checkouts > 0,
            "{views} {carts} {checkouts}"
        );
        assert_eq!(reached(EventType::OrderPlaced), 0);
        let bounced = sessions.iter().filter(|s| s.events.len() == 1).count();
        assert!((500..800).contains(&bounced), "about a third bounce: {bounced}");
    }

    #[test]
    fn a_purchase_views_and_adds_what_it_orders_then_places_it() {
        let order = NewOrder {
            customer_id: 7,
            employee_id: Some(3),
            store_id: Some(2),
            items: vec![NewLine { product_id: 4, quantity: 2 }],
            payment_method: None,
        };
        let s = draft_purchase(&catalog(), &order, &mut StdRng::seed_from_u64(1)).ordered(99);
        let kinds: Vec<EventType> = s.events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds.first(), Some(&EventType::SessionStart));
        assert_eq!(&kinds[kinds.len() - 2..], [EventType::CheckoutStart, EventType::OrderPlaced]);
        assert!(s.events.contains(&EventDraft::cart(EventType::AddToCart, 4, 2)));
        let end: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let body = s.body(end, Duration::seconds(5));
        let events = body["events"].as_array().unwrap();
        assert_eq!(events.last().unwrap()["order_id"], 99);
        assert_eq!(events.last().unwrap()["at"], "2026-12-07T10:00:00+00:00");
        assert_eq!(events[0]["event_id"], 0);
        let first: DateTime<Utc> = events[0]["at"].as_str().unwrap().parse().unwrap();
        assert_eq!(end - first, Duration::seconds(5 * (events.len() as i64 - 1)), "5 s apart");
        assert!(events[0].get("product_id").is_none(), "only the type's fields");
        assert_eq!((body["store_id"].as_i64(), body["customer_id"].as_i64()), (Some(2), Some(7)));
    }
}
