//! `update` on a plain model: keys produce the right commands (or dialogs, or local refusals), acks
//! and failures reach the status line and the log, ticks expire notices, and the cursors move.
//! The daemon's messages applied to the console's state are in `net_tests`.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Effect, update};
use crate::protocol::{
    Ack, AckResult, ClientMsg, ErrorBody, Event, EventKind, Item, Role, ServerMsg, Status,
};
use crate::tui::client::NetEvent;
use crate::tui::fixtures::{self, live_model};
use crate::tui::message::{Message, Move};
use crate::tui::model::{Dialog, Level, Link, Model, Pane, Telemetry};

pub(super) fn model() -> Model {
    live_model(80, 24, 6)
}

/// The single command an update produced, as the daemon reads it off the wire: (id, op, args),
/// `args` null when left out.
fn sent(effects: &[Effect]) -> (String, String, Value) {
    let [Effect::Send(msg @ ClientMsg::Command { .. })] = effects else {
        panic!("expected one command, got {effects:?}")
    };
    let wire = serde_json::to_value(msg).expect("a command encodes");
    assert_eq!(wire["type"], "command");
    let id = wire["id"].as_str().expect("id").to_owned();
    let op = wire["op"].as_str().expect("op").to_owned();
    (id, op, wire.get("args").cloned().unwrap_or(Value::Null))
}

pub(super) fn server(m: &mut Model, msg: ServerMsg) -> Vec<Effect> {
    update(m, Message::Net(NetEvent::Server(Box::new(msg))))
}

pub(super) fn event(seq: u64, kind: EventKind) -> ServerMsg {
    ServerMsg::Event(Box::new(Event { seq, kind }))
}

fn ack_ok(id: &str, item: Option<&str>) -> ServerMsg {
    ServerMsg::Ack(Ack::ok(
        id,
        AckResult {
            item: item.map(str::to_owned),
            ..AckResult::default()
        },
    ))
}

#[test]
fn take_takes_the_next_or_the_selected_item_of_the_viewed_playlist() {
    let mut m = model();
    let (_, op, args) = sent(&update(&mut m, Message::TakeNext));
    assert_eq!(op, "playout.take");
    assert_eq!(args, json!({"playlist": "main"}));
    // The cursor starts on the on-air item; move to the fifth.
    assert_eq!(m.rundown.selected, 1);
    for _ in 0..3 {
        update(&mut m, Message::Move(Move::Down));
    }
    let (id, op, args) = sent(&update(&mut m, Message::TakeSelected));
    assert_eq!(op, "playout.take");
    assert_eq!(args, json!({"playlist": "main", "item": "i4"}));
    assert!(m.pending.contains_key(&id));
    let (_, op, _) = sent(&update(&mut m, Message::Next));
    assert_eq!(op, "playout.next");
    let (_, op, args) = sent(&update(&mut m, Message::Cue));
    assert_eq!((op.as_str(), &args["item"]), ("playout.cue", &json!("i4")));
}

#[test]
fn command_ids_are_unique_and_acks_are_matched_by_id() {
    let mut m = model();
    let (a, _, _) = sent(&update(&mut m, Message::TakeNext));
    let (b, _, _) = sent(&update(&mut m, Message::Next));
    assert_ne!(a, b);
    server(&mut m, ack_ok(&b, None));
    assert!(m.pending.contains_key(&a) && !m.pending.contains_key(&b));
    assert!(m.notice.is_none(), "success is quiet");
    server(
        &mut m,
        ServerMsg::Ack(Ack::err(
            &a,
            ErrorBody::new("clip_not_found", "CLIP9 is not in the library"),
        )),
    );
    assert!(m.pending.is_empty());
    let notice = m
        .notice
        .as_ref()
        .expect("a failure shows in the status line");
    assert_eq!(notice.level, Level::Error);
    assert!(
        notice
            .text
            .contains("take failed: CLIP9 is not in the library [clip_not_found]")
    );
    assert!(
        m.log.lines.back().is_some_and(|l| l.text == notice.text),
        "and in the log"
    );
    // An ack for an id we never sent changes nothing.
    server(&mut m, ack_ok("zz", None));
}

#[test]
fn stop_asks_first_while_on_air_and_cancel_sends_nothing() {
    let mut m = model();
    assert!(update(&mut m, Message::Stop).is_empty());
    assert!(matches!(m.dialog, Some(Dialog::Confirm { .. })));
    assert!(update(&mut m, Message::Cancel).is_empty());
    assert!(m.dialog.is_none());
    update(&mut m, Message::Stop);
    let (_, op, args) = sent(&update(&mut m, Message::Confirm));
    assert_eq!(op, "playout.stop");
    assert_eq!(args, json!({"playlist": "main"}));
    assert!(m.dialog.is_none());
    // Nothing on air: no question.
    let mut idle = live_model(80, 24, 1);
    let (_, op, _) = sent(&update(&mut idle, Message::Stop));
    assert_eq!(op, "playout.stop");
}

#[test]
fn delete_asks_first_and_removes_the_selected_item() {
    let mut m = model();
    update(&mut m, Message::Move(Move::Home));
    assert!(update(&mut m, Message::Delete).is_empty());
    let Some(Dialog::Confirm { question, .. }) = &m.dialog else {
        panic!("confirmation expected")
    };
    assert!(question.contains("Delete item 1"), "{question}");
    let (_, op, args) = sent(&update(&mut m, Message::Confirm));
    assert_eq!(op, "item.remove");
    assert_eq!(args, json!({"playlist": "main", "item": "i0"}));
}

#[test]
fn filter_narrows_the_library_and_insert_adds_below_the_cursor() {
    let mut m = model();
    update(&mut m, Message::StartFilter);
    assert!(m.library.editing);
    assert_eq!(m.focus, Pane::Library);
    for c in "clip".chars() {
        update(&mut m, Message::FilterChar(c));
    }
    assert_eq!(
        m.library.matches.len(),
        2,
        "CLIP1 and CLIP2, case-insensitive"
    );
    update(&mut m, Message::Move(Move::Down));
    update(&mut m, Message::FilterDone);
    assert!(!m.library.editing);
    assert_eq!(m.selected_clip().map(|c| c.name.as_str()), Some("CLIP2"));
    let (id, op, args) = sent(&update(&mut m, Message::Insert));
    assert_eq!(op, "item.insert");
    assert_eq!(
        args,
        json!({"playlist": "main", "clip": "CLIP2", "index": 2}),
        "after the rundown cursor (on item 2)"
    );
    // The ack names the new item, which the preceding event brought: the cursor follows it.
    let mut pl = fixtures::playlist(6);
    let mut new = Item::new("new1".into(), "CLIP2");
    new.frames = Some(500);
    new.fps = Some((50, 1));
    pl.playlist.items.insert(2, new.into());
    server(
        &mut m,
        event(
            42,
            EventKind::Playlist {
                playlist: Box::new(pl),
            },
        ),
    );
    server(&mut m, ack_ok(&id, Some("new1")));
    assert_eq!(m.rundown.selected, 2);
    assert_eq!(m.selected_id.as_deref(), Some("new1"));
    // Esc clears the filter.
    update(&mut m, Message::Cancel);
    assert!(m.library.filter.is_empty());
    assert_eq!(m.library.matches.len(), 6);
}

#[test]
fn items_move_down_and_up_and_the_cursor_follows_the_item() {
    let mut m = model();
    update(&mut m, Message::Move(Move::Home));
    let (_, op, args) = sent(&update(&mut m, Message::MoveItem(1)));
    assert_eq!(op, "item.move");
    assert_eq!(args, json!({"playlist": "main", "item": "i0", "index": 1}));
    assert!(
        update(&mut m, Message::MoveItem(-1)).is_empty(),
        "already first"
    );
    // The daemon's event swaps the first two items: the cursor stays on i0.
    let mut pl = fixtures::playlist(6);
    pl.playlist.items.swap(0, 1);
    server(
        &mut m,
        event(
            42,
            EventKind::Playlist {
                playlist: Box::new(pl),
            },
        ),
    );
    assert_eq!(
        (m.rundown.selected, m.selected_id.as_deref()),
        (1, Some("i0"))
    );
    let (_, _, args) = sent(&update(&mut m, Message::MoveItem(-1)));
    assert_eq!(args["index"], json!(0));
}

#[test]
fn pause_resume_and_toggles_follow_the_current_state() {
    let mut m = model();
    let (_, op, _) = sent(&update(&mut m, Message::PauseResume));
    assert_eq!(op, "playout.pause");
    let (_, op, args) = sent(&update(&mut m, Message::ToggleAutoplay));
    assert_eq!(
        (op.as_str(), &args["enabled"]),
        ("playout.autoplay", &json!(false))
    );
    let (_, op, args) = sent(&update(&mut m, Message::ToggleLoop));
    assert_eq!(
        (op.as_str(), &args["enabled"]),
        ("playlist.loop", &json!(true))
    );
    let (_, op, _) = sent(&update(&mut m, Message::Rescan));
    assert_eq!(op, "media.rescan");
    let mut pl = fixtures::playlist(6);
    pl.playout.status = Status::Paused;
    server(
        &mut m,
        event(
            42,
            EventKind::Playlist {
                playlist: Box::new(pl),
            },
        ),
    );
    let (_, op, _) = sent(&update(&mut m, Message::PauseResume));
    assert_eq!(op, "playout.resume");
}

#[test]
fn quit_only_leaves_the_console() {
    let mut m = model();
    assert_eq!(update(&mut m, Message::Quit), vec![Effect::Quit]);
    assert!(m.quit);
}

#[test]
fn commands_are_refused_locally_while_disconnected_and_pending_ones_fail() {
    let mut m = model();
    let (id, _, _) = sent(&update(&mut m, Message::TakeNext));
    update(
        &mut m,
        Message::Net(NetEvent::Disconnected {
            reason: "the daemon closed the connection".into(),
            retry_in: Duration::from_millis(300),
        }),
    );
    assert!(matches!(m.link, Link::Down { .. }));
    assert!(!m.pending.contains_key(&id), "no answer can come any more");
    assert!(
        m.log
            .lines
            .iter()
            .any(|l| l.text.contains("take: connection lost before the answer"))
    );
    assert!(!m.is_live());
    assert_eq!(
        m.telemetry(),
        Telemetry::Stale("not connected to the daemon".into())
    );
    assert!(update(&mut m, Message::TakeNext).is_empty(), "never queued");
    let notice = m.notice.as_ref().expect("refusal shown");
    assert!(notice.text.contains("not connected"), "{}", notice.text);
    // The client task reports a send that raced with the drop.
    let mut m = model();
    let (id, _, _) = sent(&update(&mut m, Message::Next));
    update(
        &mut m,
        Message::Net(NetEvent::SendFailed {
            id: Some(id),
            reason: "not connected to the daemon".into(),
        }),
    );
    assert!(m.pending.is_empty());
    assert!(
        m.notice
            .as_ref()
            .is_some_and(|n| n.text.starts_with("next: not sent"))
    );
}

#[test]
fn viewers_are_read_only() {
    let mut m = model();
    server(
        &mut m,
        ServerMsg::Hello {
            server_version: "x".into(),
            boot_id: "boot-1".into(),
            seq: 41,
            role: Role::Viewer,
        },
    );
    assert!(update(&mut m, Message::TakeNext).is_empty());
    assert!(
        m.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("read-only"))
    );
}

#[test]
fn ticks_expire_notices_and_report_overdue_acks() {
    let mut m = model();
    sent(&update(&mut m, Message::TakeNext));
    fixtures::advance(&mut m, Duration::from_secs(11));
    update(&mut m, Message::Tick);
    assert!(
        m.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("no answer from the daemon yet"))
    );
    fixtures::advance(&mut m, Duration::from_secs(11));
    update(&mut m, Message::Tick);
    assert!(m.notice.is_none());
}

#[test]
fn moves_page_and_jump_in_the_focused_pane() {
    let mut m = live_model(80, 24, 100);
    update(&mut m, Message::Move(Move::PageDown));
    assert_eq!(m.rundown.selected, 11);
    update(&mut m, Message::Move(Move::End));
    assert_eq!((m.rundown.selected, m.rundown.offset), (99, 90));
    update(&mut m, Message::FocusNext);
    assert_eq!(m.focus, Pane::Library);
    update(&mut m, Message::Move(Move::End));
    assert_eq!(m.library.cursor.selected, 5);
    update(&mut m, Message::FocusNext);
    for n in 0..20 {
        m.log(Level::Info, format!("line {n}"));
    }
    update(&mut m, Message::Move(Move::Up));
    assert_eq!(m.log.scroll, 1);
    update(&mut m, Message::Move(Move::End));
    assert_eq!(m.log.scroll, 0);
    update(&mut m, Message::FocusNext);
    assert_eq!(m.focus, Pane::Rundown);
}

#[test]
fn a_held_down_key_cannot_flood_the_daemon() {
    let mut m = model();
    let sent_now = (0..15)
        .filter(|_| !update(&mut m, Message::Next).is_empty())
        .count();
    assert_eq!(sent_now, crate::tui::model::MAX_COMMANDS_PER_SEC);
    assert!(
        m.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("commands in a second"))
    );
    fixtures::advance(&mut m, Duration::from_secs(1));
    assert_eq!(
        update(&mut m, Message::Next).len(),
        1,
        "a second later it goes through"
    );
}
