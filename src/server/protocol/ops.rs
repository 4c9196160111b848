//! `command` names and arguments → engine ops, with a typed error for every bad input.
//!
//! Arguments are decoded into small per-op structs that reject unknown fields, so a typo such as
//! `"titel"` is an error the client sees instead of an edit that silently did nothing.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::ProtocolError;
use crate::amcp::{ChannelLayer, TransitionKind};
use crate::playout::engine::{NewItem, Op};
use crate::playout::model::{ItemFields, Transition};

/// Every op a client may send, in the order of `docs/ws-protocol.md`.
pub const OPS: &[&str] = &[
    "playlist.create",
    "playlist.delete",
    "playlist.select",
    "playlist.rename",
    "playlist.loop",
    "item.add",
    "item.insert",
    "item.move",
    "item.remove",
    "item.update",
    "playout.cue",
    "playout.take",
    "playout.next",
    "playout.previous",
    "playout.skip",
    "playout.stop",
    "playout.pause",
    "playout.resume",
    "playout.clear",
    "playout.autoplay",
    "media.rescan",
    "health",
    "stats",
];

/// What a `command` asks for: an engine op, or one the session answers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Engine(Op),
    /// The `/health` document.
    Health,
    /// The daemon's counters.
    Stats,
}

/// Parses any op, including `health` and `stats`.
pub fn parse_command(op: &str, args: Value) -> Result<Command, ProtocolError> {
    match op {
        "health" => decode::<NoArgs>(op, args).map(|_| Command::Health),
        "stats" => decode::<NoArgs>(op, args).map(|_| Command::Stats),
        _ => parse_op(op, args).map(Command::Engine),
    }
}

/// Parses an engine op (every op except `health` and `stats`, which [`parse_command`] handles).
/// `args` may be `null` for ops without required arguments.
pub fn parse_op(op: &str, args: Value) -> Result<Op, ProtocolError> {
    Ok(match op {
        "playlist.create" => {
            let a: Create = decode(op, args)?;
            Op::PlaylistCreate {
                name: a.name,
                channel_layer: a.channel_layer,
            }
        }
        "playlist.delete" => Op::PlaylistDelete {
            playlist: decode::<Named>(op, args)?.playlist,
        },
        "playlist.select" => Op::PlaylistSelect {
            playlist: decode::<Named>(op, args)?.playlist,
        },
        "playlist.rename" => {
            let a: Rename = decode(op, args)?;
            Op::PlaylistRename {
                playlist: a.playlist,
                name: a.name,
            }
        }
        "playlist.loop" => {
            let a: Enabled = decode(op, args)?;
            Op::PlaylistLoop {
                playlist: a.playlist,
                enabled: a.enabled,
            }
        }
        "item.add" | "item.insert" => item_add(op, args)?,
        "item.move" => {
            let a: Move = decode(op, args)?;
            Op::ItemMove {
                playlist: a.playlist,
                item: a.item,
                index: a.index,
            }
        }
        "item.remove" => {
            let a: ItemRef = decode(op, args)?;
            Op::ItemRemove {
                playlist: a.playlist,
                item: a.item,
            }
        }
        "item.update" => item_update(op, args)?,
        "playout.cue" | "playout.take" => {
            let a: MaybeItem = decode(op, args)?;
            let (playlist, item) = (a.playlist, a.item);
            if op == "playout.cue" {
                Op::Cue { playlist, item }
            } else {
                Op::Take { playlist, item }
            }
        }
        "playout.next" | "playout.previous" | "playout.skip" | "playout.stop" | "playout.pause"
        | "playout.resume" | "playout.clear" => transport(op, decode::<Only>(op, args)?.playlist),
        "playout.autoplay" => {
            let a: Enabled = decode(op, args)?;
            Op::Autoplay {
                playlist: a.playlist,
                enabled: a.enabled,
            }
        }
        "media.rescan" => {
            decode::<NoArgs>(op, args)?;
            Op::MediaRescan
        }
        _ => return Err(ProtocolError::UnknownOp(op.to_owned())),
    })
}

/// The argument-less playout actions (they take an optional `playlist`).
fn transport(op: &str, playlist: Option<String>) -> Op {
    match op {
        "playout.next" => Op::Next { playlist },
        "playout.previous" => Op::Previous { playlist },
        "playout.skip" => Op::Skip { playlist },
        "playout.stop" => Op::Stop { playlist },
        "playout.pause" => Op::Pause { playlist },
        "playout.resume" => Op::Resume { playlist },
        _ => Op::Clear { playlist },
    }
}

fn item_add(op: &str, args: Value) -> Result<Op, ProtocolError> {
    let a: Add = decode(op, args)?;
    if op == "item.insert" && a.index.is_none() {
        return Err(bad(op, "missing field `index`"));
    }
    Ok(Op::ItemAdd {
        playlist: a.playlist,
        index: a.index,
        item: NewItem {
            clip: a.clip,
            title: a.title,
            transition: a.transition.map(|t| t.0),
            looping: a.looping,
            in_point: a.in_point,
            out_point: a.out_point,
            scheduled: a.scheduled,
        },
    })
}

fn item_update(op: &str, args: Value) -> Result<Op, ProtocolError> {
    let a: Update = decode(op, args)?;
    let fields = ItemFields {
        clip: a.clip,
        title: a.title,
        transition: a.transition.map(|t| t.0),
        looping: a.looping,
        in_point: a.in_point,
        out_point: a.out_point,
        scheduled: a.scheduled,
    };
    if fields == ItemFields::default() {
        return Err(bad(
            op,
            "nothing to change (give clip, title, transition, loop, in, out or scheduled)",
        ));
    }
    Ok(Op::ItemUpdate {
        playlist: a.playlist,
        item: a.item,
        fields,
    })
}

fn bad(op: &str, message: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::BadRequest(format!("{op}: {message}"))
}

/// Decodes `args` (`null` counts as `{}`) into an op's argument struct.
fn decode<T: for<'de> Deserialize<'de>>(op: &str, args: Value) -> Result<T, ProtocolError> {
    let map = match args {
        Value::Null => serde_json::Map::new(),
        Value::Object(map) => map,
        other => {
            return Err(bad(
                op,
                format!("args must be an object, not {}", kind_of(&other)),
            ));
        }
    };
    // Decode from text so the error has a position, and map the position back to the argument:
    // serde alone would say "expected a string" without saying which field.
    let mut text = String::from("{");
    let mut spans = Vec::with_capacity(map.len());
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&Value::String(key.clone()).to_string());
        text.push(':');
        let start = text.len();
        text.push_str(&value.to_string());
        spans.push((key.as_str(), start, text.len()));
    }
    text.push('}');
    serde_json::from_str(&text).map_err(|e| {
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        // serde_json's column is 1-based and points at (or just past) the offending value.
        let at = e.column();
        match spans
            .iter()
            .find(|(_, start, end)| *start < at && at <= *end + 1)
        {
            Some((key, _, _)) if e.classify() == serde_json::error::Category::Data => {
                bad(op, format!("`{key}`: {message}"))
            }
            _ => bad(op, message),
        }
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `Some(None)` for an explicit `null` (clear the field), `None` when absent (leave it).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A transition as an object (`{"kind":"MIX","frames":25,"tween":"LINEAR"}`) or as the short text
/// form operators type (`"MIX 25 LINEAR"`, kind in any case).
struct TransitionArg(Transition);

impl<'de> Deserialize<'de> for TransitionArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            Object(Transition),
        }
        match Form::deserialize(d) {
            Ok(Form::Object(t)) => Ok(TransitionArg(t)),
            Ok(Form::Text(s)) => parse_transition(&s)
                .map(TransitionArg)
                .map_err(serde::de::Error::custom),
            Err(_) => Err(serde::de::Error::custom(
                "transition must be like \"MIX 25\" or {\"kind\":\"MIX\",\"frames\":25}",
            )),
        }
    }
}

fn parse_transition(s: &str) -> Result<Transition, String> {
    let mut words = s.split_whitespace();
    let kind = match words.next().map(str::to_ascii_uppercase).as_deref() {
        Some("CUT") => TransitionKind::Cut,
        Some("MIX") => TransitionKind::Mix,
        Some("PUSH") => TransitionKind::Push,
        Some("SLIDE") => TransitionKind::Slide,
        Some("WIPE") => TransitionKind::Wipe,
        _ => {
            return Err(format!(
                "transition {s:?}: kind must be CUT, MIX, PUSH, SLIDE or WIPE"
            ));
        }
    };
    let frames = match words.next() {
        None => 0,
        Some(f) => f
            .parse()
            .map_err(|_| format!("transition {s:?}: frames must be a whole number"))?,
    };
    let tween = words.next().map(str::to_owned);
    if words.next().is_some() {
        return Err(format!("transition {s:?}: expected KIND [frames] [tween]"));
    }
    Ok(Transition {
        kind,
        frames,
        tween,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Only {
    #[serde(default)]
    playlist: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    name: String,
    #[serde(default)]
    channel_layer: Option<ChannelLayer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Named {
    playlist: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rename {
    #[serde(default)]
    playlist: Option<String>,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Enabled {
    #[serde(default)]
    playlist: Option<String>,
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Add {
    #[serde(default)]
    playlist: Option<String>,
    clip: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    transition: Option<TransitionArg>,
    #[serde(default, rename = "loop")]
    looping: bool,
    #[serde(default, rename = "in")]
    in_point: Option<u64>,
    #[serde(default, rename = "out")]
    out_point: Option<u64>,
    #[serde(default)]
    scheduled: Option<String>,
    #[serde(default)]
    index: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    #[serde(default)]
    playlist: Option<String>,
    item: String,
    index: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemRef {
    #[serde(default)]
    playlist: Option<String>,
    item: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaybeItem {
    #[serde(default)]
    playlist: Option<String>,
    #[serde(default)]
    item: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default)]
    playlist: Option<String>,
    item: String,
    #[serde(default)]
    clip: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    title: Option<Option<String>>,
    #[serde(default)]
    transition: Option<TransitionArg>,
    #[serde(default, rename = "loop")]
    looping: Option<bool>,
    #[serde(default, rename = "in", deserialize_with = "nullable")]
    in_point: Option<Option<u64>>,
    #[serde(default, rename = "out", deserialize_with = "nullable")]
    out_point: Option<Option<u64>>,
    #[serde(default, deserialize_with = "nullable")]
    scheduled: Option<Option<String>>,
}
