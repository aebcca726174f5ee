//! The sink: writes one [`WarehouseBatch`] inside the caller's transaction, with one bulk
//! statement per table (arrays through `unnest`), never a round trip per row.
//!
//! Order matters: dimensions first, then inferred members for keys still missing, then
//! `fact_orders` (so lines and payments can take their order's keys), then the other facts.
//! Every upsert carries a version guard: an older change never overwrites a newer one, and a row
//! loaded by a snapshot job overwrites whatever is there (see [`RowVersion`]).

use tokio_postgres::{types::ToSql, Client, Statement, Transaction};

mod feedback;
mod sql;

use super::{product, rows::*, transform::WarehouseBatch};

/// What a write did, for metrics.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct WriteStats {
    /// Inferred members created.
    pub inferred: PerDim<u64>,
    pub product_versions: u64,
}

/// The sink's statements, prepared once per connection.
pub(crate) struct Sink {
    stores: Statement,
    customers: Statement,
    employees: Statement,
    inferred: PerDim<Statement>,
    orders: Statement,
    order_headers: [Statement; 2],
    sales: Statement,
    payments: Statement,
    inventory: Statement,
    inventory_days: Statement,
    feedback: feedback::FeedbackStatements,
}

impl Sink {
    /// Prepare every statement on `client`.
    pub(crate) async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        let p = |sql: String| async move { client.prepare(&sql).await };
        Ok(Sink {
            stores: p(sql::STORES.to_string()).await?,
            customers: p(sql::CUSTOMERS.to_string()).await?,
            employees: p(sql::EMPLOYEES.to_string()).await?,
            inferred: PerDim {
                store: p(sql::inferred(Dim::Store)).await?,
                customer: p(sql::inferred(Dim::Customer)).await?,
                employee: p(sql::inferred(Dim::Employee)).await?,
                product: p(sql::inferred(Dim::Product)).await?,
            },
            orders: p(sql::ORDERS.to_string()).await?,
            order_headers: [p(sql::header("fact_sales", true)).await?, p(sql::header("fact_payments", false)).await?],
            sales: p(sql::SALES.to_string()).await?,
            payments: p(sql::PAYMENTS.to_string()).await?,
            inventory: p(sql::inventory(sql::InventoryMode::Add)).await?,
            inventory_days: p(sql::inventory(sql::InventoryMode::Replace)).await?,
            feedback: feedback::FeedbackStatements::prepare(client).await?,
        })
    }

    /// Write `batch` in `tx`. The caller commits it together with the checkpoint.
    pub(crate) async fn write(
        &self,
        tx: &Transaction<'_>,
        batch: &WarehouseBatch,
    ) -> Result<WriteStats, tokio_postgres::Error> {
        let mut stats = WriteStats::default();
        self.write_dims(tx, batch).await?;
        stats.product_versions = product::apply_products(tx, &batch.products).await?;
        stats.inferred = self.write_inferred(tx, &batch.inferred).await?;
        self.write_orders(tx, &batch.orders).await?;
        self.write_sales(tx, &batch.sales).await?;
        self.write_payments(tx, &batch.payments).await?;
        self.write_inventory(tx, &self.inventory, &batch.inventory).await?;
        self.write_inventory(tx, &self.inventory_days, &batch.inventory_days).await?;
        self.feedback.write(tx, &batch.feedback).await?;
        Ok(stats)
    }

    async fn write_dims(&self, tx: &Transaction<'_>, b: &WarehouseBatch) -> Result<(), tokio_postgres::Error> {
        if !b.stores.is_empty() {
            let r = &b.stores;
            let (ids, names, cities) = (col(r, |x| x.store_id), col(r, |x| x.name.clone()), col(r, |x| x.city.clone()));
            let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
            tx.execute(&self.stores, &[&ids, &names, &cities, &del, &at, &src]).await?;
        }
        if !b.customers.is_empty() {
            let r = &b.customers;
            let (ids, names, emails) =
                (col(r, |x| x.customer_id), col(r, |x| x.name.clone()), col(r, |x| x.email.clone()));
            let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
            tx.execute(&self.customers, &[&ids, &names, &emails, &del, &at, &src]).await?;
        }
        if !b.employees.is_empty() {
            let r = &b.employees;
            let (ids, stores, names) = (col(r, |x| x.employee_id), col(r, |x| x.store_id), col(r, |x| x.name.clone()));
            let (roles, active) = (col(r, |x| x.role.clone()), col(r, |x| x.active));
            let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
            tx.execute(&self.employees, &[&ids, &stores, &names, &roles, &active, &del, &at, &src]).await?;
        }
        Ok(())
    }

    async fn write_inferred(
        &self,
        tx: &Transaction<'_>,
        k: &InferredKeys,
    ) -> Result<PerDim<u64>, tokio_postgres::Error> {
        let mut created = PerDim::default();
        for (dim, keys) in k.iter() {
            if keys.is_empty() {
                continue;
            }
            let ids: Vec<i32> = keys.iter().copied().collect();
            let n = tx.execute(self.inferred.get(dim), &[&ids]).await?;
            *created.get_mut(dim) = n;
        }
        Ok(created)
    }

    async fn write_orders(&self, tx: &Transaction<'_>, r: &[OrderRow]) -> Result<(), tokio_postgres::Error> {
        if r.is_empty() {
            return Ok(());
        }
        let ids = col(r, |x| x.order_id);
        let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
        let params: [&(dyn ToSql + Sync); 12] = [
            &ids,
            &col(r, |x| x.customer_id),
            &col(r, |x| x.employee_id),
            &col(r, |x| x.store_id),
            &col(r, |x| x.status.as_str()),
            &col(r, |x| x.order_time),
            &col(r, |x| x.total),
            &col(r, |x| x.date_key),
            &col(r, |x| x.time_key),
            &del,
            &at,
            &src,
        ];
        tx.execute(&self.orders, &params).await?;
        // Lines and payments loaded before their order (or before a status change) take its keys now.
        for stmt in &self.order_headers {
            tx.execute(stmt, &[&ids]).await?;
        }
        self.feedback.refresh_headers(tx, &ids).await
    }

    async fn write_sales(&self, tx: &Transaction<'_>, r: &[SaleRow]) -> Result<(), tokio_postgres::Error> {
        if r.is_empty() {
            return Ok(());
        }
        let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
        let params: [&(dyn ToSql + Sync); 9] = [
            &col(r, |x| x.order_item_id),
            &col(r, |x| x.order_id),
            &col(r, |x| x.product_id),
            &col(r, |x| x.quantity),
            &col(r, |x| x.unit_price),
            &col(r, |x| x.line_total),
            &del,
            &at,
            &src,
        ];
        tx.execute(&self.sales, &params).await.map(drop)
    }

    async fn write_payments(&self, tx: &Transaction<'_>, r: &[PaymentRow]) -> Result<(), tokio_postgres::Error> {
        if r.is_empty() {
            return Ok(());
        }
        let (del, at, src) = versions(r, |x| (x.is_deleted, x.version));
        let params: [&(dyn ToSql + Sync); 10] = [
            &col(r, |x| x.payment_id),
            &col(r, |x| x.order_id),
            &col(r, |x| x.amount),
            &col(r, |x| x.method.as_str()),
            &col(r, |x| x.paid_at),
            &col(r, |x| x.date_key),
            &col(r, |x| x.time_key),
            &del,
            &at,
            &src,
        ];
        tx.execute(&self.payments, &params).await.map(drop)
    }

    async fn write_inventory(
        &self,
        tx: &Transaction<'_>,
        stmt: &Statement,
        r: &[InventoryDelta],
    ) -> Result<(), tokio_postgres::Error> {
        if r.is_empty() {
            return Ok(());
        }
        let params: [&(dyn ToSql + Sync); 10] = [
            &col(r, |x| x.date_key),
            &col(r, |x| x.store_id),
            &col(r, |x| x.product_id),
            &col(r, |x| x.received),
            &col(r, |x| x.sold),
            &col(r, |x| x.wasted),
            &col(r, |x| x.adjusted),
            &col(r, |x| x.net),
            &col(r, |x| x.on_hand.map(|o| o.0)),
            &col(r, |x| x.on_hand.map(|o| o.1)),
        ];
        tx.execute(stmt, &params).await.map(drop)
    }
}

fn col<T, U>(rows: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

type VersionCols = (Vec<bool>, Vec<Option<chrono::DateTime<chrono::Utc>>>, Vec<i64>);

/// The deletion flag and version columns of `rows` (see [`RowVersion::columns`]).
fn versions<T>(rows: &[T], f: impl Fn(&T) -> (bool, RowVersion)) -> VersionCols {
    let mut out = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
    for row in rows {
        let (deleted, v) = f(row);
        let (changed_at, src_id) = v.columns();
        out.0.push(deleted);
        out.1.push(changed_at);
        out.2.push(src_id);
    }
    out
}
