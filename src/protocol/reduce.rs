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

/// Makes a snapshot from a server ready for events: sorts every playlist's `missing` by id. The
/// protocol promises that order, and the item events' bookkeeping relies on it (binary search); a
/// server that sent rundown order must not make later edits mark the wrong items.
pub fn prepare(state: &mut Snapshot) {
    for view in &mut state.playlists {
        view.missing.sort();
    }
}

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
            let mut view = (**playlist).clone();
            // As in `prepare`: later item events rely on the order.
            view.missing.sort();
            let id = &playlist.playlist.id;
            match state.playlists.iter_mut().find(|p| &p.playlist.id == id) {
                Some(slot) => *slot = view,
                None => {
                    // The snapshot lists playlists by id.
                    let at = state.playlists.partition_point(|p| p.playlist.id < *id);
                    state.playlists.insert(at, view);
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
        EventKind::Graphics { graphics } => state.graphics = graphics.clone(),
        // Edits were handled above.
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocol::{ChannelLayer, Item, Playlist, Playout};

    fn state() -> Snapshot {
        let mut playlist = Playlist::new(
            "p",
            "P",
            ChannelLayer {
                channel: 1,
                layer: Some(10),
            },
        );
        playlist.items = ["a", "b", "c"]
            .map(|id| Item::new(id.into(), "CLIP").into())
            .into_iter()
            .collect();
        Snapshot {
            seq: 1,
            playlists: vec![PlaylistView {
                playlist,
                playout: Playout::default(),
                missing: vec!["b".into()].into(),
            }],
            ..Snapshot::default()
        }
    }

    fn event(seq: u64, kind: EventKind) -> Event {
        Event { seq, kind }
    }

    #[test]
    fn missing_marks_follow_adds_updates_and_removals_and_survive_moves() {
        let mut s = state();
        let add = EventKind::ItemAdded {
            playlist: "p".into(),
            revision: 2,
            index: 0,
            item: Arc::new(Item::new("aa".into(), "GONE")),
            missing: true,
        };
        apply(&mut s, &event(2, add)).unwrap();
        assert_eq!(
            s.playlists[0].missing.iter().collect::<Vec<_>>(),
            ["aa", "b"],
            "sorted by id"
        );
        let moved = EventKind::ItemMoved {
            playlist: "p".into(),
            revision: 3,
            item: "b".into(),
            from: 2,
            index: 3,
        };
        apply(&mut s, &event(3, moved)).unwrap();
        assert_eq!(
            s.playlists[0].missing.iter().collect::<Vec<_>>(),
            ["aa", "b"],
            "a move keeps the mark"
        );
        let fixed = EventKind::ItemUpdated {
            playlist: "p".into(),
            revision: 4,
            index: 0,
            item: Arc::new(Item::new("aa".into(), "CLIP")),
            missing: false,
        };
        apply(&mut s, &event(4, fixed)).unwrap();
        let removed = EventKind::ItemRemoved {
            playlist: "p".into(),
            revision: 5,
            item: "b".into(),
            index: 3,
        };
        apply(&mut s, &event(5, removed)).unwrap();
        assert!(s.playlists[0].missing.is_empty());
        let ids: Vec<&str> = s.playlists[0]
            .playlist
            .items
            .iter()
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(ids, ["aa", "a", "c"]);
        assert_eq!((s.seq, s.playlists[0].playlist.revision), (5, 5));
    }

    #[test]
    fn missing_lists_in_rundown_order_are_sorted_on_arrival() {
        let mut s = state();
        s.playlists[0].missing = vec!["c".into(), "a".into()].into();
        prepare(&mut s);
        assert_eq!(
            s.playlists[0].missing.iter().collect::<Vec<_>>(),
            ["a", "c"]
        );
        let mut whole = s.playlists[0].clone();
        whole.missing = vec!["c".into(), "b".into()].into();
        let kind = EventKind::Playlist {
            playlist: Box::new(whole),
        };
        apply(&mut s, &event(2, kind)).unwrap();
        let removed = EventKind::ItemRemoved {
            playlist: "p".into(),
            revision: 2,
            item: "c".into(),
            index: 2,
        };
        apply(&mut s, &event(3, removed)).unwrap();
        assert_eq!(s.playlists[0].missing.iter().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn an_event_that_does_not_fit_changes_nothing() {
        let mut s = state();
        let before = s.clone();
        let gone = EventKind::ItemRemoved {
            playlist: "p".into(),
            revision: 2,
            item: "zz".into(),
            index: 0,
        };
        assert!(matches!(
            apply(&mut s, &event(2, gone)),
            Err(ReduceError::Edit(_))
        ));
        let elsewhere = EventKind::Missing {
            playlist: "q".into(),
            missing: vec![].into(),
        };
        assert_eq!(
            apply(&mut s, &event(2, elsewhere)),
            Err(ReduceError::NoPlaylist("q".into()))
        );
        let late = EventKind::Selected {
            playlist: "p".into(),
        };
        assert_eq!(
            apply(&mut s, &event(5, late)),
            Err(ReduceError::OutOfOrder { at: 1, got: 5 })
        );
        assert_eq!(s, before);
    }
}
