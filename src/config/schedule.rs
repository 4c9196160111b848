//! The `[playout]` keys of the 24/7 schedule: the station's time zone, the channel day's start and
//! the preroll, with their text forms and checks (docs/configuration.md).

use std::time::Duration;

use jiff::civil::Time;
use jiff::tz::TimeZone;

use super::PlayoutConfig;
use super::duration::format as fmt_duration;

/// A frame at the slowest channel rate CasparCG offers (23.976 fps is 41.7 ms): a shorter preroll
/// could not load anything before its frame on some channel.
pub(super) const MIN_PREROLL: Duration = Duration::from_millis(42);
/// A longer preroll holds a decoder for a clip that will not play for minutes: surely a typo.
pub(super) const MAX_PREROLL: Duration = Duration::from_secs(60);
/// The missing next day is warned about at most a day ahead: further is always "missing".
pub(super) const MAX_NEXT_DAY_WARNING: Duration = Duration::from_secs(86_400);

impl PlayoutConfig {
    /// The station's time zone: `timezone` from the IANA database (the system's copy, else the one
    /// built in), or the system's zone when unset. `Err` says why, e.g. the system's zone could
    /// not be determined (the caller decides whether UTC will do).
    pub fn time_zone(&self) -> Result<TimeZone, String> {
        match &self.timezone {
            Some(name) => TimeZone::get(name).map_err(|e| format!("time zone {name:?}: {e}")),
            None => TimeZone::try_system()
                .map_err(|e| format!("the system's time zone is not known: {e}")),
        }
    }
}

/// The problems of the schedule keys, as (key, message).
pub(super) fn problems(p: &PlayoutConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(name) = &p.timezone
        && TimeZone::get(name).is_err()
    {
        out.push((
            "playout.timezone",
            format!(
                "{name:?} is not a time zone of the IANA database; write a name such as \
                 Europe/Berlin, America/New_York or UTC (or leave it unset for the system's zone)"
            ),
        ));
    }
    if p.preroll < MIN_PREROLL || p.preroll > MAX_PREROLL {
        out.push((
            "playout.preroll",
            format!(
                "must be between {} (a frame at 23.976 fps) and {}, got {}",
                fmt_duration(MIN_PREROLL),
                fmt_duration(MAX_PREROLL),
                fmt_duration(p.preroll)
            ),
        ));
    }
    if p.next_day_warning > MAX_NEXT_DAY_WARNING {
        out.push((
            "playout.next_day_warning",
            format!(
                "must be at most {} (a day), got {}; 0s turns the warning off",
                fmt_duration(MAX_NEXT_DAY_WARNING),
                fmt_duration(p.next_day_warning)
            ),
        ));
    }
    out
}

/// `HH:MM` or `HH:MM:SS` (two digits each, 24-hour clock).
pub(super) fn parse_day_start(text: &str) -> Result<Time, String> {
    let bad = || format!("{text:?} is not a time of day: expected HH:MM or HH:MM:SS, e.g. 06:00");
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let num = |i: usize| {
        parts
            .get(i)
            .map_or(Ok(0), |p| p.parse::<i8>().map_err(|_| bad()))
    };
    Time::new(num(0)?, num(1)?, num(2)?, 0).map_err(|_| bad())
}

/// `HH:MM`, or `HH:MM:SS` when there are seconds.
pub fn format_day_start(t: Time) -> String {
    if t.second() == 0 {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
    }
}

/// `#[serde(with = "day_start")]`.
pub(super) mod day_start {
    use jiff::civil::Time;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Time, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_day_start(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_day_start(text.trim()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_start_forms() {
        assert_eq!(parse_day_start("06:00"), Ok(Time::constant(6, 0, 0, 0)));
        assert_eq!(
            parse_day_start("02:30:15"),
            Ok(Time::constant(2, 30, 15, 0))
        );
        for bad in [
            "6:00",
            "06",
            "24:00",
            "06:60",
            "06:00:60",
            "06:00:00.5",
            "06h00",
            "",
        ] {
            let err = parse_day_start(bad).expect_err(bad);
            assert!(err.contains("expected HH:MM or HH:MM:SS"), "{err}");
        }
        assert_eq!(format_day_start(Time::constant(6, 0, 0, 0)), "06:00");
        assert_eq!(format_day_start(Time::constant(6, 0, 5, 0)), "06:00:05");
    }

    #[test]
    fn the_time_zone_is_named_or_the_systems() {
        let mut p = PlayoutConfig {
            timezone: Some("America/New_York".into()),
            ..PlayoutConfig::default()
        };
        let tz = p.time_zone().expect("a zone of the database");
        assert_eq!(tz.iana_name(), Some("America/New_York"));
        p.timezone = Some("Mars/Olympus_Mons".into());
        assert!(p.time_zone().is_err());
        assert_eq!(problems(&p)[0].0, "playout.timezone");
    }
}
