//! The typed request: one [`Request`] variant per op, defined by one list that also gives the op
//! names ([`Request::NAMES`], in the order of `docs/ws-protocol.md`, which a test checks), the role
//! each op needs ([`Request::role_needed`], which [`Role::may_run`] uses) and the JSON Schema of a
//! command's `op` and `args`.
//!
//! On the wire a request is adjacently tagged, `"op":"item.add","args":{…}`, flattened into the
//! `command` message. `args` may be left out or `null` when the op has no required argument.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use super::args::{
    GraphicsFire, GraphicsInvoke, GraphicsLayer, GraphicsUpdate, ItemAdd, ItemId, ItemInsert,
    ItemMove, ItemUpdate, NoArgs, OptionalItem, PlaylistCreate, PlaylistId, PlaylistRename,
    PlaylistUpdate, Setting, Target,
};
use super::decode::{bad, decode};
use super::{ProtocolError, Role};

/// Defines [`Request`] and everything derived from its list of ops. Each entry is
/// `/// docs` `"op.name" => Variant(Args), Role;` (no `(Args)` for ops without arguments).
macro_rules! requests {
    (@pattern $variant:ident ($args:ty)) => { Request::$variant(_) };
    (@pattern $variant:ident) => { Request::$variant };
    (@decode $op:ident, $value:ident, $variant:ident ($args:ty)) => {
        Request::$variant(decode::<$args>($op, $value)?)
    };
    (@decode $op:ident, $value:ident, $variant:ident) => {{
        decode::<NoArgs>($op, $value)?;
        Request::$variant
    }};
    (@schema $generator:ident, ($args:ty)) => { $generator.subschema_for::<$args>() };
    (@schema $generator:ident,) => { $generator.subschema_for::<NoArgs>() };
    ($(
        $(#[doc = $doc:literal])+
        $name:literal => $variant:ident $(($args:ty))?, $role:ident;
    )+) => {
        /// A command's op and its arguments, e.g. `"op":"item.add","args":{"clip":"A"}`.
        ///
        /// Build one and send it in a [`super::ClientMsg::Command`]; the server parses it with
        /// [`Request::parse`] rather than serde's derive, so errors name the op and the argument
        /// and an unknown op has its own code.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(tag = "op", content = "args")]
        pub enum Request {
            $(
                $(#[doc = $doc])+
                #[serde(rename = $name)]
                $variant $(($args))?,
            )+
        }

        impl Request {
            /// Every op, in the order of `docs/ws-protocol.md`.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The op's name, as on the wire.
            pub fn name(&self) -> &'static str {
                match self {
                    $(requests!(@pattern $variant $(($args))?) => $name,)+
                }
            }

            /// The least role that may run the op named `op`; `None` for an unknown op.
            pub fn role_needed(op: &str) -> Option<Role> {
                match op {
                    $($name => Some(Role::$role),)+
                    _ => None,
                }
            }

            /// Decodes `args` into the op's arguments, without the checks serde cannot express.
            fn decode(op: &str, value: Value) -> Result<Request, ProtocolError> {
                Ok(match op {
                    $($name => requests!(@decode op, value, $variant $(($args))?),)+
                    _ => return Err(ProtocolError::UnknownOp(op.to_owned())),
                })
            }

            /// `(name, docs, schema of args)` of every op.
            fn ops(generator: &mut SchemaGenerator) -> Vec<(&'static str, &'static str, Schema)> {
                vec![$((
                    $name,
                    concat!($($doc, "\n"),+),
                    requests!(@schema generator, $(($args))?),
                )),+]
            }
        }
    };
}

requests! {
    /// Creates a playlist; the ack carries its id, derived from the name.
    "playlist.create" => PlaylistCreate(PlaylistCreate), Operator;
    /// Deletes a playlist.
    "playlist.delete" => PlaylistDelete(PlaylistId), Operator;
    /// Selects the playlist that ops without `playlist` address.
    "playlist.select" => PlaylistSelect(PlaylistId), Operator;
    /// Renames a playlist (its id stays).
    "playlist.rename" => PlaylistRename(PlaylistRename), Operator;
    /// Turns a playlist's loop on or off.
    "playlist.loop" => PlaylistLoop(Setting), Operator;
    /// Changes a playlist's name, loop, air date, filler role or end action.
    "playlist.update" => PlaylistUpdate(PlaylistUpdate), Operator;
    /// Adds an item at the end, or at `index`.
    "item.add" => ItemAdd(ItemAdd), Operator;
    /// Inserts an item at `index`.
    "item.insert" => ItemInsert(ItemInsert), Operator;
    /// Moves an item to `index`.
    "item.move" => ItemMove(ItemMove), Operator;
    /// Removes an item.
    "item.remove" => ItemRemove(ItemId), Operator;
    /// Changes an item's fields.
    "item.update" => ItemUpdate(Box<ItemUpdate>), Operator;
    /// Loads an item in the background.
    "playout.cue" => Cue(OptionalItem), Operator;
    /// Puts an item on air.
    "playout.take" => Take(OptionalItem), Operator;
    /// Plays the next item.
    "playout.next" => Next(Target), Operator;
    /// Plays the previous item.
    "playout.previous" => Previous(Target), Operator;
    /// Skips the next item.
    "playout.skip" => Skip(Target), Operator;
    /// Stops playout; the layer goes empty.
    "playout.stop" => Stop(Target), Operator;
    /// Pauses the on-air item.
    "playout.pause" => Pause(Target), Operator;
    /// Resumes a paused item.
    "playout.resume" => Resume(Target), Operator;
    /// Clears the layer and the cue.
    "playout.clear" => Clear(Target), Operator;
    /// Turns a playlist's autoplay on or off.
    "playout.autoplay" => Autoplay(Setting), Operator;
    /// Shows an item's secondary event now, by hand.
    "graphics.fire" => GraphicsFire(GraphicsFire), Operator;
    /// Gives the template on a layer new data (`CG … UPDATE`).
    "graphics.update" => GraphicsUpdate(GraphicsUpdate), Operator;
    /// Calls a function of the template on a layer (`CG … INVOKE`).
    "graphics.invoke" => GraphicsInvoke(GraphicsInvoke), Operator;
    /// Takes what shows on a graphics layer off.
    "graphics.clear" => GraphicsClear(GraphicsLayer), Operator;
    /// Takes the playlist's logo off (`enabled: false`, kept off) or puts it back.
    "graphics.logo" => GraphicsLogo(Setting), Operator;
    /// Rescans the media library; the ack carries the number of clips.
    "media.rescan" => MediaRescan, Operator;
    /// The `GET /health` document, in the ack.
    "health" => Health, Viewer;
    /// The daemon's counters, in the ack.
    "stats" => Stats, Viewer;
}

impl Request {
    /// Parses a command's `op` and `args` (`null` when left out).
    pub fn parse(op: &str, args: Value) -> Result<Request, ProtocolError> {
        let request = Request::decode(op, args)?;
        match &request {
            Request::ItemUpdate(update) if update.is_empty() => Err(bad(
                op,
                "nothing to change (give clip, title, transition, loop, in, out, scheduled, start, at or graphics)",
            )),
            Request::PlaylistUpdate(update) if update.is_empty() => Err(bad(
                op,
                "nothing to change (give name, loop, air_date, filler, end_action or logo)",
            )),
            Request::GraphicsUpdate(u) => match u.data.validate() {
                Ok(()) => Ok(request),
                Err(e) => Err(bad(op, e)),
            },
            Request::GraphicsInvoke(i) => {
                match crate::playout::graphics::validate_method(&i.method) {
                    Ok(()) => Ok(request),
                    Err(e) => Err(bad(op, e)),
                }
            }
            _ => Ok(request),
        }
    }
}

/// Through [`Request::parse`], so a request decoded by serde (a test, a Rust client reading its own
/// log) obeys the same rules as one the server decodes.
impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            op: String,
            #[serde(default)]
            args: Value,
        }
        let raw = Raw::deserialize(d)?;
        Request::parse(&raw.op, raw.args).map_err(serde::de::Error::custom)
    }
}

/// One object schema per op; written by hand because the derive would require `args` everywhere,
/// while the server accepts it left out or `null` for every op without a required argument.
impl JsonSchema for Request {
    fn schema_name() -> Cow<'static, str> {
        "Request".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let ops: Vec<Value> = Request::ops(generator)
            .into_iter()
            .map(|(name, docs, args)| {
                let description = docs.lines().map(str::trim).collect::<Vec<_>>().join(" ");
                // Asking the parser keeps the schema true to what the server does.
                let (args, required) = if Request::parse(name, Value::Null).is_ok() {
                    (
                        json!({ "anyOf": [args, { "type": "null" }] }),
                        json!(["op"]),
                    )
                } else {
                    (args.to_value(), json!(["op", "args"]))
                };
                json!({
                    "type": "object",
                    "description": description.trim(),
                    "properties": { "op": { "const": name }, "args": args },
                    "required": required,
                })
            })
            .collect();
        json_schema!({ "oneOf": ops })
    }
}
