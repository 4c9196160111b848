//! The OSC decoding state machine: datagrams in, [`OscState`] snapshots out. Pure (no sockets),
//! so tests and benchmarks drive it directly; tick windows and key expiry are explained in the
//! parent module.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rosc::{OscMessage, OscPacket, OscType};
use tokio::time::Instant;

use super::state::{ChannelTelemetry, LayerTelemetry, OscState};
use super::{MAX_CHANNELS, MAX_LAYERS};

/// Deepest bundle nesting accepted. rosc decodes nested bundles recursively, so an unchecked
/// datagram of nested headers could overflow the stack; the server never nests at all.
const MAX_NESTING: u32 = 8;

/// A datagram that is not a decodable OSC packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable OSC datagram: {0}")]
pub struct OscDecodeError(String);

/// The tracked keys of a layer, as indices into its stamp array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    FgProducer,
    FgName,
    FgPath,
    FgTime,
    FgClip,
    FgPaused,
    FgLoop,
    FramesLeft,
    BgProducer,
    BgName,
}

const FIELDS: [Field; 10] = [
    Field::FgProducer,
    Field::FgName,
    Field::FgPath,
    Field::FgTime,
    Field::FgClip,
    Field::FgPaused,
    Field::FgLoop,
    Field::FramesLeft,
    Field::BgProducer,
    Field::BgName,
];

enum Key {
    Format,
    Framerate,
    Layer(i32, Field),
}

/// Splits `/channel/<n>/<key>` without allocating; `Some((n, None))` for keys that are not tracked.
fn parse_address(addr: &str) -> Option<(u16, Option<Key>)> {
    let (channel, key) = addr.strip_prefix("/channel/")?.split_once('/')?;
    let channel: u16 = channel.parse().ok().filter(|c| *c > 0)?;
    let key = match key {
        "format" => Some(Key::Format),
        "framerate" => Some(Key::Framerate),
        _ => key.strip_prefix("stage/layer/").and_then(|rest| {
            let (layer, key) = rest.split_once('/')?;
            let field = match key {
                "foreground/producer" => Field::FgProducer,
                "foreground/file/name" => Field::FgName,
                "foreground/file/path" => Field::FgPath,
                "foreground/file/time" => Field::FgTime,
                "foreground/file/clip" => Field::FgClip,
                "foreground/paused" => Field::FgPaused,
                "foreground/loop" => Field::FgLoop,
                "foreground/frames_left" => Field::FramesLeft,
                "background/producer" => Field::BgProducer,
                "background/file/name" => Field::BgName,
                _ => return None,
            };
            Some(Key::Layer(layer.parse().ok()?, field))
        }),
    };
    Some((channel, key))
}

fn number(arg: Option<&OscType>) -> Option<f64> {
    match arg? {
        OscType::Float(f) => Some(f64::from(*f)),
        OscType::Double(d) => Some(*d),
        OscType::Int(i) => Some(f64::from(*i)),
        #[allow(clippy::cast_precision_loss)]
        OscType::Long(l) => Some(*l as f64),
        _ => None,
    }
}

fn integer(arg: Option<&OscType>) -> Option<i64> {
    match arg? {
        OscType::Int(i) => Some(i64::from(*i)),
        OscType::Long(l) => Some(*l),
        _ => None,
    }
}

fn pair(args: &[OscType]) -> Option<(f64, f64)> {
    Some((number(args.first())?, number(args.get(1))?))
}

/// Stores `value` unless it is already there, so an unchanged string is never copied.
fn set_text(slot: &mut Option<Arc<str>>, args: &mut [OscType]) -> bool {
    let Some(OscType::String(value)) = args.first_mut() else {
        return false;
    };
    if slot.as_deref() != Some(value.as_str()) {
        *slot = Some(Arc::from(std::mem::take(value)));
    }
    true
}

fn set<T: PartialEq>(slot: &mut Option<T>, value: Option<T>) -> bool {
    let ok = value.is_some();
    if ok && *slot != value {
        *slot = value;
    }
    ok
}

/// Applies one tracked value; `false` if its arguments have unexpected types (ignored).
fn apply(layer: &mut LayerTelemetry, field: Field, args: &mut [OscType]) -> bool {
    let fg = &mut layer.foreground;
    match field {
        Field::FgProducer => set_text(&mut fg.producer, args),
        Field::FgName => set_text(&mut fg.file_name, args),
        Field::FgPath => set_text(&mut fg.file_path, args),
        Field::BgProducer => set_text(&mut layer.background_producer, args),
        Field::BgName => set_text(&mut layer.background_file, args),
        Field::FgTime => set(&mut fg.time, pair(args)),
        Field::FgClip => set(&mut fg.clip, pair(args)),
        Field::FgPaused => set(&mut fg.paused, flag(args.first())),
        Field::FgLoop => set(&mut fg.looping, flag(args.first())),
        Field::FramesLeft => set(&mut layer.frames_left, integer(args.first())),
    }
}

fn flag(arg: Option<&OscType>) -> Option<bool> {
    match arg? {
        OscType::Bool(b) => Some(*b),
        other => integer(Some(other)).map(|i| i != 0),
    }
}

fn clear(layer: &mut LayerTelemetry, field: Field) {
    let fg = &mut layer.foreground;
    match field {
        Field::FgProducer => fg.producer = None,
        Field::FgName => fg.file_name = None,
        Field::FgPath => fg.file_path = None,
        Field::FgTime => fg.time = None,
        Field::FgClip => fg.clip = None,
        Field::FgPaused => fg.paused = None,
        Field::FgLoop => fg.looping = None,
        Field::FramesLeft => layer.frames_left = None,
        Field::BgProducer => layer.background_producer = None,
        Field::BgName => layer.background_file = None,
    }
}

/// In which window a layer and each of its fields were last set (0 = never).
#[derive(Debug, Default)]
struct Marks {
    seen: u64,
    fields: [u64; FIELDS.len()],
}

#[derive(Debug)]
struct ChannelModel {
    public: ChannelTelemetry,
    /// The current window; stamps equal to it were set in this tick.
    window: u64,
    format: u64,
    framerate: u64,
    marks: BTreeMap<i32, Marks>,
}

impl ChannelModel {
    /// Ends the current window: a layer sent in it loses the keys it did not send; a layer missing
    /// from this window and the one before is gone.
    fn close_window(&mut self) {
        let w = self.window;
        let layers = &mut self.public.layers;
        self.marks.retain(|id, marks| {
            if marks.seen == w {
                if let Some(layer) = layers.get_mut(id) {
                    for field in FIELDS {
                        if marks.fields[field as usize] != w {
                            clear(layer, field);
                        }
                    }
                }
                true
            } else if marks.seen + 1 >= w {
                true
            } else {
                layers.remove(id);
                false
            }
        });
        self.window = w + 1;
    }
}

/// The pure decoding state machine behind the listener: feed datagrams, take snapshots. Public so
/// that tests and benchmarks can drive it without sockets.
#[derive(Debug, Default)]
pub struct OscDecoder {
    channels: BTreeMap<u16, ChannelModel>,
    /// Messages ignored because of [`MAX_CHANNELS`] / [`MAX_LAYERS`].
    over_limit: u64,
}

impl OscDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Messages ignored because [`MAX_CHANNELS`] or [`MAX_LAYERS`] was reached.
    pub fn over_limit(&self) -> u64 {
        self.over_limit
    }

    /// Decodes one datagram (a message or a bundle, nested or not) received at `now` and applies
    /// it; returns the number of messages it held.
    pub fn ingest(&mut self, datagram: &[u8], now: Instant) -> Result<u64, OscDecodeError> {
        if !nesting_ok(datagram, MAX_NESTING) {
            return Err(OscDecodeError("bundles nested too deeply".into()));
        }
        // rosc is not expected to panic, but a panic here would end telemetry for good.
        let decoded = std::panic::catch_unwind(|| rosc::decoder::decode_udp(datagram))
            .map_err(|_| OscDecodeError("decoder panicked".into()))?;
        let (_, packet) = decoded.map_err(|e| OscDecodeError(e.to_string()))?;
        let mut count = 0;
        self.packet(packet, now, &mut count);
        Ok(count)
    }

    fn packet(&mut self, packet: OscPacket, now: Instant, count: &mut u64) {
        match packet {
            OscPacket::Message(msg) => {
                *count += 1;
                self.message(msg, now);
            }
            OscPacket::Bundle(bundle) => {
                for p in bundle.content {
                    self.packet(p, now, count);
                }
            }
        }
    }

    fn message(&mut self, mut msg: OscMessage, now: Instant) {
        let Some((ch, key)) = parse_address(&msg.addr) else {
            return;
        };
        if !self.channels.contains_key(&ch) && self.channels.len() >= MAX_CHANNELS {
            self.over_limit += 1;
            return;
        }
        let chan = self.channels.entry(ch).or_insert_with(|| ChannelModel {
            public: ChannelTelemetry::new(now),
            window: 1,
            format: 0,
            framerate: 0,
            marks: BTreeMap::new(),
        });
        chan.public.updated_at = now;
        chan.public.stale = false;
        let args = &mut msg.args;
        match key {
            None => {}
            Some(Key::Format) => {
                if chan.format == chan.window {
                    chan.close_window();
                }
                chan.format = chan.window;
                set_text(&mut chan.public.format, args);
            }
            Some(Key::Framerate) => {
                if chan.framerate == chan.window {
                    chan.close_window();
                }
                chan.framerate = chan.window;
                let rate = integer(args.first())
                    .zip(integer(args.get(1)))
                    .and_then(|(n, d)| Some((i32::try_from(n).ok()?, i32::try_from(d).ok()?)));
                set(&mut chan.public.framerate, rate);
            }
            Some(Key::Layer(id, field)) => {
                let known = chan.marks.get(&id);
                if known.is_some_and(|m| m.fields[field as usize] == chan.window) {
                    chan.close_window();
                }
                if !chan.marks.contains_key(&id) && chan.marks.len() >= MAX_LAYERS {
                    self.over_limit += 1;
                    return;
                }
                let marks = chan.marks.entry(id).or_default();
                let layer = chan.public.layers.entry(id).or_default();
                if apply(layer, field, args) {
                    marks.fields[field as usize] = chan.window;
                    marks.seen = chan.window;
                }
            }
        }
    }

    /// Flags channels with no message since `stale_after` before `now`; `true` if any changed.
    pub fn mark_stale(&mut self, now: Instant, stale_after: Duration) -> bool {
        let mut changed = false;
        for chan in self.channels.values_mut() {
            let t = &mut chan.public;
            if !t.stale && now.saturating_duration_since(t.updated_at) >= stale_after {
                t.stale = true;
                changed = true;
            }
        }
        changed
    }

    /// When the next channel turns stale, if any is fresh.
    pub fn next_stale_deadline(&self, stale_after: Duration) -> Option<Instant> {
        let fresh = self.channels.values().filter(|c| !c.public.stale);
        fresh.map(|c| c.public.updated_at + stale_after).min()
    }

    /// A copy of the current state (strings are shared, not copied).
    pub fn snapshot(&self) -> OscState {
        let channels = self.channels.iter();
        OscState {
            channels: channels.map(|(n, c)| (*n, c.public.clone())).collect(),
        }
    }
}

/// Whether bundles inside `packet` nest at most `depth` deep; malformed sizes are left to rosc.
fn nesting_ok(packet: &[u8], depth: u32) -> bool {
    if !packet.starts_with(b"#bundle\0") {
        return true;
    }
    if depth == 0 {
        return false;
    }
    let mut rest = packet.get(16..).unwrap_or_default();
    while let Some((size, tail)) = rest.split_first_chunk::<4>() {
        let size = u32::from_be_bytes(*size) as usize;
        let Some(element) = tail.get(..size) else {
            return true;
        };
        if !nesting_ok(element, depth - 1) {
            return false;
        }
        rest = tail.get(size..).unwrap_or_default();
    }
    true
}

#[cfg(test)]
#[path = "../osc_tests.rs"]
mod tests;
