//! The simulated media library (virtual or folder-backed) and the media-scanner reply bodies (CLS, CINF, TLS, THUMBNAIL).

use std::collections::BTreeMap;
use std::fmt;

pub use super::format::VideoFormat;
pub use super::media_dir::MediaError;

/// What the scanner classifies a file as (docs/amcp-notes.md §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Movie,
    Still,
    Audio,
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MediaKind::Movie => "MOVIE",
            MediaKind::Still => "STILL",
            MediaKind::Audio => "AUDIO",
        })
    }
}

/// One media file as the scanner describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaEntry {
    /// Upper-case id: path relative to the media folder without extension, `/` separators.
    pub id: String,
    pub kind: MediaKind,
    pub size_bytes: u64,
    /// Modification time, `YYYYMMDDHHmmss`.
    pub mtime: String,
    /// Frames at `timebase` (0 for stills, samples for audio).
    pub frames: u64,
    /// Inverse frame rate: `(1, 25)` for 25 fps, `(1001, 30000)` for 29.97, `(0, 1)` for stills.
    pub timebase: (u32, u32),
    /// Absolute path reported as `file/path` (e.g. `/opt/casparcg/media/CLIP1.mp4`).
    pub path: String,
    /// Thumbnail time stamp `YYYYMMDDTHHmmss` and size for `THUMBNAIL LIST` (audio has none).
    pub thumb_time: String,
    pub thumb_size: u64,
}

impl MediaEntry {
    /// The scanner's CLS/CINF line, CRLF included: two spaces on each side of the type.
    pub fn cls_line(&self) -> String {
        let (num, den) = self.timebase;
        format!(
            "\"{}\"  {}  {} {} {} {num}/{den}\r\n",
            self.id, self.kind, self.size_bytes, self.mtime, self.frames
        )
    }

    /// Duration in seconds (0 for stills).
    pub fn duration_secs(&self) -> f64 {
        let (num, den) = self.timebase;
        if num == 0 || den == 0 {
            0.0
        } else {
            self.frames as f64 * f64::from(num) / f64::from(den)
        }
    }

    /// Length in channel ticks at `tick_num/tick_den` per second, rounded to nearest like
    /// `av_rescale_q` (a 500-frame 50 fps clip is 250 ticks on a 25 fps channel).
    pub fn ticks_at(&self, tick_num: u32, tick_den: u32) -> i64 {
        let (num, den) = self.timebase;
        if num == 0 || den == 0 || tick_den == 0 {
            return 0;
        }
        // Sidecar frame counts are user input: overflow saturates instead of panicking.
        let b = u128::from(den) * u128::from(tick_den);
        u128::from(self.frames)
            .checked_mul(u128::from(num) * u128::from(tick_num))
            .and_then(|a| a.checked_mul(2))
            .and_then(|a2| a2.checked_add(b))
            .map_or(i64::MAX, |n| i64::try_from(n / (2 * b)).unwrap_or(i64::MAX))
    }

    /// The per-stream frame rates a movie reports (`file/streams/<k>/fps`): video then audio.
    pub fn streams(&self) -> Vec<(i32, i32)> {
        let (num, den) = self.timebase;
        let fps = (
            i32::try_from(den).unwrap_or(0),
            i32::try_from(num).unwrap_or(0),
        );
        match self.kind {
            MediaKind::Movie => vec![fps, (0, 0)],
            MediaKind::Audio => vec![(0, 0)],
            MediaKind::Still => vec![fps],
        }
    }
}

/// The library behind CLS/CINF/TLS and clip lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMedia {
    /// Sorted by id (the scanner lists in id order).
    pub entries: Vec<MediaEntry>,
    /// Template ids as `TLS` lists them, upper-case, `/` between folders (`TICKER/NEWS`).
    pub templates: Vec<String>,
    /// The file behind a template id where it is not `<template_root><ID>.html` (a folder
    /// library's real names, or a template that is not HTML): what `CG ADD` opens, see
    /// [`SimMedia::template_url`].
    pub template_files: BTreeMap<String, String>,
    /// When false the scanner is "down": CLS/CINF/TLS/FLS/THUMBNAIL answer `501 <CMD> FAILED`.
    pub scanner_up: bool,
    /// `media-path` of INFO PATHS, with a trailing `/`.
    pub media_root: String,
    /// `template-path` of INFO PATHS, with a trailing `/`.
    pub template_root: String,
}

/// Where the recordings' server kept its files.
pub const DEFAULT_ROOT: &str = "/opt/casparcg/";

/// A small PRNG (splitmix64) so that the virtual library is identical on every run and machine.
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next() % (hi - lo + 1)
        }
    }
}

/// The virtual library's HTML graphics beyond the recording's `TEST`: a lower third, a clock, a
/// station logo bug and a news ticker in a sub-folder (listed as the scanner lists those).
pub const DEMO_TEMPLATES: &[&str] = &["CLOCK", "LOGO_BUG", "LOWER_THIRD", "TICKER/NEWS"];

/// Readable stems for generated clips; the index decides the suffix (`NEWS_OPEN_01`, `ADS/SPOT_01`…).
const STEMS: &[&str] = &[
    "NEWS_OPEN",
    "WEATHER",
    "SPORTS_HL",
    "PROMO",
    "ADS/SPOT",
    "TRAILER",
    "BUMPER",
    "INTERVIEW",
    "DOCUMENTARY",
    "MUSIC_VIDEO",
];

/// Frame rates mixed into the generated clips, as time bases.
const TIMEBASES: &[(u32, u32)] = &[(1, 25), (1, 50), (1001, 30000)];

/// Seconds since midnight of 2026-11-23 at which the generated files were "written".
const GEN_BASE_SECS: u64 = 16 * 3600;

impl SimMedia {
    /// An empty library with the scanner up and the recordings' paths.
    pub fn empty() -> Self {
        SimMedia {
            entries: Vec::new(),
            templates: Vec::new(),
            template_files: BTreeMap::new(),
            scanner_up: true,
            media_root: format!("{DEFAULT_ROOT}media/"),
            template_root: format!("{DEFAULT_ROOT}templates/"),
        }
    }

    /// A deterministic library of `n` media files.
    ///
    /// The first three are the recordings' `CLIP1`, `CLIP2` (10 s at 50 fps) and `SHORT` (2 s at 50 fps)
    /// with the recorded sizes and times, so CLS matches the fixtures byte for byte; the fourth is a
    /// still, `LOGO`; the rest are movies named `NEWS_OPEN_01`, `WEATHER_01`, `ADS/SPOT_01`, … of 5–30 s
    /// at 25, 50 or 29.97 fps. The templates are the recording server's `TEST` and, from four files
    /// on (beyond the recording, like `LOGO`), the HTML graphics of [`DEMO_TEMPLATES`].
    pub fn virtual_library(n: usize) -> Self {
        let mut lib = SimMedia::empty();
        lib.templates = vec!["TEST".to_string()];
        if n > 3 {
            lib.templates
                .extend(DEMO_TEMPLATES.iter().map(|t| (*t).to_string()));
        }
        let recorded = [
            ("CLIP1", 571_414, "20261123150227", 500, 8673),
            ("CLIP2", 14_406_438, "20261123150307", 500, 11868),
            ("SHORT", 26_598, "20261123150315", 100, 1900),
        ];
        for (id, size, mtime, frames, thumb) in recorded.into_iter().take(n) {
            lib.entries.push(lib.entry(
                id,
                MediaKind::Movie,
                size,
                mtime.into(),
                (frames, (1, 50)),
                thumb,
            ));
        }
        let mut rng = SplitMix::new(0x0A1A_CA59_2026_1123);
        for i in 3..n {
            let stamp = civil_stamp(GEN_BASE_SECS + i as u64 * 97);
            if i == 3 {
                lib.entries.push(lib.entry(
                    "LOGO",
                    MediaKind::Still,
                    18_432,
                    stamp,
                    (0, (0, 1)),
                    2311,
                ));
                continue;
            }
            let k = i - 4;
            let id = format!("{}_{:02}", STEMS[k % STEMS.len()], k / STEMS.len() + 1);
            let tb = TIMEBASES[(rng.next() % TIMEBASES.len() as u64) as usize];
            // Frames within 5..=30 s at this rate: fps = den / num.
            let lo = (5 * u64::from(tb.1)).div_ceil(u64::from(tb.0));
            let hi = 30 * u64::from(tb.1) / u64::from(tb.0);
            let frames = rng.range(lo, hi);
            let secs = frames * u64::from(tb.0) / u64::from(tb.1);
            let size = secs * rng.range(500_000, 6_000_000) + rng.range(0, 65_535);
            let thumb = rng.range(1500, 14_000);
            lib.entries
                .push(lib.entry(&id, MediaKind::Movie, size, stamp, (frames, tb), thumb));
        }
        lib.sort();
        lib
    }

    fn entry(
        &self,
        id: &str,
        kind: MediaKind,
        size_bytes: u64,
        mtime: String,
        (frames, timebase): (u64, (u32, u32)),
        thumb_size: u64,
    ) -> MediaEntry {
        let ext = if kind == MediaKind::Still {
            "png"
        } else {
            "mp4"
        };
        MediaEntry {
            id: id.to_string(),
            kind,
            size_bytes,
            path: format!("{}{id}.{ext}", self.media_root),
            // The recording's thumbnails were all generated at one moment after the files.
            thumb_time: "20261123T150706".to_string(),
            thumb_size,
            mtime,
            frames,
            timebase,
        }
    }

    /// Sorts entries and templates by id, as the scanner lists them.
    pub fn sort(&mut self) {
        self.entries.sort_by(|a, b| a.id.cmp(&b.id));
        self.templates.sort();
        self.templates.dedup();
    }

    /// Case-insensitive lookup by id; `\` counts as `/`, and a trailing file extension is tolerated.
    pub fn find(&self, name: &str) -> Option<&MediaEntry> {
        let wanted = name.replace('\\', "/");
        let by_id = |w: &str| self.entries.iter().find(|e| e.id.eq_ignore_ascii_case(w));
        by_id(&wanted).or_else(|| {
            let (stem, ext) = wanted.rsplit_once('.')?;
            (!ext.contains('/')).then_some(())?;
            by_id(stem)
        })
    }

    /// The page `CG ADD <name>` opens, as the 2.3–2.5 html producer finds it: the file
    /// `<template-path><name>.html`, matched case-insensitively (`\` read as `/`), as a `file://`
    /// URL; an `http:`/`https:` name is opened as it is. `None` when there is no such page: the
    /// server's `404 CG ADD FAILED` (so `lower_third.html` is not found: the server adds `.html`).
    pub fn template_url(&self, name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("http:") || lower.starts_with("https:") {
            return Some(name.to_string());
        }
        let wanted = name.replace('\\', "/");
        let id = self
            .template_files
            .keys()
            .chain(&self.templates)
            .find(|id| id.eq_ignore_ascii_case(&wanted))?;
        let path = match self.template_files.get(id) {
            Some(path) => path.clone(),
            None => format!("{}{id}.html", self.template_root),
        };
        let html = path
            .rsplit_once('.')
            .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("html"));
        html.then(|| format!("file://{path}"))
    }

    /// `CLS` reply: `200 CLS OK`, one scanner line per file, empty line.
    pub fn cls_reply(&self) -> String {
        if !self.scanner_up {
            return "501 CLS FAILED\r\n".into();
        }
        let mut out = String::from("200 CLS OK\r\n");
        for e in &self.entries {
            out.push_str(&e.cls_line());
        }
        out.push_str("\r\n");
        out
    }

    /// `CINF <name>` reply: `201 CINF OK` + the line, or `501 CINF FAILED` (the scanner's 404).
    pub fn cinf_reply(&self, name: &str) -> String {
        match self.find(name) {
            Some(e) if self.scanner_up => format!("201 CINF OK\r\n{}", e.cls_line()),
            _ => "501 CINF FAILED\r\n".into(),
        }
    }

    /// `TLS` reply: one template id per line, no quotes.
    pub fn tls_reply(&self) -> String {
        if !self.scanner_up {
            return "501 TLS FAILED\r\n".into();
        }
        let mut out = String::from("200 TLS OK\r\n");
        for t in &self.templates {
            out.push_str(t);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out
    }

    /// `THUMBNAIL LIST` reply: `"<ID>" <YYYYMMDDTHHmmss> <size>` per movie and still.
    pub fn thumbnail_list_reply(&self) -> String {
        if !self.scanner_up {
            return "501 THUMBNAIL LIST FAILED\r\n".into();
        }
        let mut out = String::from("200 THUMBNAIL LIST OK\r\n");
        for e in self.entries.iter().filter(|e| e.kind != MediaKind::Audio) {
            out.push_str(&format!(
                "\"{}\" {} {}\r\n",
                e.id, e.thumb_time, e.thumb_size
            ));
        }
        out.push_str("\r\n");
        out
    }

    /// `THUMBNAIL RETRIEVE <name>` reply: a base64 PNG (the same tiny image for every file).
    pub fn thumbnail_retrieve_reply(&self, name: &str) -> String {
        match self.find(name) {
            Some(e) if self.scanner_up && e.kind != MediaKind::Audio => {
                format!("201 THUMBNAIL RETRIEVE OK\r\n{THUMBNAIL_PNG_BASE64}\r\n")
            }
            _ => "501 THUMBNAIL RETRIEVE FAILED\r\n".into(),
        }
    }
}

impl Default for SimMedia {
    fn default() -> Self {
        SimMedia::virtual_library(20)
    }
}

/// A valid 1x1 grey PNG, base64: what every simulated thumbnail looks like.
pub const THUMBNAIL_PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNoAAAAggCBd81ytgAAAABJRU5ErkJggg==";

/// `YYYYMMDDHHmmss` for 2026-11-23 plus `secs` (wrapping within the day keeps it valid for any n).
fn civil_stamp(secs: u64) -> String {
    let s = secs % 86_400;
    format!("20261123{:02}{:02}{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
#[path = "media_tests.rs"]
mod tests;
