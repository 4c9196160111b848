//! The simulated server's state: channels, layers (foreground/background/paused/AUTO) and the frame tick.
//!
//! Pure and deterministic: no I/O, no clock. Time only moves when [`SimState::tick_channel`] is
//! called, once per channel frame (docs/amcp-notes.md §4.5; `layer.cpp@2.4` `load`/`play`/`stop`/`receive`).
//! Changes of what a layer shows are noted as [`TakeEvent`]s for the caller to stamp with a frame
//! ([`super::takes`]).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::dialect::Dialect;
use super::media::{MediaKind, SimMedia, VideoFormat};
use super::mixer::MixerState;
use super::producer::{ActiveTransition, Clip, Producer, TransitionInfo, color_producer};
use super::request::SimRequest;
use super::takes::{self, OpacityChange, TakeEvent, TakeHow};

/// The whole simulated server.
#[derive(Debug, Clone)]
pub struct SimState {
    pub dialect: Dialect,
    pub channels: Vec<Channel>,
    pub media: SimMedia,
    /// `DATA STORE` files, keyed by upper-case name (name as stored, data).
    pub data: BTreeMap<String, (String, String)>,
    /// `LOG LEVEL`.
    pub log_level: String,
    /// `LOCK`: channel index (0-based) → lock phrase.
    pub locks: BTreeMap<usize, String>,
    /// Take events since the caller last drained them (at most [`takes::TAKE_LOG_LEN`]):
    /// the server stamps them with a frame right after each command or tick.
    pub pending_takes: VecDeque<TakeEvent>,
}

/// One video channel.
#[derive(Debug, Clone)]
pub struct Channel {
    pub format: VideoFormat,
    /// Stage layers; a layer exists from its first layer command until `CLEAR`.
    pub layers: BTreeMap<i32, Layer>,
    /// Mixer transforms per layer (not reset by `CLEAR`, only by `MIXER … CLEAR` or a restart).
    pub mixer: BTreeMap<i32, MixerState>,
    /// `MIXER n MASTERVOLUME`.
    pub master_volume: f64,
    /// Deferred mixer changes, applied by `MIXER n COMMIT`.
    pub deferred: Vec<(i32, MixerState)>,
    /// The deferred `MIXER … OPACITY` changes among them, noted for the take log at the commit.
    pub deferred_opacity: Vec<(i32, OpacityChange)>,
    /// Consumers added with `ADD`: port index → consumer name (`screen`, `decklink`, …).
    pub consumers: BTreeMap<i32, String>,
    /// Ticks since the simulator started. A restart keeps counting, as the channel's frame clock
    /// (genlock) does not stop; with a stepped clock it numbers the frames of the take log.
    pub ticks: i64,
}

/// A waiting background: always wrapped in a transition (a zero-length cut when none was given).
#[derive(Debug, Clone, PartialEq)]
pub struct Background {
    pub producer: Producer,
    pub transition: TransitionInfo,
}

/// One stage layer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layer {
    pub foreground: Producer,
    /// Set while the foreground is still shown through its transition (`producer` reads `transition`).
    pub transition: Option<ActiveTransition>,
    pub background: Option<Background>,
    pub paused: bool,
    /// `LOADBG … AUTO` pending: the background's auto-play delta (its transition length).
    pub auto_delta: Option<i64>,
    /// `foreground/frames_left` as computed by the last tick (only while AUTO waits and > 0).
    pub frames_left: Option<i64>,
}

/// Why a producer could not be created from a command's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError {
    /// No such media (`404 <CMD> FAILED`).
    NotFound,
    /// A SEEK/IN/OUT/LENGTH value that does not parse (`403 <CMD> FAILED`).
    BadParam,
}

impl Layer {
    /// `LOADBG`: store the background; with AUTO on an empty foreground it plays at once (rule 1).
    /// Returns whether it did (the foreground changed).
    pub fn load_background(
        &mut self,
        producer: Producer,
        transition: TransitionInfo,
        auto: bool,
    ) -> bool {
        self.auto_delta = auto.then_some(i64::from(transition.duration));
        self.background = (!producer.is_empty()).then_some(Background {
            producer,
            transition,
        });
        self.frames_left = None;
        if self.auto_delta.is_some() && self.foreground.is_empty() {
            return self.play();
        }
        false
    }

    /// `LOAD`: the producer becomes the paused foreground at once, showing its first frame. Any
    /// waiting background is replaced (the server loads into the background slot first).
    pub fn load_paused(&mut self, producer: Producer) {
        self.background = None;
        self.auto_delta = None;
        self.frames_left = None;
        self.foreground = producer;
        self.transition = None;
        self.foreground.touch();
        self.paused = true;
    }

    /// 2.4 `LOAD n-l` without a clip: a waiting background becomes the paused foreground. Returns
    /// whether there was one (the foreground changed).
    pub fn promote_paused(&mut self) -> bool {
        let Some(bg) = self.background.take() else {
            return false;
        };
        self.load_paused(bg.producer);
        true
    }

    /// `PLAY` without a clip (and AUTO): promote the background through its transition, consume
    /// AUTO; in every case clear `paused`. Returns whether a background was promoted.
    pub fn play(&mut self) -> bool {
        let promoted = if let Some(bg) = self.background.take() {
            self.foreground = bg.producer;
            self.transition = Some(ActiveTransition {
                info: bg.transition,
                ticks: 0,
            });
            self.auto_delta = None;
            self.frames_left = None;
            true
        } else {
            false
        };
        self.paused = false;
        promoted
    }

    pub fn pause(&mut self) {
        self.paused = true;
    }

    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// `STOP`: drop the foreground, keep the background, cancel AUTO (`paused` is left as it was).
    pub fn stop(&mut self) {
        self.foreground = Producer::Empty;
        self.transition = None;
        self.auto_delta = None;
        self.frames_left = None;
    }

    /// AUTO's `nb_frames − frame_number − delta` against the current foreground.
    fn auto_frames_left(&self) -> Option<i64> {
        let delta = self.auto_delta?;
        Some(
            self.foreground
                .nb_frames()
                .saturating_sub(self.foreground.frame_number())
                .saturating_sub(delta),
        )
    }

    /// One channel frame, in the order of `layer::receive`: finish a completed transition, evaluate
    /// AUTO against the frame number *before* this frame, then pull a frame unless paused. Returns
    /// whether AUTO promoted the background on this frame.
    pub fn tick(&mut self, dialect: Dialect) -> bool {
        if self
            .transition
            .as_ref()
            .is_some_and(ActiveTransition::finished)
        {
            self.transition = None;
        }
        let mut published = None;
        let mut promoted = false;
        if let Some(left) = self.auto_frames_left() {
            if left < 1 {
                promoted = self.play();
            } else {
                published = Some(left);
            }
        }
        if self.paused {
            self.foreground.touch();
        } else {
            if let Some(t) = &mut self.transition {
                t.ticks = t.ticks.saturating_add(1);
            }
            self.foreground.receive();
        }
        // 2.4 publishes the value it tested (recorded: time 0.88 s = frame 22 with 229 of 250 left);
        // 2.5 publishes it after the frame (time 0.94 s = frame 47 with 453 of 500 left).
        self.frames_left = match dialect {
            Dialect::V25 => self.auto_frames_left().filter(|l| *l > 0),
            Dialect::V23 | Dialect::V24 => published,
        };
        promoted
    }
}

impl Channel {
    pub fn new(format: VideoFormat) -> Self {
        Channel {
            format,
            layers: BTreeMap::new(),
            mixer: BTreeMap::new(),
            master_volume: 1.0,
            deferred: Vec::new(),
            deferred_opacity: Vec::new(),
            consumers: BTreeMap::new(),
            ticks: 0,
        }
    }

    /// The layer, created empty on first use (as any layer command does on the server).
    pub fn layer_mut(&mut self, index: i32) -> &mut Layer {
        self.layers.entry(index).or_default()
    }

    /// One frame for every layer; returns the layers AUTO promoted on it.
    pub fn tick(&mut self, dialect: Dialect) -> Vec<i32> {
        self.ticks = self.ticks.saturating_add(1);
        let mut promoted = Vec::new();
        for (index, layer) in &mut self.layers {
            if layer.tick(dialect) {
                promoted.push(*index);
            }
        }
        promoted
    }
}

impl SimState {
    /// A freshly started server with one channel per format.
    pub fn new(dialect: Dialect, formats: Vec<VideoFormat>, media: SimMedia) -> Self {
        SimState {
            dialect,
            channels: formats.into_iter().map(Channel::new).collect(),
            media,
            data: BTreeMap::new(),
            log_level: "info".into(),
            locks: BTreeMap::new(),
            pending_takes: VecDeque::new(),
        }
    }

    /// A server restart: layers, mixer state, consumers, locks and log level are gone; stored DATA
    /// files and the media library survive (they are on disk).
    pub fn reset(&mut self) {
        for ch in &mut self.channels {
            let ticks = ch.ticks;
            *ch = Channel::new(ch.format);
            ch.ticks = ticks;
        }
        self.locks.clear();
        self.log_level = "info".into();
    }

    /// Advances channel `ch` (0-based) by one tick; out-of-range indexes are ignored. AUTO
    /// promotions are noted as [`TakeHow::Auto`] events.
    pub fn tick_channel(&mut self, ch: usize) {
        let dialect = self.dialect;
        if let Some(c) = self.channels.get_mut(ch) {
            for layer in c.tick(dialect) {
                self.note_take(ch, layer, TakeHow::Auto);
            }
        }
    }

    /// Notes that layer `layer` of channel `ch` now shows a new foreground (read from the layer).
    pub(crate) fn note_take(&mut self, ch: usize, layer: i32, how: TakeHow) {
        let Some(l) = self.layer(ch, layer) else {
            return;
        };
        let clip = takes::clip_name(&l.foreground);
        self.note_event(ch, layer, clip, how, None);
    }

    /// Notes any change of what layer `layer` of channel `ch` shows, about `clip`.
    pub(crate) fn note_event(
        &mut self,
        ch: usize,
        layer: i32,
        clip: String,
        how: TakeHow,
        opacity: Option<OpacityChange>,
    ) {
        let event = TakeEvent {
            channel: ch,
            layer,
            clip,
            how,
            opacity,
        };
        takes::push(&mut self.pending_takes, event);
    }

    /// Removes layer `layer` of channel `ch` (`CLEAR n-l`, `CG n-l CLEAR`), noting a
    /// [`TakeHow::Clear`] when it showed something.
    pub(crate) fn clear_layer(&mut self, ch: usize, layer: i32) {
        let removed = self
            .channels
            .get_mut(ch)
            .and_then(|c| c.layers.remove(&layer));
        if let Some(l) = removed.filter(|l| !l.foreground.is_empty()) {
            let clip = takes::clip_name(&l.foreground);
            self.note_event(ch, layer, clip, TakeHow::Clear, None);
        }
    }

    /// Removes every layer of channel `ch` (`CLEAR n`, `CLEAR ALL`), noting each that showed
    /// something.
    pub(crate) fn clear_channel(&mut self, ch: usize) {
        let layers: Vec<i32> = self
            .channels
            .get(ch)
            .map(|c| c.layers.keys().copied().collect())
            .unwrap_or_default();
        for layer in layers {
            self.clear_layer(ch, layer);
        }
    }

    /// Advances every channel by one tick.
    pub fn tick_all(&mut self) {
        for ch in 0..self.channels.len() {
            self.tick_channel(ch);
        }
    }

    /// How long one tick of channel `ch` lasts in this dialect (the clock's period).
    pub fn tick_duration(&self, ch: usize) -> Duration {
        let format = self.channels.get(ch).map(|c| c.format).unwrap_or_default();
        self.dialect.tick_duration(&format)
    }

    /// The layer `layer` of channel `ch` (0-based), if it exists.
    pub fn layer(&self, ch: usize, layer: i32) -> Option<&Layer> {
        self.channels.get(ch)?.layers.get(&layer)
    }

    /// Builds the producer a LOADBG/LOAD/PLAY names in `params[0]`, with LOOP, SEEK, IN, OUT and
    /// LENGTH applied (in ticks of channel `ch`), like `ffmpeg_producer.cpp` `create_producer`.
    pub fn create_producer(&self, ch: usize, params: &[String]) -> Result<Producer, LoadError> {
        let name = params.first().map(String::as_str).unwrap_or_default();
        let Some(entry) = self.media.find(name) else {
            return color_producer(name).ok_or(LoadError::NotFound);
        };
        if entry.kind == MediaKind::Still {
            return Ok(Producer::Image {
                name: name.to_string(),
                path: entry.path.clone(),
            });
        }
        let format = self.channels.get(ch).map(|c| c.format).unwrap_or_default();
        let (tick_num, tick_den) = self.dialect.tick_rate(&format);
        let file_len = entry.ticks_at(tick_num, tick_den);
        let get = |key: &str, default: u32| -> Result<u32, LoadError> {
            match params.iter().position(|p| p.eq_ignore_ascii_case(key)) {
                None => Ok(default),
                Some(i) => params
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .ok_or(LoadError::BadParam),
            }
        };
        let seek = get("SEEK", 0)?;
        let start = get("IN", seek)?;
        let length = get("LENGTH", u32::MAX)?;
        let out = if length < u32::MAX - start {
            length + start
        } else {
            u32::MAX
        };
        let out = get("OUT", out)?;
        // The server subtracts in uint32: OUT before IN wraps to a huge length.
        let duration = if out == u32::MAX {
            file_len
        } else {
            i64::from(out.wrapping_sub(start))
        };
        Ok(Producer::Clip(Box::new(Clip {
            name: name.to_string(),
            path: entry.path.clone(),
            streams: entry.streams(),
            file_len,
            start: i64::from(start),
            duration,
            time: i64::from(start),
            fresh: true,
            eof: false,
            looping: params.iter().any(|p| p.eq_ignore_ascii_case("LOOP")),
            probed: false,
        })))
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;

impl SimState {
    /// 0-based channel index of a channel command, if valid.
    pub(crate) fn channel_index(&self, req: &SimRequest) -> Option<usize> {
        let ch = usize::from(req.channel?).checked_sub(1)?;
        (ch < self.channels.len()).then_some(ch)
    }

    /// The error the parser would have given for a bad channel (defensive: the parser validates).
    pub(crate) fn bad_channel(&self, req: &SimRequest) -> String {
        let word = req.name.split(' ').next().unwrap_or(req.name);
        if self.dialect == Dialect::V23 {
            format!("401 {word} ERROR\r\n")
        } else {
            "500 FAILED\r\n".into()
        }
    }
}
