//! A station-local time of day, `HH:MM:SS` or `HH:MM:SS.mmm`, as hard and soft starts carry it.
//!
//! The form is strict (two digits each, exactly three for milliseconds) because the text is also
//! what operators read in files and on screen: `6:00` or `18:00:00,5` would be accepted by some
//! parsers and mean different things to different people.

use std::fmt;

use jiff::civil::Time;

/// A time of day with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(Time);

impl TimeOfDay {
    /// Midnight.
    pub const MIDNIGHT: TimeOfDay = TimeOfDay(Time::midnight());

    /// Parses `HH:MM:SS` or `HH:MM:SS.mmm` (24-hour clock). The error says what was expected.
    pub fn parse(text: &str) -> Result<TimeOfDay, String> {
        let bad = || format!("{text:?} is not a time of day HH:MM:SS or HH:MM:SS.mmm");
        let (hms, millis) = match text.split_once('.') {
            Some((hms, ms)) if ms.len() == 3 => (hms, number(ms).ok_or_else(bad)?),
            Some(_) => return Err(bad()),
            None => (text, 0),
        };
        let mut parts = hms.split(':');
        let mut field = || parts.next().filter(|p| p.len() == 2).and_then(number);
        let (h, m, s) = (
            field().ok_or_else(bad)?,
            field().ok_or_else(bad)?,
            field().ok_or_else(bad)?,
        );
        if parts.next().is_some() || h > 23 || m > 59 || s > 59 {
            return Err(bad());
        }
        Self::from_parts(h, m, s, millis).ok_or_else(bad)
    }

    /// From hours, minutes, seconds and milliseconds; `None` when out of range.
    pub fn from_parts(h: u32, m: u32, s: u32, ms: u32) -> Option<TimeOfDay> {
        let narrow = |v: u32| i8::try_from(v).ok();
        let nanos = i32::try_from(ms).ok()?.checked_mul(1_000_000)?;
        Time::new(narrow(h)?, narrow(m)?, narrow(s)?, nanos)
            .ok()
            .map(TimeOfDay)
    }

    /// The civil time.
    pub fn time(self) -> Time {
        self.0
    }
}

/// Digits only (no sign, no spaces), as a number.
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl From<Time> for TimeOfDay {
    /// Keeps milliseconds; finer digits are dropped (the form has none).
    fn from(t: Time) -> TimeOfDay {
        let ms = t.subsec_nanosecond() / 1_000_000;
        TimeOfDay(
            t.with()
                .subsec_nanosecond(ms * 1_000_000)
                .build()
                .unwrap_or(t),
        )
    }
}

impl fmt::Display for TimeOfDay {
    /// `HH:MM:SS`, with `.mmm` only when there are milliseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(f, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())?;
        let ms = t.subsec_nanosecond() / 1_000_000;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_two_forms_and_prints_them_back() {
        for text in [
            "00:00:00",
            "06:00:00",
            "23:59:59",
            "18:00:00.040",
            "12:34:56.999",
        ] {
            let t = TimeOfDay::parse(text).expect(text);
            assert_eq!(t.to_string(), text);
        }
        assert_eq!(
            TimeOfDay::parse("18:00:00.000").map(|t| t.to_string()),
            Ok("18:00:00".into())
        );
        let t = TimeOfDay::parse("07:08:09.010").expect("valid");
        assert_eq!(
            (t.time().hour(), t.time().minute(), t.time().second()),
            (7, 8, 9)
        );
        assert_eq!(t.time().subsec_nanosecond(), 10_000_000);
    }

    #[test]
    fn refuses_everything_else_with_a_message() {
        for text in [
            "",
            "6:00:00",
            "06:00",
            "24:00:00",
            "23:60:00",
            "23:59:60",
            "06:00:00.5",
            "06:00:00.1234",
            "06:00:00.",
            "+6:00:00",
            "06:00:00Z",
            "06-00-00",
            "06:00:00:00",
            " 06:00:00",
            "06:00:0a",
            "٠٦:٠٠:٠٠",
        ] {
            let err = TimeOfDay::parse(text).expect_err(text);
            assert!(err.contains("is not a time of day HH:MM:SS"), "{err}");
        }
    }

    #[test]
    fn orders_like_the_clock() {
        let p = |s| TimeOfDay::parse(s).expect("valid");
        assert!(p("05:59:59.999") < p("06:00:00"));
        assert!(TimeOfDay::MIDNIGHT < p("00:00:00.001"));
    }
}
