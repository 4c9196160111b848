//! Snapshots of a main/backup pair in the console (issue 17): the status bar's servers row in
//! step, with the backup down, and with the backup out of step, drifting and lacking clips; the
//! servers dialog; and a single server unchanged from before pairs.

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use super::tests::{render, snapshot};
use super::view;
use crate::protocol::ServerView;
use crate::tui::client::NetEvent;
use crate::tui::fixtures::{self, live_model};
use crate::tui::message::Message;
use crate::tui::model::Model;
use crate::tui::update::update;

/// The colour of the first cell of `needle` on screen.
fn fg_of(model: &Model, needle: &str) -> Option<ratatui::style::Color> {
    let (w, h) = model.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| view(model, f)).expect("draw");
    let buffer = terminal.backend().buffer();
    (0..h).find_map(|y| {
        let mut row = String::new();
        let mut starts = Vec::new();
        for x in 0..w {
            starts.push(row.len());
            row.push_str(buffer[(x, y)].symbol());
        }
        let at = row.find(needle)?;
        let x = starts.iter().position(|&s| s == at)?;
        Some(buffer[(u16::try_from(x).ok()?, y)].fg)
    })
}

fn pair_model(width: u16, height: u16, servers: [ServerView; 2]) -> Model {
    fixtures::model_of(width, height, fixtures::snapshot_with(6, servers))
}

#[test]
fn a_pair_in_step_shows_both_sides_on_a_second_row_80x24() {
    let model = pair_model(80, 24, fixtures::pair());
    let text = render(&model);
    let row = text.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains(" main ● lead │ backup ● in step · drift +1f "),
        "{text}"
    );
    assert_eq!(fg_of(&model, "lead"), Some(Color::Green));
    assert_eq!(fg_of(&model, "drift +1f"), Some(Color::DarkGray));
    snapshot("pair_in_step_80x24", &model);
}

#[test]
fn a_pair_on_a_wide_terminal_adds_the_catch_up_time_120x40() {
    let model = pair_model(120, 40, fixtures::pair());
    let text = render(&model);
    assert!(
        text.contains("backup ● in step · drift +1f · caught up in 212 ms"),
        "{text}"
    );
    snapshot("pair_in_step_120x40", &model);
}

#[test]
fn a_backup_down_is_red_with_its_state_80x24() {
    let model = pair_model(80, 24, fixtures::pair_backup_down());
    let text = render(&model);
    assert!(
        text.contains(" main ● lead │ backup ◌ down: connection refused "),
        "{text}"
    );
    assert!(
        text.contains("CasparCG 2.4.3"),
        "the station is still up: {text}"
    );
    assert_eq!(fg_of(&model, "◌ down: connection"), Some(Color::Red));
    snapshot("pair_backup_down_80x24", &model);
}

#[test]
fn a_backup_out_of_step_with_missing_clips_and_drift_80x24() {
    let model = pair_model(80, 24, fixtures::pair_backup_out_of_step());
    let text = render(&model);
    let row = text.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("backup ◐ PLAY failed: 404 PLAY FAILED · -3f │ 2 missing on backup"),
        "abbreviated to fit 80 columns: {text}"
    );
    assert_eq!(fg_of(&model, "◐ PLAY failed"), Some(Color::Yellow));
    assert_eq!(fg_of(&model, "-3f"), Some(Color::Yellow), "beyond 2 frames");
    assert_eq!(fg_of(&model, "2 missing on"), Some(Color::Magenta));
    snapshot("pair_backup_out_of_step_80x24", &model);
}

#[test]
fn the_servers_dialog_names_the_missing_clips_80x24() {
    let mut model = pair_model(80, 24, fixtures::pair_backup_out_of_step());
    update(&mut model, Message::ToggleServers);
    let text = render(&model);
    for want in [
        "10.0.0.2:5250",
        "out of step: PLAY failed: 404 PLAY FAILED",
        "drift -3 frames, behind the main",
        "2 clips missing: CLIP2, NEWS/OPENER",
        "lead (the daemon follows its telemetry)",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    snapshot("servers_dialog_80x24", &model);
}

#[test]
fn one_server_looks_as_it_did_before_pairs() {
    let [main, _] = fixtures::pair();
    let mut state = fixtures::snapshot(6);
    state.link.servers = vec![main];
    let one = fixtures::model_of(80, 24, state);
    assert_eq!(render(&one), render(&live_model(80, 24, 6)));
}

#[test]
fn not_live_a_pair_is_the_last_known_state_without_colour() {
    let mut model = pair_model(80, 24, fixtures::pair_backup_down());
    update(
        &mut model,
        Message::Net(NetEvent::Disconnected {
            reason: "the daemon closed the connection".into(),
            retry_in: Duration::from_millis(800),
        }),
    );
    assert!(render(&model).contains("backup ◌ down: connection refused"));
    assert_eq!(fg_of(&model, "◌ down: connection"), Some(Color::DarkGray));
}
