//! The connection's events and the daemon's messages applied to the model.
//!
//! Ordering rules (docs/ws-protocol.md): a `snapshot` replaces the state; an `event` applies only if
//! its `seq` is exactly one more than the state's (older ones are duplicates of what a snapshot or
//! replay already brought); a gap is never papered over: the event is dropped and a `resume` from the
//! last good `seq` is requested, which the daemon answers with the missing events or a snapshot.

use super::Effect;
use crate::protocol::{Ack, ClientMsg, EventKind, PlaylistView, Role, ServerMsg, Severity, Status};
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
            model.seq = event.seq;
            model.resync_pending = false;
            apply(model, event.kind);
            model.derive();
            follow_selection(model);
            vec![]
        }
        ServerMsg::Progress { progress } => {
            model.state.progress = progress;
            model.progress_at = Some(model.now);
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

fn apply(model: &mut Model, kind: EventKind) {
    match kind {
        EventKind::Playlist { playlist } => {
            let id = playlist.playlist.id.clone();
            let slot = model
                .state
                .playlists
                .iter_mut()
                .find(|p| p.playlist.id == id);
            let old = match slot {
                Some(slot) => Some(std::mem::replace(slot, *playlist)),
                None => {
                    model.state.playlists.push(*playlist);
                    None
                }
            };
            if let Some(new) = model.state.playlists.iter().find(|p| p.playlist.id == id) {
                let line = playout_change(old.as_ref(), new);
                if let Some((level, text)) = line {
                    model.log(level, text);
                }
            }
        }
        EventKind::PlaylistRemoved { playlist } => {
            let name = text::playlist_name(&model.state, &playlist).to_owned();
            model.state.playlists.retain(|p| p.playlist.id != playlist);
            model.state.progress.remove(&playlist);
            if model.viewing.as_deref() == Some(playlist.as_str()) {
                model.viewing = None;
            }
            model.log(Level::Info, format!("playlist {name} deleted"));
        }
        EventKind::Selected { playlist } => {
            let name = text::playlist_name(&model.state, &playlist);
            model.log(Level::Info, format!("playlist {name} selected"));
            model.state.selected = Some(playlist);
        }
        EventKind::Link { link } => {
            if link.connected && !model.state.link.connected {
                let version = link.server_version.as_deref().unwrap_or("unknown version");
                model.log(Level::Info, format!("CasparCG connected ({version})"));
            } else if !link.connected && model.state.link.connected {
                model.log(Level::Error, format!("CasparCG link down: {}", link.state));
            }
            model.state.link = link;
        }
        EventKind::Media { media } => {
            if let Some(e) = &media.error {
                model.log(Level::Warn, format!("media rescan failed: {e}"));
            } else if media.clips.len() != model.state.media.clips.len() {
                model.log(
                    Level::Info,
                    format!("media library: {} clips", media.clips.len()),
                );
            }
            model.state.media = media;
            model.refilter();
        }
        EventKind::AlarmRaised { alarm } => {
            let level = match alarm.severity {
                Severity::Critical => Level::Error,
                Severity::Warning => Level::Warn,
            };
            model.log(level, format!("ALARM {}: {}", alarm.kind, alarm.message));
            model.state.alarms.retain(|a| a.id != alarm.id);
            model.state.alarms.push(alarm);
        }
        EventKind::AlarmCleared { id } => {
            if let Some(a) = model.state.alarms.iter().find(|a| a.id == id) {
                let text = format!("alarm cleared: {}: {}", a.kind, a.message);
                model.log(Level::Info, text);
            }
            model.state.alarms.retain(|a| a.id != id);
        }
        other => {
            if let Err(e) = crate::protocol::reduce::apply_kind(&mut model.state, &other) {
                model.log(Level::Warn, format!("could not apply an event ({e})"));
            }
        }
    }
}

/// A log line for what changed on air, if anything did.
fn playout_change(old: Option<&PlaylistView>, new: &PlaylistView) -> Option<(Level, String)> {
    let before = old.map(|o| (&o.playout.on_air, o.playout.status));
    let after = (&new.playout.on_air, new.playout.status);
    if before == Some(after) {
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
