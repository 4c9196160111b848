//! The log/alarms pane, the notice line (the last command failure or warning) and the key hints.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{DIM, clock, pane};
use crate::protocol::{Role, Severity};
use crate::tui::model::{Dialog, Level, Model, Pane};

pub(super) fn render(model: &Model, frame: &mut Frame, area: Rect) {
    let focused = model.focus == Pane::Log;
    let alarms = if model.have_state {
        model.state.alarms.as_slice()
    } else {
        &[]
    };
    let mut title = vec![Span::raw(" Log ")];
    if !alarms.is_empty() {
        title.push(Span::styled(
            format!(
                " {} active alarm{} ",
                alarms.len(),
                if alarms.len() == 1 { "" } else { "s" }
            ),
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        ));
    }
    if model.log.scroll > 0 {
        title.push(Span::styled(
            format!(" ↑{} (End follows) ", model.log.scroll),
            Style::new().fg(Color::Yellow),
        ));
    }
    let block = pane(Line::from(title), focused);
    let rows = usize::from(area.height.saturating_sub(2));
    let mut lines = Vec::with_capacity(rows);
    // The newest alarm stays in sight however busy the log is.
    if let Some(alarm) = alarms.last().filter(|_| rows > 1) {
        let more = if alarms.len() > 1 {
            format!(" (+{} more)", alarms.len() - 1)
        } else {
            String::new()
        };
        let style = match alarm.severity {
            Severity::Critical => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            Severity::Warning => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        };
        lines.push(Line::from(Span::styled(
            format!("ALARM {}: {}{more}", alarm.kind, alarm.message),
            style,
        )));
    }
    let room = rows - lines.len().min(rows);
    let len = model.log.lines.len();
    let end = len.saturating_sub(model.log.scroll);
    let start = end.saturating_sub(room);
    for line in model.log.lines.range(start..end) {
        let (tag, style) = match line.level {
            Level::Error => ("ERR  ", Style::new().fg(Color::Red)),
            Level::Warn => ("WARN ", Style::new().fg(Color::Yellow)),
            Level::Info => ("     ", Style::new()),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", clock(line.wall_ms)), DIM),
            Span::styled(tag, style),
            Span::styled(line.text.clone(), style),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The last failure or warning, or what the console is waiting for.
pub(super) fn notice(model: &Model, frame: &mut Frame, area: Rect) {
    let line = match &model.notice {
        Some(n) => {
            let (mark, style) = match n.level {
                Level::Error => (
                    "✗ ",
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                ),
                Level::Warn => ("! ", Style::new().fg(Color::Yellow)),
                Level::Info => ("", Style::new()),
            };
            Line::from(Span::styled(format!("{mark}{}", n.text), style))
        }
        None if !model.pending.is_empty() => {
            let labels: Vec<&str> = model.pending.values().map(|p| p.label.as_str()).collect();
            Line::from(Span::styled(
                format!("waiting for: {}", labels.join(", ")),
                DIM,
            ))
        }
        None => Line::default(),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// Key hints for the current mode.
pub(super) fn footer(model: &Model, frame: &mut Frame, area: Rect) {
    let hints: &[(&str, &str)] = match &model.dialog {
        Some(Dialog::Help) => &[("Esc", "close help")],
        Some(Dialog::Servers) => &[("Esc", "close servers")],
        Some(Dialog::Graphics) if model.session.role == Some(Role::Viewer) => {
            &[("↑↓", "choose"), ("Esc", "close graphics")]
        }
        Some(Dialog::Graphics) => &[
            ("↑↓", "choose"),
            ("f", "fire"),
            ("c", "clear"),
            ("l", "logo"),
            ("u", "update"),
            ("i", "invoke"),
            ("Esc", "close"),
        ],
        Some(Dialog::GraphicsInput(_)) => &[
            ("type", "the line"),
            ("Enter", "send"),
            ("Ctrl-U", "clear"),
            ("Esc", "back"),
        ],
        Some(Dialog::Confirm { .. }) => &[("y", "yes"), ("n/Esc", "no")],
        None if model.library.editing => &[
            ("type", "to filter"),
            ("↑↓", "choose"),
            ("Enter", "keep"),
            ("Esc", "clear"),
        ],
        None => &[
            ("Spc", "take"),
            ("n", "next"),
            ("c", "cue"),
            ("s", "stop"),
            ("p", "pause"),
            ("?", "help"),
            ("q", "quit"),
            ("Tab", "pane"),
            ("/", "filter"),
            ("i", "insert"),
            ("d", "del"),
            ("J/K", "move"),
            ("a", "auto"),
        ],
    };
    let key = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let mut spans = Vec::with_capacity(hints.len() * 2);
    let mut room = usize::from(area.width);
    // Whole hints only: a cut-off "d" would teach the wrong key.
    for (k, what) in hints {
        let text = format!(" {what} ");
        let width = k.chars().count() + text.chars().count();
        if width > room {
            break;
        }
        room -= width;
        spans.push(Span::styled(*k, key));
        spans.push(Span::styled(text, DIM));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
