//! Issue 14's memory scenario through the real `onair serve` process, shared by
//! `tests/ws_memory.rs` (a smaller rundown, debug build, in `cargo test`) and
//! `benches/ws_memory.rs` (the issue's sizes, release build).
//!
//! A rundown of many items with long titles, so that each `item.update` publishes a big event (the
//! engine still sends the whole playlist per edit); clients that connect and then read nothing, on
//! sockets with a small receive window; one client driving the updates and reading everything.
//! The daemon's RSS (`/proc/<pid>/status`) is read after a warm-up, during the updates and after the
//! stuck clients are gone. The daemon runs with the default send-queue and event-buffer limits:
//! those are what is under test.

// Each test crate compiles this module separately and uses only part of it.
#![allow(dead_code)]

#[path = "../common/daemon.rs"]
mod daemon;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use daemon::{Daemon, Serve};
use futures_util::{SinkExt, StreamExt};
use onair::playout::model::{Item, Playlist};
use onair::protocol::{Ack, ServerMsg};
use onair::sim::{Sim, SimConfig};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Longest any single wait may take.
const WAIT: Duration = Duration::from_secs(60);

/// What the driving client does to produce events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drive {
    /// `item.update`: a new title for one item. Each edit is also saved by the store, which
    /// validates and re-reads the whole rundown.
    Update,
    /// `playout.cue` of one item after the other: a change of playout state, not saved, so events
    /// come several times faster (in a debug build the store's work dominates an edit).
    Cue,
}

/// The scenario's sizes.
#[derive(Debug, Clone)]
pub struct Params {
    pub drive: Drive,
    /// Items in the rundown.
    pub items: usize,
    /// Characters per title.
    pub title: usize,
    /// Clients that stop reading.
    pub stuck: usize,
    /// Updates before the first RSS reading (the event log fills, caches reach their size).
    pub warm_up: usize,
    /// Updates while the stuck clients are connected.
    pub updates: usize,
    /// Commands the driving client keeps in flight (below the 32 that would be answered `busy`).
    pub window: usize,
    /// Extra environment of the daemon (e.g. allocator settings to compare).
    pub env: Vec<(String, String)>,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Bytes of one event (the whole rundown).
    pub event_bytes: usize,
    /// Daemon RSS after the warm-up, before the stuck clients came.
    pub rss_before: u64,
    /// Largest RSS seen while they were connected (read every 10 acks).
    pub rss_peak: u64,
    /// RSS once they were gone.
    pub rss_after: u64,
    /// `websocket` counters of the daemon at the end (`kicked`, `resyncs`, `dropped`, …).
    pub websocket: Value,
    /// Wall time of the updates with the stuck clients connected.
    pub updates_seconds: f64,
}

fn serve(sim: &Sim, data: &Path, env: &[(String, String)]) -> Daemon {
    // Only the limits that would stop the one driving client (rate) or this many clients from one
    // address are raised; the send queues and the event buffer keep their defaults.
    Serve::new(&sim.addr().to_string(), data)
        .envs(&[
            ("ONAIR_LOG_LEVEL", "warn"),
            ("ONAIR_SERVER_RATE_LIMIT_PER_SEC", "10000"),
            ("ONAIR_SERVER_RATE_LIMIT_BURST", "100000"),
            ("ONAIR_SERVER_MAX_CLIENTS_PER_IP", "1000"),
            ("ONAIR_SERVER_MAX_CLIENTS", "1000"),
        ])
        .envs(env)
        .startup(WAIT)
        .start()
}

/// A process's resident set, in bytes.
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// Megabytes, for messages.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn title(len: usize, n: usize) -> String {
    let c = char::from(b'a' + (n % 26) as u8);
    std::iter::repeat_n(c, len).collect()
}

fn item_id(n: usize) -> String {
    format!("item{n:05}")
}

/// `playlists/main.json`: the rundown the daemon starts with (written directly: adding thousands
/// of items one command at a time would be most of the run).
fn write_rundown(data: &Path, p: &Params) {
    let mut playlist = Playlist::new("main", "Main", "1-10".parse().expect("channel-layer"));
    for i in 0..p.items {
        let mut item = Item::new(item_id(i), "CLIP1");
        item.title = Some(title(p.title, i));
        playlist.items.push_back(item.into());
    }
    let dir = data.join("playlists");
    std::fs::create_dir_all(&dir).expect("playlists directory");
    let bytes = onair::playout::store::encode(&playlist).expect("encodes");
    std::fs::write(dir.join("main.json"), bytes).expect("writes the rundown");
}

type Ws = WebSocketStream<TcpStream>;

async fn connect(addr: &str, recv_buffer: Option<u32>) -> Ws {
    let addr: SocketAddr = addr.parse().expect("daemon address");
    let socket = TcpSocket::new_v4().expect("socket");
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).expect("receive buffer");
    }
    let stream = socket.connect(addr).await.expect("connects");
    let url = format!("ws://{addr}/ws");
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, stream))
        .await
        .expect("handshake in time")
        .expect("handshake");
    ws
}

/// The driving client: reads everything, decodes only acks (the events are big, and decoding them
/// all would make the run measure the client).
struct Driver {
    ws: Ws,
    pid: u32,
    /// The size of the last event seen.
    event_bytes: usize,
}

impl Driver {
    async fn next_text(&mut self) -> String {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    if t.as_str().starts_with(r#"{"type":"event""#) {
                        self.event_bytes = t.len();
                    }
                    return t.as_str().to_owned();
                }
                Ok(Some(Ok(_))) => {}
                other => panic!("the driving client lost its connection: {other:?}"),
            }
        }
    }

    async fn next_ack(&mut self) -> Ack {
        loop {
            let text = self.next_text().await;
            if !text.starts_with(r#"{"type":"ack""#) {
                continue;
            }
            match serde_json::from_str(&text) {
                Ok(ServerMsg::Ack(ack)) => return ack,
                other => panic!("undecodable ack {text}: {other:?}"),
            }
        }
    }

    async fn send(&mut self, id: &str, op: &str, args: Value) {
        let cmd = json!({"type": "command", "id": id, "op": op, "args": args});
        self.ws
            .send(Message::text(cmd.to_string()))
            .await
            .expect("sends");
    }

    /// `stats.websocket` of the daemon.
    async fn websocket_stats(&mut self) -> Value {
        self.send("stats", "stats", Value::Null).await;
        loop {
            let ack = self.next_ack().await;
            if ack.id == "stats" {
                return ack.result.stats.expect("stats")["websocket"].clone();
            }
        }
    }

    /// Waits until the daemon is connected to the simulator (cues need it).
    async fn wait_for_link(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            self.send("h", "health", Value::Null).await;
            let health = loop {
                let ack = self.next_ack().await;
                if ack.id == "h" {
                    break ack.result.health.expect("health");
                }
            };
            if health["caspar"]["connected"] == true {
                return;
            }
            assert!(Instant::now() < deadline, "never connected: {health}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Commands `from..to` (each one event with the whole rundown), `window` at a time; returns
    /// the largest RSS seen meanwhile.
    async fn drive(&mut self, p: &Params, from: usize, to: usize) -> u64 {
        let (mut sent, mut acked, mut peak) = (from, from, 0);
        while acked < to {
            while sent < to && sent - acked < p.window {
                let item = item_id(sent % p.items);
                let id = format!("u{sent}");
                match p.drive {
                    Drive::Update => {
                        let args = json!({"playlist": "main", "item": item,
                                          "title": title(p.title, sent + 1)});
                        self.send(&id, "item.update", args).await;
                    }
                    Drive::Cue => {
                        let args = json!({"playlist": "main", "item": item});
                        self.send(&id, "playout.cue", args).await;
                    }
                }
                sent += 1;
            }
            let ack = self.next_ack().await;
            assert!(ack.ok, "{ack:?}");
            assert_eq!(ack.id, format!("u{acked}"), "acks in command order");
            acked += 1;
            if acked % 10 == 0 {
                peak = peak.max(rss(self.pid));
            }
        }
        peak
    }
}

/// Runs the scenario (the caller provides a multi-threaded runtime).
pub async fn run(p: &Params) -> Report {
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let data = tempfile::tempdir().expect("data directory");
    write_rundown(data.path(), p);
    let daemon = serve(&sim, data.path(), &p.env);
    let mut driver = Driver {
        ws: connect(&daemon.addr, None).await,
        pid: daemon.child.id(),
        event_bytes: 0,
    };
    assert!(driver.next_text().await.starts_with(r#"{"type":"hello""#));
    let snapshot = driver.next_text().await;
    assert!(snapshot.starts_with(r#"{"type":"snapshot""#));
    assert!(
        snapshot.contains(&format!("\"{}\"", item_id(p.items - 1))),
        "the daemon loaded the rundown"
    );
    if p.drive == Drive::Cue {
        driver.wait_for_link().await;
    }
    driver.drive(p, 0, p.warm_up).await;
    let rss_before = rss(driver.pid);

    let mut stuck = Vec::with_capacity(p.stuck);
    for _ in 0..p.stuck {
        stuck.push(connect(&daemon.addr, Some(4096)).await);
    }
    let started = Instant::now();
    let rss_peak = driver.drive(p, p.warm_up, p.warm_up + p.updates).await;
    let updates_seconds = started.elapsed().as_secs_f64();

    // Gone: closed by the daemon as too slow, or here.
    drop(stuck);
    let deadline = Instant::now() + WAIT;
    let websocket = loop {
        let ws = driver.websocket_stats().await;
        if ws["clients"] == 1 {
            break ws;
        }
        assert!(
            Instant::now() < deadline,
            "the stuck clients' sessions never ended: {ws}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // A session's memory is freed as its tasks wind down, just after it stops counting as a
    // client: wait (bounded) for the RSS to settle rather than for a guessed time.
    let mut rss_after = rss(driver.pid);
    let deadline = Instant::now() + Duration::from_secs(5);
    while rss_after > rss_before + rss_before / 10 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        rss_after = rss(driver.pid);
    }
    let report = Report {
        event_bytes: driver.event_bytes,
        rss_before,
        rss_peak,
        rss_after,
        websocket,
        updates_seconds,
    };
    drop(driver);
    drop(daemon);
    sim.shutdown().await;
    report
}

/// What [`idle`] measured.
#[derive(Debug, Clone)]
pub struct IdleReport {
    /// Bytes of the snapshot each client received.
    pub snapshot_bytes: usize,
    /// Daemon RSS with one client connected (the shared snapshot text encoded and cached).
    pub rss_before: u64,
    /// Daemon RSS once `clients` more have each read their snapshot, and then nothing.
    pub rss_connected: u64,
}

/// Issue 14's per-connection memory: `clients` connect to a rundown of `items` items (titles of
/// `title` characters), each reads `hello` and the whole snapshot and then stays connected without
/// reading; the daemon's RSS before and after.
pub async fn idle(
    items: usize,
    title: usize,
    clients: usize,
    env: &[(String, String)],
) -> IdleReport {
    let p = Params {
        drive: Drive::Update,
        items,
        title,
        stuck: 0,
        warm_up: 0,
        updates: 0,
        window: 1,
        env: env.to_vec(),
    };
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let data = tempfile::tempdir().expect("data directory");
    write_rundown(data.path(), &p);
    let daemon = serve(&sim, data.path(), env);
    let pid = daemon.child.id();
    let items = p.items;
    let greet = |ws: Ws| async move {
        let mut ws = ws;
        loop {
            match tokio::time::timeout(WAIT, ws.next()).await {
                Ok(Some(Ok(Message::Text(t))))
                    if t.as_str().starts_with(r#"{"type":"snapshot""#) =>
                {
                    // The whole rundown arrived (other parts of the state, such as the media
                    // library, alarms or progress, may differ between connections).
                    let msg: onair::protocol::ServerMsg =
                        serde_json::from_str(t.as_str()).expect("a snapshot that parses");
                    let onair::protocol::ServerMsg::Snapshot { state, .. } = msg else {
                        panic!("not a snapshot");
                    };
                    assert_eq!(
                        state.playlists.first().map(|v| v.playlist.items.len()),
                        Some(items),
                        "the same rundown, whole"
                    );
                    return (ws, t.len());
                }
                Ok(Some(Ok(_))) => {}
                other => panic!("no snapshot: {other:?}"),
            }
        }
    };
    let (first, snapshot_bytes) = greet(connect(&daemon.addr, None).await).await;
    let rss_before = rss(pid);
    let mut idle = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (ws, _) = greet(connect(&daemon.addr, None).await).await;
        idle.push(ws);
    }
    let rss_connected = rss(pid);
    drop((first, idle));
    drop(daemon);
    sim.shutdown().await;
    IdleReport {
        snapshot_bytes,
        rss_before,
        rss_connected,
    }
}
