//! `update(&mut Model, Message) -> Vec<Effect>`: the console's only state transition. It never
//! awaits and never touches the socket or the terminal; what must happen outside is returned as
//! [`Effect`]s for the run loop to carry out.
//!
//! - this file: dispatch, cursors, dialogs, the filter, ticks.
//! - [`commands`]: operator actions → commands (arguments, local checks, confirmations).
//! - [`graphics`]: the graphics dialog's actions (fire, clear after a confirmation, the logo, a
//!   line of new data or a function for a template).
//! - [`net`]: the connection and the daemon's messages → state (through the protocol's reducer,
//!   `protocol::reduce`), acks.
//! - [`event_log`]: what the log says about each event.
//!
//! Every command gets an id (`c1`, `c2`, …) and a [`Pending`] entry until its ack arrives; while the
//! console is not connected, a command is refused here with a notice instead of being sent.

mod commands;
mod event_log;
#[cfg(test)]
mod events_tests;
mod graphics;
#[cfg(test)]
mod graphics_input_tests;
#[cfg(test)]
mod graphics_tests;
mod net;
#[cfg(test)]
mod net_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod words_tests;

use super::layout;
use super::message::{Message, Move};
use super::model::{Confirm, Dialog, Level, Link, LogLine, Model, NOTICE_FOR, Pane, sanitize};
use crate::protocol::args::OptionalItem;
use crate::protocol::{ClientMsg, Request};
use crate::tui::graphics::InputFor;
use commands::{
    command, confirm, delete, insert, item_command, move_item, pause_resume, playlist_command,
    refuse_offline, stop, toggle, transport,
};

/// Something for the run loop to do.
// A typed command is a couple of hundred bytes; effects are a handful per key press and are sent
// on (moved into the client's queue) at once, so boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send this to the daemon.
    Send(ClientMsg),
    /// Clear and repaint the terminal.
    Redraw,
    /// Leave the console (playout is not affected).
    Quit,
}

/// The operator action a message asks the daemon for, if it is one.
fn action(msg: &Message) -> Option<&'static str> {
    Some(match msg {
        Message::TakeNext | Message::TakeSelected => "take",
        Message::Next => "next",
        Message::Previous => "previous",
        Message::Cue => "cue",
        Message::Stop => "stop",
        Message::PauseResume => "pause",
        Message::ToggleAutoplay => "autoplay",
        Message::ToggleLoop => "loop",
        Message::Insert => "insert",
        Message::Delete => "delete",
        Message::MoveItem(_) => "move",
        Message::Rescan => "media rescan",
        Message::FireGraphic => "fire",
        Message::ClearGraphic => "clear",
        Message::ToggleLogo => "logo",
        Message::UpdateGraphic => "update",
        Message::InvokeGraphic => "invoke",
        _ => return None,
    })
}

/// Applies one message.
pub fn update(model: &mut Model, msg: Message) -> Vec<Effect> {
    // Refuse before asking anything (a confirmation for a command that cannot be sent is noise).
    if let Some(what) = action(&msg)
        && model.link != Link::Up
    {
        refuse_offline(model, what);
        return vec![];
    }
    match msg {
        Message::Move(m) => {
            move_cursor(model, m);
            vec![]
        }
        Message::FocusNext => {
            model.focus = model.focus.next(model.library_visible());
            vec![]
        }
        Message::FocusPrev => {
            model.focus = model.focus.prev(model.library_visible());
            vec![]
        }
        Message::PrevPlaylist => view_playlist(model, -1),
        Message::NextPlaylist => view_playlist(model, 1),
        Message::TakeNext => playlist_command(model, "take".into(), |playlist| {
            Request::Take(OptionalItem {
                playlist: Some(playlist),
                item: None,
            })
        }),
        Message::TakeSelected => item_command(model, Request::Take, "take"),
        Message::Next => playlist_command(model, "next".into(), transport(Request::Next)),
        Message::Previous => {
            playlist_command(model, "previous".into(), transport(Request::Previous))
        }
        Message::Cue => item_command(model, Request::Cue, "cue"),
        Message::Stop => stop(model),
        Message::PauseResume => pause_resume(model),
        Message::ToggleAutoplay => toggle(model, "autoplay", Request::Autoplay, |p| p.autoplay),
        Message::ToggleLoop => toggle(model, "loop", Request::PlaylistLoop, |p| p.looping),
        Message::Insert => insert(model),
        Message::Delete => delete(model),
        Message::MoveItem(delta) => move_item(model, delta),
        Message::Rescan => command(model, Request::MediaRescan, "media rescan".into()),
        Message::StartFilter => {
            model.library.editing = true;
            if model.library_visible() {
                model.focus = Pane::Library;
            }
            vec![]
        }
        Message::FilterChar(c) => {
            if !c.is_control() && model.library.filter.chars().count() < 64 {
                model.library.filter.push(c);
                model.library.cursor.selected = 0;
                model.refilter();
            }
            vec![]
        }
        Message::FilterBackspace => {
            model.library.filter.pop();
            model.refilter();
            vec![]
        }
        Message::FilterDone => {
            model.library.editing = false;
            vec![]
        }
        Message::FilterCancel => {
            model.library.editing = false;
            model.library.filter.clear();
            model.refilter();
            vec![]
        }
        Message::ToggleHelp => {
            model.dialog = match model.dialog {
                Some(Dialog::Help) => None,
                _ => Some(Dialog::Help),
            };
            vec![]
        }
        Message::ToggleServers => {
            model.dialog = match model.dialog {
                Some(Dialog::Servers) => None,
                _ => Some(Dialog::Servers),
            };
            vec![]
        }
        Message::ToggleGraphics => {
            model.dialog = match model.dialog {
                Some(Dialog::Graphics) => None,
                _ => {
                    model.graphics_row = 0;
                    Some(Dialog::Graphics)
                }
            };
            vec![]
        }
        Message::FireGraphic => graphics::fire(model),
        Message::ClearGraphic => graphics::clear(model),
        Message::ToggleLogo => graphics::logo(model),
        Message::UpdateGraphic => graphics::open_input(model, InputFor::Update),
        Message::InvokeGraphic => graphics::open_input(model, InputFor::Invoke),
        Message::InputChar(c) => {
            graphics::input_char(model, c);
            vec![]
        }
        Message::InputBackspace => {
            graphics::input_backspace(model);
            vec![]
        }
        Message::InputClear => {
            graphics::input_clear(model);
            vec![]
        }
        Message::InputSubmit => graphics::input_submit(model),
        Message::Confirm => confirm(model),
        Message::Cancel => {
            // Esc peels one layer: the dialog, else the filter, else the notice. A clear asked
            // or a line typed from the graphics dialog goes back to it.
            let closed = model.dialog.take();
            if let Some(
                Dialog::Confirm {
                    action: Confirm::ClearGraphics { .. },
                    ..
                }
                | Dialog::GraphicsInput(_),
            ) = closed
            {
                model.dialog = Some(Dialog::Graphics);
            } else if closed.is_none() {
                if model.library.filter.is_empty() {
                    model.notice = None;
                } else {
                    model.library.filter.clear();
                    model.refilter();
                }
            }
            vec![]
        }
        Message::Redraw => vec![Effect::Redraw],
        Message::Quit => {
            model.quit = true;
            vec![Effect::Quit]
        }
        Message::Tick => {
            tick(model);
            vec![]
        }
        Message::Resize(w, h) => {
            model.size = (w, h);
            if !model.library_visible() && model.focus == Pane::Library {
                model.focus = Pane::Rundown;
            }
            net::follow_selection(model);
            model.refilter();
            vec![]
        }
        Message::Net(event) => net::net(model, event),
        Message::Logs(lines) => {
            for line in lines {
                model.log(line.level, line.text);
                if let Some(last) = model.log.lines.back_mut() {
                    last.wall_ms = line.wall_ms;
                }
            }
            vec![]
        }
    }
}

/// A log record of this process (demo: the daemon and simulator) as a log-pane line.
pub fn log_line(record: &crate::telemetry::LogRecord) -> LogLine {
    let level = match record.level {
        tracing::Level::ERROR => Level::Error,
        tracing::Level::WARN => Level::Warn,
        _ => Level::Info,
    };
    LogLine {
        wall_ms: record.unix_ms,
        level,
        text: sanitize(&record.message),
    }
}

fn move_cursor(model: &mut Model, m: Move) {
    if model.dialog == Some(Dialog::Graphics) {
        graphics::move_row(model, m);
        return;
    }
    let (area, status) = (model.area(), model.status_rows());
    let focus = if model.library.editing {
        Pane::Library
    } else {
        model.focus
    };
    match focus {
        Pane::Rundown => {
            let rows = layout::rundown_rows(area, status);
            let len = model.items().len();
            step(&mut model.rundown, m, len, rows);
            model.selected_id = model.selected_item().map(|i| i.id.clone());
        }
        Pane::Library => {
            let rows = layout::library_rows(area, status).max(1);
            let len = model.library.matches.len();
            step(&mut model.library.cursor, m, len, rows);
        }
        Pane::Log => {
            let rows = layout::log_rows(area, status).max(1);
            let max = model.log.lines.len().saturating_sub(rows);
            let scroll = &mut model.log.scroll;
            *scroll = match m {
                Move::Up => *scroll + 1,
                Move::Down => scroll.saturating_sub(1),
                Move::PageUp => *scroll + rows,
                Move::PageDown => scroll.saturating_sub(rows),
                Move::Home => max,
                Move::End => 0,
            }
            .min(max);
        }
    }
}

fn step(cursor: &mut super::model::Cursor, m: Move, len: usize, rows: usize) {
    let page = isize::try_from(rows.max(1)).unwrap_or(isize::MAX);
    match m {
        Move::Up => cursor.move_by(-1, len, rows),
        Move::Down => cursor.move_by(1, len, rows),
        Move::PageUp => cursor.move_by(-page, len, rows),
        Move::PageDown => cursor.move_by(page, len, rows),
        Move::Home => cursor.move_by(isize::MIN, len, rows),
        Move::End => cursor.move_by(isize::MAX, len, rows),
    }
}

fn view_playlist(model: &mut Model, delta: isize) -> Vec<Effect> {
    let ids: Vec<String> = model
        .state
        .playlists
        .iter()
        .map(|p| p.playlist.id.clone())
        .collect();
    if ids.len() < 2 {
        model.notify(Level::Info, "there is only one playlist");
        return vec![];
    }
    let current = model.playlist().map(|p| p.playlist.id.clone());
    let at = current
        .and_then(|c| ids.iter().position(|i| *i == c))
        .unwrap_or(0);
    let len = isize::try_from(ids.len()).unwrap_or(1);
    let at = isize::try_from(at).unwrap_or(0);
    let next = usize::try_from((at + delta).rem_euclid(len)).unwrap_or(0);
    model.viewing = ids.get(next).cloned();
    model.rundown = super::model::Cursor::default();
    model.selected_id = None;
    model.derive();
    net::follow_selection(model);
    vec![]
}

fn tick(model: &mut Model) {
    if let Some(n) = &model.notice {
        let keep = if n.level == Level::Error {
            NOTICE_FOR * 3
        } else {
            NOTICE_FOR
        };
        if model.now.saturating_duration_since(n.at) >= keep {
            model.notice = None;
        }
    }
    let now = model.now;
    let overdue: Vec<String> = model
        .pending
        .values_mut()
        .filter(|p| {
            !p.overdue && now.saturating_duration_since(p.sent) >= super::model::ACK_OVERDUE
        })
        .map(|p| {
            p.overdue = true;
            p.label.clone()
        })
        .collect();
    for label in overdue {
        model.notify(
            Level::Warn,
            format!("{label}: no answer from the daemon yet (still waiting)"),
        );
    }
}
