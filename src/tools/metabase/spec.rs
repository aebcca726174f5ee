//! `metabase/dashboard.json`: the dashboard, the data source and the cards, with their checks.

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::MetabaseError;
use crate::config::Config;

/// The whole description (see metabase/README.md).
#[derive(Debug, Clone, Deserialize)]
pub struct Spec {
    pub(crate) dashboard: DashboardSpec,
    pub(crate) database: DatabaseSpec,
    pub cards: Vec<CardSpec>,
}

/// The dashboard, found by `name`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DashboardSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_columns")]
    pub grid_columns: u32,
}

fn default_columns() -> u32 {
    24
}

/// The Metabase data source, found by `name`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DatabaseSpec {
    pub name: String,
    pub engine: String,
    /// Connection details sent when the data source is created.
    pub details: Map<String, Value>,
    /// Detail key → the setting (env name) that overrides it.
    #[serde(default)]
    pub details_from_env: BTreeMap<String, String>,
}

/// One native-SQL question, found by `name`.
#[derive(Debug, Clone, Deserialize)]
pub struct CardSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub display: String,
    pub sql: String,
    /// The SQL's output columns, in order.
    pub columns: Vec<String>,
    pub layout: Layout,
    #[serde(default = "empty_object")]
    pub visualization_settings: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// A place on the dashboard grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Layout {
    pub col: u32,
    pub row: u32,
    pub size_x: u32,
    pub size_y: u32,
}

impl Spec {
    /// Read and check a description file.
    pub fn load(path: &Path) -> Result<Self, MetabaseError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| MetabaseError::ReadSpec { path: path.to_path_buf(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse and check a description; `origin` names it in errors.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Self, MetabaseError> {
        let bad = |reason: String| MetabaseError::BadSpec { origin: origin.to_string(), reason };
        let de = &mut serde_json::Deserializer::from_str(text);
        let spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| bad(e.to_string()))?;
        let problems = spec.problems();
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(bad(problems.join("; ")))
        }
    }

    /// Everything wrong with the description: duplicate names, empty SQL, a trailing semicolon,
    /// layouts outside the grid or overlapping each other.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let columns = self.dashboard.grid_columns;
        for (i, card) in self.cards.iter().enumerate() {
            let name = &card.name;
            if self.cards[..i].iter().any(|c| &c.name == name) {
                problems.push(format!("card name '{name}' is used twice"));
            }
            if card.sql.trim().is_empty() || card.sql.trim_end().ends_with(';') {
                problems.push(format!("card '{name}': SQL is empty or ends with ';'"));
            }
            if card.columns.is_empty() {
                problems.push(format!("card '{name}': no columns declared"));
            }
            let l = card.layout;
            if l.size_x == 0 || l.size_y == 0 || l.col + l.size_x > columns {
                problems.push(format!("card '{name}': layout {l:?} does not fit {columns} columns"));
            }
            for other in &self.cards[..i] {
                if overlap(&l, &other.layout) {
                    problems.push(format!("card '{name}' overlaps card '{}'", other.name));
                }
            }
        }
        problems
    }

    /// The data source's connection details: `details`, each key of `details_from_env`
    /// replaced by that setting's value in `config` (numbers stay numbers).
    pub fn database_details(&self, config: &Config) -> Result<Map<String, Value>, MetabaseError> {
        let mut details = self.database.details.clone();
        for (key, setting) in &self.database.details_from_env {
            let value = config_setting(config, setting)
                .ok_or_else(|| MetabaseError::BadSpec {
                    origin: "details_from_env".into(),
                    reason: format!("'{setting}' (for {key}) is not a brewlytics setting"),
                })?
                .or_else(|| details.get(key).map(json_text));
            let Some(value) = value else {
                return Err(MetabaseError::BadSpec {
                    origin: "details_from_env".into(),
                    reason: format!("{setting} is not set and {key} has no default"),
                });
            };
            let number = matches!(details.get(key), Some(Value::Number(_))).then(|| value.parse::<u64>().ok());
            let json = match number {
                Some(Some(n)) => Value::from(n),
                Some(None) => {
                    return Err(MetabaseError::BadSpec {
                        origin: "details_from_env".into(),
                        reason: format!("{setting}={value} is not a number ({key})"),
                    })
                }
                None => Value::String(value),
            };
            details.insert(key.clone(), json);
        }
        Ok(details)
    }
}

/// Whether two grid rectangles share a cell.
pub fn overlap(a: &Layout, b: &Layout) -> bool {
    a.col < b.col + b.size_x && b.col < a.col + a.size_x && a.row < b.row + b.size_y && b.row < a.row + a.size_y
}

fn json_text(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

/// The value of a warehouse setting by its env name: `None` for a name brewlytics does not read,
/// `Some(None)` for a setting that is not set (only OLAP_HOST can be unset).
pub(crate) fn config_setting(config: &Config, env: &str) -> Option<Option<String>> {
    Some(match env {
        "OLAP_HOST" => config.olap_host.clone(),
        "OLAP_PORT" => Some(config.olap_port.to_string()),
        "OLAP_DB" => Some(config.olap_db.clone()),
        "READER_DB_PASSWORD" => Some(config.reader_db_password.expose().to_string()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../metabase/dashboard.json");

    #[test]
    fn the_shipped_description_is_valid() {
        let spec = Spec::parse(SHIPPED, "dashboard.json").unwrap();
        assert!(spec.cards.len() >= 5);
    }

    #[test]
    fn overlapping_or_too_wide_layouts_are_refused() {
        let mut v: Value = serde_json::from_str(SHIPPED).unwrap();
        v["cards"][1]["layout"]["col"] = 11.into();
        v["cards"][2]["layout"]["col"] = 20.into();
        let err = Spec::parse(&v.to_string(), "x").unwrap_err().to_string();
        assert!(err.contains("overlaps") && err.contains("does not fit 24 columns"), "{err}");
        assert!(overlap(
            &Layout { col: 0, row: 0, size_x: 2, size_y: 2 },
            &Layout { col: 1, row: 1, size_x: 1, size_y: 1 }
        ));
        assert!(!overlap(
            &Layout { col: 0, row: 0, size_x: 2, size_y: 2 },
            &Layout { col: 2, row: 0, size_x: 1, size_y: 1 }
        ));
    }

    #[test]
    fn details_come_from_the_settings() {
        let spec = Spec::parse(SHIPPED, "x").unwrap();
        let mut config = Config::defaults();
        config.olap_port = 6543;
        config.reader_db_password = "secret".into();
        let d = spec.database_details(&config).unwrap();
        assert_eq!(d["host"], "olap-db", "OLAP_HOST unset keeps the default");
        assert_eq!(d["port"], 6543);
        assert_eq!(d["password"], "secret");
        assert_eq!(d["user"], "analytics_reader");
        config.olap_host = Some("warehouse".into());
        assert_eq!(spec.database_details(&config).unwrap()["host"], "warehouse");
    }
}
