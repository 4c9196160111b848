//! The media library: clips with their durations, filtered incrementally by `/`.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::{DIM, hms, pane};
use crate::tui::model::{Model, Pane};

pub(super) fn render(model: &Model, frame: &mut Frame, area: Rect) {
    let lib = &model.library;
    let focused = model.focus == Pane::Library || lib.editing;
    let total = model.state.media.clips.len();
    let title = if lib.filter.is_empty() {
        format!(" Media · {total} clips ")
    } else {
        format!(" Media · {}/{total} ", lib.matches.len())
    };
    let mut block = pane(title, focused);
    if lib.editing {
        block = block.title_bottom(
            Line::from(Span::styled(
                format!(" /{}▏ Enter keeps · Esc clears ", lib.filter),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ))
            .alignment(Alignment::Left),
        );
    } else if !lib.filter.is_empty() {
        block = block.title_bottom(Line::from(Span::styled(
            format!(" filter: {} (Esc clears) ", lib.filter),
            Style::new().fg(Color::Yellow),
        )));
    } else if let Some(e) = &model.state.media.error {
        block = block.title_bottom(Line::from(Span::styled(
            format!(" rescan failed: {e} "),
            Style::new().fg(Color::Red),
        )));
    }
    if lib.matches.is_empty() {
        let text = if total == 0 {
            "no clips (r rescans)"
        } else {
            "no clip matches"
        };
        frame.render_widget(Paragraph::new(Span::styled(text, DIM)).block(block), area);
        return;
    }
    let rows = usize::from(area.height.saturating_sub(2));
    let range = lib.cursor.window(lib.matches.len(), rows);
    let built = range.filter_map(|k| {
        let clip = model.state.media.clips.get(*lib.matches.get(k)?)?;
        let selected = k == lib.cursor.selected;
        let marker = if selected { "›" } else { " " };
        let duration = clip
            .duration
            .map_or_else(|| format!("{:>8.8}", clip.kind.to_lowercase()), hms);
        let style = if selected && focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        Some(
            Row::new([
                Cell::from(format!("{marker}{}", clip.name)),
                Cell::from(Span::styled(duration, DIM)),
            ])
            .style(style),
        )
    });
    let table = Table::new(built, [Constraint::Fill(1), Constraint::Length(8)])
        .column_spacing(1)
        .block(block);
    frame.render_widget(table, area);
}
