//! The `/ws` limits over real sockets: admission (Origin, token, client counts), rate and size
//! limits, slow and silent clients, commands beyond the in-flight limit, and the progress rate.

mod ws_rig;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use onair::protocol::{Ack, ServerMsg};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use ws_rig::{Client, config, start};

#[tokio::test]
async fn origins_outside_the_allowlist_are_refused() {
    let mut cfg = config();
    cfg.allowed_origins = vec!["https://panel.example.com".into()];
    let rig = start(cfg).await;
    let refused = Client::try_connect(
        &rig,
        "",
        &[("origin", "http://evil.example")],
        "127.0.0.1",
        None,
    )
    .await;
    assert_eq!(refused.err(), Some(Ok(403)));
    let same_origin = format!("http://{}", rig.addr);
    for origin in ["https://panel.example.com", same_origin.as_str()] {
        let mut c = Client::connect(&rig, "", &[("origin", origin)]).await;
        c.handshake().await;
    }
    assert_eq!(rig.stat(|s| &s.rejected), 1);
}

#[tokio::test]
async fn bad_or_missing_tokens_are_refused() {
    let mut cfg = config();
    cfg.operator_tokens = vec!["s3cret".into()];
    let rig = start(cfg).await;
    for (query, headers) in [
        ("", vec![]),
        ("?token=wrong", vec![]),
        ("", vec![("authorization", "Bearer s3cre")]),
        ("", vec![("authorization", "Basic s3cret")]),
    ] {
        let refused = Client::try_connect(&rig, query, &headers, "127.0.0.1", None).await;
        assert_eq!(refused.err(), Some(Ok(401)), "{query} {headers:?}");
    }
    Client::connect(&rig, "?token=s3cret", &[])
        .await
        .handshake()
        .await;
    assert_eq!(rig.stat(|s| &s.rejected), 4);
}

#[tokio::test]
async fn client_limits_per_address_and_in_total() {
    let mut cfg = config();
    cfg.max_clients = 3;
    cfg.max_clients_per_ip = 2;
    let rig = start(cfg).await;
    let mut first = Client::connect(&rig, "", &[]).await;
    first.handshake().await;
    let _second = Client::connect(&rig, "", &[]).await;
    let third = Client::try_connect(&rig, "", &[], "127.0.0.1", None).await;
    assert_eq!(third.err(), Some(Ok(429)));
    let _other = Client::try_connect(&rig, "", &[], "127.0.0.2", None)
        .await
        .expect("another address still fits");
    let fourth = Client::try_connect(&rig, "", &[], "127.0.0.3", None).await;
    assert_eq!(fourth.err(), Some(Ok(503)));

    // A closed connection gives its slot back.
    let _ = first.ws.close(None).await;
    rig.wait_until("the first client's session to end", |r| {
        r.stat(|s| &s.clients) == 2
    })
    .await;
    let mut again = Client::connect(&rig, "", &[]).await;
    again.handshake().await;
}

#[tokio::test]
async fn a_client_over_its_rate_is_closed_with_1008() {
    let mut cfg = config();
    cfg.rate_limit_per_sec = 5;
    cfg.rate_limit_burst = 5;
    let rig = start(cfg).await;
    let (mut c, _) = rig.client().await;
    for _ in 0..30 {
        if c.ws
            .send(Message::text(r#"{"type":"ping"}"#))
            .await
            .is_err()
        {
            break;
        }
    }
    let frame = c.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1008);
    assert_eq!(rig.stat(|s| &s.kicked), 1);
}

#[tokio::test]
async fn an_oversized_message_closes_with_1009() {
    let mut cfg = config();
    cfg.max_message_bytes = 1024;
    let rig = start(cfg).await;
    let (mut c, _) = rig.client().await;
    // Just under the limit is fine.
    let padding = "x".repeat(900);
    c.send(json!({"type": "ping", "pad": padding})).await;
    assert_eq!(c.next().await, ServerMsg::Pong);
    c.send_text(&"y".repeat(4096)).await;
    let frame = c.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1009);
}

#[tokio::test]
async fn a_silent_client_is_closed_after_two_ping_intervals() {
    let mut cfg = config();
    cfg.ws_ping_interval = Duration::from_millis(100);
    let rig = start(cfg).await;
    let mut c = Client::connect(&rig, "", &[]).await;
    // Not reading means not answering pings.
    rig.wait_until("the silent client to be kicked", |r| {
        r.stat(|s| &s.kicked) == 1
    })
    .await;
    let frame = c.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1008);
    assert_eq!(frame.reason.as_str(), "ping timeout");
}

/// Checks that a client's message stream never skips a `seq`: each event is the next one, and only
/// a snapshot may move the position. Returns the last position.
fn check_no_gap(msgs: &[ServerMsg]) -> u64 {
    let mut pos = None;
    for msg in msgs {
        match msg {
            ServerMsg::Snapshot { seq, .. } => pos = Some(*seq),
            ServerMsg::Event(e) => {
                let at = pos.expect("a snapshot before any event");
                assert_eq!(e.seq, at + 1, "gap in the event stream");
                pos = Some(e.seq);
            }
            _ => {}
        }
    }
    pos.expect("at least one snapshot")
}

#[tokio::test]
async fn a_client_that_stops_reading_is_resynced_then_dropped_and_others_get_every_event() {
    let mut cfg = config();
    cfg.ws_send_queue = 4;
    cfg.ws_ping_interval = Duration::from_secs(30);
    // The fast client adds as fast as it is answered (over 1,000 a second on a quiet machine)
    // until the kernel's send buffer for the stuck one (up to tcp_wmem's 4 MB) has filled: the
    // rate limit is not what this test is about.
    cfg.rate_limit_per_sec = 1_000_000;
    cfg.rate_limit_burst = 1_000_000;
    let rig = start(cfg).await;
    // A tiny receive buffer so the stuck client's TCP window closes quickly.
    let mut stuck = Client::try_connect(&rig, "", &[], "127.0.0.1", Some(4096))
        .await
        .expect("connects");
    let mut fast = Client::connect(&rig, "", &[]).await;
    let mut seen = Vec::new();
    seen.push(fast.next().await);
    seen.push(fast.next().await);

    // Long titles and clip names make each event about 1 KB, so the backlog grows fast (and the
    // snapshots that replace it grow with the playlist).
    let title = "t".repeat(500);
    let clip = "C".repeat(500);
    let mut n = 0;
    while rig.stat(|s| &s.kicked) == 0 {
        assert!(n < 10_000, "the stuck client was never dropped");
        let id = n.to_string();
        let (ack, before) = fast
            .command(&id, "item.add", json!({"clip": clip, "title": title}))
            .await;
        assert!(ack.ok, "{ack:?}");
        seen.extend(before);
        n += 1;
    }
    assert!(
        rig.stat(|s| &s.resyncs) >= 1,
        "resynced before being dropped"
    );
    assert!(rig.stat(|s| &s.dropped) >= 1);
    // The fast client missed nothing: every event, in order, no resync snapshot.
    let last = check_no_gap(&seen);
    assert_eq!(
        seen.iter()
            .filter(|m| matches!(m, ServerMsg::Snapshot { .. }))
            .count(),
        1
    );
    assert_eq!(last, rig.state.engine.snapshot().seq);
    // And what the stuck client did get has no gap either (snapshots replace dropped events).
    let mut got = Vec::new();
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(Duration::from_secs(5), stuck.ws.next()).await
    {
        match frame {
            Message::Text(t) => got.push(serde_json::from_str(t.as_str()).unwrap()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert!(matches!(got.first(), Some(ServerMsg::Hello { .. })));
    check_no_gap(&got);
    rig.wait_until("the stuck session to end", |r| r.stat(|s| &s.clients) == 1)
        .await;
}

#[tokio::test]
async fn commands_beyond_the_in_flight_limit_are_answered_busy_and_never_run() {
    let rig = start(config()).await;
    let (mut c, _) = rig.client().await;
    const N: usize = 400;
    // Pipelined: every command is on the wire before the first ack is read, far more than the 32 a
    // client may have waiting.
    for i in 0..N {
        let cmd = json!({"type": "command", "id": i.to_string(), "op": "item.add",
                         "args": {"clip": "CLIP1", "title": format!("n{i}")}});
        c.ws.feed(Message::text(cmd.to_string())).await.unwrap();
    }
    c.ws.flush().await.unwrap();
    let mut acks: Vec<Ack> = Vec::with_capacity(N);
    while acks.len() < N {
        if let ServerMsg::Ack(ack) = c.next().await {
            acks.push(ack);
        }
    }
    // Exactly one ack each, in command order; and nothing more after them.
    let ids: Vec<String> = acks.iter().map(|a| a.id.clone()).collect();
    let want: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(ids, want, "one ack per command, in command order");
    c.send(json!({"type": "ping"})).await;
    loop {
        match c.next().await {
            ServerMsg::Pong => break,
            ServerMsg::Ack(a) => panic!("a second ack: {a:?}"),
            _ => {}
        }
    }
    let mut added = BTreeSet::new();
    let mut codes: HashMap<String, usize> = HashMap::new();
    for ack in &acks {
        if ack.ok {
            added.insert(
                ack.result
                    .item
                    .clone()
                    .expect("item.add's ack names the item"),
            );
        } else {
            let code = ack
                .error
                .as_ref()
                .map(|e| e.code.clone())
                .unwrap_or_default();
            *codes.entry(code).or_default() += 1;
        }
    }
    assert_eq!(
        codes.keys().collect::<Vec<_>>(),
        ["busy"],
        "every refusal is busy: {codes:?}"
    );
    assert!(
        added.len() >= 32 && codes["busy"] >= 1,
        "{} added, {codes:?}",
        added.len()
    );
    // The applied ones are exactly those acked ok: a fresh client's snapshot has those items only.
    let mut fresh = Client::connect(&rig, "", &[]).await;
    assert!(matches!(fresh.next().await, ServerMsg::Hello { .. }));
    let ServerMsg::Snapshot { state, .. } = fresh.next().await else {
        panic!("snapshot expected")
    };
    let items: BTreeSet<String> = state.playlists[0]
        .playlist
        .items
        .iter()
        .map(|i| i.id.clone())
        .collect();
    assert_eq!(items, added);
    assert_eq!(rig.stat(|s| &s.kicked), 0, "the connection stayed open");
}

#[tokio::test]
async fn a_flood_of_commands_behind_a_stalled_one_is_closed_once_its_acks_exceed_the_budget() {
    let mut cfg = config();
    cfg.ws_send_queue_bytes = 64 * 1024;
    let rig = start(cfg).await;
    let (mut c, _) = rig.client().await;
    let (ack, _) = c.command("a", "item.add", json!({"clip": "CLIP1"})).await;
    let item = ack.result.item.expect("item");
    // CasparCG stops answering: the cue waits for its reply, and every command after it waits for
    // its turn (acks go out in command order), holding its ack.
    rig.sim.faults().set_stalled(true);
    c.send(json!({"type": "command", "id": "cue", "op": "playout.cue", "args": {"item": item}}))
        .await;
    // Ids of 8 KiB: the acks held back pass the 64 KiB budget after a handful.
    for i in 0..32 {
        let cmd = json!({"type": "command", "id": format!("{i:08192}"), "op": "health"});
        if c.ws.send(Message::text(cmd.to_string())).await.is_err() {
            break; // already closed
        }
    }
    let frame = c.closed().await.expect("a close frame");
    rig.sim.faults().set_stalled(false);
    assert_eq!(u16::from(frame.code), 1008);
    assert_eq!(frame.reason.as_str(), "too many commands in flight");
    assert_eq!(rig.stat(|s| &s.kicked), 1);
}

#[tokio::test]
async fn progress_is_rate_limited() {
    let mut cfg = config();
    cfg.progress_hz = 4;
    let rig = start(cfg).await;
    let (mut c, _) = rig.client().await;
    let (ack, _) = c.command("a", "item.add", json!({"clip": "CLIP1"})).await;
    let item = ack.result.item.unwrap();
    let (ack, _) = c.command("t", "playout.take", json!({"item": item})).await;
    assert!(ack.ok, "{ack:?}");

    let window = Duration::from_millis(1500);
    let end = tokio::time::Instant::now() + window;
    // 150 frames at most in the window: CLIP1 (250 frames) is still playing at its end, so every
    // progress message has the playlist (stepping every 5 ms ended the clip inside the window).
    let mut frames = tokio::time::interval(Duration::from_millis(10));
    let mut progress = 0;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(end) => break,
            _ = frames.tick() => rig.sim.step(1),
            msg = c.ws.next() => {
                if let Some(Ok(Message::Text(t))) = msg {
                    let msg: ServerMsg = serde_json::from_str(t.as_str()).unwrap();
                    if let ServerMsg::Progress { progress: p } = msg {
                        // A new client gets the progress of when it connected (nothing on air)
                        // right after its snapshot; on a quiet machine that can come after the
                        // take's ack. Once the item shows, every message has it.
                        if p.is_empty() && progress == 0 {
                            continue;
                        }
                        assert!(p.contains_key("main"), "{p:?}");
                        progress += 1;
                    }
                }
            }
        }
    }
    assert!(progress >= 1, "progress is pushed while playing");
    // 4 Hz over 1.5 s: at most 6 (+1 for the edges).
    assert!(
        progress <= 7,
        "{progress} progress messages in 1.5 s at 4 Hz"
    );
}
