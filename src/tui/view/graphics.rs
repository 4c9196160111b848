//! The graphics dialog (`g`) for the viewed playlist's channel: what onair has on its layers
//! (layer, name, label, phase), the secondary events of the item under the rundown cursor (id,
//! layer, offset, duration, kind and label) and the playlist's standing logo, with the keys that
//! act on them (an operator's; a viewer is only shown the state).
//!
//! The selectable rows come from [`crate::tui::graphics::rows`], the list the keys act on; when
//! they do not fit, the list scrolls to keep the selection in sight and the key line stays.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::DIM;
use super::overlay::{centred, dialog_block};
use super::servers::cut;
use crate::playout::graphics::Secondary;
use crate::playout::model::escape_hidden;
use crate::protocol::{GraphicPhase, LiveGraphic, PlaylistView, Role, Status};
use crate::tui::graphics::{self, Input, InputFor, Row};
use crate::tui::model::Model;
use crate::tui::roles;
use crate::tui::text::item_name;

/// Widest the dialog gets (it fits an 80-column terminal with the panes' edges showing).
const WIDTH: u16 = 78;

/// Columns of names and labels; longer ones are cut with `…` (the ids are up to 64).
const NAME: usize = 16;
const LABEL: usize = 22;
/// An event's kind and what it shows: the rest of the line.
const WHAT: usize = 30;

fn phase_style(p: GraphicPhase, live: bool) -> Style {
    match p {
        _ if !live => DIM,
        GraphicPhase::On => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        GraphicPhase::Prepared => Style::new().fg(Color::Green),
        GraphicPhase::Stopped => DIM,
    }
}

fn live_line(g: &LiveGraphic, live: bool) -> Line<'static> {
    let mut spans = vec![
        Span::raw(format!(
            "{:>5}  {:<NAME$}  {:<LABEL$}  ",
            g.layer,
            cut(&escape_hidden(&g.name), NAME),
            cut(&escape_hidden(&g.label), LABEL),
        )),
        Span::styled(graphics::phase(g.phase), phase_style(g.phase, live)),
    ];
    if g.manual {
        spans.push(Span::styled(" · by hand", DIM));
    }
    Line::from(spans)
}

fn event_line(e: &Secondary) -> Line<'static> {
    Line::from(format!(
        "{:>5}  {:<NAME$}  {:>7}  {:>6}  {}",
        e.layer,
        cut(&e.id, NAME),
        graphics::offset(e.offset_ms),
        graphics::duration(e.duration_ms),
        cut(
            &format!(
                "{} {}",
                graphics::kind(&e.graphic),
                escape_hidden(&graphics::what(&e.graphic))
            ),
            WHAT
        ),
    ))
}

/// The logo's line: its layer and graphic, and whether it is on, with why not when the rundown
/// says why.
fn logo_line(model: &Model, pl: &PlaylistView, live: bool) -> Line<'static> {
    let Some(logo) = &pl.playlist.logo else {
        return Line::from(Span::styled("Logo: none (playlist.update sets one)", DIM));
    };
    let head = format!(
        "Logo: layer {} · {} {} · ",
        logo.layer,
        graphics::kind(&logo.graphic),
        cut(&escape_hidden(logo.graphic.label()), LABEL),
    );
    let state = match graphics::logo_phase(&model.state, pl) {
        Some(GraphicPhase::On) => Span::styled("on", phase_style(GraphicPhase::On, live)),
        Some(p) => Span::styled(graphics::phase(p), phase_style(p, live)),
        None => {
            let on_air = pl
                .playout
                .on_air
                .as_deref()
                .and_then(|id| pl.playlist.item(id))
                .filter(|_| pl.playout.status != Status::Stopped);
            let why = match on_air {
                None => " (the playlist is not on air)".to_owned(),
                Some(item) if !item.graphics.logo => {
                    format!(" («{}» has the logo off)", escape_hidden(item_name(item)))
                }
                Some(_) => String::new(),
            };
            Span::raw(format!("off{why}"))
        }
    };
    Line::from(vec![Span::raw(head), state])
}

/// The dialog's lines, and which line each selectable row is on.
fn body(model: &Model, pl: &PlaylistView, live: bool) -> (Vec<Line<'static>>, Vec<usize>) {
    let rows = graphics::rows(model);
    let selected = graphics::selected(model, rows.len());
    let mut lines = Vec::new();
    let mut at = Vec::with_capacity(rows.len());
    if !live {
        lines.push(Line::from(Span::styled(
            "Last known state: the console is not connected to the daemon.",
            Style::new().fg(Color::Yellow),
        )));
    }
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let channel = pl.playlist.channel_layer.channel;
    lines.push(Line::from(Span::styled(
        format!("On channel {channel}"),
        bold,
    )));
    let events = rows.iter().filter(|r| matches!(r, Row::Event(..))).count();
    let shown = rows.len() - events;
    if shown == 0 {
        lines.push(Line::from(Span::styled("  no graphics on its layers", DIM)));
    } else {
        let head = format!(
            "   {:>5}  {:<NAME$}  {:<LABEL$}  PHASE",
            "LAYER", "NAME", "LABEL"
        );
        lines.push(Line::from(Span::styled(head, DIM)));
    }
    let mut header_done = false;
    for (i, row) in rows.iter().enumerate() {
        let mut line = match row {
            Row::Live(g) => live_line(g, live),
            Row::Event(_, e) => {
                if !header_done {
                    header_done = true;
                    lines.push(Line::default());
                    lines.extend(events_head(model, events));
                }
                event_line(e)
            }
        };
        let mark = if i == selected { " › " } else { "   " };
        line.spans.insert(0, Span::raw(mark));
        if i == selected {
            line = line.style(Style::new().add_modifier(Modifier::REVERSED));
        }
        at.push(lines.len());
        lines.push(line);
    }
    if !header_done {
        lines.push(Line::default());
        lines.extend(events_head(model, 0));
    }
    lines.push(Line::default());
    lines.push(logo_line(model, pl, live));
    (lines, at)
}

/// The events' title (the item under the rundown cursor) and their column heads.
fn events_head(model: &Model, count: usize) -> Vec<Line<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let Some(item) = model.selected_item() else {
        return vec![Line::from(Span::styled("  the rundown is empty", DIM))];
    };
    let name = escape_hidden(item_name(item));
    let mut title = vec![Span::styled(format!("Events of «{name}»"), bold)];
    if !item.graphics.logo {
        title.push(Span::raw(" · logo off during it"));
    }
    let mut lines = vec![Line::from(title)];
    lines.push(if count == 0 {
        Line::from(Span::styled(
            "  none (↑↓ in the rundown choose another item)",
            DIM,
        ))
    } else {
        Line::from(Span::styled(
            format!(
                "   {:>5}  {:<NAME$}  {:>7}  {:>6}  GRAPHIC",
                "LAYER", "ID", "OFFSET", "DUR"
            ),
            DIM,
        ))
    });
    lines
}

/// The keys line: an operator's actions, or only how to close for a viewer.
fn keys(model: &Model) -> Line<'static> {
    let key = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let mut spans = Vec::new();
    if model.session.role == Some(Role::Viewer) {
        spans.push(Span::styled("read-only (viewer token) · ", DIM));
    } else {
        for (k, what) in [
            ("↑↓", " choose  "),
            ("f", "/Enter fire  "),
            ("c", " clear  "),
            ("l", " logo  "),
            ("u", " update  "),
            ("i", " invoke  "),
        ] {
            spans.push(Span::styled(k, key));
            spans.push(Span::raw(what));
        }
    }
    spans.push(Span::styled("Esc", key));
    spans.push(Span::raw(" close"));
    Line::from(spans)
}

/// Draws the dialog over the panes.
pub(super) fn dialog(model: &Model, frame: &mut Frame, area: Rect) {
    let live = model.is_live();
    let (title, lines, at) = match model.playlist() {
        Some(pl) => {
            let title = format!(
                " Graphics · {} ({}) ",
                escape_hidden(&pl.playlist.name),
                roles::layer_label(&pl.playlist)
            );
            let (lines, at) = body(model, pl, live);
            (title, lines, at)
        }
        None => (
            " Graphics ".to_owned(),
            vec![Line::from("The daemon has no playlist.")],
            Vec::new(),
        ),
    };
    // The lines, a blank and the keys inside the border.
    let want = u16::try_from(lines.len() + 4).unwrap_or(u16::MAX);
    let popup = centred(area, WIDTH, want);
    frame.render_widget(Clear, popup);
    let block = dialog_block(&title, Color::Cyan);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let [text, _, keys_area] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    // Scroll just enough to show the selected row's line.
    let room = usize::from(text.height).max(1);
    let selected = at
        .get(graphics::selected(model, at.len()))
        .copied()
        .unwrap_or(0);
    let scroll = (selected + 1).saturating_sub(room);
    let scroll = u16::try_from(scroll).unwrap_or(0);
    let style = if live { Style::new() } else { DIM };
    frame.render_widget(Paragraph::new(lines).style(style).scroll((scroll, 0)), text);
    frame.render_widget(Paragraph::new(keys(model)), keys_area);
}

/// Rows of typed text the line dialog shows (its end, with the cursor, when longer).
const INPUT_ROWS: usize = 6;

/// The line typed for a template on air, cut in rows of `width` characters; when it is longer
/// than the box, its end (where the cursor is) with `…` first.
fn input_rows(text: &str, width: usize) -> Vec<String> {
    let width = width.max(2);
    let mut chars: Vec<char> = escape_hidden(text).chars().collect();
    chars.push('▏');
    let room = width * INPUT_ROWS;
    if chars.len() > room {
        let tail = chars.split_off(chars.len() - (room - 1));
        chars = std::iter::once('…').chain(tail).collect();
    }
    chars.chunks(width).map(|c| c.iter().collect()).collect()
}

/// Draws the line dialog (`u`: new data, `i`: a function to call) over the panes.
pub(super) fn input_dialog(input: &Input, frame: &mut Frame, area: Rect) {
    let (verb, hint) = match input.what {
        InputFor::Update => (
            "Update",
            "New data: a JSON object {…}, or template XML starting with <",
        ),
        InputFor::Invoke => (
            "Invoke",
            "The template function to call, e.g. next_headline",
        ),
    };
    let title = format!(
        " {verb} {} · {}-{} ",
        cut(&escape_hidden(&input.label), LABEL),
        input.channel,
        input.layer
    );
    let want = u16::try_from(INPUT_ROWS + 7).unwrap_or(u16::MAX);
    let popup = centred(area, WIDTH, want);
    frame.render_widget(Clear, popup);
    let block = dialog_block(&title, Color::Cyan);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let [hint_area, text_area, error_area, _, keys_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(Span::styled(hint, DIM)), hint_area);
    let rows = input_rows(&input.text, usize::from(text_area.width));
    let lines: Vec<Line> = rows.into_iter().map(Line::from).collect();
    // The end (the cursor) stays in sight when the box is shorter than the line.
    let room = usize::from(text_area.height).max(1);
    let scroll = u16::try_from(lines.len().saturating_sub(room)).unwrap_or(0);
    frame.render_widget(
        Paragraph::new(lines)
            .style(Style::new().add_modifier(Modifier::BOLD))
            .scroll((scroll, 0)),
        text_area,
    );
    if let Some(e) = &input.error {
        let red = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
        frame.render_widget(Paragraph::new(Span::styled(e.clone(), red)), error_area);
    }
    let key = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let keys = Line::from(vec![
        Span::styled("Enter", key),
        Span::raw(" send  "),
        Span::styled("Ctrl-U", key),
        Span::raw(" clear  "),
        Span::styled("Esc", key),
        Span::raw(" back"),
    ]);
    frame.render_widget(Paragraph::new(keys), keys_area);
}
