//! The media library: the clips CasparCG's media scanner lists (`CLS`), looked up case-insensitively,
//! with exact durations in channel frames, so items with a missing clip are flagged before air.
//!
//! A library is an immutable snapshot: [`refresh`] builds a new one (on connect, on request, when a
//! media folder changes) and the engine swaps it in; [`MediaLibrary::version`] tells snapshots apart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::amcp::Command;
use crate::amcp::body::{MediaEntry, parse_cls_line};
use crate::amcp::codec::Reply;
use crate::caspar::{CasparHandle, CommandError};

/// Source of [`MediaLibrary::version`]: process-wide, so a newer snapshot always has a larger one.
static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

/// Why the library could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// `501 CLS FAILED`: CasparCG could not reach its media scanner (down, or answering errors).
    #[error("the media scanner is unavailable (CasparCG answered 501 CLS FAILED)")]
    ScannerUnavailable,
    /// The command did not get a reply: not connected, timeout, connection lost, overload, or a
    /// server error other than 501.
    #[error("CLS failed: {0}")]
    Link(#[from] CommandError),
    /// A success code other than `200 CLS OK`.
    #[error("unexpected reply to CLS: {code} {status}")]
    UnexpectedReply { code: u16, status: String },
}

/// The key clips are looked up by: the scanner's ids are upper-cased paths with `/` separators
/// (JavaScript `toUpperCase`, so Unicode-aware).
fn lookup_key(name: &str) -> String {
    name.trim().replace('\\', "/").to_uppercase()
}

/// `frames` counted in `timebase` (seconds per frame, `num/den`) converted to frames at
/// `channel_fps` (`num/den` frames per second), rounded to nearest with halves away from zero like
/// ffmpeg's `av_rescale`. `None` if a rate has a zero or the result does not fit.
pub fn rescale_frames(frames: u64, timebase: (u32, u32), channel_fps: (u32, u32)) -> Option<u64> {
    let (tb_num, tb_den) = timebase;
    let (fps_num, fps_den) = channel_fps;
    if tb_num == 0 || tb_den == 0 || fps_num == 0 || fps_den == 0 {
        return None;
    }
    // frames × tb_num/tb_den seconds × fps_num/fps_den frames per second, exactly: at most
    // 64 + 32 + 32 bits, so u128 cannot overflow.
    let b = u128::from(tb_num) * u128::from(fps_num);
    let c = u128::from(tb_den) * u128::from(fps_den);
    let n = u128::from(frames).checked_mul(b)?.checked_add(c / 2)?;
    u64::try_from(n / c).ok()
}

/// The length of `entry` in frames of a channel running at `channel_fps`: a 500-frame 50 fps clip
/// is 250 frames on a 25 fps channel. `None` for stills (no intrinsic length). Audio files count
/// samples at their time base, which converts the same way.
pub fn channel_frames(entry: &MediaEntry, channel_fps: (u32, u32)) -> Option<u64> {
    rescale_frames(entry.frames, entry.timebase, channel_fps)
}

/// A snapshot of the media scanner's clip list.
#[derive(Debug, Clone)]
pub struct MediaLibrary {
    /// Sorted by name (the scanner's order).
    entries: Vec<MediaEntry>,
    /// [`lookup_key`] → index into `entries`; the first of duplicate ids wins.
    index: HashMap<String, usize>,
    /// CLS lines that could not be parsed (skipped so that one odd file does not hide the rest).
    rejected_lines: usize,
    updated_at: SystemTime,
    version: u64,
}

impl Default for MediaLibrary {
    fn default() -> Self {
        Self::from_entries(Vec::new())
    }
}

impl MediaLibrary {
    /// A library of `entries`, stamped now with a new version.
    pub fn from_entries(mut entries: Vec<MediaEntry>) -> Self {
        // Stable: among equal names the scanner's first stays first.
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let mut index = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            index.entry(lookup_key(&e.name)).or_insert(i);
        }
        MediaLibrary {
            entries,
            index,
            rejected_lines: 0,
            updated_at: SystemTime::now(),
            version: NEXT_VERSION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// A library from the data lines of `200 CLS OK`. Lines that do not parse are skipped, counted
    /// and logged; blank lines are ignored.
    pub fn from_cls_lines(lines: &[String]) -> Self {
        let mut rejected = 0;
        let mut entries = Vec::with_capacity(lines.len());
        for line in lines.iter().filter(|l| !l.trim().is_empty()) {
            match parse_cls_line(line) {
                Ok(e) => entries.push(e),
                Err(e) => {
                    rejected += 1;
                    tracing::warn!(error = %e, "media: skipping a CLS line");
                }
            }
        }
        let mut lib = Self::from_entries(entries);
        lib.rejected_lines = rejected;
        lib
    }

    /// A library from a `CLS` reply: `200` is the list, `501` the scanner being unavailable.
    pub fn from_cls_reply(reply: &Reply) -> Result<Self, MediaError> {
        match reply.code {
            200 => Ok(Self::from_cls_lines(reply.data_lines())),
            501 => Err(MediaError::ScannerUnavailable),
            code => Err(MediaError::UnexpectedReply {
                code,
                status: reply.status.clone(),
            }),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every clip, sorted by name.
    pub fn entries(&self) -> &[MediaEntry] {
        &self.entries
    }

    /// The clip CasparCG would play for `name` (case-insensitive, `\` or `/` separators).
    pub fn get(&self, name: &str) -> Option<&MediaEntry> {
        self.index
            .get(&lookup_key(name))
            .and_then(|i| self.entries.get(*i))
    }

    /// Whether `clip` is not in the library (an item with it would fail to play).
    pub fn missing(&self, clip: &str) -> bool {
        self.get(clip).is_none()
    }

    /// The length of `clip` in frames of a channel running at `channel_fps`; see [`channel_frames`].
    pub fn channel_frames(&self, clip: &str, channel_fps: (u32, u32)) -> Option<u64> {
        channel_frames(self.get(clip)?, channel_fps)
    }

    /// CLS lines skipped because they did not parse.
    pub fn rejected_lines(&self) -> usize {
        self.rejected_lines
    }

    /// When this snapshot was built.
    pub fn updated_at(&self) -> SystemTime {
        self.updated_at
    }

    /// Increases with every snapshot built in this process.
    pub fn version(&self) -> u64 {
        self.version
    }
}

/// Reads the library with `CLS` (a media-scanner command: the link gives it the long deadline).
pub async fn refresh(caspar: &CasparHandle) -> Result<MediaLibrary, MediaError> {
    match caspar.send(Command::Cls).await {
        Ok(reply) => MediaLibrary::from_cls_reply(&reply),
        Err(CommandError::Server { code: 501, .. }) => Err(MediaError::ScannerUnavailable),
        Err(e) => Err(MediaError::Link(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amcp::body::MediaKind;
    use crate::amcp::codec::{AmcpCodec, Frame};
    use bytes::BytesMut;
    use tokio_util::codec::Decoder;

    /// The reply to `send` in a recorded exchange file, decoded by the production codec.
    fn recorded_reply(json: &str, send: &str) -> Reply {
        let doc: serde_json::Value = serde_json::from_str(json).unwrap();
        let exchanges = doc["exchanges"].as_array().unwrap();
        let x = exchanges.iter().find(|x| x["send"] == send).unwrap();
        let mut buf = BytesMut::from(x["recv"].as_str().unwrap());
        match AmcpCodec::default().decode(&mut buf).unwrap() {
            Some(Frame::Reply(r)) => r,
            other => panic!("not a reply: {other:?}"),
        }
    }

    const SCANNER: &str = include_str!("../../tests/fixtures/casparcg-2.4.3/media-scanner.json");
    const NO_SCANNER: &str =
        include_str!("../../tests/fixtures/casparcg-2.4.3/no-media-scanner.json");

    #[test]
    fn recorded_cls() {
        let lib = MediaLibrary::from_cls_reply(&recorded_reply(SCANNER, "CLS\r\n")).unwrap();
        let names: Vec<&str> = lib.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["CLIP1", "CLIP2", "SHORT"]);
        assert_eq!((lib.len(), lib.rejected_lines()), (3, 0));
        let clip1 = lib.get("clip1").unwrap();
        assert_eq!(clip1.kind, MediaKind::Movie);
        assert_eq!((clip1.frames, clip1.fps_fraction()), (500, Some((50, 1))));
        assert_eq!(clip1.duration_secs(), Some(10.0));
        assert_eq!(lib.channel_frames("Clip1", (25, 1)), Some(250));
        assert_eq!(lib.channel_frames("SHORT", (50, 1)), Some(100));
        assert!(!lib.missing("short") && lib.missing("AMB"));
        assert!(lib.version() > 0);

        let down = recorded_reply(NO_SCANNER, "CLS\r\n");
        assert_eq!(
            MediaLibrary::from_cls_reply(&down).unwrap_err(),
            MediaError::ScannerUnavailable
        );
    }

    fn entry(name: &str, frames: u64, timebase: (u32, u32)) -> MediaEntry {
        let kind = if timebase.0 == 0 {
            MediaKind::Still
        } else {
            MediaKind::Movie
        };
        MediaEntry {
            name: name.into(),
            kind,
            size: 1,
            modified: "20240101120000".into(),
            frames,
            timebase,
        }
    }

    #[test]
    fn ntsc_rates_are_exact() {
        let ntsc = entry("N", 300, (1001, 30000)); // 10.01 s at 29.97
        assert_eq!(ntsc.fps_fraction(), Some((30000, 1001)));
        assert_eq!(channel_frames(&ntsc, (30000, 1001)), Some(300));
        assert_eq!(channel_frames(&ntsc, (60000, 1001)), Some(600));
        assert_eq!(channel_frames(&ntsc, (25, 1)), Some(250)); // 250.25
        assert_eq!(channel_frames(&ntsc, (50, 1)), Some(501)); // 500.5: half away from zero
        let amb = entry("AMB", 268, (1, 25)); // 10.72 s
        assert_eq!(channel_frames(&amb, (30000, 1001)), Some(321)); // 321.28
        assert_eq!(channel_frames(&amb, (50, 1)), Some(536));
        // 1 frame of 29.97 on a 25 fps channel is 0.83 frames → 1; 1 of 50 on 25 is 0.5 → 1.
        assert_eq!(rescale_frames(1, (1001, 30000), (25, 1)), Some(1));
        assert_eq!(rescale_frames(1, (1, 50), (25, 1)), Some(1));
        assert_eq!(rescale_frames(1, (1, 100), (25, 1)), Some(0));
    }

    #[test]
    fn edge_cases_never_panic() {
        assert_eq!(channel_frames(&entry("LOGO", 0, (0, 1)), (25, 1)), None);
        assert_eq!(rescale_frames(5, (1, 25), (0, 1)), None);
        assert_eq!(rescale_frames(5, (1, 25), (25, 0)), None);
        assert_eq!(rescale_frames(u64::MAX, (u32::MAX, 1), (u32::MAX, 1)), None);
        assert_eq!(
            rescale_frames(u64::MAX, (1, u32::MAX), (1, u32::MAX)),
            Some(1)
        );
        assert_eq!(rescale_frames(u64::MAX, (1, 1), (1, 1)), Some(u64::MAX));
        let audio = MediaEntry {
            kind: MediaKind::Audio,
            ..entry("SOUND", 96_000, (1, 48_000))
        };
        assert_eq!(channel_frames(&audio, (25, 1)), Some(50));
    }

    #[test]
    fn lookup_sorting_duplicates_and_bad_lines() {
        let lines: Vec<String> = [
            r#""ZED"  MOVIE  1 20240101120000 25 1/25"#,
            "garbage",
            "",
            r#""FOLDER/ÉTÉ"  MOVIE  1 20240101120000 50 1/25"#,
            r#""ALPHA"  MOVIE  1 20240101120000 10 1/25"#,
            r#""ALPHA"  MOVIE  1 20240101120000 99 1/25"#,
        ]
        .map(String::from)
        .to_vec();
        let lib = MediaLibrary::from_cls_lines(&lines);
        let names: Vec<&str> = lib.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["ALPHA", "ALPHA", "FOLDER/ÉTÉ", "ZED"]);
        assert_eq!(lib.rejected_lines(), 1);
        assert_eq!(lib.get("alpha").unwrap().frames, 10, "first duplicate wins");
        assert_eq!(lib.get("folder\\été").unwrap().frames, 50);
        assert_eq!(lib.get(" zed ").unwrap().frames, 25);
        assert!(lib.missing("folder/ete"));
        let newer = MediaLibrary::default();
        assert!(newer.version() > lib.version() && newer.is_empty());

        let reply = Reply {
            req_id: None,
            code: 202,
            status: "CLS OK".into(),
            body: crate::amcp::codec::Body::None,
        };
        assert!(matches!(
            MediaLibrary::from_cls_reply(&reply),
            Err(MediaError::UnexpectedReply { code: 202, .. })
        ));
    }

    /// Against the simulator's 20-clip virtual library over real TCP.
    #[tokio::test]
    async fn refresh_from_the_simulator() {
        use crate::sim::{Sim, SimConfig};
        use std::time::Duration;

        let cfg = SimConfig::for_tests();
        let expected = cfg.media.clone();
        let sim = Sim::start(cfg).await.unwrap();
        let link = crate::config::CasparConfig {
            address: sim.addr().to_string(),
            backoff_initial: Duration::from_millis(20),
            ..Default::default()
        };
        let (caspar, _task) = CasparHandle::spawn(link);
        assert_eq!(
            refresh(&caspar).await.unwrap_err(),
            MediaError::Link(CommandError::NotConnected)
        );
        tokio::time::timeout(Duration::from_secs(5), caspar.wait_connected())
            .await
            .unwrap();

        let lib = refresh(&caspar).await.unwrap();
        assert_eq!(lib.len(), 20);
        for want in &expected.entries {
            let got = lib.get(&want.id.to_lowercase()).unwrap();
            assert_eq!((got.frames, got.timebase), (want.frames, want.timebase));
            if want.timebase.0 == 0 {
                assert_eq!(got.duration_secs(), None);
                continue;
            }
            assert!((got.duration_secs().unwrap() - want.duration_secs()).abs() < 1e-9);
            for fps in [(25, 1), (50, 1), (30000, 1001)] {
                let ticks = u64::try_from(want.ticks_at(fps.0, fps.1)).unwrap();
                assert_eq!(
                    channel_frames(got, fps),
                    Some(ticks),
                    "{} at {fps:?}",
                    want.id
                );
            }
        }

        sim.with_state(|s| s.media.scanner_up = false);
        assert_eq!(
            refresh(&caspar).await.unwrap_err(),
            MediaError::ScannerUnavailable
        );
        caspar.shutdown();
    }
}
