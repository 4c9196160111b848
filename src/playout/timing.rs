//! When an item starts (`start`: follow, hard or soft, with its time of day `at`) and the air date
//! of a playlist: their validation, and how the engine turns them into the planner's input
//! ([`crate::schedule`]).
//!
//! `at` is a station-local time of day, `HH:MM:SS` or `HH:MM:SS.mmm`, and is required for hard and
//! soft starts and refused for follow. It is kept as the text the operator gave (like
//! `scheduled`), checked here on every edit and every load, so a file edited by hand is held to
//! the same rules as an op.

use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::{Item, PlaylistError};
use crate::schedule::{FrameRate, ScheduleError, Start, Station, TimeOfDay, zone};

/// How an item starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StartMode {
    /// When the previous item ends (the default, left out of files and events).
    #[default]
    Follow,
    /// At `at`, cutting whatever is on air.
    Hard,
    /// At `at`, or when the previous item ends if that is later.
    Soft,
}

impl StartMode {
    /// For `skip_serializing_if`: the default is left out, so files and events without fixed times
    /// read exactly as before.
    pub fn is_follow(&self) -> bool {
        *self == StartMode::Follow
    }

    pub fn keyword(self) -> &'static str {
        match self {
            StartMode::Follow => "follow",
            StartMode::Hard => "hard",
            StartMode::Soft => "soft",
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PlaylistError {
    PlaylistError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// `at` must be given exactly for hard and soft starts, and be a time of day.
pub fn validate_start(mode: StartMode, at: Option<&str>) -> Result<(), PlaylistError> {
    match (mode, at) {
        (StartMode::Follow, None) => Ok(()),
        (StartMode::Follow, Some(_)) => Err(invalid(
            "at",
            "only a hard or soft start has a time (set start to \"hard\" or \"soft\", or clear at)",
        )),
        (mode, None) => Err(invalid(
            "at",
            format!(
                "a {} start needs a time of day HH:MM:SS or HH:MM:SS.mmm",
                mode.keyword()
            ),
        )),
        (_, Some(at)) => TimeOfDay::parse(at).map(drop).map_err(|e| invalid("at", e)),
    }
}

/// An air date is a calendar date, `YYYY-MM-DD`.
pub fn validate_air_date(text: &str) -> Result<Date, PlaylistError> {
    let bad = || invalid("air_date", format!("{text:?} is not a date YYYY-MM-DD"));
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return Err(bad());
    }
    text.parse::<Date>().map_err(|_| bad())
}

/// Why an item's timing could not be placed on the time line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error(transparent)]
    Invalid(#[from] PlaylistError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// The planner's start of `item` in channel day `air_date` of `station`: its `at` resolved to an
/// instant (nanoseconds since the Unix epoch) by the station's daylight-saving rules.
pub fn planned_start(item: &Item, station: &Station, air_date: Date) -> Result<Start, TimingError> {
    // Re-planned every second for every item: the time is parsed once (validation would parse
    // it again).
    let tod = match (item.start, item.at.as_deref()) {
        (StartMode::Hard | StartMode::Soft, Some(at)) => {
            TimeOfDay::parse(at).map_err(|e| invalid("at", e))?
        }
        (mode, at) => {
            validate_start(mode, at)?;
            return Ok(Start::Follow);
        }
    };
    let instant = zone::to_nanos(station.resolve(air_date, tod)?)?;
    Ok(match item.start {
        StartMode::Hard => Start::Hard(instant),
        StartMode::Soft => Start::Soft(instant),
        StartMode::Follow => Start::Follow,
    })
}

/// Channel frames `item` plays at channel rate `channel`: the clip's length converted from its own
/// rate (rounded down), then cut to its in and out points (which are channel frames). `None` when
/// the length is unknown or the item loops (it plays until something cuts it).
pub fn channel_frames(item: &Item, channel: FrameRate) -> Option<u64> {
    if item.looping {
        return None;
    }
    let (frames, (num, den)) = (item.frames?, item.fps?);
    if num == 0 || den == 0 {
        return None;
    }
    let full = u128::from(frames) * u128::from(den) * u128::from(channel.num())
        / (u128::from(num) * u128::from(channel.den()));
    let full = u64::try_from(full).unwrap_or(u64::MAX);
    let end = item.out_point.map_or(full, |o| o.min(full));
    Some(end.saturating_sub(item.in_point.unwrap_or(0)))
}

/// Channel ticks `item` holds its layer before what follows it by `LOADBG … AUTO` starts (a
/// transition's frames earlier): its frames and one more, as CasparCG promotes a cut AUTO
/// background one tick after the clip's last frame (docs/amcp-notes.md §4.5: a 50-frame clip
/// holds 51 ticks). Planning a chain of follows with the bare lengths would put each start a frame
/// early per item before it: 700 items of a day, 28 s. `None` as for [`channel_frames`].
pub fn auto_frames(item: &Item, channel: FrameRate) -> Option<u64> {
    channel_frames(item, channel).map(|f| f.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, time};

    #[test]
    fn at_goes_with_hard_and_soft_only() {
        assert_eq!(validate_start(StartMode::Follow, None), Ok(()));
        assert_eq!(validate_start(StartMode::Hard, Some("18:00:00")), Ok(()));
        assert_eq!(
            validate_start(StartMode::Soft, Some("18:00:00.040")),
            Ok(())
        );
        let msg = |m, at| validate_start(m, at).expect_err("refused").to_string();
        assert_eq!(
            msg(StartMode::Hard, None),
            "at: a hard start needs a time of day HH:MM:SS or HH:MM:SS.mmm"
        );
        assert!(msg(StartMode::Follow, Some("18:00:00")).starts_with("at: only a hard or soft"));
        assert_eq!(
            msg(StartMode::Soft, Some("18:00")),
            "at: \"18:00\" is not a time of day HH:MM:SS or HH:MM:SS.mmm"
        );
    }

    #[test]
    fn air_dates_are_strict_calendar_dates() {
        assert_eq!(validate_air_date("2025-03-30"), Ok(date(2025, 3, 30)));
        for bad in [
            "2025-02-30",
            "2025-3-30",
            "20250330",
            "2025-03-30T00:00",
            "+02025-03-30",
            "",
        ] {
            let err = validate_air_date(bad).expect_err(bad).to_string();
            assert!(err.starts_with("air_date: "), "{err}");
        }
    }

    #[test]
    fn a_hard_item_resolves_in_the_station_zone() {
        let tz = jiff::tz::TimeZoneDatabase::bundled()
            .get("Europe/Berlin")
            .expect("zone");
        let station = Station::new(tz, time(6, 0, 0, 0));
        let mut item = Item::new("i1".into(), "NEWS");
        assert_eq!(
            planned_start(&item, &station, date(2025, 3, 29)),
            Ok(Start::Follow)
        );
        item.start = StartMode::Hard;
        item.at = Some("02:30:00".into());
        // Before day start: the night after, in the spring gap: 03:00 CEST.
        let want: jiff::Timestamp = "2025-03-30T01:00:00Z".parse().expect("instant");
        let want = zone::to_nanos(want).expect("in range");
        assert_eq!(
            planned_start(&item, &station, date(2025, 3, 29)),
            Ok(Start::Hard(want))
        );
        item.at = None;
        assert!(matches!(
            planned_start(&item, &station, date(2025, 3, 29)),
            Err(TimingError::Invalid(_))
        ));
    }

    #[test]
    fn channel_frames_convert_rates_and_apply_in_and_out() {
        let mut item = Item::new("i1".into(), "CLIP");
        assert_eq!(channel_frames(&item, FrameRate::FPS_50), None);
        item.frames = Some(250);
        item.fps = Some((25, 1));
        assert_eq!(channel_frames(&item, FrameRate::FPS_50), Some(500));
        assert_eq!(channel_frames(&item, FrameRate::FPS_25), Some(250));
        item.in_point = Some(100);
        item.out_point = Some(200);
        assert_eq!(channel_frames(&item, FrameRate::FPS_25), Some(100));
        item.out_point = Some(10_000);
        assert_eq!(channel_frames(&item, FrameRate::FPS_25), Some(150));
        item.fps = Some((30000, 1001));
        item.in_point = None;
        item.out_point = None;
        // 250 frames at 29.97 are 8.34 s: 417 frames at 50 (rounded down).
        assert_eq!(channel_frames(&item, FrameRate::FPS_50), Some(417));
        item.looping = true;
        assert_eq!(channel_frames(&item, FrameRate::FPS_50), None);
    }
}
