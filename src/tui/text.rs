//! Text from outside as the console shows it: names instead of ids (an operator knows `AMB` or
//! `Story 0`, not `i6c4d17281909b2dc`), and control characters made harmless.
//!
//! Ids reach the log from several places (the daemon's own log records in `onair demo`, error
//! messages in acks, alarms), so the log pane translates them in one place rather than every
//! producer. Only ids of the generated form (`i` + 16 hex digits, `new_item_id`) are translated:
//! an id chosen by hand, such as `intro`, can be an ordinary word too.

use crate::playout::engine::state::Snapshot;
use crate::playout::model::Item;

/// What the console calls an item: its title, else its clip.
pub fn item_name(item: &Item) -> &str {
    item.title.as_deref().unwrap_or(&item.clip)
}

/// The name of playlist `id`, or the id if the playlist is unknown.
pub fn playlist_name<'a>(state: &'a Snapshot, id: &'a str) -> &'a str {
    state
        .playlists
        .iter()
        .find(|p| p.playlist.id == id)
        .map_or(id, |p| p.playlist.name.as_str())
}

/// `text` with every generated item id replaced by the item's name, or by `(removed item)` when no
/// playlist of `state` has it any more.
pub fn name_ids(state: &Snapshot, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_id_char) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let len = from.find(|c: char| !is_id_char(c)).unwrap_or(from.len());
        let (word, after) = from.split_at(len);
        if is_generated_id(word) {
            let item = state.playlists.iter().find_map(|p| p.playlist.item(word));
            out.push_str(item.map_or("(removed item)", item_name));
        } else {
            out.push_str(word);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Replaces control characters (which could move the terminal's cursor) with `�`; text from the
/// daemon or the network is shown, never interpreted.
pub fn sanitize(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect()
    } else {
        text.to_owned()
    }
}

/// The characters of an id (`[A-Za-z0-9_-]`).
fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `i` followed by 16 lower-case hex digits.
fn is_generated_id(word: &str) -> bool {
    word.len() == 17
        && word.starts_with('i')
        && word[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures;

    fn state_with(ids: &[(&str, &str, Option<&str>)]) -> Snapshot {
        let mut state = fixtures::snapshot(2);
        for (id, clip, title) in ids {
            let mut item = Item::new((*id).to_owned(), *clip);
            item.title = title.map(str::to_owned);
            state.playlists[0].playlist.items.push_back(item.into());
        }
        state
    }

    #[test]
    fn generated_ids_become_titles_or_clip_names() {
        let state = state_with(&[
            ("i6c4d17281909b2dc", "AMB", None),
            ("i00000000000000ff", "NEWS/OPENER", Some("Headlines")),
        ]);
        assert_eq!(
            name_ids(
                &state,
                "on air playlist=main item=i6c4d17281909b2dc how=take"
            ),
            "on air playlist=main item=AMB how=take"
        );
        assert_eq!(
            name_ids(&state, "no item \"i00000000000000ff\" in this playlist"),
            "no item \"Headlines\" in this playlist"
        );
        assert_eq!(
            name_ids(&state, "item i0123456789abcdef is gone"),
            "item (removed item) is gone"
        );
    }

    #[test]
    fn other_words_and_hand_made_ids_are_left_alone() {
        let state = state_with(&[("i6c4d17281909b2dc", "AMB", None)]);
        for text in [
            "",
            "take CLIP2 failed: not connected",
            // The fixtures' hand-made ids, and near misses of the generated form.
            "i1 i0 i6c4d17281909b2d i6c4d17281909b2dcc I6C4D17281909B2DC xi6c4d17281909b2dc",
            "ünïcode · – ok",
        ] {
            assert_eq!(name_ids(&state, text), text);
        }
    }

    #[test]
    fn sanitize_makes_control_characters_visible() {
        assert_eq!(sanitize("a\x1b[2Jb\n"), "a\u{fffd}[2Jb\u{fffd}");
        assert_eq!(sanitize("plain"), "plain");
    }

    #[test]
    fn playlists_are_named_when_known() {
        let state = fixtures::snapshot(2);
        assert_eq!(playlist_name(&state, "main"), "Main");
        assert_eq!(playlist_name(&state, "gone"), "gone");
    }
}
