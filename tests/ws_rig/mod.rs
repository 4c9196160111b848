//! The real daemon surface in-process for the WebSocket tests: a simulator, the AMCP link, the
//! engine, an `AppState` and `axum::serve` on `127.0.0.1:0`, plus a WebSocket test client.
//!
//! Every wait is bounded by [`TIMEOUT`] and panics with what it was waiting for, so a failure reads
//! like a transcript instead of a hang.

// Each test crate compiles this module separately and uses only part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use onair::caspar::CasparHandle;
use onair::config::{CasparConfig, ServerConfig};
use onair::playout::engine::{self, EngineDeps};
use onair::playout::model::Playlist;
use onair::protocol::{Ack, ServerMsg};
use onair::server::{AppState, Probes, WsStats};
use onair::sim::{Sim, SimConfig};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderName;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

/// Longest any single wait may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A running daemon surface.
pub struct Rig {
    pub sim: Sim,
    pub state: Arc<AppState>,
    pub addr: SocketAddr,
}

/// A test `ServerConfig`: no tokens, roomy limits (tests shrink what they exercise).
pub fn config() -> ServerConfig {
    ServerConfig {
        max_clients: 16,
        max_clients_per_ip: 16,
        ws_ping_interval: Duration::from_secs(5),
        ws_send_queue: 64,
        rate_limit_per_sec: 1000,
        rate_limit_burst: 1000,
        progress_hz: 10,
        event_buffer: 64,
        ..ServerConfig::default()
    }
}

/// Starts a simulator, the engine with one empty selected playlist `main` on 1-10, and the router.
pub async fn start(config: ServerConfig) -> Rig {
    start_with(
        config,
        Playlist::new("main", "Main", "1-10".parse().unwrap()),
    )
    .await
}

/// [`start`] with `main` as given (e.g. a long rundown).
pub async fn start_with(config: ServerConfig, main: Playlist) -> Rig {
    let sim = Sim::start(SimConfig::for_tests())
        .await
        .expect("sim starts");
    let (caspar, _) = CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ping_interval: Duration::from_millis(500),
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        ..CasparConfig::default()
    });
    let shutdown = CancellationToken::new();
    let (engine, _) = engine::spawn(EngineDeps {
        poll_interval: Duration::from_millis(20),
        selected: Some("main".into()),
        ..EngineDeps::new(caspar.clone(), vec![main], shutdown.clone())
    });
    let mut snapshots = engine.watch_snapshot();
    tokio::time::timeout(
        TIMEOUT,
        snapshots.wait_for(|s| s.link.connected && !s.media.clips.is_empty()),
    )
    .await
    .expect("engine connects to the simulator")
    .expect("engine alive");
    let state = Arc::new(AppState::new(
        engine,
        onair::daemon::link_probe(caspar),
        config,
        shutdown,
        Probes::default(),
    ));
    state.startup_complete.store(true, Ordering::SeqCst);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Its own stop token: tests cancel `state.shutdown` to see what clients are told meanwhile.
    tokio::spawn(onair::server::serve(
        listener,
        Arc::clone(&state),
        CancellationToken::new(),
    ));
    Rig { sim, state, addr }
}

impl Rig {
    pub fn url(&self, query: &str) -> String {
        format!("ws://{}/ws{query}", self.addr)
    }

    /// Connects (no token, no Origin) and checks `hello` and the first `snapshot`.
    pub async fn client(&self) -> (Client, u64) {
        let mut c = Client::connect(self, "", &[]).await;
        let seq = c.handshake().await;
        (c, seq)
    }

    /// A counter of the WebSocket stats.
    pub fn stat(&self, pick: impl Fn(&WsStats) -> &std::sync::atomic::AtomicU64) -> u64 {
        pick(&self.state.ws).load(Ordering::Relaxed)
    }

    /// Waits until `cond` holds (a server-side effect the client cannot see directly).
    pub async fn wait_until(&self, what: &str, cond: impl Fn(&Rig) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !cond(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A WebSocket test client.
pub struct Client {
    pub ws: WebSocketStream<TcpStream>,
}

/// The HTTP status of a refused upgrade, or the error text.
pub type Refusal = Result<u16, String>;

impl Client {
    /// Connects from 127.0.0.1 with extra request headers; panics if refused.
    pub async fn connect(rig: &Rig, query: &str, headers: &[(&str, &str)]) -> Client {
        match Client::try_connect(rig, query, headers, "127.0.0.1", None).await {
            Ok(c) => c,
            Err(e) => panic!("connection refused: {e:?}"),
        }
    }

    /// Connects from `source` (any 127.x address), optionally with a small receive buffer.
    pub async fn try_connect(
        rig: &Rig,
        query: &str,
        headers: &[(&str, &str)],
        source: &str,
        recv_buffer: Option<u32>,
    ) -> Result<Client, Refusal> {
        let mut request = rig.url(query).into_client_request().unwrap();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes()).expect("header name");
            request
                .headers_mut()
                .insert(name, v.parse().expect("header value"));
        }
        let socket = TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(source.parse().unwrap(), 0))
            .unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream = socket
            .connect(rig.addr)
            .await
            .map_err(|e| Err(e.to_string()))?;
        match tokio::time::timeout(TIMEOUT, tokio_tungstenite::client_async(request, stream)).await
        {
            Err(_) => Err(Err("handshake timed out".into())),
            Ok(Ok((ws, _))) => Ok(Client { ws }),
            Ok(Err(WsError::Http(response))) => Err(Ok(response.status().as_u16())),
            Ok(Err(e)) => Err(Err(e.to_string())),
        }
    }

    /// Reads `hello`, `snapshot` and the `timeline` that always follows it; returns the
    /// snapshot's seq.
    pub async fn handshake(&mut self) -> u64 {
        let ServerMsg::Hello { seq, .. } = self.next().await else {
            panic!("hello expected first")
        };
        let ServerMsg::Snapshot { seq: snap, state } = self.next().await else {
            panic!("snapshot expected after hello")
        };
        assert!(snap >= seq && state.seq == snap);
        let timeline = self.next_any().await;
        assert!(
            matches!(timeline, ServerMsg::Timeline(_)),
            "timeline expected right after the snapshot, got {timeline:?}"
        );
        snap
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .await
            .expect("send to the server");
    }

    /// The next server message of any kind (pings are answered by tungstenite and skipped).
    pub async fn next_any(&mut self) -> ServerMsg {
        loop {
            let frame = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .expect("timed out waiting for a server message");
            match frame {
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(t.as_str())
                        .unwrap_or_else(|e| panic!("undecodable server message {t}: {e}"));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// The next server message that is not `progress` or `timeline` (derived, not sequenced).
    pub async fn next(&mut self) -> ServerMsg {
        loop {
            match self.next_any().await {
                ServerMsg::Progress { .. } | ServerMsg::Timeline(_) => {}
                msg => return msg,
            }
        }
    }

    /// Sends a command and returns its ack plus the messages that came before it.
    pub async fn command(&mut self, id: &str, op: &str, args: Value) -> (Ack, Vec<ServerMsg>) {
        self.send(json!({"type": "command", "id": id, "op": op, "args": args}))
            .await;
        self.ack(id).await
    }

    /// Waits for the ack `id`, collecting what came before it.
    pub async fn ack(&mut self, id: &str) -> (Ack, Vec<ServerMsg>) {
        let mut before = Vec::new();
        loop {
            match self.next().await {
                ServerMsg::Ack(ack) if ack.id == id => return (ack, before),
                msg => before.push(msg),
            }
        }
    }

    /// Reads until the server's close frame, skipping messages; `None` if the connection ended
    /// without one.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            let frame = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .expect("timed out waiting for the close frame");
            match frame {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// The seq an event carries.
pub fn event_seq(msg: &ServerMsg) -> Option<u64> {
    match msg {
        ServerMsg::Event(e) => Some(e.seq),
        _ => None,
    }
}
