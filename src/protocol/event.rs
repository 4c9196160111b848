//! Sequenced changes: every state change is an [`Event`] with the next `seq`, and applying the
//! events after a snapshot's `seq` to it gives the current state.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Alarm, EndAction, FillerMode, Item, LinkView, MediaView, Missing, PlaylistView, Playout,
};
use crate::playout::change::Change;

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A whole playlist: it was created, or reloaded from its file after an edit outside onair.
    /// Every other change of a playlist is one of the item-level events below.
    Playlist {
        playlist: Box<PlaylistView>,
    },
    /// An item was inserted at `index` (its position afterwards). `revision` is the playlist's
    /// new revision; `missing` says whether the media library lacks the item's clip.
    ItemAdded {
        playlist: String,
        revision: u64,
        index: usize,
        item: Arc<Item>,
        missing: bool,
    },
    /// The item at `index` changed; `item` is the whole new item.
    ItemUpdated {
        playlist: String,
        revision: u64,
        index: usize,
        item: Arc<Item>,
        missing: bool,
    },
    /// An item moved from position `from` to `index` (its position afterwards).
    ItemMoved {
        playlist: String,
        revision: u64,
        item: String,
        from: usize,
        index: usize,
    },
    /// The item at `index` was removed.
    ItemRemoved {
        playlist: String,
        revision: u64,
        item: String,
        index: usize,
    },
    /// The playlist's name, loop, autoplay or air date changed.
    PlaylistSettings {
        playlist: String,
        revision: u64,
        name: String,
        #[serde(rename = "loop")]
        looping: bool,
        autoplay: bool,
        /// `YYYY-MM-DD`; left out when the playlist has none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        air_date: Option<String>,
        /// Set when the playlist is its layer's filler: the order its clips play in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filler: Option<FillerMode>,
        /// What the layer shows after the rundown's end; left out when `filler` (the default).
        #[serde(default, skip_serializing_if = "EndAction::is_default")]
        end_action: EndAction,
        /// The standing logo on the channel while the playlist is on air; left out when none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        logo: Option<crate::playout::graphics::Logo>,
    },
    /// What the playlist has on air, cued and next.
    Playout {
        playlist: String,
        playout: Playout,
    },
    /// The items whose clip the media library lacks (after a rescan changed the set).
    Missing {
        playlist: String,
        #[schemars(with = "Vec<String>")]
        missing: Missing,
    },
    PlaylistRemoved {
        playlist: String,
    },
    Selected {
        playlist: String,
    },
    Link {
        link: LinkView,
    },
    Media {
        media: Arc<MediaView>,
    },
    AlarmRaised {
        alarm: Alarm,
    },
    AlarmCleared {
        id: u64,
    },
    /// What onair has on the graphics layers changed: the whole list (a few per channel).
    Graphics {
        graphics: Vec<super::LiveGraphic>,
    },
}

impl EventKind {
    /// The item-level event for a durable `change` of `playlist`.
    /// The playlist an event is about, if any.
    pub fn playlist_id(&self) -> Option<&str> {
        match self {
            EventKind::Playlist { playlist } => Some(&playlist.playlist.id),
            EventKind::ItemAdded { playlist, .. }
            | EventKind::ItemUpdated { playlist, .. }
            | EventKind::ItemMoved { playlist, .. }
            | EventKind::ItemRemoved { playlist, .. }
            | EventKind::PlaylistSettings { playlist, .. }
            | EventKind::Playout { playlist, .. }
            | EventKind::PlaylistRemoved { playlist } => Some(playlist),
            EventKind::Missing { .. }
            | EventKind::Selected { .. }
            | EventKind::Link { .. }
            | EventKind::Media { .. }
            | EventKind::AlarmRaised { .. }
            | EventKind::AlarmCleared { .. }
            | EventKind::Graphics { .. } => None,
        }
    }

    pub fn edit(playlist: &str, revision: u64, change: &Change, missing: bool) -> EventKind {
        let playlist = playlist.to_owned();
        match change.clone() {
            Change::ItemAdded { index, item } => EventKind::ItemAdded {
                playlist,
                revision,
                index,
                item,
                missing,
            },
            Change::ItemUpdated { index, item } => EventKind::ItemUpdated {
                playlist,
                revision,
                index,
                item,
                missing,
            },
            Change::ItemMoved { item, from, index } => EventKind::ItemMoved {
                playlist,
                revision,
                item,
                from,
                index,
            },
            Change::ItemRemoved { item, index } => EventKind::ItemRemoved {
                playlist,
                revision,
                item,
                index,
            },
            Change::PlaylistSettings {
                name,
                looping,
                autoplay,
                air_date,
                filler,
                end_action,
                logo,
            } => EventKind::PlaylistSettings {
                playlist,
                revision,
                name,
                looping,
                autoplay,
                air_date,
                filler,
                end_action,
                logo,
            },
        }
    }

    /// The playlist edit this event carries: `(playlist, revision, change, missing)`.
    pub fn as_edit(&self) -> Option<(&str, u64, Change, bool)> {
        Some(match self {
            EventKind::ItemAdded {
                playlist,
                revision,
                index,
                item,
                missing,
            } => (
                playlist.as_str(),
                *revision,
                Change::ItemAdded {
                    index: *index,
                    item: Arc::clone(item),
                },
                *missing,
            ),
            EventKind::ItemUpdated {
                playlist,
                revision,
                index,
                item,
                missing,
            } => (
                playlist.as_str(),
                *revision,
                Change::ItemUpdated {
                    index: *index,
                    item: Arc::clone(item),
                },
                *missing,
            ),
            EventKind::ItemMoved {
                playlist,
                revision,
                item,
                from,
                index,
            } => (
                playlist.as_str(),
                *revision,
                Change::ItemMoved {
                    item: item.clone(),
                    from: *from,
                    index: *index,
                },
                false,
            ),
            EventKind::ItemRemoved {
                playlist,
                revision,
                item,
                index,
            } => (
                playlist.as_str(),
                *revision,
                Change::ItemRemoved {
                    item: item.clone(),
                    index: *index,
                },
                false,
            ),
            EventKind::PlaylistSettings {
                playlist,
                revision,
                name,
                looping,
                autoplay,
                air_date,
                filler,
                end_action,
                logo,
            } => (
                playlist.as_str(),
                *revision,
                Change::PlaylistSettings {
                    name: name.clone(),
                    looping: *looping,
                    autoplay: *autoplay,
                    air_date: air_date.clone(),
                    filler: *filler,
                    end_action: *end_action,
                    logo: logo.clone(),
                },
                false,
            ),
            _ => return None,
        })
    }
}

/// One sequenced change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    pub seq: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}
