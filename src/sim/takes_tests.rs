//! Stamping takes at known instants and tick counts: which commands and ticks are recorded, how,
//! and on which frame.

use super::*;
use crate::sim::Dialect;
use crate::sim::exec::tests::{run, sim};

/// 2026-01-01T00:00:00Z plus an odd offset.
const ANCHOR: i64 = 1_767_225_600_000_000_000 + 987_654_321;

/// A 2.4 `1080i5000` channel (25 ticks a second) and wall-clock timing anchored at [`ANCHOR`].
fn wall() -> (SimState, FrameTiming) {
    let timing = FrameTiming {
        anchor: Instant::now(),
        clocks: vec![SimFrameClock::new(ANCHOR, 25, 1)],
        wall: true,
    };
    (sim(Dialect::V24, "1080i5000"), timing)
}

fn stepped() -> (SimState, FrameTiming) {
    let (st, timing) = wall();
    let timing = FrameTiming {
        wall: false,
        ..timing
    };
    (st, timing)
}

/// Runs `line` and stamps what it changed as executed at `at`.
fn command(st: &mut SimState, timing: &FrameTiming, line: &str, at: i64) -> Vec<TakeRecord> {
    let reply = run(st, line);
    assert!(
        reply.starts_with('2') || reply.starts_with('4'),
        "{line}: {reply}"
    );
    let mut log = VecDeque::new();
    timing.stamp_commands(st, at, &mut log);
    assert!(st.pending_takes.is_empty());
    log.into()
}

fn one(records: &[TakeRecord]) -> &TakeRecord {
    assert_eq!(records.len(), 1, "{records:?}");
    &records[0]
}

#[test]
fn a_command_is_visible_on_the_first_frame_starting_after_it() {
    let (mut st, timing) = wall();
    let clock = timing.clocks[0];
    // One nanosecond before frame 100 starts: the command makes frame 100.
    let a = clock.start_of(100) - 1;
    let r = command(&mut st, &timing, "PLAY 1-10 CLIP1", a);
    assert_eq!(
        one(&r),
        &TakeRecord {
            channel: 0,
            layer: 10,
            clip: "CLIP1".into(),
            frame: 100,
            executed_unix_ns: a,
            how: TakeHow::Play,
        }
    );
    // Exactly at the start of frame 100: too late for it, so frame 101.
    let a = clock.start_of(100);
    let r = command(&mut st, &timing, "PLAY 1-10 CLIP2", a);
    assert_eq!(one(&r).frame, 101);
    assert_eq!(one(&r).frame, clock.frame_at(a) + 1);
}

#[test]
fn promote_load_and_immediate_auto_are_recorded_with_their_cause() {
    let (mut st, timing) = wall();
    let clock = timing.clocks[0];
    let a = clock.start_of(5000) + 12_345;
    // LOADBG alone changes nothing visible.
    assert!(command(&mut st, &timing, "LOADBG 1-10 CLIP2", a).is_empty());
    let r = command(&mut st, &timing, "PLAY 1-10", a);
    assert_eq!(
        (one(&r).clip.as_str(), one(&r).how, one(&r).frame),
        ("CLIP2", TakeHow::Promote, 5001)
    );
    // PLAY without a background only unpauses: no take.
    assert!(command(&mut st, &timing, "PLAY 1-10", a).is_empty());
    let r = command(&mut st, &timing, "LOAD 1-20 SHORT", a);
    assert_eq!((one(&r).layer, one(&r).how), (20, TakeHow::Load));
    // 2.4 LOAD without a clip promotes the background paused.
    command(&mut st, &timing, "LOADBG 1-20 CLIP1", a);
    let r = command(&mut st, &timing, "LOAD 1-20", a);
    assert_eq!(
        (one(&r).clip.as_str(), one(&r).how),
        ("CLIP1", TakeHow::Load)
    );
    // LOADBG … AUTO on an empty foreground plays at once, like a command.
    let r = command(&mut st, &timing, "LOADBG 1-30 SHORT AUTO", a);
    assert_eq!((one(&r).how, one(&r).frame), (TakeHow::Auto, 5001));
    // Failures change nothing.
    assert!(command(&mut st, &timing, "PLAY 1-10 NO_SUCH_CLIP", a).is_empty());
    // CLEAR_ON_404 blanks the layer: that is a take too.
    let r = command(&mut st, &timing, "PLAY 1-10 NO_SUCH_CLIP CLEAR_ON_404", a);
    assert_eq!(one(&r).clip, "#00000000");
}

#[test]
fn a_batch_lands_on_one_frame() {
    let (mut st, timing) = wall();
    let a = timing.clocks[0].start_of(77) + 1;
    run(&mut st, "PLAY 1-10 CLIP1");
    run(&mut st, "PLAY 1-20 CLIP2");
    let mut log = VecDeque::new();
    timing.stamp_commands(&mut st, a, &mut log);
    let frames: Vec<_> = log.iter().map(|r| (r.layer, r.frame)).collect();
    assert_eq!(frames, [(10, 78), (20, 78)]);
}

/// Ticks channel 0 once and stamps like the realtime clock task producing frame `frame`.
fn tick(st: &mut SimState, timing: &FrameTiming, frame: Option<i64>) -> Vec<TakeRecord> {
    st.tick_channel(0);
    let mut log = VecDeque::new();
    timing.stamp_tick(st, 0, frame, ANCHOR, &mut log);
    log.into()
}

#[test]
fn auto_is_recorded_on_the_frame_of_its_tick() {
    let (mut st, timing) = wall();
    command(&mut st, &timing, "PLAY 1-10 SHORT", ANCHOR);
    command(&mut st, &timing, "LOADBG 1-10 CLIP2 AUTO", ANCHOR);
    // The realtime task knows which frame its tick produces.
    let fired = (1..=100).find_map(|k| tick(&mut st, &timing, Some(k)).pop());
    let auto = fired.expect("AUTO never fired");
    assert_eq!((auto.clip.as_str(), auto.how), ("CLIP2", TakeHow::Auto));
    // SHORT is 50 ticks on this channel; AUTO switches on the 52nd (docs/simulator.md).
    assert_eq!(auto.frame, 52);
    assert!(st.pending_takes.is_empty());
}

#[test]
fn stepped_frames_count_ticks() {
    let (mut st, timing) = stepped();
    for _ in 0..7 {
        st.tick_channel(0);
    }
    // Wall time is irrelevant in stepped mode: a command after 7 ticks shows on frame 8.
    let r = command(
        &mut st,
        &timing,
        "PLAY 1-10 SHORT",
        ANCHOR + 123_456_789_000,
    );
    assert_eq!(one(&r).frame, 8);
    command(&mut st, &timing, "LOADBG 1-10 CLIP2 AUTO", 0);
    let auto = (0..100)
        .find_map(|_| tick(&mut st, &timing, None).pop())
        .unwrap();
    // The 52nd tick after the PLAY, which came after tick 7.
    assert_eq!(auto.frame, 7 + 52);
    assert_eq!(auto.frame, st.channels[0].ticks);
}

#[test]
fn a_restart_keeps_counting_frames() {
    let (mut st, timing) = stepped();
    st.tick_all();
    st.tick_all();
    st.reset();
    let r = command(&mut st, &timing, "PLAY 1-10 CLIP1", 0);
    assert_eq!(one(&r).frame, 3);
}

#[test]
fn the_rings_are_bounded() {
    let mut ring = VecDeque::new();
    for i in 0..TAKE_LOG_LEN + 5 {
        push(&mut ring, i);
    }
    assert_eq!(ring.len(), TAKE_LOG_LEN);
    assert_eq!(ring.front(), Some(&5));
    // Events nobody drains (a SimState used on its own) are bounded the same way.
    let (mut st, _) = stepped();
    for _ in 0..TAKE_LOG_LEN + 1 {
        run(&mut st, "PLAY 1-10 RED");
    }
    assert_eq!(st.pending_takes.len(), TAKE_LOG_LEN);
}
