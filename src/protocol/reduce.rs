//! How a client's copy of the state follows the events: apply each [`Event`] after a [`Snapshot`]
//! in `seq` order and the copy equals the server's snapshot at that `seq`.
//!
//! Playlist edits go through the model's own reducer (`Playlist::apply`), the function the daemon
//! uses on its state and on journal replay, so a client cannot apply an edit differently from the
//! daemon. The console uses this; the web page's `assets/state.js` follows the same rules in
//! JavaScript (docs/ws-protocol.md, "Applying events").

use thiserror::Error;

use super::{Event, EventKind, PlaylistView, Snapshot};
use crate::playout::change::Change;
use crate::playout::model::{Limits, PlaylistError};

/// An event that does not fit the copy it was applied to: the copy is out of step and must be
/// replaced by a fresh snapshot (the copy itself is left as it was).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReduceError {
    #[error("event {got} does not follow {at}")]
    OutOfOrder { at: u64, got: u64 },
    #[error("no playlist {0:?}")]
    NoPlaylist(String),
    #[error("{0}")]
    Edit(PlaylistError),
}

/// The server checked every limit before it sent the event: a client follows whatever it is told.
const TRUST: Limits = Limits {
    max_playlists: usize::MAX,
    max_items: usize::MAX,
};

/// Applies `event` to `state`; `state.seq` must be the event's `seq - 1`.
pub fn apply(state: &mut Snapshot, event: &Event) -> Result<(), ReduceError> {
    if event.seq != state.seq + 1 {
        return Err(ReduceError::OutOfOrder {
            at: state.seq,
            got: event.seq,
        });
    }
    apply_kind(state, &event.kind)?;
    state.seq = event.seq;
    Ok(())
}

fn view<'a>(state: &'a mut Snapshot, id: &str) -> Result<&'a mut PlaylistView, ReduceError> {
    state
        .playlists
        .iter_mut()
        .find(|p| p.playlist.id == id)
        .ok_or_else(|| ReduceError::NoPlaylist(id.to_owned()))
}

/// Applies one change whose `seq` the caller has checked (the `seq` itself is not touched).
pub fn apply_kind(state: &mut Snapshot, kind: &EventKind) -> Result<(), ReduceError> {
    if let Some((id, revision, change, missing)) = kind.as_edit() {
        let view = view(state, id)?;
        view.playlist
            .apply(&change, revision, &TRUST)
            .map_err(ReduceError::Edit)?;
        // Only these change whether an item's clip is missing (a move keeps it as it was).
        let decides = matches!(
            change,
            Change::ItemAdded { .. } | Change::ItemUpdated { .. } | Change::ItemRemoved { .. }
        );
        if let Some(item) = change.item_id().filter(|_| decides) {
            // `missing` is sorted by id, so the copy matches the server's whatever the order of
            // the edits that made it.
            match (
                view.missing.binary_search_by(|m| m.as_str().cmp(item)),
                missing,
            ) {
                (Ok(at), false) => {
                    view.missing.remove(at);
                }
                (Err(at), true) => view.missing.insert(at, item.to_owned()),
                _ => {}
            }
        }
        return Ok(());
    }
    match kind {
        EventKind::Playlist { playlist } => {
            let id = &playlist.playlist.id;
            match state.playlists.iter_mut().find(|p| &p.playlist.id == id) {
                Some(slot) => *slot = (**playlist).clone(),
                None => {
                    // The snapshot lists playlists by id.
                    let at = state
                        .playlists
                        .partition_point(|p| p.playlist.id < playlist.playlist.id);
                    state.playlists.insert(at, (**playlist).clone());
                }
            }
        }
        EventKind::Playout { playlist, playout } => {
            view(state, playlist)?.playout = playout.clone();
        }
        EventKind::Missing { playlist, missing } => {
            view(state, playlist)?.missing = missing.clone();
        }
        EventKind::PlaylistRemoved { playlist } => {
            state.playlists.retain(|p| &p.playlist.id != playlist);
            state.progress.remove(playlist);
            // The server follows with `selected` when another playlist takes its place.
            if state.selected.as_ref() == Some(playlist) {
                state.selected = None;
            }
        }
        EventKind::Selected { playlist } => state.selected = Some(playlist.clone()),
        EventKind::Link { link } => state.link = link.clone(),
        EventKind::Media { media } => state.media = media.clone(),
        EventKind::AlarmRaised { alarm } => {
            state.alarms.retain(|a| a.id != alarm.id);
            state.alarms.push(alarm.clone());
        }
        EventKind::AlarmCleared { id } => state.alarms.retain(|a| a.id != *id),
        // Edits were handled above.
        _ => {}
    }
    Ok(())
}
