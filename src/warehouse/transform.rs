//! The pure transform: change rows in, warehouse rows out. No I/O.
//!
//! * Each change is decoded once ([`Change::decode`]); one that cannot be decoded or breaks a rule
//!   is [`Rejected`] with a [`TransformError`], and the rest of the batch goes on.
//! * Type 1 dimensions and facts keep the last change of each row in the batch (by version).
//! * Product changes are all kept, in order, so the sink can open every type 2 version.
//! * Inventory movements become deltas into their day's `fact_inventory` row: an insert adds
//!   the movement, a delete subtracts it, an update does both.
//! * Order lines and payments are keyed by (order, id), as in the warehouse: an update that moves
//!   one to another order also writes it, soft-deleted, under the order it left.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;

use super::rows::*;
use crate::{
    change::{Change, ChangeRow, DecodeError, MovementImage, Op, Record, Table},
    shop::{MovementReason, OrderStatus, PaymentMethod},
};

/// Everything one batch writes to the warehouse.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct WarehouseBatch {
    pub stores: Vec<StoreRow>,
    pub customers: Vec<CustomerRow>,
    pub employees: Vec<EmployeeRow>,
    pub products: Vec<ProductChange>,
    pub orders: Vec<OrderRow>,
    pub sales: Vec<SaleRow>,
    pub payments: Vec<PaymentRow>,
    pub inventory: Vec<InventoryDelta>,
    /// Whole-day inventory figures from a snapshot: they replace the day's figures.
    pub inventory_days: Vec<InventoryDelta>,
    pub feedback: Vec<FeedbackRow>,
    pub inferred: InferredKeys,
    /// Changes that could not be mapped, with why.
    pub rejected: Vec<Rejected>,
    /// Changes mapped, by table and op.
    pub applied: BTreeMap<(Table, Op), u64>,
}

/// A change the transform cannot map.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rejected {
    pub change: ChangeRow,
    pub error: TransformError,
}

/// Why a change cannot be mapped onto the warehouse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum TransformError {
    /// The stored row cannot be understood (its text is kept for the dead letter).
    #[error("{0}")]
    Decode(String),
    /// The row decodes but a value breaks a rule of the model.
    #[error("{0}")]
    Invalid(Violation),
}

impl From<DecodeError> for TransformError {
    fn from(e: DecodeError) -> Self {
        TransformError::Decode(crate::telemetry::Chain(&e).to_string())
    }
}

/// A value that breaks a rule of the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum Violation {
    #[error("product {id} has a non-positive price {price}")]
    Price { id: i32, price: Decimal },
    #[error("order {id} has unknown status '{status}'")]
    Status { id: i32, status: String },
    #[error("order item {id} has a non-positive quantity {quantity}")]
    Quantity { id: i32, quantity: i32 },
    #[error("payment {id} has unknown method '{method}'")]
    Method { id: i32, method: String },
    #[error("movement {id} has unknown reason '{reason}'")]
    Reason { id: i32, reason: String },
    #[error("feedback {id} has a rating {rating} outside 1 to 5")]
    Rating { id: i32, rating: i32 },
}

/// Map a batch of changes (in any order) onto warehouse rows.
pub(crate) fn transform(changes: &[ChangeRow]) -> WarehouseBatch {
    let mut acc = Accumulator::default();
    let mut ordered: Vec<&ChangeRow> = changes.iter().collect();
    ordered.sort_by_key(|c| c.version());
    for row in ordered {
        let added = Change::decode(row).map_err(TransformError::from).and_then(|change| {
            let table = change.table();
            let version = RowVersion::Change(change.version);
            acc.add(change.record, change.op == Op::Delete, version, change.moved_from)
                .map_err(TransformError::Invalid)?;
            Ok(table)
        });
        match added {
            Ok(table) => *acc.out.applied.entry((table, row.op)).or_default() += 1,
            Err(error) => acc.out.rejected.push(Rejected { change: row.clone(), error }),
        }
    }
    acc.finish()
}

/// Map the current rows of OLTP tables, read by snapshot job `job`, onto warehouse rows. Stock
/// levels and movements are not passed here: the snapshot reads them as whole days itself.
pub(crate) fn transform_snapshot(job: i64, records: Vec<Record>) -> Result<WarehouseBatch, Violation> {
    let mut acc = Accumulator::default();
    for record in records {
        acc.add(record, false, RowVersion::Snapshot { job }, None)?;
    }
    Ok(acc.finish())
}

/// Latest row per key; later versions replace earlier ones (input is in version order).
#[derive(Default)]
struct Accumulator {
    out: WarehouseBatch,
    stores: HashMap<i32, StoreRow>,
    customers: HashMap<i32, CustomerRow>,
    employees: HashMap<i32, EmployeeRow>,
    orders: HashMap<i32, OrderRow>,
    /// By (order_id, order_item_id), the warehouse's key.
    sales: HashMap<(i32, i32), SaleRow>,
    /// By (order_id, payment_id).
    payments: HashMap<(i32, i32), PaymentRow>,
    inventory: HashMap<(i32, i32, i32), InventoryDelta>,
    /// By (order_id, feedback_id).
    feedback: HashMap<(i32, i32), FeedbackRow>,
}

impl Accumulator {
    /// Add one row image of version `version`; a line or payment `moved_from` another order is
    /// also written, deleted, under that order.
    fn add(
        &mut self,
        record: Record,
        deleted: bool,
        version: RowVersion,
        moved_from: Option<i32>,
    ) -> Result<(), Violation> {
        match record {
            Record::Store(s) => {
                let row = StoreRow { store_id: s.id, name: s.name, city: s.city, is_deleted: deleted, version };
                self.stores.insert(s.id, row);
            }
            Record::Customer(x) => {
                let row = CustomerRow { customer_id: x.id, name: x.name, email: x.email, is_deleted: deleted, version };
                self.customers.insert(x.id, row);
            }
            Record::Employee(e) => {
                let row = EmployeeRow {
                    employee_id: e.id,
                    store_id: e.store_id,
                    name: e.name,
                    role: e.role,
                    active: e.active,
                    is_deleted: deleted,
                    version,
                };
                self.employees.insert(e.id, row);
            }
            Record::Product(p) => {
                if p.price <= Decimal::ZERO {
                    return Err(Violation::Price { id: p.id, price: p.price });
                }
                self.out.products.push(ProductChange { image: p, is_deleted: deleted, version });
            }
            Record::Order(o) => {
                let status =
                    OrderStatus::parse(&o.status).ok_or(Violation::Status { id: o.id, status: o.status.clone() })?;
                let row = OrderRow {
                    order_id: o.id,
                    customer_id: o.customer_id,
                    employee_id: o.employee_id,
                    store_id: o.store_id,
                    status,
                    date_key: date_key(o.order_time),
                    time_key: time_key(o.order_time),
                    order_time: o.order_time,
                    total: o.total,
                    is_deleted: deleted,
                    version,
                };
                self.orders.insert(o.id, row);
            }
            Record::OrderItem(i) => {
                if i.quantity <= 0 {
                    return Err(Violation::Quantity { id: i.id, quantity: i.quantity });
                }
                let row = SaleRow {
                    order_item_id: i.id,
                    order_id: i.order_id,
                    product_id: i.product_id,
                    quantity: i.quantity,
                    unit_price: i.price,
                    line_total: i.price * Decimal::from(i.quantity),
                    is_deleted: deleted,
                    version,
                };
                if let Some(from) = moved_from {
                    self.sales.insert((from, i.id), SaleRow { order_id: from, is_deleted: true, ..row.clone() });
                }
                self.sales.insert((i.order_id, i.id), row);
            }
            Record::Payment(p) => {
                let method =
                    PaymentMethod::parse(&p.method).ok_or(Violation::Method { id: p.id, method: p.method.clone() })?;
                let row = PaymentRow {
                    payment_id: p.id,
                    order_id: p.order_id,
                    amount: p.amount,
                    method,
                    date_key: date_key(p.paid_at),
                    time_key: time_key(p.paid_at),
                    paid_at: p.paid_at,
                    is_deleted: deleted,
                    version,
                };
                if let Some(from) = moved_from {
                    self.payments.insert((from, p.id), PaymentRow { order_id: from, is_deleted: true, ..row.clone() });
                }
                self.payments.insert((p.order_id, p.id), row);
            }
            // A removed stock row says nothing about that day's level.
            Record::Inventory(_) if deleted => {}
            Record::Inventory(i) => match version {
                RowVersion::Change(v) => {
                    let at = v.changed_at;
                    self.delta(date_key(at), i.store_id, i.product_id).on_hand = Some((i.on_hand, at));
                }
                // A stock level needs its time: a snapshot reads it with `updated_at` itself.
                RowVersion::Snapshot { .. } => debug_assert!(false, "snapshot stock levels bypass the transform"),
            },
            Record::Movement { before, after } => self.add_movement(before, after)?,
            Record::Feedback(f) => {
                if !(1..=5).contains(&f.rating) {
                    return Err(Violation::Rating { id: f.id, rating: f.rating });
                }
                let row = FeedbackRow {
                    feedback_id: f.id,
                    order_id: f.order_id,
                    rating: f.rating,
                    comment: f.comment,
                    date_key: date_key(f.created_at),
                    time_key: time_key(f.created_at),
                    rated_at: f.created_at,
                    is_deleted: deleted,
                    version,
                };
                if let Some(from) = moved_from {
                    self.feedback.insert((from, f.id), FeedbackRow { order_id: from, is_deleted: true, ..row.clone() });
                }
                self.feedback.insert((f.order_id, f.id), row);
            }
        }
        Ok(())
    }

    /// Subtract the before image and add the after image of a movement.
    fn add_movement(&mut self, before: Option<MovementImage>, after: Option<MovementImage>) -> Result<(), Violation> {
        let parts = [before.map(|m| (-1, m)), after.map(|m| (1, m))];
        let mut checked = Vec::with_capacity(2);
        for (sign, m) in parts.into_iter().flatten() {
            let reason =
                MovementReason::parse(&m.reason).ok_or(Violation::Reason { id: m.id, reason: m.reason.clone() })?;
            checked.push((sign, reason, m));
        }
        for (sign, reason, m) in checked {
            let q = sign * m.quantity;
            let d = self.delta(date_key(m.moved_at), m.store_id, m.product_id);
            match reason {
                MovementReason::Restock => d.received += q,
                MovementReason::Sale => d.sold -= q,
                MovementReason::Waste => d.wasted -= q,
                MovementReason::Adjustment => d.adjusted += q,
            }
            d.net += q;
        }
        Ok(())
    }

    fn delta(&mut self, date_key: i32, store_id: i32, product_id: i32) -> &mut InventoryDelta {
        self.inventory.entry((date_key, store_id, product_id)).or_insert_with(|| InventoryDelta {
            date_key,
            store_id,
            product_id,
            ..Default::default()
        })
    }

    fn finish(mut self) -> WarehouseBatch {
        let mut out = std::mem::take(&mut self.out);
        out.inferred = self.inferred_keys();
        out.stores = sorted(self.stores, |r| r.store_id);
        out.customers = sorted(self.customers, |r| r.customer_id);
        out.employees = sorted(self.employees, |r| r.employee_id);
        out.orders = sorted(self.orders, |r| r.order_id);
        out.sales = sorted(self.sales, |r| (r.order_id, r.order_item_id));
        out.payments = sorted(self.payments, |r| (r.order_id, r.payment_id));
        out.feedback = sorted(self.feedback, |r| (r.order_id, r.feedback_id));
        let mut inventory: Vec<_> = self.inventory.into_values().collect();
        inventory.sort_by_key(|d| (d.date_key, d.store_id, d.product_id));
        out.inventory = inventory;
        out
    }

    /// Keys facts reference, less those whose dimension row this batch writes anyway.
    fn inferred_keys(&self) -> InferredKeys {
        let mut k = InferredKeys::default();
        for o in self.orders.values() {
            k.customer.insert(o.customer_id);
            k.store.insert(o.store_id);
            k.employee.extend(o.employee_id);
        }
        for e in self.employees.values() {
            k.store.insert(e.store_id);
        }
        for s in self.sales.values() {
            k.product.insert(s.product_id);
        }
        for d in self.inventory.values() {
            k.store.insert(d.store_id);
            k.product.insert(d.product_id);
        }
        k.store.retain(|id| !self.stores.contains_key(id));
        k.customer.retain(|id| !self.customers.contains_key(id));
        k.employee.retain(|id| !self.employees.contains_key(id));
        k.product.retain(|id| !self.out.products.iter().any(|p| p.image.id == *id));
        k
    }
}

fn sorted<K, T, O: Ord>(map: HashMap<K, T>, key: impl Fn(&T) -> O) -> Vec<T> {
    let mut v: Vec<T> = map.into_values().collect();
    v.sort_by_key(key);
    v
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
