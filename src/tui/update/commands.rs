//! Operator actions that become daemon commands: the argument shapes, the local checks (connected,
//! role, something selected) and the confirmations of destructive actions.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Effect;
use crate::playout::engine::state::Status;
use crate::playout::model::escape_hidden;
use crate::server::protocol::{ClientMsg, Role};
use crate::tui::model::{Confirm, Dialog, Level, Link, MAX_COMMANDS_PER_SEC, Model, Pending};

/// Sends a command, or refuses it locally when it cannot be sent now.
pub(super) fn command(model: &mut Model, op: &str, args: Value, label: String) -> Vec<Effect> {
    send(model, op, args, label, false)
}

fn send(model: &mut Model, op: &str, args: Value, label: String, select: bool) -> Vec<Effect> {
    if model.link != Link::Up {
        refuse_offline(model, &label);
        return vec![];
    }
    if model.session.role == Some(Role::Viewer) && !Role::Viewer.may_run(op) {
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
            op: op.to_owned(),
            label,
            sent: model.now,
            select_result: select,
            overdue: false,
        },
    );
    vec![Effect::Send(ClientMsg::Command {
        id,
        op: op.to_owned(),
        args,
    })]
}

pub(super) fn refuse_offline(model: &mut Model, label: &str) {
    model.notify(
        Level::Error,
        format!("{label}: not sent, the console is not connected to the daemon (reconnecting…)"),
    );
}

/// A command about the viewed playlist: `args` gets its `playlist`.
pub(super) fn playlist_command(
    model: &mut Model,
    op: &str,
    args: Value,
    label: String,
) -> Vec<Effect> {
    let Some(id) = model.playlist().map(|p| p.playlist.id.clone()) else {
        model.notify(Level::Error, format!("{label}: no playlist yet"));
        return vec![];
    };
    let mut args = match args {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    args.insert("playlist".into(), Value::String(id));
    command(model, op, Value::Object(args), label)
}

/// A command about the item under the rundown cursor.
pub(super) fn item_command(model: &mut Model, op: &str, verb: &str) -> Vec<Effect> {
    let Some(item) = model.selected_item() else {
        model.notify(Level::Warn, format!("{verb}: the rundown is empty"));
        return vec![];
    };
    let (id, label) = (item.id.clone(), format!("{verb} {}", item.clip));
    playlist_command(model, op, json!({ "item": id }), label)
}

fn on_air(model: &Model) -> bool {
    model
        .playlist()
        .is_some_and(|p| p.playout.on_air.is_some() && p.playout.status != Status::Stopped)
}

pub(super) fn stop(model: &mut Model) -> Vec<Effect> {
    let Some(pl) = model.playlist() else {
        return playlist_command(model, "playout.stop", json!({}), "stop".into());
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
                pl.playlist.channel_layer
            ),
        });
        return vec![];
    }
    playlist_command(model, "playout.stop", json!({}), "stop".into())
}

pub(super) fn pause_resume(model: &mut Model) -> Vec<Effect> {
    match model.playlist().map(|p| p.playout.status) {
        Some(Status::Playing) => {
            playlist_command(model, "playout.pause", json!({}), "pause".into())
        }
        Some(Status::Paused) => {
            playlist_command(model, "playout.resume", json!({}), "resume".into())
        }
        _ => {
            model.notify(Level::Warn, "pause: nothing is playing");
            vec![]
        }
    }
}

pub(super) fn toggle(model: &mut Model, op: &str, what: &str) -> Vec<Effect> {
    let Some(pl) = model.playlist() else {
        model.notify(Level::Error, format!("{what}: no playlist yet"));
        return vec![];
    };
    let now = if op == "playlist.loop" {
        pl.playlist.looping
    } else {
        pl.playlist.autoplay
    };
    let label = format!("{what} {}", if now { "off" } else { "on" });
    playlist_command(model, op, json!({ "enabled": !now }), label)
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
    let args = json!({ "playlist": playlist, "clip": clip, "index": index });
    send(model, "item.insert", args, format!("insert {clip}"), true)
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
    playlist_command(
        model,
        "item.move",
        json!({ "item": id, "index": to }),
        label,
    )
}

pub(super) fn confirm(model: &mut Model) -> Vec<Effect> {
    let Some(Dialog::Confirm { action, .. }) = model.dialog.take() else {
        return vec![];
    };
    match action {
        Confirm::Stop { playlist } => command(
            model,
            "playout.stop",
            json!({ "playlist": playlist }),
            "stop".into(),
        ),
        Confirm::Delete { playlist, item } => {
            let clip = model
                .playlist()
                .and_then(|p| p.playlist.item(&item))
                .map_or_else(|| item.clone(), |i| i.clip.clone());
            command(
                model,
                "item.remove",
                json!({ "playlist": playlist, "item": item }),
                format!("delete {clip}"),
            )
        }
    }
}
