//! Plain HTTP routes: probes (`/health/live`, `/health/startup`, `/health/ready`), the full `/health`
//! document and Prometheus `/metrics`. The web page at `/` is served by [`super::assets`].
//!
//! When operator or viewer tokens are configured, `/health` and `/health/ready` show content
//! (playlist names, clips, alarm texts, addresses) only to a caller with one of them as a bearer
//! token; the probes never show content.
//!
//! - [`health`]: what the daemon's state means for health (status, reasons, readiness) and the JSON
//!   documents shared with the WebSocket `health` / `stats` ops.
//! - [`metrics`]: the exposition, gathered from the live counters at scrape time.
//! - [`cluster`]: the leader lease (cluster mode) in both.
//! - [`servers`]: each CasparCG server (main, backup) in both: its link merged with the engine's
//!   view of it, and what a pair's state means for the status.
//!
//! Every handler only reads state (watch borrows, atomics, probe closures): none waits on the engine
//! or the AMCP link, so a probe answers even while CasparCG is hanging.

mod cluster;
mod health;
mod metrics;
mod servers;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use health::{HealthStatus, health_document, stats_document};

use super::{AppState, access};

/// Probe answers must never be served from a cache: a stale "ok" is worse than none.
const NO_STORE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

/// Health and metrics.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/health", get(full))
        .route("/health/live", get(live))
        .route("/health/startup", get(startup))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics::handler))
}

/// Answering at all is the proof: the runtime schedules tasks and the listener accepts.
async fn live() -> Response {
    (StatusCode::OK, [NO_STORE], "ok\n").into_response()
}

async fn startup(State(state): State<Arc<AppState>>) -> Response {
    if state.startup_complete.load(Ordering::Acquire) {
        (StatusCode::OK, [NO_STORE], "started\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, [NO_STORE], "starting\n").into_response()
    }
}

async fn ready(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let detail = may_read_content(&state, &headers);
    let reasons = health::Checks::gather(&state).not_ready(detail);
    let code = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({ "ready": reasons.is_empty(), "reasons": reasons });
    (code, [NO_STORE], Json(body)).into_response()
}

/// Whether the caller may see content (playlists, clips, titles, alarm texts): always when no
/// operator or viewer token is configured, else only with one of them as a bearer token.
fn may_read_content(state: &AppState, headers: &HeaderMap) -> bool {
    !access::tokens_configured(&state.config)
        || access::role(&state.config, access::bearer(headers)).is_some()
}

/// 200 for `ok` and `degraded` (the daemon works and says what is wrong), 503 for `down`. Callers
/// without a token, when tokens are configured, get only the status and content-free reasons.
async fn full(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let doc = if may_read_content(&state, &headers) {
        health_document(&state)
    } else {
        health::public_health_document(&state)
    };
    let down = doc.get("status").and_then(|s| s.as_str()) == Some(HealthStatus::Down.as_str());
    let code = if down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, [NO_STORE], Json(doc)).into_response()
}
