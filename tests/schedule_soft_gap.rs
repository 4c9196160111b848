//! The gap before a soft-timed item, filled by the layer's filler, on an injected clock (issue 16:
//! the 25-hour run at 60× saw a filler clip's last frame held 2 frames, until a soft item that
//! came 2 frames late). Each case is one rundown on its own layer of one channel: an item A taken by
//! a hard start, then a soft item B a given number of frames after A's end, and a filler. The gaps
//! are shorter than a filler clip, longer, around exact multiples of it (where the last filler clip
//! ends on B's frame) and tiny (1–3 frames). Every case must show a clip on every frame (the filler,
//! trimmed by B, or a second filler clip) and start B on the frame containing its time: never
//! early, at most one frame late.
//!
//! The engine and the simulator run on the same frame grid (a [`ScaledClock`] anchored on the
//! simulator's clock), `speed()` times faster than real time: by default 1, the margins of real
//! playout (the engine takes a fixed-time item three quarters of a frame, 30 ms, before its
//! time). `ONAIR_SCHEDULE_SPEED` runs it faster: at 2 or 4 a quiet machine still passes (0
//! frames late), while a debug build beside a loaded build sees a soft item 3 frames (60 ms of
//! real time) late at 2; at 60, as fast as the long run in tests/schedule_clock.rs, a frame is
//! 0.67 ms of real time, less than the timer's millisecond: the soft items come 2 to 10 frames
//! late, and where the filler's last clip runs out on the soft item's frame its last frame holds
//! that long (issue 16).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::schedule::*;
use jiff::Timestamp;
use onair::config::PlayoutConfig;
use onair::playout::fill::FillerMode;
use onair::playout::model::Playlist;
use onair::playout::timing::StartMode;
use onair::schedule::{FrameClock, FrameRate, ScaledClock};
use onair::sim::{ClockMode, Sim, SimConfig, TakeHow, TakeRecord};

const SEC: i64 = 1_000_000_000;
/// A frame of the simulator's 1080i50 channel (25 frames a second).
const FRAME: i64 = SEC / 25;

/// How many times faster than real time the clocks run: `ONAIR_SCHEDULE_SPEED`, default 1.
fn speed() -> u32 {
    std::env::var("ONAIR_SCHEDULE_SPEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&s| s >= 1)
        .unwrap_or(1)
}

/// Channel frames of each clip of the simulator's library, and of two filler lengths added here.
fn frames_of(clip: &str) -> i64 {
    match clip {
        "SHORT" => 50,
        "CLIP1" | "CLIP2" => 250,
        "F3" => 75,
        "F7" => 175,
        other => panic!("unexpected clip {other}"),
    }
}

/// Frames from a clip's first frame to the first frame of what follows it by AUTO: CasparCG (and
/// the simulator) holds a clip's last frame one tick before the promotion (docs/amcp-notes.md).
fn run_frames(clip: &str) -> i64 {
    frames_of(clip) + 1
}

/// The simulator's test library with a 3 s and a 7 s clip (25 fps) for fillers of other lengths.
fn media() -> onair::sim::media::SimMedia {
    let frames = |id| u64::try_from(frames_of(id)).expect("frames");
    library_with(&[("F3", frames("F3")), ("F7", frames("F7"))])
}

/// One rundown: A (`a`) by a hard start, then the soft item B (CLIP2) `gap` frames after A's
/// planned end, with `filler` as the layer's filler.
struct Case {
    filler: &'static [&'static str],
    a: &'static str,
    gap: i64,
}

const fn case(filler: &'static [&'static str], a: &'static str, gap: i64) -> Case {
    Case { filler, a, gap }
}

/// The cases. The simulator adds a frame at every AUTO (see [`run_frames`]), so the filler's last
/// clip ends on B's frame when the gap is the fillers' frames plus one per clip and one for A; the
/// ranges around exact multiples cover that frame and the frames on either side.
fn cases() -> Vec<Case> {
    let mut all = vec![
        // The brief's case: 15 s before B, 10 s filler clips (one whole, one cut by B).
        case(&["CLIP1"], "SHORT", 375),
        // Shorter than a filler clip: B cuts it.
        case(&["CLIP1"], "SHORT", 125),
        case(&["F7"], "CLIP1", 100),
        // The long run's filler (a 2 s clip, then a 10 s one) and a 3 s one.
        case(&["SHORT", "CLIP1"], "SHORT", 200),
        case(&["F3"], "SHORT", 160),
        // No gap: B follows A.
        case(&["CLIP1"], "SHORT", 0),
    ];
    // Tiny gaps.
    all.extend((1..=3).map(|g| case(&["CLIP1"], "SHORT", g)));
    // Around two 10 s clips, one 2 s clip, a 2 s + 10 s pass and two 3 s clips.
    all.extend((498..=504).map(|g| case(&["CLIP1"], "SHORT", g)));
    all.extend((48..=53).map(|g| case(&["SHORT"], "CLIP1", g)));
    all.extend((299..=304).map(|g| case(&["SHORT", "CLIP1"], "SHORT", g)));
    all.extend((149..=154).map(|g| case(&["F3"], "SHORT", g)));
    all
}

fn local(ns: i64) -> String {
    Timestamp::from_nanosecond(i128::from(ns))
        .expect("instant")
        .strftime("%H:%M:%S%.3f")
        .to_string()
}

fn ns_of(text: &str) -> i64 {
    let t: Timestamp = text.parse().expect("instant");
    i64::try_from(t.as_nanosecond()).expect("ns")
}

// Two worker threads: the simulator's frame clock and the engine do not take turns on one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gap_before_a_soft_start_is_filled_whatever_its_length_and_the_soft_item_is_on_time() {
    let speed = speed();
    // Planning in UTC; no day starts during the run (day_start is hours away).
    let v0 = ns_of("2026-06-01T10:00:00Z");
    let config = PlayoutConfig {
        timezone: Some("UTC".into()),
        day_start: jiff::civil::Time::constant(22, 0, 0, 0),
        ..PlayoutConfig::default()
    };
    let cases = cases();
    let mut playlists = Vec::new();
    let mut soft_at = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let layer = format!("1-{}", 10 + k);
        // Every case starts 12 s in (the rig is up in well under a second of real time), spread
        // by 7 frames a case so the takes do not all leave in the same millisecond.
        let hard = v0 + 12 * SEC + i64::try_from(k).expect("k") * 7 * FRAME;
        let soft = hard + (frames_of(c.a) + c.gap) * FRAME;
        soft_at.push(soft);
        let main = playlist(
            &format!("m{k}"),
            &layer,
            vec![
                item("a", c.a, StartMode::Hard, Some(local(hard))),
                item("b", "CLIP2", StartMode::Soft, Some(local(soft))),
            ],
        );
        let mut fill: Playlist = playlist(
            &format!("f{k}"),
            &layer,
            c.filler
                .iter()
                .enumerate()
                .map(|(i, clip)| item(&format!("c{i}"), clip, StartMode::Follow, None))
                .collect(),
        );
        fill.filler = Some(FillerMode::InOrder);
        playlists.push(main);
        playlists.push(fill);
    }
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Speed(f64::from(speed));
    cfg.media = media();
    let sim = Sim::start(cfg).await.expect("sim");
    // Frame k of the simulator is frame k of the engine's clock after v0 (see ScaledClock).
    let clock = Arc::new(ScaledClock::new(
        sim.frame_clock(0).anchor_unix_ns,
        v0,
        speed,
    ));
    let r = rig_clocked(sim, playlists, config, BTreeMap::new(), clock).await;
    // Every B on air (its layer's take, as the simulator saw it).
    let deadline = Duration::from_secs(60 + 120 / u64::from(speed));
    let layers: Vec<i32> = (0..cases.len())
        .map(|k| 10 + i32::try_from(k).expect("k"))
        .collect();
    let all_b_on_air = || {
        let log = r.sim.take_log();
        layers
            .iter()
            .all(|&l| log.iter().any(|t| t.layer == l && t.clip == "CLIP2"))
    };
    let start = tokio::time::Instant::now();
    while !all_b_on_air() {
        assert!(start.elapsed() < deadline, "not every soft item started");
        // The take log has no change notification: poll it, with a deadline.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = r.sim.take_log();
    let frames = FrameClock::new(0, FrameRate::FPS_25);
    let v0_frame = frames.frame_at(v0);
    let mut failures = Vec::new();
    let mut late = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let layer = 10 + i32::try_from(k).expect("k");
        let takes: Vec<&TakeRecord> = log
            .iter()
            .filter(|t| t.channel == 0 && t.layer == layer && t.how.is_start())
            .collect();
        let Some(b) = takes.iter().position(|t| t.clip == "CLIP2") else {
            failures.push(format!("case {k}: B never started"));
            continue;
        };
        let takes = &takes[..=b];
        let shown: Vec<(String, i64, TakeHow)> = takes
            .iter()
            .map(|t| (t.clip.clone(), t.frame, t.how))
            .collect();
        let what = format!(
            "case {k} (filler {:?}, A {}, gap {} frames): {shown:?}",
            c.filler, c.a, c.gap
        );
        if takes[0].clip != c.a {
            failures.push(format!("{what}: A did not start first"));
            continue;
        }
        // No frame without a clip: each take comes no later than the one before it runs out.
        for w in takes.windows(2) {
            let held = w[1].frame - w[0].frame - run_frames(&w[0].clip);
            if held > 0 {
                failures.push(format!(
                    "{what}: {held} frame(s) without a clip after {} at {}",
                    w[0].clip, w[0].frame
                ));
            }
        }
        // B on the frame containing its time: never early, at most one frame late; or, when
        // what came before it ran past its time, as it ran out (a soft start never cuts).
        let due = frames.frame_at(soft_at[k]) - v0_frame;
        let b_late = takes[b].frame - due;
        late.push(b_late);
        let followed =
            b > 0 && takes[b].frame == takes[b - 1].frame + run_frames(&takes[b - 1].clip);
        if b_late < 0 || (b_late > 1 && !followed) {
            failures.push(format!(
                "{what}: B started {b_late} frames late (due {due})"
            ));
        }
    }
    late.sort_unstable();
    eprintln!(
        "{} cases at {speed}x: B frames late p50 {} max {}",
        cases.len(),
        late.get(late.len() / 2).copied().unwrap_or(0),
        late.last().copied().unwrap_or(0)
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
