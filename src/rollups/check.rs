//! Checking the rollups against the facts they summarise: each cell against a `group by` over the
//! live facts, in the caller's transaction (the warehouse side of a reconciliation, so both are
//! read at one moment). Cells whose measures are all zero count as absent.

use std::collections::BTreeMap;

use tokio_postgres::GenericClient;

use super::{Rollup, ROLLUPS};

/// A cell that differs: `facts` is what the facts say, `rollup` what the rollup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RollupDifference {
    pub table: &'static str,
    pub key: String,
    pub facts: Option<String>,
    pub rollup: Option<String>,
}

/// The two statements of `r`'s check: (rollup cells, facts grouped), each `(key, values)` text,
/// restricted to days from `$1` on (customers: those with an order from `$1` on).
pub(super) fn statements(r: &Rollup) -> (String, String) {
    let text = |exprs: Vec<String>| format!("concat_ws('/', {})", exprs.join(", "));
    let measure = |e: String| format!("trim_scale(({e})::numeric)");
    let keys: Vec<String> = r.key_columns().iter().map(|c| c.to_string()).collect();
    let values: Vec<String> = r
        .measure_columns()
        .into_iter()
        .map(|c| measure(c.to_string()))
        .chain(r.extras.iter().map(|e| e.column.to_string()))
        .collect();
    let nonzero: Vec<String> = r.measure_columns().iter().map(|c| format!("{c} <> 0")).collect();
    let fact_keys: Vec<String> = r.key_exprs().iter().map(|k| k.to_string()).collect();
    let fact_values: Vec<String> = r
        .measures
        .iter()
        .map(|(_, e)| measure(format!("sum({e})")))
        .chain(r.extras.iter().map(|e| e.aggregate.to_string()))
        .collect();
    let (rollup_scope, fact_scope) = if r.key_columns().contains(&"date_key") {
        ("date_key >= $1".to_string(), format!("{} >= $1", r.day))
    } else {
        let (column, expr) = (r.key_columns()[0], r.key_exprs()[0]);
        let recent = format!("(select {expr} from {} and {} >= $1)", r.rows(false), r.day);
        (format!("{column} in {recent}"), format!("{expr} in {recent}"))
    };
    (
        format!(
            "select {}, {} from {} where ({}) and {rollup_scope}",
            text(keys),
            text(values),
            r.table,
            nonzero.join(" or ")
        ),
        format!(
            "select {}, {} from {} and {fact_scope} group by {}",
            text(fact_keys),
            text(fact_values),
            r.rows(false),
            r.group_exprs().join(", ")
        ),
    )
}

/// Compare every rollup with its facts from day `since` (`yyyymmdd`; `None`: all time); also
/// returns how many cells the facts make.
pub(crate) async fn check(
    client: &impl GenericClient,
    since: Option<i32>,
) -> Result<(Vec<RollupDifference>, usize), tokio_postgres::Error> {
    let since = since.unwrap_or(i32::MIN);
    let (mut out, mut compared) = (Vec::new(), 0);
    for r in &ROLLUPS {
        let (cells, facts) = statements(r);
        let read = |rows: Vec<tokio_postgres::Row>| -> BTreeMap<String, String> {
            rows.iter().map(|row| (row.get(0), row.get(1))).collect()
        };
        let cells = read(client.query(&cells, &[&since]).await?);
        let facts = read(client.query(&facts, &[&since]).await?);
        compared += facts.len();
        for key in cells.keys().chain(facts.keys()).collect::<std::collections::BTreeSet<_>>() {
            let (f, c) = (facts.get(key), cells.get(key));
            if f != c {
                out.push(RollupDifference { table: r.table, key: key.clone(), facts: f.cloned(), rollup: c.cloned() });
            }
        }
    }
    Ok((out, compared))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_check_compares_cells_with_the_facts_grouped_the_same_way() {
        let (cells, facts) = super::statements(&super::ROLLUPS[2]);
        assert_eq!(
            cells,
            "select concat_ws('/', date_key, product_id, order_status), concat_ws('/', trim_scale((lines)::numeric), \
             trim_scale((quantity)::numeric), trim_scale((revenue)::numeric)) from rollup_sales \
             where (lines <> 0 or quantity <> 0 or revenue <> 0) and date_key >= $1"
        );
        assert!(facts.starts_with("select concat_ws('/', s.date_key, s.product_id, s.order_status)"), "{facts}");
        assert!(facts.ends_with("from fact_sales s where not s.is_deleted and s.date_key >= $1 group by s.date_key, s.product_id, s.order_status"), "{facts}");
        let (cells, _) = super::statements(&super::ROLLUPS[5]);
        assert!(cells.contains("customer_key in (select o.customer_key from fact_orders o"), "{cells}");
    }
}
