//! Cluster failover (issue 18): `cargo bench --bench failover` prints one JSON line per figure and
//! a summary line with pass/fail per target.
//!
//! Real processes on loopback: one `nats-server` with JetStream, a simulator in this process
//! (real-time clock), and two `onair serve` nodes of one station (release build), each figure with
//! a station, a simulator and data directories of its own:
//! - `takeover`: SIGKILL the leader while a looping playlist plays; from the kill to the new
//!   leader's first playout command at the simulator (target p99 ≤ lease TTL + 1 s). After each
//!   takeover: the clip on air was adopted (no PLAY or LOAD, no foreground change but AUTO) and the
//!   next item armed (`LOADBG … AUTO`). The killed node comes back as a follower (same data
//!   directory) and catches up before the next kill.
//! - `edits_across_kills`: a client streams `item.add` edits (a unique title each) to whichever
//!   node leads while the leader is killed again and again; after each takeover every acknowledged
//!   edit must be on every node, and the nodes' playlists equal (target: 0 lost, 0 mismatches).
//! - `follower_lag`: edits at 1,000/s from a pipelining client to the leader, a viewer on each
//!   node in this process: for each added item, the follower viewer's receive time minus the
//!   leader viewer's (target p99 ≤ 50 ms), and the follower viewer saw every event, in order.
//!
//! Environment: `ONAIR_BENCH_KILLS` (20), `ONAIR_BENCH_EDIT_KILLS` (100), `ONAIR_BENCH_LAG_SECS`
//! (10), `ONAIR_BENCH_LAG_RATE` (1000 edits/s), `ONAIR_BENCH_EDIT_RATE` (50 edits/s during the
//! kills), `ONAIR_BENCH_LEASE_TTL` / `ONAIR_BENCH_RENEW_EVERY` (unset: the daemon's defaults, 2 s
//! and a quarter of it), `ONAIR_BENCH_FIGURES` (a comma list of the figures to run; all by default).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use onair::sim::media::SimMedia;
use onair::sim::producer::Producer;
use onair::sim::{ClockMode, Sim, SimConfig, TakeHow};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

#[path = "common/daemon.rs"]
mod daemon;

// The tests' way to run a `nats-server` (skip or fail when it is missing, killed on drop).
#[allow(dead_code)]
#[path = "../tests/common/nats.rs"]
mod nats;

use daemon::{Daemon, get, start_daemon};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

const MS: Duration = Duration::from_millis(1);
/// How long any one wait of the bench may take before it gives up (a stuck cluster fails the
/// run with a message rather than hanging it).
const WAIT: Duration = Duration::from_secs(30);
/// The playlist that plays during `takeover` and `edits_across_kills`: 10 s clips, looped.
const PLAYING: &str = "news";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `2s`, `1500ms`, `0.5s`: the forms the bench's duration variables take.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.trim().parse::<u64>().ok().map(Duration::from_millis);
    }
    text.strip_suffix('s')
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn summary(mut v: Vec<f64>) -> Value {
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((v.len() - 1) as f64 * p).round() as usize;
        (v[i] * 1000.0).round() / 1000.0
    };
    json!({ "n": v.len(), "p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0) })
}

fn print_figure(figure: &str, value: Value) {
    let mut line = json!({ "figure": figure });
    if let (Some(l), Value::Object(v)) = (line.as_object_mut(), value) {
        l.extend(v);
    }
    println!("{line}");
}

/// Polls `f` until it gives a value; fails the run after `within`, naming what it waited for.
async fn poll<T, F, Fut>(what: &str, within: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(20 * MS).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The station: a simulator, NATS, two nodes
// ---------------------------------------------------------------------------------------------

/// The lease settings the nodes run with; `None`: the daemon's default.
#[derive(Clone)]
struct LeaseEnv {
    ttl: Option<String>,
    renew: Option<String>,
}

impl LeaseEnv {
    fn from_env() -> LeaseEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        LeaseEnv {
            ttl: var("ONAIR_BENCH_LEASE_TTL"),
            renew: var("ONAIR_BENCH_RENEW_EVERY"),
        }
    }

    /// The lease's time to live the nodes use (the daemon's default is 2 s).
    fn ttl(&self) -> Duration {
        self.ttl
            .as_deref()
            .map(|t| parse_duration(t).expect("ONAIR_BENCH_LEASE_TTL: a duration such as 2s"))
            .unwrap_or(Duration::from_secs(2))
    }

    /// The renewal period (the daemon's default is a quarter of the lease).
    fn renew(&self) -> Duration {
        self.renew
            .as_deref()
            .map(|t| parse_duration(t).expect("ONAIR_BENCH_RENEW_EVERY: a duration such as 500ms"))
            .unwrap_or(self.ttl() / 4)
    }
}

struct Node {
    name: &'static str,
    data: tempfile::TempDir,
    daemon: Option<Daemon>,
}

/// Two nodes of one station against one simulator.
struct Station {
    sim: Sim,
    nats: String,
    station: String,
    lease: LeaseEnv,
    nodes: Vec<Node>,
}

impl Station {
    async fn new(nats: &nats::NatsServer, station: &str, lease: &LeaseEnv) -> Station {
        let mut cfg = SimConfig::for_tests();
        cfg.clock = ClockMode::Realtime;
        cfg.media = SimMedia::virtual_library(20);
        let sim = Sim::start(cfg).await.expect("sim");
        let nodes = ["a", "b"]
            .into_iter()
            .map(|name| Node {
                name,
                data: tempfile::tempdir().expect("data dir"),
                daemon: None,
            })
            .collect();
        Station {
            sim,
            nats: nats.url(),
            station: station.to_owned(),
            lease: lease.clone(),
            nodes,
        }
    }

    /// Starts node `i` (again, with the same data directory after a kill).
    fn start(&mut self, i: usize) {
        let mut env: Vec<(&str, String)> = vec![
            ("ONAIR_CLUSTER_NATS", self.nats.clone()),
            ("ONAIR_CLUSTER_STATION", self.station.clone()),
            ("ONAIR_CLUSTER_NODE", self.nodes[i].name.to_owned()),
            // The bench's clients are trusted and send edits far faster than the default
            // per-connection limit (20/s) allows.
            ("ONAIR_SERVER_RATE_LIMIT_PER_SEC", "10000".to_owned()),
            ("ONAIR_SERVER_RATE_LIMIT_BURST", "100000".to_owned()),
        ];
        if let Some(ttl) = &self.lease.ttl {
            env.push(("ONAIR_CLUSTER_LEASE_TTL", ttl.clone()));
        }
        if let Some(renew) = &self.lease.renew {
            env.push(("ONAIR_CLUSTER_RENEW_EVERY", renew.clone()));
        }
        let caspar = self.sim.addr().to_string();
        let node = &mut self.nodes[i];
        node.daemon = Some(start_daemon(&caspar, node.data.path(), &env));
    }

    /// SIGKILL node `i` (no goodbye: its lease expires by itself) and reap it.
    fn kill(&mut self, i: usize) {
        if let Some(mut d) = self.nodes[i].daemon.take() {
            let _ = d.child.kill();
            let _ = d.child.wait();
        }
    }

    fn addr(&self, i: usize) -> Option<String> {
        self.nodes[i].daemon.as_ref().map(|d| d.addr.clone())
    }

    /// Every running node's index.
    fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].daemon.is_some())
            .collect()
    }

    async fn health(&self, i: usize) -> Option<Value> {
        let addr = self.addr(i)?;
        Some(get(&addr, "/health").await.1)
    }

    /// Waits until node `i` reports `role` and has applied the whole journal.
    async fn until_role(&self, i: usize, role: &str) -> Value {
        let what = format!(
            "node {} {role} with the journal applied",
            self.nodes[i].name
        );
        poll(&what, WAIT, || async {
            let doc = self.health(i).await?;
            let c = &doc["cluster"];
            (c["role"] == role
                && c["leader"].is_string()
                && c["journal"]["open"] == true
                && c["journal"]["behind"] == 0
                // A leader drives only once it has the journal applied up to its length.
                && (role != "leader" || c["journal"]["driving"] == true))
                .then_some(doc)
        })
        .await
    }

    /// The node that leads, as the nodes report it.
    async fn leader(&self) -> usize {
        poll("a leader", WAIT, || async {
            for i in self.running() {
                if self.health(i).await?["cluster"]["role"] == "leader" {
                    return Some(i);
                }
            }
            None
        })
        .await
    }

    /// Waits until every running node has applied the same journal sequence and none is behind;
    /// returns that sequence.
    async fn journal_in_step(&self) -> u64 {
        poll("every node at the same journal seq", WAIT, || async {
            self.journal_seq().await
        })
        .await
    }

    async fn journal_seq(&self) -> Option<u64> {
        let mut seqs = Vec::new();
        for i in self.running() {
            let doc = self.health(i).await?;
            let j = &doc["cluster"]["journal"];
            if j["behind"] != 0 || j["open"] != true {
                return None;
            }
            seqs.push(j["applied_seq"].as_u64()?);
        }
        let first = *seqs.first()?;
        seqs.iter().all(|&s| s == first).then_some(first)
    }

    /// A playlist that loops CLIP1 and CLIP2 (10 s each) with autoplay, taken on air.
    async fn play(&self, i: usize) {
        let addr = self.addr(i).expect("running");
        let (mut ws, _) = connect(&addr).await.expect("ws to the leader");
        for (id, op, args) in [
            ("p0", "playlist.create", json!({"name": "News"})),
            (
                "p1",
                "item.add",
                json!({"playlist": PLAYING, "clip": "CLIP1"}),
            ),
            (
                "p2",
                "item.add",
                json!({"playlist": PLAYING, "clip": "CLIP2"}),
            ),
            (
                "p3",
                "playlist.loop",
                json!({"playlist": PLAYING, "enabled": true}),
            ),
            ("p4", "playout.take", json!({"playlist": PLAYING})),
        ] {
            let ack = command(&mut ws, id, op, args).await;
            assert_eq!(ack["ok"], true, "{op}: {ack}");
        }
        poll("CLIP2 armed behind CLIP1", WAIT, || async {
            playout_commands(&self.sim)
                .iter()
                .any(|c| c.starts_with("LOADBG") && c.contains("CLIP2") && c.contains("AUTO"))
                .then_some(())
        })
        .await;
    }

    /// Node 0 leads, node 1 follows with the journal applied.
    async fn two_nodes(&mut self) {
        self.start(0);
        self.until_role(0, "leader").await;
        self.start(1);
        self.until_role(1, "follower").await;
    }
}

/// Commands that change playout, as the simulator received them (`NAME params…`).
fn playout_commands(sim: &Sim) -> Vec<String> {
    sim.command_log()
        .into_iter()
        .filter(|r| {
            matches!(
                r.name,
                "PLAY" | "LOADBG" | "LOAD" | "STOP" | "CLEAR" | "PAUSE" | "RESUME" | "CALL"
            )
        })
        .map(|r| format!("{} {}", r.name, r.params.join(" ")))
        .collect()
}

/// What layer 1-10 shows: its clip and the frame on screen.
fn layer_of(sim: &Sim) -> Option<(String, i64)> {
    sim.with_state(|s| {
        let layer = s.layer(0, 10)?;
        let Producer::Clip(c) = &layer.foreground else {
            return None;
        };
        Some((c.name.to_uppercase(), c.time))
    })
}

// ---------------------------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------------------------

/// Connects to `/ws` and reads `hello` and the first `snapshot` (returned).
async fn connect(addr: &str) -> Result<(Ws, Value), String> {
    let url = format!("ws://{addr}/ws");
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(2),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .map_err(|_| "connect timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    let mut snapshot = None;
    while snapshot.is_none() {
        let msg = next_json(&mut ws)
            .await
            .ok_or("closed before the snapshot")?;
        if msg["type"] == "snapshot" {
            snapshot = Some(msg);
        }
    }
    Ok((ws, snapshot.unwrap_or_default()))
}

/// The next text message as JSON; `None` when the connection ends (or nothing in 15 s).
async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).ok();
        }
    }
}

/// Sends a command and returns its ack.
async fn command(ws: &mut Ws, id: &str, op: &str, args: Value) -> Value {
    let msg = json!({"type": "command", "id": id, "op": op, "args": args});
    ws.send(Message::text(msg.to_string())).await.expect("send");
    loop {
        let m = next_json(ws).await.expect("an ack");
        if m["type"] == "ack" && m["id"] == id {
            return m;
        }
    }
}

/// A node's playlists from a fresh snapshot, by id.
async fn playlists(addr: &str) -> Option<Vec<Value>> {
    let (_, snap) = connect(addr).await.ok()?;
    snap["state"]["playlists"].as_array().cloned()
}

// ---------------------------------------------------------------------------------------------
// takeover
// ---------------------------------------------------------------------------------------------

struct TakeoverResult {
    samples: Vec<f64>,
    adopted: usize,
    restarted: usize,
    armed: usize,
    auto_switches: usize,
    stragglers: usize,
    first_commands: HashMap<String, usize>,
}

async fn takeover(nats: &nats::NatsServer, lease: &LeaseEnv, kills: usize) -> TakeoverResult {
    let mut st = Station::new(nats, "bench-takeover", lease).await;
    st.two_nodes().await;
    st.play(0).await;
    let mut rng = fastrand::Rng::with_seed(18);
    let mut r = TakeoverResult {
        samples: Vec::new(),
        adopted: 0,
        restarted: 0,
        armed: 0,
        auto_switches: 0,
        stragglers: 0,
        first_commands: HashMap::new(),
    };
    // A command sent this soon after the kill cannot come from the new leader (it may drive only
    // once the old lease has expired, at least TTL − one renewal period after the kill): it is
    // one the old leader had already sent.
    let impossible = lease.ttl().saturating_sub(lease.renew()) / 2;
    for _ in 0..kills {
        // Kill at any point of the clip and of the renewal period.
        tokio::time::sleep(Duration::from_millis(500 + rng.u64(0..2500))).await;
        let leader = st.leader().await;
        let survivor = 1 - leader;
        let at_kill = layer_of(&st.sim);
        let killed = Instant::now();
        st.kill(leader);
        st.sim.clear_command_log();
        st.sim.clear_take_log();
        // The command log has no timestamps: watch it every millisecond (the resolution of the
        // figure), without the 20 ms pause of `poll`.
        let (took, first) = loop {
            let cmds = playout_commands(&st.sim);
            if let Some(first) = cmds.first() {
                if killed.elapsed() >= impossible {
                    break (killed.elapsed(), first.clone());
                }
                // The old leader's last command: forget it and keep watching.
                st.sim.clear_command_log();
                r.stragglers += 1;
            }
            assert!(
                killed.elapsed() < WAIT,
                "no playout command within {WAIT:?} of the kill"
            );
            tokio::time::sleep(MS).await;
        };
        r.samples.push(took.as_secs_f64());
        let word = first.split_whitespace().next().unwrap_or("").to_owned();
        *r.first_commands.entry(word).or_default() += 1;
        st.until_role(survivor, "leader").await;
        // The next item armed behind whatever is on air.
        let deadline = Instant::now() + Duration::from_secs(10);
        let armed = loop {
            let armed = playout_commands(&st.sim)
                .iter()
                .any(|c| c.starts_with("LOADBG") && c.contains("AUTO"));
            if armed || Instant::now() > deadline {
                break armed;
            }
            tokio::time::sleep(20 * MS).await;
        };
        if armed {
            r.armed += 1;
        }
        // Adopted, not restarted: no PLAY or LOAD at all, no foreground change but an AUTO.
        let cmds = playout_commands(&st.sim);
        let takes = st.sim.take_log();
        let restarted = cmds
            .iter()
            .any(|c| c.starts_with("PLAY") || c.starts_with("LOAD "))
            || takes
                .iter()
                .any(|t| matches!(t.how, TakeHow::Play | TakeHow::Promote | TakeHow::Load));
        let switched = takes.iter().any(|t| t.how == TakeHow::Auto);
        let now = layer_of(&st.sim);
        let frozen = match (&at_kill, &now) {
            (Some((clip, frame)), Some((clip_now, frame_now))) => {
                clip == clip_now && !switched && frame_now <= frame
            }
            _ => true,
        };
        if restarted || frozen {
            r.restarted += 1;
            eprintln!("takeover: not adopted: at kill {at_kill:?}, now {now:?}, {cmds:?}");
        } else {
            r.adopted += 1;
        }
        if switched {
            r.auto_switches += 1;
        }
        // Back as a follower, caught up, before the next kill.
        st.start(leader);
        st.until_role(leader, "follower").await;
        st.journal_in_step().await;
    }
    r
}

// ---------------------------------------------------------------------------------------------
// edits_across_kills
// ---------------------------------------------------------------------------------------------

/// Items per playlist before the editor starts the next (the daemon's limit is 10,000).
const ITEMS_PER_PLAYLIST: usize = 2_000;

#[derive(Default)]
struct EditCounts {
    sent: AtomicU64,
    acked: AtomicU64,
    store_error: AtomicU64,
    not_leader: AtomicU64,
    /// Edits in flight on a connection that broke: not acked, their outcome unknown.
    unanswered: AtomicU64,
    other_errors: AtomicU64,
    refused: AtomicU64,
}

/// The client that streams edits to whichever node leads.
struct Editor {
    /// Each node's address, `None` while it is down (the bench updates it at every restart).
    addrs: Arc<Mutex<Vec<Option<String>>>>,
    /// Acknowledged edits: title → (playlist, item id).
    acked: Arc<Mutex<HashMap<String, (String, String)>>>,
    counts: Arc<EditCounts>,
    paused: Arc<AtomicBool>,
    /// Set by the editor once it has seen `paused` with nothing in flight: it sends nothing more
    /// until `paused` is cleared.
    idle: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// The edits acknowledged by the node it is connected to, since the last time the bench asked.
    acked_here: Arc<AtomicU64>,
}

struct EditorState {
    next: u64,
    playlist: usize,
    in_playlist: usize,
    need_create: bool,
}

impl Editor {
    async fn run(self, rate: f64, window: usize) {
        let mut s = EditorState {
            next: 0,
            playlist: 0,
            in_playlist: 0,
            need_create: true,
        };
        let mut hint: Option<String> = None;
        let mut turn = 0usize;
        while !self.stop.load(Ordering::Relaxed) {
            if self.paused.load(Ordering::Relaxed) {
                self.idle.store(true, Ordering::Relaxed);
                tokio::time::sleep(10 * MS).await;
                continue;
            }
            let addr = match hint.take() {
                Some(a) => Some(a),
                None => {
                    turn += 1;
                    let addrs = self.addrs.lock().expect("addrs").clone();
                    addrs[turn % addrs.len()].clone()
                }
            };
            let Some(addr) = addr else {
                tokio::time::sleep(20 * MS).await;
                continue;
            };
            let Ok((ws, _)) = connect(&addr).await else {
                self.counts.refused.fetch_add(1, Ordering::Relaxed);
                // A node that is down refuses at once: try the other, without spinning.
                tokio::time::sleep(20 * MS).await;
                continue;
            };
            hint = self.session(ws, &mut s, rate, window).await;
            if hint.as_ref().is_none_or(|h| *h == addr) {
                // Refused without knowing a leader (none yet, during a takeover), or by a node
                // that names itself (it has the lease but not the whole journal yet): ask again
                // soon.
                tokio::time::sleep(50 * MS).await;
            }
        }
    }

    /// One connection: edits until it breaks or the node says it does not lead; returns the
    /// leader's address when the node named one.
    async fn session(
        &self,
        mut ws: Ws,
        s: &mut EditorState,
        rate: f64,
        window: usize,
    ) -> Option<String> {
        // id → (title, or None for a playlist creation; playlist)
        let mut pending: HashMap<String, (Option<String>, String)> = HashMap::new();
        let mut leaving: Option<Option<String>> = None;
        let period = Duration::from_secs_f64(1.0 / rate);
        let mut due = tokio::time::Instant::now();
        loop {
            self.idle.store(
                pending.is_empty() && self.paused.load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
            if let Some(hint) = &leaving
                && pending.is_empty()
            {
                return hint.clone();
            }
            let may_send = leaving.is_none()
                && !self.paused.load(Ordering::Relaxed)
                && !self.stop.load(Ordering::Relaxed)
                && pending.len() < window;
            if self.stop.load(Ordering::Relaxed) && pending.is_empty() {
                return None;
            }
            tokio::select! {
                () = tokio::time::sleep_until(due), if may_send => {
                    due = (due + period).max(tokio::time::Instant::now() - 10 * period);
                    let name = format!("E{}", s.playlist);
                    let pl = name.to_lowercase();
                    let id = format!("c{}", s.next);
                    s.next += 1;
                    let (msg, title) = if std::mem::take(&mut s.need_create) {
                        // Sent once; a refusal (or `playlist_not_found` for the adds behind it)
                        // asks for it again.
                        (json!({"type": "command", "id": id, "op": "playlist.create",
                                "args": {"name": name}}), None)
                    } else {
                        let title = format!("t{}", s.next);
                        (json!({"type": "command", "id": id, "op": "item.add",
                                "args": {"playlist": pl, "clip": "CLIP1", "title": title}}),
                         Some(title))
                    };
                    if ws.send(Message::text(msg.to_string())).await.is_err() {
                        self.lost(&pending);
                        return None;
                    }
                    self.counts.sent.fetch_add(1, Ordering::Relaxed);
                    pending.insert(id, (title, pl));
                }
                () = tokio::time::sleep(20 * MS), if !may_send => {
                    // Paused, full window or leaving: only the answers matter; look again soon.
                }
                msg = ws.next() => {
                    let text = match msg {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(_)) => continue,
                        _ => {
                            self.lost(&pending);
                            return None;
                        }
                    };
                    let Ok(m) = serde_json::from_str::<Value>(&text) else { continue };
                    if m["type"] != "ack" {
                        continue;
                    }
                    let Some((title, pl)) = m["id"].as_str().and_then(|id| pending.remove(id)) else {
                        continue;
                    };
                    let code = m["error"]["code"].as_str().unwrap_or("");
                    if m["ok"] == true || code == "already_exists" {
                        if let Some(title) = title {
                            self.counts.acked.fetch_add(1, Ordering::Relaxed);
                            self.acked_here.fetch_add(1, Ordering::Relaxed);
                            let item = m["item"].as_str().unwrap_or_default().to_owned();
                            self.acked.lock().expect("acked").insert(title, (pl, item));
                            s.in_playlist += 1;
                            if s.in_playlist >= ITEMS_PER_PLAYLIST {
                                s.playlist += 1;
                                s.in_playlist = 0;
                                s.need_create = true;
                            }
                        }
                        continue;
                    }
                    if title.is_none() {
                        s.need_create = true;
                    }
                    match code {
                        "not_leader" => {
                            self.counts.not_leader.fetch_add(1, Ordering::Relaxed);
                            let hint = m["error"]["leader"]["address"].as_str().map(str::to_owned);
                            leaving.get_or_insert(hint);
                        }
                        "store_error" => {
                            self.counts.store_error.fetch_add(1, Ordering::Relaxed);
                        }
                        "playlist_not_found" => s.need_create = true,
                        _ => {
                            self.counts.other_errors.fetch_add(1, Ordering::Relaxed);
                            eprintln!("edits: unexpected answer {m}");
                        }
                    }
                }
            }
        }
    }

    fn lost(&self, pending: &HashMap<String, (Option<String>, String)>) {
        self.counts
            .unanswered
            .fetch_add(pending.len() as u64, Ordering::Relaxed);
    }
}

struct EditsResult {
    kills: usize,
    lost: usize,
    mismatches: usize,
    duplicates: usize,
    unacked_present: usize,
    playout_differs: usize,
    takeover: Vec<f64>,
    /// Per cycle, from `/health` in step to equal snapshots (s).
    converged: Vec<f64>,
    counts: Arc<EditCounts>,
    items: usize,
    run: Duration,
}

/// Every item of every playlist: title → (playlist, item id), and how many titles appear twice.
fn items_by_title(pls: &[Value]) -> (HashMap<String, (String, String)>, usize) {
    let mut out = HashMap::new();
    let mut twice = 0;
    for p in pls {
        let pl = p["id"].as_str().unwrap_or_default();
        for item in p["items"].as_array().into_iter().flatten() {
            let Some(title) = item["title"].as_str() else {
                continue;
            };
            let id = item["id"].as_str().unwrap_or_default();
            if out
                .insert(title.to_owned(), (pl.to_owned(), id.to_owned()))
                .is_some()
            {
                twice += 1;
            }
        }
    }
    (out, twice)
}

/// The playlists without their playout (a follower's is the leader's last journal entry, which
/// may trail what the leader shows by a save), by id.
fn without_playout(pls: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = pls
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if let Some(o) = p.as_object_mut() {
                o.remove("playout");
            }
            p
        })
        .collect();
    out.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    out
}

async fn edits_across_kills(
    nats: &nats::NatsServer,
    lease: &LeaseEnv,
    kills: usize,
    rate: f64,
) -> EditsResult {
    let started = Instant::now();
    let mut st = Station::new(nats, "bench-edits", lease).await;
    st.two_nodes().await;
    st.play(0).await;
    let addrs = Arc::new(Mutex::new(vec![st.addr(0), st.addr(1)]));
    let editor = Editor {
        addrs: addrs.clone(),
        acked: Arc::default(),
        counts: Arc::default(),
        paused: Arc::default(),
        idle: Arc::default(),
        stop: Arc::default(),
        acked_here: Arc::default(),
    };
    let (acked, counts, paused, idle, stop, acked_here) = (
        editor.acked.clone(),
        editor.counts.clone(),
        editor.paused.clone(),
        editor.idle.clone(),
        editor.stop.clone(),
        editor.acked_here.clone(),
    );
    let task = tokio::spawn(editor.run(rate, 4));
    let mut rng = fastrand::Rng::with_seed(1800);
    let mut r = EditsResult {
        kills,
        lost: 0,
        mismatches: 0,
        duplicates: 0,
        unacked_present: 0,
        playout_differs: 0,
        takeover: Vec::new(),
        converged: Vec::new(),
        counts: counts.clone(),
        items: 0,
        run: Duration::ZERO,
    };
    // Every acked edit must be in each node's state: the quiet moment to look is with the editor
    // paused and nothing in flight.
    let pause = || async {
        paused.store(true, Ordering::Relaxed);
        idle.store(false, Ordering::Relaxed);
        poll("the editor's edits in flight answered", WAIT, || async {
            idle.load(Ordering::Relaxed).then_some(())
        })
        .await;
    };
    for cycle in 0..kills {
        // Edits flow to the leader for a moment, then it dies with some in flight.
        acked_here.store(0, Ordering::Relaxed);
        poll("edits acknowledged before the kill", WAIT, || async {
            (acked_here.load(Ordering::Relaxed) >= 5).then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(rng.u64(0..1000))).await;
        let leader = st.leader().await;
        let survivor = 1 - leader;
        let killed = Instant::now();
        st.kill(leader);
        addrs.lock().expect("addrs")[leader] = None;
        st.until_role(survivor, "leader").await;
        acked_here.store(0, Ordering::Relaxed);
        poll("an edit acknowledged by the new leader", WAIT, || async {
            (acked_here.load(Ordering::Relaxed) > 0).then_some(())
        })
        .await;
        r.takeover.push(killed.elapsed().as_secs_f64());
        // The survivor alone: every edit acked so far, by either leader, is in its state.
        pause().await;
        let snapshot = st.journal_in_step().await;
        let pls = playlists(&st.addr(survivor).expect("running"))
            .await
            .expect("the survivor's snapshot");
        let (have, twice) = items_by_title(&pls);
        r.duplicates += twice;
        let lost = lost_edits(&acked.lock().expect("acked"), &have);
        if lost > 0 {
            eprintln!(
                "edits: cycle {cycle}: {lost} acknowledged edits missing on the survivor (journal seq {snapshot})"
            );
        }
        r.lost += lost;
        paused.store(false, Ordering::Relaxed);
        // The killed node comes back (same data directory) while edits flow, and catches up.
        st.start(leader);
        addrs.lock().expect("addrs")[leader] = st.addr(leader);
        st.until_role(leader, "follower").await;
        pause().await;
        let c = compare_nodes(&st, &acked).await;
        r.mismatches += usize::from(c.mismatch);
        r.playout_differs += usize::from(c.playout_differs);
        r.lost += c.lost;
        r.unacked_present = c.unacked;
        r.converged.extend(c.converged);
        paused.store(false, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = tokio::time::timeout(WAIT, task).await;
    r.items = acked.lock().expect("acked").len();
    r.run = started.elapsed();
    r
}

fn lost_edits(
    acked: &HashMap<String, (String, String)>,
    have: &HashMap<String, (String, String)>,
) -> usize {
    acked
        .iter()
        .filter(|(title, want)| have.get(*title) != Some(want))
        .count()
}

/// Where two nodes' playlists (as [`without_playout`] gives them) differ, in a line.
fn describe_difference(a: &[Value], b: &[Value]) -> String {
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    if ids(a) != ids(b) {
        return format!("playlists {:?} vs {:?}", ids(a), ids(b));
    }
    let mut out = Vec::new();
    for (x, y) in a.iter().zip(b) {
        if x == y {
            continue;
        }
        let (Some(xo), Some(yo)) = (x.as_object(), y.as_object()) else {
            continue;
        };
        for (k, xv) in xo {
            let yv = yo.get(k).unwrap_or(&Value::Null);
            if xv == yv {
                continue;
            }
            if k == "items" {
                let (xi, yi) = (
                    xv.as_array().cloned().unwrap_or_default(),
                    yv.as_array().cloned().unwrap_or_default(),
                );
                let at = xi.iter().zip(&yi).position(|(p, q)| p != q);
                out.push(format!(
                    "{}: {} vs {} items, first difference at {at:?}: {} vs {}",
                    x["id"],
                    xi.len(),
                    yi.len(),
                    at.and_then(|i| xi.get(i)).unwrap_or(&Value::Null),
                    at.and_then(|i| yi.get(i)).unwrap_or(&Value::Null)
                ));
            } else {
                out.push(format!("{}: {k} {xv} vs {yv}", x["id"]));
            }
        }
        for k in yo.keys().filter(|k| !xo.contains_key(*k)) {
            out.push(format!("{}: {k} only on the second", x["id"]));
        }
    }
    out.join("; ")
}

/// What [`compare_nodes`] found.
struct Comparison {
    /// The nodes' playlists still differed `WAIT` after the journal said they were in step.
    mismatch: bool,
    /// From `/health` showing every node at the same journal seq to their snapshots' playlists
    /// being equal (seconds).
    converged: Option<f64>,
    /// The on-air item of some playlist differs between the nodes.
    playout_differs: bool,
    /// Acknowledged edits missing on any node, summed over the nodes.
    lost: usize,
    /// Items with a title (the editor's) present without an ack: ambiguous outcomes that stuck.
    unacked: usize,
}

/// Waits until every running node reports the same journal seq in `/health`, then until their
/// snapshots' playlists (without playout) are equal; compares them with the acknowledged edits.
///
/// `/health`'s `applied_seq` is the last entry *handed to* the engine, which writes each entry to
/// its local copy before it publishes it: a node that has just read thousands of entries at
/// start-up reports `behind: 0` while its snapshot still lacks many of them. So equality is
/// waited for, and the time it took is reported.
async fn compare_nodes(
    st: &Station,
    acked: &Mutex<HashMap<String, (String, String)>>,
) -> Comparison {
    let seq = st.journal_in_step().await;
    let in_step = Instant::now();
    let (all, converged) = loop {
        let mut all = Vec::new();
        for i in st.running() {
            all.push(
                playlists(&st.addr(i).expect("running"))
                    .await
                    .expect("a snapshot"),
            );
        }
        let first = without_playout(&all[0]);
        if all[1..].iter().all(|p| without_playout(p) == first) {
            break (all, Some(in_step.elapsed().as_secs_f64()));
        }
        if in_step.elapsed() > WAIT {
            let names: Vec<&str> = st.running().iter().map(|&i| st.nodes[i].name).collect();
            eprintln!(
                "edits: the playlists of nodes {names:?} still differ {WAIT:?} after all were at \
                 journal seq {seq}: {}",
                describe_difference(&first, &without_playout(&all[1]))
            );
            break (all, None);
        }
        tokio::time::sleep(100 * MS).await;
    };
    let acked = acked.lock().expect("acked");
    let mut lost = 0;
    let mut unacked = 0;
    for pls in &all {
        // Only the editor's items have titles.
        let (have, _) = items_by_title(pls);
        let missing = lost_edits(&acked, &have);
        lost += missing;
        let acked_here = acked.len() - missing;
        unacked = unacked.max(have.len().saturating_sub(acked_here));
    }
    let on_air = |pls: &Vec<Value>| -> Vec<Value> {
        let mut v: Vec<Value> = pls
            .iter()
            .map(|p| json!([p["id"], p["playout"]["on_air"]]))
            .collect();
        v.sort_by_key(|x| x.to_string());
        v
    };
    Comparison {
        mismatch: converged.is_none(),
        converged,
        playout_differs: all[1..].iter().any(|p| on_air(p) != on_air(&all[0])),
        lost,
        unacked,
    }
}

// ---------------------------------------------------------------------------------------------
// follower_lag
// ---------------------------------------------------------------------------------------------

/// What a viewer received: every event's seq, and each added item with when it arrived.
#[derive(Default)]
struct Seen {
    seqs: Vec<u64>,
    items: Vec<(String, Instant)>,
    snapshots: usize,
}

/// Reads a viewer connection until `stop`, stamping each message as it arrives.
async fn viewer(mut ws: Ws, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(msg) = tokio::time::timeout(100 * MS, ws.next()).await else {
            continue;
        };
        let at = Instant::now();
        let Some(Ok(Message::Text(text))) = msg else {
            return;
        };
        let Ok(m) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let mut seen = seen.lock().expect("seen");
        match m["type"].as_str() {
            Some("snapshot") => seen.snapshots += 1,
            Some("event") => {
                if let Some(seq) = m["seq"].as_u64() {
                    seen.seqs.push(seq);
                }
                if m["kind"] == "item_added"
                    && let Some(id) = m["item"]["id"].as_str()
                {
                    seen.items.push((id.to_owned(), at));
                }
            }
            _ => {}
        }
    }
}

/// Edits at `rate` per second with up to `window` in flight, for `secs`; returns the items acked
/// and how long sending took.
async fn pipelined_edits(
    addr: &str,
    rate: f64,
    secs: f64,
    window: usize,
) -> (Vec<String>, Duration, HashMap<String, u64>) {
    let (mut ws, _) = connect(addr).await.expect("ws to the leader");
    let per_playlist = 2_500;
    let period = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut due = start;
    let mut sent = 0usize;
    let mut pending = HashSet::new();
    let mut acked = Vec::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    loop {
        let sending = tokio::time::Instant::now() < end;
        if !sending && pending.is_empty() {
            break;
        }
        let may_send = sending && pending.len() < window;
        tokio::select! {
            () = tokio::time::sleep_until(due), if may_send => {
                // Catch up after a full window, but not with a burst of more than a few.
                due = (due + period).max(tokio::time::Instant::now() - 4 * period);
                let id = sent.to_string();
                let k = sent / (per_playlist + 1);
                let msg = if sent.is_multiple_of(per_playlist + 1) {
                    json!({"type": "command", "id": id, "op": "playlist.create",
                           "args": {"name": format!("L{k}")}})
                } else {
                    json!({"type": "command", "id": id, "op": "item.add",
                           "args": {"playlist": format!("l{k}"), "clip": "CLIP2", "title": format!("lag{sent}")}})
                };
                ws.send(Message::text(msg.to_string())).await.expect("send");
                pending.insert(id);
                sent += 1;
            }
            () = tokio::time::sleep(20 * MS), if !may_send => {}
            msg = next_json(&mut ws) => {
                let m = msg.expect("the leader answers");
                if m["type"] != "ack" {
                    continue;
                }
                pending.remove(m["id"].as_str().unwrap_or_default());
                if m["ok"] == true {
                    if let Some(item) = m["item"].as_str() {
                        acked.push(item.to_owned());
                    }
                } else {
                    let code = m["error"]["code"].as_str().unwrap_or("?").to_owned();
                    *errors.entry(code).or_default() += 1;
                }
            }
        }
    }
    (acked, start.elapsed(), errors)
}

async fn follower_lag(nats: &nats::NatsServer, lease: &LeaseEnv, secs: usize, rate: f64) -> Value {
    let mut st = Station::new(nats, "bench-lag", lease).await;
    st.two_nodes().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (on_leader, on_follower) = (
        Arc::new(Mutex::new(Seen::default())),
        Arc::new(Mutex::new(Seen::default())),
    );
    let mut viewers = Vec::new();
    for (i, seen) in [(0, &on_leader), (1, &on_follower)] {
        let (ws, _) = connect(&st.addr(i).expect("running"))
            .await
            .expect("viewer");
        viewers.push(tokio::spawn(viewer(ws, seen.clone(), stop.clone())));
    }
    let (acked, took, errors) =
        pipelined_edits(&st.addr(0).expect("running"), rate, secs as f64, 16).await;
    let acked_set: HashSet<&String> = acked.iter().collect();
    // Everything the leader's viewer saw reaches the follower's, or the wait gives up.
    let _ = tokio::time::timeout(WAIT, async {
        loop {
            let (l, f) = (
                on_leader.lock().expect("seen").items.len(),
                on_follower.lock().expect("seen").items.len(),
            );
            if l >= acked.len() && f >= l {
                break;
            }
            tokio::time::sleep(20 * MS).await;
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for v in viewers {
        let _ = v.await;
    }
    st.journal_in_step().await;
    let l = on_leader.lock().expect("seen");
    let f = on_follower.lock().expect("seen");
    let at_follower: HashMap<&String, Instant> = f.items.iter().map(|(id, at)| (id, *at)).collect();
    let mut lag = Vec::new();
    let mut negative = 0;
    for (id, at) in &l.items {
        if let Some(fat) = at_follower.get(id) {
            let ms = if *fat >= *at {
                fat.duration_since(*at).as_secs_f64() * 1000.0
            } else {
                negative += 1;
                -(at.duration_since(*fat).as_secs_f64() * 1000.0)
            };
            lag.push(ms);
        }
    }
    // Every item acked or seen on the leader must reach the follower's viewer.
    let expected: HashSet<&String> = acked
        .iter()
        .chain(l.items.iter().map(|(id, _)| id))
        .collect();
    let missing = expected
        .iter()
        .filter(|id| !at_follower.contains_key(*id))
        .count();
    let at_leader: HashSet<&String> = l.items.iter().map(|(id, _)| id).collect();
    let leader_viewer_missing = acked_set
        .iter()
        .filter(|id| !at_leader.contains(*id))
        .count();
    // In order: the follower's items in the leader's order (its position never goes back).
    let order: HashMap<&String, usize> = l
        .items
        .iter()
        .enumerate()
        .map(|(k, (id, _))| (id, k))
        .collect();
    let mut out_of_order = 0;
    let mut last = None;
    for (id, _) in &f.items {
        if let Some(&k) = order.get(id) {
            if last.is_some_and(|p| k < p) {
                out_of_order += 1;
            }
            last = Some(last.map_or(k, |p: usize| p.max(k)));
        }
    }
    let gaps = |s: &Seen| s.seqs.windows(2).filter(|w| w[1] != w[0] + 1).count();
    let not_acked_seen = l
        .items
        .iter()
        .filter(|(id, _)| !acked_set.contains(id))
        .count();
    json!({
        "secs": secs, "target_rate": rate, "acked": acked.len(),
        "rate_per_s": (acked.len() as f64 / took.as_secs_f64()).round(),
        "errors": errors, "lag_ms": summary(lag), "follower_earlier": negative,
        "missing": missing, "out_of_order": out_of_order,
        "follower_seq_gaps": gaps(&f), "leader_seq_gaps": gaps(&l),
        "follower_resnapshots": f.snapshots.saturating_sub(1),
        "leader_items_not_acked": not_acked_seen,
        "leader_viewer_missing": leader_viewer_missing,
    })
}

// ---------------------------------------------------------------------------------------------

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let kills = env_usize("ONAIR_BENCH_KILLS", 20);
    let edit_kills = env_usize("ONAIR_BENCH_EDIT_KILLS", 100);
    let lag_secs = env_usize("ONAIR_BENCH_LAG_SECS", 10);
    let lag_rate = env_usize("ONAIR_BENCH_LAG_RATE", 1000) as f64;
    let edit_rate = env_usize("ONAIR_BENCH_EDIT_RATE", 50) as f64;
    let figures = std::env::var("ONAIR_BENCH_FIGURES").unwrap_or_default();
    let wanted = |f: &str| figures.is_empty() || figures.split(',').any(|w| w.trim() == f);
    let lease = LeaseEnv::from_env();
    let Some(nats) = nats::NatsServer::start() else {
        println!(
            "{}",
            json!({"figure": "summary", "skipped": "nats-server is not installed"})
        );
        return;
    };
    let started = Instant::now();
    let target_s = lease.ttl().as_secs_f64() + 1.0;
    let mut checks = Vec::new();

    if wanted("takeover") {
        let t = Instant::now();
        let r = takeover(&nats, &lease, kills).await;
        let s = summary(r.samples.clone());
        let p99 = s["p99"].as_f64().unwrap_or(f64::NAN);
        print_figure(
            "takeover",
            json!({
                "kills": kills, "lease_ttl_ms": lease.ttl().as_millis() as u64,
                "renew_every_ms": lease.renew().as_millis() as u64,
                "kill_to_first_command_s": s, "adopted": r.adopted, "restarted": r.restarted,
                "next_armed_auto": r.armed, "auto_switch_during_takeover": r.auto_switches,
                "old_leader_stragglers": r.stragglers, "first_command": r.first_commands,
                "samples_s": r.samples.iter().map(|v| (v * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
                "run_secs": t.elapsed().as_secs(),
            }),
        );
        checks.push(json!({"figure": "takeover p99", "value_s": p99, "target": format!("<= {target_s} s (TTL + 1 s)"), "pass": p99 <= target_s}));
        checks.push(json!({"figure": "takeover adopted, next armed", "value": [r.adopted, r.armed], "target": format!("{kills} of {kills}"), "pass": r.adopted == kills && r.armed == kills}));
    }

    if wanted("edits_across_kills") {
        let r = edits_across_kills(&nats, &lease, edit_kills, edit_rate).await;
        let c = &r.counts;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        print_figure(
            "edits_across_kills",
            json!({
                "kills": r.kills, "edit_rate": edit_rate, "sent": n(&c.sent), "acked": n(&c.acked),
                "lost": r.lost, "mismatches": r.mismatches, "store_error": n(&c.store_error),
                "not_leader": n(&c.not_leader), "unanswered_on_kill": n(&c.unanswered),
                "other_errors": n(&c.other_errors), "refused_connections": n(&c.refused),
                "duplicates": r.duplicates, "unacked_but_present": r.unacked_present,
                "playout_on_air_differs": r.playout_differs,
                "kill_to_first_ack_s": summary(r.takeover), "items": r.items,
                "health_in_step_to_equal_snapshots_s": summary(r.converged),
                "run_secs": r.run.as_secs(),
            }),
        );
        checks.push(json!({"figure": "edits lost across leader kills", "value": r.lost, "target": "0", "pass": r.lost == 0}));
        checks.push(json!({"figure": "nodes' playlists unequal after a takeover", "value": r.mismatches, "target": "0", "pass": r.mismatches == 0}));
    }

    if wanted("follower_lag") {
        let t = Instant::now();
        let mut v = follower_lag(&nats, &lease, lag_secs, lag_rate).await;
        v["run_secs"] = json!(t.elapsed().as_secs());
        let p99 = v["lag_ms"]["p99"].as_f64().unwrap_or(f64::NAN);
        let (missing, ooo, gaps) = (
            v["missing"].as_u64().unwrap_or(u64::MAX),
            v["out_of_order"].as_u64().unwrap_or(u64::MAX),
            v["follower_seq_gaps"].as_u64().unwrap_or(u64::MAX),
        );
        checks.push(json!({"figure": "follower lag p99", "value_ms": p99, "target": "<= 50 ms", "pass": p99 <= 50.0}));
        checks.push(json!({"figure": "follower viewer: missing, out of order, seq gaps", "value": [missing, ooo, gaps], "target": "0, 0, 0", "pass": missing == 0 && ooo == 0 && gaps == 0}));
        checks.push(json!({"figure": "edit rate achieved", "value_per_s": v["rate_per_s"], "target": format!(">= {}", lag_rate * 0.95), "pass": v["rate_per_s"].as_f64().unwrap_or(0.0) >= lag_rate * 0.95}));
        print_figure("follower_lag", v);
    }

    println!(
        "{}",
        json!({"figure": "summary", "run_secs": started.elapsed().as_secs(), "checks": checks})
    );
}
