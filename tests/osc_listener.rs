//! The OSC listener against the simulator over real UDP on 127.0.0.1: the on-air clip and its time
//! as frames are stepped, `frames_left` of a pending `LOADBG … AUTO` and the switch, a layer
//! disappearing after `CLEAR`, staleness when the stream stops (and `OSC UNSUBSCRIBE`), several
//! channels, and garbage datagrams that are counted without breaking later bundles.
//!
//! The simulator's clock is stepped and each step sends its datagrams synchronously; the listener
//! receives them on its own task, so every check waits for a condition on the published state with
//! a bounded timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use onair::amcp::{ChannelLayer, Clip, Command};
use onair::caspar::CasparHandle;
use onair::caspar::osc::{OscListener, OscState, OscTelemetry};
use onair::config::CasparConfig;
use onair::sim::{Sim, SimConfig};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(5);
/// The test simulator's channel (1080i5000 on 2.4) ticks 25 times a second.
const FRAME: f64 = 0.04;

fn link_config(addr: SocketAddr) -> CasparConfig {
    CasparConfig {
        address: addr.to_string(),
        ping_interval: Duration::from_millis(500),
        ping_timeout: Duration::from_secs(2),
        backoff_initial: Duration::from_millis(20),
        ..CasparConfig::default()
    }
}

struct Rig {
    sim: Sim,
    caspar: CasparHandle,
    osc: OscTelemetry,
    _shutdown: tokio_util::sync::DropGuard,
}

/// A simulator with `channels` channels, a listener, and an AMCP link that subscribed the listener
/// with `OSC SUBSCRIBE <port>` (what the daemon does; the port is ephemeral).
async fn rig(channels: usize, stale_after: Duration) -> Rig {
    let mut cfg = SimConfig::for_tests();
    cfg.formats = vec![cfg.formats[0]; channels];
    let sim = Sim::start(cfg).await.expect("sim starts");
    let listener = OscListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let port = listener.local_addr().port();
    assert_ne!(port, 0);
    let shutdown = CancellationToken::new();
    let osc = listener.spawn(shutdown.clone(), stale_after);
    assert_eq!(osc.local_addr().port(), port);
    let (caspar, _task) = CasparHandle::spawn(link_config(sim.addr()));
    timeout(LIMIT, caspar.wait_connected())
        .await
        .expect("connects");
    let reply = caspar.send(Command::OscSubscribe(port)).await;
    assert!(reply.is_ok(), "OSC SUBSCRIBE: {reply:?}");
    Rig {
        sim,
        caspar,
        osc,
        _shutdown: shutdown.drop_guard(),
    }
}

fn layer(ch: u16, l: i32) -> ChannelLayer {
    ChannelLayer::new(ch, l).unwrap()
}

impl Rig {
    async fn send(&self, cmd: Command) {
        let what = format!("{cmd:?}");
        let r = self.caspar.send(cmd).await;
        assert!(r.is_ok(), "{what}: {r:?}");
    }

    /// Waits until the published state satisfies `pred`; fails after [`LIMIT`].
    async fn wait(&self, what: &str, pred: impl Fn(&OscState) -> bool) -> Arc<OscState> {
        let mut rx = self.osc.subscribe();
        let found = timeout(LIMIT, async {
            loop {
                let st = rx.borrow_and_update().clone();
                if pred(&st) {
                    return st;
                }
                if rx.changed().await.is_err() {
                    panic!("listener stopped while waiting for {what}");
                }
            }
        })
        .await;
        found
            .unwrap_or_else(|_| panic!("{what} not seen within {LIMIT:?}: {:?}", self.osc.latest()))
    }

    /// Steps one frame at a time until `pred` holds, at most `max` frames (a frame's datagrams
    /// may still be on their way when the check runs, so each step waits briefly).
    async fn step_until(&self, what: &str, max: u32, pred: impl Fn(&OscState) -> bool) -> u32 {
        let mut rx = self.osc.subscribe();
        for n in 1..=max {
            self.sim.step(1);
            let hit = timeout(Duration::from_millis(250), async {
                loop {
                    if pred(&rx.borrow_and_update()) {
                        return;
                    }
                    if rx.changed().await.is_err() {
                        return std::future::pending().await;
                    }
                }
            })
            .await;
            if hit.is_ok() {
                return n;
            }
        }
        panic!(
            "{what} not seen within {max} frames: {:?}",
            self.osc.latest()
        )
    }
}

fn on_air(st: &OscState, ch: u16, l: i32) -> Option<String> {
    st.layer(ch, l)
        .and_then(|x| x.on_air_file())
        .map(str::to_owned)
}

fn elapsed(st: &OscState, ch: u16, l: i32) -> Option<f64> {
    st.layer(ch, l).and_then(|x| x.elapsed_secs())
}

#[tokio::test]
async fn on_air_clip_and_time_follow_the_frames() {
    let rig = rig(1, Duration::from_secs(2)).await;
    rig.send(Command::Play(layer(1, 10), Some(Clip::new("CLIP1"))))
        .await;
    rig.sim.step(1);
    let st = rig
        .wait("CLIP1 on 1-10", |s| {
            on_air(s, 1, 10).as_deref() == Some("CLIP1")
        })
        .await;
    let ch = st.channel(1).unwrap();
    assert_eq!(ch.format.as_deref(), Some("1080i5000"));
    assert_eq!(ch.framerate, Some((50, 1)));
    let l = st.layer(1, 10).unwrap();
    assert_eq!(l.foreground.paused, Some(false));
    assert_eq!(l.foreground.looping, Some(false));
    assert_eq!(l.foreground.time.map(|t| t.1), Some(10.0));
    assert_eq!(l.frames_left, None);
    assert!(!rig.osc.is_stale(1));
    assert!(rig.osc.is_stale(2), "a channel never heard of is stale");

    // Time advances with the simulated frames, not with the wall clock.
    let t0 = elapsed(&st, 1, 10).unwrap();
    rig.sim.step(25);
    let want = t0 + 25.0 * FRAME;
    let st = rig
        .wait("one second later", |s| {
            elapsed(s, 1, 10).is_some_and(|e| (e - want).abs() < 1e-3)
        })
        .await;
    assert!((st.layer(1, 10).unwrap().remaining_secs().unwrap() - (10.0 - want)).abs() < 1e-3);

    rig.send(Command::Pause(layer(1, 10))).await;
    rig.sim.step(1);
    rig.wait("paused", |s| {
        s.layer(1, 10).and_then(|l| l.foreground.paused) == Some(true)
    })
    .await;

    let stats = rig.osc.stats();
    assert!(stats.datagrams >= 27, "one per frame stepped: {stats:?}");
    assert!(stats.messages > stats.datagrams);
    assert_eq!(stats.decode_errors, 0);
    assert!(stats.last_received.is_some());
}

#[tokio::test]
async fn loadbg_auto_shows_frames_left_until_the_switch() {
    let rig = rig(1, Duration::from_secs(2)).await;
    rig.send(Command::Play(layer(1, 10), Some(Clip::new("SHORT"))))
        .await;
    let mut next = Clip::new("CLIP2");
    next.auto = true;
    rig.send(Command::LoadBg(layer(1, 10), next)).await;
    rig.sim.step(1);
    let st = rig
        .wait("frames_left", |s| {
            s.layer(1, 10).is_some_and(|l| l.frames_left.is_some())
        })
        .await;
    let l = st.layer(1, 10).unwrap();
    assert_eq!(l.background_file.as_deref(), Some("CLIP2"));
    assert_eq!(l.background_producer.as_deref(), Some("transition"));
    assert_eq!(l.on_air_file(), Some("SHORT"));
    let left = l.frames_left.unwrap();
    assert!(left > 0 && left <= 50, "SHORT is 2 s = 50 frames: {left}");

    rig.sim.step(u32::try_from(left).unwrap() + 3);
    let st = rig
        .wait("CLIP2 on air, nothing pending", |s| {
            s.layer(1, 10)
                .is_some_and(|l| l.on_air_file() == Some("CLIP2") && l.frames_left.is_none())
        })
        .await;
    let l = st.layer(1, 10).unwrap();
    assert_eq!(l.background_file, None);
    assert_eq!(l.background_producer.as_deref(), Some("empty"));
}

#[tokio::test]
async fn a_cleared_layer_disappears() {
    let rig = rig(1, Duration::from_secs(2)).await;
    rig.send(Command::Play(layer(1, 10), Some(Clip::new("CLIP1"))))
        .await;
    rig.send(Command::Play(layer(1, 20), Some(Clip::new("CLIP2"))))
        .await;
    rig.step_until("two layers", 10, |s| {
        on_air(s, 1, 10).is_some() && on_air(s, 1, 20).is_some()
    })
    .await;
    rig.send(Command::Clear(layer(1, 10))).await;
    let frames = rig
        .step_until("layer 10 gone", 20, |s| s.layer(1, 10).is_none())
        .await;
    assert!(
        frames >= 2,
        "one missing tick is tolerated: gone after {frames}"
    );
    let st = rig.osc.latest();
    assert_eq!(on_air(&st, 1, 20).as_deref(), Some("CLIP2"));
    assert!(!st.channel(1).unwrap().stale);
}

#[tokio::test]
async fn telemetry_goes_stale_when_the_stream_stops() {
    let stale_after = Duration::from_millis(300);
    let rig = rig(1, stale_after).await;
    rig.sim.step(1);
    rig.wait("channel 1", |s| s.channel(1).is_some_and(|c| !c.stale))
        .await;
    assert!(!rig.osc.is_stale(1));

    rig.sim.set_osc_enabled(false);
    let since = tokio::time::Instant::now();
    rig.sim.step(5);
    // The stale flag is published by the listener itself: a watcher wakes up without polling.
    rig.wait("stale", |s| s.channel(1).is_some_and(|c| c.stale))
        .await;
    assert!(since.elapsed() >= stale_after - Duration::from_millis(50));
    assert!(rig.osc.is_stale(1));

    rig.sim.set_osc_enabled(true);
    rig.sim.step(1);
    rig.wait("fresh again", |s| s.channel(1).is_some_and(|c| !c.stale))
        .await;
    assert!(!rig.osc.is_stale(1));

    // Unsubscribing stops the stream as well.
    let port = rig.osc.local_addr().port();
    rig.send(Command::OscUnsubscribe(port)).await;
    rig.sim.step(1);
    rig.wait("stale after UNSUBSCRIBE", |s| {
        s.channel(1).is_some_and(|c| c.stale)
    })
    .await;
}

#[tokio::test]
async fn several_channels_at_once() {
    let rig = rig(4, Duration::from_secs(2)).await;
    let clips = ["CLIP1", "CLIP2", "SHORT", "CLIP1"];
    for (ch, clip) in (1u16..).zip(clips) {
        rig.send(Command::Play(layer(ch, 10), Some(Clip::new(clip))))
            .await;
    }
    rig.sim.step(3);
    let st = rig
        .wait("four channels", |s| {
            (1u16..)
                .zip(clips)
                .all(|(ch, c)| on_air(s, ch, 10).as_deref() == Some(c))
        })
        .await;
    assert_eq!(st.channels.len(), 4);
}

#[tokio::test]
async fn garbage_is_counted_and_later_bundles_still_decode() {
    let rig = rig(1, Duration::from_secs(2)).await;
    let target = rig.osc.local_addr();
    let sender = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let garbage: [&[u8]; 4] = [
        b"garbage",
        b"#bundle\0\0\0\0\0",
        &[0xff; 300],
        b"/channel/1/format\0\0\0,s\0\0", // a string argument that is not there
    ];
    for g in garbage {
        sender.send_to(g, target).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + LIMIT;
    while rig.osc.stats().decode_errors < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            rig.osc.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    rig.send(Command::Play(layer(1, 10), Some(Clip::new("CLIP2"))))
        .await;
    rig.sim.step(2);
    rig.wait("CLIP2 after garbage", |s| {
        on_air(s, 1, 10).as_deref() == Some("CLIP2")
    })
    .await;
    let stats = rig.osc.stats();
    assert_eq!(stats.decode_errors, 4);
    assert!(stats.datagrams >= 6);
}

/// CPU time the calling thread has run, from `/proc/thread-self/schedstat` (Linux), in ns.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The listener's cost at 8 channels × 50 fps of full-state bundles from a real-time simulator,
/// measured on the listener's own thread. Run with
/// `cargo test --release --test osc_listener -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "measurement, takes a few seconds"]
async fn cost_of_eight_channels_at_50fps() {
    let mut cfg = SimConfig::for_tests();
    cfg.formats = vec![onair::sim::media::VideoFormat::parse("720p5000").unwrap(); 8];
    cfg.clock = onair::sim::ClockMode::Realtime;
    let sim = Sim::start(cfg).await.expect("sim starts");
    let (caspar, _task) = CasparHandle::spawn(link_config(sim.addr()));
    timeout(LIMIT, caspar.wait_connected()).await.unwrap();
    for ch in 1..=8u16 {
        for l in [10, 20] {
            let r = caspar
                .send(Command::Play(layer(ch, l), Some(Clip::new("CLIP1"))))
                .await;
            assert!(r.is_ok());
            let mut next = Clip::new("CLIP2");
            next.auto = true;
            assert!(
                caspar
                    .send(Command::LoadBg(layer(ch, l), next))
                    .await
                    .is_ok()
            );
        }
    }
    let (port_tx, port_rx) = tokio::sync::oneshot::channel();
    let secs = 3;
    let measure = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = OscListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let shutdown = CancellationToken::new();
            let osc = listener.spawn(shutdown.clone(), Duration::from_secs(1));
            let _ = port_tx.send(osc.local_addr().port());
            // Let the stream start, then measure a steady state.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (cpu0, s0) = (thread_cpu_ns(), osc.stats());
            tokio::time::sleep(Duration::from_secs(secs)).await;
            let (cpu1, s1) = (thread_cpu_ns(), osc.stats());
            shutdown.cancel();
            (cpu1.zip(cpu0).map(|(a, b)| a - b), s0, s1, osc.latest())
        })
    });
    let port = port_rx.await.unwrap();
    assert!(caspar.send(Command::OscSubscribe(port)).await.is_ok());
    let (cpu, s0, s1, st) = tokio::task::spawn_blocking(move || measure.join().unwrap())
        .await
        .unwrap();
    let datagrams = s1.datagrams - s0.datagrams;
    let messages = s1.messages - s0.messages;
    assert_eq!(st.channels.len(), 8);
    assert!(st.layer(8, 20).is_some_and(|l| l.frames_left.is_some()));
    let cpu = cpu.expect("schedstat") as f64 / 1e9;
    println!(
        "{{\"datagrams_per_s\": {:.0}, \"messages_per_s\": {:.0}, \"cpu_percent\": {:.3}}}",
        datagrams as f64 / secs as f64,
        messages as f64 / secs as f64,
        100.0 * cpu / secs as f64
    );
}
