//! The arguments of each op ([`super::Request`]), one struct per shape.
//!
//! Every struct rejects unknown fields, so a typo such as `"titel"` is an error the client sees
//! instead of an edit that silently did nothing. Optional fields are left out when unset, so what
//! the console sends looks like what a person would type. `playlist` is a playlist id and means
//! the selected playlist wherever it is optional; `item` is an item id.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

use super::{ChannelLayer, EndAction, FillerMode, StartMode, Transition, TransitionKind};
use crate::playout::graphics::{ItemGraphics, Logo};

/// `playlist.create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaylistCreate {
    /// The new playlist's name; its id is derived from it.
    pub name: String,
    /// Like `"1-10"`; default from `playout.default_channel_layer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_layer: Option<ChannelLayer>,
    /// The `[[servers]]` name it plays on (with that server's backup); default: the first server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

/// `playlist.delete`, `playlist.select`: one playlist, named explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaylistId {
    pub playlist: String,
}

/// `playlist.rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaylistRename {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub name: String,
}

/// `playlist.update`: a field left out is unchanged; `null` clears `air_date`. At least one field
/// besides `playlist` must be given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaylistUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "loop", skip_serializing_if = "Option::is_none")]
    pub looping: Option<bool>,
    /// The channel day the rundown is for, `YYYY-MM-DD`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub air_date: Option<Option<String>>,
    /// Makes the playlist its layer's filler (`"in_order"` or `"shuffle"`); `null` makes it an
    /// ordinary rundown again.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub filler: Option<Option<FillerMode>>,
    /// What the layer shows after the rundown's last item: `filler`, `black` or `hold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_action: Option<EndAction>,
    /// The standing logo on the channel while this playlist is on air; `null` removes it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub logo: Option<Option<Logo>>,
}

impl PlaylistUpdate {
    /// Whether it changes nothing (only `playlist` given), which is refused.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.looping.is_none()
            && self.air_date.is_none()
            && self.filler.is_none()
            && self.end_action.is_none()
            && self.logo.is_none()
    }
}

/// `playlist.loop`, `playout.autoplay`: a playlist's setting on or off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub enabled: bool,
}

/// `item.add`: a new item at the end, or at `index`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemAdd {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub clip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// An object or the short text form (`"MIX 25 LINEAR"`).
    #[serde(
        default,
        deserialize_with = "transition_arg",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<TransitionArg>")]
    pub transition: Option<Transition>,
    #[serde(default, rename = "loop", skip_serializing_if = "is_false")]
    pub looping: bool,
    /// In point, in channel frames.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub in_point: Option<u64>,
    /// Out point, in channel frames.
    #[serde(default, rename = "out", skip_serializing_if = "Option::is_none")]
    pub out_point: Option<u64>,
    /// `HH:MM:SS`, for information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<String>,
    /// `follow` (default), `hard` or `soft`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartMode>,
    /// Station-local time of day of a hard or soft start, `HH:MM:SS` or `HH:MM:SS.mmm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Secondary events and the logo flag (docs/graphics.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphics: Option<Box<ItemGraphics>>,
    /// Position of the new item (0 = top); default: the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

/// `item.insert`: like `item.add`, with `index` required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInsert {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub clip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// An object or the short text form (`"MIX 25 LINEAR"`).
    #[serde(
        default,
        deserialize_with = "transition_arg",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<TransitionArg>")]
    pub transition: Option<Transition>,
    #[serde(default, rename = "loop", skip_serializing_if = "is_false")]
    pub looping: bool,
    /// In point, in channel frames.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub in_point: Option<u64>,
    /// Out point, in channel frames.
    #[serde(default, rename = "out", skip_serializing_if = "Option::is_none")]
    pub out_point: Option<u64>,
    /// `HH:MM:SS`, for information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<String>,
    /// `follow` (default), `hard` or `soft`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartMode>,
    /// Station-local time of day of a hard or soft start, `HH:MM:SS` or `HH:MM:SS.mmm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Secondary events and the logo flag (docs/graphics.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphics: Option<Box<ItemGraphics>>,
    /// Position of the new item (0 = top).
    pub index: usize,
}

/// `item.move`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemMove {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub item: String,
    /// The item's position after the move.
    pub index: usize,
}

/// `item.remove`: one item, named explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemId {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub item: String,
}

/// `item.update`: a field left out is unchanged; `null` clears `title`, `in`, `out`, `scheduled`
/// or `at`. At least one field besides `playlist` and `item` must be given. Setting `start` to
/// `follow` without `at` clears `at`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub item: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<Option<String>>,
    /// An object or the short text form (`"MIX 25 LINEAR"`).
    #[serde(
        default,
        deserialize_with = "transition_arg",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<TransitionArg>")]
    pub transition: Option<Transition>,
    #[serde(default, rename = "loop", skip_serializing_if = "Option::is_none")]
    pub looping: Option<bool>,
    #[serde(
        default,
        rename = "in",
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub in_point: Option<Option<u64>>,
    #[serde(
        default,
        rename = "out",
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub out_point: Option<Option<u64>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduled: Option<Option<String>>,
    /// `follow`, `hard` or `soft`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartMode>,
    /// `HH:MM:SS` or `HH:MM:SS.mmm`; required by a hard or soft start.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub at: Option<Option<String>>,
    /// Replaces the item's graphics whole: its secondary events and its logo flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphics: Option<Box<ItemGraphics>>,
}

impl ItemUpdate {
    /// Whether it changes nothing (only `playlist` and `item` given), which is refused.
    pub fn is_empty(&self) -> bool {
        self.clip.is_none()
            && self.title.is_none()
            && self.transition.is_none()
            && self.looping.is_none()
            && self.in_point.is_none()
            && self.out_point.is_none()
            && self.scheduled.is_none()
            && self.start.is_none()
            && self.at.is_none()
            && self.graphics.is_none()
    }
}

/// `playout.cue`, `playout.take`: an item, or the default one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionalItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    /// Default for `cue`: the next item; for `take`: what is cued, else the next item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
}

/// The playout actions without an item (`playout.next` … `playout.clear`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
}

/// `graphics.fire`: shows an item's secondary event now, by hand (off after its duration when
/// it has one, else when cleared).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphicsFire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub item: String,
    pub event: String,
}

/// `graphics.update`: new data for the template on `layer` of the playlist's channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphicsUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub layer: i32,
    pub data: crate::playout::graphics::TemplateData,
}

/// `graphics.invoke`: calls `method` of the template on `layer` (`CG … INVOKE`), e.g. a
/// template's `next_headline`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphicsInvoke {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub layer: i32,
    pub method: String,
}

/// `graphics.clear`: takes what shows on `layer` of the playlist's channel off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphicsLayer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub layer: i32,
}

/// The arguments of ops that take none: `{}`, `null` or left out.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NoArgs {}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `Some(None)` for an explicit `null` (clear the field), `None` when absent (leave it).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn transition_arg<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Transition>, D::Error> {
    Option::<TransitionArg>::deserialize(d).map(|t| t.map(|t| t.0))
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

impl JsonSchema for TransitionArg {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TransitionArg".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        // JSON Schema patterns have no case-insensitive flag: spell each letter both ways.
        let kinds: Vec<String> = TransitionKind::ALL
            .iter()
            .map(|k| {
                k.keyword()
                    .chars()
                    .map(|c| format!("[{c}{}]", c.to_ascii_lowercase()))
                    .collect()
            })
            .collect();
        let pattern = format!(r"^\s*({})(\s+[0-9]+(\s+\S+)?)?\s*$", kinds.join("|"));
        json_schema!({
            "anyOf": [
                {
                    "type": "string",
                    "description": "KIND [frames] [tween], kind in any case, e.g. \"MIX 25 LINEAR\"",
                    "pattern": pattern,
                },
                generator.subschema_for::<Transition>(),
            ]
        })
    }
}

fn parse_transition(s: &str) -> Result<Transition, String> {
    let mut words = s.split_whitespace();
    let first = words.next().map(str::to_ascii_uppercase);
    let Some(kind) = TransitionKind::ALL
        .into_iter()
        .find(|k| Some(k.keyword()) == first.as_deref())
    else {
        return Err(format!(
            "transition {s:?}: kind must be CUT, MIX, PUSH, SLIDE or WIPE"
        ));
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
