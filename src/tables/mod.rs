//! The tables: what the project knows about each business table it captures, one module each.
//!
//! A module names its OLTP table(s) and their stable codes, decodes their row images, maps them
//! onto its star table's rows (checking the model's rules), writes those rows (its SQL), and
//! says how a snapshot job reads it, what reconciliation compares and where Citus keeps its star
//! table. Everything else — the transform and the sink (`crate::warehouse`), snapshot jobs,
//! verify, the Citus distribution step, dead letters, the benchmark — walks [`ALL`] and names no
//! table.
//!
//! Adding a table takes its migrations (the OLTP table with `select cdc_capture_table(…)`, its
//! star table), one module here implementing [`Table`] and [`Rows`], and one line in [`ALL`].
//! Neither trait has a default method, so the compiler asks for every part; the tests below
//! check what it cannot (unique names and codes, snapshot reads keyed by `id`, a placement and a
//! check for every star table).

mod app_event;
mod append;
mod check;
mod customer;
mod dims;
mod employee;
mod feedback;
mod order;
mod order_line;
mod payment;
mod product;
mod row;
mod scope;
mod stock;
mod store;

use std::collections::{hash_map::Entry, HashMap};

use futures_util::future::BoxFuture;
use tokio_postgres::{binary_copy::BinaryCopyOutRow, types::Type, Client, Statement, Transaction};

use crate::rollups::Touched;
pub(crate) use append::{high_water_sql, HighWater, Landing};
pub(crate) use check::Check;
pub(crate) use dims::{Dim, DimKeys, PerDim};
pub(crate) use row::{date_key, RowVersion, TransformError, Violation};
pub(crate) use scope::Scope;

use crate::change::ChangeRow;

/// Every captured table. Dimensions are written in this order, then facts (orders first).
pub(crate) static ALL: [&dyn Table; 10] = [
    &store::Stores,
    &customer::Customers,
    &employee::Employees,
    &product::Products,
    &order::Orders,
    &order_line::OrderLines,
    &payment::Payments,
    &stock::Stock,
    &feedback::Feedback,
    &app_event::AppEvents,
];

/// One subject of the business: the OLTP table(s) it is captured from, the star table it is
/// loaded into, and everything in between (see the module docs).
pub(crate) trait Table: Sync {
    /// The OLTP tables captured for it (several when they feed one star table, as stock does).
    fn sources(&self) -> &'static [Source];
    /// The star table(s) it loads (its own first), with their Citus placement and what a snapshot
    /// job retires.
    fn targets(&self) -> &'static [Target];
    /// When a batch writes its rows.
    fn stage(&self) -> Stage;
    /// An empty set of its rows, for one batch.
    fn rows(&self) -> Box<dyn Rows>;
    /// Every statement its rows are written with (prepared once per warehouse connection).
    fn statements(&self) -> Vec<&'static str>;
    /// Statements it writes with that are planned for each batch's values, not prepared (a plan
    /// cached while a table was small can outlive its growth until the next ANALYZE). Listed for
    /// the statement shape tests.
    #[cfg(test)]
    fn unprepared_statements(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// What reconciliation compares between its OLTP table(s) and its star table.
    fn checks(&self) -> &'static [Check];
    /// A row a snapshot job read from `source`, as the JSON image a change of it would carry
    /// (what its dead letter stores).
    fn snapshot_image(&self, source: &Source, row: &BinaryCopyOutRow) -> Result<String, TransformError>;
}

/// A batch's rows of one [`Table`]: what its changes (or a snapshot job's rows) map to, kept until
/// the sink writes them.
pub(crate) trait Rows: Send + Sync {
    /// Add a captured change of `source`; changes arrive in version order.
    fn add_change(&mut self, source: &Source, change: &ChangeRow) -> Result<(), TransformError>;
    /// Add a row that snapshot job `job` read from `source` (columns as its [`Read`] says).
    fn add_snapshot(&mut self, source: &Source, row: &BinaryCopyOutRow, job: i64) -> Result<(), TransformError>;
    /// The dimension keys its rows reference (`referenced`) and those it writes rows of (`written`):
    /// the sink creates inferred members for keys referenced and not written.
    fn keys(&self, referenced: &mut DimKeys, written: &mut DimKeys);
    /// The facts its rows may touch, for the rollups' delta (`crate::rollups`): none by default.
    fn touched(&self, _: &mut Touched) {}
    /// Whether there is nothing to write.
    fn is_empty(&self) -> bool;
    /// Write the rows in `w`'s transaction; returns the type 2 versions opened.
    fn write<'a>(&'a self, w: &'a Writer<'a>) -> BoxFuture<'a, Result<u64, tokio_postgres::Error>>;
}

/// A captured OLTP table.
#[derive(Debug)]
pub(crate) struct Source {
    /// Its name in OLTP and in `cdc_orders.table_name`.
    pub name: &'static str,
    /// Its code in stored data (the dead-letter ids of snapshot rows): written here, never derived
    /// from a position in a list, never reused. Below [`Source::CODES`].
    pub code: u8,
    /// How a snapshot job reads it.
    pub snapshot: SnapshotRead,
}

impl Source {
    /// Codes are below this (a snapshot row's dead-letter id packs the code in 4 bits).
    pub(crate) const CODES: u8 = 16;
}

/// How a snapshot job reads one source.
#[derive(Debug)]
pub(crate) struct SnapshotRead {
    pub step: Step,
    pub read: Read,
}

/// When a snapshot job loads a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// In the job's first step, whole, atomically with the job's origin: dimensions (their type 2
    /// history comes from one snapshot) and stock (its days are additive).
    First,
    /// In primary-key chunks, each committed with its progress: the order tables.
    Chunks,
}

/// What a snapshot job selects.
#[derive(Debug)]
pub(crate) enum Read {
    /// The table's rows in primary-key order: these columns, the first of them `id` (`int4` or
    /// `int8`).
    Rows { columns: &'static str, types: &'static [Type] },
    /// One query, read whole. Its rows have no key, so one the warehouse rejects fails the job.
    Query { sql: &'static str, types: &'static [Type] },
}

/// The primary key of a row a keyed [`Read::Rows`] read: its first column, `id`.
pub(crate) fn key_of(row: &BinaryCopyOutRow) -> i64 {
    row.try_get::<i64>(0).or_else(|_| row.try_get::<i32>(0).map(i64::from)).unwrap_or(0)
}

/// A star table.
#[derive(Debug)]
pub(crate) struct Target {
    pub name: &'static str,
    /// Where it lives on a Citus cluster.
    pub placement: Placement,
    /// What a snapshot job does to the rows it did not load.
    pub retire: Retire,
}

/// Where a star table lives on a Citus cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// A copy on every node.
    Reference,
    /// Sharded by `column`; colocated with `with` (its shards on the same nodes, by the same hash
    /// ranges), or in a colocation group of its own when `None`.
    Distributed { column: &'static str, with: Option<&'static str> },
}

/// The statement that marks what a snapshot job did not load as gone: rows soft-deleted (stock
/// days lose their movement figures). It calls no volatile function (Citus refuses
/// `clock_timestamp()` in an UPDATE of a distributed table) and reads no local table.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Retire {
    /// `$1` is the job's id: rows not written by the job (version `('-infinity', -job)`).
    ByJob(&'static str),
    /// `$1` is the time the job started: rows not loaded since.
    ByStart(&'static str),
    /// A table derived from another star table: these statements (no parameter) rebuild it from
    /// what the job left there.
    Rebuild(&'static [&'static str]),
}

/// When a batch writes a table's rows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stage {
    /// A dimension, written first (in [`ALL`] order), with natural key column `key`. Facts may
    /// reference its keys before its rows arrive: `inferred` inserts placeholder members for such
    /// keys (`$1`: the keys, `int4[]`), `returning` each one it inserted (the sink runs every
    /// dimension's in one statement, for the keys it found absent).
    Dimension { dim: Dim, key: &'static str, inferred: &'static str },
    /// `fact_orders`: written before the other facts, as they copy its header.
    Orders,
    /// A fact. `headers`, when it belongs to orders: the statement that copies the header of the
    /// orders `$1` (`int4[]`) onto its rows, run after `fact_orders` is written.
    Fact { headers: Option<&'static str> },
}

/// Where a batch is written: its transaction (or savepoint), the statements prepared on the
/// connection, and the facts' high-water marks ([`append`]).
pub(crate) struct Writer<'a> {
    pub tx: &'a Transaction<'a>,
    statements: &'a Statements,
    high_water: HighWater,
}

impl<'a> Writer<'a> {
    /// A writer that merges every row (no high-water mark known).
    pub(crate) fn new(tx: &'a Transaction<'a>, statements: &'a Statements) -> Self {
        Writer { tx, statements, high_water: HighWater::default() }
    }

    /// The same writer, appending the rows above the marks `high_water` holds.
    pub(crate) fn with_marks(self, high_water: HighWater) -> Self {
        Writer { high_water, ..self }
    }

    /// The prepared statement of `sql` (one of some table's [`Table::statements`]).
    pub(crate) fn statement(&self, sql: &'static str) -> &Statement {
        self.statements.get(sql, Scope::List, Landing::Merge)
    }

    /// The prepared form of `sql` that selects the batch's orders as `scope` says (see
    /// [`scope`]) and lands its rows as `landing` says (see [`append`]).
    pub(crate) fn form(&self, sql: &'static str, scope: Scope, landing: Landing) -> &Statement {
        self.statements.get(sql, scope, landing)
    }

    /// `rows` of the order fact `table`, split by how they land (see [`append`]).
    pub(crate) fn split<'r, R>(
        &self,
        table: &str,
        rows: Vec<&'r R>,
        order: impl Fn(&R) -> i32,
    ) -> Vec<(Landing, Vec<&'r R>)> {
        self.high_water.split(table, rows, order)
    }

    /// Copy the header of `order_ids` (ascending, distinct) onto the rows of every fact that
    /// belongs to orders, for the orders it may hold rows of: none above its high-water mark. Those
    /// rows can only come later in this unit (which copies the header as it writes them): no one
    /// else writes the facts meanwhile (`crate::db`'s `writers`; a snapshot job loads its orders
    /// before their lines, payments and ratings).
    pub(crate) async fn refresh_headers(&self, order_ids: &[i32]) -> Result<(), tokio_postgres::Error> {
        for table in ALL {
            if let Stage::Fact { headers: Some(sql) } = table.stage() {
                let name = table.targets()[0].name;
                let held: Vec<i32> = order_ids.iter().copied().filter(|&o| self.high_water.may_hold(name, o)).collect();
                if held.is_empty() {
                    continue;
                }
                let (scope, orders) = Scope::of(held);
                self.tx.execute(self.form(sql, scope, Landing::Merge), &[&orders]).await?;
            }
        }
        Ok(())
    }
}

/// Every table's statements, prepared on one connection in each of their forms: a form per
/// [`Scope`] for those that filter by a batch's orders, and an append form for the upserts of
/// order facts.
pub(crate) struct Statements(HashMap<(&'static str, Scope, Landing), Statement>);

impl Statements {
    /// Prepare every statement of every table on `client`.
    pub(crate) async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        let mut forms = HashMap::new();
        for sql in ALL.iter().flat_map(|t| t.statements()) {
            let scopes: &[Scope] = if scope::is_scoped(sql) { &[Scope::List, Scope::Range] } else { &[Scope::List] };
            for &scope in scopes {
                let expanded = scope.expand(sql);
                let mut landings = vec![(Landing::Merge, expanded.as_str())];
                landings.extend(append::append_form(&expanded).map(|a| (Landing::Append, a)));
                for (landing, text) in landings {
                    if let Entry::Vacant(form) = forms.entry((sql, scope, landing)) {
                        form.insert(client.prepare(text).await?);
                    }
                }
            }
        }
        Ok(Statements(forms))
    }

    /// The form of `sql`: `scope` if it has one per scope, `landing` if it has an append form.
    fn get(&self, sql: &'static str, scope: Scope, landing: Landing) -> &Statement {
        [(scope, landing), (Scope::List, landing), (scope, Landing::Merge), (Scope::List, Landing::Merge)]
            .into_iter()
            .find_map(|(s, l)| self.0.get(&(sql, s, l)))
            .unwrap_or_else(|| panic!("a statement no table lists in `statements()`: {sql}"))
    }
}

/// The table and source of a captured table name.
pub(crate) fn source(name: &str) -> Option<(usize, &'static Source)> {
    ALL.iter().enumerate().find_map(|(i, t)| t.sources().iter().find(|s| s.name == name).map(|s| (i, s)))
}

/// Every captured OLTP table, with the index of its table in [`ALL`].
pub(crate) fn sources() -> impl Iterator<Item = (usize, &'static Source)> {
    ALL.iter().enumerate().flat_map(|(i, t)| t.sources().iter().map(move |s| (i, s)))
}

/// The table that loads star table `name`.
pub(crate) fn by_target(name: &str) -> Option<usize> {
    ALL.iter().position(|t| t.targets().iter().any(|x| x.name == name))
}

/// Every star table, with the index of its table in [`ALL`].
pub(crate) fn targets() -> impl Iterator<Item = (usize, &'static Target)> {
    ALL.iter().enumerate().flat_map(|(i, t)| t.targets().iter().map(move |x| (i, x)))
}

#[cfg(test)]
mod registry_tests;
#[cfg(test)]
mod sql_tests;
