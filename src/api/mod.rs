//! The order API: an axum service over the OLTP database.
//!
//! [`router`] builds the whole application from an [`AppState`] (tests call it directly);
//! [`serve`] binds it to a listener with graceful shutdown (the `brewlytics api` subcommand).
//! Every route is declared once in [`endpoints`], which both builds the router and lets the
//! OpenAPI test check that `/openapi.json` documents every route.
//!
//! Conventions:
//! * Errors are JSON `{"error": "...", "field": "..."}` ([`ApiError`]): 400 malformed JSON or path,
//!   415 not JSON, 413 body over [`BODY_LIMIT`], 422 invalid values (including ids in the body that
//!   name no row), 404 unknown resource in the path, 409 conflicts, 503 database down or request
//!   over [`REQUEST_TIMEOUT`], 500 internal (logged, never detailed).
//! * Money is `numeric` in the database and `Decimal` here, and goes out as an exact JSON number
//!   (`"price": 3.50`); requests accept a JSON number or a numeric string.
//! * Each write is one transaction (most are one statement): a failed request writes nothing.
//! * With `API_KEY` set, every write needs it ([`auth`]: 401 without it); reads stay open.
//! * The pool connects as the configured user (`up`: `brewlytics_api`) with `application_name`
//!   `brewlytics-api`, so `status` can show the role the API runs as.

mod auth;
mod catalog;
mod customers;
mod employees;
mod error;
mod events;
mod extract;
mod feedback;
mod health;
mod inventory;
mod middleware;
mod openapi;
mod orders;
mod products;
mod sql;
mod validate;

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::DefaultBodyLimit,
    handler::Handler,
    http::Method,
    routing::{on, MethodFilter, MethodRouter},
    Router,
};
use deadpool_postgres::Pool;
use tokio::net::TcpListener;

pub(crate) use error::{ApiError, ApiResult};

use crate::{
    config::{Config, Secret},
    db::{self, Db, DbError},
    shop::Catalog,
};

/// Largest accepted request body.
pub(crate) const BODY_LIMIT: usize = 256 * 1024;
/// Longest a request may run before it is answered 503 (and its transaction rolled back).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections the API keeps to the OLTP database.
pub(crate) const POOL_SIZE: usize = 16;
/// Longest a request waits for a pooled connection.
const POOL_WAIT: Duration = Duration::from_secs(5);
/// How long `POST /orders/random` reuses a loaded catalogue.
const CATALOG_TTL: Duration = Duration::from_secs(5);

/// What every handler can reach: the OLTP pool, a short-lived catalogue cache, the API key.
#[derive(Clone)]
pub struct AppState {
    pool: Pool,
    catalog: Arc<Mutex<Option<CachedCatalog>>>,
    api_key: Option<Arc<Secret>>,
}

/// A catalogue and when it was loaded.
type CachedCatalog = (Instant, Arc<Catalog>);

impl AppState {
    /// State over an OLTP connection pool (see [`db::pool`]).
    pub fn new(pool: Pool) -> Self {
        AppState { pool, catalog: Arc::default(), api_key: None }
    }

    /// Require `key` on every write (none: writes are open).
    pub fn with_api_key(mut self, key: Option<Secret>) -> Self {
        self.api_key = key.map(Arc::new);
        self
    }

    /// A pooled connection; 503 when none can be had within a few seconds.
    async fn client(&self) -> ApiResult<deadpool_postgres::Object> {
        match tokio::time::timeout(POOL_WAIT, self.pool.get()).await {
            Ok(client) => Ok(client?),
            Err(elapsed) => Err(ApiError::Unavailable(Box::new(elapsed))),
        }
    }

    /// The catalogue the random-order generator draws from, reloaded every [`CATALOG_TTL`]
    /// (an unusable, e.g. empty, catalogue is not cached).
    async fn catalog(&self) -> ApiResult<Arc<Catalog>> {
        if let Some((at, catalog)) = self.catalog.lock().expect("catalog lock").as_ref() {
            if at.elapsed() < CATALOG_TTL {
                return Ok(catalog.clone());
            }
        }
        let client = self.client().await?;
        let catalog = Arc::new(Catalog::load(&client).await?);
        if catalog.is_usable() {
            *self.catalog.lock().expect("catalog lock") = Some((Instant::now(), catalog.clone()));
        }
        Ok(catalog)
    }

    /// Forget the cached catalogue (after a product changed).
    fn invalidate_catalog(&self) {
        *self.catalog.lock().expect("catalog lock") = None;
    }
}

/// One route: its method, its path (axum syntax, `{id}`) and its handler.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<AppState>,
}

fn endpoint<H, T>(method: Method, path: &'static str, handler: H) -> Endpoint
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
    Endpoint { method, path, handler: on(filter, handler) }
}

/// Every route of the API. The router is built from exactly this list.
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        endpoint(M::POST, "/orders/new", orders::create),
        endpoint(M::POST, "/orders/random", orders::create_random),
        endpoint(M::GET, "/orders/{id}", orders::get),
        endpoint(M::POST, "/orders/{id}/status", orders::change_status),
        endpoint(M::POST, "/orders/{id}/feedback", feedback::create),
        endpoint(M::POST, "/events", events::create),
        endpoint(M::GET, "/products", products::list),
        endpoint(M::POST, "/products/new", products::create),
        endpoint(M::PATCH, "/products/{id}", products::update),
        endpoint(M::POST, "/customers/new", customers::create),
        endpoint(M::GET, "/employees/active", employees::active),
        endpoint(M::POST, "/inventory/restock", inventory::restock),
        endpoint(M::GET, "/catalog", catalog::get),
        endpoint(M::GET, "/health", health::health),
        endpoint(M::GET, "/metrics", health::metrics),
        endpoint(M::GET, "/openapi.json", openapi::document),
    ]
}

/// The whole application: routes, JSON fallbacks, body limit, timeout and metrics.
pub fn router(state: AppState) -> Router {
    crate::telemetry::metrics_handle();
    let mut router = Router::new();
    for e in endpoints() {
        router = router.route(e.path, e.handler);
    }
    router
        .fallback(health::not_found)
        .method_not_allowed_fallback(health::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_key))
        .layer(axum::middleware::from_fn(middleware::timeout))
        .layer(axum::middleware::from_fn(middleware::track_metrics))
        .with_state(state)
}

/// Why the API could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("serving HTTP failed")]
    Io(#[from] std::io::Error),
}

/// Serve the API on `listener` until `shutdown` completes, then finish in-flight requests.
pub async fn serve<F>(config: &Config, listener: TcpListener, shutdown: F) -> Result<(), ServeError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut target = config.target(Db::Oltp).map_err(DbError::from)?;
    target.pg.application_name(db::application::API);
    // A bad setting, certificate or login fails here, at startup, not on the first request.
    drop(db::connect_target(&target, Db::Oltp).await?);
    let pool = db::pool(&target, Db::Oltp, POOL_SIZE)?;
    // One pooled connection from the start, so `status` sees the API (and its role) at once.
    drop(pool.get().await);
    let state = AppState::new(pool).with_api_key(config.api_key.clone());
    tracing::info!(addr = %listener.local_addr()?, api_key = config.api_key.is_some(), "order api listening");
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await?;
    tracing::info!("order api stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_serving_failure_names_its_cause_once() {
        let e = super::ServeError::from(std::io::Error::other("address in use"));
        assert_eq!(crate::telemetry::Chain(&e).to_string(), "serving HTTP failed: address in use");
    }
}
