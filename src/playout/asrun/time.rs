//! As-run time stamps: RFC 3339 UTC with milliseconds, and the UTC date that names a day's file.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::civil::civil_from_days;

/// Milliseconds since the Unix epoch (negative before it), saturating far outside real clocks.
fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        // Before 1970: round towards the past so the date is right.
        Err(e) => {
            let d = e.duration();
            let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
            i64::try_from(ms).map_or(i64::MIN, |m| -m)
        }
    }
}

fn split(t: SystemTime) -> ((i64, u32, u32), i64, i64) {
    let ms = unix_millis(t);
    let secs = ms.div_euclid(1000);
    (
        civil_from_days(secs.div_euclid(86_400)),
        secs.rem_euclid(86_400),
        ms.rem_euclid(1000),
    )
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the as-run time format.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let ((y, mo, d), sod, ms) = split(t);
    let (h, mi, s) = (sod / 3600, sod / 60 % 60, sod % 60);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// `YYYY-MM-DD` of `t` in UTC: the log file's name.
pub fn utc_date(t: SystemTime) -> String {
    let ((y, mo, d), _, _) = split(t);
    format!("{y:04}-{mo:02}-{d:02}")
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
