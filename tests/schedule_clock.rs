//! The schedule on an injected clock against the simulator over real TCP: a wall-clock step is
//! detected, alarmed and re-planned; and an hour of random follow, soft and hard starts across a
//! daylight-saving change, with a filler, runs sixty times faster than real time on a sped-up
//! simulator and engine clock, with no frame left uncovered and no fixed time started early
//! (`common::schedule_run`). Sixty times faster leaves a frame 0.67 ms of real time: what the
//! machine loses on a take (a timer's millisecond, a busy loop) is allowed for separately, and
//! reported (see `MACHINE_SLACK_MS`); `ONAIR_SCHEDULE_SPEED` runs it slower. The same run on a
//! virtual clock, frame-exact and a day long, is tests/schedule_virtual.rs.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::schedule::*;
use common::schedule_run::{Mix, Pace, SEC, across_dst_and_day_starts};
use onair::playout::timing::StartMode;
use onair::schedule::{Clock, ScaledClock, SystemClock};

#[tokio::test]
async fn a_wall_clock_step_is_alarmed_and_every_timeline_re_planned() {
    let now = SystemClock.wall();
    let clock = Arc::new(ScaledClock::new(now, now, 1));
    let sim = realtime_sim().await;
    let main = playlist(
        "main",
        "1-10",
        vec![item(
            "news",
            "CLIP2",
            StartMode::Hard,
            Some(at_in(Duration::from_secs(600))),
        )],
    );
    let r = rig_clocked(sim, vec![main], station(), BTreeMap::new(), clock.clone()).await;
    let before = wait_timeline(&r.engine, |t| {
        t.playlists
            .get("main")
            .is_some_and(|v| v.next_fixed.is_some())
    })
    .await;
    let countdown = |t: &onair::protocol::timeline::Timelines| {
        let n = t.playlists["main"].next_fixed.clone().expect("next fixed");
        n.start_ms - t.planned_ms
    };
    let ahead = countdown(&before);
    // NTP steps the clock five minutes forward.
    clock.step_wall(300 * SEC);
    let s = wait(&r.engine, |s| {
        s.alarms
            .iter()
            .any(|a| a.kind == "schedule" && a.message.contains("wall clock stepped"))
    })
    .await;
    let alarm = s
        .alarms
        .iter()
        .find(|a| a.message.contains("wall clock stepped"))
        .expect("alarm");
    assert!(alarm.message.contains("+300.0"), "{}", alarm.message);
    // Re-planned on the new time: the news is five minutes closer.
    let after = wait_timeline(&r.engine, |t| {
        t.playlists
            .get("main")
            .and_then(|v| v.next_fixed.as_ref())
            .is_some()
            && countdown(t) < ahead - 290_000
    })
    .await;
    assert!(
        countdown(&after) > ahead - 310_000,
        "{ahead} → {}",
        countdown(&after)
    );
}

/// How many times faster than real time the run goes: `ONAIR_SCHEDULE_SPEED`, default 60 (an hour
/// of schedule in a minute). A frame is 40 ms / speed of real time, so a slower run (10, 20) gives
/// the engine's timers and the machine more room per frame.
fn speed() -> u32 {
    std::env::var("ONAIR_SCHEDULE_SPEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&s| s >= 1)
        .unwrap_or(60)
}

/// The seed of the random rundowns: `ONAIR_SCHEDULE_SEED`, default 16 (another seed, another
/// schedule).
fn seed() -> u64 {
    std::env::var("ONAIR_SCHEDULE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

/// Minutes of schedule the run covers: `ONAIR_SCHEDULE_RUN_MINUTES`, default 65 (a DST change and
/// a day start, a minute of real time at 60×); 1500 covers a whole day and the next day start (25
/// minutes at 60×).
fn run_minutes() -> i64 {
    std::env::var("ONAIR_SCHEDULE_RUN_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(65)
}

#[tokio::test]
async fn a_schedule_across_a_daylight_saving_change_and_day_starts_never_goes_black_or_starts_early()
 {
    across_dst_and_day_starts(Pace::Speed(speed()), Mix::Short, run_minutes(), seed()).await;
}
