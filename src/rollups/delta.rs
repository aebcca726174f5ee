//! A batch's delta: every rollup's contributions of the facts the batch may touch, read before it
//! writes them ([`Before`]) and, in one statement after, again; each cell gets the difference
//! ([`Delta`]). Both reads are one statement over every rollup, in one shape: the rollup's table,
//! three integer keys, two text keys, seven measures (unused slots 0 or `''`) and two extras (the
//! cell's minimum or maximum over the facts read; unused slots null).
//!
//! An extra ([`super::Extra`]) of a cell the batch only adds facts to is the value kept combined
//! with the batch's own (`least`, `greatest`): a drain's cells never read their other facts. A
//! cell some of whose facts the batch held before (the read before found them) has its extras
//! recomputed from all its facts.
//!
//! A batch names its orders either as a list or, when they are consecutive ids, as one range
//! ([`Scope`], as the facts' statements do).

use rust_decimal::Decimal;
use tokio_postgres::{types::ToSql, Client, Row, Statement, Transaction};
use uuid::Uuid;

use super::{By, Rollup, Touched, ROLLUPS};
use crate::tables::Scope;

const INTS: usize = 3;
const TEXTS: usize = 2;
const MEASURES: usize = 7;
const EXTRAS: usize = 2;

/// The prepared statements of each [`Scope`], and how they are planned.
pub(crate) struct Delta {
    list: Statements,
    range: Statements,
    /// Whether they run with generic plans ([`Lookups::Correlated`]: one PostgreSQL).
    generic: bool,
}

/// The sessions whose `order_placed` event names one of `$1`'s orders (deleted events too: their
/// contributions are zero either way, and a link the batch removes is read before it goes).
fn placed_by_sql(scope: Scope) -> String {
    format!(
        "select distinct e.session_id from fact_app_events e where e.event_type = 'order_placed' and e.order_id {}",
        scope.filter("$1")
    )
}

struct Statements {
    contributions: Statement,
    apply: Statement,
    placed_by: Statement,
}

/// The contributions read before a batch's facts were written, as columns, and the sessions
/// they were read for.
#[derive(Debug, Default)]
pub(crate) struct Before {
    sessions: Vec<Uuid>,
    rollup: Vec<String>,
    ints: [Vec<i32>; INTS],
    texts: [Vec<String>; TEXTS],
    measures: [Vec<Decimal>; MEASURES],
}

impl Before {
    fn push(&mut self, row: &Row) {
        self.rollup.push(row.get(0));
        for (i, col) in self.ints.iter_mut().enumerate() {
            col.push(row.get(1 + i));
        }
        for (i, col) in self.texts.iter_mut().enumerate() {
            col.push(row.get(1 + INTS + i));
        }
        for (i, col) in self.measures.iter_mut().enumerate() {
            col.push(row.get(1 + INTS + TEXTS + i));
        }
    }
}

impl Delta {
    pub(crate) async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        let lookups = Lookups::of(client).await?;
        let statements = |scope| async move {
            Ok::<_, tokio_postgres::Error>(Statements {
                contributions: client.prepare(&contributions_sql(scope)).await?,
                apply: client.prepare(&apply_sql(lookups, scope)).await?,
                placed_by: client.prepare(&placed_by_sql(scope)).await?,
            })
        };
        Ok(Delta {
            list: statements(Scope::List).await?,
            range: statements(Scope::Range).await?,
            generic: lookups == Lookups::Correlated,
        })
    }

    fn statements(&self, scope: Scope) -> &Statements {
        match scope {
            Scope::List => &self.list,
            Scope::Range => &self.range,
        }
    }

    /// Read the contributions of the facts `touched` names (before the batch writes them).
    /// `new_orders`: no fact holds any of its orders yet (they lie above every order fact's
    /// high-water mark), so they contribute nothing and only their sessions are read.
    pub(crate) async fn before(
        &self,
        tx: &Transaction<'_>,
        touched: &Touched,
        new_orders: bool,
    ) -> Result<Before, tokio_postgres::Error> {
        let (scope, orders) = orders(touched);
        let mut sessions = touched.sessions.clone();
        if !orders.is_empty() {
            let placed = tx.query(&self.statements(scope).placed_by, &[&orders]).await?;
            sessions.extend(placed.iter().map(|r| r.get::<_, Uuid>(0)));
        }
        let mut before = Before { sessions: sessions.into_iter().collect(), ..Before::default() };
        let (scope, orders) = if new_orders { (Scope::List, Vec::new()) } else { (scope, orders) };
        if orders.is_empty() && before.sessions.is_empty() {
            return Ok(before);
        }
        self.plan(tx, true).await?;
        // On an error the transaction is over, and the setting with it.
        let rows = tx.query(&self.statements(scope).contributions, &[&orders, &before.sessions]).await?;
        self.plan(tx, false).await?;
        for row in rows {
            before.push(&row);
        }
        Ok(before)
    }

    /// Add `after − before` to every cell (after the batch wrote its facts); returns the cells moved.
    /// `touched` may name more than it did before the writes (facts the batch created), never less.
    pub(crate) async fn apply(
        &self,
        tx: &Transaction<'_>,
        touched: &Touched,
        before: &Before,
    ) -> Result<u64, tokio_postgres::Error> {
        let (scope, orders) = orders(touched);
        let sessions: Vec<Uuid> = touched
            .sessions
            .iter()
            .chain(&before.sessions)
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut p: Vec<&(dyn ToSql + Sync)> = vec![&orders, &sessions, &before.rollup];
        p.extend(before.ints.iter().map(|c| c as &(dyn ToSql + Sync)));
        p.extend(before.texts.iter().map(|c| c as &(dyn ToSql + Sync)));
        p.extend(before.measures.iter().map(|c| c as &(dyn ToSql + Sync)));
        self.plan(tx, true).await?;
        let moved = tx.query_one(&self.statements(scope).apply, &p).await?;
        self.plan(tx, false).await?;
        Ok(moved.get::<_, i64>(0) as u64)
    }

    /// On one PostgreSQL, plan the delta's statements generically for the rest of the transaction
    /// (`generic`), or as PostgreSQL chooses again. A custom plan for each batch's parameters cost
    /// 1-6 ms of planning; the generic one runs as fast (the parameters are key lists and ranges).
    /// Only these: the facts' upserts run slower with generic plans, and so does Citus. Sorting is
    /// off meanwhile: a generic plan expects a handful of facts per batch and sorted the thousands
    /// of a drain's batch into each rollup's groups; it hashes them instead (a 3,000-order batch's
    /// delta: 13.3-14.5 ms sorted, 10.7-11.6 hashed).
    async fn plan(&self, tx: &Transaction<'_>, generic: bool) -> Result<(), tokio_postgres::Error> {
        if !self.generic {
            return Ok(());
        }
        let (mode, sort) = if generic { ("force_generic_plan", "off") } else { ("default", "default") };
        tx.batch_execute(&format!("set local plan_cache_mode = {mode}; set local enable_sort = {sort}")).await
    }
}

/// The statements' `$1`: the orders, as a list or a range.
fn orders(touched: &Touched) -> (Scope, Vec<i32>) {
    Scope::of(touched.orders.iter().copied().collect())
}

/// One rollup's contributions of the facts a batch names, in the common shape, summed by cell
/// (a batch of 600 orders is a few dozen cells: that is what travels and what the delta groups).
fn contribution(r: &Rollup, scope: Scope) -> String {
    let pad = |exprs: Vec<&str>, n: usize, zero: &str| -> Vec<String> {
        (0..n).map(|i| exprs.get(i).map_or(zero.to_string(), |e| e.to_string())).collect()
    };
    let ints = pad(r.int_keys.iter().map(|(_, e)| *e).collect(), INTS, "0");
    let texts = pad(r.text_keys.iter().map(|(_, e)| *e).collect(), TEXTS, "''");
    let texts: Vec<String> = texts.into_iter().map(|t| format!("({t})::text")).collect();
    let measures: Vec<String> = (0..MEASURES)
        .map(|i| r.measures.get(i).map_or("0::numeric".to_string(), |(_, m)| format!("sum({m})::numeric")))
        .collect();
    let extras: Vec<String> = (0..EXTRAS)
        .map(|i| r.extras.get(i).map_or("null::timestamptz".to_string(), |e| format!("{}::timestamptz", e.aggregate)))
        .collect();
    // Output positions of the grouped keys: 1 is the rollup's name, then the integer and text slots.
    let ints_at = r.int_keys.iter().enumerate().map(|(i, (c, _))| (i + 2, *c));
    let texts_at = r.text_keys.iter().enumerate().map(|(i, (c, _))| (i + 2 + INTS, *c));
    let keys: Vec<String> = ints_at.chain(texts_at).filter(|(_, c)| r.grouped(c)).map(|(p, _)| p.to_string()).collect();
    // The cardinality test has no column: the executor checks it once and skips the whole branch
    // when the batch names no order (session): a drain of orders never reads the sessions' rollups.
    let scope = match (r.by, scope) {
        (By::Order(expr), _) => format!("cardinality($1::int4[]) > 0 and {expr} {}", scope.filter("$1")),
        (By::Session(expr), _) => format!("cardinality($2::uuid[]) > 0 and {expr} = any($2::uuid[])"),
    };
    format!(
        "select '{}'::text, {}, {}, {}, {} from {} and {scope} group by {}",
        r.table,
        ints.join(", "),
        texts.join(", "),
        measures.join(", "),
        extras.join(", "),
        r.rows(true),
        keys.join(", ")
    )
}

fn slots() -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    (
        (1..=INTS).map(|i| format!("i{i}")).collect(),
        (1..=TEXTS).map(|i| format!("t{i}")).collect(),
        (1..=MEASURES).map(|i| format!("m{i}")).collect(),
        (1..=EXTRAS).map(|i| format!("e{i}")).collect(),
    )
}

/// Every rollup's contributions (`$1` orders, `$2` sessions).
fn contributions_sql(scope: Scope) -> String {
    ROLLUPS.iter().map(|r| contribution(r, scope)).collect::<Vec<_>>().join(" union all ")
}

/// How the [`super::Extra`] columns of the cells a batch changes (not only adds to) are recomputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookups {
    /// One correlated look-up per cell (a minimum or maximum through an index: two probes).
    Correlated,
    /// One `group by` of the facts of the moved cells: Citus plans no correlated subquery on a
    /// column other than the distribution column.
    Grouped,
}

impl Lookups {
    async fn of(client: &Client) -> Result<Self, tokio_postgres::Error> {
        Ok(if crate::db::citus::is_citus(client).await? { Lookups::Grouped } else { Lookups::Correlated })
    }
}

/// The statement that adds `after − before` to every cell: `$1`, `$2` as above, then the
/// columns of [`Before`] (`$3` rollup, `$4…` keys and measures). Each cell of the delta `d` has
/// the extras of its facts after the batch (`e1`, `e2`: one `new` row per cell) and whether the
/// read before found some of its facts (`o`).
fn apply_sql(lookups: Lookups, scope: Scope) -> String {
    let (ints, texts, measures, extras) = slots();
    let columns: Vec<String> =
        ["r".to_string()].into_iter().chain(ints.clone()).chain(texts.clone()).chain(measures.clone()).collect();
    let new_columns: Vec<String> = columns.iter().chain(&extras).cloned().collect();
    let types: Vec<String> = ["text[]"]
        .into_iter()
        .chain(std::iter::repeat_n("int4[]", INTS))
        .chain(std::iter::repeat_n("text[]", TEXTS))
        .chain(std::iter::repeat_n("numeric[]", MEASURES))
        .enumerate()
        .map(|(i, t)| format!("${}::{t}", i + 3))
        .collect();
    let keys: Vec<String> = ["r".to_string()].into_iter().chain(ints).chain(texts).collect();
    let negated: Vec<String> = keys.iter().cloned().chain(measures.iter().map(|m| format!("-{m}"))).collect();
    let sums: Vec<String> = measures.iter().map(|m| format!("sum({m}) as {m}")).collect();
    let news: Vec<String> = extras.iter().map(|e| format!("max({e}) as {e}")).collect();
    let nulls: Vec<&str> = extras.iter().map(|_| "null::timestamptz").collect();
    let moved: Vec<String> = measures.iter().map(|m| format!("sum({m}) <> 0")).collect();
    let always: Vec<String> =
        ROLLUPS.iter().filter(|r| !r.extras.is_empty()).map(|r| format!("'{}'", r.table)).collect();
    let mut moved = moved.join(" or ");
    if !always.is_empty() {
        // A minimum or a maximum can move while the sums do not.
        moved = format!("r in ({}) or {moved}", always.join(", "));
    }
    let mut sql = format!(
        "with old ({cols}) as (select * from unnest({types})),
         new ({new_cols}) as ({new}),
         d as (select {keys}, {sums}, {news}, bool_or(o) as o
               from (select *, false as o from new union all select {negated}, {nulls}, true from old) x
               group by {keys} having {moved})",
        cols = columns.join(", "),
        new_cols = new_columns.join(", "),
        types = types.join(", "),
        new = contributions_sql(scope),
        keys = keys.join(", "),
        sums = sums.join(", "),
        news = news.join(", "),
        negated = negated.join(", "),
        nulls = nulls.join(", "),
    );
    for (n, r) in ROLLUPS.iter().enumerate() {
        if r.extras.is_empty() {
            sql.push_str(&format!(", u{n} as ({})", upsert(r, Cells::All)));
            continue;
        }
        let grouped = (lookups == Lookups::Grouped).then_some(n);
        if grouped.is_some() {
            sql.push_str(&format!(", x{n} as ({})", grouped_extras(r)));
        }
        sql.push_str(&format!(", u{n} as ({})", upsert(r, Cells::Recomputed(grouped))));
        sql.push_str(&format!(", a{n} as ({})", upsert(r, Cells::Added)));
    }
    sql.push_str(" select count(*) from d");
    sql
}

/// The extras of the cells of `r` the delta recomputes, by one `group by` of their facts (a rollup
/// with extras has one integer key).
fn grouped_extras(r: &Rollup) -> String {
    let key = r.int_keys[0].1;
    let aggregates: Vec<&str> = r.extras.iter().map(|e| e.aggregate).collect();
    let columns: Vec<&str> = r.extras.iter().map(|e| e.column).collect();
    format!(
        "select {key} as k, {} from {} and {key} in (select d.i1 from d where d.r = '{}' and d.o) group by 1",
        aggregates.iter().zip(&columns).map(|(a, c)| format!("{a} as {c}")).collect::<Vec<_>>().join(", "),
        r.rows(true),
        r.table
    )
}

/// Which of a rollup's cells an upsert writes, and how it finds their extras.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cells {
    /// Every cell of a rollup without extras.
    All,
    /// The cells some of whose facts the batch held before: extras looked up per cell, or from the
    /// grouped CTE `x<n>`.
    Recomputed(Option<usize>),
    /// The cells the batch only adds facts to: extras combined with the batch's (`d.e1`, …).
    Added,
}

/// Add the delta's `cells` of `r` to its table.
fn upsert(r: &Rollup, cells: Cells) -> String {
    let key_cols = r.key_columns();
    let measure_cols = r.measure_columns();
    let extra_cols: Vec<&str> = r.extras.iter().map(|e| e.column).collect();
    let ints = (1..=r.int_keys.len()).map(|i| format!("d.i{i}"));
    let texts = (1..=r.text_keys.len()).map(|i| format!("d.t{i}"));
    let measures = (1..=r.measures.len()).map(|i| format!("d.m{i}"));
    let lookups = r.extras.iter().enumerate().map(|(i, e)| match cells {
        Cells::Recomputed(Some(_)) => format!("x.{}", e.column),
        Cells::Recomputed(None) => e.lookup.to_string(),
        Cells::All | Cells::Added => format!("d.e{}", i + 1),
    });
    let values: Vec<String> = ints.chain(texts).chain(measures).chain(lookups).collect();
    let added = measure_cols.iter().map(|c| format!("{c} = t.{c} + excluded.{c}"));
    let extras = r.extras.iter().map(|e| match cells {
        Cells::Added => format!("{c} = {}(t.{c}, excluded.{c})", e.combine, c = e.column),
        Cells::All | Cells::Recomputed(_) => format!("{c} = excluded.{c}", c = e.column),
    });
    let stamps = ["updated_at = excluded.updated_at".to_string(), "updated_xid = excluded.updated_xid".to_string()];
    let set: Vec<String> = added.chain(extras).chain(stamps).collect();
    let columns: Vec<&str> = key_cols.iter().chain(&measure_cols).chain(&extra_cols).copied().collect();
    format!(
        "insert into {table} as t ({columns}, updated_at, updated_xid)
         select {values}, now(), pg_current_xact_id() from d {join}where d.r = '{table}'{which}
         on conflict ({keys}) do update set {set}",
        join = match cells {
            Cells::Recomputed(Some(n)) => format!("left join x{n} x on x.k = d.i1 "),
            _ => String::new(),
        },
        which = match cells {
            Cells::All => "",
            Cells::Recomputed(_) => " and d.o",
            Cells::Added => " and not d.o",
        },
        table = r.table,
        columns = columns.join(", "),
        values = values.join(", "),
        keys = key_cols.join(", "),
        set = set.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rollup_fits_the_common_shape() {
        for r in &ROLLUPS {
            assert!(
                r.int_keys.len() <= INTS
                    && r.text_keys.len() <= TEXTS
                    && r.measures.len() <= MEASURES
                    && r.extras.len() <= EXTRAS,
                "{}",
                r.table
            );
            assert!(r.from.contains(" where "), "{}: `from` ends in its live rows' condition", r.table);
            assert!(r.extras.is_empty() || (r.int_keys.len() == 1 && r.text_keys.is_empty()), "{}", r.table);
            for column in r.per_cell {
                let (_, expr) = r.int_keys.iter().chain(r.text_keys).find(|(c, _)| c == column).unwrap();
                assert!(
                    r.group_exprs().iter().any(|g| expr.contains(g)),
                    "{}.{column} is built from a grouped key",
                    r.table
                );
            }
        }
    }

    #[test]
    fn the_delta_reads_both_sides_in_one_statement_and_upserts_each_rollup() {
        let sql = apply_sql(Lookups::Correlated, Scope::List);
        assert!(sql.starts_with("with old (r, i1, i2, i3, t1, t2, m1, m2, m3, m4, m5, m6, m7) as (select * from unnest($3::text[], $4::int4[]"), "{sql}");
        assert!(sql.contains("$15::numeric[]") && !sql.contains("$16"), "{sql}");
        let with_extras = ROLLUPS.iter().filter(|r| !r.extras.is_empty()).count();
        assert_eq!(sql.matches("insert into rollup_").count(), ROLLUPS.len() + with_extras, "two for extras");
        assert!(sql.contains("r in ('rollup_customers') or sum(m1) <> 0"), "{sql}");
        assert!(sql.contains("orders = t.orders + excluded.orders"), "{sql}");
        assert!(sql.contains("max(e1) as e1, max(e2) as e2, bool_or(o) as o"), "{sql}");
        assert!(sql.contains("select *, false as o from new union all"), "{sql}");
        // Cells the batch held facts of: recomputed; the others: the kept value and the batch's.
        assert!(sql.contains("where d.r = 'rollup_customers' and d.o"), "{sql}");
        assert!(sql.contains("first_order_at = excluded.first_order_at"), "{sql}");
        assert!(sql.contains("where d.r = 'rollup_customers' and not d.o"), "{sql}");
        assert!(sql.contains("first_order_at = least(t.first_order_at, excluded.first_order_at)"), "{sql}");
        assert!(sql.contains("last_order_at = greatest(t.last_order_at, excluded.last_order_at)"), "{sql}");
        let grouped = apply_sql(Lookups::Grouped, Scope::List);
        assert!(
            grouped.contains("x5 as (select o.customer_key as k, min(o.order_time) as first_order_at"),
            "{grouped}"
        );
        assert!(
            grouped.contains("(select d.i1 from d where d.r = 'rollup_customers' and d.o) group by 1"),
            "{grouped}"
        );
        assert!(
            grouped.contains("left join x5 x on x.k = d.i1") && !grouped.contains("x.customer_key = d.i1"),
            "{grouped}"
        );
        assert_eq!(grouped.matches("left join x").count(), 1, "{grouped}");
        let before = contributions_sql(Scope::List);
        assert_eq!(before.matches("= any($1::int4[])").count(), 7);
        assert_eq!(before.matches("= any($2::uuid[])").count(), 4);
        let inner: usize = ROLLUPS.iter().map(|r| r.from.matches(" group by ").count()).sum();
        assert_eq!(before.matches(" group by ").count(), ROLLUPS.len() + inner, "{before}");
        assert!(before.contains("sum(s.line_total)::numeric, 0::numeric"), "{before}");
        assert!(before.contains("min(o.order_time)::timestamptz, max(o.order_time)::timestamptz from"), "{before}");
        assert_eq!(before.matches("null::timestamptz, null::timestamptz from").count(), ROLLUPS.len() - 1);
        assert!(before.contains("= any($1::int4[]) group by 2, 3, 5 union all"), "{before}");
        // The freshness rollup's day is per cell: grouped by minute and bucket only.
        let freshness = before.split(" union all ").find(|b| b.contains("'rollup_freshness'")).unwrap();
        assert!(freshness.ends_with("group by 3, 4"), "{freshness}");
    }

    #[test]
    fn consecutive_orders_are_read_as_one_range_and_the_others_as_a_list() {
        let touched = |orders: &[i32]| Touched { orders: orders.iter().copied().collect(), ..Touched::default() };
        assert_eq!(orders(&touched(&[7, 5, 6])).0, Scope::Range);
        assert_eq!(orders(&touched(&[7, 5, 6])).1, [5, 7]);
        assert_eq!(orders(&touched(&[9])).1, [9, 9]);
        assert_eq!(orders(&touched(&[5, 7])).0, Scope::List);
        assert_eq!(orders(&touched(&[5, 7])).1, [5, 7]);
        assert_eq!(orders(&touched(&[-1, i32::MAX])).0, Scope::List);
        assert_eq!(orders(&touched(&[])).0, Scope::List);
        let range = contributions_sql(Scope::Range);
        assert_eq!(range.matches("between ($1::int4[])[1] and ($1::int4[])[2]").count(), 7, "{range}");
        assert!(!range.contains("= any($1"), "{range}");
        assert_eq!(range.matches("= any($2::uuid[])").count(), 4, "{range}");
        assert!(apply_sql(Lookups::Correlated, Scope::Range).contains(&range));
        assert!(placed_by_sql(Scope::Range).ends_with("e.order_id between ($1::int4[])[1] and ($1::int4[])[2]"));
        assert!(placed_by_sql(Scope::List).ends_with("e.order_id = any($1::int4[])"));
    }
}
