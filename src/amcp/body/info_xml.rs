//! The `INFO <channel>` XML document (§4.3): the channel's monitor state, one element per state
//! key, with multi-value keys as repeated sibling elements. Only the keys playout needs are
//! typed; unknown elements anywhere are skipped.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};

use super::BodyError;

/// The typed parts of a channel's state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelState {
    /// Video format name (2.4+ only).
    pub format: Option<String>,
    /// Channel frame rate as a fraction, e.g. `(50, 1)` or `(60000, 1001)`.
    pub framerate: Option<(u32, u32)>,
    /// Layers by index; empty when the channel has no `<stage>`.
    pub layers: BTreeMap<i32, LayerState>,
}

/// One layer: what is on air and what is loaded behind it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LayerState {
    /// The producer on air.
    pub foreground: ProducerState,
    /// The producer loaded by `LOADBG` (`transition` while waiting).
    pub background: ProducerState,
}

/// A foreground or background producer.
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerState {
    /// Producer name (`empty`, `ffmpeg`, `transition`, `route`, ...); `empty` when not reported.
    pub producer: String,
    /// `file/name`: the clip name as given in the command.
    pub file_name: Option<String>,
    /// `file/path`: the resolved path.
    pub file_path: Option<String>,
    /// `file/time`: (elapsed, total) seconds.
    pub time: Option<(f64, f64)>,
    /// `file/clip`: (in-point, length) seconds.
    pub clip: Option<(f64, f64)>,
    /// Frame rate of the first stream (`file/streams/.../streams_0/fps`).
    pub fps: Option<(u32, u32)>,
    /// Layer paused flag.
    pub paused: Option<bool>,
    /// Loop flag.
    pub looping: Option<bool>,
    /// Frames until a pending `LOADBG ... AUTO` fires (only while one waits).
    pub frames_left: Option<u64>,
    /// Transition details while one runs or is loaded.
    pub transition: Option<TransitionState>,
}

impl Default for ProducerState {
    fn default() -> Self {
        Self {
            producer: "empty".to_owned(),
            file_name: None,
            file_path: None,
            time: None,
            clip: None,
            fps: None,
            paused: None,
            looping: None,
            frames_left: None,
            transition: None,
        }
    }
}

impl ProducerState {
    /// True when nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.producer == "empty"
    }
}

/// The `transition/...` keys of a producer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransitionState {
    /// The incoming producer's name (2.4+).
    pub producer: Option<String>,
    /// `cut`, `mix`, `push`, `slide`, `wipe`, `sting`.
    pub kind: Option<String>,
    /// (current frame, duration).
    pub frame: Option<(u32, u32)>,
}

/// Deepest known key is `channel/stage/layer/layer_N/foreground/file/streams/file/streams_0/fps`
/// (10 levels); deeper leaves are never looked at, which keeps hostile nesting linear.
const MAX_KNOWN_DEPTH: usize = 12;

/// Leaf values of one producer, keyed by their path below `foreground`/`background`.
type RawProducer = BTreeMap<String, Vec<String>>;

#[derive(Default)]
struct Raw {
    format: Option<String>,
    framerate: Vec<String>,
    /// Per layer: [foreground, background].
    layers: BTreeMap<i32, [RawProducer; 2]>,
}

struct Open {
    name: String,
    has_children: bool,
    text: String,
}

fn xml_error(xml: &str, reason: impl std::fmt::Display) -> BodyError {
    BodyError::new("INFO channel XML", xml, reason.to_string())
}

fn resolve_entity(xml: &str, entity: &BytesRef<'_>) -> Result<char, BodyError> {
    if let Some(ch) = entity.resolve_char_ref().map_err(|e| xml_error(xml, e))? {
        return Ok(ch);
    }
    match &**entity {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        other => Err(xml_error(xml, format!("unknown entity &{other};"))),
    }
}

/// Files a leaf value by its element path (root first).
fn record_leaf(raw: &mut Raw, path: &[&str], value: String) {
    match path {
        ["channel", "format"] => raw.format = Some(value),
        ["channel", "framerate"] => raw.framerate.push(value),
        ["channel", "stage", "layer", layer, side, rest @ ..] if !rest.is_empty() => {
            let Some(index) = layer.strip_prefix("layer_").and_then(|n| n.parse().ok()) else {
                return;
            };
            let slot = match *side {
                "foreground" => 0,
                "background" => 1,
                _ => return,
            };
            let sides = raw.layers.entry(index).or_default();
            if let Some(producer) = sides.get_mut(slot) {
                producer.entry(rest.join("/")).or_default().push(value);
            }
        }
        _ => {}
    }
}

fn collect(xml: &str) -> Result<Raw, BodyError> {
    let mut reader = Reader::from_str(xml);
    let mut raw = Raw::default();
    let mut stack: Vec<Open> = Vec::new();
    let mut seen_root = false;
    loop {
        let event = reader.read_event().map_err(|e| xml_error(xml, e))?;
        match event {
            Event::Start(_) | Event::Empty(_) if stack.is_empty() && seen_root => {
                return Err(xml_error(xml, "more than one root element"));
            }
            Event::Start(start) => {
                let name = start.name().into_inner().to_owned();
                if stack.is_empty() && name != "channel" {
                    return Err(xml_error(xml, format!("root is <{name}>, not <channel>")));
                }
                if let Some(parent) = stack.last_mut() {
                    parent.has_children = true;
                }
                seen_root = true;
                stack.push(Open {
                    name,
                    has_children: false,
                    text: String::new(),
                });
            }
            Event::Empty(empty) => {
                let name = empty.name().into_inner().to_owned();
                let Some(parent) = stack.last_mut() else {
                    // `<channel/>`: a channel without any state.
                    if name != "channel" {
                        return Err(xml_error(xml, format!("root is <{name}>, not <channel>")));
                    }
                    seen_root = true;
                    continue;
                };
                parent.has_children = true;
                if stack.len() < MAX_KNOWN_DEPTH {
                    let mut path: Vec<&str> = stack.iter().map(|o| o.name.as_str()).collect();
                    path.push(&name);
                    record_leaf(&mut raw, &path, String::new());
                }
            }
            Event::Text(text) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&text);
                }
            }
            Event::CData(data) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&data);
                }
            }
            Event::GeneralRef(entity) => {
                let ch = resolve_entity(xml, &entity)?;
                if let Some(open) = stack.last_mut() {
                    open.text.push(ch);
                }
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches.
                let Some(open) = stack.pop() else {
                    return Err(xml_error(xml, "unmatched end tag"));
                };
                if !open.has_children && stack.len() < MAX_KNOWN_DEPTH {
                    let mut path: Vec<&str> = stack.iter().map(|o| o.name.as_str()).collect();
                    path.push(&open.name);
                    record_leaf(&mut raw, &path, open.text);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(xml_error(xml, format!("unclosed element <{}>", open.name)));
    }
    if !seen_root {
        return Err(xml_error(xml, "no <channel> element"));
    }
    Ok(raw)
}

fn single<T: std::str::FromStr>(
    xml: &str,
    key: &str,
    values: Option<&Vec<String>>,
) -> Result<Option<T>, BodyError> {
    let Some(values) = values else {
        return Ok(None);
    };
    match values.as_slice() {
        [value] => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| xml_error(xml, format!("<{key}> has invalid value {value:?}"))),
        _ => Err(xml_error(
            xml,
            format!("<{key}> appears {} times, expected once", values.len()),
        )),
    }
}

fn pair<T: std::str::FromStr>(
    xml: &str,
    key: &str,
    values: Option<&Vec<String>>,
) -> Result<Option<(T, T)>, BodyError> {
    let Some(values) = values else {
        return Ok(None);
    };
    let parse = |value: &String| {
        value
            .trim()
            .parse::<T>()
            .map_err(|_| xml_error(xml, format!("<{key}> has invalid value {value:?}")))
    };
    match values.as_slice() {
        [a, b] => Ok(Some((parse(a)?, parse(b)?))),
        _ => Err(xml_error(
            xml,
            format!("<{key}> appears {} times, expected twice", values.len()),
        )),
    }
}

fn text(values: Option<&Vec<String>>) -> Option<String> {
    values.and_then(|v| v.first()).cloned()
}

fn producer_state(xml: &str, raw: &RawProducer) -> Result<ProducerState, BodyError> {
    // The stream-rate key is `file/streams/file/streams_0/fps` because of the server's regex
    // quirk (§4.3); accept the intended `file/streams/streams_0/fps` too.
    let fps_key = raw
        .keys()
        .find(|k| k.starts_with("file/streams/") && k.ends_with("/streams_0/fps"));
    let has_transition = raw.keys().any(|k| k.starts_with("transition/"));
    let transition = if has_transition {
        Some(TransitionState {
            producer: text(raw.get("transition/producer")),
            kind: text(raw.get("transition/type")),
            frame: pair(xml, "transition/frame", raw.get("transition/frame"))?,
        })
    } else {
        None
    };
    let bool_of = |key: &str| -> Result<Option<bool>, BodyError> {
        match text(raw.get(key)).as_deref().map(str::trim) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(xml_error(
                xml,
                format!("<{key}> is not a boolean: {other:?}"),
            )),
        }
    };
    Ok(ProducerState {
        producer: text(raw.get("producer")).unwrap_or_else(|| "empty".to_owned()),
        file_name: text(raw.get("file/name")),
        file_path: text(raw.get("file/path")),
        time: pair(xml, "file/time", raw.get("file/time"))?,
        clip: pair(xml, "file/clip", raw.get("file/clip"))?,
        fps: match fps_key {
            Some(key) => pair(xml, key, raw.get(key))?,
            None => None,
        },
        paused: bool_of("paused")?,
        looping: bool_of("loop")?,
        frames_left: single(xml, "frames_left", raw.get("frames_left"))?,
        transition,
    })
}

/// Parses the XML body of `201 INFO OK` for `INFO <n>` / `INFO <n>-<l>`.
pub fn parse_info_xml(xml: &str) -> Result<ChannelState, BodyError> {
    let raw = collect(xml)?;
    let framerate = if raw.framerate.is_empty() {
        None
    } else {
        pair(xml, "framerate", Some(&raw.framerate))?
    };
    let mut layers = BTreeMap::new();
    for (index, [foreground, background]) in &raw.layers {
        layers.insert(
            *index,
            LayerState {
                foreground: producer_state(xml, foreground)?,
                background: producer_state(xml, background)?,
            },
        );
    }
    Ok(ChannelState {
        format: raw.format,
        framerate,
        layers,
    })
}

#[cfg(test)]
mod tests;
