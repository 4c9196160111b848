//! Video formats as CasparCG names them (`1080i5000`, `PAL`, …): size, frame rate and the rate it
//! reports. Protocol knowledge shared by the engine (frame rates from `INFO` and OSC) and the
//! simulator (its channel clocks).

use std::fmt;
use std::time::Duration;

/// One channel video mode.
///
/// `fps_num/fps_den` is the *frame* rate (25 for `1080i5000`); `report_num/report_den` is what the
/// server publishes as `framerate` over OSC and in `INFO n` (the field rate for interlaced modes:
/// `50 1` for `1080i5000`, as docs/amcp-notes.md §6.2 says and the recordings show for progressive modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VideoFormat {
    /// Canonical name as the server prints it in `INFO` and the `format` key.
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    /// Frames per second as an exact fraction (frames, not fields).
    pub fps_num: u32,
    pub fps_den: u32,
    pub interlaced: bool,
    /// The `framerate` pair the server reports.
    pub report_num: u32,
    pub report_den: u32,
}

const fn p(name: &'static str, width: u32, height: u32, fps_num: u32, fps_den: u32) -> VideoFormat {
    VideoFormat {
        name,
        width,
        height,
        fps_num,
        fps_den,
        interlaced: false,
        report_num: fps_num,
        report_den: fps_den,
    }
}

const fn i(name: &'static str, width: u32, height: u32, fps_num: u32, fps_den: u32) -> VideoFormat {
    // Interlaced modes report the field rate, i.e. twice the frame rate.
    VideoFormat {
        name,
        width,
        height,
        fps_num,
        fps_den,
        interlaced: true,
        report_num: fps_num * 2,
        report_den: fps_den,
    }
}

/// Every mode the simulator accepts (the 2.4 built-in list plus the recordings' `640x360p2500`).
pub const FORMATS: &[VideoFormat] = &[
    i("PAL", 720, 576, 25, 1),
    i("NTSC", 720, 486, 30000, 1001),
    p("576p2500", 720, 576, 25, 1),
    p("640x360p2500", 640, 360, 25, 1),
    p("720p2398", 1280, 720, 24000, 1001),
    p("720p2400", 1280, 720, 24, 1),
    p("720p2500", 1280, 720, 25, 1),
    p("720p2997", 1280, 720, 30000, 1001),
    p("720p3000", 1280, 720, 30, 1),
    p("720p5000", 1280, 720, 50, 1),
    p("720p5994", 1280, 720, 60000, 1001),
    p("720p6000", 1280, 720, 60, 1),
    p("1080p2398", 1920, 1080, 24000, 1001),
    p("1080p2400", 1920, 1080, 24, 1),
    i("1080i5000", 1920, 1080, 25, 1),
    i("1080i5994", 1920, 1080, 30000, 1001),
    i("1080i6000", 1920, 1080, 30, 1),
    p("1080p2500", 1920, 1080, 25, 1),
    p("1080p2997", 1920, 1080, 30000, 1001),
    p("1080p3000", 1920, 1080, 30, 1),
    p("1080p5000", 1920, 1080, 50, 1),
    p("1080p5994", 1920, 1080, 60000, 1001),
    p("1080p6000", 1920, 1080, 60, 1),
    p("2160p2398", 3840, 2160, 24000, 1001),
    p("2160p2400", 3840, 2160, 24, 1),
    p("2160p2500", 3840, 2160, 25, 1),
    p("2160p2997", 3840, 2160, 30000, 1001),
    p("2160p3000", 3840, 2160, 30, 1),
    p("2160p5000", 3840, 2160, 50, 1),
    p("2160p5994", 3840, 2160, 60000, 1001),
    p("2160p6000", 3840, 2160, 60, 1),
];

impl VideoFormat {
    /// Looks a mode up by name, case-insensitively (`1080I5000` and `pal` work, as in the server).
    pub fn parse(name: &str) -> Option<VideoFormat> {
        FORMATS
            .iter()
            .copied()
            .find(|f| f.name.eq_ignore_ascii_case(name.trim()))
    }

    /// Duration of one frame (one channel tick on 2.4 and 2.5).
    pub fn frame_duration(&self) -> Duration {
        Duration::from_nanos(
            1_000_000_000u64 * u64::from(self.fps_den) / u64::from(self.fps_num.max(1)),
        )
    }
}

impl Default for VideoFormat {
    /// `1080i5000`, the server's default channel mode.
    fn default() -> Self {
        i("1080i5000", 1920, 1080, 25, 1)
    }
}

impl fmt::Display for VideoFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_case_insensitive_and_reports_field_rate() {
        let f = VideoFormat::parse("1080I5000").unwrap();
        assert_eq!(
            (f.name, f.fps_num, f.fps_den, f.interlaced),
            ("1080i5000", 25, 1, true)
        );
        assert_eq!((f.report_num, f.report_den), (50, 1));
        assert_eq!(
            VideoFormat::parse("pal").map(|f| (f.report_num, f.report_den)),
            Some((50, 1))
        );
        assert_eq!(
            VideoFormat::parse("720p5994").map(|f| (f.report_num, f.report_den)),
            Some((60000, 1001))
        );
        assert_eq!(
            VideoFormat::parse("640x360p2500").map(|f| (f.report_num, f.report_den)),
            Some((25, 1))
        );
        assert_eq!(VideoFormat::parse("nope"), None);
        assert_eq!(
            VideoFormat::default(),
            VideoFormat::parse("1080i5000").unwrap()
        );
    }

    #[test]
    fn frame_durations() {
        assert_eq!(
            VideoFormat::default().frame_duration(),
            Duration::from_millis(40)
        );
        let ntsc = VideoFormat::parse("1080p5994").unwrap();
        assert_eq!(ntsc.frame_duration(), Duration::from_nanos(16_683_333));
    }
}
