//! The `/ws` protocol end to end over real sockets: hello and snapshot, ordered events, acks for
//! every op, resume (replayed, too old, other boot), roles, bad input, shutdown.

mod ws_rig;

use std::collections::HashSet;

use futures_util::SinkExt;
use onair::playout::engine::EventKind;
use onair::protocol::{Request, Role, ServerMsg};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use ws_rig::{Client, config, event_seq, start};

#[tokio::test]
async fn hello_and_snapshot_then_every_change_as_the_next_event_before_its_ack() {
    let rig = start(config()).await;
    let mut c = Client::connect(&rig, "", &[]).await;
    let ServerMsg::Hello {
        server_version,
        boot_id,
        seq,
        role,
    } = c.next().await
    else {
        panic!("hello first")
    };
    assert_eq!(server_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(boot_id, rig.state.boot_id);
    assert_eq!(
        role,
        Role::Operator,
        "no tokens configured: everyone operates"
    );
    let ServerMsg::Snapshot { seq: mut at, state } = c.next().await else {
        panic!("snapshot second")
    };
    assert!(at >= seq);
    assert_eq!(state.selected.as_deref(), Some("main"));
    assert_eq!(state.playlists[0].playlist.id, "main");
    // The planned timeline comes right behind the snapshot (empty until the engine's first plan,
    // which has nothing to place for an empty playlist).
    let ServerMsg::Timeline(timeline) = c.next_any().await else {
        panic!("timeline third")
    };
    assert!(
        timeline
            .playlists
            .get("main")
            .is_none_or(|v| v.entries.is_empty() && v.next_fixed.is_none()),
        "{timeline:?}"
    );

    for n in 0..5 {
        let id = format!("add{n}");
        let (ack, before) = c.command(&id, "item.add", json!({"clip": "CLIP1"})).await;
        assert!(ack.ok, "{ack:?}");
        let item = ack.result.item.clone().expect("item.add acks the item id");
        // The change arrived as the next event(s), in order, before the ack.
        let seqs: Vec<u64> = before.iter().filter_map(event_seq).collect();
        assert!(!seqs.is_empty(), "the event comes before the ack");
        for s in seqs {
            assert_eq!(s, at + 1, "events are consecutive");
            at = s;
        }
        assert_eq!(ack.result.seq, Some(at));
        // An item-level event: the new item only, not the whole playlist.
        let added = before.iter().any(|m| {
            matches!(m, ServerMsg::Event(e) if matches!(
                &e.kind,
                EventKind::ItemAdded { item: it, playlist, .. } if it.id == item && playlist == "main"
            ))
        });
        assert!(
            added,
            "an item_added event for {item} before the ack: {before:?}"
        );
    }
    assert!(rig.stat(|s| &s.commands) >= 5);
    assert_eq!(rig.stat(|s| &s.clients), 1);
}

/// Plausible arguments for every op, in an order where most succeed.
fn args_for(op: &str, item: &str) -> Value {
    match op {
        "playlist.create" => json!({"name": "News", "channel_layer": "1-20"}),
        "playlist.delete" => json!({"playlist": "news"}),
        "playlist.select" => json!({"playlist": "main"}),
        "playlist.rename" => json!({"name": "Main rundown"}),
        "playlist.loop" | "playout.autoplay" | "graphics.logo" => json!({"enabled": true}),
        "graphics.fire" => json!({"item": item, "event": "lt"}),
        "graphics.update" => json!({"layer": 20, "data": {"name": "Ada"}}),
        "graphics.clear" => json!({"layer": 20}),
        "graphics.invoke" => json!({"layer": 20, "method": "next_headline"}),
        "item.add" => json!({"clip": "CLIP2", "title": "Second", "transition": "MIX 10"}),
        "item.insert" => json!({"clip": "SHORT", "index": 0}),
        "item.move" => json!({"item": item, "index": 0}),
        "item.update" => {
            json!({"item": item, "title": "Opener", "loop": false, "start": "soft", "at": "18:00:00"})
        }
        "playlist.update" => json!({"air_date": "2026-11-24", "loop": false}),
        "item.remove" => json!({"item": item}),
        "playout.cue" | "playout.take" => json!({"item": item}),
        _ => Value::Null,
    }
}

#[tokio::test]
async fn every_op_is_acked_with_a_result_or_a_typed_error() {
    let rig = start(config()).await;
    let (mut c, _) = rig.client().await;
    let (ack, _) = c
        .command("seed", "item.add", json!({"clip": "CLIP1"}))
        .await;
    let item = ack.result.item.expect("item id");
    let mut order: Vec<&str> = Request::NAMES
        .iter()
        .copied()
        .filter(|o| *o != "item.remove")
        .collect();
    order.push("item.remove");
    for (n, op) in order.iter().enumerate() {
        let id = n.to_string();
        let (ack, _) = c.command(&id, op, args_for(op, &item)).await;
        assert_eq!(ack.id, id);
        if ack.ok {
            assert!(ack.error.is_none());
        } else {
            let e = ack.error.as_ref().expect("a failed ack carries an error");
            assert!(!e.code.is_empty() && !e.message.is_empty());
            assert!(
                !["bad_request", "unknown_op", "bad_json"].contains(&e.code.as_str()),
                "{op}: valid arguments were rejected: {e:?}"
            );
        }
        match *op {
            "playlist.create" => assert_eq!(ack.result.playlist.as_deref(), Some("news")),
            "item.add" | "item.insert" => assert!(ack.result.item.is_some()),
            "media.rescan" => assert!(ack.result.clips.unwrap_or(0) > 0, "{ack:?}"),
            "health" => assert!(ack.result.health.as_ref().is_some_and(Value::is_object)),
            "stats" => assert!(ack.result.stats.as_ref().is_some_and(Value::is_object)),
            "playout.take" | "item.update" => {
                assert!(ack.ok, "{op}: {ack:?}")
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn resume_replays_missed_events_without_a_gap() {
    let rig = start(config()).await;
    let (mut a, since) = rig.client().await;
    let _ = a.ws.close(None).await;
    let (mut b, _) = rig.client().await;
    let mut last = since;
    for n in 0..3 {
        let (ack, _) = b
            .command(&format!("{n}"), "item.add", json!({"clip": "CLIP1"}))
            .await;
        last = ack.result.seq.expect("seq in ack");
    }
    assert!(last >= since + 3);
    let boot = rig.state.boot_id.clone();

    // In the URL: hello, then the missed events and no snapshot.
    let query = format!("?boot_id={boot}&since={since}");
    let mut a = Client::connect(&rig, &query, &[]).await;
    assert!(matches!(a.next().await, ServerMsg::Hello { .. }));
    for want in since + 1..=last {
        let msg = a.next().await;
        assert_eq!(event_seq(&msg), Some(want), "{msg:?}");
    }

    // As a message: the first snapshot is followed by the replay of (since, now].
    let (mut a, _) = rig.client().await;
    a.send(json!({"type": "resume", "boot_id": boot, "since": since}))
        .await;
    for want in since + 1..=last {
        assert_eq!(event_seq(&a.next().await), Some(want));
    }
    // Live events continue right after.
    let (ack, _) = b
        .command("more", "item.add", json!({"clip": "CLIP2"}))
        .await;
    assert_eq!(event_seq(&a.next().await), Some(last + 1));
    assert_eq!(ack.result.seq, Some(last + 1));
}

#[tokio::test]
async fn resume_too_far_back_or_from_another_boot_gets_a_snapshot() {
    let rig = start(ws_rig_config_with_buffer(2)).await;
    let (_a, since) = rig.client().await;
    let (mut b, _) = rig.client().await;
    let mut last = since;
    for n in 0..5 {
        let (ack, _) = b
            .command(&n.to_string(), "item.add", json!({"clip": "CLIP1"}))
            .await;
        last = ack.result.seq.unwrap();
    }
    let boot = rig.state.boot_id.clone();
    for query in [
        format!("?boot_id={boot}&since={since}"),
        format!("?boot_id=other&since={}", last - 1),
        format!("?boot_id={boot}&since={}", last + 100),
    ] {
        let mut c = Client::connect(&rig, &query, &[]).await;
        assert!(matches!(c.next().await, ServerMsg::Hello { .. }));
        let msg = c.next().await;
        let ServerMsg::Snapshot { seq, .. } = msg else {
            panic!("{query}: snapshot expected, got {msg:?}")
        };
        assert_eq!(seq, last, "{query}");
    }
    // Within the (small) buffer it still replays.
    let mut c = Client::connect(&rig, &format!("?boot_id={boot}&since={}", last - 1), &[]).await;
    assert!(matches!(c.next().await, ServerMsg::Hello { .. }));
    assert_eq!(event_seq(&c.next().await), Some(last));
}

fn ws_rig_config_with_buffer(n: usize) -> onair::config::ServerConfig {
    onair::config::ServerConfig {
        event_buffer: n,
        ..config()
    }
}

#[tokio::test]
async fn viewers_read_but_only_operators_command() {
    let mut cfg = config();
    cfg.operator_tokens = vec!["op-token".into()];
    cfg.viewer_tokens = vec!["view-token".into()];
    let rig = start(cfg).await;

    let mut viewer = Client::connect(&rig, "?token=view-token", &[]).await;
    let ServerMsg::Hello { role, .. } = viewer.next().await else {
        panic!("hello")
    };
    assert_eq!(role, Role::Viewer);
    assert!(matches!(viewer.next().await, ServerMsg::Snapshot { .. }));
    for op in ["item.add", "playout.take", "media.rescan", "nonsense"] {
        let (ack, _) = viewer.command(op, op, json!({"clip": "CLIP1"})).await;
        assert_eq!(ack.error.map(|e| e.code).as_deref(), Some("forbidden"));
    }
    let (ack, _) = viewer.command("h", "health", Value::Null).await;
    assert!(ack.ok && ack.result.health.is_some());
    let (ack, _) = viewer.command("s", "stats", Value::Null).await;
    assert!(ack.ok && ack.result.stats.is_some());

    let mut operator = Client::connect(&rig, "", &[("authorization", "Bearer op-token")]).await;
    let ServerMsg::Hello { role, .. } = operator.next().await else {
        panic!("hello")
    };
    assert_eq!(role, Role::Operator);
    operator.next().await;
    let (ack, _) = operator
        .command("1", "item.add", json!({"clip": "CLIP1"}))
        .await;
    assert!(ack.ok);
    // The viewer sees the change.
    let msg = viewer.next().await;
    assert!(event_seq(&msg).is_some(), "{msg:?}");
}

#[tokio::test]
async fn bad_input_is_answered_and_the_connection_stays_usable() {
    let rig = start(config()).await;
    let (mut c, _) = rig.client().await;
    c.send_text("{not json").await;
    let ServerMsg::Error(e) = c.next().await else {
        panic!("error message expected")
    };
    assert_eq!(e.code, "bad_json");
    c.send(json!({"type": "launch"})).await;
    let ServerMsg::Error(e) = c.next().await else {
        panic!("error message expected")
    };
    assert_eq!(e.code, "bad_request");

    let (ack, _) = c.command("u", "playout.explode", Value::Null).await;
    assert_eq!(ack.error.unwrap().code, "unknown_op");
    let (ack, _) = c.command("b", "item.add", json!({"clip": 7})).await;
    let e = ack.error.unwrap();
    assert_eq!(e.code, "bad_request");
    assert!(e.message.contains("clip"), "{}", e.message);
    c.send(json!({"type": "command", "id": "no-op"})).await;
    let (ack, _) = c.ack("no-op").await;
    assert_eq!(ack.error.unwrap().code, "bad_request");
    let (ack, _) = c
        .command("nf", "item.remove", json!({"item": "nope"}))
        .await;
    assert_eq!(ack.error.unwrap().code, "item_not_found");

    c.ws.send(Message::binary(vec![1, 2])).await.unwrap();
    assert!(matches!(c.next().await, ServerMsg::Error(_)));
    c.send(json!({"type": "ping"})).await;
    assert_eq!(c.next().await, ServerMsg::Pong);

    let (ack, _) = c.command("ok", "item.add", json!({"clip": "CLIP1"})).await;
    assert!(ack.ok, "still works after bad input: {ack:?}");
    assert!(rig.stat(|s| &s.command_errors) >= 4);
}

#[tokio::test]
async fn acks_come_in_command_order() {
    let rig = start(config()).await;
    let (mut c, _) = rig.client().await;
    // Slow engine ops, instant errors and session-answered ops interleaved.
    let ops = [
        ("1", "item.add", json!({"clip": "CLIP1"})),
        ("2", "nope", Value::Null),
        ("3", "media.rescan", Value::Null),
        ("4", "health", Value::Null),
        ("5", "item.add", json!({})),
        ("6", "item.add", json!({"clip": "CLIP2"})),
    ];
    for (id, op, args) in &ops {
        c.send(json!({"type": "command", "id": id, "op": op, "args": args}))
            .await;
    }
    let mut ids = Vec::new();
    while ids.len() < ops.len() {
        if let ServerMsg::Ack(ack) = c.next().await {
            ids.push(ack.id);
        }
    }
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
}

/// Edits sent back to back reach the engine without waiting for each other's ack (so they can
/// share a disk write): each is still checked against the ones before it, applied in the order
/// sent, and acked in that order after the event that carries it.
#[tokio::test]
async fn pipelined_edits_apply_in_order_each_ack_after_its_event() {
    let rig = start(config()).await;
    let (mut c, _) = rig.client().await;
    // Everything is on the wire before the first ack is read: the adds name a playlist that only
    // exists once the first command is applied.
    c.ws.feed(Message::text(
        json!({"type": "command", "id": "create", "op": "playlist.create", "args": {"name": "Pipe"}})
            .to_string(),
    ))
    .await
    .unwrap();
    const N: usize = 16;
    for i in 0..N {
        let cmd = json!({"type": "command", "id": i.to_string(), "op": "item.add",
                         "args": {"playlist": "pipe", "clip": "CLIP1", "title": format!("t{i}")}});
        c.ws.feed(Message::text(cmd.to_string())).await.unwrap();
    }
    c.ws.flush().await.unwrap();
    let mut added = HashSet::new();
    let mut last_seq = 0;
    let mut acked = Vec::new();
    while acked.len() < N + 1 {
        match c.next().await {
            ServerMsg::Event(e) => {
                if let EventKind::ItemAdded { item, .. } = &e.kind {
                    added.insert(item.id.clone());
                }
                last_seq = e.seq;
            }
            ServerMsg::Ack(ack) => {
                assert!(ack.ok, "{ack:?}");
                let seq = ack.result.seq.expect("an engine op's ack carries seq");
                assert!(
                    seq <= last_seq,
                    "ack at seq {seq}, last event seen {last_seq}"
                );
                if let Some(item) = &ack.result.item {
                    assert!(added.contains(item), "{item}'s event before its ack");
                }
                acked.push(ack.id);
            }
            _ => {}
        }
    }
    let want: Vec<String> = std::iter::once("create".to_owned())
        .chain((0..N).map(|i| i.to_string()))
        .collect();
    assert_eq!(acked, want, "acks in command order");
    let mut fresh = Client::connect(&rig, "", &[]).await;
    assert!(matches!(fresh.next().await, ServerMsg::Hello { .. }));
    let ServerMsg::Snapshot { state, .. } = fresh.next().await else {
        panic!("snapshot expected")
    };
    let pipe = state
        .playlists
        .iter()
        .find(|p| p.playlist.id == "pipe")
        .expect("the new playlist");
    let titles: Vec<String> = pipe
        .playlist
        .items
        .iter()
        .map(|i| i.title.clone().unwrap_or_default())
        .collect();
    let want: Vec<String> = (0..N).map(|i| format!("t{i}")).collect();
    assert_eq!(titles, want, "applied in the order sent");
}

#[tokio::test]
async fn shutdown_says_so_then_closes_with_1001() {
    let rig = start(config()).await;
    let (mut a, _) = rig.client().await;
    let (mut b, _) = rig.client().await;
    rig.state.shutdown.cancel();
    for c in [&mut a, &mut b] {
        assert_eq!(c.next().await, ServerMsg::Shutdown);
        let frame = c.closed().await.expect("a close frame");
        assert_eq!(u16::from(frame.code), 1001);
    }
    rig.wait_until("sessions to end", |r| r.stat(|s| &s.clients) == 0)
        .await;
    // New connections are refused while shutting down.
    let refused = Client::try_connect(&rig, "", &[], "127.0.0.1", None).await;
    assert_eq!(refused.err(), Some(Ok(503)));
}

#[tokio::test]
async fn a_late_joiner_gets_the_live_progress_within_one_tick() {
    let rig = start(config()).await;
    let (mut a, _) = rig.client().await;
    let (ack, _) = a.command("a", "item.add", json!({"clip": "CLIP1"})).await;
    assert!(ack.ok, "{ack:?}");
    let (ack, _) = a.command("t", "playout.take", json!({})).await;
    assert!(ack.ok, "{ack:?}");
    // Time passes on the server without any event: only progress changes.
    let mut watch = rig.state.engine.watch_progress();
    rig.sim.step(50);
    let live = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if let Some(p) = watch.borrow_and_update().values().next().copied()
                && p.elapsed >= 1.5
            {
                return p;
            }
            watch.changed().await.expect("engine alive");
        }
    })
    .await
    .expect("progress follows the simulator");

    let mut b = Client::connect(&rig, "", &[]).await;
    b.handshake().await;
    // The simulator's clock stands still, so progress will not change again: a progress message
    // now can only be the session sending the current value to its new client.
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), b.next_any())
        .await
        .expect("the live progress follows the snapshot at once");
    let ServerMsg::Progress { progress } = first else {
        panic!("progress expected right after the snapshot, got {first:?}")
    };
    let p = progress
        .values()
        .next()
        .copied()
        .expect("the playing playlist");
    assert!(p.fresh, "live telemetry is marked live");
    assert!(
        (p.elapsed - live.elapsed).abs() < 0.5,
        "the live value ({} s), not the snapshot's stale copy ({} s)",
        live.elapsed,
        p.elapsed
    );
}
