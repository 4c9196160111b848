//! Sequenced changes: every state change is an [`Event`] with the next `seq`, and applying the
//! events after a snapshot's `seq` to it gives the current state.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Alarm, LinkView, MediaView, PlaylistView};

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A playlist was created or its items, settings or playout changed: the whole view.
    Playlist {
        playlist: Box<PlaylistView>,
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
        media: MediaView,
    },
    AlarmRaised {
        alarm: Alarm,
    },
    AlarmCleared {
        id: u64,
    },
}

/// One sequenced change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    pub seq: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}
