//! The analytics service over real warehouses: every figure cross-checked with an independent
//! query over OLTP, the read-only role, parameters, the API key, the document and docs page, a
//! change and a rating applied a second ago, and the live page in headless Chromium.

mod browser;
mod endpoints;
mod schemathesis;
mod service;

use std::time::Duration;

use brewlytics::{analytics, config::Config};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A running analytics service.
pub(crate) struct TestAnalytics {
    pub url: String,
    pub http: reqwest::Client,
    stop: CancellationToken,
}

impl Drop for TestAnalytics {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A metrics URL where nothing listens.
pub(crate) fn dead_metrics_url() -> String {
    format!("http://127.0.0.1:{}/metrics", brewlytics::tools::cluster::free_port().unwrap())
}

impl TestAnalytics {
    /// Serve `config`'s warehouse (its daemon metrics at a dead port unless set).
    pub(crate) async fn start(config: &Config) -> Self {
        let mut config = config.clone();
        config.analytics_metrics_url.get_or_insert_with(dead_metrics_url);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        tokio::spawn(async move { analytics::serve(&config, listener, shutdown).await.expect("serve analytics") });
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        TestAnalytics { url, http, stop }
    }

    /// GET a path: the status and the JSON body (Null when not JSON).
    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.url))).await
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// GET a path that must answer 200 JSON.
    pub(crate) async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

/// An exact decimal of a JSON number (or numeric string).
pub(crate) fn dec(v: &Value) -> Decimal {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.parse().unwrap_or_else(|_| panic!("not a decimal: {v}"))
}
