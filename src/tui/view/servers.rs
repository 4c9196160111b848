//! The servers of a main/backup pair: the status bar's second row, one short entry per server
//! (` main ● lead │ backup ● in step · drift +1f │ 2 clips missing on backup`), and the servers
//! dialog (`v`) with everything the daemon says about each one, including which clips it lacks.
//!
//! The row has to fit 80 columns with a long note from the daemon (`PLAY failed: 404 …`), so it
//! is fitted rather than cut at the edge: short forms first (`+1f`, `2 missing on backup`), then
//! the free text of notes and link states is shortened with `…`. What is shortened here is whole
//! in the dialog.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::DIM;
use super::overlay::{centred, dialog_block};
use crate::protocol::{ServerRole, ServerView};
use crate::tui::model::Model;
use crate::tui::servers::{self, Health};

/// From this width the row also gives each server's role when its name does not say it and the
/// time its last catch-up took.
const WIDE: u16 = 120;

/// A note or link state is never cut shorter than this (then the row is cut at the edge).
const MIN_NOTE: usize = 12;

/// Clips named per server in the dialog; more are counted.
const NAMED_IN_DIALOG: usize = 40;

/// One piece of the row.
struct Piece {
    text: String,
    /// What to show instead when the row is too long.
    short: Option<String>,
    style: Style,
    /// Free text from the daemon that may be shortened with `…`.
    flexible: bool,
}

impl Piece {
    fn fixed(text: impl Into<String>, style: Style) -> Piece {
        Piece {
            text: text.into(),
            short: None,
            style,
            flexible: false,
        }
    }
}

fn width(text: &str) -> usize {
    Span::raw(text).width()
}

/// `text` cut to at most `max` columns, ending with `…` when it was cut.
pub(super) fn cut(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let mut buf = [0; 4];
        let w = width(c.encode_utf8(&mut buf));
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    // `404…`, not `404 …`: the mark belongs to the word it cuts.
    let mut out = out.trim_end().to_owned();
    out.push('…');
    out
}

/// The colour of a side's mark and status; nothing is coloured while the console is not live (the
/// state is the last known one, like the rest of the screen).
fn health_style(h: Health, lead: bool, live: bool) -> Style {
    match h {
        _ if !live => DIM,
        Health::Down => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Health::OutOfStep => Style::new().fg(Color::Yellow),
        Health::InStep if lead => Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        Health::InStep => Style::new().fg(Color::Green),
    }
}

fn drift_style(frames: i64, live: bool) -> Style {
    if live && servers::drift_is_high(frames) {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        DIM
    }
}

/// The pieces of the row, before fitting.
fn pieces(list: &[ServerView], wide: bool, live: bool) -> Vec<Piece> {
    let sep = || Piece::fixed(" │ ", DIM);
    let dot = || Piece::fixed(" · ", DIM);
    let mut out = vec![Piece::fixed(" ", DIM)];
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(sep());
        }
        let label = if live { Style::new() } else { DIM };
        out.push(Piece::fixed(servers::label(s, wide) + " ", label));
        let h = servers::health(s);
        let style = health_style(h, s.lead, live);
        out.push(Piece::fixed(servers::mark(h).to_owned() + " ", style));
        out.push(Piece {
            text: servers::status(s),
            short: None,
            style,
            flexible: h != Health::InStep,
        });
        if let Some(frames) = s.drift_frames {
            out.push(dot());
            out.push(Piece {
                text: servers::drift(frames, false),
                short: Some(servers::drift(frames, true)),
                style: drift_style(frames, live),
                flexible: false,
            });
        }
        if wide
            && h == Health::InStep
            && let Some(ms) = s.resync_ms
        {
            out.push(dot());
            out.push(Piece::fixed(servers::caught_up(ms), DIM));
        }
    }
    let missing = if live {
        Style::new().fg(Color::Magenta)
    } else {
        DIM
    };
    for s in list {
        if let Some(text) = servers::missing(s, false) {
            out.push(sep());
            out.push(Piece {
                text,
                short: servers::missing(s, true),
                style: missing,
                flexible: false,
            });
        }
    }
    out
}

/// Makes `pieces` fit `room` columns if it can: short forms, then the longest free text cut.
fn fit(pieces: &mut [Piece], room: usize) {
    let total = |p: &[Piece]| p.iter().map(|p| width(&p.text)).sum::<usize>();
    if total(pieces) <= room {
        return;
    }
    for p in pieces.iter_mut() {
        if let Some(short) = p.short.take() {
            p.text = short;
        }
    }
    while total(pieces) > room {
        let excess = total(pieces) - room;
        let Some(longest) = pieces
            .iter_mut()
            .filter(|p| p.flexible && width(&p.text) > MIN_NOTE)
            .max_by_key(|p| width(&p.text))
        else {
            return;
        };
        let w = width(&longest.text);
        longest.text = cut(&longest.text, w.saturating_sub(excess).max(MIN_NOTE));
    }
}

/// The status bar's row for a pair, fitted to `columns`.
pub(super) fn line(model: &Model, columns: u16) -> Line<'static> {
    let mut pieces = pieces(&model.state.link.servers, columns >= WIDE, model.is_live());
    fit(&mut pieces, usize::from(columns));
    Line::from(
        pieces
            .into_iter()
            .map(|p| Span::styled(p.text, p.style))
            .collect::<Vec<_>>(),
    )
}

/// `-3 frames, behind the main`: the sign of a drift said in words, for the dialog.
fn drift_words(frames: i64) -> String {
    let n = frames.abs();
    let unit = if n == 1 { "frame" } else { "frames" };
    match frames {
        0 => "drift 0 frames".into(),
        f if f < 0 => format!("drift {f} {unit}, behind the main"),
        f => format!("drift +{f} {unit}, ahead of the main"),
    }
}

/// The dialog's lines for one server.
fn details(s: &ServerView, live: bool) -> Vec<Line<'static>> {
    let h = servers::health(s);
    let style = health_style(h, s.lead, live);
    let mut head = vec![
        Span::styled(
            servers::label(s, true),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("  {}", servers::shown(&s.address))),
    ];
    if let Some(v) = &s.server_version {
        head.push(Span::styled(
            format!("  CasparCG {}", servers::shown(v)),
            DIM,
        ));
    }
    let mut state = vec![
        Span::raw("  "),
        Span::styled(
            format!("{} {}", servers::mark(h), servers::shown(&s.state)),
            style,
        ),
    ];
    if s.lead {
        state.push(Span::styled(
            " · lead (the daemon follows its telemetry)",
            style,
        ));
    }
    match h {
        Health::Down => {}
        Health::InStep => state.push(Span::styled(" · in step", style)),
        Health::OutOfStep => state.push(Span::styled(
            format!(" · out of step: {}", servers::status(s)),
            style,
        )),
    }
    let mut lines = vec![Line::from(head), Line::from(state)];
    let mut numbers = Vec::new();
    if let Some(frames) = s.drift_frames {
        numbers.push(Span::styled(drift_words(frames), drift_style(frames, live)));
    } else if s.role == ServerRole::Backup && s.connected {
        numbers.push(Span::styled("drift not measurable now", DIM));
    }
    if let Some(ms) = s.resync_ms {
        let sep = if numbers.is_empty() { "" } else { " · " };
        numbers.push(Span::styled(
            format!("{sep}last {}", servers::caught_up(ms)),
            DIM,
        ));
    }
    if !numbers.is_empty() {
        numbers.insert(0, Span::raw("  "));
        lines.push(Line::from(numbers));
    }
    let n = s.missing.len();
    let missing = if live {
        Style::new().fg(Color::Magenta)
    } else {
        DIM
    };
    lines.push(if n == 0 {
        Line::from(Span::styled("  every clip of the rundowns is there", DIM))
    } else {
        Line::from(Span::styled(
            format!(
                "  {n} clip{} missing: {}",
                if n == 1 { "" } else { "s" },
                servers::clip_list(&s.missing, NAMED_IN_DIALOG)
            ),
            missing,
        ))
    });
    lines
}

/// The servers dialog: each server in full, the clips it lacks by name.
pub(super) fn dialog(model: &Model, frame: &mut Frame, area: Rect) {
    let live = model.is_live();
    let list = &model.state.link.servers;
    let mut lines = Vec::new();
    if !live {
        lines.push(Line::from(Span::styled(
            "Last known state: the console is not connected to the daemon.",
            Style::new().fg(Color::Yellow),
        )));
        lines.push(Line::default());
    }
    if list.is_empty() {
        lines.push(Line::from("The daemon has not reported its servers."));
    }
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            lines.push(Line::default());
        }
        lines.extend(details(s, live));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "Esc, v or q closes this view.",
        DIM,
    )));

    let popup_width = area.width.min(78);
    let inner_width = usize::from(popup_width.saturating_sub(2)).max(1);
    // Wrapped height, counted the way the paragraph wraps (near enough: words are not split).
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_width).max(1))
        .sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let popup = centred(area, popup_width, height);
    frame.render_widget(Clear, popup);
    let block = dialog_block(" Servers ", Color::Cyan);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_whole_characters_and_marks_the_cut() {
        assert_eq!(cut("PLAY failed", 20), "PLAY failed");
        assert_eq!(cut("PLAY failed: 404 PLAY FAILED", 12), "PLAY failed…");
        assert_eq!(width(&cut("ÉÉÉÉÉÉ", 4)), 4);
        assert_eq!(width(&cut("表表表表", 5)), 5, "wide characters count twice");
    }

    #[test]
    fn a_long_row_uses_short_forms_then_shortens_the_note() {
        let list = crate::tui::fixtures::pair_backup_out_of_step();
        let mut p = pieces(&list, false, true);
        fit(&mut p, 80);
        let text: String = p.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            text,
            " main ● lead │ backup ◐ PLAY failed: 404 PLAY FAILED · -3f │ 2 missing on backup"
        );
        let mut p = pieces(&list, false, true);
        fit(&mut p, 70);
        let text: String = p.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            text,
            " main ● lead │ backup ◐ PLAY failed: 404… · -3f │ 2 missing on backup"
        );
        assert!(width(&text) <= 70);
    }
}
