//! Snapshot jobs: loading the current state of OLTP tables into the warehouse from ONE
//! consistent OLTP snapshot, then streaming from exactly that snapshot.
//!
//! * **Initial**: a warehouse whose checkpoint was never set loads every business table first
//!   (`CDC_SNAPSHOT=initial`, the default); changes visible in the snapshot are in the load, every
//!   other one is streamed once afterwards.
//! * **Resync** (`brewlytics resync [--table …]`): rebuild chosen warehouse tables from OLTP truth
//!   while the system runs. The daemon first streams exactly up to the job's snapshot, then loads
//!   it, so every table is at that one snapshot; rows the snapshot does not have are soft-deleted.
//!
//! How a job stays exact (see `run`): rows it writes carry the version `('-infinity', -job)`,
//! which replaces whatever the row held and loses to every captured change; streaming waits
//! while a job is open. The first step (dimensions and stock, whose type 2 history and
//! additive days must come from one snapshot) commits atomically with the job's origin snapshot;
//! the order tables follow in primary-key chunks, each committed with its progress. A job
//! killed after its first step resumes from its chunk positions, reading the rest from a newer
//! snapshot S' (recorded as the job's `latest`): streaming from the origin then replays what
//! changed in between, which only ever overwrites (facts and type 1 dimensions), so nothing is
//! lost or doubled. Until the checkpoint has passed S', though, the tables loaded before the kill
//! and those loaded after it show two moments, so `verify` and the scheduled reconciliation do
//! not compare until then. Killed before it, the job starts over.
//!
//! Each chunk is a unit of the apply step (`crate::apply`) whose mark is the job's position in
//! its table, so a row the warehouse rejects as data (a line total beyond its `numeric(12,2)`,
//! say) becomes a dead letter of kind `snapshot` and the rest of its chunk loads. What a job
//! reads of each table, and in which step, is the table's own ([`crate::tables`]).

mod job;
mod load;
mod read;
mod run;

pub(super) use job::{create_initial, open_job, queue_rebase, JobKind};
pub use job::{progress, request_resync, JobProgress, ResyncRequest, TableProgress};
pub(super) use read::SnapshotReader;
pub(super) use run::{run, Lane, Writer};

use crate::tables::{self, Table, ALL};

/// A warehouse table a job rebuilds (`brewlytics resync --table NAME`), with the star tables its
/// rows feed: one of the tables of [`crate::tables`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StarTable(usize);

impl StarTable {
    /// Every table a job can rebuild, in load order.
    pub fn all() -> Vec<StarTable> {
        (0..ALL.len()).map(StarTable).collect()
    }

    /// The warehouse table's name (as stored in a job's targets).
    pub fn name(self) -> &'static str {
        self.table().targets()[0].name
    }

    /// The table that loads warehouse table `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        tables::by_target(name).map(StarTable)
    }

    fn table(self) -> &'static dyn Table {
        ALL[self.0]
    }
}
