//! Decoding a stored change once, at the transform's edge, into typed images.

use serde::{de::DeserializeOwned, Deserialize};

use super::{image::*, ChangeRow, Op, Version};

/// A captured business table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Table {
    Stores,
    Customers,
    Employees,
    Products,
    Orders,
    OrderItems,
    Payments,
    Inventory,
    InventoryMovements,
    Feedback,
}

impl Table {
    /// Every captured table.
    pub(crate) const ALL: [Table; 10] = [
        Table::Stores,
        Table::Customers,
        Table::Employees,
        Table::Products,
        Table::Orders,
        Table::OrderItems,
        Table::Payments,
        Table::Inventory,
        Table::InventoryMovements,
        Table::Feedback,
    ];

    /// The table's name in OLTP (and in `cdc_orders.table_name`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Stores => "stores",
            Table::Customers => "customers",
            Table::Employees => "employees",
            Table::Products => "products",
            Table::Orders => "orders",
            Table::OrderItems => "order_items",
            Table::Payments => "payments",
            Table::Inventory => "inventory",
            Table::InventoryMovements => "inventory_movements",
            Table::Feedback => "feedback",
        }
    }

    /// The table of a stored name.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Which image of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Before,
    After,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Before => "before",
            Side::After => "after",
        })
    }
}

/// Why a stored change cannot be understood.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("unknown table '{0}'")]
    UnknownTable(String),
    #[error("the {0} image is missing")]
    MissingImage(Side),
    #[error("the {side} image does not decode")]
    BadImage {
        side: Side,
        #[source]
        source: serde_json::Error,
    },
}

/// A decoded change: its version, what it did, and the typed row image(s).
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub version: Version,
    pub op: Op,
    pub record: Record,
    /// An update that moved an order line, a payment or a rating to another order: the order it left.
    pub moved_from: Option<i32>,
}

/// The order a line, a payment or a rating belongs to, from its before image.
#[derive(Deserialize)]
struct OrderOf {
    order_id: i32,
}

/// The row a change is about: the image its op calls for (`after` for inserts and updates,
/// `before` for deletes); movements carry both, as an update moves stock out of one day and
/// into another.
#[derive(Debug, Clone)]
pub(crate) enum Record {
    Store(StoreImage),
    Customer(CustomerImage),
    Employee(EmployeeImage),
    Product(ProductImage),
    Order(OrderImage),
    OrderItem(OrderItemImage),
    Payment(PaymentImage),
    Inventory(InventoryImage),
    Movement { before: Option<MovementImage>, after: Option<MovementImage> },
    Feedback(FeedbackImage),
}

impl Record {
    /// The row as a change of table `.0` to primary key `.1` would carry it: its image as JSON
    /// (a movement's after image; a stock level is keyed 0, it has a composite key).
    pub(crate) fn image(&self) -> (Table, i64, Result<String, serde_json::Error>) {
        use serde_json::to_string;
        match self {
            Record::Store(x) => (Table::Stores, x.id.into(), to_string(x)),
            Record::Customer(x) => (Table::Customers, x.id.into(), to_string(x)),
            Record::Employee(x) => (Table::Employees, x.id.into(), to_string(x)),
            Record::Product(x) => (Table::Products, x.id.into(), to_string(x)),
            Record::Order(x) => (Table::Orders, x.id.into(), to_string(x)),
            Record::OrderItem(x) => (Table::OrderItems, x.id.into(), to_string(x)),
            Record::Payment(x) => (Table::Payments, x.id.into(), to_string(x)),
            Record::Inventory(x) => (Table::Inventory, 0, to_string(x)),
            Record::Movement { before, after } => {
                let image = after.as_ref().or(before.as_ref());
                (Table::InventoryMovements, image.map_or(0, |m| m.id.into()), to_string(&image))
            }
            Record::Feedback(x) => (Table::Feedback, x.id.into(), to_string(x)),
        }
    }
}

impl Change {
    /// Decode `row`'s table and images.
    pub(crate) fn decode(row: &ChangeRow) -> Result<Self, DecodeError> {
        let table = Table::from_name(&row.table).ok_or_else(|| DecodeError::UnknownTable(row.table.clone()))?;
        let record = match table {
            Table::Stores => Record::Store(image(row)?),
            Table::Customers => Record::Customer(image(row)?),
            Table::Employees => Record::Employee(image(row)?),
            Table::Products => Record::Product(image(row)?),
            Table::Orders => Record::Order(image(row)?),
            Table::OrderItems => Record::OrderItem(image(row)?),
            Table::Payments => Record::Payment(image(row)?),
            Table::Inventory => Record::Inventory(image(row)?),
            Table::InventoryMovements => Record::Movement {
                before: (row.op != Op::Insert).then(|| side(row, Side::Before)).transpose()?,
                after: (row.op != Op::Delete).then(|| side(row, Side::After)).transpose()?,
            },
            Table::Feedback => Record::Feedback(image(row)?),
        };
        let moved_from = moved_from(row, &record)?;
        Ok(Change { version: row.version(), op: row.op, record, moved_from })
    }

    /// The table this change is about.
    pub(crate) fn table(&self) -> Table {
        match self.record {
            Record::Store(_) => Table::Stores,
            Record::Customer(_) => Table::Customers,
            Record::Employee(_) => Table::Employees,
            Record::Product(_) => Table::Products,
            Record::Order(_) => Table::Orders,
            Record::OrderItem(_) => Table::OrderItems,
            Record::Payment(_) => Table::Payments,
            Record::Inventory(_) => Table::Inventory,
            Record::Movement { .. } => Table::InventoryMovements,
            Record::Feedback(_) => Table::Feedback,
        }
    }
}

/// For an update of an order line, a payment or a rating whose before image names another order:
/// that order.
fn moved_from(row: &ChangeRow, record: &Record) -> Result<Option<i32>, DecodeError> {
    let order_id = match record {
        Record::OrderItem(i) => i.order_id,
        Record::Payment(p) => p.order_id,
        Record::Feedback(f) => f.order_id,
        _ => return Ok(None),
    };
    if row.op != Op::Update || row.before.is_none() {
        return Ok(None);
    }
    let before: OrderOf = side(row, Side::Before)?;
    Ok((before.order_id != order_id).then_some(before.order_id))
}

/// The image the op calls for.
fn image<T: DeserializeOwned>(row: &ChangeRow) -> Result<T, DecodeError> {
    side(row, if row.op == Op::Delete { Side::Before } else { Side::After })
}

fn side<T: DeserializeOwned>(row: &ChangeRow, side: Side) -> Result<T, DecodeError> {
    let text = match side {
        Side::Before => &row.before,
        Side::After => &row.after,
    };
    let text = text.as_deref().ok_or(DecodeError::MissingImage(side))?;
    serde_json::from_str(text).map_err(|source| DecodeError::BadImage { side, source })
}
