//! The rundown: the viewed playlist as a table of index, missing-media flag, state, clip and title,
//! duration and scheduled time.
//!
//! Only the rows in the window around the cursor are built ([`window`]), so a 10,000-item rundown
//! costs the same per frame as a 20-item one.

use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{DIM, countdown, hms, link_hint, link_text, pane};
use crate::playout::model::escape_hidden;
use crate::protocol::{PlaylistView, Status};
use crate::tui::layout;
use crate::tui::model::{Model, Pane, Telemetry, item_seconds};

/// The item rows drawn for a rundown area of `area` (what [`render`] builds, and no more).
pub fn window(model: &Model, area: Rect) -> Range<usize> {
    let rows = usize::from(area.height.saturating_sub(3));
    model.rundown.window(model.items().len(), rows)
}

pub(super) fn render(model: &Model, frame: &mut Frame, area: Rect) {
    let focused = model.focus == Pane::Rundown && !model.library.editing;
    let live = model.is_live();
    let Some(pl) = model.playlist() else {
        let block = pane(" Rundown ", focused);
        let text = link_text(model).unwrap_or_else(|| "the daemon has no playlist".into());
        let mut lines = vec![Line::from(Span::styled(text, DIM))];
        if let Some(hint) = link_hint(model) {
            lines.extend([Line::default(), Line::from(hint)]);
        }
        let text = Paragraph::new(lines).wrap(Wrap { trim: true });
        frame.render_widget(text.block(block), area);
        return;
    };
    let title = if live {
        format!(
            " Rundown · {} ({}) · {} items · {} ",
            pl.playlist.name,
            pl.playlist.channel_layer,
            pl.playlist.items.len(),
            hms(model.derived.total_secs)
        )
    } else {
        format!(
            " Rundown · {} · NOT LIVE: last known state ",
            pl.playlist.name
        )
    };
    let block = pane(title, focused);
    if pl.playlist.items.is_empty() {
        let text = "Empty rundown. Tab to the media library, then Enter (or i) inserts a clip.";
        frame.render_widget(Paragraph::new(Span::styled(text, DIM)).block(block), area);
        return;
    }
    let wide = area.width >= 62;
    let mut widths = vec![
        Constraint::Length(6),
        Constraint::Length(1),
        Constraint::Length(5),
        Constraint::Fill(1),
        Constraint::Length(9),
    ];
    let mut header = vec!["     #", "!", "STATE", "CLIP · TITLE", "      DUR"];
    if wide {
        widths.push(Constraint::Length(8));
        header.push("SCHED");
    }
    let range = window(model, area);
    let telemetry = model.telemetry();
    let rows = range.map(|i| row(model, pl, i, &telemetry, focused, wide));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(DIM))
        .column_spacing(1)
        .block(block)
        .style(if live { Style::new() } else { DIM });
    frame.render_widget(table, area);
}

fn row<'a>(
    model: &Model,
    pl: &'a PlaylistView,
    i: usize,
    telemetry: &Telemetry,
    focused: bool,
    wide: bool,
) -> Row<'a> {
    let Some(item) = pl.playlist.items.get(i) else {
        return Row::new(Vec::<Cell>::new());
    };
    let d = &model.derived;
    let selected = i == model.rundown.selected;
    let on_air = d.on_air == Some(i);
    let missing = d.missing.contains(&item.id);
    let state = if on_air {
        match pl.playout.status {
            Status::Playing => "ONAIR",
            Status::Paused => "PAUSE",
            Status::Held => "HELD",
            Status::Stopped => "",
        }
    } else if d.cued == Some(i) {
        if pl.playout.armed_auto {
            "AUTO"
        } else {
            "CUED"
        }
    } else if d.next == Some(i) && d.cued.is_none() {
        "NEXT"
    } else {
        ""
    };
    let index = format!("{}{:>5}", if selected { "›" } else { " " }, i + 1);
    let mut name = item.clip.clone();
    if let Some(title) = item.title.as_deref().filter(|t| !t.is_empty()) {
        name.push_str(" · ");
        // A title may carry format characters (U+202E…); show them rather than let them act.
        name.push_str(&escape_hidden(title));
    }
    if item.looping {
        name.push_str(" (loop)");
    }
    let duration = match (on_air, telemetry) {
        (true, Telemetry::Live(p)) => countdown(p.remaining),
        (true, Telemetry::Stale(_)) => " --:--:--".into(),
        _ => item_seconds(item).map_or_else(|| "        ?".into(), |s| format!(" {}", hms(s))),
    };
    let flag = if missing {
        Span::styled(
            "!",
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        )
    } else {
        Span::raw(" ")
    };
    let mut cells = vec![
        Cell::from(index),
        Cell::from(Line::from(flag)),
        Cell::from(state),
        Cell::from(name),
        Cell::from(duration),
    ];
    if wide {
        cells.push(Cell::from(item.scheduled.clone().unwrap_or_default()));
    }
    let mut style = if on_air && pl.playout.status != Status::Stopped {
        Style::new()
            .fg(Color::White)
            .bg(Color::Red)
            .add_modifier(Modifier::BOLD)
    } else if state.is_empty() {
        Style::new()
    } else {
        Style::new().fg(Color::Green)
    };
    if missing && !on_air {
        style = style.fg(Color::Magenta);
    }
    if selected && focused {
        style = style.add_modifier(Modifier::REVERSED);
    }
    if !model.is_live() {
        style = DIM.add_modifier(if selected && focused {
            Modifier::REVERSED
        } else {
            Modifier::empty()
        });
    }
    Row::new(cells).style(style)
}

/// Rows the rundown has room for at the model's terminal size.
pub fn rows(model: &Model) -> usize {
    layout::rundown_rows(model.area())
}
