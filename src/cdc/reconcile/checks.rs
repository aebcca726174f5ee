//! The statements of the reconciliation checks: each table's [`Check`]s (`crate::tables`), the
//! OLTP side read as of a snapshot, and the totals.

use crate::tables::{self, Check, ALL};

/// Every check of every table, in [`ALL`] order.
pub(super) fn checks() -> impl Iterator<Item = &'static Check> {
    ALL.iter().flat_map(|t| t.checks())
}

/// `with` clauses that shadow every captured table with its state as of snapshot `$1`
/// (`pg_snapshot` text, xmin `$2`), inside a transaction whose own snapshot sees more: a row
/// touched by a transaction visible here but not in `$1` is replaced by the before image of its
/// first such change (none when that change inserted it); every other row is as read. "First"
/// is by (changed_at, id), the daemon's version order: a second writer of a row waits for the
/// first one's commit, so its clock_timestamp() is later (ids follow insert order only within a
/// session, the identity caches values per session).
pub(super) fn as_of_prefix() -> String {
    let mut sql = String::from(
        "with cdc_window as materialized (
             select distinct on (table_name, row_id) table_name, row_id, before
             from cdc_orders
             where txid >= $2::text::xid8 and not pg_visible_in_snapshot(txid, $1::text::pg_snapshot)
             order by table_name, row_id, changed_at, id)",
    );
    for t in tables::sources().map(|(_, s)| s.name) {
        sql.push_str(&format!(
            ", {t} as (
                 select * from public.{t} x
                 where not exists (select from cdc_window w where w.table_name = '{t}' and w.row_id = x.id)
                 union all
                 select r.* from cdc_window w cross join lateral json_populate_record(null::public.{t}, w.before::json) r
                 where w.table_name = '{t}' and w.before is not null)"
        ));
    }
    sql.push_str(", ");
    sql
}

/// The full statement of one side of a check: its key rows from day `$since` on (keys without a
/// day always), then the `total` row over every key. The columns are named by a subquery alias,
/// not by a column list on the `with` query: Citus 13 loses such a list when the query is a
/// `union all` of reference tables (the dimensions check: `column "k" does not exist`).
pub(super) fn statement(prefix: &str, check: &Check, sql: &str, since: usize) -> String {
    let n = check.values;
    let columns: Vec<String> = (1..=n).map(|i| format!("v{i}")).collect();
    let text = |cols: &[String]| {
        cols.iter().map(|c| format!("coalesce({c}::text, '-')")).collect::<Vec<_>>().join(" || '/' || ")
    };
    let mut out = format!(
        "{prefix}q as (select * from ({sql}) s(day, k, {cols}))
         select k, {vals} from q where day is null or day >= ${since}",
        prefix = if prefix.is_empty() { "with " } else { prefix },
        cols = columns.join(", "),
        vals = text(&columns),
    );
    if check.totals {
        let sums: Vec<String> = columns.iter().map(|c| format!("sum({c}) as {c}")).collect();
        out.push_str(&format!(
            " union all select 'total', {vals} from (select {sums} from q) t",
            vals = text(&columns),
            sums = sums.join(", ")
        ));
    }
    out
}
