//! Capture overhead: `bench/order.sql` (the API's order transaction in SQL) under pgbench
//! against two clones of the seeded OLTP database, one with the capture triggers disabled
//! (`alter table … disable trigger user`; foreign-key triggers stay on). The runs alternate
//! on/off so that drift on the shared machine hits both; each side reports its median.
//!
//! A third clone keeps the triggers but turns their NOTIFY off (`brewlytics.notify = off`), to separate the cost of
//! writing the change rows from the cost of NOTIFY, which in PostgreSQL takes a database-wide
//! lock from pre-commit to the end of commit and so serialises the commits (and their WAL
//! flushes) of every notifying transaction.

use std::time::Duration;

use super::{
    api::pgbench,
    env::{connect, BenchEnv},
    report::{Figure, Goal, ScenarioResult},
    BenchError,
};
use crate::config::Config;

/// Tables with capture triggers (see migrations/oltp/V2__cdc_capture.sql).
const CAPTURED: [&str; 9] = [
    "stores",
    "customers",
    "products",
    "employees",
    "orders",
    "order_items",
    "payments",
    "inventory",
    "inventory_movements",
];

/// pgbench clients (the API's pool size is 16; 8 is the knee of pgbench on 2 cores).
pub(crate) const CLIENTS: usize = 8;

/// Run `rounds` alternating pgbench runs of `duration` on each side.
pub(super) async fn run(env: &BenchEnv, duration: Duration, rounds: usize) -> Result<ScenarioResult, BenchError> {
    let on = env.fresh_oltp("capture_on").await?;
    let off = env.fresh_oltp("capture_off").await?;
    let off_client = connect(&off).await?;
    for table in CAPTURED {
        off_client.batch_execute(&format!("alter table {table} disable trigger user")).await?;
    }
    let quiet = env.fresh_oltp("capture_nonotify").await?;
    let quiet_client = connect(&quiet).await?;
    drop_notify(&quiet_client).await?;
    let on_client = connect(&on).await?;
    let config = |dsn: &str| {
        let mut c = Config::defaults();
        c.oltp_database_url = Some(dsn.into());
        c
    };
    let (on_config, off_config, quiet_config) = (config(&on), config(&off), config(&quiet));
    let (mut with, mut without, mut no_notify) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        with.push(pgbench(&on_config, &on_client, CLIENTS, duration).await?);
        without.push(pgbench(&off_config, &off_client, CLIENTS, duration).await?);
        no_notify.push(pgbench(&quiet_config, &quiet_client, CLIENTS, duration).await?);
    }
    let changes: i64 = on_client.query_one("select count(*) from cdc_orders", &[]).await?.get(0);
    let captured_off: i64 = off_client.query_one("select count(*) from cdc_orders", &[]).await?.get(0);
    let (tps_on, tps_off, tps_quiet) = (median(&mut with), median(&mut without), median(&mut no_notify));
    let ratio = tps_on / tps_off;
    Ok(ScenarioResult {
        scenario: "capture",
        figures: vec![
            Figure::new("order tps, capture triggers on", tps_on, "tx/s"),
            Figure::new("overhead", (1.0 - ratio) * 100.0, "%"),
            Figure::new("order tps, triggers on without NOTIFY", tps_quiet, "tx/s"),
            Figure::new("overhead without NOTIFY", (1.0 - tps_quiet / tps_off) * 100.0, "%"),
        ],
        baseline: Figure::new("order tps, triggers disabled", tps_off, "tx/s"),
        ratio,
        ratio_of: "tps on / tps off".into(),
        goals: vec![Goal::new("<= 30% fewer tx/s with triggers (ratio >= 0.7)", ratio >= 0.7)],
        details: serde_json::json!({
            "clients": CLIENTS,
            "seconds_per_run": duration.as_secs(),
            "tps_on_runs": with,
            "tps_off_runs": without,
            "tps_on_without_notify_runs": no_notify,
            "change_rows_captured_on": changes,
            "change_rows_captured_off_beyond_seed": captured_off,
        }),
    })
}

/// Redefine the capture functions without their `pg_notify` call.
/// Turn the capture triggers' NOTIFY off for the clone's database (`brewlytics.notify = off`,
/// the switch the capture migration provides), so new sessions such as pgbench's send none.
async fn drop_notify(client: &tokio_postgres::Client) -> Result<(), BenchError> {
    client
        .batch_execute(
            "do $$ begin execute format('alter database %I set brewlytics.notify = off', current_database()); end $$",
        )
        .await?;
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
