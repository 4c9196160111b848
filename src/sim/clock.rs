//! The simulated frame clock: real time (optionally sped up) or stepped by tests, one tick per frame.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::server::Shared;

/// How the simulator's channels advance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ClockMode {
    /// One tick per frame of each channel's video format, in real time.
    #[default]
    Realtime,
    /// Real time multiplied by this factor (e.g. 10.0 plays a 10 s clip in 1 s).
    Speed(f64),
    /// No ticks unless a test calls [`super::Sim::step`]: frame-exact and independent of the machine.
    Stepped,
}

/// Advances one channel by one frame and publishes its OSC state.
pub(crate) fn tick(shared: &Shared, channel: usize) {
    let mut state = shared.state();
    state.tick_channel(channel);
    shared
        .osc
        .send_tick(&state, &shared.osc_subscribers.snapshot(), channel);
}

/// Ticks one channel at its frame rate until shutdown. Missed ticks are caught up (burst) so that a
/// clip's duration on the simulated clock does not drift when the machine is briefly busy.
pub(crate) async fn run_channel(
    shared: Arc<Shared>,
    channel: usize,
    period: Duration,
    shutdown: CancellationToken,
) {
    let mut interval = tokio::time::interval(period.max(Duration::from_micros(100)));
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    interval.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => tick(&shared, channel),
        }
    }
}
