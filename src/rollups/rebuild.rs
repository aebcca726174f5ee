//! Rebuilding every rollup from the facts, in the caller's transaction: readers see the old cells
//! until it commits, then the new ones (rows are deleted and inserted, never truncated, so
//! readers do not wait). A snapshot job does this at its end; the daemon does it at its first
//! start on a warehouse whose rollups were never built (`cdc_offset.rollups_built`).

use std::time::Instant;

use tokio_postgres::{Client, GenericClient, Transaction};

use super::{Rollup, ROLLUPS};

/// The statements that rebuild `r`.
pub(super) fn statements(r: &Rollup) -> [String; 2] {
    let keys = r.key_exprs();
    let sums = r.measures.iter().map(|(_, e)| format!("sum({e})"));
    let aggregates = r.extras.iter().map(|e| e.aggregate.to_string());
    let values: Vec<String> = keys.iter().map(|k| k.to_string()).chain(sums).chain(aggregates).collect();
    let columns: Vec<&str> =
        r.key_columns().into_iter().chain(r.measure_columns()).chain(r.extras.iter().map(|e| e.column)).collect();
    [
        format!("delete from {}", r.table),
        format!(
            "insert into {table} ({columns}) select {values} from {from} group by {keys}",
            table = r.table,
            columns = columns.join(", "),
            values = values.join(", "),
            from = r.rows(false),
            keys = r.group_exprs().join(", "),
        ),
    ]
}

/// Rebuild every rollup from the facts in `tx`, and record that they are built. The daemon does
/// it: it shares the writers' lock (`crate::db`'s `writers`), so no replay's delta is in flight.
pub(crate) async fn rebuild(tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    crate::db::Writer::Daemon.lock(tx).await?;
    for r in &ROLLUPS {
        for sql in statements(r) {
            tx.batch_execute(&sql).await?;
        }
    }
    mark_built(tx, true).await
}

/// At the daemon's start, with `maintain` (`CDC_ROLLUPS`): build the rollups from the facts if
/// they do not hold them (a warehouse from before them, or one run with them off), or record
/// that they are not maintained.
pub(crate) async fn at_start(client: &mut Client, maintain: bool) -> Result<(), tokio_postgres::Error> {
    if !maintain {
        tracing::warn!("CDC_ROLLUPS=off: the rollups are not maintained, and the readers that use them go stale");
        return mark_built(client, false).await;
    }
    if built(client).await? {
        return Ok(());
    }
    let started = Instant::now();
    let tx = client.transaction().await?;
    rebuild(&tx).await?;
    tx.commit().await?;
    tracing::info!(ms = started.elapsed().as_millis() as u64, "rollups built from the facts");
    Ok(())
}

/// Whether the rollups hold the facts.
pub(crate) async fn built(client: &impl GenericClient) -> Result<bool, tokio_postgres::Error> {
    Ok(client.query_one("select rollups_built from cdc_offset", &[]).await?.get(0))
}

/// Record whether the rollups hold the facts.
pub(crate) async fn mark_built(client: &impl GenericClient, built: bool) -> Result<(), tokio_postgres::Error> {
    client.execute("update cdc_offset set rollups_built = $1", &[&built]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rebuild_groups_the_live_facts_by_the_key() {
        let [delete, insert] = super::statements(&super::ROLLUPS[5]);
        assert_eq!(delete, "delete from rollup_customers");
        assert_eq!(
            insert,
            "insert into rollup_customers (customer_key, orders, revenue, first_order_at, last_order_at) \
             select o.customer_key, sum(1), sum(o.total), min(o.order_time), max(o.order_time) \
             from fact_orders o where not o.is_deleted and o.status = 'served' group by o.customer_key"
        );
    }
}
