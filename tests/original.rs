//! Upgrading from the original Brewlytics: its `coffee_oltp` (Flyway V1–V5) and `coffee_olap`
//! are adopted by `brewlytics migrate`, the first daemon run snapshots the adopted data, and the
//! original's five dashboard questions still add up; anything else is refused, untouched.

use std::{process::Command, time::Duration};

use tokio_postgres::Client;

use crate::support::{connect_url, scalar, wait_caught_up, InProcessDaemon, TestDb};

const V1_V5: &str = include_str!("fixtures/original/original_oltp_v1_v5.sql");
const DATA: &str = include_str!("fixtures/original/original_oltp_data.sql");
const OLAP_V1: &str = include_str!("fixtures/original/original_olap_v1.sql");
const QUESTIONS: &str = include_str!("fixtures/original/original_questions.sql");
const OLTP_QUESTIONS: &str = include_str!("fixtures/original/oltp_questions.sql");

fn brewlytics(t: &TestDb, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_brewlytics"))
        .args(args)
        .env("OLTP_DATABASE_URL", &t.oltp_url)
        .env("OLAP_DATABASE_URL", &t.olap_url)
        .output()
        .expect("run brewlytics")
}

/// The statements of a `;`-separated script of plain selects (one per line, `--` comments).
fn statements(script: &str) -> Vec<String> {
    script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--") && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
        .split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| s.to_lowercase().starts_with("select"))
        .collect()
}

/// Each statement's rows as text, sorted (the questions group by name; ties have no order).
async fn answers(c: &Client, script: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for sql in statements(script) {
        let wrapped = format!("select q::text from ({}) q", sql.trim_end_matches(';'));
        let mut rows: Vec<String> = c.query(&wrapped, &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
        rows.sort();
        out.push(rows);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_original_is_adopted_and_its_dashboard_questions_still_add_up() {
    let t = TestDb::empty().await;
    let oltp = t.oltp().await;
    oltp.batch_execute(V1_V5).await.unwrap();
    oltp.batch_execute(DATA).await.unwrap();
    t.olap().await.batch_execute(OLAP_V1).await.unwrap();
    let lines: Vec<(i32, i32, String)> = oltp
        .query("select id, quantity, price::numeric(10,2)::text from order_items order by id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let truth = answers(&oltp, OLTP_QUESTIONS).await;

    let out = brewlytics(&t, &["migrate"]);
    assert!(
        out.status.success(),
        "migrate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let again = brewlytics(&t, &["migrate"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("OLTP: 0 migration(s) applied"),
        "a second migrate is a no-op"
    );
    assert!(brewlytics(&t, &["roles"]).status.success());
    let legacy: i64 = scalar(&oltp, "select count(*) from brewlytics_legacy.legacy_cdc_orders").await;
    assert!(legacy > 0, "the original's change log is kept aside");
    assert_eq!(scalar::<i64>(&oltp, "select count(*) from cdc_orders").await, 0, "and never replayed");

    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(60)).await;
    daemon.stop().await;
    let olap = t.olap().await;
    let loaded: Vec<(i32, i32, String)> = olap
        .query("select order_item_id, quantity, unit_price::text from fact_sales where not is_deleted order by 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(loaded, lines, "every original order line is in fact_sales with its quantity and price");
    assert!(lines.len() > 50);

    let reader = connect_url(&t.url_as(brewlytics::db::Db::Olap, "analytics_reader")).await;
    reader.batch_execute("set search_path = brewlytics_v1, public").await.unwrap();
    let seen = answers(&reader, QUESTIONS).await;
    for (i, (s, t)) in seen.iter().zip(&truth).enumerate() {
        if i == 2 {
            // Top Customers has LIMIT 10 and ties: its rows are the truth's ten best (by revenue).
            assert!(s.iter().all(|row| t.contains(row)), "question 3: {s:?} not in {t:?}");
            let mut best: Vec<_> = t.iter().map(|r| revenue(r)).collect();
            best.sort_by(|a, b| b.cmp(a));
            let ten: rust_decimal::Decimal = best.iter().take(10).sum();
            assert_eq!(s.iter().map(|r| revenue(r)).sum::<rust_decimal::Decimal>(), ten, "question 3");
        } else {
            assert_eq!(s, t, "question {} of the original's dashboard", i + 1);
        }
    }
}

/// The revenue of a `(name,revenue)` row.
fn revenue(row: &str) -> rust_decimal::Decimal {
    row.trim_matches(|c| c == '(' || c == ')').rsplit(',').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_is_neither_ours_nor_the_originals_is_refused_untouched() {
    let t = TestDb::empty().await;
    let oltp = t.oltp().await;
    oltp.batch_execute(V1_V5).await.unwrap();
    oltp.batch_execute(
        "create table loyalty (id serial primary key, points int);
         alter table orders add column status text;",
    )
    .await
    .unwrap();
    let catalog = "select string_agg(table_name || '.' || column_name, ',' order by table_name, column_name)
                   from information_schema.columns where table_schema = 'public'";
    let before: String = scalar(&oltp, catalog).await;
    let out = brewlytics(&t, &["migrate"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("neither empty, ours, nor the original"), "{err}");
    assert!(err.contains("loyalty: unknown table"), "{err}");
    assert!(err.contains("orders.status: unknown column"), "{err}");
    assert_eq!(scalar::<String>(&oltp, catalog).await, before, "nothing was changed");
    assert_eq!(scalar::<i64>(&oltp, "select count(*) from pg_namespace where nspname = 'brewlytics_legacy'").await, 0);
}
