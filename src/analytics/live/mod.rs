//! The live page: `GET /` (HTML with the current figures), `GET /live/events` (server-sent
//! events re-rendering them) and `GET /api/v1/live` (the same figures as JSON).
//!
//! Each event stream polls the warehouse's checkpoint every [`TICK`] (one indexed row) and sends
//! an `update` as soon as it has moved — so an order shows within about [`TICK`] of being applied
//! — and at least every [`HEARTBEAT`], since "the last minute" moves on by itself.

mod render;
mod snapshot;

use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

use axum::{
    extract::State,
    response::{
        sse::{Event, KeepAlive, Sse},
        Html,
    },
    Extension, Json,
};
use futures_util::stream::{self, Stream};
use tokio_util::sync::CancellationToken;

pub(crate) use render::STYLE;

use super::{error::AnalyticsResult, params::Params, sales::today, AnalyticsState};

/// How often an event stream checks for newly applied changes.
pub(crate) const TICK: Duration = Duration::from_millis(200);
/// Longest time between two updates.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// Cancelled when the service shuts down, so open event streams end and the server can stop.
#[derive(Clone)]
pub(crate) struct Shutdown(pub CancellationToken);

async fn current(state: &AnalyticsState) -> AnalyticsResult<snapshot::Live> {
    let client = state.client().await?;
    let backlog = state.daemon.gauges().await.and_then(|g| g.backlog);
    snapshot::load(&client, today(), backlog).await
}

/// `GET /api/v1/live`.
pub(crate) async fn snapshot(
    State(state): State<AnalyticsState>,
    params: Params,
) -> AnalyticsResult<Json<snapshot::Live>> {
    params.only(&[])?;
    Ok(Json(current(&state).await?))
}

/// `GET /`: the page, already filled in (the `key` parameter is the API key's, see `auth`).
pub(crate) async fn page(State(state): State<AnalyticsState>, params: Params) -> AnalyticsResult<Html<String>> {
    params.only(&["key"])?;
    Ok(Html(render::page(&current(&state).await?).into_string()))
}

/// Where one event stream is.
struct Cursor {
    state: AnalyticsState,
    stop: CancellationToken,
    seen: Option<i64>,
    sent_at: Option<Instant>,
}

/// `GET /live/events`: an `update` event (the page's content as HTML) at once, then whenever a
/// change has been applied, and at least every [`HEARTBEAT`].
pub(crate) async fn events(
    State(state): State<AnalyticsState>,
    shutdown: Option<Extension<Shutdown>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stop = shutdown.map(|Extension(Shutdown(t))| t).unwrap_or_default();
    let cursor = Cursor { state, stop, seen: None, sent_at: None };
    Sse::new(stream::unfold(cursor, next_event)).keep_alive(KeepAlive::default())
}

async fn next_event(mut c: Cursor) -> Option<(Result<Event, Infallible>, Cursor)> {
    loop {
        if c.sent_at.is_some() {
            tokio::select! {
                _ = c.stop.cancelled() => return None,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
        let due = c.sent_at.is_none_or(|t| t.elapsed() >= HEARTBEAT);
        let applied = match c.state.client().await {
            Ok(client) => snapshot::applied_changes(&client).await.ok(),
            Err(_) => None,
        };
        if !due && (applied.is_none() || applied == c.seen) {
            continue;
        }
        c.sent_at = Some(Instant::now());
        let event = match current(&c.state).await {
            Ok(live) => {
                c.seen = Some(live.applied_changes);
                Event::default().event("update").data(render::content(&live).into_string())
            }
            Err(error) => {
                tracing::debug!(error = %crate::telemetry::Chain(&error), "live update failed");
                Event::default().event("unavailable").data("the warehouse is unavailable")
            }
        };
        return Some((Ok(event), c));
    }
}

/// The snapshot's queries alone (no daemon metrics), for the benchmark's baseline.
pub(crate) async fn load_snapshot(client: &tokio_postgres::Client, today: chrono::NaiveDate) -> AnalyticsResult<()> {
    snapshot::load(client, today, None).await.map(drop)
}
