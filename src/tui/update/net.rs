//! The connection's events and the daemon's messages applied to the model.
//!
//! Ordering rules (docs/ws-protocol.md): a `snapshot` replaces the state; an `event` applies only if
//! its `seq` is exactly one more than the state's (older ones are duplicates of what a snapshot or
//! replay already brought); a gap is never papered over: the event is dropped and a `resume` from the
//! last good `seq` is requested, which the daemon answers with the missing events or a snapshot.
//!
//! Events are applied with the protocol's reducer (`protocol::reduce::apply_kind`), the same code
//! for whole playlists and item-level edits; this file only adds what the operator reads (log lines
//! that name items, never ids) and keeps the rundown's cursor and window on their items. An event the
//! reducer refuses means the copy is wrong: it is not skipped either, a fresh snapshot is requested.

use super::Effect;
use crate::playout::change::Change;
use crate::playout::model::escape_hidden;
use crate::protocol::reduce::{self, ReduceError};
use crate::protocol::{
    Ack, ClientMsg, EventKind, Item, PlaylistView, Role, SNAPSHOT_SINCE, ServerMsg, Severity,
    Status,
};
use crate::tui::client::NetEvent;
use crate::tui::layout;
use crate::tui::model::{Level, Link, Mode, Model};
use crate::tui::text;

pub(super) fn net(model: &mut Model, event: NetEvent) -> Vec<Effect> {
    match event {
        NetEvent::Connecting { attempt } => {
            model.link = Link::Connecting { attempt };
            vec![]
        }
        NetEvent::Connected => {
            model.link = Link::Up;
            model.ever_connected = true;
            // Not live until `hello` says where the daemon is and the state has caught up.
            model.session.hello_seq = u64::MAX;
            model.log(Level::Info, format!("connected to {}", model.url));
            vec![]
        }
        NetEvent::Server(msg) => server(model, *msg),
        NetEvent::Disconnected { reason, retry_in } => {
            disconnected(model, reason, retry_in);
            vec![]
        }
        NetEvent::SendFailed { id, reason } => {
            if let Some(p) = id.and_then(|id| model.pending.remove(&id)) {
                model.notify(Level::Error, format!("{}: not sent, {reason}", p.label));
            }
            vec![]
        }
        NetEvent::Garbage(text) => {
            model.log(Level::Warn, text);
            vec![]
        }
    }
}

fn disconnected(model: &mut Model, reason: String, retry_in: std::time::Duration) {
    let attempt = match model.link {
        Link::Connecting { attempt } => attempt,
        _ => 0,
    };
    let was_up = model.link == Link::Up;
    let repeated = matches!(&model.link, Link::Down { reason: r, .. } if *r == reason)
        || matches!(model.link, Link::Connecting { attempt } if attempt > 1);
    model.link = Link::Down {
        reason: reason.clone(),
        retry_at: model.now + retry_in,
        attempt,
    };
    model.resync_pending = false;
    // An answer can no longer arrive: say so, because the command may or may not have run.
    let lost: Vec<String> = std::mem::take(&mut model.pending)
        .into_values()
        .map(|p| p.label)
        .collect();
    for label in lost {
        model.notify(
            Level::Error,
            format!(
                "{label}: connection lost before the answer; check the rundown, it may have run"
            ),
        );
    }
    if was_up {
        model.notify(
            Level::Warn,
            format!("lost the daemon ({reason}); reconnecting… (playout is not affected)"),
        );
    } else if !repeated {
        let url = &model.url;
        let text = match (model.ever_connected, model.mode) {
            (true, _) => format!("cannot reconnect to {url}: {reason}; retrying"),
            (false, Mode::Demo) => format!("cannot connect to {url}: {reason}; retrying"),
            (false, Mode::Attached) => format!(
                "cannot connect to {url}: {reason}; retrying. Is the daemon running? Start it \
                 with `onair serve`, or try `onair demo`"
            ),
        };
        model.log(Level::Warn, text);
    }
}

fn server(model: &mut Model, msg: ServerMsg) -> Vec<Effect> {
    match msg {
        ServerMsg::Hello {
            server_version,
            boot_id,
            seq,
            role,
        } => {
            if model.have_state && model.session.boot_id.as_deref() != Some(boot_id.as_str()) {
                model.log(
                    Level::Warn,
                    "the daemon restarted: waiting for its full state",
                );
                model.have_state = false;
            }
            // Another run of the daemon planned from other revisions: its own timeline follows
            // its snapshot.
            if model.session.boot_id.as_deref() != Some(boot_id.as_str()) {
                model.timelines = None;
            }
            if role == Role::Viewer && model.session.role != Some(Role::Viewer) {
                model.log(Level::Warn, "read-only: the token grants the viewer role");
            }
            model.session.boot_id = Some(boot_id);
            model.session.role = Some(role);
            model.session.server_version = Some(server_version);
            model.session.hello_seq = seq;
            vec![]
        }
        ServerMsg::Snapshot { seq, state } => {
            model.state = *state;
            reduce::prepare(&mut model.state);
            model.seq = seq;
            model.have_state = true;
            model.resync_pending = false;
            model.progress_at = Some(model.now);
            model.derive();
            model.refilter();
            follow_selection(model);
            vec![]
        }
        ServerMsg::Event(event) => {
            if !model.have_state || event.seq <= model.seq {
                return vec![];
            }
            if event.seq != model.seq + 1 {
                return gap(model, event.seq);
            }
            if let Err(e) = apply(model, &event.kind) {
                return out_of_step(model, event.seq, &e);
            }
            model.seq = event.seq;
            model.resync_pending = false;
            model.derive();
            follow_selection(model);
            vec![]
        }
        ServerMsg::Progress { progress } => {
            model.state.progress = progress;
            model.progress_at = Some(model.now);
            vec![]
        }
        // The latest plan replaces the previous one whole; it is matched to rows by revision.
        ServerMsg::Timeline(timelines) => {
            model.timelines = Some(std::sync::Arc::new(*timelines));
            vec![]
        }
        ServerMsg::Ack(ack) => {
            ack_received(model, ack);
            vec![]
        }
        ServerMsg::Pong => vec![],
        ServerMsg::Shutdown => {
            model.notify(
                Level::Warn,
                "the daemon is shutting down; reconnecting when it is back (playout continues)",
            );
            vec![]
        }
        ServerMsg::Error(body) => {
            model.log(
                Level::Warn,
                format!("daemon: {} ({})", body.message, body.code),
            );
            vec![]
        }
    }
}

/// An event skipped ahead: drop it and ask for what is missing, once until the gap closes.
fn gap(model: &mut Model, got: u64) -> Vec<Effect> {
    if model.resync_pending {
        return vec![];
    }
    let Some(boot_id) = model.session.boot_id.clone() else {
        return vec![];
    };
    model.resync_pending = true;
    model.log(
        Level::Warn,
        format!(
            "missed events {}..{}: resynchronising",
            model.seq + 1,
            got - 1
        ),
    );
    vec![Effect::Send(ClientMsg::Resume {
        boot_id,
        since: model.seq,
    })]
}

/// An event that does not fit the console's copy: the copy went wrong somewhere, and resuming from
/// the same `seq` would only replay the same event. Ask for a whole new snapshot instead; until it
/// comes the state is shown as not live and later events are gaps (dropped, no second request).
fn out_of_step(model: &mut Model, seq: u64, error: &ReduceError) -> Vec<Effect> {
    model.log(
        Level::Warn,
        format!("event {seq} does not fit the console's copy ({error}): reloading the full state"),
    );
    let Some(boot_id) = model.session.boot_id.clone() else {
        return vec![];
    };
    model.resync_pending = true;
    vec![Effect::Send(ClientMsg::Resume {
        boot_id,
        since: SNAPSHOT_SINCE,
    })]
}

/// Applies one in-order event with the protocol's reducer (the one every client shares, so the
/// console cannot apply an edit differently from the daemon), and logs what an operator should
/// read. On error nothing changed.
fn apply(model: &mut Model, kind: &EventKind) -> Result<(), ReduceError> {
    // What the log lines and the window need from before the change: a removed item's name is
    // gone once it is applied, and so is an on-air change's starting point.
    let before = Before::of(model, kind);
    reduce::apply_kind(&mut model.state, kind)?;
    if let Some(shift) = before.shift {
        anchor_window(model, shift);
    }
    for (level, text) in lines(model, kind, before) {
        model.log(level, text);
    }
    match kind {
        EventKind::PlaylistRemoved { playlist }
            if model.viewing.as_deref() == Some(playlist.as_str()) =>
        {
            model.viewing = None;
        }
        EventKind::Media { .. } => model.refilter(),
        _ => {}
    }
    Ok(())
}

/// What [`lines`] and [`anchor_window`] need from the state before an event.
#[derive(Default)]
struct Before {
    /// The playlist's on-air item and status (`None`: the playlist is new).
    playout: Option<(Option<String>, Status)>,
    /// The name of the item the event is about, as it was (removed, renamed).
    item: Option<String>,
    /// The playlist's name, loop and autoplay.
    settings: Option<(String, bool, bool)>,
    /// The name of a playlist about to be deleted.
    playlist: Option<String>,
    /// Rows of the viewed playlist that appear (+1) or go (-1) above its window.
    shift: Option<isize>,
    link_up: bool,
    clips: usize,
    alarm: Option<String>,
}

impl Before {
    fn of(model: &Model, kind: &EventKind) -> Before {
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
                before.settings = view(playlist).map(|p| {
                    (
                        p.playlist.name.clone(),
                        p.playlist.looping,
                        p.playlist.autoplay,
                    )
                });
            }
            EventKind::PlaylistRemoved { playlist } => {
                before.playlist = view(playlist).map(|p| p.playlist.name.clone());
            }
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

/// How many rows appear (+1) or go (-1) above a window starting at row `offset` when `change`
/// applies to an item now at `from`.
fn shift(change: &Change, from: Option<usize>, offset: usize) -> Option<isize> {
    let above = |at: usize| at < offset;
    match (change, from) {
        (Change::ItemAdded { index, .. }, _) => above(*index).then_some(1),
        (Change::ItemRemoved { .. }, Some(from)) => above(from).then_some(-1),
        (Change::ItemMoved { index, .. }, Some(from)) => match (above(from), above(*index)) {
            (true, false) => Some(-1),
            (false, true) => Some(1),
            _ => None,
        },
        _ => None,
    }
}

/// Keeps the rows on screen the same items when rows appear or go above the window, so an edit
/// elsewhere in the rundown does not scroll it under the operator (the cursor itself follows its
/// item by id, in [`follow_selection`]).
fn anchor_window(model: &mut Model, shift: isize) {
    let offset = &mut model.rundown.offset;
    *offset = offset.saturating_add_signed(shift);
}

/// What the console calls an item in the log: its title (with invisible characters shown), else
/// its clip; never its id, which means nothing to an operator.
fn name(item: &Item) -> String {
    escape_hidden(text::item_name(item)).into_owned()
}

/// The log lines for an event just applied.
fn lines(model: &Model, kind: &EventKind, before: Before) -> Vec<(Level, String)> {
    let state = &model.state;
    let view = |id: &str| state.playlists.iter().find(|p| p.playlist.id == id);
    let item_name =
        |pl: &PlaylistView, id: &str| pl.playlist.item(id).map_or_else(|| "?".to_owned(), name);
    let info = |text: String| vec![(Level::Info, text)];
    match kind {
        EventKind::Playlist { playlist } => view(&playlist.playlist.id)
            .and_then(|new| playout_change(before.playout.as_ref(), new))
            .into_iter()
            .collect(),
        EventKind::Playout { playlist, .. } => view(playlist)
            .and_then(|new| playout_change(before.playout.as_ref(), new))
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
            ..
        } => {
            let Some((old_name, old_loop, old_autoplay)) = before.settings else {
                return vec![];
            };
            let on = |b: bool| if b { "on" } else { "off" };
            let mut what = Vec::new();
            if *new_name != old_name {
                what.push(format!("renamed from {old_name}"));
            }
            if *looping != old_loop {
                what.push(format!("loop {}", on(*looping)));
            }
            if *autoplay != old_autoplay {
                what.push(format!("autoplay {}", on(*autoplay)));
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
        EventKind::Link { link } => {
            if link.connected && !before.link_up {
                let version = link.server_version.as_deref().unwrap_or("unknown version");
                info(format!("CasparCG connected ({version})"))
            } else if !link.connected && before.link_up {
                vec![(Level::Error, format!("CasparCG link down: {}", link.state))]
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
    }
}

/// A log line for what changed on air, if anything did: `before` is the playlist's on-air item and
/// status before the event (`None`: the playlist is new).
fn playout_change(
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
        Status::Stopped => (Level::Info, format!("{name}: stopped")),
        Status::Held => (
            Level::Warn,
            format!("{name}: held, CasparCG does not show what should be on air"),
        ),
    })
}

fn ack_received(model: &mut Model, ack: Ack) {
    let Some(pending) = model.pending.remove(&ack.id) else {
        return;
    };
    if !ack.ok {
        let (code, message) = ack
            .error
            .map_or(("error".to_owned(), "no reason given".to_owned()), |e| {
                (e.code, e.message)
            });
        model.notify(
            Level::Error,
            format!("{} failed: {message} [{code}]", pending.label),
        );
        return;
    }
    if let Some(clips) = ack.result.clips {
        model.log(Level::Info, format!("media rescanned: {clips} clips"));
    }
    if pending.select_result
        && let Some(item) = ack.result.item
    {
        model.selected_id = Some(item);
        // Force a lookup by id.
        model.rundown.selected = usize::MAX;
        follow_selection(model);
    }
}

/// Keeps the rundown cursor on the same item after the list changed (moves, inserts, deletes), and
/// starts it on the on-air item.
pub(super) fn follow_selection(model: &mut Model) {
    let rows = layout::rundown_rows(model.area());
    let items = model.items();
    let len = items.len();
    let found = match &model.selected_id {
        Some(id) if items.get(model.rundown.selected).map(|i| &i.id) != Some(id) => {
            items.iter().position(|i| &i.id == id)
        }
        Some(_) => Some(model.rundown.selected),
        None => model.derived.on_air.or(model.derived.next),
    };
    if let Some(i) = found {
        model.rundown.selected = i;
    } else if model.rundown.selected == usize::MAX {
        model.rundown.selected = 0;
    }
    model.rundown.fit(len, rows);
    model.selected_id = model.selected_item().map(|i| i.id.clone());
}
