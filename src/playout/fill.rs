//! A playlist's part in keeping the channel on air: whether it is its layer's filler (and in which
//! order its clips play), and what its layer shows after the rundown's last item (`end_action`).
//!
//! A filler playlist is an ordinary playlist (edited with the same ops, saved the same way) that
//! never plays as a rundown: the engine plays its clips, looped, in every gap of the other
//! playlists on its channel-layer (docs/operations.md, "Fillers and the end of the rundown").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schedule::FillerOrder;

/// The order a filler playlist's clips play in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FillerMode {
    /// As listed, looped.
    #[default]
    InOrder,
    /// Every clip once per pass, each pass in a different order.
    Shuffle,
}

impl FillerMode {
    pub fn keyword(self) -> &'static str {
        match self {
            FillerMode::InOrder => "in_order",
            FillerMode::Shuffle => "shuffle",
        }
    }

    /// The planner's order; a shuffle is seeded by the playlist's id, so every plan of it (and
    /// every daemon that loads it) draws the same passes.
    pub fn order(self, playlist: &str) -> FillerOrder {
        match self {
            FillerMode::InOrder => FillerOrder::InOrder,
            FillerMode::Shuffle => FillerOrder::Shuffle {
                seed: fnv1a(playlist.as_bytes()),
            },
        }
    }
}

/// What a playlist's layer shows after its last item, when nothing else is scheduled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndAction {
    /// The layer's filler playlist; with none, the last frame stays and an alarm says so.
    #[default]
    Filler,
    /// Black: the layer is emptied on the frame the last item ends.
    Black,
    /// The last frame stays, as chosen (no alarm).
    Hold,
}

impl EndAction {
    /// For `skip_serializing_if`: files and events without it read exactly as before.
    pub fn is_default(&self) -> bool {
        *self == EndAction::Filler
    }

    pub fn keyword(self) -> &'static str {
        match self {
            EndAction::Filler => "filler",
            EndAction::Black => "black",
            EndAction::Hold => "hold",
        }
    }
}

/// A stable 64-bit hash (FNV-1a): the same seed on every platform and release, unlike std's
/// randomly keyed hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_the_wire_names() {
        for m in [FillerMode::InOrder, FillerMode::Shuffle] {
            assert_eq!(serde_json::to_value(m).unwrap(), m.keyword());
        }
        for a in [EndAction::Filler, EndAction::Black, EndAction::Hold] {
            assert_eq!(serde_json::to_value(a).unwrap(), a.keyword());
        }
    }

    #[test]
    fn a_shuffle_seed_depends_only_on_the_id() {
        assert_eq!(
            FillerMode::Shuffle.order("fill"),
            FillerMode::Shuffle.order("fill")
        );
        assert_ne!(
            FillerMode::Shuffle.order("fill"),
            FillerMode::Shuffle.order("fill2")
        );
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
