//! The test rig for `http_health`: a simulator, the AMCP link, the engine and the axum listener on
//! 127.0.0.1:0, plus HTTP helpers that poll with a bound instead of sleeping fixed times.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use onair::caspar::CasparHandle;
use onair::config::{CasparConfig, ServerConfig};
use onair::health::client::{self, Response, Target};
use onair::playout::engine::{self, EngineDeps, Op};
use onair::playout::model::{Item, Playlist};
use onair::server::{AppState, Probes};
use onair::sim::{Sim, SimConfig};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::time::{sleep, timeout};
use tokio_util::sync::CancellationToken;

pub const MS: Duration = Duration::from_millis(1);
/// Longest any single wait may take; the link reconnects within a few hundred milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub struct Rig {
    pub sim: Sim,
    pub state: Arc<AppState>,
    pub base: String,
}

pub async fn rig(config: ServerConfig, probes: Probes) -> Rig {
    let sim = Sim::start(SimConfig::for_tests())
        .await
        .expect("sim starts");
    let (caspar, _) = CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ping_interval: 200 * MS,
        backoff_initial: 10 * MS,
        backoff_max: 100 * MS,
        ..CasparConfig::default()
    });
    let mut playlist = Playlist::new("main", "Main", "1-10".parse().expect("channel-layer"));
    for (i, clip) in ["CLIP1", "CLIP2"].iter().enumerate() {
        playlist
            .items
            .push_back(Item::new(format!("i{i}"), *clip).into());
    }
    // The last frame stays after the rundown, by choice: no end-of-rundown alarm in these checks.
    playlist.end_action = onair::playout::fill::EndAction::Hold;
    let shutdown = CancellationToken::new();
    let (engine, _) = engine::spawn(EngineDeps {
        poll_interval: 20 * MS,
        progress_hz: 20,
        ..EngineDeps::new(caspar.clone(), vec![playlist], shutdown.clone())
    });
    let state = Arc::new(AppState::new(
        engine,
        onair::daemon::link_probe(caspar),
        config,
        shutdown,
        probes,
    ));
    let base = listen(&state).await;
    Rig { sim, state, base }
}

/// Serves `state` (HTTP and WebSocket) on a free loopback port; returns its base URL.
pub async fn listen(state: &Arc<AppState>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    // Its own stop token: tests cancel `state.shutdown` to see what clients are told meanwhile.
    tokio::spawn(onair::server::serve(
        listener,
        Arc::clone(state),
        CancellationToken::new(),
    ));
    base
}

/// Serves `app` on a free loopback port until the test ends; returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    format!("http://{addr}")
}

pub async fn http(base: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let target = Target::parse(base).expect("base URL").join(path);
    timeout(PATIENCE, client::get(&target, headers))
        .await
        .unwrap_or_else(|_| panic!("GET {target}: no answer"))
        .unwrap_or_else(|e| panic!("GET {target}: {e}"))
}

pub fn body_json(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}", String::from_utf8_lossy(&r.body));
    })
}

/// Polls `path` until `pred` holds for the answer; fails after [`PATIENCE`] showing the last one.
pub async fn wait_http(base: &str, path: &str, pred: impl Fn(&Response) -> bool) -> Response {
    let start = Instant::now();
    loop {
        let r = http(base, path, &[]).await;
        if pred(&r) {
            return r;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "GET {path} never matched; last: HTTP {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        sleep(20 * MS).await;
    }
}

/// Start-up finished and CasparCG connected: `/health/ready` says 200.
pub async fn ready_rig(config: ServerConfig, probes: Probes) -> Rig {
    let r = rig(config, probes).await;
    r.state.startup_complete.store(true, Ordering::Release);
    wait_http(&r.base, "/health/ready", |a| a.status == 200).await;
    r
}

pub async fn take(r: &Rig) {
    take_on(&r.state, &r.base).await;
}

/// Takes the next item of the selected playlist and waits until `/health` shows its telemetry.
pub async fn take_on(state: &AppState, base: &str) {
    state
        .engine
        .execute(Op::Take {
            playlist: None,
            item: None,
        })
        .await
        .expect("take");
    wait_http(base, "/health", |a| {
        body_json(a)["playout"]["playlists"][0]["telemetry_fresh"] == json!(true)
    })
    .await;
}

pub async fn check(base: &str) -> (u8, String) {
    onair::health::check(base, Duration::from_secs(5), false, None).await
}
