//! `brewlytics metabase setup`: make a Metabase match `metabase/dashboard.json` through its REST
//! API (the sequence is documented in metabase/README.md).
//!
//! Everything is found by name, so a second run creates nothing: the data source is created
//! once and never modified, cards are created or updated (only when they differ), the dashboard
//! is created once and its dashcards are replaced by the described layout in one
//! `PUT /api/dashboard/{id}` (only when they differ), existing dashcards keeping their ids.

mod api;
pub mod spec;

use std::{fmt, path::PathBuf, time::Duration};

use reqwest::Method;
use serde_json::{json, Map, Value};

pub use api::Metabase;
pub use spec::{CardSpec, Layout, Spec};

use api::{find_by_name, id_of};

use crate::config::{ConfigError, Secret};

impl SetupArgs {
    /// Read METABASE_PASSWORD_FILE, when it is set.
    pub fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = &self.metabase_password_file {
            self.metabase_password = Secret::from_file("METABASE_PASSWORD_FILE", path)?;
        }
        Ok(())
    }
}

/// Settings of `brewlytics metabase setup` (the warehouse as Metabase reaches it comes from the
/// global settings OLAP_HOST, OLAP_PORT, OLAP_DB and READER_DB_PASSWORD).
#[derive(Debug, Clone, clap::Args)]
pub struct SetupArgs {
    /// Base URL of Metabase.
    #[arg(long, env = "METABASE_HOST", default_value = "http://127.0.0.1:3000")]
    pub metabase_host: String,
    /// Metabase admin e-mail (created on a fresh Metabase).
    #[arg(long, env = "METABASE_USER", default_value = "admin@example.com")]
    pub metabase_user: String,
    /// Metabase admin password (dev default; set your own).
    #[arg(
        long,
        env = "METABASE_PASSWORD",
        default_value = "metabase123",
        hide_default_value = true,
        hide_env_values = true
    )]
    pub metabase_password: Secret,
    /// File holding METABASE_PASSWORD; wins over METABASE_PASSWORD.
    #[arg(long, env = "METABASE_PASSWORD_FILE")]
    pub metabase_password_file: Option<PathBuf>,
    /// The dashboard description to apply.
    #[arg(long, env = "METABASE_DASHBOARD", default_value = "metabase/dashboard.json")]
    pub dashboard: PathBuf,
    /// How long to wait for Metabase to answer GET /api/health.
    #[arg(long, default_value = "180s", value_parser = crate::config::parse_duration)]
    pub wait: Duration,
}

/// Why setup failed; API errors name the call (method and path).
#[derive(Debug, thiserror::Error)]
pub enum MetabaseError {
    #[error("cannot read the dashboard description {path}")]
    ReadSpec {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the dashboard description ({origin}) is invalid: {reason}")]
    BadSpec { origin: String, reason: String },
    #[error("{call} failed")]
    Request {
        call: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{call} answered HTTP {status}: {body}")]
    Status { call: String, status: u16, body: String },
    #[error("{call} answered unexpectedly: {reason}")]
    Response { call: String, reason: String },
    #[error("Metabase at {base} did not answer GET /api/health within {waited:?}")]
    NotReady {
        base: String,
        waited: Duration,
        #[source]
        last: Box<MetabaseError>,
    },
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetupReport {
    pub first_run_setup: bool,
    pub database_id: i64,
    pub database_created: bool,
    pub cards_created: usize,
    pub cards_updated: usize,
    pub cards_unchanged: usize,
    pub dashboard_id: i64,
    pub dashboard_created: bool,
    /// Whether the dashcards were replaced (false: already as described).
    pub layout_updated: bool,
    pub url: String,
}

impl fmt::Display for SetupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = |created| if created { "created" } else { "found" };
        writeln!(f, "data source #{} {}", self.database_id, verb(self.database_created))?;
        writeln!(
            f,
            "cards: {} created, {} updated, {} unchanged",
            self.cards_created, self.cards_updated, self.cards_unchanged
        )?;
        writeln!(
            f,
            "dashboard #{} {}, layout {}",
            self.dashboard_id,
            verb(self.dashboard_created),
            if self.layout_updated { "updated" } else { "unchanged" }
        )?;
        write!(f, "{}", self.url)
    }
}

/// Apply `spec` to the Metabase `mb` (health wait and login included); `details` are the data
/// source's connection details ([`Spec::database_details`]).
pub async fn setup(
    mb: &mut Metabase,
    args: &SetupArgs,
    spec: &Spec,
    details: Map<String, Value>,
) -> Result<SetupReport, MetabaseError> {
    mb.wait_healthy(args.wait).await?;
    let mut report = SetupReport {
        first_run_setup: mb.log_in(&args.metabase_user, args.metabase_password.expose()).await?,
        ..Default::default()
    };
    (report.database_id, report.database_created) = database(mb, spec, details).await?;
    let existing = mb.list("/api/card").await?;
    let mut card_ids = Vec::with_capacity(spec.cards.len());
    for card in &spec.cards {
        card_ids.push(upsert_card(mb, &existing, card, report.database_id, &mut report).await?);
    }
    let dashboards = mb.list("/api/dashboard").await?;
    (report.dashboard_id, report.dashboard_created) = match find_by_name(&dashboards, &spec.dashboard.name) {
        Some(d) => (id_of(d, "GET /api/dashboard")?, false),
        None => {
            let body = json!({"name": spec.dashboard.name, "description": spec.dashboard.description,
                              "collection_id": null, "parameters": []});
            let created = mb.call(Method::POST, "/api/dashboard", Some(&body)).await?;
            (id_of(&created, "POST /api/dashboard")?, true)
        }
    };
    report.layout_updated = lay_out(mb, report.dashboard_id, spec, &card_ids).await?;
    report.url = format!("{}/dashboard/{}", args.metabase_host.trim_end_matches('/'), report.dashboard_id);
    Ok(report)
}

/// Find the data source by name, or create it. Returns its id and whether it was created.
async fn database(mb: &mut Metabase, spec: &Spec, details: Map<String, Value>) -> Result<(i64, bool), MetabaseError> {
    let databases = mb.list("/api/database").await?;
    if let Some(db) = find_by_name(&databases, &spec.database.name) {
        return Ok((id_of(db, "GET /api/database")?, false));
    }
    let body = json!({"name": spec.database.name, "engine": spec.database.engine, "details": details,
                      "is_full_sync": true});
    let created = mb.call(Method::POST, "/api/database", Some(&body)).await?;
    Ok((id_of(&created, "POST /api/database")?, true))
}

/// Create or update one card by name; unchanged cards are left alone. Returns the card id.
async fn upsert_card(
    mb: &mut Metabase,
    cards: &[Value],
    card: &CardSpec,
    database_id: i64,
    report: &mut SetupReport,
) -> Result<i64, MetabaseError> {
    let body = json!({
        "name": card.name,
        "description": card.description,
        "display": card.display,
        "dataset_query": {"type": "native", "database": database_id,
                          "native": {"query": card.sql, "template-tags": {}}},
        "visualization_settings": card.visualization_settings,
        "collection_id": null,
    });
    let Some(existing) = find_by_name(cards, &card.name) else {
        report.cards_created += 1;
        return id_of(&mb.call(Method::POST, "/api/card", Some(&body)).await?, "POST /api/card");
    };
    let id = id_of(existing, "GET /api/card")?;
    if same_card(existing, &body) {
        report.cards_unchanged += 1;
    } else {
        mb.call(Method::PUT, &format!("/api/card/{id}"), Some(&body)).await?;
        report.cards_updated += 1;
    }
    Ok(id)
}

/// Whether a card as Metabase returns it already has every field of `wanted`.
fn same_card(existing: &Value, wanted: &Value) -> bool {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let query = |v: &Value| v.pointer("/dataset_query/native/query").cloned();
    let database = |v: &Value| v.pointer("/dataset_query/database").cloned();
    text(existing.get("description")) == text(wanted.get("description"))
        && existing.get("display") == wanted.get("display")
        && query(existing) == query(wanted)
        && database(existing) == database(wanted)
        && existing.get("visualization_settings") == wanted.get("visualization_settings")
        && existing.get("collection_id").unwrap_or(&Value::Null).is_null()
}

/// Put the cards on the dashboard as described, in one PUT unless already so. Dashcards already
/// showing a card keep their id; new ones get negative ids; others are removed.
async fn lay_out(mb: &mut Metabase, dashboard_id: i64, spec: &Spec, card_ids: &[i64]) -> Result<bool, MetabaseError> {
    let path = format!("/api/dashboard/{dashboard_id}");
    let dashboard = mb.call(Method::GET, &path, None).await?;
    let current = dashboard.get("dashcards").or_else(|| dashboard.get("ordered_cards"));
    let current: Vec<&Value> = current.and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    let mut next_new = 0;
    let mut used = Vec::new();
    let mut dashcards = Vec::with_capacity(spec.cards.len());
    for (card, &card_id) in spec.cards.iter().zip(card_ids) {
        let existing = current
            .iter()
            .filter_map(|d| Some((d.get("id")?.as_i64()?, d.get("card_id")?.as_i64()?)))
            .find(|(id, c)| *c == card_id && !used.contains(id));
        let id = match existing {
            Some((id, _)) => {
                used.push(id);
                id
            }
            None => {
                next_new -= 1;
                next_new
            }
        };
        let Layout { col, row, size_x, size_y } = card.layout;
        dashcards.push(json!({"id": id, "card_id": card_id, "col": col, "row": row, "size_x": size_x,
                              "size_y": size_y, "parameter_mappings": [], "series": [],
                              "visualization_settings": {}}));
    }
    let fields = ["id", "card_id", "col", "row", "size_x", "size_y"];
    let key = |d: &Value| fields.map(|f| d.get(f).and_then(Value::as_i64));
    let mut have: Vec<_> = current.iter().map(|d| key(d)).collect();
    let mut want: Vec<_> = dashcards.iter().map(key).collect();
    have.sort();
    want.sort();
    if have == want {
        return Ok(false);
    }
    let body = json!({"name": spec.dashboard.name, "description": spec.dashboard.description,
                      "dashcards": dashcards});
    mb.call(Method::PUT, &path, Some(&body)).await?;
    Ok(true)
}
