//! The status bar: daemon link, CasparCG link and version, alarms, on-air times, the station clock
//! (from the daemon's timeline) or the wall clock in UTC; for a main/backup pair, a second row with
//! each server ([`super::servers::line`]).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{DIM, clock, countdown, hms};
use crate::protocol::TelemetrySource;
use crate::tui::model::{Link, Model, Telemetry};
use crate::tui::timeline;

const BAR: Style = Style::new().bg(Color::Black);

pub(super) fn render(model: &Model, frame: &mut Frame, area: Rect) {
    let [area, servers] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    if servers.height > 0 {
        let line = super::servers::line(model, servers.width);
        frame.render_widget(Paragraph::new(line).style(BAR), servers);
    }
    let right = right_side(model, area.width >= 120);
    // One column more than the right side needs, so the two never touch.
    let width = u16::try_from(right.width() + 1).unwrap_or(u16::MAX);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(area);
    let wide = area.width >= 100;
    frame.render_widget(Paragraph::new(left_side(model, wide)).style(BAR), left_area);
    frame.render_widget(
        Paragraph::new(right)
            .alignment(ratatui::layout::Alignment::Right)
            .style(BAR),
        right_area,
    );
}

fn sep() -> Span<'static> {
    Span::styled(" │ ", DIM)
}

fn left_side(model: &Model, wide: bool) -> Line<'static> {
    let mut spans = Vec::new();
    if wide {
        spans.push(Span::styled(
            " onair ",
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ));
    }
    spans.push(Span::raw(" "));
    let yellow = Style::new().fg(Color::Yellow);
    spans.push(match &model.link {
        Link::Up if model.is_live() => Span::styled("● connected", Style::new().fg(Color::Green)),
        Link::Up => Span::styled("◐ syncing…", yellow),
        // "reconnecting" only once there was a connection to get back.
        Link::Connecting { .. } if !model.ever_connected => Span::styled("◌ connecting…", yellow),
        Link::Down { .. } if !model.ever_connected => Span::styled(
            "◌ not connected",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        Link::Connecting { .. } | Link::Down { .. } => Span::styled(
            "◌ reconnecting…",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    });
    spans.push(sep());
    let link = &model.state.link;
    if !model.is_live() {
        spans.push(Span::styled("CasparCG ?", DIM));
    } else if link.connected {
        // "2.4.3 fd9168c73 Stable" is too long for 80 columns: the number says enough there.
        let full = link.server_version.as_deref().unwrap_or_default();
        let version = if wide {
            full
        } else {
            full.split_whitespace().next().unwrap_or_default()
        };
        spans.push(Span::styled(
            format!("CasparCG {version}"),
            Style::new().fg(Color::Green),
        ));
        if wide {
            let source = match link.telemetry {
                TelemetrySource::Osc => " OSC",
                TelemetrySource::InfoPolling => " INFO",
                TelemetrySource::None => " no telemetry",
            };
            spans.push(Span::styled(source, DIM));
        }
    } else {
        spans.push(Span::styled(
            "CasparCG down",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    spans.push(sep());
    let alarms = model.state.alarms.len();
    if alarms == 0 || !model.have_state {
        spans.push(Span::styled("no alarms", DIM));
    } else {
        spans.push(Span::styled(
            format!(" {alarms} ALARM{} ", if alarms == 1 { "" } else { "S" }),
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        ));
    }
    Line::from(spans)
}

fn right_side(model: &Model, wide: bool) -> Line<'static> {
    let mut spans = Vec::new();
    match model.telemetry() {
        Telemetry::Live(p) => {
            spans.push(Span::styled(
                format!("▶ {} {}", hms(p.elapsed), countdown(p.remaining)),
                Style::new().fg(Color::White).add_modifier(Modifier::BOLD),
            ));
        }
        Telemetry::Stale(_) => spans.push(Span::styled("▶ no telemetry", DIM)),
        Telemetry::Idle => {}
    }
    // The station clock is what fixed times are written in; UTC (the as-run log's zone) stays
    // beside it where there is room, and alone without a station.
    let station = model.timelines.as_ref().and_then(|t| t.station.as_ref());
    match station.filter(|s| s.timezone != "UTC" || s.utc_offset_s != 0) {
        Some(s) => {
            let now = i64::try_from(model.wall_ms).unwrap_or(i64::MAX);
            // A zone name is ASCII by IANA's rules; a daemon sending anything else still cannot
            // move the cursor.
            let zone = crate::tui::text::sanitize(&s.timezone);
            let zone = if wide {
                zone.as_str()
            } else {
                zone.rsplit('/').next().unwrap_or_default()
            };
            spans.push(Span::styled(
                format!("  {} {zone}", timeline::station_hms(model, now)),
                Style::new().fg(Color::Cyan),
            ));
            if wide {
                spans.push(Span::styled(
                    format!("  {} UTC ", clock(model.wall_ms)),
                    DIM,
                ));
            } else {
                spans.push(Span::raw(" "));
            }
        }
        None => spans.push(Span::raw(format!("  {} UTC ", clock(model.wall_ms)))),
    }
    Line::from(spans)
}
