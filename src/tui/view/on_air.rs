//! The on-air panel: the item on air with its times and a progress gauge (or, when another
//! playlist took the layer over, after which item), then what comes next and whether it starts by
//! itself (AUTO armed) or waits for a take, and on the right the next fixed-time item of the plan
//! with its count-down.
//!
//! Numbers are shown only while they are live ([`Telemetry::Live`]); otherwise the gauge makes room
//! for the reason ("no telemetry", "reconnecting…") so frozen numbers never look current.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};

use super::{DIM, countdown, hms, link_text};
use crate::playout::model::escape_hidden;
use crate::protocol::{Item, PlaylistView, Status};
use crate::tui::model::{Model, Telemetry};
use crate::tui::roles;
use crate::tui::timeline;

pub(super) fn render(model: &Model, frame: &mut Frame, area: Rect) {
    let [first, second, third] = Layout::vertical([Constraint::Length(1); 3]).areas(area);
    let Some(pl) = model.playlist() else {
        let text = link_text(model).unwrap_or_else(|| "no playlist yet".into());
        frame.render_widget(Paragraph::new(Span::styled(text, DIM)), first);
        return;
    };
    let telemetry = model.telemetry();
    on_air_line(model, pl, &telemetry, frame, first);
    gauge_line(model, &telemetry, frame, second);
    let fixed = next_fixed(model, pl);
    let width = u16::try_from(fixed.width()).unwrap_or(0);
    let [l, r] = Layout::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(third);
    frame.render_widget(Paragraph::new(next_line(model, pl)), l);
    frame.render_widget(Paragraph::new(fixed), r);
}

/// ` FIXED H 12:40:00 News -00:05:04 `: the next hard (`H`) or soft (`S`) item, its planned start
/// in station time and the count-down from the console's clock (the daemon does not send one: it
/// changes every frame). Nothing without a plan; no count-down while not live.
fn next_fixed(model: &Model, pl: &PlaylistView) -> Line<'static> {
    let Some((next, left_ms)) = timeline::next_fixed(model, pl) else {
        return Line::default();
    };
    let live = model.is_live();
    let name = pl.playlist.item(&next.item).map_or_else(
        || "?".to_owned(),
        |i| escape_hidden(crate::tui::text::item_name(i)).into_owned(),
    );
    let mark = if next.hard { "H" } else { "S" };
    let mut spans = vec![
        badge("FIXED", Color::Black, Color::Cyan),
        Span::raw(format!(
            " {mark} {} {name} ",
            timeline::station_hms(model, next.start_ms)
        )),
    ];
    if live {
        spans.push(Span::styled(
            format!("-{} ", hms(left_ms as f64 / 1000.0)),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    let style = if live { Style::new() } else { DIM };
    Line::from(spans).style(style)
}

/// `" CLIP · title"` of an item, with invisible format characters in the title shown as `<U+…>`.
fn name(item: &Item) -> String {
    match &item.title {
        Some(t) if !t.is_empty() => format!("{} · {}", item.clip, escape_hidden(t)),
        _ => item.clip.clone(),
    }
}

fn badge(text: &str, fg: Color, bg: Color) -> Span<'static> {
    Span::styled(
        format!(" {text} "),
        Style::new().fg(fg).bg(bg).add_modifier(Modifier::BOLD),
    )
}

fn on_air_line(
    model: &Model,
    pl: &PlaylistView,
    telemetry: &Telemetry,
    frame: &mut Frame,
    area: Rect,
) {
    let item = pl
        .playout
        .on_air
        .as_deref()
        .and_then(|id| pl.playlist.item(id));
    let live = model.is_live();
    let status = match (pl.playout.status, item.is_some()) {
        // Never show a possibly outdated state as if it were current.
        _ if !live => badge("NOT LIVE", Color::Black, Color::Yellow),
        (Status::Playing, true) => badge("ON AIR", Color::White, Color::Red),
        (Status::Paused, true) => badge("PAUSED", Color::Black, Color::Yellow),
        (Status::Held, _) => badge("HELD", Color::Black, Color::Magenta),
        _ => badge("STOPPED", Color::Black, Color::DarkGray),
    };
    let text_style = if live {
        Style::new().add_modifier(Modifier::BOLD)
    } else {
        DIM
    };
    let mut left = vec![status, Span::raw(" ")];
    if !live && item.is_some() {
        left.push(Span::styled("last known on air: ", DIM));
    }
    left.push(match (item, roles::taken_over(&model.state, pl)) {
        (Some(item), _) => Span::styled(name(item), text_style),
        // Not an error: the filler (or the next day's rundown) is on the layer, and this playlist
        // resumes after that item; the NEXT line shows where.
        (None, Some(text)) if live => Span::styled(text, Style::new().fg(Color::Cyan)),
        (None, Some(text)) => Span::styled(format!("last known: {text}"), DIM),
        (None, None) => Span::styled("nothing on air", DIM),
    });
    let right = match telemetry {
        Telemetry::Live(p) => Span::styled(
            format!(
                "{} / {}  {} ",
                hms(p.elapsed),
                hms(p.duration),
                countdown(p.remaining)
            ),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Telemetry::Stale(_) => Span::styled("--:--:-- / --:--:-- ", DIM),
        Telemetry::Idle => Span::raw(""),
    };
    let width = u16::try_from(right.width()).unwrap_or(0);
    let [l, r] = Layout::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(left)), l);
    frame.render_widget(Paragraph::new(right), r);
}

fn gauge_line(model: &Model, telemetry: &Telemetry, frame: &mut Frame, area: Rect) {
    if let Some(text) = link_text(model) {
        let text = format!("playout continues on the daemon · {text}");
        frame.render_widget(
            Paragraph::new(Span::styled(
                text,
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            )),
            area,
        );
        return;
    }
    match telemetry {
        Telemetry::Live(p) => {
            let ratio = if p.duration > 0.0 {
                p.elapsed / p.duration
            } else {
                0.0
            };
            // LineGauge panics outside 0..=1, and NaN is outside everything.
            let ratio = if ratio.is_finite() {
                ratio.clamp(0.0, 1.0)
            } else {
                0.0
            };
            let gauge = LineGauge::default()
                .ratio(ratio)
                .label(format!("rundown {} ", countdown(p.rundown_remaining)))
                .filled_symbol("━")
                .unfilled_symbol("─")
                .filled_style(Style::new().fg(Color::Red))
                .unfilled_style(Style::new().fg(Color::DarkGray));
            frame.render_widget(gauge, area);
        }
        Telemetry::Stale(reason) => {
            let text = format!("── {reason}: times not shown ──");
            frame.render_widget(Paragraph::new(Span::styled(text, DIM)), area);
        }
        Telemetry::Idle => {
            frame.render_widget(Paragraph::new(Span::styled("──", DIM)), area);
        }
    }
}

fn next_line(model: &Model, pl: &PlaylistView) -> Line<'static> {
    let playout = &pl.playout;
    let cued = playout.cued.as_deref().and_then(|id| pl.playlist.item(id));
    let next = cued.or_else(|| playout.next.as_deref().and_then(|id| pl.playlist.item(id)));
    let style = if model.is_live() { Style::new() } else { DIM };
    let mut spans = vec![badge("NEXT", Color::Black, Color::Green), Span::raw(" ")];
    match next {
        Some(item) if !model.is_live() => {
            spans.push(Span::styled(format!("last known: {}", name(item)), DIM));
        }
        Some(item) => {
            spans.push(Span::styled(name(item), style.fg(Color::Green)));
            spans.push(Span::raw("  "));
            spans.push(if cued.is_some() && playout.armed_auto {
                Span::styled(
                    "AUTO armed",
                    style.fg(Color::Green).add_modifier(Modifier::BOLD),
                )
            } else if cued.is_some() {
                Span::styled("cued: Space takes it", style.fg(Color::Yellow))
            } else {
                Span::styled("manual: Space takes it", style.fg(Color::Yellow))
            });
        }
        None => spans.push(Span::styled("end of rundown", DIM)),
    }
    spans.push(Span::styled(
        format!(
            "  · autoplay {} · loop {}",
            if pl.playlist.autoplay { "on" } else { "off" },
            if pl.playlist.looping { "on" } else { "off" }
        ),
        DIM,
    ));
    Line::from(spans)
}
