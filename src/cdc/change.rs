//! One row of `cdc_orders` as the reader fetches it, and its decoded row images.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// A captured change, with its images as JSON text (decoded lazily by the transform).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    pub id: i64,
    pub txid: i64,
    pub table: String,
    pub op: String,
    pub row_id: i64,
    pub before: Option<String>,
    pub after: Option<String>,
    pub changed_at: DateTime<Utc>,
}

impl ChangeRow {
    /// Bytes of the images, for batch sizing.
    pub fn size(&self) -> usize {
        64 + self.table.len() + self.before.as_ref().map_or(0, String::len) + self.after.as_ref().map_or(0, String::len)
    }

    /// The version of this change: later changes of the same row compare greater.
    pub fn version(&self) -> (DateTime<Utc>, i64) {
        (self.changed_at, self.id)
    }

    /// Decode the image the op calls for: `after` for I and U, `before` for D.
    pub fn image<T: DeserializeOwned>(&self) -> Result<T, String> {
        let (name, text) = if self.op == "D" { ("before", &self.before) } else { ("after", &self.after) };
        decode(name, text)
    }

    /// Decode the `before` image (U and D).
    pub fn before_image<T: DeserializeOwned>(&self) -> Result<T, String> {
        decode("before", &self.before)
    }
}

fn decode<T: DeserializeOwned>(name: &str, text: &Option<String>) -> Result<T, String> {
    let text = text.as_deref().ok_or_else(|| format!("the {name} image is missing"))?;
    serde_json::from_str(text).map_err(|e| format!("the {name} image does not decode: {e}"))
}

/// `stores` row image.
#[derive(Debug, Clone, Deserialize)]
pub struct StoreImage {
    pub id: i32,
    pub name: String,
    pub city: String,
}

/// `customers` row image.
#[derive(Debug, Clone, Deserialize)]
pub struct CustomerImage {
    pub id: i32,
    pub name: String,
    pub email: String,
}

/// `employees` row image.
#[derive(Debug, Clone, Deserialize)]
pub struct EmployeeImage {
    pub id: i32,
    pub store_id: i32,
    pub name: String,
    pub role: String,
    pub active: bool,
}

/// `products` row image.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProductImage {
    pub id: i32,
    pub name: String,
    pub category: String,
    pub price: Decimal,
    pub active: bool,
}

/// `orders` row image.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderImage {
    pub id: i32,
    pub customer_id: i32,
    pub employee_id: Option<i32>,
    pub store_id: i32,
    pub status: String,
    pub order_time: DateTime<Utc>,
    pub total: Decimal,
}

/// `order_items` row image (`price` is the unit price snapshot).
#[derive(Debug, Clone, Deserialize)]
pub struct OrderItemImage {
    pub id: i32,
    pub order_id: i32,
    pub product_id: i32,
    pub quantity: i32,
    pub price: Decimal,
}

/// `payments` row image.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentImage {
    pub id: i32,
    pub order_id: i32,
    pub amount: Decimal,
    pub method: String,
    pub paid_at: DateTime<Utc>,
}

/// `inventory` row image (stock on hand).
#[derive(Debug, Clone, Deserialize)]
pub struct InventoryImage {
    pub id: i32,
    pub product_id: i32,
    pub store_id: i32,
    pub on_hand: i32,
}

/// `inventory_movements` row image.
#[derive(Debug, Clone, Deserialize)]
pub struct MovementImage {
    pub id: i32,
    pub product_id: i32,
    pub store_id: i32,
    pub quantity: i32,
    pub reason: String,
    pub moved_at: DateTime<Utc>,
}
