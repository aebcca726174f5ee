//! The app's conversion funnel end to end: sessions posted over HTTP (retried batches, late and
//! out-of-order events, abandoned carts, bounces) while orders flow and the daemon is killed, and
//! the funnel endpoint, the session fact and the dbt mart all equal what was sent; a session's
//! row is the same whatever order its events arrive in; verify finds a tampered session.

use std::{collections::BTreeMap, time::Duration};

use brewlytics::{api, tools::seed};
use chrono::{DateTime, SubsecRound, Utc};
use rand::{seq::SliceRandom, RngExt};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{
    analytics::TestAnalytics,
    readers::dbt::dbt_build,
    support::{
        assert_verified, load::Writers, process::DaemonProcess, scalar, verify_report, wait_caught_up, InProcessDaemon,
        TestDb,
    },
};

/// The order API in-process on `t`, until the token is cancelled.
async fn serve_api(t: &TestDb) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let (config, shutdown) = (t.config.clone(), stop.clone().cancelled_owned());
    tokio::spawn(async move { api::serve(&config, listener, shutdown).await.expect("serve the API") });
    (base, stop)
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Value {
    let response = http.post(url).json(body).send().await.expect("request sent");
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "POST {url}: {status} {answer}");
    answer
}

/// The milestones one session reached, as the funnel counts them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Reached {
    viewed: bool,
    added: bool,
    checkout: bool,
    purchased: bool,
    bounced: bool,
}

/// How far a planned session goes.
const REACH: [&[&str]; 6] = [
    &["session_start"],
    &["session_start", "menu_view", "search"],
    &["session_start", "menu_view", "product_view", "product_view"],
    &["session_start", "product_view", "add_to_cart", "remove_from_cart"],
    &["session_start", "menu_view", "product_view", "add_to_cart", "checkout_start"],
    &["session_start", "menu_view", "product_view", "add_to_cart", "checkout_start", "order_placed"],
];

/// A session's events, `at` minutes ago in event order, but a third of them with their clock
/// running backwards (an event posted with an earlier time than the one before).
fn events(kinds: &[&str], order: Option<i64>, start: DateTime<Utc>) -> Vec<Value> {
    let mut rng = rand::rng();
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let skew = if rng.random_bool(0.3) { -7 } else { 0 };
            let at = start + chrono::Duration::seconds(10 * i as i64 + skew);
            let mut e = json!({ "event_id": i, "type": kind, "at": at.to_rfc3339() });
            match *kind {
                "product_view" | "add_to_cart" | "remove_from_cart" => e["product_id"] = json!(1 + i % 6),
                "search" => e["query"] = json!("flat white"),
                "order_placed" => e["order_id"] = json!(order.expect("a purchase has its order")),
                _ => {}
            }
            e
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_sent_with_retries_late_events_and_sigkills_count_exactly_everywhere() {
    let t = TestDb::new().await;
    seed::seed(&mut t.oltp().await).await.expect("seed");
    let (base, stop_api) = serve_api(&t).await;
    let http = reqwest::Client::new();
    let writers = Writers::start(&t.oltp_url, 2, 0);
    let mut daemon = Some(DaemonProcess::start(&t));
    let mut counts = BTreeMap::<&str, i64>::new();
    let mut batches = Vec::new();
    let start = Utc::now() - chrono::Duration::minutes(30);
    for n in 0..240 {
        let kinds = REACH[n % REACH.len()];
        let order = if kinds.contains(&"order_placed") {
            let body =
                json!({"customer_id": 1 + n % 20, "store_id": 1, "items": [{"product_id": 1 + n % 6, "quantity": 1}]});
            post(&http, &format!("{base}/orders/new"), &body).await["order_id"].as_i64()
        } else {
            None
        };
        let session = uuid::Uuid::new_v4().to_string();
        let mut evs = events(kinds, order, start + chrono::Duration::seconds(n as i64));
        let reached = Reached {
            viewed: kinds.contains(&"product_view"),
            added: kinds.contains(&"add_to_cart"),
            checkout: kinds.contains(&"checkout_start"),
            purchased: kinds.contains(&"order_placed"),
            bounced: kinds.len() == 1,
        };
        for (key, hit) in [
            ("sessions", true),
            ("viewed", reached.viewed),
            ("added", reached.added),
            ("checkout", reached.checkout),
            ("purchased", reached.purchased),
            ("bounced", reached.bounced),
        ] {
            *counts.entry(key).or_default() += i64::from(hit);
        }
        // One to three batches, sent in a random order among everyone's; a fifth sent twice.
        evs.shuffle(&mut rand::rng());
        let parts = rand::rng().random_range(1..=3usize).min(evs.len());
        for chunk in evs.chunks(evs.len().div_ceil(parts)) {
            let body = json!({"session_id": session, "store_id": 1, "customer_id": 1 + n % 20, "events": chunk});
            let twice = rand::rng().random_bool(0.2);
            batches.push(body.clone());
            if twice {
                batches.push(body);
            }
        }
    }
    batches.shuffle(&mut rand::rng());
    let (mut accepted, mut duplicates) = (0, 0);
    for (i, body) in batches.iter().enumerate() {
        let answer = post(&http, &format!("{base}/events"), body).await;
        accepted += answer["accepted"].as_i64().unwrap();
        duplicates += answer["duplicates"].as_i64().unwrap();
        if i % 150 == 149 {
            daemon.take().expect("a daemon").kill(); // SIGKILL at an arbitrary point of the stream
            daemon = Some(DaemonProcess::start(&t));
        }
    }
    let sent: i64 = batches.iter().map(|b| b["events"].as_array().unwrap().len() as i64).sum();
    assert_eq!(accepted + duplicates, sent);
    assert!(duplicates > 0, "some batches were sent twice");
    writers.stop().await;
    stop_api.cancel();
    wait_caught_up(&t, Duration::from_secs(90)).await;
    drop(daemon);
    assert_verified(&t).await;

    let olap = t.olap().await;
    let row = olap
        .query_one(
            "select count(*), count(first_product_view_at), count(first_add_to_cart_at), count(checkout_at),
                    count(purchased_at), count(*) filter (where bounced), sum(event_count)
             from fact_app_sessions where not is_deleted",
            &[],
        )
        .await
        .unwrap();
    let fact: Vec<i64> = (0..6).map(|i| row.get(i)).collect();
    let want = ["sessions", "viewed", "added", "checkout", "purchased", "bounced"].map(|k| counts[k]);
    assert_eq!(fact, want, "the session fact counts what was sent");
    assert_eq!(row.get::<_, i64>(6), accepted, "every stored event in its session, once");

    let svc = TestAnalytics::start(&t.config).await;
    let (from, to) = ((start - chrono::Duration::days(1)).date_naive(), Utc::now().date_naive());
    let funnel = svc.ok(&format!("/api/v1/funnel?from={from}&to={to}")).await;
    let endpoint = ["sessions", "viewed_product", "added_to_cart", "started_checkout", "purchased", "bounced"]
        .map(|k| funnel[k].as_i64().unwrap_or_else(|| panic!("{k} in {funnel}")));
    assert_eq!(endpoint, want, "the funnel endpoint counts what was sent: {funnel}");
    assert!(funnel["median_seconds_to_purchase"].as_f64().unwrap() > 0.0, "{funnel}");

    let results = dbt_build(&t).await;
    let failed: Vec<_> = results.iter().filter(|r| !matches!(r["status"].as_str(), Some("success" | "pass"))).collect();
    assert!(failed.is_empty(), "dbt nodes not successful: {failed:#?}");
    let mart = olap
        .query_one(
            "select sum(sessions)::int8, sum(viewed_product)::int8, sum(added_to_cart)::int8,
                    sum(started_checkout)::int8, sum(purchased)::int8, sum(bounced)::int8
             from marts.funnel_daily",
            &[],
        )
        .await
        .unwrap();
    let mart: Vec<i64> = (0..6).map(|i| mart.get(i)).collect();
    assert_eq!(mart, want, "the dbt mart counts what was sent");

    // A session row changed by hand is a difference verify names.
    olap.batch_execute(
        "update fact_app_sessions set purchased_at = null
         where session_id = (select session_id from fact_app_sessions where purchased_at is not null limit 1)",
    )
    .await
    .unwrap();
    let report = verify_report(&mut t.oltp().await, &mut t.olap().await).await;
    assert!(report.differences.iter().any(|d| d.check.starts_with("app sessions")), "{:#?}", report.differences);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_ends_the_same_whatever_order_its_events_arrive_in() {
    let t = TestDb::new().await;
    seed::seed(&mut t.oltp().await).await.expect("seed");
    let (base, stop_api) = serve_api(&t).await;
    let http = reqwest::Client::new();
    let order = post(
        &http,
        &format!("{base}/orders/new"),
        &json!({"customer_id": 3, "store_id": 2, "items": [{"product_id": 4, "quantity": 2}]}),
    )
    .await["order_id"]
        .as_i64();
    let kinds = ["session_start", "product_view", "add_to_cart", "checkout_start", "order_placed"];
    // Whole milliseconds: the warehouse keeps microseconds, the client clock has more.
    let start = (Utc::now() - chrono::Duration::minutes(10)).trunc_subsecs(3);
    let template = events(&kinds, order, start);
    let daemon = InProcessDaemon::start(&t.config);
    // Every arrival order of the five events (120), one session each, each event its own batch:
    // the daemon applies them in whatever batches they fall into.
    let mut permutation: Vec<usize> = (0..kinds.len()).collect();
    let mut sessions = 0;
    loop {
        let session = uuid::Uuid::new_v4().to_string();
        for &i in &permutation {
            let body = json!({"session_id": session, "store_id": 2, "customer_id": 3, "events": [template[i].clone()]});
            post(&http, &format!("{base}/events"), &body).await;
        }
        sessions += 1;
        if !next_permutation(&mut permutation) {
            break;
        }
    }
    assert_eq!(sessions, 120);
    stop_api.cancel();
    wait_caught_up(&t, Duration::from_secs(60)).await;
    daemon.stop().await;
    let olap = t.olap().await;
    let rows = olap
        .query(
            "select distinct date_key, time_key, store_key, customer_key, started_at, ended_at, first_product_view_at,
                    first_add_to_cart_at, checkout_at, purchased_at, order_id, revenue, event_count, bounced, is_deleted
             from fact_app_sessions",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "120 arrival orders, one session row: {rows:?}");
    let r = &rows[0];
    let at = |i: usize| -> DateTime<Utc> { template[i]["at"].as_str().unwrap().parse().unwrap() };
    let first = (0..5).map(at).min().unwrap();
    assert_eq!(r.get::<_, DateTime<Utc>>(4), first, "started at its earliest event");
    assert_eq!(r.get::<_, Option<DateTime<Utc>>>(9), Some(at(4)), "purchased when the order was placed");
    assert_eq!((r.get::<_, Option<i32>>(10).map(i64::from), r.get::<_, i32>(12)), (order, 5));
    assert_eq!(scalar::<i64>(&olap, "select count(*) from fact_app_sessions").await, 120);
    assert_verified(&t).await;
}

/// The next permutation in lexicographic order; false after the last.
fn next_permutation(p: &mut [usize]) -> bool {
    let Some(i) = (1..p.len()).rev().find(|&i| p[i - 1] < p[i]) else { return false };
    let j = (i..p.len()).rev().find(|&j| p[j] > p[i - 1]).expect("a larger element");
    p.swap(i - 1, j);
    p[i..].reverse();
    true
}

/// `sessions` app sessions of five events each (every tenth bounced after one), written with the
/// capture bypassed: history `cdc_orders` does not hold, as in a restored database.
const EVENT_HISTORY: &str = "
    set session_replication_role = replica;
    insert into app_events (session_id, event_id, event_type, at, store_id, customer_id, product_id, quantity)
    select md5(s::text)::uuid, e.n, e.t, now() - make_interval(mins => s, secs => 60 - 10 * e.n), 1 + s % 2,
           1 + s % 20, case when e.t in ('product_view', 'add_to_cart') then 1 + s % 6 end,
           case when e.t = 'add_to_cart' then 1 end
    from generate_series(1, $SESSIONS) s,
         (values (0, 'session_start'), (1, 'menu_view'), (2, 'product_view'), (3, 'add_to_cart'),
                 (4, 'checkout_start')) as e(n, t)
    where e.n = 0 or s % 10 <> 0;
    set session_replication_role = origin;
";

#[tokio::test(flavor = "multi_thread")]
async fn sessions_older_than_the_warehouse_come_with_the_initial_snapshot_and_a_resync_rebuilds_them() {
    let t = TestDb::new().await;
    let oltp = t.oltp().await;
    seed::seed(&mut t.oltp().await).await.expect("seed");
    oltp.batch_execute(&EVENT_HISTORY.replace("$SESSIONS", "300")).await.unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, Duration::from_secs(60)).await;
    let olap = t.olap().await;
    let sessions = "select count(*)::int8 || '/' || count(*) filter (where bounced) || '/' || count(checkout_at)
                    from fact_app_sessions where not is_deleted";
    assert_eq!(scalar::<String>(&olap, sessions).await, "300/30/270", "rebuilt at the end of the snapshot");
    assert_verified(&t).await;
    // A session row broken by hand, and a resync of the sessions: rebuilt from the events.
    olap.batch_execute("update fact_app_sessions set event_count = 99, checkout_at = null").await.unwrap();
    let target = brewlytics::cdc::snapshot_job::StarTable::from_name("fact_app_sessions").expect("a star table");
    brewlytics::cdc::snapshot_job::request_resync(&olap, &[target]).await.unwrap();
    crate::support::wait_for("the resync", Duration::from_secs(60), || async {
        (scalar::<i64>(&olap, "select count(*) from cdc_snapshot where state <> 'done'").await == 0
            && scalar::<i64>(&olap, "select count(*) from cdc_snapshot").await == 2)
            .then_some(())
    })
    .await;
    daemon.stop().await;
    assert_eq!(scalar::<String>(&olap, sessions).await, "300/30/270");
    assert_verified(&t).await;
}
