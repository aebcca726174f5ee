//! What every table module shares: a row's version, the date and time keys, the latest row per
//! key, the columns of a bulk statement, the upsert's version guard, and why a row cannot be
//! mapped.

use std::{collections::HashMap, hash::Hash};

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::change::{DecodeError, Version};

/// The source a warehouse row was written from, which decides whether a later write may replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RowVersion {
    /// Loaded by snapshot job `job` (the initial load or a resync). It is older than every captured
    /// change, and it replaces whatever the warehouse holds: while a job runs it owns the tables.
    Snapshot { job: i64 },
    /// Written from a captured change: replaces only rows of an older version.
    Change(Version),
}

impl RowVersion {
    /// `(changed_at, src_id)` as the sink writes them: a snapshot row is stored as
    /// `('-infinity', -job)` (a `NULL` here becomes `-infinity` in SQL).
    pub(crate) fn columns(self) -> (Option<DateTime<Utc>>, i64) {
        match self {
            RowVersion::Snapshot { job } => (None, -job),
            RowVersion::Change(v) => (Some(v.changed_at), v.src_id),
        }
    }
}

/// Why a change (or a row a snapshot job read) cannot be mapped onto the warehouse.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransformError {
    /// The stored row cannot be understood.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The row decodes but a value breaks a rule of the model.
    #[error(transparent)]
    Invalid(#[from] Violation),
}

/// A value that breaks a rule of the model: `what id rule`, e.g. "order 7 has unknown status 'x'".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {id} {rule}")]
pub(crate) struct Violation {
    pub what: &'static str,
    pub id: i64,
    pub rule: String,
}

impl Violation {
    pub(crate) fn new(what: &'static str, id: impl Into<i64>, rule: impl Into<String>) -> Self {
        Violation { what, id: id.into(), rule: rule.into() }
    }
}

/// The latest row of each key in a batch (changes arrive in version order, so a later one replaces
/// an earlier one).
#[derive(Debug)]
pub(crate) struct Latest<K, R>(HashMap<K, R>);

impl<K, R> Default for Latest<K, R> {
    fn default() -> Self {
        Latest(HashMap::new())
    }
}

impl<K: Hash + Eq + Ord + Copy, R> Latest<K, R> {
    pub(crate) fn insert(&mut self, key: K, row: R) {
        self.0.insert(key, row);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The rows, by key (so every batch writes its keys in the same order).
    pub(crate) fn sorted(&self) -> Vec<&R> {
        let mut keys: Vec<&K> = self.0.keys().collect();
        keys.sort();
        keys.into_iter().map(|k| &self.0[k]).collect()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &R> {
        self.0.values()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.keys()
    }
}

/// One column of `rows`, as a statement's array parameter.
pub(crate) fn col<T, U>(rows: &[&T], f: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(|r| f(r)).collect()
}

/// The deletion flag and version columns of `rows` (see [`RowVersion::columns`]).
pub(crate) type VersionCols = (Vec<bool>, Vec<Option<DateTime<Utc>>>, Vec<i64>);

pub(crate) fn versions<T>(rows: &[&T], f: impl Fn(&T) -> (bool, RowVersion)) -> VersionCols {
    let mut out = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
    for row in rows {
        let (deleted, v) = f(row);
        let (changed_at, src_id) = v.columns();
        out.0.push(deleted);
        out.1.push(changed_at);
        out.2.push(src_id);
    }
    out
}

/// An upsert's condition for replacing the existing row `t` with `excluded`: a snapshot job's row
/// (`src_id < 0`) replaces any row (the job owns the table while it runs), a captured change only
/// an older one. A snapshot row's `changed_at` arrives as NULL and is stored as `-infinity`.
macro_rules! guard {
    () => {
        "excluded.src_id < 0 or (t.changed_at, t.src_id) < (excluded.changed_at, excluded.src_id)"
    };
}
pub(crate) use guard;

/// `yyyymmdd` of a UTC instant, or 0 (the unknown date) outside the calendar.
pub(crate) fn date_key(t: DateTime<Utc>) -> i32 {
    let d = t.date_naive();
    if (2015..=2045).contains(&d.year()) {
        d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32
    } else {
        0
    }
}

/// Minute of the UTC day.
pub(crate) fn time_key(t: DateTime<Utc>) -> i32 {
    (t.hour() * 60 + t.minute()) as i32
}
