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

use super::clock;
use super::dialect::Dialect;
use super::exec;
use super::faults::{Faults, GARBAGE};
use super::framing::LineSplitter;
use super::model::SimState;
use super::osc::{OscSender, OscSubscribers};
use super::parse::{Action, Parser};
use super::request::{Outcome, SimRequest};
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
    generation: AtomicU64,
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
        let now = super::takes::now_unix_ns();
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

struct Job {
    conn: Arc<Conn>,
    generation: u64,
    req_id: Option<String>,
    work: Work,
}

enum Work {
    Single(SimRequest),
    Batch {
        begin_id: Option<String>,
        items: Vec<(Option<String>, SimRequest)>,
    },
}

/// What queue workers need to know about the connection a command came from.
struct Conn {
    out: mpsc::UnboundedSender<(Instant, String)>,
    peer: SocketAddr,
    osc_ports: Mutex<Vec<u16>>,
}

impl Conn {
    fn send(&self, reply: String) {
        // The connection may be gone; its replies are then dropped, as the real server's would be.
        let _ = self.out.send((Instant::now(), reply));
    }
}

fn prefixed(req_id: Option<&str>, reply: String) -> String {
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

async fn queue_worker(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    waiting: Arc<AtomicUsize>,
    shutdown: CancellationToken,
) {
    loop {
        let job = tokio::select! {
            () = shutdown.cancelled() => return,
            job = rx.recv() => match job { Some(j) => j, None => return },
        };
        waiting.fetch_sub(1, Ordering::SeqCst);
        if job.generation != shared.generation.load(Ordering::SeqCst) {
            continue;
        }
        match job.work {
            Work::Single(request) => {
                let delay = shared.faults.command_delay(request.name);
                if !delay.is_zero() {
                    shared.faults.delay_started();
                    let cancelled = tokio::select! {
                        () = shutdown.cancelled() => true,
                        () = tokio::time::sleep(delay) => false,
                    };
                    shared.faults.delay_ended();
                    if cancelled {
                        return;
                    }
                    if job.generation != shared.generation.load(Ordering::SeqCst) {
                        continue;
                    }
                }
                if let Some(reply) = run(&shared, &job.conn, &request) {
                    job.conn.send(prefixed(job.req_id.as_deref(), reply));
                }
            }
            Work::Batch { begin_id, items } => run_batch(&shared, &job.conn, begin_id, items),
        }
    }
}

/// Executes one request; `None` when the server sends no reply.
fn run(shared: &Shared, conn: &Conn, request: &SimRequest) -> Option<String> {
    shared.commands_executed.fetch_add(1, Ordering::Relaxed);
    shared.log_command(request);
    if let Some(reply) = osc_subscription(shared, conn, request) {
        return Some(reply);
    }
    let mut state = shared.state();
    clock::catch_up_all(shared, &mut state);
    let outcome = exec::execute(&mut state, request);
    shared.stamp_takes(&mut state, None);
    drop(state);
    match outcome {
        Outcome::Reply(r) => Some(r),
        Outcome::Silent => None,
    }
}

/// Runs a committed batch under one lock so that its effects land on the same frame (docs/amcp-notes.md §4.9).
///
/// As `AMCPCommandQueue::Execute` does, an empty batch sends nothing and a batch of one command is
/// executed as a plain command: its own reply, no `202 COMMIT OK` (recorded on 2.4.3:
/// `REQ b1 BEGIN` / `REQ b2 STOP 1-20` / `REQ b3 COMMIT` answers only `RES b2 202 STOP OK`).
fn run_batch(
    shared: &Shared,
    conn: &Conn,
    begin_id: Option<String>,
    items: Vec<(Option<String>, SimRequest)>,
) {
    if let [(req_id, request)] = items.as_slice() {
        if let Some(reply) = run(shared, conn, request) {
            conn.send(prefixed(req_id.as_deref(), reply));
        }
        return;
    }
    if items.is_empty() {
        return;
    }
    let mut replies = Vec::with_capacity(items.len());
    {
        let mut state = shared.state();
        clock::catch_up_all(shared, &mut state);
        for (req_id, request) in &items {
            shared.commands_executed.fetch_add(1, Ordering::Relaxed);
            shared.log_command(request);
            let outcome = match osc_subscription(shared, conn, request) {
                Some(r) => Outcome::Reply(r),
                None => exec::execute(&mut state, request),
            };
            replies.push((req_id.clone(), outcome));
        }
        // One instant for the whole batch: its effects land on the same frame.
        shared.stamp_takes(&mut state, None);
    }
    let mut all_ok = true;
    for (req_id, outcome) in replies {
        match outcome {
            Outcome::Reply(r) => {
                all_ok &= r.starts_with('2');
                conn.send(prefixed(req_id.as_deref(), r));
            }
            Outcome::Silent => all_ok = false,
        }
    }
    let status = if all_ok {
        "202 COMMIT OK\r\n"
    } else {
        "202 COMMIT PARTIAL\r\n"
    };
    conn.send(prefixed(begin_id.as_deref(), status.into()));
}

/// `OSC SUBSCRIBE`/`UNSUBSCRIBE` are tied to the connection, so they are handled here, not in `exec`.
fn osc_subscription(shared: &Shared, conn: &Conn, request: &SimRequest) -> Option<String> {
    let subscribe = match request.name {
        "OSC SUBSCRIBE" => true,
        "OSC UNSUBSCRIBE" => false,
        _ => return None,
    };
    let port = request
        .params
        .first()
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p != 0);
    let Some(port) = port else {
        return Some(format!("403 {} BAD PORT\r\n", request.name));
    };
    let target = SocketAddr::new(conn.peer.ip(), port);
    let mut ports = conn.osc_ports.lock().unwrap_or_else(|e| e.into_inner());
    if subscribe {
        ports.push(port);
        shared.osc_subscribers.add(target);
    } else if let Some(i) = ports.iter().position(|p| *p == port) {
        ports.swap_remove(i);
        shared.osc_subscribers.remove(target);
    }
    Some(format!("202 {} OK\r\n", request.name))
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
