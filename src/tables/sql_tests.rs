//! The shape of every statement a table writes with, over its text: what keeps a batch on its
//! own shards on Citus (and to index look-ups of its own rows on plain PostgreSQL), and what
//! Citus refuses.

use super::{Placement, Scope, Stage, ALL};
use crate::db::citus::distribution_column;

/// Every statement of every table, named by its star table and place, lowercase, on one line.
fn statements() -> Vec<(String, String)> {
    let mut all = Vec::new();
    for table in ALL {
        for (i, sql) in table.statements().into_iter().chain(table.unprepared_statements()).enumerate() {
            all.push((format!("{} #{i}", table.targets()[0].name), normalize(sql)));
        }
        if let Stage::Dimension { inferred, .. } = table.stage() {
            all.push((format!("{} inferred", table.targets()[0].name), normalize(inferred)));
        }
    }
    all
}

/// One line, lowercase, its batch's orders as a list (the range form is checked by
/// `the_range_form_differs_from_the_list_form_only_in_its_filters`).
fn normalize(sql: &str) -> String {
    Scope::List.expand(&sql.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase())
}

/// The distributed tables on Citus.
fn facts() -> Vec<&'static str> {
    super::targets()
        .filter(|(_, t)| matches!(t.placement, Placement::Distributed { .. }))
        .map(|(_, t)| t.name)
        .collect()
}

/// How many columns the statement's `unnest(…) as s(…)` has.
fn unnest_columns(sql: &str) -> Option<usize> {
    let (_, cols) = sql.split_once(" as s(")?;
    Some(cols.split_once(')')?.0.split(", ").count())
}

/// The text after each occurrence of `needle`.
fn after<'a>(sql: &'a str, needle: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    sql.match_indices(needle).map(move |(i, _)| &sql[i + needle.len()..])
}

#[test]
fn fact_orders_is_read_only_for_the_batchs_orders() {
    let mut reads = 0;
    for (name, sql) in statements() {
        for rest in after(&sql, "from fact_orders").chain(after(&sql, "join fact_orders")) {
            reads += 1;
            let rest = rest.strip_prefix(" o").unwrap_or(rest);
            let filter =
                rest.strip_prefix(" where ").unwrap_or_else(|| panic!("{name}: fact_orders read unfiltered: {sql}"));
            let filter = filter.strip_prefix("o.").unwrap_or(filter);
            let param = filter
                .strip_prefix("order_id = any(")
                .and_then(|p| p.split_once("::int4[])"))
                .map(|(p, _)| p)
                .unwrap_or_else(|| panic!("{name}: fact_orders not filtered by order_id = any(…): {sql}"));
            // The parameter is the batch's orders: the one after the upsert's rows, or the header
            // updates' only parameter.
            let expected = unnest_columns(&sql).map_or_else(|| "$1".into(), |n| format!("${}", n + 1));
            assert_eq!(param, expected, "{name}: fact_orders filtered by another parameter: {sql}");
        }
    }
    assert_eq!(reads, 6, "sales, payments, ratings and their header updates read fact_orders");
}

#[test]
fn updates_of_facts_change_only_the_batchs_keys() {
    let mut updates = 0;
    for (name, sql) in statements() {
        for fact in facts() {
            if sql.starts_with(&format!("update {fact} ")) {
                updates += 1;
                let column = distribution_column(fact).unwrap();
                assert!(sql.contains(&format!("f.{column} = any($1::")), "{name}: no filter on f.{column}: {sql}");
            }
        }
    }
    assert_eq!(updates, 4, "three header updates and the sessions left without events");
}

#[test]
fn conflict_targets_contain_the_distribution_column() {
    for (name, sql) in statements() {
        let Some(table) = sql.strip_prefix("insert into ").and_then(|s| s.split([' ', '(']).next()) else {
            continue;
        };
        // A plain insert into a reference table (a new type 2 version) has none.
        let Some(column) = distribution_column(table) else { continue };
        let (_, target) = sql.split_once(" on conflict (").unwrap_or_else(|| panic!("{name}: no conflict target"));
        let target: Vec<&str> = target.split_once(')').unwrap().0.split(", ").collect();
        assert!(target.contains(&column), "{name}: conflict target {target:?} lacks {column}");
    }
}

#[test]
fn lines_and_payments_conflict_on_their_order_keyed_primary_keys() {
    let sql = statements().into_iter().collect::<std::collections::BTreeMap<_, _>>();
    assert!(sql["fact_sales #0"].contains(" on conflict (order_id, order_item_id) do update "));
    assert!(sql["fact_payments #0"].contains(" on conflict (order_id, payment_id) do update "));
    assert!(sql["fact_feedback #0"].contains(" on conflict (order_id, feedback_id) do update "));
    // The order id is the key: it is never set.
    for name in ["fact_sales #0", "fact_payments #0", "fact_feedback #0"] {
        assert!(!sql[name].contains("order_id = excluded.order_id"), "{name}");
    }
}

#[test]
fn do_update_set_calls_no_function_and_takes_no_parameter() {
    for (name, sql) in statements() {
        let Some((_, set)) = sql.split_once(" do update set ") else { continue };
        for banned in ["now()", "clock_timestamp()", "current_timestamp", "statement_timestamp()", "random()", "$"] {
            assert!(!set.contains(banned), "{name}: {banned} in do update set: {set}");
        }
    }
}

#[test]
fn inserts_that_may_skip_rows_return_what_they_inserted() {
    let mut n = 0;
    for (name, sql) in statements() {
        let skipping = sql.matches(" do nothing").count();
        assert_eq!(sql.matches(" do nothing returning ").count(), skipping, "{name}: {sql}");
        n += skipping;
    }
    assert_eq!(n, super::Dim::ALL.len(), "one skipping insert per inferred dimension");
}

#[test]
fn the_range_form_differs_from_the_list_form_only_in_its_filters() {
    let mut scoped = 0;
    for table in ALL {
        for sql in table.statements() {
            if !super::scope::is_scoped(sql) {
                continue;
            }
            scoped += 1;
            let (list, range) = (Scope::List.expand(sql), Scope::Range.expand(sql));
            assert!(!list.contains('@') && !range.contains('@') && !range.contains("= any("), "{range}");
            let params = list.matches("= any($").count();
            assert_eq!(range.matches(" between ($").count(), params, "{range}");
            // Each filter follows an order id column.
            assert_eq!(list.matches("order_id = any($").count(), params, "{list}");
        }
    }
    assert_eq!(scoped, 6, "three fact upserts and their header updates read the batch's orders");
}

#[test]
fn the_order_facts_upserts_have_an_append_form_cut_before_their_conflict_clause() {
    let mut appendable = Vec::new();
    for table in ALL {
        for sql in table.statements() {
            let Some(append) = super::append::append_form(sql) else { continue };
            appendable.push(table.targets()[0].name);
            assert!(sql.starts_with(append), "{sql}");
            assert!(!append.contains(" on conflict") && !append.contains(" where t."), "{append}");
            assert!(normalize(&sql[append.len()..]).starts_with("on conflict (order_id"), "{sql}");
        }
    }
    assert_eq!(appendable, ["fact_orders", "fact_sales", "fact_payments", "fact_feedback"]);
}

#[test]
fn a_line_binds_its_product_version_by_one_join_keeping_the_latest_match() {
    let sql = statements().into_iter().find(|(name, _)| name == "fact_sales #0").unwrap().1;
    assert!(!sql.contains(" lateral "), "{sql}");
    assert!(sql.contains("select distinct on (s.order_id, s.order_item_id) "), "{sql}");
    assert!(sql.contains(" order by s.order_id, s.order_item_id, p.valid_from desc nulls last on conflict "), "{sql}");
}
