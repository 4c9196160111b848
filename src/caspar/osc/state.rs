//! The telemetry snapshot the OSC listener publishes: per channel, per layer, the latest values of
//! the keys the engine needs (docs/amcp-notes.md §6.2), plus small helpers (on-air file, remaining time).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::time::Instant;

/// Everything the listener knows, per channel number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OscState {
    pub channels: BTreeMap<u16, ChannelTelemetry>,
}

impl OscState {
    pub fn channel(&self, channel: u16) -> Option<&ChannelTelemetry> {
        self.channels.get(&channel)
    }

    pub fn layer(&self, channel: u16, layer: i32) -> Option<&LayerTelemetry> {
        self.channels.get(&channel)?.layers.get(&layer)
    }
}

/// One channel's latest telemetry.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelTelemetry {
    /// `format` (2.4+), e.g. `1080i5000`.
    pub format: Option<Arc<str>>,
    /// `framerate` as a fraction, e.g. `(50, 1)` for 1080i5000, `(60000, 1001)` for 720p5994.
    pub framerate: Option<(i32, i32)>,
    /// When the last message for this channel was received.
    pub updated_at: Instant,
    /// No message for `stale_after`: the values are the last known ones, not the current ones.
    pub stale: bool,
    pub layers: BTreeMap<i32, LayerTelemetry>,
}

impl ChannelTelemetry {
    pub fn new(updated_at: Instant) -> Self {
        ChannelTelemetry {
            format: None,
            framerate: None,
            updated_at,
            stale: false,
            layers: BTreeMap::new(),
        }
    }
}

/// One layer's latest telemetry; `None` means the server did not send that key in the last tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerTelemetry {
    pub foreground: ForegroundTelemetry,
    /// `background/producer`: `empty`, or `transition` while something is loaded.
    pub background_producer: Option<Arc<str>>,
    /// `background/file/name`: the clip waiting in the background.
    pub background_file: Option<Arc<str>>,
    /// `foreground/frames_left`: sent only while a `LOADBG … AUTO` is pending.
    pub frames_left: Option<i64>,
}

/// The foreground producer's keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ForegroundTelemetry {
    /// `ffmpeg`, `transition` while a transition runs, `empty` when stopped.
    pub producer: Option<Arc<str>>,
    /// The clip name as given in the command.
    pub file_name: Option<Arc<str>>,
    pub file_path: Option<Arc<str>>,
    /// `file/time`: elapsed seconds, total file seconds.
    pub time: Option<(f64, f64)>,
    /// `file/clip`: in-point seconds, clip length seconds (IN/OUT/LENGTH applied).
    pub clip: Option<(f64, f64)>,
    pub paused: Option<bool>,
    pub looping: Option<bool>,
}

impl LayerTelemetry {
    /// The file playing in the foreground, if the producer is not `empty`.
    pub fn on_air_file(&self) -> Option<&str> {
        let fg = &self.foreground;
        match fg.producer.as_deref() {
            Some("empty") => None,
            _ => fg.file_name.as_deref(),
        }
    }

    /// Elapsed seconds in the file (from its start, not from the in point).
    pub fn elapsed_secs(&self) -> Option<f64> {
        self.foreground.time.map(|(elapsed, _)| elapsed)
    }

    /// `(elapsed since the in point, clip length)` in seconds, what a rundown shows; the file's
    /// position and length when the clip length is not known (0).
    pub fn clip_progress(&self) -> Option<(f64, f64)> {
        let (elapsed, total) = self.foreground.time?;
        Some(match self.foreground.clip {
            Some((start, len)) if len > 0.0 => ((elapsed - start).max(0.0), len),
            _ => (elapsed, total),
        })
    }

    /// Seconds until the clip's out point: `in + length - elapsed` (the file's end when the clip
    /// length is unknown), never negative; `None` before the clip is probed (lengths of 0).
    pub fn remaining_secs(&self) -> Option<f64> {
        let (elapsed, total) = self.foreground.time?;
        let end = match self.foreground.clip {
            Some((start, len)) if len > 0.0 => start + len,
            _ if total > 0.0 => total,
            _ => return None,
        };
        Some((end - elapsed).max(0.0))
    }
}
