//! The 24/7 schedule's planning core (issue 16): pure functions and plain data, no I/O, no tasks.
//!
//! - [`time_of_day`]: the `HH:MM:SS[.mmm]` station-local times that hard and soft starts carry.
//! - [`zone`]: a station's time zone and day start: a local date and time to an instant under the
//!   documented daylight-saving rules, and which channel day (air date) an instant belongs to.
//! - [`frames`]: exact frame-rate arithmetic (25, 50, 30000/1001 …) against a frame-clock anchor.
//! - [`timeline`] and [`plan`]: the planned start and end of every item from what is on air now,
//!   the durations and the fixed times, with the gaps and the filler plays that fill them.
//! - [`clock`]: the monotonic clock anchored to the wall clock, with wall-clock step detection, and
//!   a manual clock so that tests run a day in milliseconds.
//!
//! Instants are `i64` nanoseconds since the Unix epoch (UTC), which covers 1678–2262; planned
//! positions are frame indices of the channel's frame clock. Nothing here rounds through floating
//! point, so a planned start can never drift early by a rounding error.

pub mod clock;
pub mod filler;
pub mod frames;
pub mod plan;
pub mod time_of_day;
pub mod timeline;
pub mod zone;

pub use clock::{
    AnchoredWall, Clock, ManualClock, ScaledClock, SystemClock, WallStep, unix_ms, unix_ms_now,
};
pub use frames::{FrameClock, FrameRate};
pub use plan::plan;
pub use time_of_day::TimeOfDay;
pub use timeline::{
    Cut, EndPolicy, Entry, Filler, FillerOrder, FillerPlay, Fixed, Gap, GapFill, Input, NextFixed,
    Plan, Planned, Position, Start, State,
};
pub use zone::{ScheduleError, Station, resolve_local};

/// Nanoseconds in a second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

#[cfg(test)]
mod day_tests;
#[cfg(test)]
mod timeline_tests;
