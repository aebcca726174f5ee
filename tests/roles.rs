//! Least privilege: what each role of `brewlytics roles` can do, and above all what it cannot.

use brewlytics::db::{self, Db};
use tokio_postgres::error::SqlState;

use crate::{
    schema::SETUP,
    support::{connect_url, scalar, TestDb},
};

/// Assert that `sql` is refused for lack of privilege.
async fn denied(c: &tokio_postgres::Client, who: &str, sql: &str) {
    let err = c.batch_execute(sql).await.expect_err(&format!("{who} may not: {sql}"));
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{who}: {sql}: {err}");
}

/// Assert that `url` refuses the login for lack of CONNECT.
async fn cannot_connect(url: &str, who: &str) {
    let err = db::connect_dsn(url).await.expect_err(&format!("{who} may not connect"));
    let text = brewlytics::telemetry::Chain(&err).to_string();
    assert!(text.contains("User does not have CONNECT privilege"), "{who}: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_have_least_privilege() {
    let t = TestDb::new().await;
    let owner = t.oltp().await;
    owner.batch_execute(SETUP).await.unwrap();
    let olap_owner = t.olap().await;

    // The API writes the business tables, and nothing else; never the warehouse.
    cannot_connect(&t.url_as(Db::Olap, "brewlytics_api"), "the API role on OLAP").await;
    let api = connect_url(&t.url_as(Db::Oltp, "brewlytics_api")).await;
    let captured: i64 = scalar(&owner, "select count(*) from cdc_orders").await;
    api.batch_execute("insert into customers (name, email) values ('B', 'b@example.com')")
        .await
        .expect("api writes OLTP");
    assert_eq!(scalar::<i64>(&owner, "select count(*) from cdc_orders").await, captured + 1, "captured as usual");
    for sql in [
        "insert into cdc_orders (table_name, op, row_id) values ('orders', 'I', 1)",
        "update cdc_orders set row_id = 2",
        "delete from cdc_orders",
        "select count(*) from cdc_orders",
        "truncate customers",
    ] {
        denied(&api, "the API role", sql).await;
    }

    // The daemon reads OLTP (also in an exported snapshot), prunes cdc_orders, writes nothing else.
    let cdc = connect_url(&t.url_as(Db::Oltp, "brewlytics_cdc")).await;
    for table in [
        "stores",
        "customers",
        "products",
        "employees",
        "orders",
        "order_items",
        "payments",
        "inventory",
        "inventory_movements",
        "cdc_orders",
    ] {
        cdc.query(&format!("select count(*) from {table}"), &[])
            .await
            .unwrap_or_else(|e| panic!("cdc reads {table}: {e}"));
    }
    cdc.batch_execute("delete from cdc_orders where id < 0").await.expect("cdc prunes cdc_orders");
    for sql in [
        "update orders set status = 'served'",
        "insert into stores (name, city) values ('X', 'Y')",
        "delete from payments",
        "insert into cdc_orders (table_name, op, row_id) values ('orders', 'I', 1)",
        "update cdc_orders set row_id = 2",
    ] {
        denied(&cdc, "the daemon role", sql).await;
    }
    let mut exporter = connect_url(&t.url_as(Db::Oltp, "brewlytics_cdc")).await;
    let tx = exporter
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .unwrap();
    let snapshot: String =
        tx.query_one("select pg_export_snapshot()", &[]).await.expect("cdc exports a snapshot").get(0);
    cdc.batch_execute(&format!(
        "begin isolation level repeatable read; set transaction snapshot '{snapshot}'; select count(*) from orders; commit"
    ))
    .await
    .expect("cdc reads in an exported snapshot");
    tx.rollback().await.unwrap();

    // In OLAP the daemon writes every table, also one a later migration adds (default
    // privileges), takes advisory locks, and leaves the migration history alone.
    olap_owner.batch_execute("create table later_table (id serial primary key, v int)").await.unwrap();
    let cdc_olap = connect_url(&t.url_as(Db::Olap, "brewlytics_cdc")).await;
    let missing: Vec<String> = cdc_olap
        .query(
            "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'public' and c.relkind = 'r' and c.relname <> 'refinery_schema_history'
               and not (has_table_privilege(c.oid, 'select') and has_table_privilege(c.oid, 'insert')
                        and has_table_privilege(c.oid, 'update') and has_table_privilege(c.oid, 'delete'))",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(missing.is_empty(), "the daemon cannot write {missing:?}");
    cdc_olap
        .batch_execute("insert into later_table (v) values (1); update cdc_offset set batch_seq = batch_seq")
        .await
        .expect("cdc writes OLAP");
    assert!(scalar::<bool>(&cdc_olap, "select pg_try_advisory_lock(42)").await);
    denied(&cdc_olap, "the daemon role", "insert into refinery_schema_history (version) values (99)").await;
    denied(&cdc_olap, "the daemon role", "create table mine (x int)").await;

    // The reader reads the warehouse, writes nothing, never reaches OLTP.
    cannot_connect(&t.url_as(Db::Oltp, "analytics_reader"), "the reader role on OLTP").await;
    let reader = connect_url(&t.url_as(Db::Olap, "analytics_reader")).await;
    reader.query("select count(*) from fact_sales", &[]).await.expect("reader reads the star");
    reader.query("select count(*) from later_table", &[]).await.expect("reader reads later tables");
    let writable: i64 = scalar(
        &reader,
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname in ('public', 'marts') and c.relkind = 'r'
           and (has_table_privilege(c.oid, 'insert') or has_table_privilege(c.oid, 'update')
                or has_table_privilege(c.oid, 'delete') or has_table_privilege(c.oid, 'truncate'))",
    )
    .await;
    assert_eq!(writable, 0, "the reader can write a table");
    for sql in [
        "insert into fact_payments (payment_id, order_id, amount, method, changed_at, src_id) values (1, 1, 1, 'card', now(), 1)",
        "delete from dim_store",
        "create table public.mine (x int)",
        "create table marts.mine (x int)",
    ] {
        denied(&reader, "the reader role", sql).await;
    }
    cannot_connect(&t.url_as(Db::Oltp, "brewlytics_dbt"), "the dbt role on OLTP").await;
    let dbt = connect_url(&t.url_as(Db::Olap, "brewlytics_dbt")).await;
    dbt.batch_execute("create table marts.t as select count(*) from fact_sales").await.expect("dbt owns marts");
    denied(&dbt, "the dbt role", "delete from fact_sales").await;
    reader.query("select * from marts.t", &[]).await.expect("reader reads marts");

    // Nothing but the capture functions writes cdc_orders: only the daemon holds a privilege on
    // it (select, delete), and the only other SECURITY DEFINER function reads the source's
    // identity (`cdc_source_state`, which writes nothing).
    let grants: Vec<(String, String)> = owner
        .query(
            "select grantee::text, privilege_type::text from information_schema.role_table_grants
             where table_name = 'cdc_orders' and grantee <> (select tableowner from pg_tables where tablename = 'cdc_orders')
             order by 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let cdc_role = || "brewlytics_cdc".to_string();
    assert_eq!(grants, [(cdc_role(), "DELETE".to_string()), (cdc_role(), "SELECT".to_string())]);
    let definers: Vec<String> = owner
        .query(
            "select proname::text from pg_proc where prosecdef and pronamespace = 'public'::regnamespace order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(definers, ["cdc_capture_delete", "cdc_capture_insert", "cdc_capture_update", "cdc_source_state"]);
    let cdc = connect_url(&t.url_as(Db::Oltp, "brewlytics_cdc")).await;
    let row =
        cdc.query_one("select timeline, last_id from cdc_source_state()", &[]).await.expect("the daemon reads it");
    assert_eq!(row.get::<_, i32>(0), 1);
}
