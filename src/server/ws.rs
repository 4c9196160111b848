//! `GET /ws`: admission (Origin allowlist, token → role, client limits) and the upgrade to a session.
//!
//! Everything that can refuse a client is decided here, before the upgrade, with a plain HTTP
//! status: 400 (bad query), 401 (token), 403 (Origin), 429 (too many from this address), 503 (too
//! many in total, or shutting down). The protocol itself is in [`crate::protocol`] and
//! `docs/ws-protocol.md`.
//!
//! - [`auth`]: client slots (Origin and tokens are checked by [`super::access`]).
//! - [`session`]: one connection's loop.
//! - [`upgrade`]: the handshake, giving the session tokio-tungstenite's own stream.
//! - [`outbox`]: the bounded per-client queue.
//! - [`writer`]: the task that empties it into the socket, big messages as fragments.
//! - [`commands`]: per-client command execution with ordered acks.
//! - [`dispatch`]: wire requests → engine ops; engine results and errors → acks.
//! - [`exit`]: why sessions end and the close codes.
//! - [`log`]: every event encoded once and shared by all sessions; also the resume buffer.
//! - [`timeline`]: when a session sends the planned timeline (after snapshots, then rate-limited).
//! - [`bucket`]: the incoming-message rate limit.
//!
//! The event log is started by the first connection (not by the daemon): it subscribes to the
//! engine at that moment, and no client can hold a position older than its own first snapshot, so
//! nothing a client could ask to resume is missing from it. It runs until `AppState::shutdown`.

mod auth;
mod bucket;
mod commands;
mod dispatch;
mod exit;
mod log;
mod outbox;
mod session;
#[cfg(test)]
mod session_tests;
mod timeline;
mod upgrade;
mod writer;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::access::{self, LocalAddr};
use super::{AppState, WsStats};
use auth::{Refused, Slots};
use log::EventLog;

/// State of the `/ws` route that lives as long as the router: client slots and the event log.
#[derive(Default)]
struct Hub {
    slots: Arc<Slots>,
    log: OnceLock<Arc<EventLog>>,
}

impl Hub {
    fn log(&self, state: &AppState) -> Arc<EventLog> {
        Arc::clone(self.log.get_or_init(|| {
            EventLog::start(
                &state.engine,
                state.config.event_buffer,
                state.config.event_buffer_bytes,
                state.shutdown.clone(),
            )
        }))
    }
}

/// Query parameters of `/ws`.
#[derive(Debug, Default, Deserialize)]
struct Params {
    /// The token, for clients that cannot set an `Authorization` header (browsers).
    token: Option<String>,
    /// Resume at connect: the boot id and `seq` the client holds (both needed).
    boot_id: Option<String>,
    since: Option<u64>,
}

/// The `/ws` route. Serve the router with `into_make_service_with_connect_info::<SocketAddr>()` so
/// the per-address limit sees real addresses (without it every client counts as `0.0.0.0`).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/ws", get(upgrade))
        .layer(Extension(Arc::new(Hub::default())))
}

async fn upgrade(
    State(state): State<Arc<AppState>>,
    Extension(hub): Extension<Arc<Hub>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    local: Option<Extension<LocalAddr>>,
    headers: HeaderMap,
    query: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
    ws: upgrade::Upgrade,
) -> Response {
    let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |Extension(c)| {
        c.0.ip().to_canonical()
    });
    let Ok(Query(params)) = query else {
        return refuse(&state, peer, StatusCode::BAD_REQUEST, "bad query string");
    };
    if state.shutdown.is_cancelled() {
        return refuse(
            &state,
            peer,
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down",
        );
    }
    let config = &state.config;
    let local = local.map_or(config.listen, |Extension(l)| l.0);
    if !access::origin_allowed(
        &headers,
        &config.allowed_origins,
        local,
        &config.allowed_hosts,
    ) {
        return refuse(&state, peer, StatusCode::FORBIDDEN, "origin not allowed");
    }
    let Some(role) = access::role(config, access::token(&headers, params.token.as_deref())) else {
        let mut response = refuse(
            &state,
            peer,
            StatusCode::UNAUTHORIZED,
            "missing or invalid token",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    };
    let slot = match hub
        .slots
        .take(peer, config.max_clients, config.max_clients_per_ip)
    {
        Ok(slot) => slot,
        Err(Refused::Total) => {
            return refuse(
                &state,
                peer,
                StatusCode::SERVICE_UNAVAILABLE,
                "too many clients",
            );
        }
        Err(Refused::PerIp) => {
            return refuse(
                &state,
                peer,
                StatusCode::TOO_MANY_REQUESTS,
                "too many clients from this address",
            );
        }
    };
    let max = config.max_message_bytes;
    let ctx = session::Ctx {
        log: hub.log(&state),
        role,
        resume: params
            .since
            .map(|since| (params.boot_id.unwrap_or_default(), since)),
        peer,
        state,
    };
    // Frames are capped like messages, so an oversized frame is refused from its header instead of
    // being buffered first.
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        // tungstenite's defaults (128 KiB read buffer per connection) would cost ~130 MB at 1,000
        // clients; commands are small, and bigger messages still arrive, just in more reads.
        .read_buffer_size(READ_BUFFER)
        // Small frames of one batch leave in one write; none is bigger than a fragment (see
        // `writer`), so the per-connection write buffer stays below the two together.
        .write_buffer_size(writer::WRITE_COALESCE)
        .max_write_buffer_size(writer::MAX_WRITE_BUFFER);
    ws.on_upgrade(config, move |socket| async move {
        // The slot is held for the whole session and freed when it ends (or the upgrade fails).
        let _slot = slot;
        session::run(socket, ctx).await;
    })
}

/// Bytes read from a client socket at once.
const READ_BUFFER: usize = 4 * 1024;

fn refuse(state: &AppState, peer: IpAddr, status: StatusCode, why: &'static str) -> Response {
    WsStats::inc(&state.ws.rejected);
    tracing::debug!(%peer, status = status.as_u16(), why, "websocket refused");
    (status, why).into_response()
}
