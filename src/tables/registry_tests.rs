//! What the compiler cannot check about the registry: every table registered with all its parts,
//! consistent with each other.

use std::collections::BTreeSet;

use tokio_postgres::types::Type;

use super::*;

/// The stored code of every source. Codes are in data (the dead-letter ids of snapshot rows):
/// a source keeps its code forever, whatever its place in [`ALL`]; a new one takes a new code.
const CODES: [(&str, u8); 11] = [
    ("stores", 0),
    ("customers", 1),
    ("employees", 2),
    ("products", 3),
    ("orders", 4),
    ("order_items", 5),
    ("payments", 6),
    ("inventory", 7),
    ("inventory_movements", 8),
    ("feedback", 9),
    ("app_events", 10),
];

#[test]
fn sources_keep_their_stored_codes() {
    for (name, code) in CODES {
        let (_, source) = super::source(name).unwrap_or_else(|| panic!("{name} is no longer registered"));
        assert_eq!(source.code, code, "{name} changed its stored code");
    }
}

#[test]
fn names_and_codes_are_unique_and_codes_fit() {
    let mut names = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for (_, s) in sources() {
        assert!(names.insert(s.name), "source {} registered twice", s.name);
        assert!(codes.insert(s.code), "code {} used twice ({})", s.code, s.name);
        assert!(s.code < Source::CODES, "{}: code {} does not fit", s.name, s.code);
    }
    let mut targets = BTreeSet::new();
    for (_, t) in super::targets() {
        assert!(targets.insert(t.name), "star table {} registered twice", t.name);
    }
}

#[test]
fn keyed_snapshot_reads_start_with_the_id() {
    for (_, s) in sources() {
        match &s.snapshot.read {
            Read::Rows { columns, types } => {
                assert!(columns.starts_with("id, "), "{}: a keyed read starts with id: {columns}", s.name);
                assert!([Type::INT4, Type::INT8].contains(&types[0]), "{}: an integer id", s.name);
                assert_eq!(columns.split(", ").count(), types.len(), "{}: one type per column", s.name);
            }
            Read::Query { sql, types } => assert!(!types.is_empty() && sql.contains(s.name), "{}", s.name),
        }
    }
}

#[test]
fn every_table_is_checked_against_its_sources() {
    for table in ALL {
        let name = table.targets()[0].name;
        assert!(!table.checks().is_empty(), "{name} has no reconciliation check");
        for check in table.checks() {
            assert!(
                table.sources().iter().any(|s| check.oltp.contains(s.name)),
                "{}: reads none of its sources",
                check.name
            );
            assert!(
                table.targets().iter().any(|t| check.olap.contains(t.name)),
                "{}: reads none of its tables",
                check.name
            );
        }
    }
}

#[test]
fn every_dimension_once_and_every_stage_statement_listed() {
    let mut dims = Vec::new();
    for table in ALL {
        let listed = table.statements();
        let needed = match table.stage() {
            // The sink writes every dimension's inferred members in one statement of its own.
            Stage::Dimension { dim, .. } => {
                dims.push(dim);
                None
            }
            Stage::Fact { headers } => headers,
            Stage::Orders => None,
        };
        if let Some(sql) = needed {
            assert!(listed.contains(&sql), "{}: a stage statement is not in statements()", table.targets()[0].name);
        }
    }
    assert_eq!(dims.len(), Dim::ALL.len());
    for dim in Dim::ALL {
        assert_eq!(dims.iter().filter(|d| **d == dim).count(), 1, "{dim:?}");
    }
    let orders: Vec<_> = ALL.iter().filter(|t| matches!(t.stage(), Stage::Orders)).collect();
    assert_eq!(orders.len(), 1, "one table is the orders' header");
}

#[test]
fn a_colocated_table_follows_the_table_it_is_colocated_with() {
    let placed: Vec<(&str, Placement)> = super::targets().map(|(_, t)| (t.name, t.placement)).collect();
    for (i, (name, placement)) in placed.iter().enumerate() {
        if let Placement::Distributed { with: Some(with), .. } = placement {
            let j = placed.iter().position(|(n, _)| n == with).unwrap_or_else(|| panic!("{name}: {with} unknown"));
            assert!(j < i, "{name} is placed before {with}");
        }
    }
}

#[test]
fn retiring_calls_no_volatile_function_and_reads_no_local_table() {
    for (_, target) in super::targets() {
        match target.retire {
            Retire::ByJob(sql) | Retire::ByStart(sql) => {
                assert!(!sql.contains("clock_timestamp"), "{}: {sql}", target.name);
                assert!(!sql.contains("select"), "{}: a subquery: {sql}", target.name);
            }
            Retire::Rebuild(statements) => {
                for sql in statements.iter().filter(|s| s.trim_start().starts_with("update")) {
                    assert!(!sql.contains("clock_timestamp"), "{}: {sql}", target.name);
                }
            }
        }
    }
}
