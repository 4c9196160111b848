//! `view(&Model, &mut Frame)`: draws the console as a pure function of the model, one function per
//! pane (television's `screen/*.rs` shape).
//!
//! - [`status`]: the top bar (daemon link, CasparCG link, alarms, on-air times, clock).
//! - [`servers`]: the status bar's row for a main/backup pair, and the servers dialog (`v`).
//! - [`graphics`]: the graphics dialog (`g`): live graphics, the item's events, the logo.
//! - [`on_air`]: what is on air, its progress, and what comes next.
//! - [`rundown`]: the playlist as a windowed table (only visible rows are built).
//! - [`library`]: the media library with its filter.
//! - [`log`]: the log/alarms pane, the notice line and the key hints.
//! - [`overlay`]: the help and confirmation dialogs.

mod graphics;
#[cfg(test)]
mod graphics_tests;
mod library;
mod log;
mod on_air;
mod overlay;
pub mod rundown;
mod servers;
#[cfg(test)]
mod servers_tests;
mod status;
#[cfg(test)]
mod tests;

use ratatui::Frame;
use ratatui::layout::Alignment;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

use super::layout;
use super::model::{Dialog, Link, Mode, Model};

/// What quitting does, in one sentence: true in each mode.
pub fn quitting(mode: Mode) -> &'static str {
    match mode {
        Mode::Attached => {
            "Quitting (q) closes only this console: playout on the daemon is never affected."
        }
        Mode::Demo => "Quitting (q) ends the demo: its simulator and daemon stop too.",
    }
}

/// Draws the whole console.
pub fn view(model: &Model, frame: &mut Frame) {
    let area = frame.area();
    if layout::too_small(area) {
        let text = format!(
            "The console needs at least {}×{} (this terminal is {}×{}). {}",
            layout::MIN_WIDTH,
            layout::MIN_HEIGHT,
            area.width,
            area.height,
            quitting(model.mode),
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let areas = layout::areas(area, model.status_rows());
    status::render(model, frame, areas.status);
    on_air::render(model, frame, areas.on_air);
    rundown::render(model, frame, areas.rundown);
    if let Some(library) = areas.library {
        library::render(model, frame, library);
    }
    log::render(model, frame, areas.log);
    log::notice(model, frame, areas.notice);
    log::footer(model, frame, areas.footer);
    match &model.dialog {
        Some(Dialog::Help) => overlay::help(frame, area, model.mode),
        Some(Dialog::Servers) => servers::dialog(model, frame, area),
        Some(Dialog::Graphics) => graphics::dialog(model, frame, area),
        Some(Dialog::GraphicsInput(input)) => graphics::input_dialog(input, frame, area),
        Some(Dialog::Confirm { question, .. }) => overlay::confirm(frame, area, question),
        None => {}
    }
}

/// Text of low importance, or not live.
const DIM: Style = Style::new().fg(Color::DarkGray);

/// A pane's frame, highlighted when it has the keyboard.
fn pane<'a>(title: impl Into<ratatui::text::Line<'a>>, focused: bool) -> Block<'a> {
    let style = if focused {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::Gray)
    };
    Block::new()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(style)
        .title(title)
        .title_alignment(Alignment::Left)
}

/// `HH:MM:SS` of a time span (rounded down), or dashes for a value that is not a time.
pub fn hms(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "--:--:--".into();
    }
    let s = secs.floor().min(359_999.0) as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `-HH:MM:SS` of a remaining time, rounded up: the count-down shows 00:00:01 until the very end.
pub fn countdown(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "---:--:--".into();
    }
    format!("-{}", hms(secs.ceil()))
}

/// `HH:MM:SS` UTC of a Unix time in milliseconds.
pub fn clock(wall_ms: u64) -> String {
    let s = wall_ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// One line about the connection to the daemon when it is not up: "connecting to …" until the
/// first connection, with a hint at starting a daemon when it cannot be reached, then
/// "reconnecting…".
fn link_text(model: &Model) -> Option<String> {
    let url = &model.url;
    match &model.link {
        Link::Up => None,
        Link::Connecting { attempt } if !model.ever_connected => Some(match attempt {
            0 | 1 => format!("connecting to {url}…"),
            n => format!("connecting to {url}… (attempt {n})"),
        }),
        Link::Connecting { attempt } => Some(format!("reconnecting… (attempt {attempt})")),
        Link::Down {
            reason, retry_at, ..
        } => {
            let wait = retry_at.saturating_duration_since(model.now).as_secs_f64();
            Some(if model.ever_connected {
                format!("reconnecting… next try in {wait:.1} s · {reason}")
            } else {
                format!("connecting to {url} failed · next try in {wait:.1} s · {reason}")
            })
        }
    }
}

/// What to do when the console has never reached its daemon: `onair tui` needs one running (in
/// the demo the daemon is in-process, so the hint would be wrong there).
fn link_hint(model: &Model) -> Option<&'static str> {
    let unreachable = matches!(model.link, Link::Down { .. }) && !model.ever_connected;
    (unreachable && model.mode == Mode::Attached)
        .then_some("Is the daemon running? Start it with `onair serve`, or try `onair demo`.")
}

#[cfg(test)]
mod fmt_tests {
    use super::*;

    #[test]
    fn times_round_the_right_way_and_never_show_garbage() {
        assert_eq!(hms(12.9), "00:00:12");
        assert_eq!(countdown(7.1), "-00:00:08");
        assert_eq!(countdown(0.0), "-00:00:00");
        assert_eq!(hms(3725.0), "01:02:05");
        assert_eq!(hms(f64::NAN), "--:--:--");
        assert_eq!(hms(-1.0), "--:--:--");
        assert_eq!(clock(1_700_000_000_000), "22:13:20");
    }
}
