//! Rollups: aggregate tables the daemon keeps exact in the same transaction as the facts they
//! summarise, so that a reader of a year costs what a few thousand rollup rows cost, not what
//! millions of fact rows cost.
//!
//! Each [`Rollup`] says, in SQL over one fact table, which cell (its key) a live fact row falls
//! in and what it adds there (its measures). From that one definition come:
//!
//! * the **delta** of a batch ([`delta`]): the contributions of every fact row the batch may
//!   touch (all rows of the orders, or app sessions, it names) are read before the batch writes
//!   its facts and again after, in the same transaction; the cells get `after − before`. So a
//!   status change moves revenue from `placed` to `served`, a deleted line subtracts, a refund
//!   adds a negative payment, a late event moves a session to its true first day, whatever path
//!   wrote the facts (the upsert, a header refresh, a version guard that kept the old row);
//! * the **rebuild** ([`rebuild`]): every cell from the facts, in one transaction (a snapshot job's
//!   end, the first start of a warehouse that had facts before its rollups);
//! * the **check** ([`check`]): the cells against a `group by` over the facts, for `verify` and the
//!   scheduled reconciliation.
//!
//! Minimum and maximum do not subtract: a rollup may name [`Extra`] columns recomputed from the
//! facts through an index for each cell a batch moves (a customer's first and last order).

mod check;
mod delta;
mod rebuild;
mod registry;

pub(crate) use check::{check, RollupDifference};
pub(crate) use delta::Delta;
pub(crate) use rebuild::{at_start, built, rebuild};
pub(crate) use registry::ROLLUPS;

/// The facts a batch may have touched, by what rollups select them by.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Touched {
    /// Orders: every fact row of theirs (the order, its lines, payments and ratings).
    pub orders: std::collections::BTreeSet<i32>,
    /// App sessions.
    pub sessions: std::collections::BTreeSet<uuid::Uuid>,
}

impl Touched {
    pub(crate) fn is_empty(&self) -> bool {
        self.orders.is_empty() && self.sessions.is_empty()
    }
}

/// How a rollup's facts are selected for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    /// By order id (`$1`, `int4[]`): this expression over the fact's alias.
    Order(&'static str),
    /// By app session (`$2`, `uuid[]`): the sessions the batch names and those that placed one of
    /// its orders (a session's interest in products follows its order's lines).
    Session(&'static str),
}

/// A column that is not a sum (a minimum, a maximum). A batch that only adds facts to a cell
/// combines the value kept with its own facts' value; a batch that changes or removes some of the
/// cell's facts has it recomputed from all of them.
#[derive(Debug)]
pub(crate) struct Extra {
    pub column: &'static str,
    /// Its aggregate over the facts of one cell (the rebuild, the check and a batch's own facts).
    pub aggregate: &'static str,
    /// How the value kept and a batch's value combine (`least` for a minimum, `greatest` for a
    /// maximum).
    pub combine: &'static str,
    /// The aggregate for the cell whose keys are `d.i1`, `d.i2`, … (a recomputation in the delta):
    /// a lookup through an index.
    pub lookup: &'static str,
}

/// One rollup table.
#[derive(Debug)]
pub(crate) struct Rollup {
    pub table: &'static str,
    /// The fact table it summarises (a difference found in it is repaired by resyncing that).
    pub fact: &'static str,
    /// Integer key columns and their expressions over the fact row (at most three).
    pub int_keys: &'static [(&'static str, &'static str)],
    /// Text key columns and their expressions (at most two).
    pub text_keys: &'static [(&'static str, &'static str)],
    /// Additive measure columns and what one fact row adds (at most seven).
    pub measures: &'static [(&'static str, &'static str)],
    /// `fact_table alias where <live rows>`: the rows it summarises. A derived table may say
    /// [`SESSIONS`] where it filters its session ids: the delta puts its sessions there, the
    /// rebuild and the check every session.
    pub from: &'static str,
    /// The fact row's UTC day (`date_key`): what a check of the recent days compares.
    pub day: &'static str,
    pub by: By,
    pub extras: &'static [Extra],
    /// Key columns whose expressions are built from the other keys' expressions (a day from a
    /// minute): they are computed once per cell, not grouped by, so a row's cell costs only the
    /// other keys.
    pub per_cell: &'static [&'static str],
}

/// Where a rollup's `from` filters session ids inside a derived table (the planner does not push
/// a filter on a grouped derived table's output down through a `with`).
pub(crate) const SESSIONS: &str = "{sessions}";

impl Rollup {
    /// `from`, for the delta (its sessions, `$2`) or for every live fact.
    fn rows(&self, delta: bool) -> String {
        self.from.replace(SESSIONS, if delta { "= any($2::uuid[])" } else { "is not null" })
    }

    /// Key columns, then measure columns.
    fn key_columns(&self) -> Vec<&'static str> {
        self.int_keys.iter().chain(self.text_keys).map(|(c, _)| *c).collect()
    }

    fn key_exprs(&self) -> Vec<&'static str> {
        self.int_keys.iter().chain(self.text_keys).map(|(_, e)| *e).collect()
    }

    /// Whether key `column` is grouped by (not [`Rollup::per_cell`]).
    fn grouped(&self, column: &str) -> bool {
        !self.per_cell.contains(&column)
    }

    /// The expressions a `group by` of the facts names: every key but the per-cell ones.
    fn group_exprs(&self) -> Vec<&'static str> {
        self.int_keys.iter().chain(self.text_keys).filter(|(c, _)| self.grouped(c)).map(|(_, e)| *e).collect()
    }

    fn measure_columns(&self) -> Vec<&'static str> {
        self.measures.iter().map(|(c, _)| *c).collect()
    }
}
