//! Building a [`SimMedia`] from a real folder: ids, kinds, sidecar durations and file times.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::media::{MediaEntry, MediaKind, SimMedia};

/// Why a media folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media folder {0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad duration sidecar {path}: {message}")]
    Sidecar { path: PathBuf, message: String },
}

/// Template files: never media. `TLS` lists those whose extension is exactly one of
/// [`TLS_EXTS`] (the scanner's case-sensitive pattern); `CG ADD` opens only `.html` (any case).
const TEMPLATE_EXTS: &[&str] = &["html", "htm", "ft", "wt", "ct"];
const TLS_EXTS: &[&str] = &["html", "ft", "wt", "ct"];
const STILL_EXTS: &[&str] = &["png", "jpg", "jpeg", "tga", "bmp", "gif", "tif", "tiff"];
const AUDIO_EXTS: &[&str] = &["wav", "mp3", "aac", "flac", "ogg", "m4a", "wma"];
const MOVIE_EXTS: &[&str] = &[
    "mp4", "mov", "mxf", "mkv", "avi", "webm", "ts", "m2t", "mpg", "mpeg", "dv", "flv", "m4v",
    "wmv", "h264", "dnxhd", "prores", "y4m",
];

/// Default duration of a movie without a sidecar: 10 s at 25 fps.
const DEFAULT_FRAMES: u64 = 250;
const DEFAULT_TIMEBASE: (u32, u32) = (1, 25);
/// Audio files count samples at 48 kHz, like the scanner's audio time base.
const AUDIO_RATE: u32 = 48_000;

impl SimMedia {
    /// Lists `dir` recursively like the media scanner.
    ///
    /// * Ids are the path relative to `dir` without extension, `/`-separated, upper-cased.
    /// * `.png .jpg .jpeg .tga .bmp .gif .tif .tiff` are STILL; `.wav .mp3 .aac .flac .ogg .m4a .wma`
    ///   AUDIO; common video containers (`.mp4 .mov .mxf .mkv …`) MOVIE; `.html .htm .ft .wt .ct`
    ///   are templates: `TLS` lists `.html .ft .wt .ct` (case-sensitive, as media-scanner 1.4),
    ///   `CG ADD` opens `.html` files only (any case, as the 2.3–2.5 server). Other files and
    ///   names starting with `.` are ignored.
    /// * Durations are not probed. A sidecar next to the file sets them:
    ///   `<file>.json` with `{"frames": 250, "fps": "25"}` or `{"seconds": 12.5, "fps": "29.97"}`
    ///   (`fps` may be a number, a decimal string, or `"30000/1001"`; default 25), or
    ///   `<file>.duration` holding seconds as text (at 25 fps). Without one a movie is 10 s at 25 fps.
    /// * `mtime` is the file's modification time in UTC (the real scanner uses local time).
    /// * `file/path` is the file's absolute path; INFO PATHS reports `dir` as the media path.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<SimMedia, MediaError> {
        let dir = dir.as_ref();
        let io = |source| MediaError::Io {
            path: dir.to_path_buf(),
            source,
        };
        if !dir.is_dir() {
            return Err(MediaError::NotADirectory(dir.to_path_buf()));
        }
        let root = dir.canonicalize().map_err(io)?;
        let mut lib = SimMedia::empty();
        lib.media_root = format!("{}/", slashes(&root).trim_end_matches('/'));
        // Templates are found in the same folder, so that is also the template path.
        lib.template_root = lib.media_root.clone();
        let mut files = Vec::new();
        walk(&root, &mut files)?;
        files.sort();
        for file in files {
            let Some(rel) = file.strip_prefix(&root).ok().map(slashes) else {
                continue;
            };
            let Some((stem, ext)) = rel
                .rsplit_once('.')
                .filter(|(s, e)| !s.is_empty() && !e.contains('/'))
            else {
                continue;
            };
            let exact_ext = ext;
            let ext = ext.to_ascii_lowercase();
            let id = stem.to_uppercase();
            let kind = if TEMPLATE_EXTS.contains(&ext.as_str()) {
                if TLS_EXTS.contains(&exact_ext) {
                    lib.templates.push(id.clone());
                }
                // With `A.ft` and `A.html`, `CG ADD A` opens the HTML one.
                let html = ext == "html";
                if html || !lib.template_files.contains_key(&id) {
                    lib.template_files.insert(id, slashes(&file));
                }
                continue;
            } else if STILL_EXTS.contains(&ext.as_str()) {
                MediaKind::Still
            } else if AUDIO_EXTS.contains(&ext.as_str()) {
                MediaKind::Audio
            } else if MOVIE_EXTS.contains(&ext.as_str()) {
                MediaKind::Movie
            } else {
                continue;
            };
            if lib.entries.iter().any(|e| e.id == id) {
                continue; // `A.mp4` and `A.mov`: the first (sorted) wins, as a clip lookup would.
            }
            let meta = fs::metadata(&file).map_err(|source| MediaError::Io {
                path: file.clone(),
                source,
            })?;
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            let (frames, timebase) = match (kind, sidecar(&file)?) {
                (MediaKind::Still, _) => (0, (0, 1)),
                (MediaKind::Movie, None) => (DEFAULT_FRAMES, DEFAULT_TIMEBASE),
                (MediaKind::Movie, Some(Length::Frames(frames, tb))) => (frames, tb),
                (MediaKind::Movie, Some(Length::Seconds(secs, (num, den)))) => (
                    (secs * f64::from(den) / f64::from(num)).round() as u64,
                    (num, den),
                ),
                (MediaKind::Audio, length) => {
                    let secs = match length {
                        None => DEFAULT_FRAMES as f64 / 25.0,
                        Some(Length::Seconds(secs, _)) => secs,
                        Some(Length::Frames(frames, (num, den))) => {
                            frames as f64 * f64::from(num) / f64::from(den)
                        }
                    };
                    (
                        (secs * f64::from(AUDIO_RATE)).round() as u64,
                        (1, AUDIO_RATE),
                    )
                }
            };
            lib.entries.push(MediaEntry {
                id,
                kind,
                size_bytes: meta.len(),
                mtime: utc_stamp(mtime, false),
                frames,
                timebase,
                path: slashes(&file),
                thumb_time: utc_stamp(mtime, true),
                thumb_size: 1024 + meta.len() % 8192,
            });
        }
        lib.sort();
        Ok(lib)
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), MediaError> {
    let io = |source| MediaError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let ty = entry.file_type().map_err(io)?;
        if ty.is_dir() {
            walk(&path, out)?;
        } else if ty.is_file() || path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

fn slashes(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// A sidecar's duration: frames at a time base, or seconds (with the time base to count frames at).
enum Length {
    Frames(u64, (u32, u32)),
    Seconds(f64, (u32, u32)),
}

/// Reads `<file>.json` or `<file>.duration`; `None` when neither exists.
fn sidecar(file: &Path) -> Result<Option<Length>, MediaError> {
    let with = |suffix: &str| {
        let mut s = file.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    let bad = |path: &Path, message: String| MediaError::Sidecar {
        path: path.to_path_buf(),
        message,
    };
    let json = with(".json");
    if json.is_file() {
        let text = fs::read_to_string(&json).map_err(|source| MediaError::Io {
            path: json.clone(),
            source,
        })?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(&json, e.to_string()))?;
        let tb = match v.get("fps") {
            None => Some(DEFAULT_TIMEBASE),
            Some(serde_json::Value::Number(n)) => n.as_f64().and_then(timebase_of),
            Some(serde_json::Value::String(s)) => parse_fps(s),
            Some(_) => None,
        }
        .ok_or_else(|| {
            bad(
                &json,
                "\"fps\" must be a positive number, \"29.97\" or \"30000/1001\"".into(),
            )
        })?;
        if let Some(f) = v.get("frames") {
            let frames = f
                .as_u64()
                .ok_or_else(|| bad(&json, "\"frames\" must be a non-negative integer".into()))?;
            return Ok(Some(Length::Frames(frames, tb)));
        }
        if let Some(s) = v.get("seconds") {
            let secs = s.as_f64().filter(|s| s.is_finite() && *s >= 0.0);
            let secs =
                secs.ok_or_else(|| bad(&json, "\"seconds\" must be a non-negative number".into()))?;
            return Ok(Some(Length::Seconds(secs, tb)));
        }
        return Err(bad(&json, "needs \"frames\" or \"seconds\"".into()));
    }
    let dur = with(".duration");
    if dur.is_file() {
        let text = fs::read_to_string(&dur).map_err(|source| MediaError::Io {
            path: dur.clone(),
            source,
        })?;
        let secs: f64 = text.trim().parse().map_err(|_| {
            bad(
                &dur,
                format!("{:?} is not a number of seconds", text.trim()),
            )
        })?;
        if !secs.is_finite() || secs < 0.0 {
            return Err(bad(&dur, "seconds must be non-negative".into()));
        }
        return Ok(Some(Length::Seconds(secs, DEFAULT_TIMEBASE)));
    }
    Ok(None)
}

/// `"25"`, `"29.97"`, `"30000/1001"` → the time base (inverse rate).
pub(crate) fn parse_fps(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    if let Some((n, d)) = s.split_once('/') {
        let (n, d): (u32, u32) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
        return (n > 0 && d > 0).then_some((d, n));
    }
    timebase_of(s.parse().ok()?)
}

fn timebase_of(fps: f64) -> Option<(u32, u32)> {
    if !fps.is_finite() || fps <= 0.0 || fps > 1000.0 {
        return None;
    }
    // NTSC-family rates are n*1000/1001.
    for base in [24_000u32, 30_000, 48_000, 60_000, 120_000] {
        if (fps - f64::from(base) / 1001.0).abs() < 0.005 {
            return Some((1001, base));
        }
    }
    if fps.fract() == 0.0 {
        return Some((1, fps as u32));
    }
    let den = (fps * 1000.0).round() as u32;
    let g = gcd(1000, den);
    Some((1000 / g, den / g))
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// Unix seconds → `YYYYMMDDHHmmss` (or `YYYYMMDDTHHmmss`) in UTC.
pub(crate) fn utc_stamp(unix: u64, with_t: bool) -> String {
    let secs = i64::try_from(unix).unwrap_or(i64::MAX);
    let ts = jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::MAX);
    let dt = jiff::tz::Offset::UTC.to_datetime(ts);
    let t = if with_t { "T" } else { "" };
    format!(
        "{:04}{:02}{:02}{t}{:02}{:02}{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}
