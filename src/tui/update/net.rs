//! The connection's events and the daemon's messages applied to the model.
//!
//! Ordering rules (docs/ws-protocol.md): a `snapshot` replaces the state; an `event` applies only if
//! its `seq` is exactly one more than the state's (older ones are duplicates of what a snapshot or
//! replay already brought); a gap is never papered over: the event is dropped and a `resume` from the
//! last good `seq` is requested, which the daemon answers with the missing events or a snapshot.
//!
//! Events are applied with the protocol's reducer (`protocol::reduce::apply_kind`), the same code
//! for whole playlists and item-level edits; this file only adds what the operator reads (log lines
//! that name items, never ids, worded in [`super::event_log`]) and keeps the rundown's cursor and
//! window on their items. An event the reducer refuses means the copy is wrong: it is not skipped
//! either, a fresh snapshot is requested.

use super::Effect;
use super::event_log::{Before, lines};
use crate::playout::change::Change;
use crate::protocol::reduce::{self, ReduceError};
use crate::protocol::{Ack, ClientMsg, EventKind, Role, SNAPSHOT_SINCE, ServerMsg};
use crate::tui::client::NetEvent;
use crate::tui::layout;
use crate::tui::model::{Level, Link, Mode, Model};

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

/// How many rows appear (+1) or go (-1) above a window starting at row `offset` when `change`
/// applies to an item now at `from`.
pub(super) fn shift(change: &Change, from: Option<usize>, offset: usize) -> Option<isize> {
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
    let rows = layout::rundown_rows(model.area(), model.status_rows());
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
