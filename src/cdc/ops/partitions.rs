//! Partitions of the large fact tables (migrations/olap/V10): ranges of `order_id` of [`SPAN`]
//! orders each. The daemon keeps at least half a span of empty partitions ahead of the highest
//! order id in OLTP and in the warehouse, at its start and with retention, so that orders never
//! land in the default partition (a new partition's range may not overlap rows there: if some
//! did, the partition is not created and the daemon says so; the rows are safe where they are).

use tokio_postgres::Client;

use crate::cdc::error::CdcError;

/// Orders per partition (2^23; about a month at 250,000 orders a day).
pub const SPAN: i64 = 1 << 23;

/// The partitioned fact tables.
pub const TABLES: [&str; 4] = ["fact_orders", "fact_sales", "fact_payments", "fact_feedback"];

/// Create the partitions each table lacks to hold half a span beyond its highest order id or
/// `oltp_top` (OLTP's); returns how many were created.
pub async fn ensure_ahead(client: &Client, oltp_top: i64) -> Result<u64, CdcError> {
    let err = |e| CdcError::db("creating fact partitions", e);
    let mut created = 0;
    for table in TABLES {
        let (top, upper) = bounds(client, table).await.map_err(err)?;
        let (top, mut upper) = (top.max(oltp_top), upper);
        while upper <= top + SPAN / 2 {
            // With the tables' owner's rights (migrations/olap/V10).
            let sql = "select fact_partition_create($1::text::regclass, $2)";
            let name: String = client.query_one(sql, &[&table, &upper]).await.map_err(err)?.get(0);
            tracing::info!(partition = name, from = upper, "fact partition created");
            upper += SPAN;
            created += 1;
        }
    }
    Ok(created)
}

/// OLTP's highest order id.
pub async fn oltp_top(oltp: &Client) -> Result<i64, CdcError> {
    let row = oltp.query_one("select coalesce(max(id), 0)::int8 from orders", &[]).await;
    Ok(row.map_err(|e| CdcError::db("reading the highest order id", e))?.get(0))
}

/// Keep the partitions ahead; a failure is logged, not fatal (rows go to the default partition).
pub async fn upkeep(olap: &Client, oltp: &Client) {
    let created = match oltp_top(oltp).await {
        Ok(top) => ensure_ahead(olap, top).await,
        Err(e) => Err(e),
    };
    if let Err(error) = created {
        tracing::error!(error = %crate::telemetry::Chain(&error), "fact partitions could not be created ahead; new orders go to the default partitions (docs/OPERATIONS.md)");
    }
}

/// The highest order id of `table`, and the upper bound of its highest range partition.
async fn bounds(client: &Client, table: &str) -> Result<(i64, i64), tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!(
                "select (select coalesce(max(order_id), 0)::int8 from {table}),
                        coalesce(max(substring(pg_get_expr(c.relpartbound, c.oid) from 'TO \\(([0-9]+)\\)')::int8), 0)
                 from pg_inherits i join pg_class c on c.oid = i.inhrelid
                 where i.inhparent = '{table}'::regclass"
            ),
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}
