//! The sink: writes one [`WarehouseBatch`] inside the caller's transaction, each table's rows with
//! its own bulk statements (arrays through `unnest`), never a round trip per row.
//!
//! Every write first takes the warehouse's writers' lock (`crate::db`'s `writers`): the daemon's
//! units share it, a `dlq replay` takes it alone, so no replay commits between a unit's reads and
//! its writes.
//!
//! Order matters: dimensions first, then inferred members for the keys facts reference that no
//! dimension row of the batch provides, then `fact_orders` (whose header the other facts copy),
//! then the other facts, sent back to back. Every upsert carries a version guard: an older change
//! never overwrites a newer one, and a row a snapshot job loaded overwrites whatever is there;
//! rows of orders above what their fact table holds are appended instead (`crate::tables`'s
//! `append`: nothing there can conflict with them).

use futures_util::future::try_join_all;
use tokio_postgres::{types::ToSql, Client, Row, Statement, Transaction};

use super::WarehouseBatch;
use crate::{
    db::{Writer, WRITERS_LOCK},
    rollups::{Delta, Touched},
    tables::{high_water_sql, Dim, DimKeys, HighWater, PerDim, Stage, Statements, Writer as TableWriter, ALL},
};

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

/// Every table's statements, prepared once per connection, and the inferred members of every
/// dimension in one statement.
pub(crate) struct Sink {
    statements: Statements,
    inferred: Statement,
    /// Which keys have no member yet ([`absent_sql`]).
    absent: Statement,
    /// The order facts' high-water marks ([`high_water_sql`]).
    high_water: Statement,
    /// The rollups' delta; none when they are not maintained (`CDC_ROLLUPS=off`).
    rollups: Option<Delta>,
    /// Who writes: only the daemon appends the rows above the high-water marks.
    writer: Writer,
    /// Takes the writers' lock as `writer` does.
    lock: Statement,
}

impl Sink {
    /// Prepare every statement on `client`; `rollups`: whether batches move the rollups.
    pub(crate) async fn prepare(client: &Client, rollups: bool, writer: Writer) -> Result<Self, tokio_postgres::Error> {
        let inferred = client.prepare(&inferred_sql()).await?;
        let absent = client.prepare(&absent_sql()).await?;
        let high_water = client.prepare(&high_water_sql()).await?;
        let rollups = match rollups {
            true => Some(Delta::prepare(client).await?),
            false => None,
        };
        let lock = client.prepare(writer.lock_sql()).await?;
        Ok(Sink { statements: Statements::prepare(client).await?, inferred, absent, high_water, rollups, writer, lock })
    }

    /// Whether the rollups are maintained.
    pub(crate) fn rollups(&self) -> bool {
        self.rollups.is_some()
    }

    /// Write `batch` in `tx`; the caller commits it with what it records.
    pub(crate) async fn write(
        &self,
        tx: &Transaction<'_>,
        batch: &WarehouseBatch,
    ) -> Result<WriteStats, tokio_postgres::Error> {
        tx.execute(&self.lock, &[&WRITERS_LOCK]).await?;
        let w = TableWriter::new(tx, &self.statements);
        let tables = || ALL.iter().map(|t| t.stage()).zip(&batch.rows).filter(|(_, rows)| !rows.is_empty());
        let mut stats = WriteStats::default();
        for (_, rows) in tables().filter(|(stage, _)| matches!(stage, Stage::Dimension { .. })) {
            stats.product_versions += rows.write(&w).await?;
        }
        // Sent back to back: one wait for both (boxed: the daemon's future stays small).
        let marks = async {
            match self.writer == Writer::Daemon {
                true => HighWater::read(tx, &self.high_water).await,
                false => Ok(HighWater::default()),
            }
        };
        let (inferred, marks) = futures_util::try_join!(Box::pin(self.write_inferred(tx, batch)), marks)?;
        stats.inferred = inferred;
        let mut touched = Touched::default();
        let rollups = self.rollups.as_ref().filter(|_| batch.moves_rollups);
        if rollups.is_some() {
            batch.rows.iter().for_each(|rows| rows.touched(&mut touched));
        }
        let before = match rollups {
            Some(delta) if !touched.is_empty() => {
                Some(delta.before(tx, &touched, marks.above_all(&touched.orders)).await?)
            }
            _ => None,
        };
        let w = w.with_marks(marks);
        // The facts go out back to back (one wait instead of one per table) and run in the order
        // they are sent: orders first ([`ALL`] lists them first), so the others find theirs.
        try_join_all(tables().filter(|(stage, _)| !matches!(stage, Stage::Dimension { .. })).map(|(_, r)| r.write(&w)))
            .await?;
        if let (Some(delta), Some(before)) = (rollups, before) {
            delta.apply(tx, &touched, &before).await?;
        }
        Ok(stats)
    }

    /// Insert a placeholder member for every key the batch's facts reference that neither the
    /// warehouse nor the batch has; returns how many each dimension got.
    async fn write_inferred(
        &self,
        tx: &Transaction<'_>,
        batch: &WarehouseBatch,
    ) -> Result<PerDim<u64>, tokio_postgres::Error> {
        let (mut referenced, mut written) = (DimKeys::default(), DimKeys::default());
        for rows in &batch.rows {
            rows.keys(&mut referenced, &mut written);
        }
        let unprovided = referenced.without(&written);
        if is_empty(&unprovided) {
            return Ok(PerDim::default());
        }
        // Nearly every batch references only members the warehouse has: reading that is one
        // statement, like the insert, but it writes nothing (on Citus a write of a reference
        // table takes every node into the batch's commit).
        let row = query(tx, &self.absent, &unprovided).await?;
        let mut absent = DimKeys::default();
        for (i, (dim, ..)) in dimensions().enumerate() {
            absent.get_mut(dim).extend(row.get::<_, Vec<i32>>(i));
        }
        if is_empty(&absent) {
            return Ok(PerDim::default());
        }
        let row = query(tx, &self.inferred, &absent).await?;
        let mut counts = PerDim::default();
        for (i, (dim, ..)) in dimensions().enumerate() {
            *counts.get_mut(dim) = row.get::<_, i64>(i) as u64;
        }
        Ok(counts)
    }
}

fn is_empty(keys: &DimKeys) -> bool {
    keys.iter().all(|(_, keys)| keys.is_empty())
}

/// Run one of the inferred members' statements: each dimension's keys are its parameters, in
/// [`dimensions`] order.
async fn query(tx: &Transaction<'_>, statement: &Statement, keys: &DimKeys) -> Result<Row, tokio_postgres::Error> {
    let keys: Vec<Vec<i32>> = dimensions().map(|(dim, ..)| keys.get(dim).iter().copied().collect()).collect();
    let params: Vec<&(dyn ToSql + Sync)> = keys.iter().map(|k| k as &(dyn ToSql + Sync)).collect();
    tx.query_one(statement, &params).await
}

/// Every dimension with its star table, key column and inferred-member statement, in [`ALL`]
/// order.
fn dimensions() -> impl Iterator<Item = (Dim, &'static str, &'static str, &'static str)> {
    ALL.iter().filter_map(|t| match t.stage() {
        Stage::Dimension { dim, key, inferred } => Some((dim, t.targets()[0].name, key, inferred)),
        _ => None,
    })
}

/// One statement that runs every dimension's inferred-member insert (each its own `$1` becomes
/// `$n`, the dimension's place) and counts what each inserted: one round trip per batch.
fn inferred_sql() -> String {
    let parts: Vec<String> = dimensions()
        .enumerate()
        .map(|(i, (.., sql))| format!("d{i} as ({})", sql.replace("$1", &format!("${}", i + 1))))
        .collect();
    let counts: Vec<String> = (0..parts.len()).map(|i| format!("(select count(*) from d{i})")).collect();
    format!("with {} select {}", parts.join(", "), counts.join(", "))
}

/// One read of which of each dimension's keys (`$n`, in [`dimensions`] order) it has no member
/// for: an `int4[]` per dimension.
fn absent_sql() -> String {
    let parts: Vec<String> = dimensions()
        .enumerate()
        .map(|(i, (_, table, key, _))| {
            format!(
                "array(select k from unnest(${}::int4[]) k where not exists (select from {table} d where d.{key} = k))",
                i + 1
            )
        })
        .collect();
    format!("select {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_inferred_members_are_one_statement_with_a_parameter_per_dimension() {
        let sql = super::inferred_sql();
        assert!(sql.starts_with("with d0 as (insert into dim_store"), "{sql}");
        for n in 1..=4 {
            assert!(sql.contains(&format!("unnest(${n}::int4[])")), "{sql}");
        }
        assert!(!sql.contains("$5"), "{sql}");
    }

    #[test]
    fn the_absent_keys_are_one_read_of_each_dimension_by_its_key() {
        let sql = super::absent_sql();
        assert!(sql.contains("unnest($1::int4[]) k where not exists (select from dim_store d where d.store_id = k)"));
        assert!(
            sql.contains("unnest($4::int4[]) k where not exists (select from dim_product d where d.product_id = k)")
        );
        assert!(!sql.contains("$5") && !sql.contains("insert"), "{sql}");
    }
}
