//! The simulator's network side: listener, connections, command queues, OSC subscriptions, faults.
//!
//! Like CasparCG (docs/amcp-notes.md §5), one parser per connection answers parse errors and PONG at once from the
//! read path, while commands go to shared queues (one general, one per channel), each executing in
//! arrival order; replies from different queues overtake each other. A queue with more than 128 commands
//! already waiting (not counting the one executing) answers `504 QUEUE OVERFLOW` immediately.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::dialect::Dialect;
use super::faults::{Faults, GARBAGE};
use super::framing::LineSplitter;
use super::model::SimState;
use super::osc::{OscSender, OscSubscribers};
use super::parse::{Action, Parser};
use super::queue::queue_worker;
use super::request::SimRequest;
use super::takes::{FrameTiming, TakeRecord};

/// The server answers `504 QUEUE OVERFLOW` when *more than* this many commands already wait in the
/// queue (`executor_.size() > 128` in `AMCPCommandQueue.cpp`; the command being executed has left the
/// executor's queue and does not count). So with one command executing, 129 can wait and the next
/// one is refused.
pub const QUEUE_LIMIT: usize = 128;

/// Executed commands remembered for `Sim::command_log`.
pub const COMMAND_LOG_LEN: usize = 10_000;

/// A client that sends endless bytes without CRLF would grow the real server's buffer without bound;
/// the simulator drops it instead.
const MAX_PENDING_LINE: usize = 16 * 1024 * 1024;

/// State shared by every task of one simulator.
pub(crate) struct Shared {
    pub(crate) dialect: Dialect,
    pub(crate) channels: usize,
    pub(crate) state: Mutex<SimState>,
    pub(crate) faults: Faults,
    pub(crate) osc: OscSender,
    pub(crate) osc_subscribers: OscSubscribers,
    /// UDP port every AMCP client's address receives OSC on; 0 disables that automatic subscription.
    pub(crate) osc_port: u16,
    queues: Vec<QueueHandle>,
    /// Cancelled and replaced to drop every current connection at once.
    connections_token: Mutex<CancellationToken>,
    /// Jobs from before a restart are discarded, as a restarted server has lost its queues.
    pub(super) generation: AtomicU64,
    connections: watch::Sender<usize>,
    pub(crate) refusing: watch::Sender<bool>,
    /// Whether the listening socket is actually open (it follows `refusing` asynchronously).
    pub(crate) listening: watch::Sender<bool>,
    pub(crate) commands_executed: AtomicU64,
    /// The most recent executed commands, oldest first, so tests can assert what a client sent.
    pub(crate) command_log: Mutex<std::collections::VecDeque<SimRequest>>,
    /// The channels' frame clocks, for stamping take records.
    pub(crate) timing: FrameTiming,
    /// Per channel, the last grid frame the running clock produced (only touched with `state`
    /// locked; atomics merely make `Shared` shareable). Unused with a stepped clock.
    pub(crate) produced: Vec<AtomicI64>,
    /// The last `takes::TAKE_LOG_LEN` foreground changes, oldest first (lock after `state`).
    pub(crate) take_log: Mutex<std::collections::VecDeque<TakeRecord>>,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, SimState> {
        // Executing a command never panics by design; if one ever did, the state is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives the model's pending foreground changes their frame: as commands executed now, or as
    /// the effect of channel `tick.0`'s tick (`tick.1` is its scheduled frame when known).
    pub(crate) fn stamp_takes(&self, state: &mut SimState, tick: Option<(usize, Option<i64>)>) {
        if state.pending_takes.is_empty() {
            return;
        }
        let now = self.timing.now_unix_ns();
        let mut log = self.take_log.lock().unwrap_or_else(|e| e.into_inner());
        match tick {
            None => self.timing.stamp_commands(state, now, &mut log),
            Some((ch, frame)) => self.timing.stamp_tick(state, ch, frame, now, &mut log),
        }
    }

    /// Keeps the last [`COMMAND_LOG_LEN`] executed commands.
    pub(crate) fn log_command(&self, request: &SimRequest) {
        let mut log = self.command_log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= COMMAND_LOG_LEN {
            log.pop_front();
        }
        log.push_back(request.clone());
    }

    /// Drops every open connection now.
    pub(crate) fn drop_connections(&self) {
        let mut token = self
            .connections_token
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        token.cancel();
        *token = CancellationToken::new();
    }

    /// Forgets queued work, as a restarted server would.
    pub(crate) fn bump_generation(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn connection_token(&self) -> CancellationToken {
        self.connections_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn connections(&self) -> watch::Receiver<usize> {
        self.connections.subscribe()
    }
}

/// Builds the shared state and spawns the queue workers.
pub(crate) fn build(
    dialect: Dialect,
    state: SimState,
    osc: OscSender,
    osc_port: u16,
    timing: FrameTiming,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Arc<Shared> {
    let channels = state.channels.len();
    let mut receivers = Vec::new();
    let queues = (0..=channels)
        .map(|_| {
            let (tx, rx) = mpsc::unbounded_channel();
            receivers.push(rx);
            QueueHandle {
                tx,
                waiting: Arc::new(AtomicUsize::new(0)),
            }
        })
        .collect::<Vec<_>>();
    let shared = Arc::new(Shared {
        dialect,
        channels,
        state: Mutex::new(state),
        faults: Faults::default(),
        osc,
        osc_subscribers: OscSubscribers::default(),
        osc_port,
        queues,
        connections_token: Mutex::new(CancellationToken::new()),
        generation: AtomicU64::new(0),
        connections: watch::Sender::new(0),
        refusing: watch::Sender::new(false),
        listening: watch::Sender::new(true),
        commands_executed: AtomicU64::new(0),
        command_log: Mutex::new(std::collections::VecDeque::new()),
        timing,
        produced: (0..channels).map(|_| AtomicI64::new(0)).collect(),
        take_log: Mutex::new(std::collections::VecDeque::new()),
    });
    for (i, rx) in receivers.into_iter().enumerate() {
        let waiting = shared.queues[i].waiting.clone();
        tracker.spawn(queue_worker(shared.clone(), rx, waiting, shutdown.clone()));
    }
    shared
}

/// Accepts connections until shutdown; while refusing, the socket is closed so connects fail with
/// ECONNREFUSED as they do against a stopped server, then re-bound on the same address.
pub(crate) async fn listen(
    shared: Arc<Shared>,
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let mut refusing = shared.refusing.subscribe();
    loop {
        if *refusing.borrow_and_update() {
            listener = None;
            shared.listening.send_replace(false);
        } else if listener.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    listener = Some(l);
                    shared.listening.send_replace(true);
                }
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "sim: cannot re-bind yet, retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(20)) => continue,
                    }
                }
            }
        }
        let Some(l) = listener.as_ref() else {
            tokio::select! {
                () = shutdown.cancelled() => return,
                r = refusing.changed() => if r.is_err() { return },
            }
            continue;
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            r = refusing.changed() => if r.is_err() { return },
            accepted = l.accept() => match accepted {
                Ok((stream, peer)) => {
                    let token = shared.connection_token();
                    tracker.spawn(connection(shared.clone(), stream, peer, token, shutdown.clone()));
                }
                Err(e) => tracing::debug!(error = %e, "sim: accept failed"),
            },
        }
    }
}

struct QueueHandle {
    tx: mpsc::UnboundedSender<Job>,
    waiting: Arc<AtomicUsize>,
}

pub(super) struct Job {
    pub(super) conn: Arc<Conn>,
    pub(super) generation: u64,
    pub(super) req_id: Option<String>,
    pub(super) work: Work,
}

pub(super) enum Work {
    Single(SimRequest),
    Batch {
        begin_id: Option<String>,
        items: Vec<(Option<String>, SimRequest)>,
    },
}

/// What queue workers need to know about the connection a command came from.
pub(super) struct Conn {
    out: mpsc::UnboundedSender<(Instant, String)>,
    pub(super) peer: SocketAddr,
    pub(super) osc_ports: Mutex<Vec<u16>>,
}

impl Conn {
    #[cfg(test)]
    pub(super) fn for_tests(out: mpsc::UnboundedSender<(Instant, String)>) -> Self {
        Conn {
            out,
            peer: SocketAddr::from(([127, 0, 0, 1], 0)),
            osc_ports: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn send(&self, reply: String) {
        // The connection may be gone; its replies are then dropped, as the real server's would be.
        let _ = self.out.send((Instant::now(), reply));
    }
}

pub(super) fn prefixed(req_id: Option<&str>, reply: String) -> String {
    match req_id {
        Some(id) => format!("RES {id} {reply}"),
        None => reply,
    }
}

async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    dropped: CancellationToken,
    shutdown: CancellationToken,
) {
    tracing::debug!(%peer, "sim: client connected");
    let _ = stream.set_nodelay(true);
    shared.connections.send_modify(|n| *n += 1);
    let (mut rd, wr) = stream.into_split();
    let (out, out_rx) = mpsc::unbounded_channel();
    let conn = Arc::new(Conn {
        out,
        peer,
        osc_ports: Mutex::new(Vec::new()),
    });
    let auto_osc = (shared.osc_port != 0).then(|| SocketAddr::new(peer.ip(), shared.osc_port));
    if let Some(a) = auto_osc {
        shared.osc_subscribers.add(a);
    }
    let stop = CancellationToken::new();
    let writer = tokio::spawn(writer(shared.clone(), wr, out_rx, stop.clone()));
    let mut parser = Parser::new(shared.dialect, shared.channels);
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0u8; 32 * 1024];
    'read: loop {
        let n = tokio::select! {
            () = dropped.cancelled() => break,
            () = shutdown.cancelled() => break,
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
        };
        for line in splitter.feed(&buf[..n]) {
            tracing::debug!(%peer, line = %line.escape_debug(), "sim: command");
            match parser.line(&line) {
                Action::Immediate(reply) => conn.send(reply),
                Action::Nothing => {}
                Action::Bye => break 'read,
                Action::Execute { req_id, request } => {
                    let queue = request.channel.map_or(0, usize::from);
                    enqueue(&shared, &conn, queue, req_id, Work::Single(request));
                }
                Action::Commit { begin_id, items } => {
                    enqueue(
                        &shared,
                        &conn,
                        0,
                        begin_id.clone(),
                        Work::Batch { begin_id, items },
                    );
                }
            }
        }
        if splitter.pending() > MAX_PENDING_LINE {
            tracing::warn!(%peer, "sim: dropping a client that sent 16 MiB without a line break");
            break;
        }
    }
    stop.cancel();
    let _ = writer.await;
    if let Some(a) = auto_osc {
        shared.osc_subscribers.remove(a);
    }
    let ports = std::mem::take(&mut *conn.osc_ports.lock().unwrap_or_else(|e| e.into_inner()));
    for port in ports {
        shared
            .osc_subscribers
            .remove(SocketAddr::new(peer.ip(), port));
    }
    shared.connections.send_modify(|n| *n = n.saturating_sub(1));
    tracing::debug!(%peer, "sim: client disconnected");
}

fn enqueue(
    shared: &Arc<Shared>,
    conn: &Arc<Conn>,
    queue: usize,
    req_id: Option<String>,
    work: Work,
) {
    let Some(q) = shared.queues.get(queue) else {
        return;
    };
    // Reserve a slot first so that concurrent connections cannot overfill the queue together.
    // `waiting` counts jobs not yet taken by the worker, like the server's `executor_.size()`.
    if q.waiting.fetch_add(1, Ordering::SeqCst) > QUEUE_LIMIT {
        q.waiting.fetch_sub(1, Ordering::SeqCst);
        conn.send(prefixed(req_id.as_deref(), "504 QUEUE OVERFLOW\r\n".into()));
        return;
    }
    let generation = shared.generation.load(Ordering::SeqCst);
    let job = Job {
        conn: conn.clone(),
        generation,
        req_id,
        work,
    };
    if q.tx.send(job).is_err() {
        q.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Writes replies whole and in order, applying the stall, delay and corruption faults.
async fn writer(
    shared: Arc<Shared>,
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<(Instant, String)>,
    stop: CancellationToken,
) {
    loop {
        let (queued_at, reply) = tokio::select! {
            () = stop.cancelled() => break,
            r = rx.recv() => match r { Some(r) => r, None => break },
        };
        let delay = shared.faults.reply_delay();
        if !delay.is_zero() {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(queued_at + delay) => {}
            }
        }
        if shared.faults.stalled() {
            continue;
        }
        let bytes = if shared.faults.take_corruption() {
            GARBAGE
        } else {
            reply.as_bytes()
        };
        if wr.write_all(bytes).await.is_err() {
            break;
        }
    }
    let _ = wr.shutdown().await;
}
