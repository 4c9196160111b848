//! A station's time zone and channel day: station-local dates and times of day to instants.
//!
//! The daylight-saving rules are explicit because a playout schedule cannot ask anyone:
//!
//! - a local time inside a spring-forward **gap** does not exist; it resolves to the first instant
//!   after the gap, i.e. the transition itself (02:30 on a Berlin spring-forward night is 03:00
//!   CEST, not jiff's "compatible" 03:30, which would start the item half an hour late);
//! - a local time inside a fall-back **overlap** happens twice; it resolves to its first
//!   occurrence (the earlier instant), so nothing waits an extra hour.
//!
//! The **channel day** with air date D runs from `day_start` on calendar day D to `day_start` on
//! D + 1 (so it lasts 23 h or 25 h across a change). A time of day earlier than `day_start`
//! belongs to calendar day D + 1: with `day_start` 06:00, "02:00" in D's rundown is the night after.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use thiserror::Error;

use super::time_of_day::TimeOfDay;

/// Why a date or time could not be placed on the time line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// Beyond what the calendar or an `i64` of nanoseconds (1678–2262) can hold.
    #[error("{0} is outside the supported range of dates")]
    OutOfRange(String),
}

fn out_of_range(what: impl std::fmt::Display) -> ScheduleError {
    ScheduleError::OutOfRange(what.to_string())
}

/// The instant of local date-time `dt` in `tz` under the rules of this module: a time in a gap is
/// the instant the gap ends, an ambiguous time its first occurrence.
pub fn resolve_local(tz: &TimeZone, dt: DateTime) -> Result<Timestamp, ScheduleError> {
    let at = |offset: jiff::tz::Offset| offset.to_timestamp(dt).map_err(|_| out_of_range(dt));
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => at(offset),
        AmbiguousOffset::Fold { before, .. } => at(before),
        AmbiguousOffset::Gap { before, after } => {
            // With the offset after the gap, `dt` reads as an instant before the transition (the
            // gap's local times are all earlier than its end); the next transition from there is
            // the one that opened the gap.
            let before_transition = at(after)?;
            match tz.following(before_transition).next() {
                Some(transition) => Ok(transition.timestamp()),
                // Unreachable with a consistent database; the old offset still lands after the gap.
                None => at(before),
            }
        }
    }
}

/// Nanoseconds since the Unix epoch of `t`, if it fits an `i64` (1678–2262).
pub fn to_nanos(t: Timestamp) -> Result<i64, ScheduleError> {
    i64::try_from(t.as_nanosecond()).map_err(|_| out_of_range(t))
}

/// The instant `nanos` after the Unix epoch (every `i64` is a valid instant).
pub fn from_nanos(nanos: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(nanos)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A station: its IANA time zone and the local time its channel day starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Station {
    tz: TimeZone,
    day_start: Time,
}

impl Station {
    pub fn new(tz: TimeZone, day_start: Time) -> Station {
        Station { tz, day_start }
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    pub fn day_start(&self) -> Time {
        self.day_start
    }

    /// The instant channel day `air_date` starts (`day_start` on that date; in a gap, the gap's end).
    pub fn day_start_of(&self, air_date: Date) -> Result<Timestamp, ScheduleError> {
        resolve_local(&self.tz, air_date.to_datetime(self.day_start))
    }

    /// The air date of the channel day that `t` falls in.
    pub fn air_date_of(&self, t: Timestamp) -> Result<Date, ScheduleError> {
        let mut date = self.tz.to_datetime(t).date();
        // The local date is right or one too late (before today's start); a zone whose clocks
        // jump across midnight can need one more step, so check rather than assume.
        for _ in 0..3 {
            if t < self.day_start_of(date)? {
                date = date.yesterday().map_err(|_| out_of_range(t))?;
            } else if t >= self.day_start_of(next(date)?)? {
                date = next(date)?;
            } else {
                return Ok(date);
            }
        }
        Err(out_of_range(t))
    }

    /// The instant the channel day after the one `t` falls in starts (always after `t`).
    pub fn next_day_start(&self, t: Timestamp) -> Result<Timestamp, ScheduleError> {
        self.day_start_of(next(self.air_date_of(t)?)?)
    }

    /// How long channel day `air_date` lasts: 24 h, or 23 h / 25 h across a daylight-saving change.
    pub fn day_length(&self, air_date: Date) -> Result<SignedDuration, ScheduleError> {
        let start = self.day_start_of(air_date)?;
        Ok(self.day_start_of(next(air_date)?)?.duration_since(start))
    }

    /// The calendar date on which time of day `at` of channel day `air_date` falls: the same date,
    /// or the next one for a time earlier than `day_start`.
    pub fn calendar_date(&self, air_date: Date, at: TimeOfDay) -> Result<Date, ScheduleError> {
        if at.time() < self.day_start {
            next(air_date)
        } else {
            Ok(air_date)
        }
    }

    /// The instant of time of day `at` in channel day `air_date`.
    pub fn resolve(&self, air_date: Date, at: TimeOfDay) -> Result<Timestamp, ScheduleError> {
        let date = self.calendar_date(air_date, at)?;
        resolve_local(&self.tz, date.to_datetime(at.time()))
    }
}

fn next(date: Date) -> Result<Date, ScheduleError> {
    date.tomorrow().map_err(|_| out_of_range(date))
}

#[cfg(test)]
#[path = "zone_tests.rs"]
mod tests;
