//! Media-scanner clip lines (`CLS` body lines and the single `CINF` line):
//! `"<ID>"  <TYPE>  <size> <mtime> <frames> <timebase>`.

use super::BodyError;

/// What the scanner classified a file as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    /// Has a real video stream.
    Movie,
    /// A picture (timebase `0/1`).
    Still,
    /// Audio only (timebase is the audio time base, frames are samples).
    Audio,
    /// Any other type word, kept verbatim.
    Other(String),
}

/// One clip from `CLS` or `CINF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaEntry {
    /// Clip id: path relative to the media folder, no extension, upper-cased by the scanner.
    pub name: String,
    /// File type.
    pub kind: MediaKind,
    /// File size in bytes.
    pub size: u64,
    /// Modification time `YYYYMMDDHHmmss` in the scanner host's local time, as given.
    pub modified: String,
    /// Frame count at the clip's rate (samples for audio, 0 for stills).
    pub frames: u64,
    /// Timebase `num/den`: the inverse of the frame rate for movies (`1/25`, `1001/30000`).
    pub timebase: (u32, u32),
}

impl MediaEntry {
    /// Exact frame rate `(fps_num, fps_den)` = `(den, num)` of the timebase, for movies only.
    pub fn fps_fraction(&self) -> Option<(u32, u32)> {
        let (num, den) = self.timebase;
        (self.kind == MediaKind::Movie && num > 0 && den > 0).then_some((den, num))
    }

    /// Frame rate in frames per second (`1/25` → 25.0, `1001/30000` → 29.97...), movies only.
    pub fn fps(&self) -> Option<f64> {
        self.fps_fraction()
            .map(|(num, den)| f64::from(num) / f64::from(den))
    }

    /// Duration in seconds (`frames * num / den`); `None` when the timebase has a zero (stills).
    pub fn duration_secs(&self) -> Option<f64> {
        let (num, den) = self.timebase;
        if num == 0 || den == 0 {
            return None;
        }
        // u64 → f64 loses precision only beyond 2^53 frames, far outside real media.
        #[allow(clippy::cast_precision_loss)]
        let frames = self.frames as f64;
        Some(frames * f64::from(num) / f64::from(den))
    }
}

/// Splits off the last whitespace-separated token; `None` if fewer than two parts remain.
fn pop_token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_end();
    let idx = s.rfind(char::is_whitespace)?;
    let (head, tail) = s.split_at(idx);
    // `rfind` returned the start of a whitespace char; skip that char.
    let token = tail.trim_start();
    Some((head, token))
}

fn number<T: std::str::FromStr>(line: &str, token: &str, what: &str) -> Result<T, BodyError> {
    token.parse().map_err(|_| {
        BodyError::new(
            "CLS line",
            line,
            format!("{what} {token:?} is not a number"),
        )
    })
}

/// Parses one scanner line. Fields are taken from the right, so the quoted name may contain
/// spaces and quotes; runs of spaces between fields are accepted.
pub fn parse_cls_line(line: &str) -> Result<MediaEntry, BodyError> {
    let err = |reason: &str| BodyError::new("CLS line", line, reason);
    let mut rest = line.trim();
    let mut fields = [""; 5];
    for slot in fields.iter_mut().rev() {
        let (head, token) = pop_token(rest).ok_or_else(|| err("expected 6 fields"))?;
        *slot = token;
        rest = head;
    }
    let [kind, size, modified, frames, timebase] = fields;
    let quoted = rest.trim();
    let name = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| err("clip name is not quoted"))?;
    if modified.is_empty() || !modified.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("modification time is not YYYYMMDDHHmmss"));
    }
    let (num, den) = timebase
        .split_once('/')
        .ok_or_else(|| err("timebase is not num/den"))?;
    let kind = match kind {
        k if k.eq_ignore_ascii_case("MOVIE") => MediaKind::Movie,
        k if k.eq_ignore_ascii_case("STILL") => MediaKind::Still,
        k if k.eq_ignore_ascii_case("AUDIO") => MediaKind::Audio,
        other => MediaKind::Other(other.to_owned()),
    };
    Ok(MediaEntry {
        name: name.to_owned(),
        kind,
        size: number(line, size, "size")?,
        modified: modified.to_owned(),
        frames: number(line, frames, "frame count")?,
        timebase: (
            number(line, num, "timebase numerator")?,
            number(line, den, "timebase denominator")?,
        ),
    })
}

/// Parses the data lines of `200 CLS OK`; the first bad line fails the whole body.
pub fn parse_cls(lines: &[String]) -> Result<Vec<MediaEntry>, BodyError> {
    lines.iter().map(|line| parse_cls_line(line)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_examples() {
        let amb = parse_cls_line(r#""AMB"  MOVIE  6445960 20170413100636 268 1/25"#).unwrap();
        assert_eq!(
            amb,
            MediaEntry {
                name: "AMB".into(),
                kind: MediaKind::Movie,
                size: 6_445_960,
                modified: "20170413100636".into(),
                frames: 268,
                timebase: (1, 25),
            }
        );
        assert_eq!(amb.fps(), Some(25.0));
        assert_eq!(amb.fps_fraction(), Some((25, 1)));
        assert!((amb.duration_secs().unwrap() - 10.72).abs() < 1e-9);

        let logo = parse_cls_line(r#""FOLDER/LOGO"  STILL  18432 20240101120000 0 0/1"#).unwrap();
        assert_eq!(logo.kind, MediaKind::Still);
        assert_eq!((logo.fps(), logo.duration_secs()), (None, None));
    }

    #[test]
    fn rates_and_kinds() {
        let ntsc = parse_cls_line(r#""N"  MOVIE  1 20240101120000 300 1001/30000"#).unwrap();
        assert_eq!(ntsc.fps_fraction(), Some((30000, 1001)));
        assert!((ntsc.fps().unwrap() - 29.970_029_97).abs() < 1e-6);
        assert!((ntsc.duration_secs().unwrap() - 10.01).abs() < 1e-9);

        let p50 = parse_cls_line(r#""CLIP1"  MOVIE  571414 20261123150227 500 1/50"#).unwrap();
        assert_eq!((p50.fps(), p50.duration_secs()), (Some(50.0), Some(10.0)));

        let audio = parse_cls_line(r#""SOUND"  AUDIO  9 20240101120000 96000 1/48000"#).unwrap();
        assert_eq!(audio.kind, MediaKind::Audio);
        assert_eq!((audio.fps(), audio.duration_secs()), (None, Some(2.0)));

        let other = parse_cls_line(r#""X" FOO 1 2 3 1/25"#).unwrap();
        assert_eq!(other.kind, MediaKind::Other("FOO".into()));
    }

    #[test]
    fn names_with_spaces_and_quotes_and_loose_spacing() {
        let e =
            parse_cls_line(r#""MY "BEST" CLIP 2"   MOVIE 1   20240101120000  3 1/25  "#).unwrap();
        assert_eq!(e.name, r#"MY "BEST" CLIP 2"#);
        assert_eq!(e.frames, 3);
        assert_eq!(parse_cls_line(r#""" STILL 1 2 0 0/1"#).unwrap().name, "");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "\"AMB\"",
            r#""AMB"  MOVIE  6445960 20170413100636 268"#,
            r#"AMB  MOVIE  6445960 20170413100636 268 1/25"#,
            r#""AMB  MOVIE  6445960 20170413100636 268 1/25"#,
            r#""AMB"  MOVIE  x 20170413100636 268 1/25"#,
            r#""AMB"  MOVIE  1 2017-04-13 268 1/25"#,
            r#""AMB"  MOVIE  1 20170413100636 268 25"#,
            r#""AMB"  MOVIE  1 20170413100636 268 1/x"#,
            r#""CLIP1" 20261123T150706 8673"#,
        ] {
            assert!(parse_cls_line(bad).is_err(), "{bad:?}");
        }
        let lines = vec!["\"A\" MOVIE 1 2 3 1/25".to_owned(), "junk".to_owned()];
        assert!(parse_cls(&lines).is_err());
    }
}
