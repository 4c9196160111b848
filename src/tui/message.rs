//! Everything that can happen to the console, as [`Message`]s, and the key map that turns a key press
//! into one ([`map_key`]), depending on the mode (dialog, filter, normal) and the focused pane.
//!
//! The key map is the single place that knows keys; `docs/console.md` and the help overlay
//! ([`HELP`]) list the same bindings.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::client::NetEvent;
use super::model::{Dialog, LogLine, Mode, Model, Pane};
use crate::protocol::Role;

/// A cursor movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
}

/// Everything `update` handles.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Move the cursor of the focused pane (scroll, in the log).
    Move(Move),
    /// Focus the next / previous pane.
    FocusNext,
    FocusPrev,
    /// Show the previous / next playlist in the rundown (local view only).
    PrevPlaylist,
    NextPlaylist,
    /// Take what is cued or next (the NEXT line).
    TakeNext,
    /// Take the item under the rundown cursor.
    TakeSelected,
    /// `playout.next`: play the item after the on-air one.
    Next,
    /// `playout.previous`.
    Previous,
    /// Cue (load in the background) the item under the cursor.
    Cue,
    /// Stop (asks first while something is on air).
    Stop,
    /// Pause when playing, resume when paused.
    PauseResume,
    /// Turn autoplay on or off.
    ToggleAutoplay,
    /// Turn looping of the playlist on or off.
    ToggleLoop,
    /// Insert the library's selected clip after the rundown cursor.
    Insert,
    /// Delete the item under the cursor (asks first).
    Delete,
    /// Move the item under the cursor down (+1) or up (-1).
    MoveItem(i8),
    /// Rescan the media library.
    Rescan,
    /// Start typing a library filter.
    StartFilter,
    FilterChar(char),
    FilterBackspace,
    /// Keep the filter and stop typing.
    FilterDone,
    /// Clear the filter and stop typing.
    FilterCancel,
    ToggleHelp,
    /// Open or close the servers dialog.
    ToggleServers,
    /// Open or close the graphics dialog.
    ToggleGraphics,
    /// Graphics dialog: fire the selected event now (`graphics.fire`).
    FireGraphic,
    /// Graphics dialog: take the selected live graphic off (asks first; `graphics.clear`).
    ClearGraphic,
    /// Graphics dialog: the playlist's logo off when it is on, else back on (`graphics.logo`).
    ToggleLogo,
    /// Graphics dialog, `u`: a line of new data for the selected template (`graphics.update`).
    UpdateGraphic,
    /// Graphics dialog, `i`: a function of the selected template to call (`graphics.invoke`).
    InvokeGraphic,
    /// A character typed in that line.
    InputChar(char),
    InputBackspace,
    /// Ctrl-U: the line emptied.
    InputClear,
    /// Enter: the line checked and sent.
    InputSubmit,
    /// Answer "yes" to the open dialog.
    Confirm,
    /// Close a dialog, or clear the notice.
    Cancel,
    /// Repaint the whole screen.
    Redraw,
    Quit,
    /// Time passed (the clock, stale telemetry, overdue acks).
    Tick,
    /// The terminal now has this many columns and rows.
    Resize(u16, u16),
    /// Something happened on the connection.
    Net(NetEvent),
    /// Lines from the process's own log (the in-memory tracing buffer).
    Logs(Vec<LogLine>),
}

/// Key bindings as shown by the help overlay: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("Space", "take: play cued/next item"),
    ("Enter", "take selected; library: add"),
    ("n", "next: item after on-air"),
    ("b", "back: play previous item"),
    ("c", "cue the selected item"),
    ("s", "stop (asks while on air)"),
    ("p", "pause / resume"),
    ("a", "autoplay on / off"),
    ("l", "loop the playlist on / off"),
    ("i", "insert library clip below"),
    ("d / Del", "delete selected (asks)"),
    ("J / K", "move selected down / up"),
    ("/", "filter the media library"),
    ("r", "rescan the media library"),
    ("↑ ↓ j k", "move cursor / scroll log"),
    ("PgUp PgDn", "page up / down"),
    ("Home End", "first / last row"),
    ("Tab S-Tab", "next / previous pane"),
    ("[ ]", "view prev / next playlist"),
    ("Esc", "close dialog, clear filter"),
    ("v", "the servers in detail"),
    ("g", "graphics: fire, clear, logo…"),
    ("Ctrl-L", "repaint the screen"),
    ("?", "this help"),
    (QUIT_KEYS, "quit console (not playout)"),
];

/// The keys that quit, as [`HELP`] lists them.
const QUIT_KEYS: &str = "q Ctrl-C";

/// [`HELP`] as it is true in `mode`: quitting the demo stops its simulator and daemon too.
pub fn help(mode: Mode) -> Vec<(&'static str, &'static str)> {
    HELP.iter()
        .map(|&(keys, what)| match (keys, mode) {
            (QUIT_KEYS, Mode::Demo) => (keys, "quit the demo (all of it)"),
            _ => (keys, what),
        })
        .collect()
}

/// Turns a terminal event into a message.
pub fn from_event(model: &Model, event: Event) -> Option<Message> {
    match event {
        Event::Key(key) => map_key(model, key),
        Event::Resize(w, h) => Some(Message::Resize(w, h)),
        _ => None,
    }
}

/// The message a key press means in the current mode; `None` for keys that do nothing here.
pub fn map_key(model: &Model, key: KeyEvent) -> Option<Message> {
    // Some terminals report releases and repeats too; act on presses (and auto-repeat for moves).
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let typing = matches!(model.dialog, Some(Dialog::GraphicsInput(_)));
    if ctrl {
        return match key.code {
            KeyCode::Char('c') => Some(Message::Quit),
            KeyCode::Char('l') => Some(Message::Redraw),
            KeyCode::Char('u') if typing => Some(Message::InputClear),
            _ => None,
        };
    }
    match &model.dialog {
        Some(Dialog::Help) => {
            return match key.code {
                KeyCode::Esc | KeyCode::Char('?' | 'q') | KeyCode::Enter => {
                    Some(Message::ToggleHelp)
                }
                _ => None,
            };
        }
        Some(Dialog::Servers) => {
            return match key.code {
                KeyCode::Esc | KeyCode::Char('v' | 'q') | KeyCode::Enter => {
                    Some(Message::ToggleServers)
                }
                _ => None,
            };
        }
        Some(Dialog::Graphics) => return graphics_key(model, key.code),
        Some(Dialog::GraphicsInput(_)) => {
            return match key.code {
                KeyCode::Esc => Some(Message::Cancel),
                KeyCode::Enter => Some(Message::InputSubmit),
                KeyCode::Backspace => Some(Message::InputBackspace),
                KeyCode::Char(c) => Some(Message::InputChar(c)),
                _ => None,
            };
        }
        Some(Dialog::Confirm { .. }) => {
            return match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(Message::Confirm),
                KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => Some(Message::Cancel),
                _ => None,
            };
        }
        None => {}
    }
    if model.library.editing {
        return match key.code {
            KeyCode::Esc => Some(Message::FilterCancel),
            KeyCode::Enter => Some(Message::FilterDone),
            KeyCode::Backspace => Some(Message::FilterBackspace),
            KeyCode::Up => Some(Message::Move(Move::Up)),
            KeyCode::Down => Some(Message::Move(Move::Down)),
            KeyCode::Char(c) => Some(Message::FilterChar(c)),
            _ => None,
        };
    }
    let msg = match key.code {
        KeyCode::Char(' ') => Message::TakeNext,
        KeyCode::Enter => match model.focus {
            Pane::Rundown => Message::TakeSelected,
            Pane::Library => Message::Insert,
            Pane::Log => return None,
        },
        KeyCode::Char('n') => Message::Next,
        KeyCode::Char('b') => Message::Previous,
        KeyCode::Char('c') => Message::Cue,
        KeyCode::Char('s') => Message::Stop,
        KeyCode::Char('p') => Message::PauseResume,
        KeyCode::Char('a') => Message::ToggleAutoplay,
        KeyCode::Char('l') => Message::ToggleLoop,
        KeyCode::Char('i') => Message::Insert,
        KeyCode::Char('d') | KeyCode::Delete => Message::Delete,
        KeyCode::Char('J') => Message::MoveItem(1),
        KeyCode::Char('K') => Message::MoveItem(-1),
        KeyCode::Char('/') => Message::StartFilter,
        KeyCode::Char('r') => Message::Rescan,
        KeyCode::Char('[') => Message::PrevPlaylist,
        KeyCode::Char(']') => Message::NextPlaylist,
        KeyCode::Char('?') => Message::ToggleHelp,
        KeyCode::Char('v') => Message::ToggleServers,
        KeyCode::Char('g') => Message::ToggleGraphics,
        KeyCode::Char('q') => Message::Quit,
        KeyCode::Up | KeyCode::Char('k') => Message::Move(Move::Up),
        KeyCode::Down | KeyCode::Char('j') => Message::Move(Move::Down),
        KeyCode::PageUp => Message::Move(Move::PageUp),
        KeyCode::PageDown => Message::Move(Move::PageDown),
        KeyCode::Home => Message::Move(Move::Home),
        KeyCode::End => Message::Move(Move::End),
        KeyCode::Tab => Message::FocusNext,
        KeyCode::BackTab => Message::FocusPrev,
        KeyCode::Esc => Message::Cancel,
        _ => return None,
    };
    Some(msg)
}

/// The graphics dialog's keys. A viewer is not offered the actions (the daemon would refuse
/// them): only moving and closing.
fn graphics_key(model: &Model, code: KeyCode) -> Option<Message> {
    let operator = model.session.role != Some(Role::Viewer);
    match code {
        KeyCode::Esc | KeyCode::Char('g' | 'q') => Some(Message::ToggleGraphics),
        KeyCode::Up | KeyCode::Char('k') => Some(Message::Move(Move::Up)),
        KeyCode::Down | KeyCode::Char('j') => Some(Message::Move(Move::Down)),
        KeyCode::Home => Some(Message::Move(Move::Home)),
        KeyCode::End => Some(Message::Move(Move::End)),
        KeyCode::Char('f') | KeyCode::Enter if operator => Some(Message::FireGraphic),
        KeyCode::Char('c') if operator => Some(Message::ClearGraphic),
        KeyCode::Char('l') if operator => Some(Message::ToggleLogo),
        KeyCode::Char('u') if operator => Some(Message::UpdateGraphic),
        KeyCode::Char('i') if operator => Some(Message::InvokeGraphic),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::tui::model::Confirm;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn model() -> Model {
        Model::new("ws://x/ws", Instant::now(), 0)
    }

    #[test]
    fn normal_keys_map_to_actions_and_enter_depends_on_the_pane() {
        let mut m = model();
        assert_eq!(
            map_key(&m, key(KeyCode::Char(' '))),
            Some(Message::TakeNext)
        );
        assert_eq!(
            map_key(&m, key(KeyCode::Enter)),
            Some(Message::TakeSelected)
        );
        assert_eq!(
            map_key(&m, key(KeyCode::Char('J'))),
            Some(Message::MoveItem(1))
        );
        assert_eq!(
            map_key(&m, key(KeyCode::Char('K'))),
            Some(Message::MoveItem(-1))
        );
        assert_eq!(map_key(&m, key(KeyCode::Char('q'))), Some(Message::Quit));
        m.focus = Pane::Library;
        assert_eq!(map_key(&m, key(KeyCode::Enter)), Some(Message::Insert));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map_key(&m, ctrl_c), Some(Message::Quit));
        let release = KeyEvent {
            kind: KeyEventKind::Release,
            ..key(KeyCode::Char('s'))
        };
        assert_eq!(map_key(&m, release), None);
    }

    #[test]
    fn dialogs_and_the_filter_capture_keys() {
        let mut m = model();
        m.dialog = Some(Dialog::Confirm {
            action: Confirm::Stop {
                playlist: "main".into(),
            },
            question: String::new(),
        });
        assert_eq!(map_key(&m, key(KeyCode::Char('y'))), Some(Message::Confirm));
        assert_eq!(map_key(&m, key(KeyCode::Esc)), Some(Message::Cancel));
        assert_eq!(
            map_key(&m, key(KeyCode::Char('s'))),
            None,
            "no other action"
        );
        m.dialog = Some(Dialog::Help);
        assert_eq!(
            map_key(&m, key(KeyCode::Char('q'))),
            Some(Message::ToggleHelp)
        );
        m.dialog = Some(Dialog::Servers);
        assert_eq!(
            map_key(&m, key(KeyCode::Char('q'))),
            Some(Message::ToggleServers),
            "q closes the dialog, it does not quit"
        );
        assert_eq!(map_key(&m, key(KeyCode::Char(' '))), None, "no take");
        m.dialog = None;
        assert_eq!(
            map_key(&m, key(KeyCode::Char('v'))),
            Some(Message::ToggleServers)
        );
        m.library.editing = true;
        assert_eq!(
            map_key(&m, key(KeyCode::Char('s'))),
            Some(Message::FilterChar('s')),
            "letters are typed, not commands"
        );
        assert_eq!(map_key(&m, key(KeyCode::Esc)), Some(Message::FilterCancel));
    }
}
