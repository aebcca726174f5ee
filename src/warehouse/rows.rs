//! Warehouse rows: what the transform produces and the sink writes. Natural keys only; the sink
//! resolves surrogate keys in SQL, in the same transaction.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Timelike, Utc};
use rust_decimal::Decimal;

use crate::{
    change::{ProductImage, Version},
    shop::{OrderStatus, PaymentMethod},
};

/// The source a warehouse row was written from, which decides whether a later write may replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RowVersion {
    /// Loaded by snapshot job `job` (the initial load or a resync). It is older than every captured
    /// change, and it replaces whatever the warehouse holds: while a job runs it owns the tables.
    Snapshot { job: i64 },
    /// Written from a captured change: replaces only rows of an older version.
    Change(Version),
}

impl RowVersion {
    /// `(changed_at, src_id)` as the sink writes them: a snapshot row is stored as
    /// `('-infinity', -job)` (a `NULL` here becomes `-infinity` in SQL).
    pub(crate) fn columns(self) -> (Option<DateTime<Utc>>, i64) {
        match self {
            RowVersion::Snapshot { job } => (None, -job),
            RowVersion::Change(v) => (Some(v.changed_at), v.src_id),
        }
    }
}

/// A type 1 dimension row of stores.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoreRow {
    pub store_id: i32,
    pub name: String,
    pub city: String,
    pub is_deleted: bool,
    pub version: RowVersion,
}

/// A type 1 dimension row of customers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CustomerRow {
    pub customer_id: i32,
    pub name: String,
    pub email: String,
    pub is_deleted: bool,
    pub version: RowVersion,
}

/// A type 1 dimension row of employees.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EmployeeRow {
    pub employee_id: i32,
    pub store_id: i32,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub is_deleted: bool,
    pub version: RowVersion,
}

/// One change of a product, applied in order (type 2 needs every version).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProductChange {
    pub image: ProductImage,
    pub is_deleted: bool,
    pub version: RowVersion,
}

/// One order (accumulating snapshot).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderRow {
    pub order_id: i32,
    pub customer_id: i32,
    pub employee_id: Option<i32>,
    pub store_id: i32,
    pub status: OrderStatus,
    pub order_time: DateTime<Utc>,
    pub total: Decimal,
    pub date_key: i32,
    pub time_key: i32,
    pub is_deleted: bool,
    pub version: RowVersion,
}

/// One order line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SaleRow {
    pub order_item_id: i32,
    pub order_id: i32,
    pub product_id: i32,
    pub quantity: i32,
    pub unit_price: Decimal,
    pub line_total: Decimal,
    pub is_deleted: bool,
    pub version: RowVersion,
}

/// One payment (refunds are negative).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PaymentRow {
    pub payment_id: i32,
    pub order_id: i32,
    pub amount: Decimal,
    pub method: PaymentMethod,
    pub paid_at: DateTime<Utc>,
    pub date_key: i32,
    pub time_key: i32,
    pub is_deleted: bool,
    pub version: RowVersion,
}

/// One customer rating of an order (`fact_feedback`); the sink copies the order's keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeedbackRow {
    pub feedback_id: i32,
    pub order_id: i32,
    pub rating: i32,
    pub comment: Option<String>,
    pub rated_at: DateTime<Utc>,
    pub date_key: i32,
    pub time_key: i32,
    pub is_deleted: bool,
    pub version: RowVersion,
}

/// What a batch adds into one `fact_inventory` row (product x store x day); from a snapshot, the
/// whole day's figures instead (see `WarehouseBatch::inventory_days`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct InventoryDelta {
    pub date_key: i32,
    pub store_id: i32,
    pub product_id: i32,
    pub received: i32,
    pub sold: i32,
    pub wasted: i32,
    pub adjusted: i32,
    pub net: i32,
    /// The last stock level seen that day, with its time.
    pub on_hand: Option<(i32, DateTime<Utc>)>,
}

/// A dimension that facts can reference before its row arrives (an inferred member).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    Store,
    Customer,
    Employee,
    Product,
}

impl Dim {
    /// Every dimension with inferred members.
    pub(crate) const ALL: [Dim; 4] = [Dim::Store, Dim::Customer, Dim::Employee, Dim::Product];

    /// The `dim` label of the warehouse metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Dim::Store => "store",
            Dim::Customer => "customer",
            Dim::Employee => "employee",
            Dim::Product => "product",
        }
    }
}

/// One value per [`Dim`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PerDim<T> {
    pub store: T,
    pub customer: T,
    pub employee: T,
    pub product: T,
}

impl<T> PerDim<T> {
    /// Each dimension with its value.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Dim, &T)> {
        Dim::ALL.into_iter().map(|dim| (dim, self.get(dim)))
    }

    /// The value of `dim`.
    pub(crate) fn get(&self, dim: Dim) -> &T {
        match dim {
            Dim::Store => &self.store,
            Dim::Customer => &self.customer,
            Dim::Employee => &self.employee,
            Dim::Product => &self.product,
        }
    }

    /// The value of `dim`, to change.
    pub(crate) fn get_mut(&mut self, dim: Dim) -> &mut T {
        match dim {
            Dim::Store => &mut self.store,
            Dim::Customer => &mut self.customer,
            Dim::Employee => &mut self.employee,
            Dim::Product => &mut self.product,
        }
    }
}

/// Natural keys referenced by facts that may have no dimension row yet.
pub(super) type InferredKeys = PerDim<BTreeSet<i32>>;

/// `yyyymmdd` of a UTC instant, or 0 (the unknown date) outside the calendar.
pub(crate) fn date_key(t: DateTime<Utc>) -> i32 {
    let d = t.date_naive();
    if (2015..=2045).contains(&d.year()) {
        d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32
    } else {
        0
    }
}

/// Minute of the UTC day.
pub(super) fn time_key(t: DateTime<Utc>) -> i32 {
    (t.hour() * 60 + t.minute()) as i32
}
