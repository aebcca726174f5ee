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
//! A row the warehouse rejects as data (a line total beyond its `numeric(12,2)`, say) becomes a
//! dead letter of kind `snapshot` and the rest of its chunk loads (see `chunk`).

mod chunk;
mod job;
mod read;
mod run;

pub use crate::warehouse::StarTable;
pub(super) use job::{create_initial, open_job, Job, JobKind};
pub use job::{progress, request_resync, JobProgress, ResyncRequest, TableProgress};
pub(in crate::cdc) use read::SnapshotReader;
pub(super) use run::{run, Lane, Writer};

/// The OLTP table a job reads row by row for `table` (`fact_inventory` reads stock as days).
fn source(table: StarTable) -> Option<Source> {
    match table {
        StarTable::DimStore => Some(Source::Stores),
        StarTable::DimCustomer => Some(Source::Customers),
        StarTable::DimEmployee => Some(Source::Employees),
        StarTable::DimProduct => Some(Source::Products),
        StarTable::FactOrders => Some(Source::Orders),
        StarTable::FactSales => Some(Source::OrderItems),
        StarTable::FactPayments => Some(Source::Payments),
        StarTable::FactFeedback => Some(Source::Feedback),
        StarTable::FactInventory => None,
    }
}

/// Whether `table` is loaded in the job's first, atomic step (see the module docs).
fn is_first_step(table: StarTable) -> bool {
    !matches!(table, StarTable::FactOrders | StarTable::FactSales | StarTable::FactPayments | StarTable::FactFeedback)
}

/// An OLTP table read row by row, in primary-key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Stores,
    Customers,
    Employees,
    Products,
    Orders,
    OrderItems,
    Payments,
    Feedback,
}

impl Source {
    fn table(self) -> &'static str {
        match self {
            Source::Stores => "stores",
            Source::Customers => "customers",
            Source::Employees => "employees",
            Source::Products => "products",
            Source::Orders => "orders",
            Source::OrderItems => "order_items",
            Source::Payments => "payments",
            Source::Feedback => "feedback",
        }
    }
}

/// The progress name of `fact_inventory`'s read (stock and its movements).
const STOCK: &str = "inventory";

/// A job's progress key of a table: its source table, or [`STOCK`].
fn progress_key(table: StarTable) -> &'static str {
    source(table).map_or(STOCK, Source::table)
}
