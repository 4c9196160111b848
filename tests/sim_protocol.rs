//! The simulator's AMCP behaviour over real TCP, beyond the recordings: the reference's Appendix A
//! session (2.4, and its 2.3 error variants), replies overtaking each other across queues, PONG and
//! parser errors overtaking queued commands, the exact `504 QUEUE OVERFLOW` boundary, and
//! `LOADBG … AUTO` firing on the frame the reference's formula predicts.
//!
//! All tests use a stepped clock. Orderings are provoked with the per-command processing delay
//! (`faults().set_command_delay_for`): the delayed command's reply is then the last to come, so no
//! assertion depends on how fast the machine is. The default `#[tokio::test]` runtime is
//! single-threaded, which makes "the queue worker has taken the command" exact after a
//! `PING` barrier (see `queue_overflow_boundary`).

mod common;

use std::time::Duration;

use common::{AmcpClient, recorded_library, render, sim_config, start, start_v24};
use onair::sim::media::{MediaEntry, MediaKind, SimMedia};
use onair::sim::{Dialect, Sim};

/// Long enough that a delayed command is certainly the last to finish, short enough for the suite.
const HOLD: Duration = Duration::from_millis(500);

/// The library of Appendix A: `AMB` (268 frames at 25 fps) and the still `FOLDER/LOGO`.
fn appendix_library() -> SimMedia {
    let mut lib = SimMedia::empty();
    let entry = |id: &str, kind, size, mtime: &str, frames, timebase, ext: &str| MediaEntry {
        id: id.into(),
        kind,
        size_bytes: size,
        mtime: mtime.into(),
        frames,
        timebase,
        path: format!("/opt/casparcg/media/{id}.{ext}"),
        thumb_time: "20240101T120000".into(),
        thumb_size: 1000,
    };
    lib.entries.push(entry(
        "AMB",
        MediaKind::Movie,
        6_445_960,
        "20170413100636",
        268,
        (1, 25),
        "mp4",
    ));
    lib.entries.push(entry(
        "FOLDER/LOGO",
        MediaKind::Still,
        18_432,
        "20240101120000",
        0,
        (0, 1),
        "png",
    ));
    lib.sort();
    lib
}

async fn appendix_sim(dialect: Dialect) -> Sim {
    let mut config = sim_config(dialect, &["1080i5000", "720p5000"]);
    config.media = appendix_library();
    start(config).await
}

/// Reference Appendix A, line by line, on a two-channel server.
async fn appendix_a(dialect: Dialect) {
    let v23 = dialect == Dialect::V23;
    let sim = appendix_sim(dialect).await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    let version = dialect.version_line();
    c.exchange(
        "REQ v1 VERSION",
        &format!("RES v1 201 VERSION OK\r\n{version}\r\n"),
    )
    .await;
    c.exchange(
        "REQ c1 PLAY 1-10 \"AMB\" LOOP MIX 25 EASEINSINE",
        "RES c1 202 PLAY OK\r\n",
    )
    .await;
    c.exchange(
        "REQ c2 PLAY 1-10 \"NO_SUCH_CLIP\"",
        "RES c2 404 PLAY FAILED\r\n",
    )
    .await;
    let (c3, c4) = if v23 {
        ("RES c3 402 LOADBG ERROR\r\n", "RES c4 401 PLAY ERROR\r\n")
    } else {
        (
            "RES c3 400 ERROR\r\nREQ c3 LOADBG 1-10\r\n",
            "RES c4 400 ERROR\r\nREQ c4 PLAY 9-10 AMB\r\n",
        )
    };
    c.exchange("REQ c3 LOADBG 1-10", c3).await;
    c.exchange("REQ c4 PLAY 9-10 AMB", c4).await;
    c.exchange("REQ c5 CALL 1-10 SEEK 100", "RES c5 201 CALL OK\r\n100\r\n")
        .await;
    c.exchange("REQ c6 MIXER 1-10 OPACITY", "RES c6 201 MIXER OK\r\n1\r\n")
        .await;
    c.exchange("PING hello", "PONG hello\r\n").await;
    c.exchange(
        "REQ q1 CLS",
        "RES q1 200 CLS OK\r\n\
         \"AMB\"  MOVIE  6445960 20170413100636 268 1/25\r\n\
         \"FOLDER/LOGO\"  STILL  18432 20240101120000 0 0/1\r\n\r\n",
    )
    .await;
    c.exchange(
        "REQ q2 INFO",
        "RES q2 200 INFO OK\r\n1 1080i5000 PLAYING\r\n2 720p5000 PLAYING\r\n\r\n",
    )
    .await;

    sim.step(30); // past the 25-frame mix
    let reply = c.request("q3", "INFO 1-10").await;
    assert_eq!((reply.code, reply.status.as_str()), (201, "INFO OK"));
    let xml = reply.body_text().expect("one XML line");
    let head = if v23 {
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<channel>\n   <framerate>50</framerate>\n"
    } else {
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<channel>\n   <format>1080i5000</format>\n"
    };
    assert!(xml.starts_with(head), "{xml}");
    assert!(xml.ends_with("</channel>\n") && !xml.contains("\r\n"));
    let state = onair::amcp::body::parse_info_xml(xml).expect("INFO XML parses");
    let fg = &state.layers[&10].foreground;
    assert_eq!(fg.producer, "ffmpeg");
    assert_eq!(fg.file_name.as_deref(), Some("AMB"));
    assert_eq!(fg.looping, Some(true));

    if v23 {
        // No batches on 2.3: BEGIN and COMMIT are unknown commands, the PLAYs run at once.
        c.exchange("REQ b0 BEGIN", "RES b0 400 ERROR\r\nREQ b0 BEGIN\r\n")
            .await;
        c.exchange("REQ b1 PLAY 1-10 AMB", "RES b1 202 PLAY OK\r\n")
            .await;
        c.exchange("COMMIT", "400 ERROR\r\nCOMMIT\r\n").await;
    } else {
        c.send("REQ b0 BEGIN").await;
        c.ping_barrier("after-begin").await;
        c.send("REQ b1 PLAY 1-10 AMB").await;
        c.send("REQ b2 PLAY 2-10 AMB").await;
        c.ping_barrier("batched").await;
        c.send("COMMIT").await;
        let mut frames: Vec<String> = c.frames(3).await.iter().map(render).collect();
        assert_eq!(frames.pop().as_deref(), Some("RES b0 202 COMMIT OK⏎"));
        frames.sort();
        assert_eq!(frames, ["RES b1 202 PLAY OK⏎", "RES b2 202 PLAY OK⏎"]);
    }
    c.send("BYE").await;
    c.expect_eof().await;
    sim.wait_for_connections(0).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn appendix_a_session_v24() {
    appendix_a(Dialect::V24).await;
}

#[tokio::test]
async fn appendix_a_session_v23_error_variants() {
    appendix_a(Dialect::V23).await;
}

#[tokio::test]
async fn replies_overtake_across_queues_but_not_within_one() {
    let mut config = sim_config(Dialect::V24, &["640x360p2500", "640x360p2500"]);
    config.media = recorded_library();
    let sim = start(config).await;
    sim.faults().set_command_delay_for("PLAY", HOLD);
    let mut c = AmcpClient::connect(sim.addr()).await;

    // Channel queue vs general queue.
    c.send_all(&["REQ a PLAY 1-10 CLIP1", "REQ b VERSION"])
        .await;
    let order: Vec<_> = c.frames(2).await.iter().map(render).collect();
    assert_eq!(
        order,
        [
            "RES b 201 VERSION OK⏎2.4.3 fd9168c73 Stable⏎",
            "RES a 202 PLAY OK⏎"
        ]
    );

    // Channel 1 vs channel 2.
    c.send_all(&["REQ c PLAY 1-10 CLIP2", "REQ d MIXER 2-10 OPACITY 0.5"])
        .await;
    let order: Vec<_> = c.frames(2).await.iter().map(render).collect();
    assert_eq!(order, ["RES d 202 MIXER OK⏎", "RES c 202 PLAY OK⏎"]);

    // Within one queue the order is kept, however slow the first command.
    c.send_all(&[
        "REQ e PLAY 1-10 CLIP1",
        "REQ f MIXER 1-10 OPACITY 0.5",
        "REQ g INFO 1",
    ])
    .await;
    let ids: Vec<_> = c
        .frames(3)
        .await
        .iter()
        .map(|f| f.req_id().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids, ["e", "f", "g"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn pong_and_parser_errors_overtake_queued_commands() {
    let sim = start_v24().await;
    sim.faults().set_command_delay_for("PLAY", HOLD);
    let mut c = AmcpClient::connect(sim.addr()).await;
    c.send_all(&[
        "REQ a PLAY 1-10 CLIP1",
        "PING x",
        "REQ z FOO",
        "REQ y PLAY 9-10 CLIP1",
        "REQ",
        "",
    ])
    .await;
    c.expect(
        "PONG x\r\n\
         RES z 400 ERROR\r\nREQ z FOO\r\n\
         RES y 400 ERROR\r\nREQ y PLAY 9-10 CLIP1\r\n\
         402  ERROR\r\n\
         400 ERROR\r\n\r\n\
         RES a 202 PLAY OK\r\n",
    )
    .await;
    sim.shutdown().await;
}

/// The first command is executing (held by its processing delay); 129 more wait in its queue; the
/// next one is refused at once with `504 QUEUE OVERFLOW`, because the server refuses only when
/// *more than* 128 are waiting (`executor_.size() > 128`; the executing one is not in the queue).
/// Other queues are not affected, and once the queue drains it accepts again.
#[tokio::test]
async fn queue_overflow_boundary() {
    let sim = start_v24().await;
    sim.faults()
        .set_command_delay_for("PLAY", Duration::from_secs(1));
    let mut c = AmcpClient::connect(sim.addr()).await;
    c.send("REQ first PLAY 1-10 CLIP1").await;
    // Single-threaded runtime: the queue worker was woken before the connection's writer, so by
    // the time PONG arrives `first` has left the queue and is executing.
    c.ping_barrier("first-executing").await;

    let waiting: Vec<String> = (1..=129)
        .map(|i| format!("REQ w{i} MIXER 1-10 OPACITY 0.5"))
        .collect();
    c.send_all(&waiting).await;
    // An overflow reply would be immediate, i.e. before this PONG.
    c.ping_barrier("129-waiting").await;
    c.exchange(
        "REQ over MIXER 1-10 OPACITY 0.5",
        "RES over 504 QUEUE OVERFLOW\r\n",
    )
    .await;
    // The general queue has its own limit.
    c.exchange(
        "REQ g VERSION",
        "RES g 201 VERSION OK\r\n2.4.3 fd9168c73 Stable\r\n",
    )
    .await;

    let mut expected = String::from("RES first 202 PLAY OK\r\n");
    for i in 1..=129 {
        expected.push_str(&format!("RES w{i} 202 MIXER OK\r\n"));
    }
    c.expect(&expected).await;
    c.exchange(
        "REQ again MIXER 1-10 OPACITY 1",
        "RES again 202 MIXER OK\r\n",
    )
    .await;
    sim.shutdown().await;
}

/// Steps a 25 fps channel frame by frame after `PLAY 1-10 SHORT` (2 s = 50 frames) and
/// `LOADBG 1-10 CLIP2 <transition> AUTO`, checking before every tick the reference's rule (§4.5):
/// the background is promoted on the tick where `nb_frames − frame_number − delta < 1`, with
/// `frame_number` the foreground's frame before that tick. Returns that tick (1 = the first tick
/// after the PLAY).
async fn auto_switch_tick(transition: &str, delta: i64) -> u32 {
    let sim = start_v24().await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    c.exchange("PLAY 1-10 SHORT", "202 PLAY OK\r\n").await;
    c.exchange(
        &format!("LOADBG 1-10 CLIP2 {transition} AUTO"),
        "202 LOADBG OK\r\n",
    )
    .await;
    let nb_frames = 50; // SHORT: 100 frames at 50 fps = 2 s = 50 frames of this channel
    for tick in 1..=120 {
        let before = c.info(1).await;
        let fg = &before.layers[&10].foreground;
        let time = fg.time.map_or(0.0, |t| t.0);
        let frame_number = (time * 25.0).round() as i64;
        let fires = nb_frames - frame_number - delta < 1;
        sim.step(1);
        let after = c.info(1).await;
        let layer = &after.layers[&10];
        let name = layer.foreground.file_name.as_deref();
        if fires {
            assert_eq!(name, Some("CLIP2"), "tick {tick}: AUTO should have fired");
            assert!(
                layer.background.is_empty(),
                "tick {tick}: background consumed"
            );
            assert_eq!(layer.foreground.frames_left, None);
            sim.shutdown().await;
            return tick;
        }
        assert_eq!(name, Some("SHORT"), "tick {tick}: AUTO fired early");
        let left = nb_frames - frame_number - delta;
        assert_eq!(
            layer.foreground.frames_left,
            Some(left as u64),
            "tick {tick}: frames_left publishes the value just tested"
        );
    }
    panic!("AUTO never fired");
}

#[tokio::test]
async fn auto_fires_on_the_predicted_frame() {
    // 50 frames are pulled on ticks 1..=50, tick 51 reaches the end and holds the last frame
    // (frame number 50), so on tick 52 50 − 50 − 0 < 1: the cut happens there.
    let cut = auto_switch_tick("", 0).await;
    assert_eq!(cut, 52);
    // A 10-frame mix starts 10 frames earlier so that it ends on the foreground's last frame.
    let mix = auto_switch_tick("MIX 10", 10).await;
    assert_eq!(mix, 42);
    assert_eq!(cut - mix, 10);
}

#[tokio::test]
async fn auto_never_fires_behind_a_looping_clip() {
    let sim = start_v24().await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    c.exchange("PLAY 1-10 SHORT LOOP", "202 PLAY OK\r\n").await;
    c.exchange("LOADBG 1-10 CLIP2 AUTO", "202 LOADBG OK\r\n")
        .await;
    sim.step(200); // four passes through the 50-frame clip
    let layer = c.info(1).await.layers[&10].clone();
    assert_eq!(layer.foreground.file_name.as_deref(), Some("SHORT"));
    assert_eq!(layer.background.file_name.as_deref(), Some("CLIP2"));
    assert_eq!(layer.background.producer, "transition");
    // Clearing LOOP makes the clip finite again: AUTO fires at the end of the current pass.
    c.exchange("CALL 1-10 LOOP 0", "201 CALL OK\r\n0\r\n").await;
    let mut fired_after = None;
    for tick in 1..=60 {
        sim.step(1);
        let fg = c.info(1).await.layers[&10].foreground.clone();
        if fg.file_name.as_deref() == Some("CLIP2") {
            fired_after = Some(tick);
            break;
        }
    }
    assert!(fired_after.is_some(), "AUTO fires once LOOP is off");
    sim.shutdown().await;
}

#[tokio::test]
async fn every_reply_to_a_req_line_carries_its_id() {
    // A sample of every reply path: queue success, queue failure, parser errors, scanner, 201 data.
    let sim = start_v24().await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    for (id, line, code) in [
        ("k1", "PLAY 1-10 CLIP1", 202),
        ("k2", "PLAY 1-10 NOPE", 404),
        ("k3", "MIXER 1-10 OPACITY x", 403),
        ("k4", "FOO", 400),
        ("k5", "CLS", 200),
        ("k6", "CINF NOPE", 501),
        ("k7", "CALL 1-10 SEEK 10", 201),
        ("k8", "LOG LEVEL nonsense", 403),
        ("k9", "OSC SUBSCRIBE 0", 403),
    ] {
        let r = c.request(id, line).await;
        assert_eq!(r.code, code, "{line}: {}", common::render_reply(&r));
    }
    // PING is not a REQ command.
    c.exchange("REQ p PING", "RES p 400 ERROR\r\nREQ p PING\r\n")
        .await;
    sim.shutdown().await;
}

/// Batches beyond Appendix A (docs/amcp-notes.md §4.9 and the 2.4 queue's `Execute`): parse errors are
/// answered at once, DISCARD and an empty COMMIT answer nothing, a failed command makes the
/// batch `PARTIAL`, and a one-command batch is executed as a plain command (no COMMIT reply).
#[tokio::test]
async fn batches_answer_like_the_2_4_queue() {
    let sim = start_v24().await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    // Parse errors inside a batch are immediate; a second BEGIN is one of them.
    c.send_all(&["BEGIN", "FOO", "BEGIN", "PLAY 1-10 CLIP1", "DISCARD"])
        .await;
    c.expect("400 ERROR\r\nFOO\r\n400 ERROR\r\nBEGIN\r\n").await;
    c.ping_barrier("discarded").await;
    assert!(
        c.info(1).await.layers.is_empty(),
        "DISCARD dropped the PLAY"
    );
    c.exchange("DISCARD", "400 ERROR\r\nDISCARD\r\n").await;

    c.send_all(&["REQ e BEGIN", "REQ e2 COMMIT"]).await;
    c.ping_barrier("empty-batch").await;

    c.send_all(&[
        "REQ b BEGIN",
        "REQ p1 PLAY 1-10 NOSUCH",
        "REQ p2 PLAY 1-10 CLIP1",
        "COMMIT",
    ])
    .await;
    let mut frames: Vec<String> = c.frames(3).await.iter().map(render).collect();
    assert_eq!(frames.pop().as_deref(), Some("RES b 202 COMMIT PARTIAL⏎"));
    frames.sort();
    assert_eq!(frames, ["RES p1 404 PLAY FAILED⏎", "RES p2 202 PLAY OK⏎"]);

    c.send_all(&["REQ one BEGIN", "REQ s STOP 1-10", "REQ c COMMIT"])
        .await;
    c.expect("RES s 202 STOP OK\r\n").await;
    // An empty COMMIT reply would have been queued right behind STOP's on the general queue.
    c.exchange(
        "REQ v VERSION",
        "RES v 201 VERSION OK\r\n2.4.3 fd9168c73 Stable\r\n",
    )
    .await;
    sim.shutdown().await;
}

/// 2.4 loses a failing CALL's exception on a helper thread: no reply at all (docs/amcp-notes.md §4.6);
/// 2.3 answers 403/501.
#[tokio::test]
async fn a_failing_call_is_silent_on_2_4_and_an_error_on_2_3() {
    for (dialect, wire) in [
        (Dialect::V24, None),
        (Dialect::V23, Some("RES c 403 CALL FAILED\r\n")),
    ] {
        let mut config = sim_config(dialect, &["640x360p2500"]);
        config.media = recorded_library();
        let sim = start(config).await;
        let mut c = AmcpClient::connect(sim.addr()).await;
        c.exchange("PLAY 1-10 CLIP1", "202 PLAY OK\r\n").await;
        c.send("REQ c CALL 1-10 LOOP true").await;
        if let Some(wire) = wire {
            c.expect(wire).await;
        }
        // Same channel queue, so this reply comes after CALL's, if there were one.
        let reply = c.request("n", "MIXER 1-10 OPACITY").await;
        assert_eq!(reply.code, 201);
        sim.shutdown().await;
    }
}
