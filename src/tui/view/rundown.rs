//! The rundown: the viewed playlist as a table of index, missing-media flag, state, clip (with its
//! graphics marker, `◆2 ⊘logo`) and title, duration and scheduled time, under a title with the
//! playlist's role (filler, end action); with a planned timeline also the over/under-run or cut
//! (DIFF) and the planned start in station time (START), and an unfilled gap ahead on the bottom
//! border.
//!
//! Only the rows in the window around the cursor are built ([`window`]), so a 10,000-item rundown
//! costs the same per frame as a 20-item one.

use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{DIM, countdown, hms, link_hint, link_text, pane};
use crate::playout::model::escape_hidden;
use crate::protocol::timeline::TimelineView;
use crate::protocol::{PlaylistView, Status};
use crate::tui::graphics;
use crate::tui::layout;
use crate::tui::model::{Model, Pane, Telemetry, item_seconds};
use crate::tui::roles;
use crate::tui::text::item_name;
use crate::tui::timeline::{self, Diff};

/// Which optional columns fit: the planned ones first (they matter on air), the scheduled-time
/// note (for people only) last.
#[derive(Debug, Clone, Copy)]
struct Columns {
    diff: bool,
    start: bool,
    sched: bool,
}

impl Columns {
    fn of(width: u16, planned: bool) -> Columns {
        Columns {
            diff: planned && width >= 72,
            start: planned && width >= 62,
            sched: width >= 62 && (!planned || width >= 96),
        }
    }
}

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
    // The playlist's role right after its name: on a narrow pane the title is cut at the right,
    // and whether this is the filler matters more than its length.
    let marks = roles::marks(&pl.playlist).map_or_else(String::new, |m| format!(" · {m}"));
    let title = if live {
        format!(
            " Rundown · {} ({}){marks} · {} items · {} ",
            pl.playlist.name,
            roles::layer_label(&pl.playlist),
            pl.playlist.items.len(),
            hms(model.derived.total_secs)
        )
    } else {
        format!(
            " Rundown · {}{marks} · NOT LIVE: last known state ",
            pl.playlist.name
        )
    };
    let mut block = pane(title, focused);
    if let Some(warning) = gap_warning(model, pl) {
        block = block.title_bottom(warning);
    }
    if pl.playlist.items.is_empty() {
        let text = "Empty rundown. Tab to the media library, then Enter (or i) inserts a clip.";
        frame.render_widget(Paragraph::new(Span::styled(text, DIM)).block(block), area);
        return;
    }
    let plan = timeline::of(model, pl);
    let columns = Columns::of(area.width, plan.is_some());
    let mut widths = vec![
        Constraint::Length(6),
        Constraint::Length(1),
        Constraint::Length(5),
        Constraint::Fill(1),
        Constraint::Length(9),
    ];
    let mut header = vec!["     #", "!", "STATE", "CLIP · TITLE", "      DUR"];
    if columns.diff {
        widths.push(Constraint::Length(8));
        header.push("    DIFF");
    }
    if columns.start {
        widths.push(Constraint::Length(10));
        header.push("START");
    }
    if columns.sched {
        widths.push(Constraint::Length(8));
        header.push("SCHED");
    }
    let range = window(model, area);
    let telemetry = model.telemetry();
    let rows = range.map(|i| row(model, pl, i, &telemetry, focused, columns, plan));
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
    columns: Columns,
    plan: Option<&TimelineView>,
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
    // Right after the clip, before a title that a narrow pane cuts.
    if let Some(mark) = graphics::marker(&item.graphics) {
        name.push(' ');
        name.push_str(&mark);
    }
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
    let entry = plan.and_then(|view| timeline::entry(view, pl, i));
    if columns.diff {
        let diff = entry.and_then(Diff::of);
        cells.push(Cell::from(diff.map_or_else(Line::default, |d| {
            diff_span(&d, model.is_live()).into_right_aligned_line()
        })));
    }
    if columns.start {
        let text = entry.map(|e| timeline::start_text(model, e));
        cells.push(Cell::from(text.unwrap_or_default()));
    }
    if columns.sched {
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

/// The DIFF text in colour: an under-run (a gap to fill) yellow, an over-run red, a cut yellow on
/// whatever the row is (the cut item is usually the red on-air row). Not live: no colour, like the
/// rest of the row.
fn diff_span(diff: &Diff, live: bool) -> Span<'static> {
    let style = match diff {
        _ if !live => Style::new(),
        Diff::Cut(_) => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        Diff::Under(_) => Style::new().fg(Color::Yellow),
        Diff::Over(_) => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Diff::OnTime => DIM,
    };
    Span::styled(diff.text(), style)
}

/// ` ! unfilled gap 00:10 at 12:39:50 before News ` when the plan has one ahead: the channel would
/// show black there unless someone fills it.
fn gap_warning(model: &Model, pl: &PlaylistView) -> Option<Line<'static>> {
    let gap = timeline::unfilled_gap(model, pl)?;
    let mut text = format!(
        " ! unfilled gap {} at {}",
        timeline::span(gap.length_ms),
        timeline::station_hms(model, gap.start_ms)
    );
    if let Some(item) = gap.before.as_deref().and_then(|id| pl.playlist.item(id)) {
        text.push_str(" before ");
        // A title may carry format characters; show them rather than let them act.
        text.push_str(&escape_hidden(item_name(item)));
    } else {
        text.push_str(" after the rundown");
    }
    text.push(' ');
    let style = if model.is_live() {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        DIM
    };
    Some(Line::from(Span::styled(text, style)).alignment(Alignment::Left))
}

/// Rows the rundown has room for at the model's terminal size.
pub fn rows(model: &Model) -> usize {
    layout::rundown_rows(model.area(), model.status_rows())
}
