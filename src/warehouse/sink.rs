//! The sink: writes one [`WarehouseBatch`] inside the caller's transaction, each table's rows with
//! its own bulk statements (arrays through `unnest`), never a round trip per row.
//!
//! Order matters: dimensions first, then inferred members for the keys facts reference that no
//! dimension row of the batch provides, then `fact_orders` (whose header the other facts copy),
//! then the other facts, sent back to back. Every upsert carries a version guard: an older change
//! never overwrites a newer one, and a row a snapshot job loaded overwrites whatever is there.

use futures_util::future::try_join_all;
use tokio_postgres::{Client, Transaction};

use super::WarehouseBatch;
use crate::tables::{DimKeys, PerDim, Stage, Statements, Writer, ALL};

/// What a write did, for metrics.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct WriteStats {
    /// Inferred members created.
    pub inferred: PerDim<u64>,
    pub product_versions: u64,
}

impl WriteStats {
    pub(crate) fn add(&mut self, other: &WriteStats) {
        for (dim, n) in other.inferred.iter() {
            *self.inferred.get_mut(dim) += n;
        }
        self.product_versions += other.product_versions;
    }
}

/// Every table's statements, prepared once per connection.
pub(crate) struct Sink {
    statements: Statements,
}

impl Sink {
    /// Prepare every statement on `client`.
    pub(crate) async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        Ok(Sink { statements: Statements::prepare(client).await? })
    }

    /// Write `batch` in `tx`; the caller commits it with what it records.
    pub(crate) async fn write(
        &self,
        tx: &Transaction<'_>,
        batch: &WarehouseBatch,
    ) -> Result<WriteStats, tokio_postgres::Error> {
        let w = Writer::new(tx, &self.statements);
        let tables = || ALL.iter().map(|t| t.stage()).zip(&batch.rows).filter(|(_, rows)| !rows.is_empty());
        let mut stats = WriteStats::default();
        for (_, rows) in tables().filter(|(stage, _)| matches!(stage, Stage::Dimension { .. })) {
            stats.product_versions += rows.write(&w).await?;
        }
        stats.inferred = inferred(&w, batch).await?;
        // The facts go out back to back (one wait instead of one per table) and run in the order
        // they are sent: orders first ([`ALL`] lists them first), so the others find theirs.
        try_join_all(tables().filter(|(stage, _)| !matches!(stage, Stage::Dimension { .. })).map(|(_, r)| r.write(&w)))
            .await?;
        Ok(stats)
    }
}

/// Insert a placeholder member for every key the batch's facts reference that neither the
/// warehouse nor the batch has; returns how many each dimension got.
async fn inferred(w: &Writer<'_>, batch: &WarehouseBatch) -> Result<PerDim<u64>, tokio_postgres::Error> {
    let (mut referenced, mut written) = (DimKeys::default(), DimKeys::default());
    for rows in &batch.rows {
        rows.keys(&mut referenced, &mut written);
    }
    let missing = referenced.without(&written);
    let missing = &missing;
    let writes = ALL.iter().filter_map(|t| match t.stage() {
        Stage::Dimension { dim, inferred } if !missing.get(dim).is_empty() => Some(async move {
            let keys: Vec<i32> = missing.get(dim).iter().copied().collect();
            let made = w.tx.query(w.statement(inferred), &[&keys]).await?;
            Ok::<_, tokio_postgres::Error>((dim, made.len() as u64))
        }),
        _ => None,
    });
    let mut counts = PerDim::default();
    for (dim, n) in try_join_all(writes).await? {
        *counts.get_mut(dim) = n;
    }
    Ok(counts)
}
