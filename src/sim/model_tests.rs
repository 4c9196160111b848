//! Layer semantics and the frame clock: AUTO on the exact frame, STOP/CLEAR/LOAD/PAUSE, EOF and LOOP.

use super::*;
use crate::sim::exec::tests::{run, sim};

/// A 50 fps channel, so the 100-frame 50 fps `SHORT` is exactly 100 ticks.
fn fifty() -> SimState {
    sim(Dialect::V24, "1080p5000")
}

fn fg_name(st: &SimState) -> String {
    match &st.layer(0, 10).unwrap().foreground {
        Producer::Clip(c) => c.name.clone(),
        other => other.name().to_string(),
    }
}

fn fg_time(st: &SimState) -> i64 {
    st.layer(0, 10).unwrap().foreground.frame_number()
}

/// Ticks until the foreground changes to `name`; returns the 1-based tick (counted from `from`).
fn ticks_until(st: &mut SimState, name: &str, max: u32) -> Option<u32> {
    (1..=max).find(|_| {
        st.tick_all();
        fg_name(st) == name
    })
}

#[test]
fn auto_fires_when_frames_left_drops_below_one() {
    let mut st = fifty();
    run(&mut st, "PLAY 1-10 SHORT");
    for _ in 0..10 {
        st.tick_all();
    }
    assert_eq!(fg_time(&st), 9);
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    assert_eq!(
        st.layer(0, 10).unwrap().frames_left,
        None,
        "published by the next tick"
    );
    st.tick_all();
    // 2.4 publishes the value tested before pulling the frame: 100 − 9.
    assert_eq!(st.layer(0, 10).unwrap().frames_left, Some(91));
    for _ in 12..=101 {
        st.tick_all();
    }
    // Tick 101 held the last frame (time = 100 = end) and saw 100 − 99 = 1 frame left.
    let layer = st.layer(0, 10).unwrap();
    assert_eq!(
        (fg_name(&st).as_str(), fg_time(&st), layer.frames_left),
        ("SHORT", 100, Some(1))
    );
    st.tick_all();
    // Tick 102: 100 − 100 = 0 < 1 → promoted through a one-tick cut, AUTO consumed.
    let layer = st.layer(0, 10).unwrap();
    assert_eq!(fg_name(&st), "CLIP2");
    assert!(layer.transition.is_some() && layer.background.is_none() && layer.auto_delta.is_none());
    assert_eq!(layer.frames_left, None);
    st.tick_all();
    assert!(st.layer(0, 10).unwrap().transition.is_none());
    assert_eq!(fg_time(&st), 1);
}

#[test]
fn a_transition_starts_its_length_earlier() {
    let mut cut = fifty();
    run(&mut cut, "PLAY 1-10 SHORT");
    run(&mut cut, "LOADBG 1-10 CLIP2 AUTO");
    let cut_tick = ticks_until(&mut cut, "CLIP2", 500).unwrap();
    assert_eq!(cut_tick, 102);

    let mut mix = fifty();
    run(&mut mix, "PLAY 1-10 SHORT");
    run(&mut mix, "LOADBG 1-10 CLIP2 MIX 10 AUTO");
    let mix_tick = ticks_until(&mut mix, "CLIP2", 500).unwrap();
    assert_eq!(cut_tick - mix_tick, 10);
    // The mix is shown for 10 ticks (frames 1..=10 of 10), then the clip itself.
    let frames: Vec<u32> = (0..11)
        .map(|_| {
            let f = mix
                .layer(0, 10)
                .unwrap()
                .transition
                .as_ref()
                .map_or(0, |t| t.frame());
            mix.tick_all();
            f
        })
        .collect();
    assert_eq!(frames, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0]);
}

#[test]
fn auto_never_fires_behind_a_looping_clip_until_loop_is_cleared() {
    let mut st = fifty();
    run(&mut st, "PLAY 1-10 SHORT LOOP");
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    assert_eq!(ticks_until(&mut st, "CLIP2", 450), None);
    assert_eq!(
        fg_time(&st),
        49,
        "wrapped around: tick 450 shows frame 449 % 100"
    );
    let left = st.layer(0, 10).unwrap().frames_left.unwrap();
    assert!(
        left > 4_000_000_000,
        "nb_frames is 2^32-1 while looping: {left}"
    );
    assert_eq!(run(&mut st, "CALL 1-10 LOOP 0"), "201 CALL OK\r\n0\r\n");
    assert!(ticks_until(&mut st, "CLIP2", 200).is_some());
}

#[test]
fn auto_plays_at_once_on_an_empty_foreground() {
    let mut st = fifty();
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    let layer = st.layer(0, 10).unwrap();
    assert_eq!(fg_name(&st), "CLIP2");
    assert!(layer.background.is_none() && layer.auto_delta.is_none() && !layer.paused);
    // Also after STOP.
    run(&mut st, "STOP 1-10");
    run(&mut st, "LOADBG 1-10 CLIP1 AUTO");
    assert_eq!(fg_name(&st), "CLIP1");
}

#[test]
fn play_without_clip_promotes_a_waiting_background_and_consumes_auto() {
    let mut st = fifty();
    run(&mut st, "PLAY 1-10 CLIP1");
    run(&mut st, "LOADBG 1-10 SHORT AUTO");
    st.tick_all();
    run(&mut st, "PLAY 1-10");
    assert_eq!(fg_name(&st), "SHORT");
    assert!(st.layer(0, 10).unwrap().auto_delta.is_none());
    // A later plain LOADBG waits forever: the AUTO flag was consumed.
    run(&mut st, "LOADBG 1-10 CLIP2");
    assert_eq!(ticks_until(&mut st, "CLIP2", 300), None);
    assert_eq!(fg_time(&st), 100, "SHORT holds its last frame");
    assert!(!st.layer(0, 10).unwrap().paused);
}

#[test]
fn stop_keeps_the_background_and_cancels_auto() {
    let mut st = fifty();
    run(&mut st, "PLAY 1-10 SHORT");
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    run(&mut st, "STOP 1-10");
    let layer = st.layer(0, 10).unwrap();
    assert!(
        layer.foreground.is_empty() && layer.background.is_some() && layer.auto_delta.is_none()
    );
    for _ in 0..300 {
        st.tick_all();
    }
    assert!(st.layer(0, 10).unwrap().foreground.is_empty());
    run(&mut st, "PLAY 1-10");
    assert_eq!(fg_name(&st), "CLIP2");
}

#[test]
fn clear_removes_layers_and_layers_appear_on_first_use() {
    let mut st = fifty();
    assert_eq!(run(&mut st, "PAUSE 1-30"), "202 PAUSE OK\r\n");
    assert_eq!(run(&mut st, "RESUME 1-31"), "202 RESUME OK\r\n");
    assert_eq!(run(&mut st, "STOP 1-32"), "202 STOP OK\r\n");
    assert_eq!(
        st.channels[0].layers.keys().copied().collect::<Vec<_>>(),
        vec![30, 31, 32]
    );
    assert!(st.layer(0, 30).unwrap().paused);
    assert_eq!(run(&mut st, "PLAY 1-33"), "202 PLAY OK\r\n");
    run(&mut st, "CLEAR 1-30");
    assert!(st.layer(0, 30).is_none() && st.layer(0, 31).is_some());
    run(&mut st, "CLEAR 1");
    assert!(st.channels[0].layers.is_empty());
    run(&mut st, "PLAY 1-10 NOSUCHFILE");
    assert!(st.layer(0, 10).is_none(), "a 404 does not touch the stage");
}

#[test]
fn end_of_file_holds_and_loop_wraps() {
    let mut st = fifty();
    run(&mut st, "PLAY 1-10 SHORT");
    for _ in 0..250 {
        st.tick_all();
    }
    let layer = st.layer(0, 10).unwrap();
    assert_eq!(
        (fg_time(&st), layer.paused, fg_name(&st).as_str()),
        (100, false, "SHORT")
    );
    let mut st = fifty();
    run(&mut st, "PLAY 1-10 SHORT LOOP");
    let times: Vec<i64> = (0..102)
        .map(|_| {
            st.tick_all();
            fg_time(&st)
        })
        .collect();
    assert_eq!((times[0], times[99], times[100], times[101]), (0, 99, 0, 1));
}

#[test]
fn pause_freezes_time_and_load_shows_the_first_frame_paused() {
    let mut st = fifty();
    run(&mut st, "PLAY 1-10 CLIP1");
    for _ in 0..10 {
        st.tick_all();
    }
    run(&mut st, "PAUSE 1-10");
    for _ in 0..10 {
        st.tick_all();
    }
    assert_eq!(fg_time(&st), 9);
    run(&mut st, "RESUME 1-10");
    st.tick_all();
    assert_eq!(fg_time(&st), 10);

    run(&mut st, "LOADBG 1-10 SHORT");
    run(&mut st, "LOAD 1-10 CLIP2 SEEK 25");
    let layer = st.layer(0, 10).unwrap();
    assert!(layer.paused && layer.background.is_none() && layer.transition.is_none());
    assert_eq!((fg_name(&st).as_str(), fg_time(&st)), ("CLIP2", 25));
    for _ in 0..5 {
        st.tick_all();
    }
    assert_eq!(fg_time(&st), 25);
    run(&mut st, "PLAY 1-10");
    st.tick_all();
    assert_eq!(fg_time(&st), 25, "the first played frame is the one shown");
    st.tick_all();
    assert_eq!(fg_time(&st), 26);
}

#[test]
fn load_without_clip_promotes_the_background_paused() {
    let mut st = fifty();
    run(&mut st, "PLAY 1-10 CLIP1");
    run(&mut st, "LOADBG 1-10 SHORT");
    assert_eq!(run(&mut st, "LOAD 1-10"), "202 LOAD OK\r\n");
    let layer = st.layer(0, 10).unwrap();
    assert!(layer.paused && layer.background.is_none());
    assert_eq!(fg_name(&st), "SHORT");
}

#[test]
fn seek_and_in_out_length() {
    let mut st = fifty();
    run(&mut st, "PLAY 1-10 CLIP1 SEEK 100");
    st.tick_all();
    assert_eq!(fg_time(&st), 100);
    assert_eq!(run(&mut st, "CALL 1-10 SEEK 400"), "201 CALL OK\r\n400\r\n");
    st.tick_all();
    assert_eq!(fg_time(&st), 400);
    // LENGTH ends the clip early: held at IN + LENGTH.
    run(&mut st, "PLAY 1-10 CLIP1 LENGTH 20");
    for _ in 0..40 {
        st.tick_all();
    }
    assert_eq!(fg_time(&st), 20);
    // As on the server, AUTO compares nb_frames (the length, 50) with the absolute frame number
    // (100 after IN 100): with an in-point and a length it fires at once.
    run(&mut st, "PLAY 1-10 CLIP1 IN 100 LENGTH 50");
    run(&mut st, "LOADBG 1-10 SHORT AUTO");
    st.tick_all();
    assert_eq!(fg_name(&st), "SHORT");
}

#[test]
fn v25_publishes_frames_left_after_the_frame() {
    let mut st = sim(Dialect::V25, "1080p5000");
    run(&mut st, "PLAY 1-10 SHORT");
    for _ in 0..10 {
        st.tick_all();
    }
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    st.tick_all();
    assert_eq!(
        (fg_time(&st), st.layer(0, 10).unwrap().frames_left),
        (10, Some(90))
    );
    assert_eq!(ticks_until(&mut st, "CLIP2", 200), Some(91));
}

#[test]
fn reset_and_bad_indexes() {
    let mut st = fifty();
    run(&mut st, "PLAY 1-10 CLIP1");
    run(&mut st, "MIXER 1-10 OPACITY 0.5");
    run(&mut st, "DATA STORE keep me");
    st.tick_channel(7);
    st.reset();
    assert!(st.channels[0].layers.is_empty() && st.channels[0].mixer.is_empty());
    assert_eq!(st.data.len(), 1);
    assert_eq!(st.tick_duration(0), std::time::Duration::from_millis(20));
    assert_eq!(
        sim(Dialect::V23, "1080i5000").tick_duration(0),
        std::time::Duration::from_millis(20)
    );
}
