//! Row images: each business table's row as the capture triggers render it (`to_jsonb(row)`,
//! timestamps in UTC, numerics with their exact digits). They serialize back to the same shape,
//! so a row a snapshot job read can be stored as a dead letter's image.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `stores` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct StoreImage {
    pub id: i32,
    pub name: String,
    pub city: String,
}

/// `customers` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct CustomerImage {
    pub id: i32,
    pub name: String,
    pub email: String,
}

/// `employees` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct EmployeeImage {
    pub id: i32,
    pub store_id: i32,
    pub name: String,
    pub role: String,
    pub active: bool,
}

/// `products` row image.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub(crate) struct ProductImage {
    pub id: i32,
    pub name: String,
    pub category: String,
    pub price: Decimal,
    pub active: bool,
}

/// `orders` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct OrderImage {
    pub id: i32,
    pub customer_id: i32,
    pub employee_id: Option<i32>,
    pub store_id: i32,
    pub status: String,
    pub order_time: DateTime<Utc>,
    pub total: Decimal,
}

/// `order_items` row image (`price` is the unit price snapshot).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct OrderItemImage {
    pub id: i32,
    pub order_id: i32,
    pub product_id: i32,
    pub quantity: i32,
    pub price: Decimal,
}

/// `payments` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct PaymentImage {
    pub id: i32,
    pub order_id: i32,
    pub amount: Decimal,
    pub method: String,
    pub paid_at: DateTime<Utc>,
}

/// `inventory` row image (stock on hand).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct InventoryImage {
    pub product_id: i32,
    pub store_id: i32,
    pub on_hand: i32,
}

/// `inventory_movements` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct MovementImage {
    pub id: i32,
    pub product_id: i32,
    pub store_id: i32,
    pub quantity: i32,
    pub reason: String,
    pub moved_at: DateTime<Utc>,
}

/// `feedback` row image: one customer rating of an order.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct FeedbackImage {
    pub id: i32,
    pub order_id: i32,
    pub rating: i32,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}
