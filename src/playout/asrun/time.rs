//! As-run time stamps: RFC 3339 UTC with milliseconds, and the UTC date that names a day's file.

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

/// `t` in UTC as civil date and time (before the fraction is cut to milliseconds, so an instant
/// before 1970 rounds towards the past and its date is right). Clocks beyond jiff's range
/// (years ±9999) saturate.
fn utc(t: SystemTime) -> DateTime {
    let ts = Timestamp::try_from(t).unwrap_or(if t > UNIX_EPOCH {
        Timestamp::MAX
    } else {
        Timestamp::MIN
    });
    Offset::UTC.to_datetime(ts)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the as-run time format.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let dt = utc(t);
    let ms = dt.subsec_nanosecond() / 1_000_000;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// `YYYY-MM-DD` of `t` in UTC: the log file's name.
pub fn utc_date(t: SystemTime) -> String {
    let dt = utc(t);
    format!("{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: i64) -> SystemTime {
        let d = Duration::from_millis(ms.unsigned_abs());
        if ms >= 0 {
            UNIX_EPOCH + d
        } else {
            UNIX_EPOCH - d
        }
    }

    #[test]
    fn time_format() {
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(at(1_795_446_147_123)),
            "2026-11-23T15:02:27.123Z"
        );
        assert_eq!(
            rfc3339_millis(at(951_782_400_000)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339_millis(at(1_709_251_199_999)),
            "2024-02-29T23:59:59.999Z"
        );
        assert_eq!(
            rfc3339_millis(at(4_107_542_400_000)),
            "2100-03-01T00:00:00.000Z"
        );
        assert_eq!(rfc3339_millis(at(-1)), "1969-12-31T23:59:59.999Z");
        assert_eq!(utc_date(at(1_795_478_399_999)), "2026-11-23");
        assert_eq!(utc_date(at(1_795_478_400_000)), "2026-11-24");
        let sub_ms = UNIX_EPOCH - Duration::from_micros(1);
        assert_eq!(rfc3339_millis(sub_ms), "1969-12-31T23:59:59.999Z");
    }
}
