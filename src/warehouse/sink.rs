//! The sink: writes one [`WarehouseBatch`] inside the caller's transaction, with one bulk
//! statement per table (arrays through `unnest`), never a round trip per row.
//!
//! Order matters: dimensions first, then inferred members for keys still missing, then
//! `fact_orders` (so lines and payments can take their order's keys), then the other facts.
//! Every upsert carries a version guard: an older change never overwrites a newer one.

use tokio_postgres::{types::ToSql, Client, Statement, Transaction};

use super::{product, rows::*, sink_feedback::FeedbackStatements, transform::WarehouseBatch};

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
    feedback: FeedbackStatements,
}

const GUARD: &str = "(t.changed_at, t.src_id) < (excluded.changed_at, excluded.src_id)";

impl Sink {
    /// Prepare every statement on `client`.
    pub(crate) async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        let p = |sql: String| async move { client.prepare(&sql).await };
        Ok(Sink {
            stores: p(format!(
                "insert into dim_store as t (store_id, name, city, is_deleted, changed_at, src_id)
                 select * from unnest($1::int4[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[], $6::int8[])
                 on conflict (store_id) do update set name = excluded.name, city = excluded.city,
                   is_deleted = excluded.is_deleted, is_inferred = false, changed_at = excluded.changed_at,
                   src_id = excluded.src_id
                 where {GUARD}"
            ))
            .await?,
            customers: p(format!(
                "insert into dim_customer as t (customer_id, name, email, is_deleted, changed_at, src_id)
                 select * from unnest($1::int4[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[], $6::int8[])
                 on conflict (customer_id) do update set name = excluded.name, email = excluded.email,
                   is_deleted = excluded.is_deleted, is_inferred = false, changed_at = excluded.changed_at,
                   src_id = excluded.src_id
                 where {GUARD}"
            ))
            .await?,
            employees: p(format!(
                "insert into dim_employee as t (employee_id, store_id, name, role, active, is_deleted, changed_at, src_id)
                 select * from unnest($1::int4[], $2::int4[], $3::text[], $4::text[], $5::bool[], $6::bool[],
                                      $7::timestamptz[], $8::int8[])
                 on conflict (employee_id) do update set store_id = excluded.store_id, name = excluded.name,
                   role = excluded.role, active = excluded.active, is_deleted = excluded.is_deleted,
                   is_inferred = false, changed_at = excluded.changed_at, src_id = excluded.src_id
                 where {GUARD}"
            ))
            .await?,
            inferred: PerDim {
                store: p(inferred_sql(Dim::Store)).await?,
                customer: p(inferred_sql(Dim::Customer)).await?,
                employee: p(inferred_sql(Dim::Employee)).await?,
                product: p(inferred_sql(Dim::Product)).await?,
            },
            orders: p(orders_sql()).await?,
            order_headers: [p(header_sql("fact_sales", true)).await?, p(header_sql("fact_payments", false)).await?],
            sales: p(sales_sql()).await?,
            payments: p(payments_sql()).await?,
            inventory: p(INVENTORY_SQL.to_string()).await?,
            feedback: FeedbackStatements::prepare(client, GUARD).await?,
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
        self.write_inventory(tx, &batch.inventory).await?;
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

    async fn write_inventory(&self, tx: &Transaction<'_>, r: &[InventoryDelta]) -> Result<(), tokio_postgres::Error> {
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
        tx.execute(&self.inventory, &params).await.map(drop)
    }
}

fn col<T, U>(rows: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

type VersionCols = (Vec<bool>, Vec<chrono::DateTime<chrono::Utc>>, Vec<i64>);

fn versions<T>(rows: &[T], f: impl Fn(&T) -> (bool, Version)) -> VersionCols {
    let mut out = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
    for row in rows {
        let (deleted, v) = f(row);
        out.0.push(deleted);
        out.1.push(v.changed_at);
        out.2.push(v.src_id);
    }
    out
}

fn inferred_sql(dim: Dim) -> String {
    let (table, key, conflict) = match dim {
        Dim::Store => ("dim_store", "store_id", "(store_id)"),
        Dim::Customer => ("dim_customer", "customer_id", "(customer_id)"),
        Dim::Employee => ("dim_employee", "employee_id", "(employee_id)"),
        Dim::Product => ("dim_product", "product_id", "(product_id) where is_current"),
    };
    format!(
        "insert into {table} ({key}, is_inferred) select unnest($1::int4[]), true on conflict {conflict} do nothing"
    )
}

fn orders_sql() -> String {
    format!(
        "insert into fact_orders as t (order_id, customer_id, employee_id, store_id, status, order_time, total,
                date_key, time_key, is_deleted, changed_at, src_id, store_key, customer_key, employee_key, loaded_at)
         select s.*, coalesce(ds.store_key, 0), coalesce(dc.customer_key, 0), coalesce(de.employee_key, 0),
                clock_timestamp()
         from unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::text[], $6::timestamptz[], $7::numeric[],
                     $8::int4[], $9::int4[], $10::bool[], $11::timestamptz[], $12::int8[])
              as s(order_id, customer_id, employee_id, store_id, status, order_time, total, date_key, time_key,
                   is_deleted, changed_at, src_id)
         left join dim_store ds on ds.store_id = s.store_id
         left join dim_customer dc on dc.customer_id = s.customer_id
         left join dim_employee de on de.employee_id = s.employee_id
         on conflict (order_id) do update set customer_id = excluded.customer_id, employee_id = excluded.employee_id,
           store_id = excluded.store_id, status = excluded.status, order_time = excluded.order_time,
           total = excluded.total, date_key = excluded.date_key, time_key = excluded.time_key,
           is_deleted = excluded.is_deleted, changed_at = excluded.changed_at, src_id = excluded.src_id,
           store_key = excluded.store_key, customer_key = excluded.customer_key,
           employee_key = excluded.employee_key, loaded_at = excluded.loaded_at
         where {GUARD}"
    )
}

/// Copy an order's header (status, date, time, store, customer, employee) onto its lines or payments.
fn header_sql(table: &str, lines: bool) -> String {
    let (extra_set, extra_cmp) = if lines {
        (
            ", order_status = o.status, employee_key = o.employee_key, order_time = o.order_time",
            ", f.order_status, f.employee_key",
        )
    } else {
        ("", "")
    };
    let extra_src = if lines { ", o.status, o.employee_key" } else { "" };
    format!(
        "update {table} f set store_key = o.store_key, customer_key = o.customer_key{extra_set}
                {date}
         from fact_orders o
         where o.order_id = any($1::int4[]) and f.order_id = o.order_id
           and (f.store_key, f.customer_key{extra_cmp}{date_cmp}) is distinct from (o.store_key, o.customer_key{extra_src}{date_src})",
        date = if lines { ", date_key = o.date_key, time_key = o.time_key" } else { "" },
        date_cmp = if lines { ", f.date_key, f.time_key" } else { "" },
        date_src = if lines { ", o.date_key, o.time_key" } else { "" },
    )
}

fn sales_sql() -> String {
    format!(
        "insert into fact_sales as t (order_item_id, order_id, product_id, quantity, unit_price, line_total,
                is_deleted, changed_at, src_id, date_key, time_key, store_key, customer_key, employee_key,
                product_key, order_status, order_time, loaded_at)
         select s.*, coalesce(o.date_key, 0), coalesce(o.time_key, -1), coalesce(o.store_key, 0),
                coalesce(o.customer_key, 0), coalesce(o.employee_key, 0), coalesce(p.product_key, 0),
                coalesce(o.status, 'unknown'), o.order_time, clock_timestamp()
         from unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::numeric[], $6::numeric[], $7::bool[],
                     $8::timestamptz[], $9::int8[])
              as s(order_item_id, order_id, product_id, quantity, unit_price, line_total, is_deleted,
                   changed_at, src_id)
         left join fact_orders o on o.order_id = s.order_id
         left join lateral (
             select d.product_key from dim_product d
             where d.product_id = s.product_id
               and (case when o.order_time is null then d.is_current
                         else o.order_time >= d.valid_from and o.order_time < d.valid_to end)
             order by d.valid_from desc limit 1) p on true
         on conflict (order_item_id) do update set order_id = excluded.order_id, product_id = excluded.product_id,
           quantity = excluded.quantity, unit_price = excluded.unit_price, line_total = excluded.line_total,
           is_deleted = excluded.is_deleted, changed_at = excluded.changed_at, src_id = excluded.src_id,
           date_key = excluded.date_key, time_key = excluded.time_key, store_key = excluded.store_key,
           customer_key = excluded.customer_key, employee_key = excluded.employee_key,
           product_key = excluded.product_key, order_status = excluded.order_status,
           order_time = excluded.order_time, loaded_at = excluded.loaded_at
         where {GUARD}"
    )
}

fn payments_sql() -> String {
    format!(
        "insert into fact_payments as t (payment_id, order_id, amount, method, paid_at, date_key, time_key,
                is_deleted, changed_at, src_id, store_key, customer_key, loaded_at)
         select s.*, coalesce(o.store_key, 0), coalesce(o.customer_key, 0), clock_timestamp()
         from unnest($1::int4[], $2::int4[], $3::numeric[], $4::text[], $5::timestamptz[], $6::int4[], $7::int4[],
                     $8::bool[], $9::timestamptz[], $10::int8[])
              as s(payment_id, order_id, amount, method, paid_at, date_key, time_key, is_deleted, changed_at, src_id)
         left join fact_orders o on o.order_id = s.order_id
         on conflict (payment_id) do update set order_id = excluded.order_id, amount = excluded.amount,
           method = excluded.method, paid_at = excluded.paid_at, date_key = excluded.date_key,
           time_key = excluded.time_key, is_deleted = excluded.is_deleted, changed_at = excluded.changed_at,
           src_id = excluded.src_id, store_key = excluded.store_key, customer_key = excluded.customer_key,
           loaded_at = excluded.loaded_at
         where {GUARD}"
    )
}

const INVENTORY_SQL: &str = "
    insert into fact_inventory as t (date_key, store_id, product_id, units_received, units_sold, units_wasted,
           units_adjusted, net_units, on_hand, on_hand_at, store_key, product_key, loaded_at)
    select s.*, coalesce(ds.store_key, 0), coalesce(dp.product_key, 0), clock_timestamp()
    from unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::int4[], $6::int4[], $7::int4[], $8::int4[],
                $9::int4[], $10::timestamptz[])
         as s(date_key, store_id, product_id, received, sold, wasted, adjusted, net, on_hand, on_hand_at)
    left join dim_store ds on ds.store_id = s.store_id
    left join dim_product dp on dp.product_id = s.product_id and dp.is_current
    on conflict (date_key, store_id, product_id) do update set
      units_received = t.units_received + excluded.units_received,
      units_sold = t.units_sold + excluded.units_sold,
      units_wasted = t.units_wasted + excluded.units_wasted,
      units_adjusted = t.units_adjusted + excluded.units_adjusted,
      net_units = t.net_units + excluded.net_units,
      on_hand = case when excluded.on_hand_at >= coalesce(t.on_hand_at, '-infinity') then excluded.on_hand
                     else t.on_hand end,
      on_hand_at = greatest(t.on_hand_at, excluded.on_hand_at),
      store_key = excluded.store_key, product_key = excluded.product_key, loaded_at = excluded.loaded_at";
