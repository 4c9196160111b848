//! The channel state tree (docs/amcp-notes.md §6.2), rendered as OSC messages and as `INFO n` XML.
//!
//! Both views come from [`channel_state`], the simulator's copy of the server's `monitor::state`:
//! a map from path to values, iterated in key order (a `std::map` on the server).

use std::collections::BTreeMap;

use rosc::{OscMessage, OscType};

use super::dialect::Dialect;
use super::model::{Layer, SimState};
use super::producer::{ActiveTransition, Producer, TransitionInfo};
use super::ptree::{PTree, format_g17, xml_path};

/// One value of a state key, typed as the server's variant is.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i32),
    /// int64/uint32/uint64 on the server: OSC type `h`.
    Long(i64),
    /// float or double on the server: OSC `f`, XML `%.17g`.
    Float(f64),
    Str(String),
}

impl Value {
    /// The text Boost property_tree stores for this value.
    pub fn to_xml_text(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Long(l) => l.to_string(),
            Value::Float(f) => format_g17(*f),
            Value::Str(s) => s.clone(),
        }
    }

    pub fn to_osc(&self) -> OscType {
        match self {
            Value::Bool(b) => OscType::Bool(*b),
            Value::Int(i) => OscType::Int(*i),
            Value::Long(l) => OscType::Long(*l),
            Value::Float(f) => OscType::Float(*f as f32),
            Value::Str(s) => OscType::String(s.clone()),
        }
    }
}

/// Audio channels in `mixer/audio/volume` (16 on the recording servers).
const AUDIO_CHANNELS: usize = 16;

type State = BTreeMap<String, Vec<Value>>;

fn s(v: &str) -> Vec<Value> {
    vec![Value::Str(v.to_string())]
}

fn ints(a: i64, b: i64) -> Vec<Value> {
    let i =
        |v: i64| Value::Int(i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX }));
    vec![i(a), i(b)]
}

/// The state of channel `ch` (0-based), keys without the `/channel/<n>/` prefix, in the server's
/// (sorted) order. Empty for an unknown channel.
pub fn channel_state(state: &SimState, ch: usize) -> Vec<(String, Vec<Value>)> {
    let Some(channel) = state.channels.get(ch) else {
        return Vec::new();
    };
    let dialect = state.dialect;
    let fps = dialect.tick_fps(&channel.format);
    let mut st = State::new();
    if dialect.is_v24_or_later() {
        st.insert("format".into(), s(channel.format.name));
    }
    let f = channel.format;
    st.insert(
        "framerate".into(),
        ints(i64::from(f.report_num), i64::from(f.report_den)),
    );
    // 2.5 drops the audio levels when the channel has no consumers (recorded); 2.4 always has them.
    if dialect != Dialect::V25 || !channel.consumers.is_empty() {
        st.insert(
            "mixer/audio/volume".into(),
            vec![Value::Int(0); AUDIO_CHANNELS],
        );
    }
    for (port, consumer) in &channel.consumers {
        st.insert(format!("output/port/{port}/consumer"), s(consumer));
    }
    for (index, layer) in &channel.layers {
        layer_state(
            &mut st,
            &format!("stage/layer/{index}/"),
            layer,
            dialect,
            fps,
        );
    }
    st.into_iter().collect()
}

fn layer_state(st: &mut State, prefix: &str, layer: &Layer, dialect: Dialect, fps: f64) {
    match &layer.background {
        None => {
            st.insert(format!("{prefix}background/producer"), s("empty"));
        }
        Some(bg) => {
            // The transition producer's snapshot, taken before the clip decoded anything.
            let bp = format!("{prefix}background/");
            st.insert(format!("{bp}producer"), s("transition"));
            producer_state(st, &bp, &bg.producer, fps, false);
            transition_state(st, &bp, &bg.transition, 0, &bg.producer, dialect);
        }
    }
    let fp = format!("{prefix}foreground/");
    let shown = match &layer.transition {
        Some(_) => "transition",
        None => layer.foreground.name(),
    };
    st.insert(format!("{fp}producer"), s(shown));
    st.insert(format!("{fp}paused"), vec![Value::Bool(layer.paused)]);
    // 2.5 shows the clip unprobed during the first frame of its transition (recorded).
    let snapshot =
        dialect == Dialect::V25 && layer.transition.as_ref().is_some_and(|t| t.ticks <= 1);
    producer_state(st, &fp, &layer.foreground, fps, !snapshot);
    if let Some(ActiveTransition { info, .. }) = &layer.transition {
        let frame = layer.transition.as_ref().map_or(0, ActiveTransition::frame);
        transition_state(st, &fp, info, frame, &layer.foreground, dialect);
    }
    if let Some(left) = layer.frames_left {
        st.insert(format!("{fp}frames_left"), vec![Value::Long(left)]);
    }
}

/// A producer's own keys under `prefix`; `live` false renders the pre-decode snapshot.
fn producer_state(st: &mut State, prefix: &str, producer: &Producer, fps: f64, live: bool) {
    match producer {
        Producer::Empty | Producer::Color { .. } => {}
        Producer::Image { path, .. } => {
            st.insert(format!("{prefix}file/path"), s(path));
        }
        // The html producer publishes its URL; a page that removed itself publishes nothing.
        Producer::Template(host) => {
            if host.page.is_some() {
                st.insert(format!("{prefix}file/path"), s(&host.url));
            }
        }
        Producer::Clip(c) => {
            let secs = |ticks: i64| Value::Float(ticks as f64 / fps);
            let probed = live && c.probed;
            let (clip, time) = if probed {
                (
                    vec![secs(c.start), secs(c.duration)],
                    vec![secs(c.time), secs(c.file_len)],
                )
            } else {
                (vec![Value::Float(0.0); 2], vec![Value::Float(0.0); 2])
            };
            st.insert(format!("{prefix}file/clip"), clip);
            st.insert(format!("{prefix}file/name"), s(&c.name));
            st.insert(format!("{prefix}file/path"), s(&c.path));
            if probed {
                for (k, (num, den)) in c.streams.iter().enumerate() {
                    st.insert(
                        format!("{prefix}file/streams/{k}/fps"),
                        ints(i64::from(*num), i64::from(*den)),
                    );
                }
            }
            st.insert(format!("{prefix}file/time"), time);
            st.insert(format!("{prefix}loop"), vec![Value::Bool(c.looping)]);
        }
    }
}

fn transition_state(
    st: &mut State,
    prefix: &str,
    info: &TransitionInfo,
    frame: u32,
    dest: &Producer,
    dialect: Dialect,
) {
    st.insert(
        format!("{prefix}transition/frame"),
        ints(i64::from(frame), i64::from(info.duration)),
    );
    st.insert(
        format!("{prefix}transition/type"),
        s(info.kind.reported_name()),
    );
    if dialect.is_v24_or_later() {
        st.insert(format!("{prefix}transition/producer"), s(dest.name()));
    }
    if dialect == Dialect::V25 {
        st.insert(format!("{prefix}transition/direction"), s(info.direction()));
    }
}

/// The `INFO n` / `INFO n-l` XML document of channel `ch` (0-based), ending in `</channel>\n`.
pub fn info_xml(state: &SimState, ch: usize) -> String {
    let mut channel = PTree::default();
    for (key, values) in channel_state(state, ch) {
        let path = xml_path(&key);
        for v in values {
            channel.add(&path, v.to_xml_text());
        }
    }
    let root = PTree {
        data: String::new(),
        children: vec![("channel".to_string(), channel)],
    };
    root.to_xml()
}

/// The OSC messages of one tick of channel `ch` (0-based): `/channel/<n>/<key>` with typed args.
pub fn osc_messages(state: &SimState, ch: usize) -> Vec<OscMessage> {
    channel_state(state, ch)
        .into_iter()
        .map(|(key, values)| OscMessage {
            addr: format!("/channel/{}/{key}", ch + 1),
            args: values.iter().map(Value::to_osc).collect(),
        })
        .collect()
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
