//! The simulator's OSC output over real UDP, decoded with rosc: the addresses and type tags of
//! docs/amcp-notes.md §6.2 (as captured from 2.4.3 and 2.5.0 in `tests/fixtures/*/osc-observed.txt`),
//! one full-state bundle per tick with counter time tags, bundles of at most ~2 KB, the automatic
//! subscription of every AMCP client's IP, `OSC SUBSCRIBE`/`UNSUBSCRIBE` (2.4+), subscriptions
//! ending with the connection, and the "OSC stops" fault.
//!
//! Receivers bind `127.0.0.1:0`; the AMCP client also connects from 127.0.0.1, so the automatic
//! subscription (`osc_port`) targets the first receiver. The clock is stepped, and each step sends
//! its datagrams synchronously, so every expected datagram is already in the receiver's socket
//! buffer when the test reads it. That a receiver got *nothing* is shown without waiting: the time
//! tag is a counter shared by all receivers, so a receiver that comes back sees a gap.

mod common;

use common::{AmcpClient, Datagram, OscReceiver, recorded_library, sim_config, start, type_tags};
use onair::sim::{Dialect, Sim};
use rosc::OscType;

const L10: &str = "/channel/1/stage/layer/10";

async fn sim_with_osc(dialect: Dialect, format: &str, osc: &OscReceiver) -> (Sim, AmcpClient) {
    let mut config = sim_config(dialect, &[format]);
    config.media = recorded_library();
    config.osc_port = osc.port();
    let sim = start(config).await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    // A round trip proves the connection was accepted, so its automatic subscription exists.
    let reply = c.request("hello", "VERSION").await;
    assert_eq!(reply.code, 201);
    (sim, c)
}

fn tags(d: &Datagram, addr: &str) -> String {
    type_tags(d.expect(addr))
}

fn string(d: &Datagram, addr: &str) -> String {
    match d.expect(addr).args.as_slice() {
        [OscType::String(s)] => s.clone(),
        other => panic!("{addr}: expected one string, got {other:?}"),
    }
}

fn floats(d: &Datagram, addr: &str) -> Vec<f32> {
    d.expect(addr)
        .args
        .iter()
        .map(|a| match a {
            OscType::Float(f) => *f,
            other => panic!("{addr}: expected floats, got {other:?}"),
        })
        .collect()
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() < 1e-4
}

#[tokio::test]
async fn v24_addresses_and_type_tags() {
    let mut rx = OscReceiver::bind().await;
    let (sim, mut c) = sim_with_osc(Dialect::V24, "640x360p2500", &rx).await;
    c.exchange("PLAY 1-10 CLIP1", "202 PLAY OK\r\n").await;

    sim.step(1);
    let d = rx.recv().await;
    assert!(d.len <= 2048, "datagram of {} bytes", d.len);
    assert_eq!(string(&d, "/channel/1/format"), "640x360p2500");
    assert_eq!(
        d.expect("/channel/1/framerate").args,
        [OscType::Int(25), OscType::Int(1)]
    );
    assert_eq!(tags(&d, "/channel/1/mixer/audio/volume"), "i".repeat(16));
    // The first tick after PLAY shows the clip through its (zero-length) cut.
    assert_eq!(
        string(&d, &format!("{L10}/foreground/producer")),
        "transition"
    );
    assert_eq!(
        string(&d, &format!("{L10}/foreground/transition/type")),
        "cut"
    );
    assert_eq!(
        tags(&d, &format!("{L10}/foreground/transition/frame")),
        "ii"
    );
    assert_eq!(
        string(&d, &format!("{L10}/foreground/transition/producer")),
        "ffmpeg"
    );
    assert_eq!(string(&d, &format!("{L10}/background/producer")), "empty");
    for (addr, expected) in [
        ("foreground/file/name", "s"),
        ("foreground/file/path", "s"),
        ("foreground/file/time", "ff"),
        ("foreground/file/clip", "ff"),
        ("foreground/file/streams/0/fps", "ii"),
        ("foreground/file/streams/1/fps", "ii"),
        ("foreground/loop", "F"),
        ("foreground/paused", "F"),
    ] {
        assert_eq!(tags(&d, &format!("{L10}/{addr}")), expected, "{addr}");
    }
    assert_eq!(string(&d, &format!("{L10}/foreground/file/name")), "CLIP1");
    assert_eq!(
        string(&d, &format!("{L10}/foreground/file/path")),
        "/opt/casparcg/media/CLIP1.mp4"
    );
    assert_eq!(
        floats(&d, &format!("{L10}/foreground/file/time")),
        [0.0, 10.0]
    );
    assert!(d.get(&format!("{L10}/foreground/frames_left")).is_none());

    sim.step(1);
    let d2 = rx.recv().await;
    assert_eq!(d2.time_tag, d.time_tag + 1, "time tags count bundles");
    assert_eq!(string(&d2, &format!("{L10}/foreground/producer")), "ffmpeg");
    assert!(
        d2.get(&format!("{L10}/foreground/transition/type"))
            .is_none()
    );
    let time = floats(&d2, &format!("{L10}/foreground/file/time"));
    assert!(close(time[0], 0.04), "one frame in: {time:?}");

    // A waiting AUTO background: frames_left as int64, the background's snapshot.
    c.exchange("LOADBG 1-10 CLIP2 AUTO", "202 LOADBG OK\r\n")
        .await;
    sim.step(1);
    let d3 = rx.recv().await;
    assert_eq!(tags(&d3, &format!("{L10}/foreground/frames_left")), "h");
    assert_eq!(
        string(&d3, &format!("{L10}/background/producer")),
        "transition"
    );
    assert_eq!(string(&d3, &format!("{L10}/background/file/name")), "CLIP2");
    assert_eq!(tags(&d3, &format!("{L10}/background/loop")), "F");
    assert_eq!(tags(&d3, &format!("{L10}/background/file/time")), "ff");
    assert_eq!(
        string(&d3, &format!("{L10}/background/transition/type")),
        "cut"
    );

    c.exchange("PAUSE 1-10", "202 PAUSE OK\r\n").await;
    sim.step(1);
    let d4 = rx.recv().await;
    assert_eq!(tags(&d4, &format!("{L10}/foreground/paused")), "T");
    sim.shutdown().await;
}

#[tokio::test]
async fn one_full_snapshot_per_tick_with_counting_time_tags() {
    let mut rx = OscReceiver::bind().await;
    let (sim, mut c) = sim_with_osc(Dialect::V24, "640x360p2500", &rx).await;
    c.exchange("PLAY 1-10 CLIP1", "202 PLAY OK\r\n").await;
    sim.step(1);
    let first = rx.recv().await;
    sim.step(5);
    let mut prev = first;
    for n in 1..=5 {
        let d = rx.recv().await;
        assert_eq!(d.time_tag, prev.time_tag + 1);
        // Full state every time, not deltas: the same keys on every tick (after the first, which
        // also showed the cut's `transition/…` keys).
        let addrs = |d: &Datagram| {
            d.messages
                .iter()
                .map(|m| m.addr.clone())
                .collect::<Vec<_>>()
        };
        if n > 1 {
            assert_eq!(addrs(&d), addrs(&prev));
        }
        assert!(d.get("/channel/1/format").is_some() && d.get("/channel/1/framerate").is_some());
        let time = floats(&d, &format!("{L10}/foreground/file/time"))[0];
        assert!(close(time, 0.04 * n as f32), "tick {n}: {time}");
        prev = d;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_large_state_is_split_into_bundles_of_at_most_2_kb() {
    let mut rx = OscReceiver::bind().await;
    let (sim, mut c) = sim_with_osc(Dialect::V24, "640x360p2500", &rx).await;
    let layers: Vec<i32> = (10..22).collect();
    for l in &layers {
        c.exchange(&format!("PLAY 1-{l} CLIP1 LOOP"), "202 PLAY OK\r\n")
            .await;
    }
    sim.step(2);
    // Skip the first tick's datagrams, then collect one whole tick.
    let mut tick = vec![rx.recv().await];
    let first_name = |d: &Datagram| d.get("/channel/1/format").is_some();
    loop {
        let d = rx.recv().await;
        if first_name(&d) {
            tick = vec![d];
            break;
        }
        tick.push(d);
    }
    loop {
        let last = tick.last().expect("non-empty");
        if last
            .get("/channel/1/stage/layer/21/foreground/producer")
            .is_some()
        {
            break;
        }
        tick.push(rx.recv().await);
    }
    assert!(tick.len() >= 2, "{} layers fit one datagram?", layers.len());
    for (i, d) in tick.iter().enumerate() {
        assert!(d.len <= 2048, "datagram {i} has {} bytes", d.len);
        assert_eq!(d.time_tag, tick[0].time_tag + i as u64);
    }
    let names = tick
        .iter()
        .flat_map(|d| d.messages.iter())
        .filter(|m| m.addr.ends_with("/foreground/file/name"))
        .count();
    assert_eq!(names, layers.len(), "every layer in the snapshot");
    sim.shutdown().await;
}

#[tokio::test]
async fn subscribe_unsubscribe_and_connection_lifetime() {
    let mut rx1 = OscReceiver::bind().await;
    let mut rx2 = OscReceiver::bind().await;
    let mut rx3 = OscReceiver::bind().await;
    let (sim, mut c) = sim_with_osc(Dialect::V24, "640x360p2500", &rx1).await;
    let (p2, p3) = (rx2.port(), rx3.port());

    c.exchange(&format!("OSC SUBSCRIBE {p2}"), "202 OSC SUBSCRIBE OK\r\n")
        .await;
    sim.step(1);
    let t = rx1.recv().await.time_tag;
    assert_eq!(rx2.recv().await.time_tag, t, "the same bundle to both");

    c.exchange(
        &format!("OSC UNSUBSCRIBE {p2}"),
        "202 OSC UNSUBSCRIBE OK\r\n",
    )
    .await;
    sim.step(1);
    assert_eq!(rx1.recv().await.time_tag, t + 1);
    c.exchange(&format!("OSC SUBSCRIBE {p2}"), "202 OSC SUBSCRIBE OK\r\n")
        .await;
    sim.step(1);
    assert_eq!(rx1.recv().await.time_tag, t + 2);
    assert_eq!(
        rx2.recv().await.time_tag,
        t + 2,
        "tick t+1 was not sent to rx2"
    );

    // A subscription belongs to its connection. The second client's automatic subscription of
    // rx1 is reference-counted: rx1 keeps receiving after that client leaves.
    let mut c2 = AmcpClient::connect(sim.addr()).await;
    c2.exchange(&format!("OSC SUBSCRIBE {p3}"), "202 OSC SUBSCRIBE OK\r\n")
        .await;
    sim.step(1);
    assert_eq!(rx3.recv().await.time_tag, t + 3);
    assert_eq!(rx1.recv().await.time_tag, t + 3);
    c2.close().await;
    sim.wait_for_connections(1).await;
    sim.step(1);
    assert_eq!(rx1.recv().await.time_tag, t + 4);
    c.exchange(&format!("OSC SUBSCRIBE {p3}"), "202 OSC SUBSCRIBE OK\r\n")
        .await;
    sim.step(1);
    assert_eq!(
        rx3.recv().await.time_tag,
        t + 5,
        "tick t+4 was not sent to rx3"
    );
    assert_eq!(rx2.recv().await.time_tag, t + 3);

    c.exchange("OSC SUBSCRIBE 0", "403 OSC SUBSCRIBE BAD PORT\r\n")
        .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn v23_has_no_format_key_and_no_osc_subscribe() {
    let mut rx = OscReceiver::bind().await;
    let (sim, mut c) = sim_with_osc(Dialect::V23, "640x360p2500", &rx).await;
    c.exchange("OSC SUBSCRIBE 6251", "400 ERROR\r\nOSC SUBSCRIBE 6251\r\n")
        .await;
    c.exchange("PLAY 1-10 CLIP1", "202 PLAY OK\r\n").await;
    sim.step(1);
    let d = rx.recv().await;
    assert!(d.get("/channel/1/format").is_none());
    assert_eq!(tags(&d, "/channel/1/framerate"), "ii");
    assert_eq!(tags(&d, &format!("{L10}/foreground/file/time")), "ff");
    assert_eq!(
        tags(&d, &format!("{L10}/foreground/transition/frame")),
        "ii"
    );
    // The transition's producer key is 2.4+.
    assert!(
        d.get(&format!("{L10}/foreground/transition/producer"))
            .is_none()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn v25_transition_direction_and_no_audio_levels_without_consumers() {
    let mut rx = OscReceiver::bind().await;
    let (sim, mut c) = sim_with_osc(Dialect::V25, "720p5000", &rx).await;
    c.exchange("PLAY 1-10 CLIP1", "202 PLAY OK\r\n").await;
    sim.step(1);
    let d = rx.recv().await;
    assert_eq!(string(&d, "/channel/1/format"), "720p5000");
    assert!(d.get("/channel/1/mixer/audio/volume").is_none());
    assert_eq!(
        string(&d, &format!("{L10}/foreground/transition/direction")),
        "from_left"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn osc_can_be_stopped_and_restarted() {
    let mut rx = OscReceiver::bind().await;
    let (sim, mut c) = sim_with_osc(Dialect::V24, "640x360p2500", &rx).await;
    c.exchange("PLAY 1-10 CLIP1", "202 PLAY OK\r\n").await;
    sim.step(2);
    let _first_tick = rx.recv().await;
    let before = rx.recv().await;
    let t0 = floats(&before, &format!("{L10}/foreground/file/time"))[0];

    sim.set_osc_enabled(false);
    sim.step(3); // the clip keeps playing; nothing is sent
    sim.set_osc_enabled(true);
    sim.step(1);
    let after = rx.recv().await;
    let t1 = floats(&after, &format!("{L10}/foreground/file/time"))[0];
    // The next datagram is already four frames later: the three silent ticks were never sent.
    assert!(close(t1 - t0, 4.0 * 0.04), "{t0} → {t1}");
    assert_eq!(
        after.time_tag,
        before.time_tag + 1,
        "no bundle was built meanwhile"
    );
    // AMCP was unaffected.
    c.exchange("PING still-here", "PONG still-here\r\n").await;
    sim.shutdown().await;
}
