//! The AMCP connection against the simulator over real TCP on 127.0.0.1: matching, errors, flow
//! control, loss, reconnect, half-open detection, garbage, and a server without REQ support.

use std::net::SocketAddr;
use std::time::Duration;

use onair::amcp::{ChannelLayer, Clip, Command, MixerOp};
use onair::caspar::{CasparHandle, CommandError, DisconnectReason, LinkState};
use onair::config::CasparConfig;
use onair::sim::{Sim, SimConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::time::{Instant, timeout};

const MS: Duration = Duration::from_millis(1);

/// A link config tuned for tests: quick backoff, a ping that tolerates a loaded CI machine.
fn config(addr: SocketAddr) -> CasparConfig {
    CasparConfig {
        address: addr.to_string(),
        connect_timeout: 1000 * MS,
        command_timeout: 2000 * MS,
        scanner_timeout: 4000 * MS,
        ping_interval: 200 * MS,
        ping_timeout: 1000 * MS,
        backoff_initial: 20 * MS,
        backoff_max: 300 * MS,
        ..CasparConfig::default()
    }
}

async fn sim_with_channels(n: usize) -> Sim {
    let mut cfg = SimConfig::for_tests();
    cfg.formats = vec![cfg.formats[0]; n];
    Sim::start(cfg).await.expect("sim starts")
}

async fn connected(cfg: CasparConfig) -> CasparHandle {
    let (handle, _task) = CasparHandle::spawn(cfg);
    timeout(Duration::from_secs(5), handle.wait_connected())
        .await
        .expect("connects within 5 s");
    handle
}

fn play(ch: u16, clip: &str) -> Command {
    Command::Play(ChannelLayer::new(ch, 10).unwrap(), Some(Clip::new(clip)))
}

/// Waits for the first state matching `pred`, failing the test after `limit`.
async fn wait_state(
    h: &CasparHandle,
    limit: Duration,
    pred: impl Fn(&LinkState) -> bool,
) -> LinkState {
    let mut rx = h.watch_state();
    timeout(limit, async {
        loop {
            if pred(&rx.borrow_and_update()) {
                return rx.borrow().clone();
            }
            rx.changed().await.expect("actor alive");
        }
    })
    .await
    .unwrap_or_else(|_| panic!("state not reached within {limit:?}; now {:?}", h.state()))
}

#[tokio::test]
async fn happy_path_and_typed_errors() {
    let sim = sim_with_channels(1).await;
    let h = connected(config(sim.addr())).await;
    match h.state() {
        LinkState::Connected {
            server_version,
            req_supported,
            ..
        } => {
            assert_eq!(server_version, "2.4.3 fd9168c73 Stable");
            assert!(req_supported);
        }
        other => panic!("unexpected state {other:?}"),
    }
    let v = h.send(Command::Version).await.unwrap();
    assert_eq!(
        (v.code, v.body_text()),
        (201, Some("2.4.3 fd9168c73 Stable"))
    );
    assert_eq!(h.send(play(1, "CLIP1")).await.unwrap().code, 202);
    assert_eq!(
        h.send(play(1, "NOSUCHCLIP")).await,
        Err(CommandError::Server {
            code: 404,
            text: "PLAY FAILED".into()
        })
    );
    match h.send(Command::Raw("FOO 1-10".into())).await {
        Err(CommandError::Server { code: 400, text }) => {
            assert!(text.contains("FOO 1-10"), "{text}")
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    let cls = h.send(Command::Cls).await.unwrap();
    assert!(cls.data_lines().len() >= 3);
    let stats = h.stats();
    assert_eq!((stats.in_flight, stats.waiting, stats.connects), (0, 0, 1));
    assert!(stats.rtt_count >= 5);
    h.shutdown();
}

#[tokio::test]
async fn out_of_order_replies_across_queues_are_matched() {
    let sim = sim_with_channels(2).await;
    sim.faults().set_command_delay_for("PLAY", 150 * MS);
    let h = connected(config(sim.addr())).await;
    let slow = tokio::spawn({
        let h = h.clone();
        async move { h.send(play(1, "CLIP1")).await }
    });
    // VERSION and MIXER on channel 2 are answered while channel 1's PLAY is still being processed.
    let fast = h
        .send_many([
            Command::Version,
            Command::Mixer(
                ChannelLayer::new(2, 10).unwrap(),
                MixerOp::Opacity(None, None),
            ),
        ])
        .await;
    assert!(
        !slow.is_finished(),
        "the delayed PLAY must still be pending"
    );
    assert_eq!(fast[0].as_ref().unwrap().code, 201);
    assert_eq!(fast[1].as_ref().unwrap().body_text(), Some("1"));
    assert_eq!(slow.await.unwrap().unwrap().code, 202);
    h.shutdown();
}

#[tokio::test]
async fn pipelined_burst_with_pings_interleaved_resolves_every_command() {
    let sim = sim_with_channels(2).await;
    let mut cfg = config(sim.addr());
    cfg.ping_interval = 5 * MS;
    let h = connected(cfg).await;
    let cmds = (0..3000).map(|i| match i % 3 {
        0 => play(1, "CLIP1"),
        1 => play(2, "CLIP2"),
        _ => Command::Version,
    });
    let results = h.send_many(cmds).await;
    assert_eq!(results.len(), 3000);
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    let stats = h.stats();
    assert_eq!(
        (
            stats.in_flight,
            stats.waiting,
            stats.late_replies,
            stats.overloaded
        ),
        (0, 0, 0, 0)
    );
    h.shutdown();
}

#[tokio::test]
async fn queue_overflow_is_overloaded_and_harmless() {
    let sim = sim_with_channels(1).await;
    sim.faults().set_command_delay_for("MIXER OPACITY", 2 * MS);
    let mut cfg = config(sim.addr());
    // Deliberately above the server's limit of 128 waiting commands (config validation forbids it).
    cfg.max_in_flight_per_queue = 400;
    let h = connected(cfg).await;
    let cl = ChannelLayer::new(1, 10).unwrap();
    let results = h
        .send_many((0..400).map(|_| Command::Mixer(cl, MixerOp::Opacity(Some(1.0), None))))
        .await;
    let overloaded = results
        .iter()
        .filter(|r| **r == Err(CommandError::Overloaded))
        .count();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        ok + overloaded,
        400,
        "every command is either done or overloaded"
    );
    assert!(overloaded > 0, "the server must have overflowed");
    assert_eq!(h.stats().overloaded, overloaded as u64);
    assert!(h.state().is_connected());
    assert_eq!(h.send(Command::Version).await.unwrap().code, 201);
    h.shutdown();
}

#[tokio::test]
async fn restart_fails_pending_rejects_while_down_and_reconnects_within_the_cap() {
    let sim = sim_with_channels(1).await;
    sim.faults().set_command_delay_for("PLAY", 500 * MS);
    let cfg = config(sim.addr());
    let cap = cfg.backoff_max;
    let h = connected(cfg).await;
    let in_flight = tokio::spawn({
        let h = h.clone();
        async move { h.send_many((0..10).map(|_| play(1, "CLIP1"))).await }
    });
    // Wait until the commands are really out on the wire before pulling the plug.
    timeout(Duration::from_secs(5), async {
        while h.stats().in_flight == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    sim.set_refuse_connections(true);
    sim.wait_listening(false).await;
    sim.drop_connections();
    for r in in_flight.await.unwrap() {
        assert_eq!(r, Err(CommandError::ConnectionLost));
    }
    wait_state(&h, Duration::from_secs(5), |s| {
        matches!(s, LinkState::Disconnected { .. })
    })
    .await;
    assert_eq!(
        h.send(Command::Version).await,
        Err(CommandError::NotConnected)
    );
    let stats = h.stats();
    assert_eq!(
        (stats.in_flight, stats.waiting),
        (0, 0),
        "the table is empty after a disconnect"
    );
    // Let a few reconnect attempts fail so the backoff reaches its cap, then come back.
    wait_state(
        &h,
        Duration::from_secs(5),
        |s| matches!(s, LinkState::Connecting { attempt } if *attempt >= 6),
    )
    .await;
    sim.set_refuse_connections(false);
    sim.wait_listening(true).await;
    let back = Instant::now();
    wait_state(&h, Duration::from_secs(5), LinkState::is_connected).await;
    let took = back.elapsed();
    assert!(
        took <= cap + 100 * MS,
        "reconnected after {took:?}, cap {cap:?}"
    );
    assert_eq!(h.send(Command::Version).await.unwrap().code, 201);
    assert!(h.stats().disconnects["closed"] >= 1);
    h.shutdown();
}

#[tokio::test]
async fn half_open_link_is_detected_by_ping() {
    let sim = sim_with_channels(1).await;
    let mut cfg = config(sim.addr());
    cfg.ping_interval = 100 * MS;
    cfg.ping_timeout = 100 * MS;
    let h = connected(cfg).await;
    let stalled_at = Instant::now();
    sim.faults().set_stalled(true);
    let pending = tokio::spawn({
        let h = h.clone();
        async move { h.send(Command::Version).await }
    });
    let state = wait_state(&h, Duration::from_secs(5), |s| !s.is_connected()).await;
    let took = stalled_at.elapsed();
    assert!(
        matches!(
            state,
            LinkState::Disconnected {
                reason: DisconnectReason::PingTimeout,
                ..
            }
        ),
        "{state:?}"
    );
    // interval + timeout = 200 ms; the rest is scheduling slack on a busy machine.
    assert!(took <= 200 * MS + 250 * MS, "detected after {took:?}");
    assert_eq!(pending.await.unwrap(), Err(CommandError::ConnectionLost));
    sim.faults().set_stalled(false);
    wait_state(&h, Duration::from_secs(5), LinkState::is_connected).await;
    assert_eq!(h.send(Command::Version).await.unwrap().code, 201);
    h.shutdown();
}

#[tokio::test]
async fn garbage_and_oversize_frames_reset_the_link() {
    let sim = sim_with_channels(1).await;
    let mut cfg = config(sim.addr());
    cfg.max_frame_bytes = 512;
    let h = connected(cfg).await;
    sim.faults().corrupt_next_reply();
    assert_eq!(
        h.send(Command::Version).await,
        Err(CommandError::ConnectionLost)
    );
    let reconnects_before = h.stats().connects;
    wait_state(&h, Duration::from_secs(5), LinkState::is_connected).await;
    assert!(h.stats().disconnects["protocol"] >= 1);
    // A CLS of 20 clips is far above the 512-byte frame limit.
    assert_eq!(
        h.send(Command::Cls).await,
        Err(CommandError::ConnectionLost)
    );
    wait_state(&h, Duration::from_secs(5), LinkState::is_connected).await;
    assert!(h.stats().connects > reconnects_before);
    let last = h.stats().last_error.unwrap_or_default();
    assert!(last.contains("protocol error"), "{last}");
    assert!(h.stats().disconnects["protocol"] >= 2);
    assert_eq!(h.send(Command::Version).await.unwrap().code, 201);
    h.shutdown();
}

#[tokio::test]
async fn shutdown_stops_reconnecting() {
    let sim = sim_with_channels(1).await;
    let (h, task) = CasparHandle::spawn(config(sim.addr()));
    h.wait_connected().await;
    h.shutdown();
    timeout(Duration::from_secs(5), task)
        .await
        .expect("actor ends")
        .unwrap();
    assert!(matches!(
        h.state(),
        LinkState::Disconnected {
            reason: DisconnectReason::Shutdown,
            ..
        }
    ));
    assert_eq!(
        h.send(Command::Version).await,
        Err(CommandError::NotConnected)
    );
    sim.wait_for_connections(0).await;
}

/// A scripted CasparCG 2.0: `REQ` is an unknown command answered without `RES`.
async fn old_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (rd, mut wr) = stream.into_split();
                let mut lines = BufReader::new(rd).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let line = line.trim_end_matches('\r').to_owned();
                    let reply = match line.split(' ').next().unwrap_or("") {
                        "REQ" => format!("400 ERROR\r\n{line}\r\n"),
                        "PING" => format!("PONG{}\r\n", line.strip_prefix("PING").unwrap_or("")),
                        "VERSION" => "201 VERSION OK\r\n2.0.7.e9fc25a Stable\r\n".into(),
                        "PLAY" => "202 PLAY OK\r\n".into(),
                        _ => format!("400 ERROR\r\n{line}\r\n"),
                    };
                    if wr.write_all(reply.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn server_without_req_falls_back_to_fifo() {
    let addr = old_server().await;
    let h = connected(config(addr)).await;
    match h.state() {
        LinkState::Connected {
            req_supported,
            server_version,
            ..
        } => {
            assert!(!req_supported);
            assert_eq!(server_version, "2.0.7.e9fc25a Stable");
        }
        other => panic!("{other:?}"),
    }
    let results = h
        .send_many([
            play(1, "A"),
            Command::Version,
            play(2, "B"),
            Command::Raw("FOO".into()),
        ])
        .await;
    assert_eq!(results[0].as_ref().unwrap().code, 202);
    assert_eq!(results[1].as_ref().unwrap().code, 201);
    assert_eq!(results[2].as_ref().unwrap().code, 202);
    assert!(matches!(
        &results[3],
        Err(CommandError::Server { code: 400, .. })
    ));
    h.shutdown();
}
