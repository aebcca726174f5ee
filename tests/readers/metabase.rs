//! `brewlytics metabase setup` against the stand-in Metabase: the first run creates, the second
//! changes nothing, an edited description updates only what changed.

use std::time::Duration;

use axum::http::Method;
use brewlytics::{
    config::Config,
    tools::metabase::{self, Metabase, SetupArgs, SetupReport, Spec},
};
use serde_json::Value;

use super::{metabase_stub, repo};

fn args(url: &str, password: &str) -> SetupArgs {
    SetupArgs {
        metabase_host: url.to_string(),
        metabase_user: "admin@example.com".into(),
        metabase_password: password.into(),
        metabase_password_file: None,
        dashboard: repo().join("metabase/dashboard.json"),
        wait: Duration::from_secs(5),
    }
}

async fn run(url: &str, spec: &Spec, config: &Config) -> Result<SetupReport, metabase::MetabaseError> {
    let details = spec.database_details(config).unwrap();
    metabase::setup(&mut Metabase::new(url), &args(url, "metabase123"), spec, details).await
}

/// The dashcards of the only dashboard as (card name, col, row, size_x, size_y) and their ids.
fn layout(s: &metabase_stub::Stub) -> Vec<(String, [u64; 4], i64)> {
    let name = |id: &Value| s.cards.iter().find(|c| &c["id"] == id).unwrap()["name"].as_str().unwrap().to_string();
    let mut out: Vec<_> = s.dashboards[0]["dashcards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let at = ["col", "row", "size_x", "size_y"].map(|k| d[k].as_u64().unwrap());
            (name(&d["card_id"]), at, d["id"].as_i64().unwrap())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn metabase_setup_creates_everything_once_then_changes_nothing() {
    let (url, state) = metabase_stub::start().await;
    let spec = Spec::load(&repo().join("metabase/dashboard.json")).unwrap();
    let mut config = Config::defaults();
    config.olap_host = Some("warehouse.internal".into());
    config.reader_db_password = "reader-secret".into();

    let first = run(&url, &spec, &config).await.expect("first run");
    let n = spec.cards.len();
    assert!(first.first_run_setup && first.database_created && first.dashboard_created && first.layout_updated);
    assert_eq!((first.cards_created, first.cards_updated, first.cards_unchanged), (n, 0, 0));
    assert_eq!(first.url, format!("{url}/dashboard/{}", first.dashboard_id));
    let after_first = state.lock().unwrap().clone();
    assert_eq!(after_first.databases.len(), 1);
    let db = &after_first.databases[0];
    assert_eq!(
        (db["name"].as_str(), db["details"]["host"].as_str()),
        (Some("coffee_olap"), Some("warehouse.internal"))
    );
    assert_eq!(
        (db["details"]["user"].as_str(), db["stored_password"].as_str()),
        (Some("analytics_reader"), Some("reader-secret"))
    );
    assert_eq!(after_first.cards.len(), n);
    for card in &spec.cards {
        let stored = after_first.cards.iter().find(|c| c["name"] == card.name.as_str()).expect("card created");
        assert_eq!(stored["dataset_query"]["native"]["query"], card.sql.as_str());
        assert_eq!(stored["dataset_query"]["database"], db["id"]);
        assert_eq!(stored["display"], card.display.as_str());
    }
    let placed = layout(&after_first);
    let mut expected: Vec<_> = spec
        .cards
        .iter()
        .map(|c| (c.name.clone(), [c.layout.col, c.layout.row, c.layout.size_x, c.layout.size_y].map(u64::from)))
        .collect();
    expected.sort();
    assert_eq!(placed.iter().map(|(n, at, _)| (n.clone(), *at)).collect::<Vec<_>>(), expected);

    let mark = after_first.calls.len();
    let second = run(&url, &spec, &config).await.expect("second run");
    assert!(!second.first_run_setup && !second.database_created && !second.dashboard_created && !second.layout_updated);
    assert_eq!((second.cards_created, second.cards_updated, second.cards_unchanged), (0, 0, n));
    assert_eq!(second.dashboard_id, first.dashboard_id);
    let after_second = state.lock().unwrap().clone();
    // The only POST of a second run is the login; nothing is written.
    assert_eq!(after_second.calls_with(mark, &Method::POST), vec!["POST /api/session".to_string()]);
    assert!(after_second.calls_with(mark, &Method::PUT).is_empty(), "{:?}", after_second.calls);
    assert_eq!(
        (&after_second.databases, &after_second.cards, &after_second.dashboards),
        (&after_first.databases, &after_first.cards, &after_first.dashboards)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metabase_setup_updates_only_what_changed_and_names_the_failing_call() {
    let (url, state) = metabase_stub::start().await;
    let config = Config::defaults();
    let mut spec = Spec::load(&repo().join("metabase/dashboard.json")).unwrap();
    run(&url, &spec, &config).await.expect("first run");
    let before = layout(&state.lock().unwrap());

    // Edit: new SQL for card 0, card 1 moved below everything, the last card dropped, a new card.
    spec.cards[0].sql = "select 1 as p50_seconds, 2 as p95_seconds, 3 as rows_loaded, now() as last_loaded_at".into();
    spec.cards[1].layout.row = 100;
    let dropped = spec.cards.pop().unwrap();
    let mut added = spec.cards[1].clone();
    added.name = "Dead Letters (copy)".into();
    added.layout.row = 110;
    spec.cards.push(added);
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    let mark = state.lock().unwrap().calls.len();
    let report = run(&url, &spec, &config).await.expect("run after the edit");
    assert_eq!((report.cards_created, report.cards_updated), (1, 1));
    assert!(report.layout_updated && !report.dashboard_created && !report.database_created);
    let s = state.lock().unwrap().clone();
    let card_id = |name: &str| s.cards.iter().find(|c| c["name"] == name).unwrap()["id"].as_i64().unwrap();
    let writes: Vec<String> = [Method::POST, Method::PUT].iter().flat_map(|m| s.calls_with(mark, m)).collect();
    assert_eq!(
        writes,
        [
            "POST /api/session".to_string(),
            "POST /api/card".into(),
            format!("PUT /api/card/{}", card_id(&spec.cards[0].name)),
            format!("PUT /api/dashboard/{}", report.dashboard_id),
        ]
    );
    let after = layout(&s);
    // Dashcards of cards still described keep their ids; the dropped card leaves the dashboard
    // (the card itself stays); the new card's dashcard got a real id.
    for (name, _, id) in &before {
        match after.iter().find(|(n, _, _)| n == name) {
            Some((_, _, kept)) => assert_eq!(kept, id, "dashcard of '{name}' kept its id"),
            None => assert_eq!(name, &dropped.name),
        }
    }
    assert!(s.cards.iter().any(|c| c["name"] == dropped.name.as_str()), "dropped cards are not archived");
    let moved = after.iter().find(|(n, _, _)| n == &spec.cards[1].name).unwrap();
    assert_eq!(moved.1[1], 100);
    assert!(after.iter().any(|(n, _, id)| n == "Dead Letters (copy)" && *id > 0));
    drop(s);

    let err =
        metabase::setup(&mut Metabase::new(&url), &args(&url, "wrong"), &spec, spec.database_details(&config).unwrap())
            .await
            .unwrap_err()
            .to_string();
    assert!(err.starts_with("POST /api/session answered HTTP 401") && !err.contains("wrong"), "{err}");
}
