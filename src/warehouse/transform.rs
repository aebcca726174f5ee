//! The pure transform: decoded change rows in, warehouse rows out. No I/O.
//!
//! * Type 1 dimensions and facts keep the last change of each row in the batch (by version).
//! * Product changes are all kept, in order, so the sink can open every type 2 version.
//! * Inventory movements become deltas into their day's `fact_inventory` row: an insert adds
//!   the movement, a delete subtracts it, an update does both.
//! * A change that cannot be decoded or breaks a rule becomes a dead letter; the rest go on.

use std::collections::{BTreeMap, HashMap};

use crate::cdc::change::{
    ChangeRow, CustomerImage, EmployeeImage, InventoryImage, MovementImage, OrderImage, OrderItemImage, PaymentImage,
    ProductImage, StoreImage,
};

use super::rows::*;

/// Everything one batch writes to the warehouse.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WarehouseBatch {
    pub stores: Vec<StoreRow>,
    pub customers: Vec<CustomerRow>,
    pub employees: Vec<EmployeeRow>,
    pub products: Vec<ProductChange>,
    pub orders: Vec<OrderRow>,
    pub sales: Vec<SaleRow>,
    pub payments: Vec<PaymentRow>,
    pub inventory: Vec<InventoryDelta>,
    pub inferred: InferredKeys,
    pub dead_letters: Vec<DeadLetter>,
    /// Changes applied, by (table, op).
    pub applied: BTreeMap<(String, String), u64>,
}

const ORDER_STATUSES: [&str; 4] = ["placed", "served", "cancelled", "refunded"];
const PAYMENT_METHODS: [&str; 3] = ["cash", "card", "mobile"];
const MOVEMENT_REASONS: [&str; 4] = ["sale", "restock", "waste", "adjustment"];

/// Map a batch of changes (in any order) onto warehouse rows.
pub fn transform(changes: &[ChangeRow]) -> WarehouseBatch {
    let mut acc = Accumulator::default();
    let mut ordered: Vec<&ChangeRow> = changes.iter().collect();
    ordered.sort_by_key(|c| c.version());
    for change in ordered {
        match acc.add(change) {
            Ok(()) => *acc.out.applied.entry((change.table.clone(), change.op.clone())).or_default() += 1,
            Err((kind, reason)) => acc.out.dead_letters.push(DeadLetter { change: change.clone(), reason, kind }),
        }
    }
    acc.finish()
}

type Failure = (&'static str, String);

fn invalid(reason: String) -> Failure {
    ("invalid", reason)
}

fn decode<T>(r: Result<T, String>) -> Result<T, Failure> {
    r.map_err(|e| ("decode", e))
}

/// Latest row per key; later versions replace earlier ones (input is in version order).
#[derive(Default)]
struct Accumulator {
    out: WarehouseBatch,
    stores: HashMap<i32, StoreRow>,
    customers: HashMap<i32, CustomerRow>,
    employees: HashMap<i32, EmployeeRow>,
    orders: HashMap<i32, OrderRow>,
    sales: HashMap<i32, SaleRow>,
    payments: HashMap<i32, PaymentRow>,
    inventory: HashMap<(i32, i32, i32), InventoryDelta>,
}

impl Accumulator {
    fn add(&mut self, c: &ChangeRow) -> Result<(), Failure> {
        if !matches!(c.op.as_str(), "I" | "U" | "D") {
            return Err(invalid(format!("unknown op '{}'", c.op)));
        }
        let deleted = c.op == "D";
        let version = Version::from(c);
        match c.table.as_str() {
            "stores" => {
                let s: StoreImage = decode(c.image())?;
                self.stores.insert(
                    s.id,
                    StoreRow { store_id: s.id, name: s.name, city: s.city, is_deleted: deleted, version },
                );
            }
            "customers" => {
                let x: CustomerImage = decode(c.image())?;
                let row = CustomerRow { customer_id: x.id, name: x.name, email: x.email, is_deleted: deleted, version };
                self.customers.insert(x.id, row);
            }
            "employees" => {
                let e: EmployeeImage = decode(c.image())?;
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
            "products" => {
                let p: ProductImage = decode(c.image())?;
                if p.price <= rust_decimal::Decimal::ZERO {
                    return Err(invalid(format!("product {} has a non-positive price {}", p.id, p.price)));
                }
                self.out.products.push(ProductChange { image: p, is_deleted: deleted, version });
            }
            "orders" => self.add_order(c, version)?,
            "order_items" => self.add_sale(c, version)?,
            "payments" => self.add_payment(c, version)?,
            "inventory" => self.add_on_hand(c)?,
            "inventory_movements" => self.add_movement(c)?,
            other => return Err(invalid(format!("unknown table '{other}'"))),
        }
        Ok(())
    }

    fn add_order(&mut self, c: &ChangeRow, version: Version) -> Result<(), Failure> {
        let o: OrderImage = decode(c.image())?;
        if !ORDER_STATUSES.contains(&o.status.as_str()) {
            return Err(invalid(format!("order {} has unknown status '{}'", o.id, o.status)));
        }
        let row = OrderRow {
            order_id: o.id,
            customer_id: o.customer_id,
            employee_id: o.employee_id,
            store_id: o.store_id,
            status: o.status,
            date_key: date_key(o.order_time),
            time_key: time_key(o.order_time),
            order_time: o.order_time,
            total: o.total,
            is_deleted: c.op == "D",
            version,
        };
        self.orders.insert(o.id, row);
        Ok(())
    }

    fn add_sale(&mut self, c: &ChangeRow, version: Version) -> Result<(), Failure> {
        let i: OrderItemImage = decode(c.image())?;
        if i.quantity <= 0 {
            return Err(invalid(format!("order item {} has a non-positive quantity {}", i.id, i.quantity)));
        }
        let row = SaleRow {
            order_item_id: i.id,
            order_id: i.order_id,
            product_id: i.product_id,
            quantity: i.quantity,
            unit_price: i.price,
            line_total: i.price * rust_decimal::Decimal::from(i.quantity),
            is_deleted: c.op == "D",
            version,
        };
        self.sales.insert(i.id, row);
        Ok(())
    }

    fn add_payment(&mut self, c: &ChangeRow, version: Version) -> Result<(), Failure> {
        let p: PaymentImage = decode(c.image())?;
        if !PAYMENT_METHODS.contains(&p.method.as_str()) {
            return Err(invalid(format!("payment {} has unknown method '{}'", p.id, p.method)));
        }
        let row = PaymentRow {
            payment_id: p.id,
            order_id: p.order_id,
            amount: p.amount,
            method: p.method,
            date_key: date_key(p.paid_at),
            time_key: time_key(p.paid_at),
            paid_at: p.paid_at,
            is_deleted: c.op == "D",
            version,
        };
        self.payments.insert(p.id, row);
        Ok(())
    }

    fn add_on_hand(&mut self, c: &ChangeRow) -> Result<(), Failure> {
        if c.op == "D" {
            return Ok(()); // a removed stock row says nothing about that day's level
        }
        let i: InventoryImage = decode(c.image())?;
        let delta = self.delta(date_key(c.changed_at), i.store_id, i.product_id);
        delta.on_hand = Some((i.on_hand, c.changed_at));
        Ok(())
    }

    fn add_movement(&mut self, c: &ChangeRow) -> Result<(), Failure> {
        let mut parts = Vec::with_capacity(2);
        if c.op != "I" {
            parts.push((-1, decode(c.before_image::<MovementImage>())?));
        }
        if c.op != "D" {
            parts.push((1, decode(c.image::<MovementImage>())?));
        }
        for (_, m) in &parts {
            if !MOVEMENT_REASONS.contains(&m.reason.as_str()) {
                return Err(invalid(format!("movement {} has unknown reason '{}'", m.id, m.reason)));
            }
        }
        for (sign, m) in parts {
            let q = sign * m.quantity;
            let d = self.delta(date_key(m.moved_at), m.store_id, m.product_id);
            match m.reason.as_str() {
                "restock" => d.received += q,
                "sale" => d.sold -= q,
                "waste" => d.wasted -= q,
                _ => d.adjusted += q,
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
        out.sales = sorted(self.sales, |r| r.order_item_id);
        out.payments = sorted(self.payments, |r| r.payment_id);
        let mut inventory: Vec<_> = self.inventory.into_values().collect();
        inventory.sort_by_key(|d| (d.date_key, d.store_id, d.product_id));
        out.inventory = inventory;
        out
    }

    /// Keys facts reference, less those whose dimension row this batch writes anyway.
    fn inferred_keys(&self) -> InferredKeys {
        let mut k = InferredKeys::default();
        for o in self.orders.values() {
            k.customers.insert(o.customer_id);
            k.stores.insert(o.store_id);
            k.employees.extend(o.employee_id);
        }
        for e in self.employees.values() {
            k.stores.insert(e.store_id);
        }
        for s in self.sales.values() {
            k.products.insert(s.product_id);
        }
        for d in self.inventory.values() {
            k.stores.insert(d.store_id);
            k.products.insert(d.product_id);
        }
        k.stores.retain(|id| !self.stores.contains_key(id));
        k.customers.retain(|id| !self.customers.contains_key(id));
        k.employees.retain(|id| !self.employees.contains_key(id));
        k.products.retain(|id| !self.out.products.iter().any(|p| p.image.id == *id));
        k
    }
}

fn sorted<T>(map: HashMap<i32, T>, key: impl Fn(&T) -> i32) -> Vec<T> {
    let mut v: Vec<T> = map.into_values().collect();
    v.sort_by_key(key);
    v
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
