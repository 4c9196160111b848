//! A playlist's part on its channel-layer as the console words it: the layer's filler
//! (`FILLER · shuffle`), a rundown's non-default end (`end: black`), and a rundown that another
//! playlist took the layer from (`layer taken over by Filler after «CLIP2»`).
//!
//! The view (rundown title, on-air line) and the log use the same words, so an operator reads one
//! vocabulary, the one of docs/console.md.

use crate::playout::model::escape_hidden;
use crate::protocol::{EndAction, FillerMode, Playlist, PlaylistView, Snapshot, Status};

use super::text::item_name;

/// `FILLER · shuffle`, `end: black`, or both joined with ` · `; `None` for an ordinary rundown
/// that hands its layer to the filler at its end (the default, so not worth a word).
pub fn marks(playlist: &Playlist) -> Option<String> {
    let filler = playlist
        .filler
        .map(|mode| format!("FILLER · {}", order(mode)));
    let end = match playlist.end_action {
        EndAction::Filler => None,
        EndAction::Black => Some("end: black"),
        EndAction::Hold => Some("end: hold"),
    };
    let words: Vec<String> = filler.into_iter().chain(end.map(str::to_owned)).collect();
    (!words.is_empty()).then(|| words.join(" · "))
}

/// Where a playlist plays: `1-10`, or `studio-b 1-10` when it names its server.
pub fn layer_label(playlist: &Playlist) -> String {
    match &playlist.server {
        Some(server) => format!("{} {}", escape_hidden(server), playlist.channel_layer),
        None => playlist.channel_layer.to_string(),
    }
}

/// Whether `a` and `b` play on the same layer of the same server (no `server`: the station's
/// first, the group of the first server the link lists).
pub fn same_layer(state: &Snapshot, a: &Playlist, b: &Playlist) -> bool {
    let first = state.link.servers.first().map(|s| s.group.as_str());
    a.channel_layer == b.channel_layer
        && a.server.as_deref().or(first) == b.server.as_deref().or(first)
}

/// A filler's order in words (`in order`, `shuffle`), not the wire's `in_order`.
pub fn order(mode: FillerMode) -> &'static str {
    match mode {
        FillerMode::InOrder => "in order",
        FillerMode::Shuffle => "shuffle",
    }
}

/// `layer taken over by Filler after «CLIP2»` when `pl` is stopped because another playlist on
/// its layer went on air (the filler in a gap, the next day's rundown); it resumes after that item.
/// The other playlist is named when one on the layer is on air (it may not be yet: its own event
/// can come a moment later).
pub fn taken_over(state: &Snapshot, pl: &PlaylistView) -> Option<String> {
    if pl.playout.status != Status::Stopped {
        return None;
    }
    let left = pl.playout.left_after.as_deref()?;
    // The item may have been deleted since; its id would mean nothing to an operator.
    let item = pl
        .playlist
        .item(left)
        .map_or_else(|| "(removed item)".into(), |i| escape_hidden(item_name(i)));
    let by = state.playlists.iter().find(|p| {
        p.playlist.id != pl.playlist.id
            && same_layer(state, &p.playlist, &pl.playlist)
            && p.playout.status != Status::Stopped
    });
    Some(match by {
        Some(p) => format!("layer taken over by {} after «{item}»", p.playlist.name),
        None => format!("layer taken over after «{item}»"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ServerRole, ServerView};
    use crate::tui::fixtures;

    #[test]
    fn a_playlist_on_another_server_shares_no_layer_and_says_where_it_plays() {
        let mut state = fixtures::taken_over_snapshot(6);
        state.link.servers = ["a", "b"]
            .into_iter()
            .map(|name| ServerView {
                name: name.into(),
                group: name.into(),
                role: ServerRole::Main,
                ..ServerView::default()
            })
            .collect();
        let main = state.playlists[0].clone();
        assert_eq!(
            layer_label(&main.playlist),
            main.playlist.channel_layer.to_string()
        );
        assert!(taken_over(&state, &main).is_some_and(|t| t.contains("by Night")));
        // The filler naming the first server is still on the same layer.
        state.playlists[1].playlist.server = Some("a".into());
        assert!(taken_over(&state, &main).is_some_and(|t| t.contains("by Night")));
        // On server b it is another layer: it took nothing over from main.
        state.playlists[1].playlist.server = Some("b".into());
        let label = layer_label(&state.playlists[1].playlist);
        assert_eq!(label, format!("b {}", main.playlist.channel_layer));
        assert_eq!(
            taken_over(&state, &main).as_deref(),
            Some("layer taken over after «CLIP2»")
        );
    }

    #[test]
    fn marks_name_the_filler_and_only_a_chosen_end() {
        let mut p = fixtures::playlist(3).playlist;
        assert_eq!(marks(&p), None);
        p.end_action = EndAction::Black;
        assert_eq!(marks(&p).as_deref(), Some("end: black"));
        p.end_action = EndAction::Hold;
        assert_eq!(marks(&p).as_deref(), Some("end: hold"));
        p.end_action = EndAction::Filler;
        p.filler = Some(FillerMode::Shuffle);
        assert_eq!(marks(&p).as_deref(), Some("FILLER · shuffle"));
        p.filler = Some(FillerMode::InOrder);
        assert_eq!(marks(&p).as_deref(), Some("FILLER · in order"));
    }

    #[test]
    fn taken_over_names_the_item_left_and_who_has_the_layer() {
        let mut state = fixtures::snapshot(6);
        assert_eq!(taken_over(&state, &state.playlists[0]), None, "playing");
        // Stopped by the operator: nothing took the layer over.
        state.playlists[0].playout.status = Status::Stopped;
        state.playlists[0].playout.on_air = None;
        assert_eq!(taken_over(&state, &state.playlists[0]), None);
        state.playlists[0].playout.left_after = Some("i1".into());
        let main = state.playlists[0].clone();
        assert_eq!(
            taken_over(&state, &main).as_deref(),
            Some("layer taken over after «CLIP2»")
        );
        state.playlists.push(fixtures::filler());
        assert_eq!(
            taken_over(&state, &main).as_deref(),
            Some("layer taken over by Night filler after «CLIP2»")
        );
        let mut gone = main.clone();
        gone.playout.left_after = Some("i99".into());
        assert_eq!(
            taken_over(&state, &gone).as_deref(),
            Some("layer taken over by Night filler after «(removed item)»")
        );
    }
}
