//! Typed parsers for AMCP reply bodies (VERSION, INFO list, INFO channel XML, CLS/CINF, TLS):
//! pure functions over the data lines a [`Reply`](super::codec::Reply) carries, never panicking.
//!
//! Body formats follow docs/amcp-notes.md §4.2-4.4 and the recordings in `tests/fixtures`.

mod cls;
mod info;
mod info_xml;
mod version;

pub use cls::{MediaEntry, MediaKind, parse_cls, parse_cls_line};
pub use info::{ChannelInfo, parse_info_line, parse_info_list};
pub use info_xml::{ChannelState, LayerState, ProducerState, TransitionState, parse_info_xml};
pub use version::{ServerVersion, parse_version};

/// How much of the offending input an error message quotes.
const EXCERPT: usize = 200;

/// A reply body that does not have the expected shape.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("cannot parse {what}: {reason} (input: {input:?})")]
pub struct BodyError {
    /// Which body was being parsed (`"VERSION"`, `"CLS line"`, ...).
    pub what: &'static str,
    /// Why it was refused.
    pub reason: String,
    /// The offending input, shortened to a readable excerpt.
    pub input: String,
}

impl BodyError {
    pub(crate) fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        let mut end = input.len().min(EXCERPT);
        while !input.is_char_boundary(end) {
            end -= 1;
        }
        let mut excerpt = input.get(..end).unwrap_or_default().to_owned();
        if end < input.len() {
            excerpt.push('…');
        }
        Self {
            what,
            reason: reason.into(),
            input: excerpt,
        }
    }
}

/// Template ids from a `200 TLS OK` body, one per line.
///
/// Media-scanner 1.x sends bare upper-cased ids (which may contain spaces); pre-2.2 servers sent
/// `"ID" size date`, from which the quoted id is taken. Blank lines and empty ids are skipped.
pub fn parse_tls(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() {
                return None;
            }
            if let Some(quoted) = line.strip_prefix('"')
                && let Some((id, _)) = quoted.split_once('"')
            {
                return (!id.is_empty()).then(|| id.to_owned());
            }
            Some(line.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_lines() {
        let lines: Vec<String> = [
            "TEST",
            "",
            "  FOLDER/MY TEMPLATE ",
            "\"OLD\" 1234 20170101",
            "\"\"$",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            parse_tls(&lines),
            ["TEST", "FOLDER/MY TEMPLATE", "OLD"].map(String::from)
        );
        assert!(parse_tls(&[]).is_empty());
    }

    #[test]
    fn error_excerpt_is_bounded() {
        let long = "é".repeat(500);
        let err = BodyError::new("X", &long, "bad");
        assert!(err.input.len() <= EXCERPT + '…'.len_utf8());
        assert!(err.to_string().contains("cannot parse X: bad"));
    }
}
