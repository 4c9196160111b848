//! The WebSocket side of the soak: watchers that check `seq` continuity and the operator that edits
//! the rundown and drives playout while counting every ack.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A read-only client: reads everything and checks that every `event` carries the previous `seq`
/// plus one. A `snapshot` (after connecting or a server-side resync) resets the expectation.
#[derive(Default)]
pub struct Watcher {
    pub events: AtomicU64,
    pub gaps: AtomicU64,
    pub resyncs: AtomicU64,
    pub reconnects: AtomicU64,
    pub last_seq: AtomicU64,
    stopped: AtomicBool,
}

impl Watcher {
    pub fn spawn(url: String, stop: CancellationToken) -> Arc<Watcher> {
        let w = Arc::new(Watcher::default());
        let me = Arc::clone(&w);
        tokio::spawn(async move {
            me.watch(&url, &stop).await;
            me.stopped.store(true, Ordering::SeqCst);
        });
        w
    }

    async fn watch(&self, url: &str, stop: &CancellationToken) {
        let mut first = true;
        loop {
            let conn = tokio::select! {
                () = stop.cancelled() => return,
                c = tokio_tungstenite::connect_async(url) => c,
            };
            let Ok((mut ws, _)) = conn else {
                // The daemon never goes away during a soak; retry politely if it is busy.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            if !first {
                self.reconnects.fetch_add(1, Ordering::SeqCst);
            }
            first = false;
            let mut expected: Option<u64> = None;
            loop {
                let msg = tokio::select! {
                    () = stop.cancelled() => {
                        let _ = ws.close(None).await;
                        return;
                    }
                    m = ws.next() => m,
                };
                let Some(Ok(Message::Text(text))) = msg else {
                    if matches!(msg, Some(Ok(_))) {
                        continue;
                    }
                    break;
                };
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let seq = v["seq"].as_u64();
                match (v["type"].as_str(), seq) {
                    (Some("snapshot"), Some(seq)) => {
                        if expected.is_some() {
                            self.resyncs.fetch_add(1, Ordering::SeqCst);
                        }
                        expected = Some(seq);
                        self.last_seq.store(seq, Ordering::SeqCst);
                    }
                    (Some("event"), Some(seq)) => {
                        self.events.fetch_add(1, Ordering::SeqCst);
                        if expected.is_some_and(|e| seq != e + 1) {
                            self.gaps.fetch_add(1, Ordering::SeqCst);
                        }
                        expected = Some(seq);
                        self.last_seq.store(seq, Ordering::SeqCst);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Waits (bounded) until the task has closed its connection.
    pub async fn wait_stopped(&self, limit: Duration) {
        super::wait_until(limit, || self.stopped.load(Ordering::SeqCst)).await;
    }
}

/// What the operator saw, shared between its sender and its reader.
#[derive(Default)]
struct OpState {
    pending: HashMap<String, Instant>,
    issued: u64,
    ok: u64,
    failed: u64,
    failures_by_code: BTreeMap<String, u64>,
    unexpected_acks: u64,
    max_ack_ms: f64,
    /// Item ids of `main`, in order.
    items: Vec<String>,
    on_air: Option<(String, u64)>,
    starts: u64,
    alarms_raised: u64,
    next_id: u64,
}

/// The operator's totals at the end.
pub struct OpTotals {
    pub issued: u64,
    pub ok: u64,
    pub failed: u64,
    pub failures_by_code: BTreeMap<String, u64>,
    pub unexpected_acks: u64,
    pub hung: u64,
    pub max_ack_ms: f64,
    pub starts: u64,
    pub alarms_raised: u64,
}

/// A TUI-like client: one connection, commands with ids, every ack matched to its command.
#[derive(Clone)]
pub struct Operator {
    sink: Arc<tokio::sync::Mutex<SplitSink<Ws, Message>>>,
    state: Arc<Mutex<OpState>>,
}

const CLIPS: [&str; 3] = ["SHORT", "CLIP1", "CLIP2"];

impl Operator {
    pub async fn connect(url: &str) -> Operator {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("operator connects");
        let (sink, mut stream) = ws.split();
        let state = Arc::new(Mutex::new(OpState::default()));
        let st = Arc::clone(&state);
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                if let Message::Text(text) = msg
                    && let Ok(v) = serde_json::from_str::<Value>(&text)
                {
                    observe(&mut st.lock().expect("operator state"), &v);
                }
            }
        });
        Operator {
            sink: Arc::new(tokio::sync::Mutex::new(sink)),
            state,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpState> {
        self.state.lock().expect("operator state")
    }

    pub fn issued(&self) -> u64 {
        self.lock().issued
    }

    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// Sends one command and registers it as pending; its ack is matched by the reader.
    async fn send(&self, op: &str, args: Value) {
        let id = {
            let mut s = self.lock();
            s.next_id += 1;
            s.issued += 1;
            let id = format!("c{}", s.next_id);
            s.pending.insert(id.clone(), Instant::now());
            id
        };
        let msg = json!({"type": "command", "id": id, "op": op, "args": args});
        let sent = self
            .sink
            .lock()
            .await
            .send(Message::Text(msg.to_string().into()))
            .await;
        sent.expect("the operator's connection stays open");
    }

    /// A looping rundown of five items with autoplay on, and the first one taken.
    pub async fn setup(&self) {
        for clip in ["SHORT", "CLIP1", "SHORT", "CLIP2", "SHORT"] {
            self.send("item.add", json!({"clip": clip})).await;
        }
        self.send("playlist.loop", json!({"enabled": true})).await;
        self.send("playout.autoplay", json!({"enabled": true}))
            .await;
        self.send("playout.take", json!({})).await;
        super::wait_until(super::SETTLE, || self.pending() == 0).await;
    }

    /// Issues a random edit or playout command every `every` until `stop`.
    pub async fn drive(self, every: Duration, stop: CancellationToken) {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let (items, on_air) = {
                let s = self.lock();
                (s.items.clone(), s.on_air.as_ref().map(|(id, _)| id.clone()))
            };
            let pick = |v: &[String]| v.get(fastrand::usize(..v.len().max(1))).cloned();
            // Keep the rundown between 4 and 12 items; removing the item on air is allowed and
            // answered with an error or a change, either way with exactly one ack.
            let (op, args) = match fastrand::u8(..10) {
                0 | 1 if items.len() < 12 => (
                    "item.add",
                    json!({"clip": CLIPS[fastrand::usize(..CLIPS.len())]}),
                ),
                2 if items.len() > 4 => {
                    let victim = items.iter().find(|i| Some(*i) != on_air.as_ref()).cloned();
                    ("item.remove", json!({"item": victim}))
                }
                3 | 4 => (
                    "item.move",
                    json!({"item": pick(&items), "index": fastrand::usize(..items.len().max(1))}),
                ),
                5 => ("playout.take", json!({"item": pick(&items)})),
                6 => ("playout.next", json!({})),
                7 => ("playout.autoplay", json!({"enabled": true})),
                8 => ("playout.cue", json!({})),
                _ => ("health", json!({})),
            };
            self.send(op, args).await;
        }
    }

    /// Totals; whatever is still pending now counts as hung.
    pub fn finish(&self) -> OpTotals {
        let s = self.lock();
        OpTotals {
            issued: s.issued,
            ok: s.ok,
            failed: s.failed,
            failures_by_code: s.failures_by_code.clone(),
            unexpected_acks: s.unexpected_acks,
            hung: s.pending.len() as u64,
            max_ack_ms: s.max_ack_ms,
            starts: s.starts,
            alarms_raised: s.alarms_raised,
        }
    }
}

/// Applies one server message to the operator's view.
fn observe(s: &mut OpState, v: &Value) {
    match v["type"].as_str() {
        Some("ack") => {
            let id = v["id"].as_str().unwrap_or_default();
            let Some(sent) = s.pending.remove(id) else {
                s.unexpected_acks += 1;
                return;
            };
            s.max_ack_ms = s.max_ack_ms.max(sent.elapsed().as_secs_f64() * 1000.0);
            if v["ok"] == true {
                s.ok += 1;
            } else {
                s.failed += 1;
                let code = v["error"]["code"].as_str().unwrap_or("?").to_owned();
                *s.failures_by_code.entry(code).or_default() += 1;
            }
        }
        Some("snapshot") => {
            let state = &v["state"];
            for p in state["playlists"].as_array().into_iter().flatten() {
                playlist(s, p);
            }
        }
        Some("event") => match v["kind"].as_str() {
            Some("playlist") => playlist(s, &v["playlist"]),
            // Edits arrive as item-level events (docs/ws-protocol.md, "Applying events"): without
            // them the operator's copy of the rundown stays empty and every item command it picks
            // is refused as a bad request instead of exercising the engine.
            Some("item_added") if v["playlist"] == "main" => {
                if let Some(id) = v["item"]["id"].as_str() {
                    let at = index_of(v).min(s.items.len());
                    s.items.insert(at, id.to_owned());
                }
            }
            Some("item_removed") if v["playlist"] == "main" => {
                let id = v["item"].as_str().unwrap_or_default();
                s.items.retain(|i| i != id);
            }
            Some("item_moved") if v["playlist"] == "main" => {
                let id = v["item"].as_str().unwrap_or_default();
                if let Some(from) = s.items.iter().position(|i| i == id) {
                    let moved = s.items.remove(from);
                    let at = index_of(v).min(s.items.len());
                    s.items.insert(at, moved);
                }
            }
            Some("playout") if v["playlist"] == "main" => on_air(s, &v["playout"]),
            Some("alarm_raised") => s.alarms_raised += 1,
            _ => {}
        },
        _ => {}
    }
}

fn index_of(v: &Value) -> usize {
    v["index"]
        .as_u64()
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(usize::MAX)
}

/// Tracks `main`'s items and its playout (a whole playlist: snapshot or reload).
fn playlist(s: &mut OpState, p: &Value) {
    if p["id"] != "main" {
        return;
    }
    s.items = p["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    on_air(s, &p["playout"]);
}

/// Counts item starts: a new on-air item or a new start time.
fn on_air(s: &mut OpState, playout: &Value) {
    let now = playout["on_air"].as_str().map(|id| {
        (
            id.to_owned(),
            playout["on_air_since_ms"].as_u64().unwrap_or(0),
        )
    });
    if now.is_some() && now != s.on_air {
        s.starts += 1;
    }
    s.on_air = now;
}
