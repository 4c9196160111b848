//! Human-readable durations (`500ms`, `1s`, `2m`, `1m30s`, `1.5s`): parser, printer and serde form.
//!
//! Used by the configuration (every `*_timeout`/`*_interval` key) and usable as a clap `value_parser`
//! (e.g. `onair health --timeout 5s`). The printer picks the largest unit that divides the value
//! exactly, so `parse(&format(d)) == Ok(d)` for every `Duration` that fits in `u64` nanoseconds.

use std::time::Duration;

use thiserror::Error;

/// A duration text that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid duration {input:?} (expected e.g. 500ms, 1s, 2m)")]
pub struct InvalidDuration {
    /// The rejected text, as given.
    pub input: String,
}

const NANOS_PER: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("min", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses one or more `<number><unit>` terms (units `ns`, `us`/`µs`, `ms`, `s`, `m`/`min`, `h`;
/// the number may have a decimal fraction), optionally separated by spaces: `1m30s`, `1.5s`, `0s`.
/// A bare number without a unit is rejected: `5` could mean seconds or milliseconds.
pub fn parse(input: &str) -> Result<Duration, InvalidDuration> {
    parse_nanos(input)
        .and_then(|n| u64::try_from(n).ok())
        .map(Duration::from_nanos)
        .ok_or_else(|| InvalidDuration {
            input: input.to_owned(),
        })
}

fn parse_nanos(input: &str) -> Option<u128> {
    let mut rest = input.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = NANOS_PER.iter().find(|(name, _)| *name == unit)?.1;
        total = total.checked_add(term_nanos(number, scale)?)?;
        rest = after.trim_start();
    }
    Some(total)
}

/// `number` is `digits` or `digits.digits`; the fraction is exact up to nanoseconds.
fn term_nanos(number: &str, scale: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || (number.contains('.') && fraction.is_empty()) {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Anything longer cannot fit in u64 nanoseconds anyway; this also keeps u128 from overflowing.
    if whole.len() > 20 || fraction.len() > 20 {
        return None;
    }
    let whole: u128 = whole.parse().ok()?;
    let mut nanos = whole.checked_mul(scale)?;
    let mut place = scale;
    for digit in fraction.bytes() {
        place /= 10;
        nanos = nanos.checked_add(u128::from(digit - b'0') * place)?;
    }
    // A fraction finer than a nanosecond (e.g. `0.5ns`) is not representable: reject, don't round.
    let exact = fraction.bytes().rev().skip_while(|b| *b == b'0').count();
    (exact == 0 || scale / 10u128.pow(u32::try_from(exact).ok()?) > 0).then_some(nanos)
}

/// Prints `d` with the largest unit that divides it exactly: `2s`, `100ms`, `2m`, `1500ms`, `0s`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let units = [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ];
    for (name, scale) in units {
        if nanos.is_multiple_of(scale) {
            return format!("{}{name}", nanos / scale);
        }
    }
    format!("{nanos}ns")
}

/// `#[serde(with = "duration::serde")]`: a [`Duration`] as its human-readable text.
pub mod serde {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    /// Writes the duration as text, e.g. `"1s"`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*d))
    }

    /// Reads a duration text, e.g. `"500ms"`; numbers without a unit are rejected.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_str(DurationVisitor)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration text such as \"500ms\", \"1s\" or \"2m\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            super::parse(v).map_err(E::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_forms() {
        let ms = Duration::from_millis;
        let cases = [
            ("500ms", ms(500)),
            ("1s", ms(1000)),
            ("2m", ms(120_000)),
            ("2min", ms(120_000)),
            ("1h", ms(3_600_000)),
            ("1m30s", ms(90_000)),
            ("1m 30s", ms(90_000)),
            ("1.5s", ms(1500)),
            ("0.25ms", Duration::from_micros(250)),
            ("250us", Duration::from_micros(250)),
            ("250µs", Duration::from_micros(250)),
            ("7ns", Duration::from_nanos(7)),
            ("0s", Duration::ZERO),
            (" 1s ", ms(1000)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in [
            "",
            " ",
            "1",
            "1x",
            "s",
            "1 s",
            "-1s",
            "1.s",
            ".5s",
            "1..5s",
            "1s2",
            "0.5ns",
            "1e3ms",
            "1S",
            "99999999999999999999999h",
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid duration {text:?} (expected e.g. 500ms, 1s, 2m)")
            );
        }
    }

    #[test]
    fn formats_with_the_largest_exact_unit() {
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_millis(100)), "100ms");
        assert_eq!(format(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format(Duration::from_secs(2)), "2s");
        assert_eq!(format(Duration::from_secs(90)), "90s");
        assert_eq!(format(Duration::from_secs(120)), "2m");
        assert_eq!(format(Duration::from_secs(7200)), "2h");
        assert_eq!(format(Duration::from_nanos(1001)), "1001ns");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(nanos in any::<u64>()) {
            let d = Duration::from_nanos(nanos);
            prop_assert_eq!(parse(&format(d)), Ok(d));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,24}") {
            let _ = parse(&text);
        }
    }
}
