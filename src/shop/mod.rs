//! The coffee chain's vocabulary, shared by the order API, the warehouse transform and the load
//! tools: order statuses and their life cycle, payment methods, stock movement reasons, the
//! shape of a new order — and [`generator`], which drafts realistic orders from a [`Catalog`].

pub(crate) mod generator;
pub(crate) mod session;

use serde::{Deserialize, Serialize};

pub(crate) use generator::{draft_order, local_hour, Catalog};

/// Defines a closed set of stored text values as an enum with `as_str`, `parse` and `ALL`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub(crate) enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            /// Every value.
            pub(crate) const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as stored in OLTP.
            pub(crate) fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parse a stored value.
            pub(crate) fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// The status of an order (`orders.status`). Life cycle:
    ///
    /// ```text
    /// placed ──▶ served ──▶ refunded
    ///    └─────▶ cancelled
    /// ```
    OrderStatus { Placed = "placed", Served = "served", Cancelled = "cancelled", Refunded = "refunded" }
}

vocabulary! {
    /// How an order is paid (`payments.method`).
    PaymentMethod { Cash = "cash", Card = "card", Mobile = "mobile" }
}

vocabulary! {
    /// Why stock moved (`inventory_movements.reason`).
    MovementReason { Sale = "sale", Restock = "restock", Waste = "waste", Adjustment = "adjustment" }
}

vocabulary! {
    /// What a customer did in the app or at a kiosk (`app_events.event_type`). The funnel's
    /// milestones: a session views a product, adds to its cart, starts checking out, places an order.
    EventType {
        SessionStart = "session_start",
        MenuView = "menu_view",
        ProductView = "product_view",
        Search = "search",
        AddToCart = "add_to_cart",
        RemoveFromCart = "remove_from_cart",
        CheckoutStart = "checkout_start",
        OrderPlaced = "order_placed",
    }
}

impl OrderStatus {
    /// Whether an order may move from `self` to `to`.
    pub(crate) fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!((self, to), (Placed, Served) | (Placed, Cancelled) | (Served, Refunded))
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
pub(crate) struct NewOrder {
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
pub(crate) struct NewLine {
    pub product_id: i32,
    pub quantity: i32,
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::{self, *};

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        let all = OrderStatus::ALL;
        let allowed: Vec<_> =
            all.iter().flat_map(|&a| all.iter().map(move |&b| (a, b))).filter(|(a, b)| a.can_become(*b)).collect();
        assert_eq!(allowed, [(Placed, Served), (Placed, Cancelled), (Served, Refunded)]);
    }

    #[test]
    fn stored_values_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(super::PaymentMethod::parse("bitcoin"), None);
    }
}
