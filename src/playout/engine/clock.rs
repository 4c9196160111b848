//! The engine's clock for runs on the async runtime's time (`tokio::time::Instant`).
//!
//! Kept out of `schedule`, which is pure (no runtime): the planner only sees the `Clock` trait.

use crate::schedule::Clock;

/// The async runtime's clock (`tokio::time::Instant`) read as wall time from a chosen start.
///
/// In a normal runtime that is the machine's monotonic clock. Under a paused test runtime it is
/// virtual: it stands still while any task can run and jumps to the next timer when all wait, so
/// an engine on this clock and a simulator on `ClockMode::Virtual` anchored at the same instant
/// (`Sim::anchor`, docs/simulator.md) play hours of schedule as fast as they compute them, frame
/// for frame as real time would, however busy the machine is.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeClock {
    origin: tokio::time::Instant,
    wall_at_origin: i64,
}

impl RuntimeClock {
    /// Reads `wall_at_origin` (ns since the Unix epoch) at runtime instant `origin`.
    pub fn new(origin: tokio::time::Instant, wall_at_origin: i64) -> RuntimeClock {
        RuntimeClock {
            origin,
            wall_at_origin,
        }
    }
}

impl Clock for RuntimeClock {
    fn monotonic(&self) -> i64 {
        let now = tokio::time::Instant::now();
        i64::try_from(now.saturating_duration_since(self.origin).as_nanos()).unwrap_or(i64::MAX)
    }

    fn wall(&self) -> i64 {
        self.wall_at_origin.saturating_add(self.monotonic())
    }
}
