//! The graphics dialog's keys become the right commands: `f`/Enter fires the selected event of the
//! item under the rundown cursor, `c` asks before it clears a live graphic's layer (and sends
//! nothing on "no"), `l` turns the logo off when it is on and on when it is off; a viewer is not
//! offered them, and the daemon's answers are reported like any other command's.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::{Value, json};

use super::{Effect, update};
use crate::protocol::{Ack, ClientMsg, ErrorBody, Event, EventKind, GraphicPhase, Role, ServerMsg};
use crate::tui::client::NetEvent;
use crate::tui::fixtures;
use crate::tui::message::{Message, Move, map_key};
use crate::tui::model::{Confirm, Dialog, Level, Model};

/// The fixtures' console with graphics, its graphics dialog open on the on-air item (`CLIP2`,
/// under the cursor): rows are the lower third (layer 20) and the logo (30) on air, then the
/// item's events `name`, `bug` and `fade`.
pub(super) fn dialog() -> Model {
    let mut m = fixtures::model_of(80, 24, fixtures::graphics_snapshot());
    assert_eq!(m.selected_item().map(|i| i.id.as_str()), Some("i1"));
    update(&mut m, Message::ToggleGraphics);
    assert_eq!(m.dialog, Some(Dialog::Graphics));
    m
}

/// The key as the console maps it in the current mode, applied.
pub(super) fn key(m: &mut Model, code: KeyCode) -> Vec<Effect> {
    let Some(msg) = map_key(m, KeyEvent::new(code, KeyModifiers::NONE)) else {
        return vec![];
    };
    update(m, msg)
}

/// The single command sent: (id, op, args).
pub(super) fn sent(effects: &[Effect]) -> (String, String, Value) {
    let [Effect::Send(msg @ ClientMsg::Command { .. })] = effects else {
        panic!("expected one command, got {effects:?}")
    };
    let wire = serde_json::to_value(msg).expect("a command encodes");
    let id = wire["id"].as_str().expect("id").to_owned();
    let op = wire["op"].as_str().expect("op").to_owned();
    (id, op, wire.get("args").cloned().unwrap_or(Value::Null))
}

fn server(m: &mut Model, msg: ServerMsg) {
    update(m, Message::Net(NetEvent::Server(Box::new(msg))));
}

fn notice(m: &Model) -> &str {
    m.notice.as_ref().map_or("", |n| n.text.as_str())
}

#[test]
fn f_and_enter_fire_the_selected_event_of_the_item_under_the_cursor() {
    let mut m = dialog();
    // A live row is not an event: nothing is sent, the operator is told what f does.
    assert!(key(&mut m, KeyCode::Char('f')).is_empty());
    assert!(
        notice(&m).contains("choose one of the item's events"),
        "{}",
        notice(&m)
    );
    key(&mut m, KeyCode::Down);
    key(&mut m, KeyCode::Down);
    let (id, op, args) = sent(&key(&mut m, KeyCode::Char('f')));
    assert_eq!(op, "graphics.fire");
    assert_eq!(
        args,
        json!({"playlist": "main", "item": "i1", "event": "name"})
    );
    assert_eq!(m.pending[&id].label, "fire name (LOWER_THIRD)");
    key(&mut m, KeyCode::Down);
    let (_, op, args) = sent(&key(&mut m, KeyCode::Enter));
    assert_eq!(op, "graphics.fire");
    assert_eq!(args["event"], "bug");
    // The selection stops at the last row.
    for _ in 0..5 {
        key(&mut m, KeyCode::Down);
    }
    let (_, _, args) = sent(&key(&mut m, KeyCode::Char('f')));
    assert_eq!(args["event"], "fade");
    assert_eq!(m.dialog, Some(Dialog::Graphics), "the dialog stays open");
}

#[test]
fn a_failed_fire_is_reported_like_every_command() {
    let mut m = dialog();
    update(&mut m, Message::Move(Move::End));
    let (id, _, _) = sent(&update(&mut m, Message::FireGraphic));
    server(
        &mut m,
        ServerMsg::Ack(Ack::err(
            &id,
            ErrorBody::new("graphics_error", "no template on layer 40"),
        )),
    );
    assert!(m.pending.is_empty());
    let n = m.notice.as_ref().expect("a notice");
    assert_eq!(n.level, Level::Error);
    assert!(
        n.text.contains("fire fade (mixer) failed") && n.text.contains("[graphics_error]"),
        "{}",
        n.text
    );
}

#[test]
fn c_asks_first_and_clears_only_after_yes() {
    let mut m = dialog();
    // The first row is the lower third on layer 20.
    assert!(key(&mut m, KeyCode::Char('c')).is_empty());
    let Some(Dialog::Confirm { action, question }) = &m.dialog else {
        panic!("a confirmation, got {:?}", m.dialog)
    };
    assert_eq!(
        action,
        &Confirm::ClearGraphics {
            playlist: "main".into(),
            layer: 20
        }
    );
    assert!(
        question.contains("LOWER_THIRD (name) off layer 1-20"),
        "{question}"
    );
    // No: nothing is sent and the graphics dialog is back.
    assert!(key(&mut m, KeyCode::Char('n')).is_empty());
    assert_eq!(m.dialog, Some(Dialog::Graphics));
    assert!(m.pending.is_empty());
    key(&mut m, KeyCode::Char('c'));
    let (_, op, args) = sent(&key(&mut m, KeyCode::Char('y')));
    assert_eq!(op, "graphics.clear");
    assert_eq!(args, json!({"playlist": "main", "layer": 20}));
    assert_eq!(m.dialog, Some(Dialog::Graphics), "back to see it go");
    // The logo's row says it stays off.
    key(&mut m, KeyCode::Down);
    key(&mut m, KeyCode::Char('c'));
    let Some(Dialog::Confirm { question, .. }) = &m.dialog else {
        panic!("a confirmation")
    };
    assert!(question.contains("stays off until l"), "{question}");
    // c on an event row asks nothing.
    key(&mut m, KeyCode::Esc);
    key(&mut m, KeyCode::Down);
    assert!(key(&mut m, KeyCode::Char('c')).is_empty());
    assert_eq!(m.dialog, Some(Dialog::Graphics));
}

#[test]
fn l_turns_the_logo_off_when_it_is_on_and_back_on_when_it_is_not() {
    let mut m = dialog();
    let (_, op, args) = sent(&key(&mut m, KeyCode::Char('l')));
    assert_eq!(op, "graphics.logo");
    assert_eq!(args, json!({"playlist": "main", "enabled": false}));
    // The daemon took it off: the list no longer has it.
    let mut graphics = m.state.graphics.clone();
    graphics.retain(|g| g.name != "logo");
    server(
        &mut m,
        ServerMsg::Event(Box::new(Event {
            seq: 42,
            kind: EventKind::Graphics {
                graphics: graphics.clone(),
            },
        })),
    );
    let (_, _, args) = sent(&key(&mut m, KeyCode::Char('l')));
    assert_eq!(args["enabled"], true);
    // Playing its out-animation, it is already going off: l puts it back.
    let mut stopping = fixtures::graphics_snapshot().graphics;
    stopping[0].phase = GraphicPhase::Stopped;
    m.state.graphics = stopping;
    let (_, _, args) = sent(&key(&mut m, KeyCode::Char('l')));
    assert_eq!(args["enabled"], true);
    // A playlist without a logo: nothing to toggle, nothing sent.
    m.state.playlists[0].playlist.logo = None;
    assert!(key(&mut m, KeyCode::Char('l')).is_empty());
    assert!(notice(&m).contains("Main has no logo"), "{}", notice(&m));
}

#[test]
fn viewers_are_shown_the_graphics_but_offered_no_action() {
    let mut m = dialog();
    server(
        &mut m,
        ServerMsg::Hello {
            server_version: "x".into(),
            boot_id: "boot-1".into(),
            seq: 41,
            role: Role::Viewer,
        },
    );
    for code in [
        KeyCode::Char('f'),
        KeyCode::Enter,
        KeyCode::Char('c'),
        KeyCode::Char('l'),
        KeyCode::Char('u'),
        KeyCode::Char('i'),
    ] {
        let msg = map_key(&m, KeyEvent::new(code, KeyModifiers::NONE));
        assert_eq!(msg, None, "{code:?}");
    }
    assert_eq!(
        map_key(&m, KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
        Some(Message::Move(Move::Down))
    );
    // Were one to arrive anyway, nothing is asked or sent.
    assert!(update(&mut m, Message::ClearGraphic).is_empty());
    assert_eq!(m.dialog, Some(Dialog::Graphics));
    assert!(notice(&m).contains("read-only"), "{}", notice(&m));
    assert!(update(&mut m, Message::ToggleLogo).is_empty());
    assert!(m.pending.is_empty());
}

#[test]
fn g_opens_and_closes_and_q_closes_without_quitting() {
    let mut m = fixtures::model_of(80, 24, fixtures::graphics_snapshot());
    key(&mut m, KeyCode::Char('g'));
    assert_eq!(m.dialog, Some(Dialog::Graphics));
    key(&mut m, KeyCode::Char('g'));
    assert_eq!(m.dialog, None);
    key(&mut m, KeyCode::Char('g'));
    key(&mut m, KeyCode::Down);
    assert_eq!(m.rundown.selected, 1, "the rundown cursor stays");
    assert_eq!(m.graphics_row, 1);
    key(&mut m, KeyCode::Char('q'));
    assert_eq!(m.dialog, None);
    assert!(!m.quit);
    key(&mut m, KeyCode::Char('g'));
    assert_eq!(m.graphics_row, 0, "opens on the first row");
    key(&mut m, KeyCode::Esc);
    assert_eq!(m.dialog, None);
}

#[test]
fn offline_the_actions_are_refused_before_any_question() {
    let mut m = dialog();
    update(
        &mut m,
        Message::Net(NetEvent::Disconnected {
            reason: "gone".into(),
            retry_in: std::time::Duration::from_millis(500),
        }),
    );
    assert!(update(&mut m, Message::ClearGraphic).is_empty());
    assert_eq!(m.dialog, Some(Dialog::Graphics), "no confirmation");
    assert!(notice(&m).starts_with("clear: not sent"), "{}", notice(&m));
}
