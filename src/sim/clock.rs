//! The simulated frame clock: real time (optionally sped up) or stepped by tests, one tick per frame.
//!
//! In real time, channel ticks follow the ideal grid of [`SimFrameClock`]: tick `k` is due at
//! `anchor + k × period` exactly (not a rounded period added up), so the model, OSC and the take
//! log agree with [`SimFrameClock::frame_at`] however long the simulator runs. A timer fires a
//! little late (tokio's timer has a 1 ms granularity), so before a command executes, the channels
//! are brought up to the frame its execution instant falls in ([`catch_up_all`]): the command then
//! always lands on the next frame, as on a genlocked server, instead of sometimes one frame early.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::frame_clock::SimFrameClock;
use super::model::SimState;
use super::server::Shared;

/// The most frames a command catches up before executing. More means the wall clock jumped (or
/// the machine stalled for seconds); the clock task bursts through those rather than a command
/// holding the state lock for that long.
const MAX_COMMAND_CATCH_UP: i64 = 1000;

/// How the simulator's channels advance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ClockMode {
    /// One tick per frame of each channel's video format, in real time.
    #[default]
    Realtime,
    /// Real time multiplied by this factor (e.g. 10.0 plays a 10 s clip in 1 s). The frame clock
    /// runs that much faster (`Sim::frame_clock` reports the accelerated rate).
    Speed(f64),
    /// No ticks unless a test calls [`super::Sim::step`]: frame-exact and independent of the machine.
    Stepped,
    /// Real time on the runtime's clock (`tokio::time::Instant`) with the frame grid starting at
    /// Unix time `start_unix_ns`. Under a paused test runtime that clock is virtual: it jumps to
    /// the next timer whenever every task waits, so a day of frames plays as fast as the machine
    /// computes it, on exactly the frames real time would give (see `Sim::anchor` to put an
    /// engine on the same clock).
    Virtual { start_unix_ns: i64 },
}

/// Frames a virtual clock produces per wake-up: what a reader sees is caught up to the frame of
/// its instant before each command anyway ([`catch_up_all`]), so waking every frame would only
/// cost timer round trips (2.2 million a day at 25 fps).
pub(crate) const VIRTUAL_BATCH: i64 = 25;

/// Advances one channel by one frame, stamps the AUTO takes of that frame and publishes its OSC
/// state. `frame` is the frame this tick produces when the caller knows it (the realtime task).
pub(crate) fn tick(shared: &Shared, channel: usize, frame: Option<i64>) {
    tick_locked(shared, &mut shared.state(), channel, frame);
}

fn tick_locked(shared: &Shared, state: &mut SimState, channel: usize, frame: Option<i64>) {
    state.tick_channel(channel);
    shared.stamp_takes(state, Some((channel, frame)));
    shared
        .osc
        .send_tick(state, &shared.osc_subscribers.snapshot(), channel);
}

/// Produces channel `ch`'s grid frames up to and including `frame` that no one produced yet.
/// `state` is the locked model: the cursor of produced frames is only touched under that lock.
fn produce_through(shared: &Shared, state: &mut SimState, ch: usize, frame: i64) {
    let Some(cursor) = shared.produced.get(ch) else {
        return;
    };
    let mut done = cursor.load(Ordering::Relaxed);
    while done < frame {
        done += 1;
        tick_locked(shared, state, ch, Some(done));
    }
    cursor.store(done, Ordering::Relaxed);
}

/// With a running clock, brings every channel up to the frame that contains this instant, so that
/// a command executed now changes the model after that frame and before the next one. Does nothing
/// with a stepped clock.
pub(crate) fn catch_up_all(shared: &Shared, state: &mut SimState) {
    if !shared.timing.wall {
        return;
    }
    let now = shared.timing.now_unix_ns();
    for (ch, clock) in shared.timing.clocks.iter().enumerate() {
        let target = clock.frame_at(now);
        let done = shared
            .produced
            .get(ch)
            .map_or(target, |c| c.load(Ordering::Relaxed));
        if target - done <= MAX_COMMAND_CATCH_UP {
            produce_through(shared, state, ch, target);
        }
    }
}

/// Ticks one channel on its frame grid until shutdown: the `k`-th tick produces frame `k` and is
/// due at `start_of(k)`, mapped onto the monotonic clock through `anchor` (the instant captured
/// together with `clock.anchor_unix_ns`). A late tick is caught up at once (burst), so that a
/// clip's duration on the simulated clock does not drift when the machine is briefly busy; a
/// frame a command already produced ([`catch_up_all`]) is not produced again. With `batch` > 1
/// the task wakes every `batch` frames and produces the frames since (each still stamped with its
/// own frame number).
pub(crate) async fn run_channel(
    shared: Arc<Shared>,
    channel: usize,
    clock: SimFrameClock,
    anchor: Instant,
    batch: i64,
    shutdown: CancellationToken,
) {
    for k in (1i64..).map(|n| n * batch.max(1)) {
        let offset = clock.start_of(k).saturating_sub(clock.anchor_unix_ns);
        let due = anchor + Duration::from_nanos(u64::try_from(offset).unwrap_or(0));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep_until(due) => {
                produce_through(&shared, &mut shared.state(), channel, k);
            }
        }
    }
}
