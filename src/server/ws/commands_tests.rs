//! The command task against a scripted engine: which ops reach the engine before earlier ones are
//! answered, and the order acks leave in whatever order the engine answers.
//!
//! The tests run on the current-thread runtime: once the test task is woken by an op, the command
//! task has already run as far as it can, so "nothing else arrived yet" is a real observation.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::config::ServerConfig;
use crate::playout::engine::{EngineHandle, EngineRequest, Op, ProgressMap, Snapshot};
use crate::protocol::link::LinkReport;
use crate::server::Probes;

/// An engine whose requests the test answers by hand.
fn scripted() -> (Arc<AppState>, mpsc::Receiver<EngineRequest>) {
    let (tx, rx) = mpsc::channel(64);
    let (_, snapshot) = watch::channel(Arc::new(Snapshot::default()));
    let (_, progress) = watch::channel(Arc::new(ProgressMap::default()));
    let (_, timeline) = watch::channel(Arc::default());
    let (events, _) = broadcast::channel(8);
    let engine = EngineHandle {
        tx,
        snapshot,
        events,
        progress,
        timeline,
    };
    let state = AppState::new(
        engine,
        Box::new(LinkReport::default),
        ServerConfig::default(),
        CancellationToken::new(),
        Probes::default(),
    );
    (Arc::new(state), rx)
}

fn edit(name: &str) -> Result<Handling, ErrorBody> {
    Ok(Handling::Engine(Box::new(Op::PlaylistRename {
        playlist: None,
        name: name.to_owned(),
    })))
}

fn take() -> Result<Handling, ErrorBody> {
    Ok(Handling::Engine(Box::new(Op::Take {
        playlist: None,
        item: None,
    })))
}

fn renamed(request: &EngineRequest) -> &str {
    match &request.op {
        Op::PlaylistRename { name, .. } => name,
        other => panic!("a rename expected, got {other:?}"),
    }
}

fn answer(request: EngineRequest) {
    let _ = request.reply.send(Ok(OpResult::default()));
}

/// Collects `n` finished commands and returns the acks released, in release order.
async fn release(commands: &mut Commands, n: usize) -> Vec<String> {
    for _ in 0..n {
        let done = commands.done.recv().await.expect("a finished command");
        commands.finish(done).expect("encodes");
    }
    let mut ids = Vec::new();
    while let Some(answer) = commands.next_ready(u64::MAX) {
        let ack: serde_json::Value = serde_json::from_str(answer.text.as_str()).expect("json");
        ids.push(ack["id"].as_str().unwrap_or_default().to_owned());
    }
    ids
}

#[tokio::test]
async fn edits_are_all_at_the_engine_at_once_and_acked_in_command_order() {
    let (state, mut engine) = scripted();
    let mut commands = Commands::start(state);
    for id in ["a", "b", "c"] {
        commands.submit(id.to_owned(), edit(id)).unwrap();
    }
    // All three are at the engine while none is answered (one at a time, `b` would wait for `a`).
    let a = engine.recv().await.expect("a");
    let b = engine.try_recv().expect("b without waiting for a's answer");
    let c = engine.try_recv().expect("c without waiting for b's answer");
    assert_eq!([renamed(&a), renamed(&b), renamed(&c)], ["a", "b", "c"]);
    // Answered last first: the acks still leave in command order.
    answer(c);
    answer(b);
    assert!(release(&mut commands, 2).await.is_empty(), "held for a");
    answer(a);
    assert_eq!(release(&mut commands, 1).await, ["a", "b", "c"]);
}

#[tokio::test]
async fn any_other_command_waits_for_everything_before_it_and_holds_back_what_follows() {
    let (state, mut engine) = scripted();
    let mut commands = Commands::start(state);
    commands.submit("e1".into(), edit("e1")).unwrap();
    commands.submit("t".into(), take()).unwrap();
    commands.submit("e2".into(), edit("e2")).unwrap();
    let e1 = engine.recv().await.expect("e1");
    assert!(engine.try_recv().is_err(), "the take waits for e1's answer");
    answer(e1);
    let t = engine.recv().await.expect("the take, once e1 is answered");
    assert!(matches!(t.op, Op::Take { .. }));
    assert!(engine.try_recv().is_err(), "e2 waits for the take's answer");
    answer(t);
    let e2 = engine.recv().await.expect("e2, once the take is answered");
    assert_eq!(renamed(&e2), "e2");
    answer(e2);
    assert_eq!(release(&mut commands, 3).await, ["e1", "t", "e2"]);
}

#[tokio::test]
async fn a_command_beyond_the_unanswered_limit_is_busy_and_never_reaches_the_engine() {
    let (state, mut engine) = scripted();
    let mut commands = Commands::start(state);
    let mut at_engine = Vec::new();
    for i in 0..QUEUED {
        commands.submit(i.to_string(), edit("x")).unwrap();
    }
    for _ in 0..QUEUED {
        at_engine.push(engine.recv().await.expect("an edit"));
    }
    commands.submit("over".into(), edit("over")).unwrap();
    // One answered: room for one more.
    answer(at_engine.remove(0));
    let done = commands.done.recv().await.expect("finished");
    commands.finish(done).unwrap();
    commands.submit("room".into(), edit("room")).unwrap();
    let room = engine.recv().await.expect("the command after an answer");
    assert_eq!(renamed(&room), "room");
    assert!(
        engine.try_recv().is_err(),
        "`over` never reached the engine"
    );
    let first = commands.next_ready(u64::MAX).expect("0's ack");
    assert!(first.ok);
    for request in at_engine.into_iter().chain([room]) {
        answer(request);
    }
    let mut acks = Vec::new();
    for _ in 0..QUEUED {
        let done = commands.done.recv().await.expect("finished");
        commands.finish(done).unwrap();
    }
    while let Some(answer) = commands.next_ready(u64::MAX) {
        let ack: serde_json::Value = serde_json::from_str(answer.text.as_str()).unwrap();
        acks.push((ack["id"].as_str().unwrap().to_owned(), ack["ok"] == true));
    }
    assert_eq!(acks.len(), QUEUED + 1);
    assert_eq!(
        acks[QUEUED - 1],
        ("over".to_owned(), false),
        "busy, in its turn"
    );
    assert_eq!(acks[QUEUED], ("room".to_owned(), true));
}
