//! The daemon's surfaces on one listener (axum): the WebSocket protocol, health, metrics and the page.
//!
//! - [`ws`]: `/ws` sessions: snapshot, sequenced events, resume, commands, limits. The messages
//!   themselves are [`crate::protocol`]'s, shared with the console (`onair tui`).
//! - [`http`]: `/health/*`, `/health`, `/metrics`.
//! - [`assets`]: the web control page at `/` and its files under `/assets/`.
//! - [`access`]: the `Host` and `Origin` allowlists and bearer tokens.
//! - [`listen`]: the accept loop (connection cap, header deadline, accept backoff).
//!
//! Every route sits behind the `Host` check: a request that does not name this daemon is refused
//! with 421 before it reaches a handler or a WebSocket upgrade.

pub mod access;
pub mod assets;
pub mod http;
pub mod listen;
pub mod ws;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;
use crate::playout::engine::EngineHandle;
use crate::protocol::link::LinkReport;

/// Counters of the WebSocket surface, exported by `/metrics` and `/health`.
#[derive(Debug, Default)]
pub struct WsStats {
    /// Clients connected now.
    pub clients: AtomicU64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Upgrades refused (limits, origin, token).
    pub rejected: AtomicU64,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    /// Messages not delivered to a slow client (replaced by a resync snapshot).
    pub dropped: AtomicU64,
    /// Snapshots sent to resynchronise a slow client.
    pub resyncs: AtomicU64,
    /// Clients disconnected for being too slow, too chatty or silent.
    pub kicked: AtomicU64,
    /// Commands received, and those answered with an error.
    pub commands: AtomicU64,
    pub command_errors: AtomicU64,
}

impl WsStats {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub engine: EngineHandle,
    /// Reads the AMCP link's state and counters (wired by the daemon: the server never talks to
    /// the link itself).
    pub link: LinkProbe,
    pub config: ServerConfig,
    /// Identifies this run of the daemon; a client that resumes with another boot id gets a snapshot.
    pub boot_id: String,
    pub started_at: Instant,
    /// Set once configuration and playlists are loaded and the listener is up.
    pub startup_complete: AtomicBool,
    /// Cancelled when the daemon shuts down: sessions send `shutdown` and close with 1001.
    pub shutdown: CancellationToken,
    pub ws: WsStats,
    /// Counters of the accept loop, shared with [`listen::serve`].
    pub http: Arc<listen::HttpStats>,
    /// Extra health inputs wired in by the daemon (store, OSC), read by `/health` and `/metrics`.
    pub probes: Probes,
}

impl AppState {
    /// The state of a daemon that has not finished starting (`startup_complete` false), with a new
    /// boot id and zeroed counters: the one way the daemon and the tests build it.
    pub fn new(
        engine: EngineHandle,
        link: LinkProbe,
        config: ServerConfig,
        shutdown: CancellationToken,
        probes: Probes,
    ) -> AppState {
        AppState {
            engine,
            link,
            config,
            boot_id: new_boot_id(),
            started_at: Instant::now(),
            startup_complete: AtomicBool::new(false),
            shutdown,
            ws: WsStats::default(),
            http: Arc::default(),
            probes,
        }
    }
}

/// A reading of the AMCP link.
pub type LinkProbe = Box<dyn Fn() -> LinkReport + Send + Sync>;

/// Optional subsystems' health, filled in by the daemon when it has them.
#[derive(Default)]
pub struct Probes {
    /// Store: whether the last save succeeded, saves, failures, recoveries (as a JSON value).
    pub store: Option<Box<dyn Fn() -> serde_json::Value + Send + Sync>>,
    /// OSC telemetry: fresh or not, datagrams (as a JSON value).
    pub osc: Option<Box<dyn Fn() -> serde_json::Value + Send + Sync>>,
    /// Every CasparCG server's link by name, the main first (a main/backup pair has two).
    pub servers: Option<ServersProbe>,
    /// Cluster mode's leader lease: node, role, term, leader, NATS connection, counters (as a
    /// JSON value); `None` without `[cluster]`.
    pub cluster: Option<Box<dyn Fn() -> serde_json::Value + Send + Sync>>,
}

/// A reading of every server's AMCP link: (server name, report), the main first.
pub type ServersProbe = Box<dyn Fn() -> Vec<(String, LinkReport)> + Send + Sync>;

/// The whole HTTP + WebSocket application, every route behind the `Host` check.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(assets::routes())
        .merge(http::routes())
        .merge(ws::routes())
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            access::require_own_host,
        ))
        .with_state(state)
}

/// Serves the application on `listener` until `stop` (the daemon passes `state.shutdown`), with the
/// connection limits of `state.config` lowered to fit the process's file-descriptor limit.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: CancellationToken,
) {
    let limits = listen::Limits {
        max_connections: listen::effective_max(
            state.config.max_connections,
            listen::nofile_limit(),
        ),
        header_read_timeout: state.config.header_read_timeout,
    };
    let app = router(Arc::clone(&state));
    let ws_state = Arc::clone(&state);
    let others = move || usize::try_from(ws_state.ws.clients.load(Ordering::Relaxed)).unwrap_or(0);
    listen::serve(listener, app, limits, Arc::clone(&state.http), others, stop).await;
}

/// A new random boot id.
pub fn new_boot_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}
