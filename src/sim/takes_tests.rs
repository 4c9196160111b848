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
        runtime_wall: None,
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
            opacity: None,
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

/// `(layer, clip, how, frame)` of each record.
fn brief(records: &[TakeRecord]) -> Vec<(i32, &str, TakeHow, i64)> {
    records
        .iter()
        .map(|r| (r.layer, r.clip.as_str(), r.how, r.frame))
        .collect()
}

#[test]
fn graphics_going_on_and_off_are_recorded() {
    let (mut st, timing) = stepped();
    let c = |st: &mut SimState, line: &str| command(st, &timing, line, 0);
    // A still played, taken off by STOP; a still cued and promoted, taken off by CLEAR.
    assert_eq!(
        brief(&c(&mut st, "PLAY 1-30 LOGO")),
        [(30, "LOGO", TakeHow::Play, 1)]
    );
    st.tick_all();
    assert_eq!(
        brief(&c(&mut st, "STOP 1-30")),
        [(30, "LOGO", TakeHow::Stop, 2)]
    );
    // Nothing shown, nothing taken off.
    assert!(c(&mut st, "STOP 1-30").is_empty());
    assert!(c(&mut st, "LOADBG 1-30 logo").is_empty());
    assert_eq!(
        brief(&c(&mut st, "PLAY 1-30")),
        [(30, "logo", TakeHow::Promote, 2)]
    );
    assert_eq!(
        brief(&c(&mut st, "CLEAR 1-30")),
        [(30, "logo", TakeHow::Clear, 2)]
    );
    assert!(c(&mut st, "CLEAR 1-30").is_empty());
    // CLEAR n and CLEAR ALL: one record per layer that showed something.
    c(&mut st, "PLAY 1-10 CLIP1");
    c(&mut st, "PLAY 1-20 LOGO");
    c(&mut st, "LOADBG 1-40 CLIP2");
    let r = c(&mut st, "CLEAR 1");
    assert_eq!(
        brief(&r),
        [
            (10, "CLIP1", TakeHow::Clear, 2),
            (20, "LOGO", TakeHow::Clear, 2)
        ]
    );
    c(&mut st, "PLAY 1-10 CLIP1");
    assert_eq!(brief(&c(&mut st, "CLEAR ALL"))[0].2, TakeHow::Clear);
}

#[test]
fn template_calls_are_recorded_with_the_template() {
    let (mut st, timing) = stepped();
    let c = |st: &mut SimState, line: &str| command(st, &timing, line, 0);
    assert_eq!(
        brief(&c(&mut st, "CG 1-20 ADD 1 lower_third 0 <d/>")),
        [(20, "lower_third", TakeHow::CgAdd, 1)]
    );
    st.tick_all();
    let steps = [
        ("CG 1-20 PLAY 1", TakeHow::CgPlay),
        ("CG 1-20 UPDATE 1 <e/>", TakeHow::CgUpdate),
        ("CG 1-20 NEXT 1", TakeHow::CgNext),
        ("CG 1-20 STOP 1", TakeHow::CgStop),
        ("CG 1-20 REMOVE 1", TakeHow::CgRemove),
    ];
    for (line, how) in steps {
        assert_eq!(
            brief(&c(&mut st, line)),
            [(20, "lower_third", how, 2)],
            "{line}"
        );
    }
    // A closed page, an empty proxy, INVOKE and failures record nothing.
    for line in [
        "CG 1-20 PLAY 1",
        "CG 1-20 INVOKE 1 f",
        "CG 1-30 PLAY 1",
        "CG 1-30 STOP 1",
        "CG 1-30 ADD 1 NO_SUCH 1",
    ] {
        assert!(c(&mut st, line).is_empty(), "{line}");
    }
    assert_eq!(
        brief(&c(&mut st, "CG 1-20 ADD 5 CLOCK 1")),
        [(20, "CLOCK", TakeHow::CgPlay, 2)]
    );
    assert_eq!(
        brief(&c(&mut st, "CG 1-20 CLEAR")),
        [(20, "CLOCK", TakeHow::Clear, 2)]
    );
}

#[test]
fn opacity_changes_are_recorded_with_their_tween() {
    let (mut st, timing) = stepped();
    let c = |st: &mut SimState, line: &str| command(st, &timing, line, 0);
    c(&mut st, "PLAY 1-20 LOGO");
    let r = c(&mut st, "MIXER 1-20 OPACITY 0 25 easeinsine");
    assert_eq!(brief(&r), [(20, "LOGO", TakeHow::Opacity, 1)]);
    let fade = OpacityChange {
        opacity: 0.0,
        frames: 25,
    };
    assert_eq!(r[0].opacity, Some(fade));
    // A deferred change is recorded when it is committed.
    st.tick_all();
    assert!(c(&mut st, "MIXER 1-20 OPACITY 0.5 DEFER").is_empty());
    let r = c(&mut st, "MIXER 1 COMMIT");
    assert_eq!(brief(&r), [(20, "LOGO", TakeHow::Opacity, 2)]);
    assert_eq!(r[0].opacity.map(|o| (o.opacity, o.frames)), Some((0.5, 0)));
    // MIXER CLEAR resets an opacity that was not 1; a query or a failure records nothing.
    let r = c(&mut st, "MIXER 1-20 CLEAR");
    assert_eq!(r[0].opacity.map(|o| o.opacity), Some(1.0));
    assert!(c(&mut st, "MIXER 1-20 CLEAR").is_empty());
    assert!(c(&mut st, "MIXER 1-20 OPACITY").is_empty());
    assert!(c(&mut st, "MIXER 1-20 OPACITY x").is_empty());
    // On a layer that does not exist yet the record says so.
    assert_eq!(
        brief(&c(&mut st, "MIXER 1-90 OPACITY 0")),
        [(90, "empty", TakeHow::Opacity, 2)]
    );
}
