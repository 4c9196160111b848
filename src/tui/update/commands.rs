//! Operator actions that become daemon commands: the typed requests, the local checks (connected,
//! role, something selected) and the confirmations of destructive actions.

use std::time::Duration;

use super::Effect;
use crate::playout::model::escape_hidden;
use crate::protocol::args::{ItemId, ItemInsert, ItemMove, OptionalItem, Setting, Target};
use crate::protocol::{ClientMsg, Playlist, Request, Role, Status};
use crate::tui::model::{Confirm, Dialog, Level, Link, MAX_COMMANDS_PER_SEC, Model, Pending};

/// Sends a command, or refuses it locally when it cannot be sent now.
pub(super) fn command(model: &mut Model, request: Request, label: String) -> Vec<Effect> {
    send(model, request, label, false)
}

fn send(model: &mut Model, request: Request, label: String, select: bool) -> Vec<Effect> {
    if model.link != Link::Up {
        refuse_offline(model, &label);
        return vec![];
    }
    if model.session.role == Some(Role::Viewer) && !Role::Viewer.may_run(request.name()) {
        model.notify(
            Level::Error,
            format!("{label}: not sent, this console is read-only (viewer token)"),
        );
        return vec![];
    }
    let now = model.now;
    let recent = &mut model.recent_sends;
    while recent
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1))
    {
        recent.pop_front();
    }
    if recent.len() >= MAX_COMMANDS_PER_SEC {
        model.notify(
            Level::Warn,
            format!("{label}: not sent, more than {MAX_COMMANDS_PER_SEC} commands in a second"),
        );
        return vec![];
    }
    recent.push_back(now);
    let id = format!("c{}", model.next_command);
    model.next_command += 1;
    model.pending.insert(
        id.clone(),
        Pending {
            op: request.name().to_owned(),
            label,
            sent: model.now,
            select_result: select,
            overdue: false,
        },
    );
    vec![Effect::Send(ClientMsg::Command { id, request })]
}

pub(super) fn refuse_offline(model: &mut Model, label: &str) {
    model.notify(
        Level::Error,
        format!("{label}: not sent, the console is not connected to the daemon (reconnecting…)"),
    );
}

/// A command about the viewed playlist: `build` gets its id.
pub(super) fn playlist_command(
    model: &mut Model,
    label: String,
    build: impl FnOnce(String) -> Request,
) -> Vec<Effect> {
    let Some(id) = model.playlist().map(|p| p.playlist.id.clone()) else {
        model.notify(Level::Error, format!("{label}: no playlist yet"));
        return vec![];
    };
    command(model, build(id), label)
}

/// A playout action without an item (`Request::Next`, `Request::Stop`…) on the viewed playlist.
pub(super) fn transport(action: fn(Target) -> Request) -> impl FnOnce(String) -> Request {
    move |playlist| {
        action(Target {
            playlist: Some(playlist),
        })
    }
}

/// A command (`Request::Take`, `Request::Cue`) about the item under the rundown cursor.
pub(super) fn item_command(
    model: &mut Model,
    action: fn(OptionalItem) -> Request,
    verb: &str,
) -> Vec<Effect> {
    let Some(item) = model.selected_item() else {
        model.notify(Level::Warn, format!("{verb}: the rundown is empty"));
        return vec![];
    };
    let (id, label) = (item.id.clone(), format!("{verb} {}", item.clip));
    playlist_command(model, label, |playlist| {
        action(OptionalItem {
            playlist: Some(playlist),
            item: Some(id),
        })
    })
}

fn on_air(model: &Model) -> bool {
    model
        .playlist()
        .is_some_and(|p| p.playout.on_air.is_some() && p.playout.status != Status::Stopped)
}

pub(super) fn stop(model: &mut Model) -> Vec<Effect> {
    let Some(pl) = model.playlist() else {
        return playlist_command(model, "stop".into(), transport(Request::Stop));
    };
    if on_air(model) {
        let clip = pl
            .playout
            .on_air
            .as_deref()
            .and_then(|id| pl.playlist.item(id))
            .map_or_else(|| "the on-air item".to_owned(), |i| i.clip.clone());
        model.dialog = Some(Dialog::Confirm {
            action: Confirm::Stop {
                playlist: pl.playlist.id.clone(),
            },
            question: format!(
                "Stop {clip} on {}? The layer goes empty (off air).",
                crate::tui::roles::layer_label(&pl.playlist)
            ),
        });
        return vec![];
    }
    playlist_command(model, "stop".into(), transport(Request::Stop))
}

pub(super) fn pause_resume(model: &mut Model) -> Vec<Effect> {
    match model.playlist().map(|p| p.playout.status) {
        Some(Status::Playing) => playlist_command(model, "pause".into(), transport(Request::Pause)),
        Some(Status::Paused) => {
            playlist_command(model, "resume".into(), transport(Request::Resume))
        }
        _ => {
            model.notify(Level::Warn, "pause: nothing is playing");
            vec![]
        }
    }
}

/// Flips the viewed playlist's setting `what`, whose value `current` reads, with `action`
/// (`Request::PlaylistLoop`, `Request::Autoplay`).
pub(super) fn toggle(
    model: &mut Model,
    what: &str,
    action: fn(Setting) -> Request,
    current: fn(&Playlist) -> bool,
) -> Vec<Effect> {
    let Some(pl) = model.playlist() else {
        model.notify(Level::Error, format!("{what}: no playlist yet"));
        return vec![];
    };
    let now = current(&pl.playlist);
    let label = format!("{what} {}", if now { "off" } else { "on" });
    playlist_command(model, label, |playlist| {
        action(Setting {
            playlist: Some(playlist),
            enabled: !now,
        })
    })
}

pub(super) fn insert(model: &mut Model) -> Vec<Effect> {
    let Some(clip) = model.selected_clip().map(|c| c.name.clone()) else {
        let why = if model.state.media.clips.is_empty() {
            "the media library is empty (r rescans it)"
        } else {
            "no clip matches the filter"
        };
        model.notify(Level::Warn, format!("insert: {why}"));
        return vec![];
    };
    let index = if model.items().is_empty() {
        0
    } else {
        model.rundown.selected + 1
    };
    let Some(playlist) = model.playlist().map(|p| p.playlist.id.clone()) else {
        model.notify(Level::Error, "insert: no playlist yet");
        return vec![];
    };
    let label = format!("insert {clip}");
    let request = Request::ItemInsert(ItemInsert {
        playlist: Some(playlist),
        clip,
        index,
        ..ItemInsert::default()
    });
    send(model, request, label, true)
}

pub(super) fn delete(model: &mut Model) -> Vec<Effect> {
    let (Some(pl), Some(item)) = (model.playlist(), model.selected_item()) else {
        model.notify(Level::Warn, "delete: the rundown is empty");
        return vec![];
    };
    let on_air = pl.playout.on_air.as_deref() == Some(item.id.as_str())
        && pl.playout.status != Status::Stopped;
    if on_air {
        // The daemon refuses it too; asking first would only waste the operator's time.
        let text = format!("delete: {} is on air; take another item first", item.clip);
        model.notify(Level::Warn, text);
        return vec![];
    }
    let question = format!(
        "Delete item {} ({})?",
        model.rundown.selected + 1,
        escape_hidden(item.title.as_deref().unwrap_or(&item.clip)),
    );
    model.dialog = Some(Dialog::Confirm {
        action: Confirm::Delete {
            playlist: pl.playlist.id.clone(),
            item: item.id.clone(),
        },
        question,
    });
    vec![]
}

pub(super) fn move_item(model: &mut Model, delta: i8) -> Vec<Effect> {
    let len = model.items().len();
    let Some(item) = model.selected_item() else {
        model.notify(Level::Warn, "move: the rundown is empty");
        return vec![];
    };
    let from = model.rundown.selected;
    let to = from.saturating_add_signed(isize::from(delta));
    if to == from || to >= len {
        return vec![];
    }
    let (id, clip) = (item.id.clone(), item.clip.clone());
    let label = format!("move {clip} to {}", to + 1);
    playlist_command(model, label, |playlist| {
        Request::ItemMove(ItemMove {
            playlist: Some(playlist),
            item: id,
            index: to,
        })
    })
}

pub(super) fn confirm(model: &mut Model) -> Vec<Effect> {
    let Some(Dialog::Confirm { action, .. }) = model.dialog.take() else {
        return vec![];
    };
    match action {
        Confirm::Stop { playlist } => command(
            model,
            Request::Stop(Target {
                playlist: Some(playlist),
            }),
            "stop".into(),
        ),
        Confirm::Delete { playlist, item } => {
            let clip = model
                .playlist()
                .and_then(|p| p.playlist.item(&item))
                .map_or_else(|| item.clone(), |i| i.clip.clone());
            command(
                model,
                Request::ItemRemove(ItemId {
                    playlist: Some(playlist),
                    item,
                }),
                format!("delete {clip}"),
            )
        }
        Confirm::ClearGraphics { playlist, layer } => {
            super::graphics::clear_confirmed(model, playlist, layer)
        }
    }
}
