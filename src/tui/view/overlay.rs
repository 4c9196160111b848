//! Dialogs drawn over the panes: the `?` help (every key) and the confirmation of a destructive
//! action.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use super::DIM;
use crate::tui::message;
use crate::tui::model::Mode;

/// A rectangle of at most `width`×`height` centred in `area`.
pub(super) fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

/// A dialog's frame: a bold double border in `color`, with `title`.
pub(super) fn dialog_block(title: &str, color: Color) -> Block<'_> {
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(Style::new().fg(color).add_modifier(Modifier::BOLD))
        .title(Span::styled(
            title,
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ))
}

pub(super) fn help(frame: &mut Frame, area: Rect, mode: Mode) {
    let entries = message::help(mode);
    // Two columns fit every key on an 80×24 terminal.
    let per_column = entries.len().div_ceil(2);
    let height = u16::try_from(per_column + 5).unwrap_or(u16::MAX);
    let popup = centred(area, 78, height);
    frame.render_widget(Clear, popup);
    let block = dialog_block(" Keys ", Color::Cyan);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let rows = u16::try_from(per_column).unwrap_or(u16::MAX);
    let [keys, _, notes] = Layout::vertical([
        Constraint::Length(rows),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let [left, right] =
        Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(keys);
    let key_style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    for (column, entries) in [left, right].into_iter().zip(entries.chunks(per_column)) {
        let lines: Vec<Line> = entries
            .iter()
            .map(|(k, what)| {
                Line::from(vec![
                    Span::styled(format!("{k:<10}"), key_style),
                    Span::raw(*what),
                ])
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), column);
    }
    // What quitting does differs by mode; each sentence is true where it is shown.
    let quitting = match mode {
        Mode::Attached => {
            "Quitting closes only this console: playout on the daemon is never affected."
        }
        Mode::Demo => "Quitting ends the demo: its simulator and daemon stop with it.",
    };
    let notes_text = vec![
        Line::from(Span::styled(
            quitting,
            Style::new().add_modifier(Modifier::BOLD),
        )),
        Line::from(Span::styled("Esc, ? or q closes this help.", DIM)),
    ];
    frame.render_widget(Paragraph::new(notes_text), notes);
}

pub(super) fn confirm(frame: &mut Frame, area: Rect, question: &str) {
    let popup = centred(area, 64, 6);
    frame.render_widget(Clear, popup);
    let block = dialog_block(" Confirm ", Color::Yellow);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let [text, keys] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    frame.render_widget(
        Paragraph::new(question.to_owned())
            .wrap(Wrap { trim: true })
            .style(Style::new().add_modifier(Modifier::BOLD)),
        text,
    );
    let key = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("y", key),
            Span::raw(" / Enter: yes     "),
            Span::styled("n", key),
            Span::raw(" / Esc: no"),
        ])),
        keys,
    );
}
