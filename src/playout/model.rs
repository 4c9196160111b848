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
pub use super::text::{
    escape_hidden, hidden_kind, is_format, is_windows_device_name, new_item_id, slug, validate_id,
};
pub(crate) use super::text::{
    validate_clip, validate_scheduled, validate_text, validate_title, validate_tween,
};

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

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> PlaylistError {
    PlaylistError::Invalid {
        field,
        reason: reason.into(),
    }
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

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
