//! Capture overhead: `bench/order.sql` (the API's order transaction in SQL) under pgbench
//! against clones of the seeded OLTP database that differ only in how changes are captured:
//!
//! * `none`: the capture triggers disabled (`alter table … disable trigger user`; foreign-key
//!   triggers stay on) — the baseline;
//! * `ours`: our capture as migrated, default configuration (row triggers, no NOTIFY);
//! * `ours + NOTIFY`: the same with `cdc_set_notify(true)` (a notifying transaction holds a
//!   database-wide lock from pre-commit to the end of commit, which serialises commits);
//! * `PgQ`: PgQ's `pgq.logutriga` row triggers on the same tables instead of ours (the peer; the
//!   Debian package `postgresql-15-pgq3` must be installed, else the scenario says so).
//!
//! Each of `ours` and `PgQ` also runs under pgbench's simple protocol (`-M simple`, every
//! statement sent as text) against `none` under the same protocol: a capture trigger's cost
//! should not depend on how the client talks.
//!
//! And the events-heavy mix ([`Workload::OrdersWithEvents`]: each order followed by its app
//! session's ten events): `ours + app events` against `none + app events`, and what the events
//! cost the order path (orders per second with their sessions against orders alone, both captured).
//!
//! The machine is shared and noisy, so each round runs every variant right beside one run of the
//! baseline of its workload and protocol (one group each: the prepared orders `none`, `ours`,
//! `ours + NOTIFY`, `PgQ`; the same under the simple protocol without NOTIFY; the app events
//! `none`, `ours`), rotating each group's order from round to round so a drift of the machine
//! falls on every member alike. A variant's figure is the median of its per-round ratios to that
//! round's baseline; ours and PgQ divide by the same baseline run, and their head-to-head ratio is
//! reported too. Every database gets one unmeasured warm-up run first (its tables and WAL settle).

use std::time::Duration;

use super::{
    api::{pgbench_at, Protocol},
    env::{connect, BenchEnv},
    report::{Figure, Goal, ScenarioResult},
    workload::{Workload, EVENTS_PER_ORDER},
    BenchError,
};
use crate::config::Config;

/// Tables with capture triggers: every captured table.
fn captured() -> impl Iterator<Item = &'static str> {
    crate::tables::sources().map(|(_, s)| s.name)
}

/// The unmeasured first run of each database.
const WARM_UP: Duration = Duration::from_secs(2);

/// pgbench clients (the API's pool size is 16; 8 is the knee of pgbench on 2 cores).
pub(crate) const CLIENTS: usize = 8;

/// The PgQ capture of the same tables (after ours is disabled).
fn pgq_setup() -> String {
    let triggers: String = captured()
        .map(|t| {
            format!(
                "create trigger pgq_capture after insert or update or delete on {t} \
                 for each row execute function pgq.logutriga('brewlytics');"
            )
        })
        .collect();
    format!("create extension if not exists pgq; select pgq.create_queue('brewlytics'); {triggers}")
}

/// One capture variant: its database and its pgbench runs.
struct Variant {
    name: &'static str,
    workload: Workload,
    protocol: Protocol,
    dsn: String,
    client: tokio_postgres::Client,
    tps: Vec<f64>,
    ratios: Vec<f64>,
}

impl Variant {
    async fn new(env: &BenchEnv, name: &'static str, db: &str, setup: &str) -> Result<Self, BenchError> {
        Self::with(env, name, db, setup, Workload::Orders).await
    }

    async fn with(
        env: &BenchEnv,
        name: &'static str,
        db: &str,
        setup: &str,
        workload: Workload,
    ) -> Result<Self, BenchError> {
        let dsn = env.fresh_oltp(db).await?;
        let client = connect(&dsn).await?;
        client.batch_execute(setup).await?;
        let protocol = Protocol::Prepared;
        Ok(Variant { name, workload, protocol, dsn, client, tps: Vec::new(), ratios: Vec::new() })
    }

    /// The same under pgbench's simple protocol.
    async fn simple(env: &BenchEnv, name: &'static str, db: &str, setup: &str) -> Result<Self, BenchError> {
        Ok(Variant { protocol: Protocol::Simple, ..Self::new(env, name, db, setup).await? })
    }

    async fn run(&mut self, duration: Duration) -> Result<f64, BenchError> {
        let mut config = Config::defaults();
        config.oltp_database_url = Some(self.dsn.clone().into());
        let tps = pgbench_at(&config, &self.client, self.workload, CLIENTS, duration, None, self.protocol).await?;
        self.tps.push(tps);
        Ok(tps)
    }
}

fn disable_ours() -> String {
    captured().map(|t| format!("alter table {t} disable trigger user;")).collect()
}

/// Run `rounds` pairs of pgbench runs of `duration` for each variant.
pub(super) async fn run(env: &BenchEnv, duration: Duration, rounds: usize) -> Result<ScenarioResult, BenchError> {
    let events = Workload::OrdersWithEvents;
    let mut none = Variant::new(env, "none", "capture_none", &disable_ours()).await?;
    let mut none_events =
        Variant::with(env, "none + app events", "capture_none_events", &disable_ours(), events).await?;
    let mut none_simple =
        Variant::simple(env, "none (simple protocol)", "capture_none_simple", &disable_ours()).await?;
    let mut variants = vec![
        Variant::new(env, "ours", "capture_ours", "").await?,
        Variant::new(env, "ours + NOTIFY", "capture_notify", "select cdc_set_notify(true)").await?,
        Variant::simple(env, "ours (simple protocol)", "capture_ours_simple", "").await?,
    ];
    let pgq = disable_ours() + &pgq_setup();
    let pgq = match Variant::new(env, "PgQ logutriga", "capture_pgq", &pgq).await {
        Ok(v) => {
            variants.push(v);
            variants.push(Variant::simple(env, "PgQ logutriga (simple protocol)", "capture_pgq_simple", &pgq).await?);
            None
        }
        Err(e) => Some(format!("PgQ unavailable (install postgresql-15-pgq3): {}", crate::telemetry::Chain(&e))),
    };
    variants.push(Variant::with(env, "ours + app events", "capture_ours_events", "", events).await?);
    for v in [&mut none, &mut none_events, &mut none_simple].into_iter().chain(variants.iter_mut()) {
        v.run(WARM_UP).await?;
        v.tps.clear();
    }
    for round in 0..rounds.max(1) {
        for (base, workload, protocol) in [
            (&mut none, Workload::Orders, Protocol::Prepared),
            (&mut none_simple, Workload::Orders, Protocol::Simple),
            (&mut none_events, events, Protocol::Prepared),
        ] {
            let mut members: Vec<&mut Variant> =
                variants.iter_mut().filter(|v| v.workload == workload && v.protocol == protocol).collect();
            group(base, &mut members, duration, round).await?;
        }
    }
    let changes: i64 = variants[0].client.query_one("select count(*) from cdc_orders", &[]).await?.get(0);
    let leaked: i64 = none.client.query_one("select count(*) from cdc_orders", &[]).await?.get(0);
    Ok(result(Runs { none, none_events, none_simple, variants, pgq_missing: pgq, changes, leaked }, duration))
}

/// One run of `base` and one of each member, in an order rotated by `round`; pushes each
/// member's tps over the base's onto its ratios.
async fn group(
    base: &mut Variant,
    members: &mut [&mut Variant],
    duration: Duration,
    round: usize,
) -> Result<(), BenchError> {
    let n = members.len() + 1;
    let mut tps = vec![0.0; n];
    for k in 0..n {
        let i = (k + round) % n;
        tps[i] = match i {
            0 => base.run(duration).await?,
            _ => members[i - 1].run(duration).await?,
        };
    }
    for (m, t) in members.iter_mut().zip(&tps[1..]) {
        m.ratios.push(t / tps[0].max(1e-9));
    }
    Ok(())
}

/// Everything a capture run measured.
struct Runs {
    none: Variant,
    none_events: Variant,
    none_simple: Variant,
    variants: Vec<Variant>,
    pgq_missing: Option<String>,
    changes: i64,
    leaked: i64,
}

fn result(r: Runs, duration: Duration) -> ScenarioResult {
    let base = median(&r.none.tps);
    let mut figures = Vec::new();
    let mut ratios = Vec::new();
    for v in &r.variants {
        let (tps, ratio) = (median(&v.tps), median(&v.ratios));
        figures.push(Figure::new(format!("order tps, {}", v.name), tps, "tx/s"));
        figures.push(Figure::new(format!("fewer tx/s, {} (median round)", v.name), (1.0 - ratio) * 100.0, "%"));
        ratios.push((v.name, ratio, tps));
    }
    let ours = ratios[0].1;
    let ratio_of = |name: &str| ratios.iter().find(|(n, ..)| *n == name).map(|r| r.1);
    let runs_of = |name: &str| r.variants.iter().find(|v| v.name == name).map(|v| &v.tps);
    let with_events = ratios.iter().find(|(n, ..)| n.ends_with("app events")).map_or(0.0, |r| r.2);
    figures.push(Figure::new("order tps, none + app events", median(&r.none_events.tps), "tx/s"));
    figures.push(Figure::new("order tps, none (simple protocol)", median(&r.none_simple.tps), "tx/s"));
    figures.push(Figure::new(
        format!("fewer orders/s with {EVENTS_PER_ORDER} app events each, both captured"),
        (1.0 - with_events / ratios[0].2.max(1e-9)) * 100.0,
        "%",
    ));
    let mut goals = vec![Goal::new("<= 25% fewer tx/s with the default capture", ours >= 0.75)];
    if let Some(why) = &r.pgq_missing {
        goals.push(Goal::new(format!("no dearer than PgQ: not measured, {why}"), false));
    }
    for (protocol, ours, pgq) in
        [("prepared", "ours", "PgQ logutriga"), ("simple", "ours (simple protocol)", "PgQ logutriga (simple protocol)")]
    {
        if let (Some(o), Some(p)) = (ratio_of(ours), ratio_of(pgq)) {
            let goal = format!("no dearer than PgQ's capture of the same tables ({protocol} protocol)");
            goals.push(Goal::new(goal, o >= p));
        }
        if let (Some(o), Some(p)) = (runs_of(ours), runs_of(pgq)) {
            let head_to_head: Vec<f64> = o.iter().zip(p).map(|(o, p)| o / p.max(1e-9)).collect();
            let name = format!("tps ours / tps PgQ, {protocol} protocol (median round)");
            figures.push(Figure::new(name, median(&head_to_head), "x"));
        }
    }
    ScenarioResult {
        scenario: "capture",
        figures,
        baseline: Figure::new("order tps, no capture", base, "tx/s"),
        ratio: ours,
        ratio_of: "tps ours / tps none (median round)".into(),
        goals,
        details: serde_json::json!({
            "clients": CLIENTS,
            "seconds_per_run": duration.as_secs(),
            "tps_none_runs": r.none.tps,
            "tps_none_events_runs": r.none_events.tps,
            "tps_none_simple_runs": r.none_simple.tps,
            "variants": r.variants.iter().map(|v| serde_json::json!({"name": v.name, "protocol": v.protocol.name(), "tps_runs": v.tps, "ratios_to_baseline": v.ratios})).collect::<Vec<_>>(),
            "pgq": r.pgq_missing.unwrap_or_else(|| "measured".into()),
            "change_rows_captured_ours": r.changes,
            "change_rows_captured_none_beyond_seed": r.leaked,
        }),
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
