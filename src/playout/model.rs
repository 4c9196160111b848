//! Playlists and items: the data, its validation, and every edit as a pure operation with a typed error.
//!
//! Everything here is plain data that serializes to the playlist files and the WebSocket snapshot.
//! Edits validate before they change anything, so a failed edit leaves the playlist untouched.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::fill::{EndAction, FillerMode};
use super::graphics::{ItemGraphics, Logo};
use super::timing::{StartMode, validate_air_date, validate_start};
use crate::amcp::{ChannelLayer, Transition as AmcpTransition, TransitionKind};

pub use super::items::{Items, Slot};

/// Hard limits that keep files, snapshots and memory bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_playlists: usize,
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_playlists: 100,
            max_items: 10_000,
        }
    }
}

/// Longest clip name, title or playlist name accepted.
pub const MAX_TEXT: usize = 512;
/// Longest transition accepted, in frames (a minute at 50 fps).
pub const MAX_TRANSITION_FRAMES: u32 = 3000;

/// A transition into an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub kind: TransitionKind,
    /// Duration in channel frames (0 = cut).
    #[serde(default)]
    pub frames: u32,
    /// Tween name such as `LINEAR` or `EASEINSINE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tween: Option<String>,
}

impl Default for Transition {
    fn default() -> Self {
        Transition {
            kind: TransitionKind::Cut,
            frames: 0,
            tween: None,
        }
    }
}

impl Transition {
    /// The AMCP form, or `None` for a plain cut.
    pub fn to_amcp(&self) -> Option<AmcpTransition> {
        (self.kind != TransitionKind::Cut || self.frames > 0).then(|| AmcpTransition {
            kind: self.kind,
            frames: self.frames,
            tween: self.tween.clone(),
            direction: None,
        })
    }

    /// Frames by which AUTO starts the next clip early (the transition's duration).
    pub fn auto_delta(&self) -> u64 {
        if self.kind == TransitionKind::Cut {
            0
        } else {
            u64::from(self.frames)
        }
    }
}

/// One entry of a rundown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable id, unique within the daemon; never reused.
    pub id: String,
    pub clip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Length in the clip's own frames, from CLS (None until the media library knows the clip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<u64>,
    /// The clip's frame rate as a fraction, from CLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<(u32, u32)>,
    /// In point, in channel frames from the start of the clip.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub in_point: Option<u64>,
    /// Out point, in channel frames from the start of the clip.
    #[serde(default, rename = "out", skip_serializing_if = "Option::is_none")]
    pub out_point: Option<u64>,
    #[serde(default, rename = "loop")]
    pub looping: bool,
    #[serde(default)]
    pub transition: Transition,
    /// A time of day, `HH:MM:SS`, for people only (a note such as "about 18:05"); onair does not
    /// act on it. `at` is the time that starts an item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<String>,
    /// How the item starts (default `follow`, left out).
    #[serde(default, skip_serializing_if = "StartMode::is_follow")]
    pub start: StartMode,
    /// Station-local time of day of a hard or soft start, `HH:MM:SS` or `HH:MM:SS.mmm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Its secondary events and whether the playlist's logo shows during it (left out when
    /// none and the logo shows).
    #[serde(default, skip_serializing_if = "ItemGraphics::is_default")]
    pub graphics: ItemGraphics,
}

/// Fields a client may set when adding an item or change with `item.update`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemFields {
    #[serde(default)]
    pub clip: Option<String>,
    #[serde(default)]
    pub title: Option<Option<String>>,
    #[serde(default)]
    pub transition: Option<Transition>,
    #[serde(default, rename = "loop")]
    pub looping: Option<bool>,
    #[serde(default, rename = "in")]
    pub in_point: Option<Option<u64>>,
    #[serde(default, rename = "out")]
    pub out_point: Option<Option<u64>>,
    #[serde(default)]
    pub scheduled: Option<Option<String>>,
    #[serde(default)]
    pub start: Option<StartMode>,
    #[serde(default)]
    pub at: Option<Option<String>>,
    /// Replaces the item's graphics whole (its events and its logo flag).
    #[serde(default)]
    pub graphics: Option<ItemGraphics>,
}

/// A named rundown bound to one channel-layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Playlist {
    /// Stable id; also the file name (`<id>.json`).
    pub id: String,
    pub name: String,
    pub channel_layer: ChannelLayer,
    /// The server it plays on: a `[[servers]]` name (with its backup, when it has one); none: the
    /// station's first server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The items in rundown order.
    // A persistent vector of shared items: a copy of a playlist (the engine's staged one, each
    // snapshot's) costs O(1) and an edit O(log n), so an edit's cost does not grow with the rundown.
    #[serde(default)]
    #[schemars(with = "Vec<Item>")]
    pub items: Items,
    /// Start again from the top after the last item.
    #[serde(default, rename = "loop")]
    pub looping: bool,
    /// Advance to the next item automatically and frame-accurately.
    #[serde(default = "yes")]
    pub autoplay: bool,
    /// Incremented by every accepted edit; lets a reader tell which version it has.
    #[serde(default)]
    pub revision: u64,
    /// The channel day this rundown is for, `YYYY-MM-DD` (none: not tied to a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub air_date: Option<String>,
    /// This playlist is its channel-layer's filler, its clips played in this order in every gap
    /// of the layer's other playlists (none: an ordinary rundown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filler: Option<FillerMode>,
    /// What the layer shows after this rundown's last item (default `filler`, left out).
    #[serde(default, skip_serializing_if = "EndAction::is_default")]
    pub end_action: EndAction,
    /// The standing logo on the playlist's channel while it is on air (none: no logo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<Logo>,
}

fn yes() -> bool {
    true
}

/// Why an edit or a playlist was rejected. `code()` is what WebSocket clients match on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlaylistError {
    #[error("no playlist {0:?}")]
    PlaylistNotFound(String),
    #[error("no item {0:?} in this playlist")]
    ItemNotFound(String),
    #[error("index {index} is out of range (the playlist has {len} items)")]
    IndexOutOfRange { index: usize, len: usize },
    #[error("the playlist is full ({max} items)")]
    TooManyItems { max: usize },
    #[error("too many playlists ({max})")]
    TooManyPlaylists { max: usize },
    #[error("a playlist with id {0:?} already exists")]
    AlreadyExists(String),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl PlaylistError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PlaylistError::PlaylistNotFound(_) => "playlist_not_found",
            PlaylistError::ItemNotFound(_) => "item_not_found",
            PlaylistError::IndexOutOfRange { .. } => "index_out_of_range",
            PlaylistError::TooManyItems { .. } => "too_many_items",
            PlaylistError::TooManyPlaylists { .. } => "too_many_playlists",
            PlaylistError::AlreadyExists(_) => "already_exists",
            PlaylistError::Invalid { .. } => "invalid",
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PlaylistError {
    PlaylistError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Checks an id (`[A-Za-z0-9_-]{1,64}`): ids become file names and protocol tokens.
pub fn validate_id(field: &'static str, id: &str) -> Result<(), PlaylistError> {
    if id.is_empty() || id.len() > 64 {
        return Err(invalid(field, "must be 1 to 64 characters"));
    }
    if let Some(c) = id
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(invalid(
            field,
            format!(
                "contains {}; an id may contain only letters, digits, '-' and '_'",
                code_point(c)
            ),
        ));
    }
    Ok(())
}

/// `U+202E` for a character, with its category when that is why it was refused.
fn code_point(c: char) -> String {
    match hidden_kind(c) {
        Some(kind) => format!("U+{:04X} ({kind})", u32::from(c)),
        None => format!("U+{:04X} {c:?}", u32::from(c)),
    }
}

/// Why a character must not appear in a name that is shown to people and sent to CasparCG: control
/// characters, line and paragraph separators, and format characters (Unicode category Cf: the
/// bidirectional overrides and isolates U+202A–U+202E, U+2066–U+2069, zero-width characters…),
/// which make the console show one name while another plays.
pub fn hidden_kind(c: char) -> Option<&'static str> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    // Printable ASCII, nearly every character of every clip name and id, needs no table lookup
    // (the lookup was a visible share of the daemon's CPU per edit).
    if matches!(c, ' '..='~') {
        return None;
    }
    match c.general_category() {
        GeneralCategory::Control => Some("a control character"),
        GeneralCategory::Format => Some("an invisible format character"),
        GeneralCategory::LineSeparator => Some("a line separator"),
        GeneralCategory::ParagraphSeparator => Some("a paragraph separator"),
        _ => None,
    }
}

fn validate_text(field: &'static str, text: &str, allow_empty: bool) -> Result<(), PlaylistError> {
    if !allow_empty && text.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if text.len() > MAX_TEXT {
        return Err(invalid(field, format!("longer than {MAX_TEXT} bytes")));
    }
    if let Some(c) = text.chars().find(|&c| hidden_kind(c).is_some()) {
        return Err(invalid(
            field,
            format!("contains {}, which is not allowed", code_point(c)),
        ));
    }
    Ok(())
}

/// Titles are free text for people: any printable character, format characters included (emoji
/// joiners, Arabic marks), which the console and the page show escaped; control characters and
/// line breaks are refused as in names.
fn validate_title(text: &str) -> Result<(), PlaylistError> {
    if text.len() > MAX_TEXT {
        return Err(invalid("title", format!("longer than {MAX_TEXT} bytes")));
    }
    let refused = |c: char| hidden_kind(c).is_some() && !is_format(c);
    if let Some(c) = text.chars().find(|&c| refused(c)) {
        return Err(invalid(
            "title",
            format!("contains {}, which is not allowed", code_point(c)),
        ));
    }
    Ok(())
}

/// Unicode category Cf.
pub fn is_format(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.general_category() == GeneralCategory::Format
}

/// `text` with every character that [`hidden_kind`] names written visibly as `<U+202E>`, for
/// showing titles (the console; the web page does the same in JavaScript).
pub fn escape_hidden(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| hidden_kind(c).is_some()) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hidden_kind(c).is_some() {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A clip must be expressible in AMCP: no control characters, and not a keyword the server scans for.
pub(crate) fn validate_clip(clip: &str) -> Result<(), PlaylistError> {
    validate_text("clip", clip, false)?;
    let probe = crate::amcp::Command::LoadBg(
        ChannelLayer {
            channel: 1,
            layer: Some(1),
        },
        crate::amcp::Clip::new(clip),
    );
    probe
        .encode()
        .map(|_| ())
        .map_err(|e| invalid("clip", e.to_string()))
}

fn validate_scheduled(s: &str) -> Result<(), PlaylistError> {
    let parts: Vec<&str> = s.split(':').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0] < "24"
        && parts[1] < "60"
        && parts[2] < "60";
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "scheduled",
            format!("{s:?} is not a time of day HH:MM:SS"),
        ))
    }
}

/// A CasparCG tween name (`LINEAR`, `EASEINSINE`…): letters and digits, at most 32.
pub(crate) fn validate_tween(field: &'static str, t: &str) -> Result<(), PlaylistError> {
    if t.is_empty() || t.len() > 32 || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid(field, format!("tween {t:?} is not a tween name")));
    }
    Ok(())
}

impl Transition {
    fn validate(&self) -> Result<(), PlaylistError> {
        if self.frames > MAX_TRANSITION_FRAMES {
            return Err(invalid(
                "transition",
                format!("at most {MAX_TRANSITION_FRAMES} frames"),
            ));
        }
        if let Some(t) = &self.tween {
            validate_tween("transition", t)?;
        }
        Ok(())
    }
}

impl Item {
    /// A new item for `clip` with the given id and defaults.
    pub fn new(id: String, clip: impl Into<String>) -> Self {
        Item {
            id,
            clip: clip.into(),
            title: None,
            frames: None,
            fps: None,
            in_point: None,
            out_point: None,
            looping: false,
            transition: Transition::default(),
            scheduled: None,
            start: StartMode::Follow,
            at: None,
            graphics: ItemGraphics::default(),
        }
    }

    /// Validates every field.
    pub fn validate(&self) -> Result<(), PlaylistError> {
        validate_id("item", &self.id)?;
        validate_clip(&self.clip)?;
        if let Some(t) = &self.title {
            validate_title(t)?;
        }
        if let (Some(i), Some(o)) = (self.in_point, self.out_point)
            && o <= i
        {
            return Err(invalid("out", "must be after the in point"));
        }
        if let Some(s) = &self.scheduled {
            validate_scheduled(s)?;
        }
        validate_start(self.start, self.at.as_deref())?;
        self.graphics.validate(None)?;
        self.transition.validate()
    }

    /// Applies `fields`; on error the item is unchanged.
    pub fn apply(&mut self, fields: &ItemFields) -> Result<(), PlaylistError> {
        let mut next = self.clone();
        if let Some(clip) = &fields.clip {
            if *clip != next.clip {
                next.frames = None;
                next.fps = None;
            }
            next.clip = clip.clone();
        }
        if let Some(t) = &fields.title {
            next.title = t.clone().filter(|t| !t.is_empty());
        }
        if let Some(t) = &fields.transition {
            next.transition = t.clone();
        }
        if let Some(l) = fields.looping {
            next.looping = l;
        }
        if let Some(i) = fields.in_point {
            next.in_point = i;
        }
        if let Some(o) = fields.out_point {
            next.out_point = o;
        }
        if let Some(s) = &fields.scheduled {
            next.scheduled = s.clone();
        }
        if let Some(mode) = fields.start {
            next.start = mode;
            if mode == StartMode::Follow && fields.at.is_none() {
                // The time belongs to the mode: switching to follow drops it.
                next.at = None;
            }
        }
        if let Some(at) = &fields.at {
            next.at = at.clone();
        }
        if let Some(g) = &fields.graphics {
            next.graphics = g.clone();
        }
        next.validate()?;
        *self = next;
        Ok(())
    }
}

impl Playlist {
    /// An empty playlist.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        channel_layer: ChannelLayer,
    ) -> Self {
        Playlist {
            id: id.into(),
            name: name.into(),
            channel_layer,
            server: None,
            items: Items::new(),
            looping: false,
            autoplay: true,
            revision: 0,
            air_date: None,
            filler: None,
            end_action: EndAction::Filler,
            logo: None,
        }
    }

    /// Validates the whole playlist (used on load, including files edited by hand).
    pub fn validate(&self, limits: &Limits) -> Result<(), PlaylistError> {
        validate_id("playlist", &self.id)?;
        validate_text("name", &self.name, false)?;
        if self.channel_layer.layer.is_none() {
            return Err(invalid("channel_layer", "needs a layer, e.g. 1-10"));
        }
        if let Some(server) = &self.server {
            validate_id("server", server)?;
        }
        self.validate_role()?;
        if let Some(logo) = &self.logo {
            logo.validate(self.channel_layer.layer)?;
        }
        if self.items.len() > limits.max_items {
            return Err(PlaylistError::TooManyItems {
                max: limits.max_items,
            });
        }
        let mut seen = std::collections::HashSet::with_capacity(self.items.len());
        for item in &self.items {
            item.validate()?;
            self.validate_for_role(item)?;
            if !seen.insert(item.id.as_str()) {
                return Err(invalid("item", format!("duplicate item id {:?}", item.id)));
            }
        }
        Ok(())
    }

    /// The air date, and whether a filler may be one: a filler fills every day, so it has no air
    /// date and no end action of its own.
    pub fn validate_role(&self) -> Result<(), PlaylistError> {
        if let Some(d) = &self.air_date {
            validate_air_date(d)?;
        }
        if self.filler.is_some() && self.air_date.is_some() {
            return Err(invalid(
                "filler",
                "a filler plays on every day; clear air_date to make this playlist the filler",
            ));
        }
        if self.filler.is_some() && !self.end_action.is_default() {
            return Err(invalid(
                "end_action",
                "a filler loops and never ends; end_action belongs to the rundowns",
            ));
        }
        Ok(())
    }

    /// A filler's clips play wherever a gap is: they have no fixed times. And an item's graphics
    /// stay off the playlist's clip layer.
    pub fn validate_for_role(&self, item: &Item) -> Result<(), PlaylistError> {
        self.validate_graphics(item)?;
        if self.filler.is_some() && item.start != StartMode::Follow {
            return Err(invalid(
                "start",
                format!(
                    "item {:?} has a {} start, but a filler's clips play in gaps and have no \
                     fixed times",
                    item.id,
                    item.start.keyword()
                ),
            ));
        }
        Ok(())
    }

    /// An item's graphics may not use the playlist's own clip layer.
    pub fn validate_graphics(&self, item: &Item) -> Result<(), PlaylistError> {
        item.graphics.validate(self.channel_layer.layer)
    }

    /// Position of an item.
    pub fn index_of(&self, item: &str) -> Option<usize> {
        super::items::position(&self.items, item)
    }

    /// The item with this id.
    pub fn item(&self, item: &str) -> Option<&Item> {
        self.index_of(item).map(|at| &*self.items[at])
    }

    /// Inserts at `index` (`None` appends).
    pub fn insert(
        &mut self,
        index: Option<usize>,
        item: Item,
        limits: &Limits,
    ) -> Result<(), PlaylistError> {
        if self.items.len() >= limits.max_items {
            return Err(PlaylistError::TooManyItems {
                max: limits.max_items,
            });
        }
        item.validate()?;
        self.validate_graphics(&item)?;
        if self.index_of(&item.id).is_some() {
            return Err(invalid("item", format!("duplicate item id {:?}", item.id)));
        }
        let len = self.items.len();
        let at = index.unwrap_or(len);
        if at > len {
            return Err(PlaylistError::IndexOutOfRange { index: at, len });
        }
        self.items.insert(at, Slot::from(item));
        self.revision += 1;
        Ok(())
    }

    /// Moves an item to `index` (its position after the move).
    pub fn move_item(&mut self, item: &str, index: usize) -> Result<(), PlaylistError> {
        let from = self
            .index_of(item)
            .ok_or_else(|| PlaylistError::ItemNotFound(item.to_owned()))?;
        let len = self.items.len();
        if index >= len {
            return Err(PlaylistError::IndexOutOfRange { index, len });
        }
        let it = self.items.remove(from);
        self.items.insert(index, it);
        self.revision += 1;
        Ok(())
    }

    /// Removes an item and returns it.
    pub fn remove(&mut self, item: &str) -> Result<Arc<Item>, PlaylistError> {
        let at = self
            .index_of(item)
            .ok_or_else(|| PlaylistError::ItemNotFound(item.to_owned()))?;
        self.revision += 1;
        Ok(Arc::clone(self.items.remove(at).item()))
    }

    /// Changes an item's fields.
    pub fn update(&mut self, item: &str, fields: &ItemFields) -> Result<(), PlaylistError> {
        let at = self
            .index_of(item)
            .ok_or_else(|| PlaylistError::ItemNotFound(item.to_owned()))?;
        let mut changed = (*self.items[at]).clone();
        changed.apply(fields)?;
        self.validate_graphics(&changed)?;
        self.items.set(at, Slot::from(changed));
        self.revision += 1;
        Ok(())
    }

    /// Renames the playlist (the id, and so the file, stays).
    pub fn rename(&mut self, name: &str) -> Result<(), PlaylistError> {
        validate_text("name", name, false)?;
        self.name = name.to_owned();
        self.revision += 1;
        Ok(())
    }
}

/// A file-safe id derived from a display name: lower-case ASCII letters and digits, `-` elsewhere.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 48 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "playlist".to_owned()
    } else if is_windows_device_name(&out) {
        // `con.json` cannot be opened on Windows, where a copied data directory may end up.
        format!("{out}-playlist")
    } else {
        out
    }
}

/// Windows' reserved device names (`con`, `prn`, `aux`, `nul`, `com1`–`com9`, `lpt1`–`lpt9`), with
/// or without an extension, in any case.
pub fn is_windows_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_lowercase();
    match stem.as_str() {
        "con" | "prn" | "aux" | "nul" => true,
        _ => match (stem.get(..3), stem.get(3..)) {
            (Some("com" | "lpt"), Some(d)) => {
                d.len() == 1 && d.bytes().all(|b| (b'1'..=b'9').contains(&b))
            }
            _ => false,
        },
    }
}

/// A new random item id (`i` + 16 hex digits): unique without coordination, even across restarts.
pub fn new_item_id() -> String {
    format!("i{:016x}", fastrand::u64(..))
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
