//! What the log pane says about an event the daemon sent: names, never ids (`Main: added
//! Headlines at 3`, `moved CLIP1 to 5`, `end: black`), playout changes (`Main: on air CLIP2`, `off
//! air, layer taken over by Night filler after «CLIP2»`), the link (each server of a main/backup
//! pair by name: `CasparCG backup down: …`), the media library and alarms.
//!
//! A line often needs the state from before the event (a removed item's name, the on-air item it
//! replaced), so [`Before`] is taken first and [`lines`] is asked once the event is applied.

use super::net::shift;
use crate::playout::model::escape_hidden;
use crate::protocol::{
    EndAction, EventKind, FillerMode, Item, PlaylistView, Severity, Snapshot, Status,
};
use crate::tui::model::{Level, Model};
use crate::tui::{roles, servers, text};

/// What [`lines`] and the rundown window (`net::anchor_window`) need from the state before an
/// event.
#[derive(Default)]
pub(super) struct Before {
    /// The playlist's on-air item and status (`None`: the playlist is new).
    playout: Option<(Option<String>, Status)>,
    /// The name of the item the event is about, as it was (removed, renamed).
    item: Option<String>,
    /// The playlist's name, loop, autoplay and role on its layer.
    settings: Option<Settings>,
    /// The name of a playlist about to be deleted.
    playlist: Option<String>,
    /// Rows of the viewed playlist that appear (+1) or go (-1) above its window.
    pub(super) shift: Option<isize>,
    link_up: bool,
    /// What showed on the graphics layers before a `graphics` event.
    graphics_on: Vec<String>,
    /// The servers before a `link` event, to say which one changed.
    servers: Vec<crate::protocol::ServerView>,
    clips: usize,
    alarm: Option<String>,
}

/// A playlist's settings before a `playlist_settings` event, to say what it changed.
struct Settings {
    name: String,
    looping: bool,
    autoplay: bool,
    filler: Option<FillerMode>,
    end_action: EndAction,
}

impl Before {
    pub(super) fn of(model: &Model, kind: &EventKind) -> Before {
        let state = &model.state;
        let view = |id: &str| state.playlists.iter().find(|p| p.playlist.id == id);
        let mut before = Before {
            link_up: state.link.connected,
            clips: state.media.clips.len(),
            ..Before::default()
        };
        match kind {
            EventKind::Playlist { playlist } => {
                before.playout = view(&playlist.playlist.id)
                    .map(|p| (p.playout.on_air.clone(), p.playout.status));
            }
            EventKind::Playout { playlist, .. } => {
                before.playout =
                    view(playlist).map(|p| (p.playout.on_air.clone(), p.playout.status));
            }
            EventKind::PlaylistSettings { playlist, .. } => {
                before.settings = view(playlist).map(|p| Settings {
                    name: p.playlist.name.clone(),
                    looping: p.playlist.looping,
                    autoplay: p.playlist.autoplay,
                    filler: p.playlist.filler,
                    end_action: p.playlist.end_action,
                });
            }
            EventKind::PlaylistRemoved { playlist } => {
                before.playlist = view(playlist).map(|p| p.playlist.name.clone());
            }
            EventKind::Link { .. } => before.servers = state.link.servers.clone(),
            EventKind::Graphics { .. } => before.graphics_on = graphics_on(&state.graphics),
            EventKind::AlarmCleared { id } => {
                before.alarm = state
                    .alarms
                    .iter()
                    .find(|a| a.id == *id)
                    .map(|a| format!("{}: {}", a.kind, a.message));
            }
            _ => {}
        }
        if let Some((playlist, _, change, _)) = kind.as_edit()
            && let Some(pl) = view(playlist)
            && let Some(id) = change.item_id()
        {
            let from = pl.playlist.index_of(id);
            before.item = from.map(|at| name(&pl.playlist.items[at]));
            let viewed = model.playlist().is_some_and(|v| v.playlist.id == playlist);
            if viewed {
                before.shift = shift(&change, from, model.rundown.offset);
            }
        }
        before
    }
}

/// What the console calls an item in the log: its title (with invisible characters shown), else
/// its clip; never its id, which means nothing to an operator.
fn name(item: &Item) -> String {
    escape_hidden(text::item_name(item)).into_owned()
}

/// The log lines for an event just applied.
pub(super) fn lines(model: &Model, kind: &EventKind, before: Before) -> Vec<(Level, String)> {
    let state = &model.state;
    let view = |id: &str| state.playlists.iter().find(|p| p.playlist.id == id);
    let item_name =
        |pl: &PlaylistView, id: &str| pl.playlist.item(id).map_or_else(|| "?".to_owned(), name);
    let info = |text: String| vec![(Level::Info, text)];
    match kind {
        EventKind::Playlist { playlist } => view(&playlist.playlist.id)
            .and_then(|new| playout_change(state, before.playout.as_ref(), new))
            .into_iter()
            .collect(),
        EventKind::Playout { playlist, .. } => view(playlist)
            .and_then(|new| playout_change(state, before.playout.as_ref(), new))
            .into_iter()
            .collect(),
        EventKind::ItemAdded {
            playlist,
            index,
            item,
            ..
        } => info(format!(
            "{}: added {} at {}",
            text::playlist_name(state, playlist),
            name(item),
            index + 1
        )),
        EventKind::ItemUpdated { playlist, item, .. } => {
            let pl = text::playlist_name(state, playlist);
            let new = name(item);
            info(match before.item {
                Some(old) if old != new => format!("{pl}: {old} is now {new}"),
                _ => format!("{pl}: changed {new}"),
            })
        }
        EventKind::ItemMoved {
            playlist,
            item,
            index,
            ..
        } => {
            let moved = view(playlist).map_or_else(|| "?".to_owned(), |pl| item_name(pl, item));
            info(format!(
                "{}: moved {moved} to {}",
                text::playlist_name(state, playlist),
                index + 1
            ))
        }
        EventKind::ItemRemoved { playlist, .. } => info(format!(
            "{}: removed {}",
            text::playlist_name(state, playlist),
            before.item.as_deref().unwrap_or("?")
        )),
        EventKind::PlaylistSettings {
            playlist,
            name: new_name,
            looping,
            autoplay,
            filler,
            end_action,
            ..
        } => {
            let Some(old) = before.settings else {
                return vec![];
            };
            let on = |b: bool| if b { "on" } else { "off" };
            let mut what = Vec::new();
            if *new_name != old.name {
                what.push(format!("renamed from {}", old.name));
            }
            if *looping != old.looping {
                what.push(format!("loop {}", on(*looping)));
            }
            if *autoplay != old.autoplay {
                what.push(format!("autoplay {}", on(*autoplay)));
            }
            if *filler != old.filler {
                what.push(filler.map_or_else(
                    || "no longer the filler".to_owned(),
                    |m| format!("now the filler ({})", roles::order(m)),
                ));
            }
            if *end_action != old.end_action {
                what.push(format!("end: {}", end_action.keyword()));
            }
            if what.is_empty() {
                return vec![];
            }
            info(format!(
                "{}: {}",
                text::playlist_name(state, playlist),
                what.join(", ")
            ))
        }
        // A rescan changed which clips are missing; the rundown's `!` column shows which.
        EventKind::Missing { .. } => vec![],
        EventKind::PlaylistRemoved { playlist } => info(format!(
            "playlist {} deleted",
            before.playlist.as_deref().unwrap_or(playlist)
        )),
        EventKind::Selected { playlist } => info(format!(
            "playlist {} selected",
            text::playlist_name(state, playlist)
        )),
        // A pair: each side by name (its going down is not the station's link going down).
        EventKind::Link { link } if link.servers.len() > 1 || before.servers.len() > 1 => {
            servers::changes(&before.servers, &link.servers)
        }
        EventKind::Link { link } => {
            if link.connected && !before.link_up {
                let version = link.server_version.as_deref().unwrap_or("unknown version");
                info(format!("CasparCG connected ({version})"))
            } else if !link.connected && before.link_up {
                // The state reads `down: <reason>`; "link down: down: …" said it twice.
                let reason = link.state.strip_prefix("down: ").unwrap_or(&link.state);
                vec![(Level::Error, format!("CasparCG link down: {reason}"))]
            } else {
                vec![]
            }
        }
        EventKind::Media { media } => {
            if let Some(e) = &media.error {
                vec![(Level::Warn, format!("media rescan failed: {e}"))]
            } else if media.clips.len() != before.clips {
                info(format!("media library: {} clips", media.clips.len()))
            } else {
                vec![]
            }
        }
        EventKind::AlarmRaised { alarm } => {
            let level = match alarm.severity {
                Severity::Critical => Level::Error,
                Severity::Warning => Level::Warn,
            };
            vec![(level, format!("ALARM {}: {}", alarm.kind, alarm.message))]
        }
        EventKind::AlarmCleared { .. } => before
            .alarm
            .map(|a| (Level::Info, format!("alarm cleared: {a}")))
            .into_iter()
            .collect(),
        // Only when what is visible changed (not a graphic loaded ahead or removed after its
        // out-animation).
        EventKind::Graphics { graphics } => {
            let now = graphics_on(graphics);
            if now == before.graphics_on {
                return Vec::new();
            }
            let shown = if now.is_empty() {
                "none".to_owned()
            } else {
                escape_hidden(&now.join(", ")).into_owned()
            };
            info(format!("graphics on air: {shown}"))
        }
    }
}

/// The graphics on air, as `1-20 LOWER_THIRD (lt)`.
fn graphics_on(graphics: &[crate::protocol::LiveGraphic]) -> Vec<String> {
    graphics
        .iter()
        .filter(|g| g.phase == crate::protocol::GraphicPhase::On)
        .map(|g| format!("{}-{} {} ({})", g.channel, g.layer, g.label, g.name))
        .collect()
}

/// A log line for what changed on air, if anything did: `before` is the playlist's on-air item and
/// status before the event (`None`: the playlist is new).
fn playout_change(
    state: &Snapshot,
    before: Option<&(Option<String>, Status)>,
    new: &PlaylistView,
) -> Option<(Level, String)> {
    let after = (&new.playout.on_air, new.playout.status);
    if before.map(|(id, status)| (id, *status)) == Some(after) {
        return None;
    }
    let name = &new.playlist.name;
    let clip = |id: &Option<String>| {
        id.as_deref()
            .and_then(|id| new.playlist.item(id))
            .map_or("?", |i| i.clip.as_str())
            .to_owned()
    };
    Some(match after.1 {
        Status::Playing => (Level::Info, format!("{name}: on air {}", clip(after.0))),
        Status::Paused => (Level::Info, format!("{name}: paused {}", clip(after.0))),
        Status::Stopped => match roles::taken_over(state, new) {
            Some(text) => (Level::Info, format!("{name}: off air, {text}")),
            None => (Level::Info, format!("{name}: stopped")),
        },
        Status::Held => (
            Level::Warn,
            format!("{name}: held, CasparCG does not show what should be on air"),
        ),
    })
}
