//! Who writes the warehouse at once. The daemon's units (stream batches, a snapshot job's chunks
//! on its two connections, the rollups' rebuild) **share** the writers' lock; a `dlq replay` takes
//! it **alone**. Each takes it at the start of its write, in its transaction, and keeps it until
//! that commits or rolls back; a replay takes it before anything else it locks (its letters), as
//! a batch does, so the two never wait for each other in opposite orders.
//!
//! Why: a unit moves the rollups by what the facts of its orders contribute before its writes and
//! after them, two statements apart (`crate::rollups`). Under read committed, a replay that
//! committed a fact of one of those orders in between would be counted twice: in its own delta,
//! and again in the unit's "after". And a unit's appends rely on its high-water marks
//! (`crate::tables`'s `append`): no one else adds rows of its orders until it commits. The
//! daemon's own units never overlap on an order (they run one at a time; a snapshot job's two
//! connections load different tables), so they only share. The price: a replay waits for the
//! batch in flight, and the batches wait for the replay (one transaction for every pending letter).

use tokio_postgres::GenericClient;

/// The advisory lock's key ("brewwrit"); `pg_locks` shows it as `classid` 0x62726577, `objid`
/// 0x77726974.
pub const WRITERS_LOCK: i64 = 0x6272_6577_7772_6974;

/// Who writes through an apply step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    /// The daemon: its units run one at a time (or on different tables), so they share the lock
    /// and may append new rows (`crate::tables`'s `append`).
    Daemon,
    /// A `dlq replay`, beside a running daemon: it takes the lock alone, and every row is merged
    /// (the upsert, as always).
    Replay,
}

impl Writer {
    /// The statement that takes the lock (`$1`: [`WRITERS_LOCK`]).
    pub(crate) fn lock_sql(self) -> &'static str {
        match self {
            Writer::Daemon => "select pg_advisory_xact_lock_shared($1)",
            Writer::Replay => "select pg_advisory_xact_lock($1)",
        }
    }

    /// Take the lock in `tx` (waiting for the writers it excludes), until `tx` ends.
    pub(crate) async fn lock(self, tx: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
        tx.execute(self.lock_sql(), &[&WRITERS_LOCK]).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_key_spells_its_name() {
        assert_eq!(super::WRITERS_LOCK.to_be_bytes(), *b"brewwrit");
    }
}
