//! A day of schedule on a virtual clock (issue 16): the simulator and the engine run on a paused
//! runtime's clock, which stands still while either has work and jumps to the next timer when
//! both wait, over real TCP. Random follow, soft and hard starts across the night Europe/Berlin
//! springs forward, two channel day starts and a filler: every take is checked on the simulator's
//! frames, with the issue's own bounds (never early, at most one frame late, no frame without a
//! clip), which a sped-up clock cannot hold on a busy machine (tests/schedule_clock.rs).
//!
//! The rundowns mix clips of 2 s to 5 minutes, about 1,000 items a day (the figure).
//! `ONAIR_SCHEDULE_RUN_MINUTES` sets the length (default 1,560: 26 hours; 10,080 is a week),
//! `ONAIR_SCHEDULE_SEED` the random rundowns, `ONAIR_SCHEDULE_MIX=short` clips of 2 s to a
//! minute (about 4,000 items a day).

mod common;

use common::schedule_run::{Mix, Pace, across_dst_and_day_starts};

fn env_or(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(start_paused = true)]
async fn a_day_of_schedule_on_a_virtual_clock_is_frame_exact_and_never_goes_black() {
    let minutes = env_or("ONAIR_SCHEDULE_RUN_MINUTES", 26 * 60);
    let seed = u64::try_from(env_or("ONAIR_SCHEDULE_SEED", 16)).unwrap_or(16);
    let mix = match std::env::var("ONAIR_SCHEDULE_MIX").as_deref() {
        Ok("short") => Mix::Short,
        _ => Mix::Day,
    };
    across_dst_and_day_starts(Pace::Virtual, mix, minutes, seed).await;
}
