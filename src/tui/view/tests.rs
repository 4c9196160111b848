//! Snapshots of the whole console on `TestBackend` at 80×24, 120×40 and 160×48 (insta; files in
//! `src/tui/snapshots/`), and the windowed rundown with 10,000 items.

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use super::{rundown, view};
use crate::protocol::{Ack, Alarm, ErrorBody, Event, EventKind, ServerMsg, Severity};
use crate::tui::client::NetEvent;
use crate::tui::fixtures::{self, live_model};
use crate::tui::layout;
use crate::tui::message::{Message, Move};
use crate::tui::model::Model;
use crate::tui::update::update;

pub(super) fn render(model: &Model) -> String {
    let (w, h) = model.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| view(model, f)).expect("draw");
    terminal.backend().to_string()
}

/// Replaces the wall clock (`HH:MM:SS UTC`) so the snapshots never depend on it.
fn filter_clock(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" UTC") {
        let (head, tail) = rest.split_at(at);
        match head.char_indices().rev().nth(7) {
            Some((start, _)) if head[start..].bytes().filter(|b| *b == b':').count() == 2 => {
                out.push_str(&head[..start]);
                out.push_str("[clock]!");
            }
            _ => out.push_str(head),
        }
        out.push_str(" UTC");
        rest = &tail[4..];
    }
    out.push_str(rest);
    out
}

pub(super) fn snapshot(name: &str, model: &Model) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, filter_clock(&render(model))));
}

fn server(m: &mut Model, msg: ServerMsg) {
    update(m, Message::Net(NetEvent::Server(Box::new(msg))));
}

#[test]
fn connected_with_on_air_progress_and_missing_media_80x24() {
    let model = live_model(80, 24, 6);
    let text = render(&model);
    assert!(
        text.contains("ON AIR") && text.contains("AUTO armed"),
        "{text}"
    );
    snapshot("connected_80x24", &model);
}

#[test]
fn connected_120x40() {
    let mut model = live_model(120, 40, 14);
    update(&mut model, Message::FocusNext);
    snapshot("connected_120x40", &model);
}

#[test]
fn reconnecting_hides_live_numbers() {
    let mut model = live_model(80, 24, 6);
    update(
        &mut model,
        Message::Net(NetEvent::Disconnected {
            reason: "the daemon closed the connection".into(),
            retry_in: Duration::from_millis(800),
        }),
    );
    let text = render(&model);
    assert!(text.contains("reconnecting"), "{text}");
    assert!(
        !text.contains("00:00:03 /"),
        "no frozen elapsed time: {text}"
    );
    snapshot("reconnecting_80x24", &model);
}

#[test]
fn stale_telemetry_is_shown_as_stale() {
    let mut model = live_model(120, 40, 6);
    fixtures::advance(&mut model, Duration::from_secs(5));
    let text = render(&model);
    assert!(text.contains("no telemetry for 5 s"), "{text}");
    assert!(
        !text.contains("-00:00:12"),
        "no frozen remaining time: {text}"
    );
    snapshot("stale_120x40", &model);
}

#[test]
fn help_overlay_lists_every_key_80x24() {
    let mut model = live_model(80, 24, 6);
    update(&mut model, Message::ToggleHelp);
    let text = render(&model);
    for (keys, _) in crate::tui::message::HELP {
        assert!(text.contains(keys), "{keys} missing from\n{text}");
    }
    assert!(text.contains("playout on the daemon is never affected"));
    snapshot("help_80x24", &model);
}

#[test]
fn confirm_dialog_for_stop_80x24() {
    let mut model = live_model(80, 24, 6);
    update(&mut model, Message::Stop);
    snapshot("confirm_stop_80x24", &model);
}

#[test]
fn alarm_failure_and_filter_120x40() {
    let mut model = live_model(120, 40, 6);
    let alarm = Alarm {
        id: 1,
        severity: Severity::Critical,
        kind: "caspar".into(),
        message: "CasparCG came back empty; resuming CLIP2".into(),
        raised_ms: fixtures::WALL_MS,
    };
    server(
        &mut model,
        ServerMsg::Event(Box::new(Event {
            seq: 42,
            kind: EventKind::AlarmRaised { alarm },
        })),
    );
    update(&mut model, Message::TakeSelected);
    server(
        &mut model,
        ServerMsg::Ack(Ack::err(
            "c1",
            ErrorBody::new("caspar_error", "CasparCG: 404 PLAY FAILED"),
        )),
    );
    update(&mut model, Message::StartFilter);
    for c in "cl".chars() {
        update(&mut model, Message::FilterChar(c));
    }
    snapshot("alarm_failure_filter_120x40", &model);
}

#[test]
fn too_small_asks_for_a_bigger_terminal() {
    let model = live_model(30, 8, 6);
    assert!(render(&model).contains("40×12"));
}

#[test]
fn ten_thousand_items_build_only_the_visible_rows() {
    let mut model = live_model(120, 40, 10_000);
    for _ in 0..5 {
        update(&mut model, Message::Move(Move::PageDown));
    }
    let area = layout::areas(Rect::new(0, 0, 120, 40), 1).rundown;
    let window = rundown::window(&model, area);
    assert!(window.contains(&model.rundown.selected));
    assert!(window.len() <= usize::from(area.height), "{window:?}");
    assert_eq!(window.len(), layout::rundown_rows(model.area(), 1));
    let text = render(&model);
    let shown = format!("›{:>5}", model.rundown.selected + 1);
    assert!(text.contains(&shown), "{shown} missing from\n{text}");
    update(&mut model, Message::Move(Move::End));
    assert!(render(&model).contains("›10000"));
}

#[test]
fn large_terminal_160x48_with_a_long_rundown_scrolled() {
    let mut model = live_model(160, 48, 200);
    for _ in 0..3 {
        update(&mut model, Message::Move(Move::PageDown));
    }
    let text = render(&model);
    assert!(text.contains("ON AIR"), "{text}");
    snapshot("long_rundown_scrolled_160x48", &model);
}

#[test]
fn clock_filter_only_touches_the_clock() {
    assert_eq!(
        filter_clock("x 12:34:56 UTC y 00:00:01"),
        "x [clock]! UTC y 00:00:01"
    );
}

#[test]
fn titles_show_direction_overrides_and_zero_width_characters_escaped() {
    let mut model = live_model(120, 40, 6);
    let items = &mut model.state.playlists[0].playlist.items;
    let mut evil = (*items[1]).clone();
    evil.title = Some("evil\u{202E}4pm.txt\u{200B}".into());
    items.set(1, evil.into());
    let text = render(&model);
    assert!(text.contains("evil<U+202E>4pm.txt<U+200B>"), "{text}");
    assert!(!text.contains('\u{202E}') && !text.contains('\u{200B}'));
}

#[test]
fn never_connected_says_connecting_to_the_url_not_reconnecting_80x24() {
    let mut model = Model::new(
        "ws://127.0.0.1:8250/ws",
        std::time::Instant::now(),
        fixtures::WALL_MS,
    );
    update(&mut model, Message::Resize(80, 24));
    update(
        &mut model,
        Message::Net(NetEvent::Connecting { attempt: 1 }),
    );
    let text = render(&model);
    assert!(
        text.contains("connecting to ws://127.0.0.1:8250/ws"),
        "{text}"
    );
    update(
        &mut model,
        Message::Net(NetEvent::Disconnected {
            reason: "cannot reach the daemon: Connection refused (os error 111)".into(),
            retry_in: Duration::from_millis(800),
        }),
    );
    for line in &mut model.log.lines {
        line.wall_ms = fixtures::WALL_MS;
    }
    let text = render(&model);
    assert!(!text.contains("reconnecting"), "{text}");
    assert!(
        text.contains("not connected") && text.contains("Is the daemon running?"),
        "{text}"
    );
    snapshot("never_connected_80x24", &model);
}

#[test]
fn help_in_the_demo_says_quitting_ends_the_demo_80x24() {
    let mut model = live_model(80, 24, 6);
    model.mode = crate::tui::model::Mode::Demo;
    update(&mut model, Message::ToggleHelp);
    let text = render(&model);
    assert!(
        text.contains("Quitting ends the demo") && text.contains("quit the demo"),
        "{text}"
    );
    assert!(!text.contains("never affected"), "{text}");
    snapshot("help_demo_80x24", &model);
}

fn planned(width: u16, height: u16) -> Model {
    let mut model = live_model(width, height, 14);
    server(
        &mut model,
        ServerMsg::Timeline(Box::new(fixtures::timelines(14))),
    );
    model
}

#[test]
fn planned_timeline_120x40_shows_starts_marks_cut_and_runs() {
    let model = planned(120, 40);
    let text = render(&model);
    for want in [
        "✂ -00:04",
        "H 13:35:04",
        "-00:04",
        "+00:12",
        "S 13:35:36",
        "  13:35:46",
        "13:34:56 Europe/Berlin",
        "FIXED  H 13:35:04 NEWS/OPENER -00:00:08",
        "! unfilled gap 00:12 at 13:35:24 before SHORT",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    snapshot("planned_timeline_120x40", &model);
}

#[test]
fn planned_timeline_80x24_keeps_the_clock_the_next_fixed_time_and_the_gap() {
    let model = planned(80, 24);
    let text = render(&model);
    assert!(text.contains("13:34:56 Berlin"), "{text}");
    assert!(text.contains("H 13:35:04"), "{text}");
    assert!(text.contains("unfilled gap 00:12"), "{text}");
    snapshot("planned_timeline_80x24", &model);
}

#[test]
fn the_count_down_follows_the_console_clock_and_a_new_revision_blanks_the_rows() {
    let mut model = planned(160, 48);
    fixtures::advance(&mut model, Duration::from_secs(3));
    let text = render(&model);
    assert!(text.contains("NEWS/OPENER -00:00:05"), "{text}");
    assert!(text.contains("13:34:59 Europe/Berlin"), "{text}");
    assert!(text.contains("SCHED") && text.contains("START"), "{text}");
    // An edit the timeline was not planned from: its rows may be other items now.
    let item = (*model.state.playlists[0].playlist.items[9]).clone();
    let revision = model.state.playlists[0].playlist.revision + 1;
    server(
        &mut model,
        ServerMsg::Event(Box::new(Event {
            seq: 42,
            kind: EventKind::ItemRemoved {
                playlist: "main".into(),
                revision,
                index: 9,
                item: item.id,
            },
        })),
    );
    let text = render(&model);
    assert!(text.contains("START"), "the column stays: {text}");
    assert!(
        !text.contains("S 13:35:36") && !text.contains("✂"),
        "no row labelled from another revision: {text}"
    );
    assert!(
        text.contains("FIXED"),
        "the next fixed time is not a row: {text}"
    );
}

#[test]
fn a_restarted_daemon_drops_the_old_plan() {
    let mut model = planned(120, 40);
    server(
        &mut model,
        ServerMsg::Hello {
            server_version: "0.1.0".into(),
            boot_id: "boot-2".into(),
            seq: 0,
            role: crate::protocol::Role::Operator,
        },
    );
    assert!(model.timelines.is_none());
    let text = render(&model);
    assert!(
        !text.contains("FIXED") && !text.contains("Berlin"),
        "{text}"
    );
}

#[test]
fn a_rundown_the_filler_took_over_says_so_and_its_end_action_80x24() {
    let model = fixtures::model_of(80, 24, fixtures::taken_over_snapshot(6));
    let text = render(&model);
    for want in [
        "STOPPED  layer taken over by Night filler after «CLIP2»",
        "Main (1-10) · end: black",
        "NEXT  NEWS/OPENER",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    assert!(!text.contains("nothing on air"), "{text}");
    snapshot("taken_over_80x24", &model);
}

#[test]
fn the_filler_playlist_is_marked_in_its_title_120x40() {
    let mut model = fixtures::model_of(120, 40, fixtures::taken_over_snapshot(6));
    update(&mut model, Message::NextPlaylist);
    let text = render(&model);
    for want in [
        "Night filler (1-10) · FILLER · shuffle · 2 items",
        "ON AIR  AMB",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    snapshot("filler_120x40", &model);
}

#[test]
fn not_live_the_take_over_is_last_known_and_dim() {
    let mut model = fixtures::model_of(120, 40, fixtures::taken_over_snapshot(6));
    update(
        &mut model,
        Message::Net(NetEvent::Disconnected {
            reason: "the daemon closed the connection".into(),
            retry_in: Duration::from_millis(800),
        }),
    );
    let text = render(&model);
    assert!(
        text.contains("last known: layer taken over by Night filler after «CLIP2»"),
        "{text}"
    );
    assert!(text.contains("Main · end: black · NOT LIVE"), "{text}");
}
