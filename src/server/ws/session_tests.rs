//! The session loop against a scripted engine whose timeline the test publishes: the timeline right
//! after the snapshot (or after a resume's replay), then coalesced to one message a second.
//!
//! Real time (the limit is one second): each test takes one or two seconds.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

use super::log::EventLog;
use super::session::{Ctx, serve};
use super::timeline::PERIOD;
use crate::config::ServerConfig;
use crate::playout::engine::{EngineHandle, ProgressMap, Snapshot};
use crate::protocol::Role;
use crate::protocol::link::LinkReport;
use crate::protocol::timeline::{NextFixedView, TimelineView, Timelines};
use crate::server::{AppState, Probes};

/// A daemon surface whose engine answers nothing; the test holds the timeline watch.
fn scripted() -> (Arc<AppState>, watch::Sender<Arc<Timelines>>) {
    let (tx, _) = mpsc::channel(8);
    let (_, snapshot) = watch::channel(Arc::new(Snapshot::default()));
    let (_, progress) = watch::channel(Arc::new(ProgressMap::default()));
    let (timelines, timeline) = watch::channel(Arc::default());
    let (events, _) = broadcast::channel(8);
    let engine = EngineHandle {
        tx,
        snapshot,
        events,
        progress,
        timeline,
    };
    let config = ServerConfig {
        progress_hz: 0,
        ..ServerConfig::default()
    };
    let state = AppState::new(
        engine,
        Box::new(LinkReport::default),
        config,
        CancellationToken::new(),
        Probes::default(),
    );
    (Arc::new(state), timelines)
}

/// What the session sends, as JSON (pings left out).
struct Wire {
    rx: mpsc::UnboundedReceiver<Message>,
    /// Held so the session's read half stays open.
    _client: mpsc::UnboundedSender<Result<Message, WsError>>,
}

impl Wire {
    async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(wait, self.rx.recv()).await.ok()??;
            if let Message::Text(text) = msg {
                return Some(serde_json::from_str(text.as_str()).expect("json"));
            }
        }
    }

    async fn next(&mut self) -> Value {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("a message within 5 s")
    }
}

/// Starts a session as `role`, resuming from `resume` if given.
fn connect(state: &Arc<AppState>, role: Role, resume: Option<(String, u64)>) -> Wire {
    let (client, incoming) = mpsc::unbounded_channel::<Result<Message, WsError>>();
    let (outgoing, rx) = mpsc::unbounded_channel::<Message>();
    let stream =
        futures_util::stream::unfold(
            incoming,
            |mut r| async move { r.recv().await.map(|m| (m, r)) },
        )
        .boxed();
    let sink = Box::pin(futures_util::sink::unfold(
        outgoing,
        |tx, msg: Message| async move {
            let _ = tx.send(msg);
            Ok::<_, WsError>(tx)
        },
    ));
    let log = EventLog::start(&state.engine, 16, 1 << 20, state.shutdown.clone());
    let ctx = Ctx {
        state: Arc::clone(state),
        log,
        role,
        resume,
        peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    tokio::spawn(serve(stream, sink, ctx));
    Wire {
        rx,
        _client: client,
    }
}

fn planned(ms: i64) -> Arc<Timelines> {
    let view = TimelineView {
        revision: 3,
        first: 0,
        entries: Vec::new(),
        gaps: Vec::new(),
        next_fixed: Some(NextFixedView {
            item: "news".into(),
            hard: true,
            due_ms: ms + 60_000,
            start_ms: ms + 60_000,
        }),
        end_ms: None,
    };
    Arc::new(Timelines {
        planned_ms: ms,
        station: None,
        playlists: [("main".to_owned(), view)].into(),
    })
}

#[tokio::test]
async fn an_empty_timeline_follows_the_snapshot_then_changes_come_coalesced_once_a_second() {
    let (state, timelines) = scripted();
    let mut wire = connect(&state, Role::Operator, None);
    assert_eq!(wire.next().await["type"], "hello");
    assert_eq!(wire.next().await["type"], "snapshot");
    let first = wire.next().await;
    let sent = tokio::time::Instant::now();
    assert_eq!(
        first,
        serde_json::json!({"type": "timeline", "planned_ms": 0, "playlists": {}}),
        "an empty timeline right after the snapshot"
    );
    // Three plans in a row, within the second after the first message: only the last goes, once
    // the second is over.
    for ms in 1..=3 {
        timelines.send_replace(planned(ms));
    }
    let next = wire.next().await;
    assert!(
        sent.elapsed() >= PERIOD - Duration::from_millis(50),
        "rate-limited"
    );
    assert_eq!(next["type"], "timeline");
    assert_eq!(next["planned_ms"], 3, "coalesced to the latest: {next}");
    assert_eq!(next["playlists"]["main"]["next_fixed"]["item"], "news");
    let at = tokio::time::Instant::now();
    timelines.send_replace(planned(4));
    assert_eq!(wire.next().await["planned_ms"], 4);
    assert!(
        at.elapsed() >= PERIOD - Duration::from_millis(100),
        "not before a second after the last one"
    );
    assert_eq!(
        wire.next_within(Duration::from_millis(1_300)).await,
        None,
        "nothing without a change"
    );
}

#[tokio::test]
async fn viewers_get_it_and_a_resume_replaying_events_sends_the_current_one() {
    let (state, timelines) = scripted();
    timelines.send_replace(planned(7));
    let mut viewer = connect(&state, Role::Viewer, None);
    assert_eq!(viewer.next().await["type"], "hello");
    assert_eq!(viewer.next().await["type"], "snapshot");
    assert_eq!(viewer.next().await["planned_ms"], 7);

    // A resume in the URL that the buffer can serve (nothing missed): no snapshot, but the client's
    // timeline is from its previous connection, so the current one follows.
    let boot = state.boot_id.clone();
    let mut resumed = connect(&state, Role::Operator, Some((boot, 0)));
    assert_eq!(resumed.next().await["type"], "hello");
    let msg = resumed.next().await;
    assert_eq!(
        (msg["type"].as_str(), msg["planned_ms"].as_i64()),
        (Some("timeline"), Some(7)),
        "{msg}"
    );
}
