//! The OLTP side of a snapshot job: one repeatable-read, read-only transaction whose snapshot
//! every read of the job shares, and the reads themselves: dimension tables whole, stock as
//! whole days, and order tables in primary-key chunks (binary `COPY`, typed straight into row
//! images). Only `AccessShareLock`s are taken: writers never wait for a job.

use std::pin::pin;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use tokio_postgres::{
    binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream},
    types::Type,
    Client,
};

use super::Source;
use crate::{
    cdc::{error::CdcError, window::Snapshot},
    change::{
        CustomerImage, EmployeeImage, FeedbackImage, OrderImage, OrderItemImage, PaymentImage, ProductImage, Record,
        StoreImage,
    },
    warehouse::{date_key, InventoryDelta},
};

/// A chunk of one source table, read in primary-key order.
#[derive(Debug, Default)]
pub(super) struct Chunk {
    pub records: Vec<Record>,
    /// The primary key of the last row read (0 when the chunk is empty).
    pub last_id: i64,
}

/// An open repeatable-read transaction on OLTP.
pub(in crate::cdc) struct SnapshotReader {
    client: Client,
    /// The snapshot every read sees.
    pub snapshot: Snapshot,
    /// Its id for `SET TRANSACTION SNAPSHOT` (valid while this transaction is open).
    exported: String,
}

impl SnapshotReader {
    /// Begin the transaction on `client` and take its snapshot.
    pub(in crate::cdc) async fn open(client: Client) -> Result<Self, CdcError> {
        let err = |e| CdcError::db("opening the snapshot transaction", e);
        client.batch_execute("begin isolation level repeatable read read only").await.map_err(err)?;
        let row = client.query_one("select pg_current_snapshot()::text, pg_export_snapshot()", &[]).await;
        let row = row.map_err(err)?;
        let snapshot = row.get::<_, String>(0).parse().map_err(|e| CdcError::internal("parsing a snapshot", e))?;
        Ok(SnapshotReader { client, snapshot, exported: row.get(1) })
    }

    /// A second reader on `client` that sees exactly what `self` sees (`SET TRANSACTION SNAPSHOT`).
    pub(in crate::cdc) async fn join(&self, client: Client) -> Result<Self, CdcError> {
        let err = |e| CdcError::db("joining the snapshot transaction", e);
        let sql = format!(
            "begin isolation level repeatable read read only; set transaction snapshot '{}'",
            self.exported.replace('\'', "")
        );
        client.batch_execute(&sql).await.map_err(err)?;
        Ok(SnapshotReader { client, snapshot: self.snapshot.clone(), exported: self.exported.clone() })
    }

    /// Rows of `source` in the snapshot (exact, for progress).
    pub(super) async fn count(&self, source: Source) -> Result<i64, CdcError> {
        let sql = format!("select count(*) from {}", source.table());
        let row = self.client.query_one(&sql, &[]).await.map_err(|e| CdcError::db("counting snapshot rows", e))?;
        Ok(row.get(0))
    }

    /// Stock movements in the snapshot (the progress measure of `fact_inventory`).
    pub(super) async fn count_stock(&self) -> Result<i64, CdcError> {
        let row = self.client.query_one("select count(*) from inventory_movements", &[]).await;
        Ok(row.map_err(|e| CdcError::db("counting snapshot rows", e))?.get(0))
    }

    /// The next at most `limit` rows of `source` after primary key `after`.
    pub(super) async fn chunk(&self, source: Source, after: i64, limit: i64) -> Result<Chunk, CdcError> {
        let (columns, types) = source.columns();
        let sql = format!(
            "copy (select {columns} from {table} where id > {after} order by id limit {limit}) to stdout (format binary)",
            table = source.table()
        );
        let err = |e| CdcError::db("reading a snapshot chunk", e);
        let stream = self.client.copy_out(&sql).await.map_err(err)?;
        let mut rows = pin!(BinaryCopyOutStream::new(stream, types));
        let mut chunk = Chunk::default();
        while let Some(row) = rows.try_next().await.map_err(err)? {
            let (id, record) = decode(source, &row).map_err(err)?;
            chunk.last_id = id;
            chunk.records.push(record);
        }
        Ok(chunk)
    }

    /// Stock as the warehouse holds it: each (UTC day, store, product)'s movement totals, and each
    /// stock level on the day it was last updated.
    pub(super) async fn inventory(&self) -> Result<(Vec<InventoryDelta>, Vec<InventoryDelta>), CdcError> {
        let err = |e| CdcError::db("reading stock", e);
        let days = self
            .client
            .query(
                "select (moved_at at time zone 'UTC')::date, store_id, product_id,
                        coalesce(sum(quantity) filter (where reason = 'restock'), 0)::int4,
                        coalesce(-sum(quantity) filter (where reason = 'sale'), 0)::int4,
                        coalesce(-sum(quantity) filter (where reason = 'waste'), 0)::int4,
                        coalesce(sum(quantity) filter (where reason = 'adjustment'), 0)::int4,
                        sum(quantity)::int4
                 from inventory_movements group by 1, 2, 3",
                &[],
            )
            .await
            .map_err(err)?;
        let days = days
            .iter()
            .map(|r| InventoryDelta {
                date_key: day_key(r.get(0)),
                store_id: r.get(1),
                product_id: r.get(2),
                received: r.get(3),
                sold: r.get(4),
                wasted: r.get(5),
                adjusted: r.get(6),
                net: r.get(7),
                on_hand: None,
            })
            .collect();
        let levels = self.client.query("select store_id, product_id, on_hand, updated_at from inventory", &[]);
        let levels = levels.await.map_err(err)?;
        let levels = levels
            .iter()
            .map(|r| {
                let at: DateTime<Utc> = r.get(3);
                InventoryDelta {
                    date_key: date_key(at),
                    store_id: r.get(0),
                    product_id: r.get(1),
                    on_hand: Some((r.get(2), at)),
                    ..InventoryDelta::default()
                }
            })
            .collect();
        Ok((days, levels))
    }

    /// End the transaction (dropping the reader ends it too, with its connection).
    pub(in crate::cdc) async fn close(self) {
        let _ = self.client.batch_execute("commit").await;
    }
}

fn day_key(day: NaiveDate) -> i32 {
    date_key(day.and_hms_opt(12, 0, 0).expect("noon exists").and_utc())
}

impl Source {
    /// The columns a chunk reads, with their types, in the order [`decode`] takes them.
    fn columns(self) -> (&'static str, &'static [Type]) {
        use Type as T;
        match self {
            Source::Stores => ("id, name, city", &[T::INT4, T::TEXT, T::TEXT]),
            Source::Customers => ("id, name, email", &[T::INT4, T::TEXT, T::TEXT]),
            Source::Employees => ("id, store_id, name, role, active", &[T::INT4, T::INT4, T::TEXT, T::TEXT, T::BOOL]),
            Source::Products => {
                ("id, name, category, price, active", &[T::INT4, T::TEXT, T::TEXT, T::NUMERIC, T::BOOL])
            }
            Source::Orders => (
                "id, customer_id, employee_id, store_id, status, order_time, total",
                &[T::INT4, T::INT4, T::INT4, T::INT4, T::TEXT, T::TIMESTAMPTZ, T::NUMERIC],
            ),
            Source::OrderItems => {
                ("id, order_id, product_id, quantity, price", &[T::INT4, T::INT4, T::INT4, T::INT4, T::NUMERIC])
            }
            Source::Payments => {
                ("id, order_id, amount, method, paid_at", &[T::INT4, T::INT4, T::NUMERIC, T::TEXT, T::TIMESTAMPTZ])
            }
            Source::Feedback => (
                "id, order_id, rating::int4, comment, created_at",
                &[T::INT4, T::INT4, T::INT4, T::TEXT, T::TIMESTAMPTZ],
            ),
        }
    }
}

/// One row of `source` as its row image.
fn decode(source: Source, r: &BinaryCopyOutRow) -> Result<(i64, Record), tokio_postgres::Error> {
    let id: i32 = r.try_get(0)?;
    let record = match source {
        Source::Stores => Record::Store(StoreImage { id, name: r.try_get(1)?, city: r.try_get(2)? }),
        Source::Customers => Record::Customer(CustomerImage { id, name: r.try_get(1)?, email: r.try_get(2)? }),
        Source::Employees => Record::Employee(EmployeeImage {
            id,
            store_id: r.try_get(1)?,
            name: r.try_get(2)?,
            role: r.try_get(3)?,
            active: r.try_get(4)?,
        }),
        Source::Products => Record::Product(ProductImage {
            id,
            name: r.try_get(1)?,
            category: r.try_get(2)?,
            price: r.try_get::<Decimal>(3)?,
            active: r.try_get(4)?,
        }),
        Source::Orders => Record::Order(OrderImage {
            id,
            customer_id: r.try_get(1)?,
            employee_id: r.try_get(2)?,
            store_id: r.try_get(3)?,
            status: r.try_get(4)?,
            order_time: r.try_get(5)?,
            total: r.try_get(6)?,
        }),
        Source::OrderItems => Record::OrderItem(OrderItemImage {
            id,
            order_id: r.try_get(1)?,
            product_id: r.try_get(2)?,
            quantity: r.try_get(3)?,
            price: r.try_get(4)?,
        }),
        Source::Payments => Record::Payment(PaymentImage {
            id,
            order_id: r.try_get(1)?,
            amount: r.try_get(2)?,
            method: r.try_get(3)?,
            paid_at: r.try_get(4)?,
        }),
        Source::Feedback => Record::Feedback(FeedbackImage {
            id,
            order_id: r.try_get(1)?,
            rating: r.try_get(2)?,
            comment: r.try_get(3)?,
            created_at: r.try_get(4)?,
        }),
    };
    Ok((id.into(), record))
}
