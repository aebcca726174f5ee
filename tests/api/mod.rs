//! The order API, served on a real listener over a private database, driven with reqwest.
//! Every test checks the database afterwards: the right rows written, or none at all.

mod auth;
mod bench;
mod catalog;
mod concurrency;
mod errors;
mod events;
mod feedback;
mod k6;
mod load;
mod orders;
mod original;
pub(crate) mod schemathesis;
mod seed;

use brewlytics::{api, db::Role, tools::seed as seeder};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::support::{scalar, TestDb};

/// A running API over a fresh database.
pub(crate) struct TestApi {
    pub t: TestDb,
    pub url: String,
    /// The API key the server requires on writes, if any.
    pub api_key: Option<String>,
    pub db: Client,
    http: reqwest::Client,
    stop: CancellationToken,
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Tables a request may write.
pub(crate) const WRITTEN: [&str; 10] = [
    "orders",
    "order_items",
    "payments",
    "inventory_movements",
    "inventory",
    "customers",
    "products",
    "feedback",
    "app_events",
    "cdc_orders",
];

impl TestApi {
    /// An API over a seeded database.
    pub(crate) async fn seeded() -> Self {
        Self::seeded_with_key(None).await
    }

    /// An API over a seeded database that requires `key` on writes.
    pub(crate) async fn seeded_with_key(key: Option<&str>) -> Self {
        let api = Self::start(key).await;
        let mut client = api.t.oltp().await;
        seeder::seed(&mut client).await.expect("seed");
        api
    }

    /// An API over an empty (migrated) database.
    pub(crate) async fn empty() -> Self {
        Self::start(None).await
    }

    /// The API as `up` runs it: as the `brewlytics_api` role, with `key` as API_KEY.
    async fn start(key: Option<&str>) -> Self {
        let t = TestDb::new().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let mut config = t.config_as(Role::Api);
        config.api_key = key.map(Into::into);
        let shutdown = stop.clone().cancelled_owned();
        tokio::spawn(async move { api::serve(&config, listener, shutdown).await.expect("serve") });
        let db = t.oltp().await;
        TestApi { t, url, api_key: key.map(str::to_string), db, http: reqwest::Client::new(), stop }
    }

    /// Send a request and return the status and the JSON body (Null when the body is not JSON).
    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.url))).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.url)).json(&body)).await
    }

    pub(crate) async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.patch(format!("{}{path}", self.url)).json(&body)).await
    }

    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url))
    }

    /// Row counts of [`WRITTEN`], in that order.
    pub(crate) async fn counts(&self) -> Vec<i64> {
        let mut counts = Vec::new();
        for table in WRITTEN {
            counts.push(scalar::<i64>(&self.db, &format!("select count(*) from {table}")).await);
        }
        counts
    }

    /// One integer of a query.
    pub(crate) async fn int(&self, sql: &str) -> i64 {
        scalar::<i64>(&self.db, sql).await
    }

    /// One text of a query.
    pub(crate) async fn text(&self, sql: &str) -> String {
        scalar::<String>(&self.db, sql).await
    }

    /// A seeded active employee and a customer, product ids of a coffee and a food item.
    pub(crate) async fn fixture(&self) -> Fixture {
        Fixture {
            customer: self.int("select min(id)::int8 from customers").await,
            employee: self.int("select min(id)::int8 from employees where active").await,
            coffee: self.int("select id::int8 from products where name = 'Latte'").await,
            food: self.int("select id::int8 from products where name = 'Soup of the Day'").await,
        }
    }
}

/// Ids to build requests with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fixture {
    pub customer: i64,
    pub employee: i64,
    pub coffee: i64,
    pub food: i64,
}

/// A JSON number or numeric string as exact text (money keeps its scale).
pub(crate) fn exact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
