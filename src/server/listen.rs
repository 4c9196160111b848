//! The HTTP accept loop: a bounded number of connections, a deadline for request headers, backoff
//! on accept errors, and graceful shutdown.
//!
//! `axum::serve` keeps every connection for as long as its peer likes and has no limit, so a few
//! hundred idle or half-sent requests exhaust the process's file descriptors and silence the health
//! probes. Here:
//! - every connection must deliver a request's headers within `server.header_read_timeout`,
//!   counted from when it opened or its previous response was sent (hyper's timer), so idle and
//!   half-sent connections end by themselves;
//! - at most `server.max_connections` are open (WebSocket clients included, and never more than the
//!   file-descriptor limit allows); when full, the connection idle the longest (one not serving a
//!   request) is closed to make room, so an attacker's held sockets can never lock out a probe;
//!   when none is idle, the new connection is closed at once instead of queueing;
//! - accept errors (`EMFILE`…) back off instead of spinning, with a throttled log line.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::Service;

use super::access::LocalAddr;

/// File descriptors kept free for everything else the daemon opens (store, as-run log, AMCP, OSC,
/// the file watcher), so a full connection table never makes a save fail.
pub const RESERVED_FDS: u64 = 64;

/// How long connections may finish their requests after shutdown began.
const DRAIN: Duration = Duration::from_millis(1000);

/// Longest pause after repeated accept errors.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Limits of the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once (after the file-descriptor limit is applied: see [`effective_max`]).
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// Counters of the HTTP surface, exported by `/metrics` and `/health`.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// HTTP connections open now (a WebSocket leaves this count once upgraded: see `WsStats`).
    pub open: AtomicU64,
    pub accepted: AtomicU64,
    /// Idle connections closed to make room for a new one.
    pub shed: AtomicU64,
    /// New connections closed at once because every slot was busy.
    pub refused: AtomicU64,
    /// Requests refused because `Host` was not one of the daemon's names.
    pub misdirected: AtomicU64,
    pub accept_errors: AtomicU64,
}

/// `configured`, lowered so that open connections plus [`RESERVED_FDS`] fit in the soft
/// file-descriptor limit `nofile` (never below 8).
pub fn effective_max(configured: usize, nofile: u64) -> usize {
    let room = usize::try_from(nofile.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
    configured.min(room).max(8)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (as Go and nginx do at start) and returns the
/// soft limit now in force. A daemon holding many sockets should not be limited by a login
/// shell's historical default of 1,024 (or 256).
pub fn raise_nofile_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// The soft `RLIMIT_NOFILE` in force, or a generous guess where it cannot be read.
pub fn nofile_limit() -> u64 {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1 << 20, |(soft, _)| soft)
}

#[derive(Debug)]
struct Entry {
    /// `None` while a request is being served.
    idle_since: Option<Instant>,
    /// Cancelled to close the connection (shedding).
    close: CancellationToken,
}

/// The open connections, for the cap and for shedding the longest-idle one.
#[derive(Debug, Default)]
struct Table {
    entries: Mutex<HashMap<u64, Entry>>,
}

impl Table {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        // Every change is one map operation, so a poisoned lock still holds a consistent map.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes room for one more connection if `open` (this table plus `others`, e.g. upgraded
    /// WebSockets) has reached `max`.
    fn make_room(&self, max: usize, others: usize) -> Room {
        let mut entries = self.lock();
        if entries.len() + others < max {
            return Room::Free;
        }
        let oldest = entries
            .iter()
            .filter_map(|(id, e)| e.idle_since.map(|t| (t, *id)))
            .min();
        match oldest.and_then(|(_, id)| entries.remove(&id)) {
            Some(victim) => {
                victim.close.cancel();
                Room::Shed
            }
            None => Room::Full,
        }
    }

    fn set_idle(&self, id: u64, idle: bool) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.idle_since = idle.then(Instant::now);
        }
    }
}

/// What [`Table::make_room`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Room {
    /// Below the cap.
    Free,
    /// The longest-idle connection was closed.
    Shed,
    /// At the cap and every connection is serving a request.
    Full,
}

/// Removes a connection from the table when its task ends, however it ends.
struct Registered {
    table: Arc<Table>,
    id: u64,
    stats: Arc<HttpStats>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.table.lock().remove(&self.id);
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `app` on `listener` until `shutdown`; then stops accepting, lets open requests finish
/// for a moment and closes the rest. `others` counts open connections this loop no longer sees
/// (upgraded WebSockets), so the cap covers them too.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stats: Arc<HttpStats>,
    others: impl Fn() -> usize + Send + 'static,
    shutdown: CancellationToken,
) {
    let table = Arc::new(Table::default());
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    let mut backoff = Duration::ZERO;
    let mut errors_logged_at: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::ZERO;
                pair
            }
            Err(e) if per_connection(&e) => continue,
            Err(e) => {
                stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                backoff = (backoff * 2).clamp(Duration::from_millis(10), MAX_ACCEPT_BACKOFF);
                if errors_logged_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    errors_logged_at = Some(Instant::now());
                    tracing::warn!(error = %e, pause = ?backoff, "accept failed; pausing before accepting again");
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(backoff) => continue,
                }
            }
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        match table.make_room(limits.max_connections, others()) {
            Room::Free => {}
            Room::Shed => {
                stats.shed.fetch_add(1, Ordering::Relaxed);
            }
            Room::Full => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                drop(stream);
                continue;
            }
        }
        next_id += 1;
        let id = next_id;
        let close = CancellationToken::new();
        table.lock().insert(
            id,
            Entry {
                idle_since: Some(Instant::now()),
                close: close.clone(),
            },
        );
        stats.open.fetch_add(1, Ordering::Relaxed);
        let registered = Registered {
            table: Arc::clone(&table),
            id,
            stats: Arc::clone(&stats),
        };
        let conn = Conn {
            app: app.clone(),
            peer,
            limits,
            close,
            shutdown: shutdown.clone(),
        };
        tasks.spawn(conn.run(stream, registered));
    }
    drop(listener);
    // Connections saw the same cancellation and are finishing their current request.
    let drained =
        tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::debug!(
            left = tasks.len(),
            "HTTP connections still open after the drain; closing them"
        );
    }
    tasks.abort_all();
}

/// Errors that concern only the connection being accepted, not the listener.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// One accepted connection.
struct Conn {
    app: Router,
    peer: SocketAddr,
    limits: Limits,
    close: CancellationToken,
    shutdown: CancellationToken,
}

impl Conn {
    async fn run(self, stream: TcpStream, registered: Registered) {
        // TCP_NODELAY on: small frames leave at once (take → PLAY p50 0.23 ms instead of 1.5 ms),
        // and a close frame (1009, 1008) is not held back behind unacknowledged data until the
        // socket's reset overtakes it (without it, `tests/ws_limits.rs` saw no close frame in
        // 1 of 4 runs under load). The cost, measured with 1,000 clients (`cargo bench --bench
        // ws`): 3× the daemon's CPU during fan-out; see docs/benchmarks.md.
        let _ = stream.set_nodelay(true);
        let Ok(local) = stream.local_addr() else {
            return;
        };
        let (peer, app) = (self.peer, self.app);
        let table = Arc::clone(&registered.table);
        let id = registered.id;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(LocalAddr(local));
            table.set_idle(id, false);
            let busy = Busy {
                table: Arc::clone(&table),
                id,
            };
            let mut app = app.clone();
            async move {
                let response = app.call(request).await;
                drop(busy);
                Ok::<_, Infallible>(match response {
                    Ok(r) => r,
                    Err(never) => match never {},
                })
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .keep_alive(true);
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut conn = std::pin::pin!(conn);
        let mut draining = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::trace!(%peer, error = %e, "HTTP connection ended");
                    }
                    break;
                }
                // Shed to make room: dropping the connection closes the socket.
                () = self.close.cancelled() => break,
                () = self.shutdown.cancelled(), if !draining => {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
        drop(registered);
    }
}

/// Marks a connection idle again when its request has been answered (or abandoned).
struct Busy {
    table: Arc<Table>,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.table.set_idle(self.id, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_follows_the_descriptor_limit() {
        assert_eq!(effective_max(1024, 20_000), 1024);
        assert_eq!(effective_max(1024, 256), 192);
        assert_eq!(effective_max(1024, 10), 8);
    }

    #[test]
    fn the_longest_idle_connection_is_shed_and_busy_ones_never() {
        let table = Table::default();
        let now = Instant::now();
        let tokens: Vec<CancellationToken> = (0..3).map(|_| CancellationToken::new()).collect();
        for (i, t) in tokens.iter().enumerate() {
            table.lock().insert(
                i as u64,
                Entry {
                    idle_since: Some(now + Duration::from_millis(i as u64)),
                    close: t.clone(),
                },
            );
        }
        assert_eq!(table.make_room(4, 0), Room::Free, "room left");
        table.set_idle(0, false);
        assert_eq!(table.make_room(3, 0), Room::Shed);
        assert!(!tokens[0].is_cancelled(), "busy: kept");
        assert!(tokens[1].is_cancelled(), "the oldest idle one goes");
        table.set_idle(2, false);
        assert_eq!(table.make_room(2, 0), Room::Full, "all busy: refuse");
        assert_eq!(table.make_room(3, 0), Room::Free);
        assert_eq!(table.make_room(3, 1), Room::Full, "others count");
    }
}
