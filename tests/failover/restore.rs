//! The warehouse restored from a `pg_dump` taken earlier: behind changes retention has pruned
//! since (a gap: named under `stop`, re-based by default), or with every change still there
//! (it streams on).

use std::{path::PathBuf, process::Command, time::Duration};

use brewlytics::tools::cluster::find_bin_dir;

use super::{assert_equal_to_oltp, cli, jobs, start_daemon};
use crate::support::{
    connect_url, load::Writers, metric, process::status_json, scalar, shop, wait_drained, wait_for, TestDb,
};

async fn shop_db() -> TestDb {
    let t = TestDb::new().await;
    t.oltp().await.batch_execute(shop::SHOP).await.unwrap();
    t
}

fn tool(name: &str) -> Command {
    Command::new(find_bin_dir().expect("PostgreSQL binaries").join(name))
}

/// A custom-format dump of the test's warehouse.
fn dump(t: &TestDb, tag: &str) -> PathBuf {
    let file = std::env::temp_dir().join(format!("brewlytics-{tag}-{}.dump", std::process::id()));
    let out = tool("pg_dump").args(["-Fc", "-f"]).arg(&file).arg(&t.olap_url).output().unwrap();
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    file
}

/// Replace the test's warehouse database with the dump (as an operator restores a backup).
async fn restore(t: &TestDb, file: &PathBuf) {
    let admin = connect_url(&format!("{}/postgres", t.base)).await;
    let name = &t.config.olap_db;
    admin.batch_execute(&format!("drop database \"{name}\" with (force)")).await.unwrap();
    admin.batch_execute(&format!("create database \"{name}\"")).await.unwrap();
    let out = tool("pg_restore").args(["--exit-on-error", "-d", &t.olap_url]).arg(file).output().unwrap();
    assert!(out.status.success(), "pg_restore: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(file);
}

/// Orders from 4 writers, then wait until the warehouse has them all.
async fn orders_applied(t: &TestDb) {
    Writers::start(&t.oltp_url, 4, 80).join().await;
    wait_drained(t, Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warehouse_restored_behind_pruned_changes_names_the_gap_then_rebases_exactly() {
    let t = shop_db().await;
    let retention = [("CDC_RETENTION", "1s")];
    let (daemon, _, _) = start_daemon(&t, &retention);
    orders_applied(&t).await;
    let backup = dump(&t, "restore-gap");
    let olap = t.olap().await;
    let restored_at: String = scalar(&olap, "select window_start from cdc_offset").await;
    orders_applied(&t).await;
    // Retention runs when the daemon starts: once the changes are older than CDC_RETENTION, a
    // restarted daemon prunes them (and marks what it pruned).
    drop(daemon);
    let oltp = t.oltp().await;
    wait_for("the changes to be older than the retention", Duration::from_secs(10), || async {
        scalar::<bool>(&oltp, "select max(changed_at) < now() - interval '1.5 s' from cdc_orders").await.then_some(())
    })
    .await;
    let (daemon, _, _) = start_daemon(&t, &retention);
    let xmax = restored_at.split(':').nth(1).unwrap().to_string();
    wait_for("retention to prune past the backup's checkpoint", Duration::from_secs(30), || async {
        let sql = format!("select coalesce((select max_txid >= '{xmax}'::xid8 from cdc_pruned), false)");
        scalar::<bool>(&oltp, &sql).await.then_some(())
    })
    .await;
    drop(daemon);
    restore(&t, &backup).await;

    // stop: nothing applied, the gap named in the log, status and verify.
    let (daemon, logs, metrics) = start_daemon(&t, &[("CDC_ON_SOURCE_CHANGE", "stop")]);
    let error = wait_for("the gap logged", Duration::from_secs(30), || async {
        logs.find("ERROR", "cdc_orders was pruned up to")
    })
    .await;
    let message = error["fields"]["message"].as_str().unwrap();
    assert!(message.contains("the checkpoint needs changes from txid"), "{message}");
    assert!(message.contains("brewlytics resync"), "says what the operator does: {message}");
    let status = status_json(&t);
    assert!(status["source_replaced"].as_str().is_some_and(|s| s.contains("was pruned up to")), "{status}");
    let (code, out) = cli(&t, &["verify"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("the OLTP source was replaced") && out.contains("was pruned up to"), "{out}");
    let gaps = metric(&reqwest::Client::new(), &metrics, "cdc_source_changes_total{reason=\"pruned\"}").await;
    assert_eq!(gaps, Some(1.0));
    let olap = t.olap().await;
    assert_eq!(scalar::<String>(&olap, "select window_start from cdc_offset").await, restored_at, "nothing applied");
    drop(daemon);

    // The default (resync): the daemon re-bases on its own and ends exact.
    let (daemon, _, _) = start_daemon(&t, &[]);
    wait_drained(&t, Duration::from_secs(60)).await;
    assert_equal_to_oltp(&t).await;
    let (code, out) = cli(&t, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(jobs(&t).await, ["initial", "rebase"]);
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warehouse_restored_with_every_change_still_there_streams_on() {
    let t = shop_db().await;
    let (daemon, _, _) = start_daemon(&t, &[]);
    orders_applied(&t).await;
    let backup = dump(&t, "restore-present");
    orders_applied(&t).await;
    drop(daemon);
    restore(&t, &backup).await;
    let (daemon, logs, _) = start_daemon(&t, &[]);
    wait_drained(&t, Duration::from_secs(60)).await;
    assert_equal_to_oltp(&t).await;
    let (code, out) = cli(&t, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(jobs(&t).await, ["initial"], "no resync");
    assert_eq!(logs.count("ERROR", "replaced"), 0);
    drop(daemon);
}
