//! A reconciliation check: the same per-key aggregate over a table's OLTP side and its star table.

/// One check. Each query returns `(day, k, v1 … vN)`: `day` is the UTC `yyyymmdd` the key belongs
/// to (null when it has none), `k` the key, `v…` numeric values. The OLTP query reads the
/// business tables by name; reconciliation shadows each with its state as of the checkpoint.
/// Totals are computed from these rows by the caller (`union all`, never `grouping sets`: Citus
/// refuses them).
#[derive(Debug)]
pub(crate) struct Check {
    pub name: &'static str,
    pub oltp: &'static str,
    pub olap: &'static str,
    /// How many value columns the queries return.
    pub values: usize,
    /// Whether a `total` row (the sum of every key, whatever the scope) is compared too.
    pub totals: bool,
}
