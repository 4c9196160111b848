//! The graphics dialog's actions (docs/graphics.md, "By hand"): `f` fires the selected event of
//! the item under the rundown cursor, `c` takes the selected live graphic off after a
//! confirmation, `l` turns the playlist's logo off or back on, `u` and `i` open a line for the
//! selected template's new data or a function to call. Each goes through
//! [`super::commands::command`], so its ack or error shows like every other command's.

use super::Effect;
use super::commands::{command, playlist_command};
use crate::playout::model::escape_hidden;
use crate::protocol::args::{GraphicsFire, GraphicsInvoke, GraphicsLayer, GraphicsUpdate, Setting};
use crate::protocol::{Request, Role};
use crate::tui::graphics::{self, INPUT_MAX, Input, InputFor, Row};
use crate::tui::message::Move;
use crate::tui::model::{Confirm, Dialog, Level, Link, Model};

/// Moves the dialog's selection (its rows are the live graphics, then the item's events).
pub(super) fn move_row(model: &mut Model, m: Move) {
    let len = graphics::rows(model).len();
    let at = graphics::selected(model, len);
    model.graphics_row = match m {
        Move::Up | Move::PageUp => at.saturating_sub(1),
        Move::Down | Move::PageDown => (at + 1).min(len.saturating_sub(1)),
        Move::Home => 0,
        Move::End => len.saturating_sub(1),
    };
}

/// `graphics.fire` of the selected event.
pub(super) fn fire(model: &mut Model) -> Vec<Effect> {
    let (item, event, label) = match graphics::selected_row(model) {
        Some(Row::Event(item, e)) => (
            item.id.clone(),
            e.id.clone(),
            format!("fire {} ({})", e.id, escape_hidden(e.graphic.label())),
        ),
        Some(Row::Live(_)) => {
            model.notify(
                Level::Warn,
                "fire: choose one of the item's events (c takes a graphic on air off)",
            );
            return vec![];
        }
        None => {
            model.notify(
                Level::Warn,
                "fire: the item under the cursor has no graphics events",
            );
            return vec![];
        }
    };
    playlist_command(model, label, |playlist| {
        Request::GraphicsFire(GraphicsFire {
            playlist: Some(playlist),
            item,
            event,
        })
    })
}

/// Asks before `graphics.clear` of the selected live graphic's layer (the confirmation sends it,
/// [`clear_confirmed`]).
pub(super) fn clear(model: &mut Model) -> Vec<Effect> {
    // A question whose answer would be refused is noise.
    if model.session.role == Some(Role::Viewer) {
        model.notify(
            Level::Error,
            "clear: not sent, this console is read-only (viewer token)",
        );
        return vec![];
    }
    let Some(pl) = model.playlist() else {
        model.notify(Level::Error, "clear: no playlist yet");
        return vec![];
    };
    let Some(Row::Live(g)) = graphics::selected_row(model) else {
        model.notify(
            Level::Warn,
            "clear: choose a graphic on air (f fires the item's events)",
        );
        return vec![];
    };
    let what = if g.item.is_none() && g.name == "logo" {
        format!(
            "the logo {} off layer {}-{}? It stays off until l puts it back.",
            escape_hidden(&g.label),
            g.channel,
            g.layer
        )
    } else {
        format!(
            "{} ({}) off layer {}-{}? It goes off air now.",
            escape_hidden(&g.label),
            escape_hidden(&g.name),
            g.channel,
            g.layer
        )
    };
    model.dialog = Some(Dialog::Confirm {
        action: Confirm::ClearGraphics {
            playlist: pl.playlist.id.clone(),
            layer: g.layer,
        },
        question: format!("Take {what}"),
    });
    vec![]
}

/// The operator said yes: `graphics.clear`, then back to the graphics dialog to see it go.
pub(super) fn clear_confirmed(model: &mut Model, playlist: String, layer: i32) -> Vec<Effect> {
    let effects = command(
        model,
        Request::GraphicsClear(GraphicsLayer {
            playlist: Some(playlist),
            layer,
        }),
        format!("clear layer {layer}"),
    );
    model.dialog = Some(Dialog::Graphics);
    effects
}

/// `graphics.logo`: off when the logo is on (or about to go on), else back on.
pub(super) fn logo(model: &mut Model) -> Vec<Effect> {
    let Some(pl) = model.playlist() else {
        model.notify(Level::Error, "logo: no playlist yet");
        return vec![];
    };
    if pl.playlist.logo.is_none() {
        let text = format!(
            "logo: {} has no logo (playlist.update sets one)",
            escape_hidden(&pl.playlist.name)
        );
        model.notify(Level::Warn, text);
        return vec![];
    }
    let on = graphics::logo_is_on(&model.state, pl);
    let label = format!("logo {}", if on { "off" } else { "on" });
    playlist_command(model, label, |playlist| {
        Request::GraphicsLogo(Setting {
            playlist: Some(playlist),
            enabled: !on,
        })
    })
}

/// `u` / `i`: a line for the selected live template (its data on air to edit, or a function's
/// name to type).
pub(super) fn open_input(model: &mut Model, what: InputFor) -> Vec<Effect> {
    let verb = match what {
        InputFor::Update => "update",
        InputFor::Invoke => "invoke",
    };
    if model.session.role == Some(Role::Viewer) {
        let text = format!("{verb}: not sent, this console is read-only (viewer token)");
        model.notify(Level::Error, text);
        return vec![];
    }
    let Some(Row::Live(g)) = graphics::selected_row(model) else {
        let text = format!("{verb}: choose a template on air (the list's first rows)");
        model.notify(Level::Warn, text);
        return vec![];
    };
    match Input::for_live(what, g) {
        Ok(input) => model.dialog = Some(Dialog::GraphicsInput(input)),
        Err(e) => model.notify(Level::Warn, e),
    }
    vec![]
}

/// The line being typed, if the dialog is open.
fn input(model: &mut Model) -> Option<&mut Input> {
    match &mut model.dialog {
        Some(Dialog::GraphicsInput(i)) => Some(i),
        _ => None,
    }
}

pub(super) fn input_char(model: &mut Model, c: char) {
    if let Some(i) = input(model) {
        // A pasted line feed ends nothing: data may hold one (JSON escapes it, XML keeps it).
        if (!c.is_control() || c == '\n') && i.text.len() + c.len_utf8() <= INPUT_MAX {
            i.text.push(c);
        }
        i.error = None;
    }
}

pub(super) fn input_backspace(model: &mut Model) {
    if let Some(i) = input(model) {
        i.text.pop();
        i.error = None;
    }
}

pub(super) fn input_clear(model: &mut Model) {
    if let Some(i) = input(model) {
        i.text.clear();
        i.error = None;
    }
}

/// Enter: the line is checked as the daemon would and sent; a line that cannot be sent stays in
/// the dialog with the reason, so nothing typed is lost.
pub(super) fn input_submit(model: &mut Model) -> Vec<Effect> {
    let Some(i) = input(model) else {
        return vec![];
    };
    let parsed = match i.what {
        InputFor::Update => graphics::parse_data(&i.text).map(|data| {
            let label = format!("update {} on layer {}", i.label, i.layer);
            let request = Request::GraphicsUpdate(GraphicsUpdate {
                playlist: Some(i.playlist.clone()),
                layer: i.layer,
                data,
            });
            (request, label)
        }),
        InputFor::Invoke => graphics::parse_method(&i.text).map(|method| {
            let label = format!("invoke {method} on layer {}", i.layer);
            let request = Request::GraphicsInvoke(GraphicsInvoke {
                playlist: Some(i.playlist.clone()),
                layer: i.layer,
                method,
            });
            (request, label)
        }),
    };
    let (request, label) = match parsed {
        Ok(r) => r,
        Err(e) => {
            i.error = Some(e);
            return vec![];
        }
    };
    if model.link != Link::Up {
        if let Some(i) = input(model) {
            i.error =
                Some("not connected to the daemon: nothing sent (Enter again once it is)".into());
        }
        return vec![];
    }
    model.dialog = Some(Dialog::Graphics);
    command(model, request, escape_hidden(&label).into_owned())
}
