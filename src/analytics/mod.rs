//! The analytics service (`brewlytics analytics`): the warehouse readable without Metabase. JSON
//! endpoints over the star schema covering the sibling systems' analytics (seeds 000, 001, 003,
//! 004), an OpenAPI document with a server-rendered docs page, and a live page at `/` that updates
//! itself by server-sent events.
//!
//! * It connects to the warehouse only, as the read-only `analytics_reader` role, in read-only
//!   sessions ([`crate::db::reader_pool`]): never OLTP, never a write.
//! * Answers come from the star tables, so a change applied a second ago shows; revenue is served
//!   orders' `fact_orders.total` ([`sales::REVENUE_RULE`]), and each response says so.
//! * [`router`] builds the application from an [`AnalyticsState`] (tests call it); [`serve`] binds
//!   it. Every route is declared once in [`endpoints`], which the OpenAPI test checks.
//! * Errors are JSON `{error, field}`: 400 malformed query string, 422 unknown, repeated or invalid
//!   parameter (named in `field`), 401 missing API key (when ANALYTICS_API_KEY is set), 405 a method
//!   other than GET (with `Allow`), 503 warehouse down or request over [`REQUEST_TIMEOUT`], 500
//!   internal (logged, never detailed).

mod auth;
mod customers;
mod daemon_metrics;
mod docs;
mod error;
mod forecast;
mod funnel;
mod health;
mod live;
mod openapi;
mod params;
mod sales;
mod satisfaction;
mod stores;

pub mod bench_cases;

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    handler::Handler,
    http::{Method, Uri},
    routing::{on, MethodFilter, MethodRouter},
    Router,
};
use deadpool_postgres::Pool;
use tokio::net::TcpListener;

use crate::{
    config::Config,
    db::{self, DbError},
};
use error::{AnalyticsError, AnalyticsResult};

/// Longest a JSON request may run before it is answered 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections the service keeps to the warehouse.
const POOL_SIZE: usize = 8;
/// Longest a request waits for a pooled connection.
const POOL_WAIT: Duration = Duration::from_secs(5);

/// What every handler can reach: the reader pool, the API key and the daemon's metrics.
#[derive(Clone)]
pub struct AnalyticsState {
    pool: Pool,
    api_key: Option<Arc<str>>,
    daemon: Arc<daemon_metrics::DaemonMetrics>,
}

impl AnalyticsState {
    /// State from the settings: the `analytics_reader` pool, ANALYTICS_API_KEY and ANALYTICS_METRICS_URL.
    pub fn new(config: &Config) -> Result<Self, DbError> {
        Ok(AnalyticsState {
            pool: db::reader_pool(config, POOL_SIZE)?,
            api_key: config.analytics_api_key.as_deref().map(Arc::from),
            daemon: Arc::new(daemon_metrics::DaemonMetrics::new(config.analytics_metrics_url())),
        })
    }

    /// A pooled reader connection; 503 when none can be had within a few seconds.
    async fn client(&self) -> AnalyticsResult<deadpool_postgres::Object> {
        match tokio::time::timeout(POOL_WAIT, self.pool.get()).await {
            Ok(client) => Ok(client?),
            Err(elapsed) => Err(AnalyticsError::Unavailable(Box::new(elapsed))),
        }
    }

    /// The pool, for the read-only test: the role this service writes with.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// Whether a route needs the API key (when one is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Data: needs the key.
    Key,
    /// The document, its docs page and liveness: open.
    Open,
}

/// One route: method, path, access and handler.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    handler: MethodRouter<AnalyticsState>,
}

fn get<H, T>(path: &'static str, access: Access, handler: H) -> Endpoint
where
    H: Handler<T, AnalyticsState>,
    T: 'static,
{
    Endpoint { method: Method::GET, path, access, handler: on(MethodFilter::GET, handler) }
}

/// Every route of the service. The router is built from exactly this list.
pub fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    vec![
        get("/api/v1/sales/summary", Key, sales::summary),
        get("/api/v1/sales/top-items", Key, sales::top_items),
        get("/api/v1/sales/hourly", Key, sales::hourly),
        get("/api/v1/stores/monthly", Key, stores::monthly),
        get("/api/v1/stores/peak-hours", Key, stores::peak_hours),
        get("/api/v1/forecast/daily", Key, forecast::daily),
        get("/api/v1/forecast/hourly", Key, forecast::hourly),
        get("/api/v1/customers/segments", Key, customers::segments),
        get("/api/v1/satisfaction", Key, satisfaction::satisfaction),
        get("/api/v1/funnel", Key, funnel::funnel),
        get("/api/v1/products/interest", Key, funnel::interest),
        get("/api/v1/health/pipeline", Key, health::pipeline),
        get("/api/v1/live", Key, live::snapshot),
        get("/live/events", Key, live::events),
        get("/", Key, live::page),
        get("/health", Open, health::liveness),
        get("/openapi.json", Open, openapi::document),
        get("/docs", Open, docs::page),
    ]
}

/// The whole application: routes, the API key, the request timeout and JSON fallbacks.
pub fn router(state: AnalyticsState) -> Router {
    let mut router = Router::new();
    for e in endpoints() {
        let handler = match e.access {
            Access::Key => {
                e.handler.route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_key))
            }
            Access::Open => e.handler,
        };
        // The event stream runs for as long as the page is open: no request timeout on it.
        let handler =
            if e.path == "/live/events" { handler } else { handler.layer(axum::middleware::from_fn(timeout)) };
        router = router.route(e.path, handler);
    }
    router.fallback(not_found).method_not_allowed_fallback(method_not_allowed).with_state(state)
}

async fn timeout(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(elapsed) => AnalyticsError::Unavailable(Box::new(elapsed)).into_response(),
    }
}

async fn not_found(uri: Uri) -> AnalyticsError {
    AnalyticsError::NotFound(format!("no such route {}: see GET /docs", uri.path()))
}

async fn method_not_allowed() -> AnalyticsError {
    AnalyticsError::MethodNotAllowed
}

/// Why the service could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("serving HTTP failed")]
    Io(#[from] std::io::Error),
}

/// Serve the service on `listener` until `shutdown` completes (open event streams end with it).
pub async fn serve<F>(config: &Config, listener: TcpListener, shutdown: F) -> Result<(), ServeError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let state = AnalyticsState::new(config)?;
    let stop = tokio_util::sync::CancellationToken::new();
    let app = router(state).layer(axum::Extension(live::Shutdown(stop.clone())));
    tracing::info!(addr = %listener.local_addr()?, auth = config.analytics_api_key.is_some(), "analytics service listening");
    let signal = async move {
        shutdown.await;
        stop.cancel();
    };
    axum::serve(listener, app).with_graceful_shutdown(signal).await?;
    tracing::info!("analytics service stopped");
    Ok(())
}
