//! The state file `data/state.json`: which playlist is selected and, per playlist, the cursor and
//! what is on air, so a restarted daemon can adopt what is playing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{LoadError, StoreError};
use super::format::{SCHEMA, check_schema, schema_supported};
use crate::playout::model::validate_id;

/// The persisted playout state. The engine fills it in; [`super::Store::save_state`] writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayoutStateFile {
    /// File format version; [`super::Store::save_state`] always writes the current one.
    pub schema: u64,
    /// The selected playlist id.
    #[serde(default)]
    pub selected: Option<String>,
    /// Per playlist id.
    #[serde(default)]
    pub playlists: BTreeMap<String, PlaylistState>,
}

impl Default for PlayoutStateFile {
    fn default() -> Self {
        PlayoutStateFile {
            schema: SCHEMA,
            selected: None,
            playlists: BTreeMap::new(),
        }
    }
}

/// Where one playlist stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaylistState {
    /// Item id of the cursor (the next item to take).
    #[serde(default)]
    pub cursor: Option<String>,
    /// Item id on air.
    #[serde(default)]
    pub on_air: Option<String>,
    /// When the on-air item started, in Unix milliseconds.
    #[serde(default)]
    pub on_air_since: Option<u64>,
    /// The item on air when another playlist on the layer took over (the schedule resumes after
    /// it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_after: Option<String>,
    /// For a filler playlist: the sequence number of its next play (where it goes on at the next
    /// gap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filler_next: Option<u64>,
    /// The on-air item's first frame as the daemon estimated it (Unix ns, never before the real
    /// one): its graphics go on and off relative to it after a restart, on the same frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphics_start_ns: Option<i64>,
    /// The operator took the playlist's logo off by hand (`graphics.logo`): it stays off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub logo_off: bool,
}

impl PlayoutStateFile {
    /// Checks ids (they are looked up in playlists and sent to clients).
    fn validate(&self) -> Result<(), LoadError> {
        let bad = |e| LoadError::Invalid(e);
        if let Some(s) = &self.selected {
            validate_id("selected", s).map_err(bad)?;
        }
        for (id, p) in &self.playlists {
            validate_id("playlist", id).map_err(bad)?;
            for item in [&p.cursor, &p.on_air, &p.left_after].into_iter().flatten() {
                validate_id("item", item).map_err(bad)?;
            }
        }
        Ok(())
    }
}

/// The file bytes, verified to read back as the same state.
pub(crate) fn encode_state(state: &PlayoutStateFile) -> Result<Vec<u8>, StoreError> {
    let verify = |reason: String| StoreError::Verify {
        id: "state".to_owned(),
        reason,
    };
    let state = PlayoutStateFile {
        schema: SCHEMA,
        ..state.clone()
    };
    state.validate().map_err(|e| verify(e.to_string()))?;
    let mut bytes = serde_json::to_vec_pretty(&state).map_err(|e| verify(e.to_string()))?;
    bytes.push(b'\n');
    let back = decode_state(&bytes).map_err(|e| verify(e.to_string()))?;
    if back != state {
        return Err(verify("the re-read state differs".to_owned()));
    }
    Ok(bytes)
}

/// Parses and validates a state file.
pub(crate) fn decode_state(bytes: &[u8]) -> Result<PlayoutStateFile, LoadError> {
    let state: PlayoutStateFile = match serde_json::from_slice(bytes) {
        Ok(s) => s,
        Err(e) => return Err(check_schema(bytes).unwrap_or(LoadError::Parse(e.to_string()))),
    };
    schema_supported(state.schema)?;
    state.validate()?;
    Ok(state)
}
