//! `update` on a plain model: keys produce the right commands (or dialogs, or local refusals), acks
//! and failures reach the status line and the log, and the daemon's messages are applied in `seq`
//! order with gaps turned into a resume request.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Effect, update};
use crate::protocol::{
    Ack, AckResult, Alarm, ClientMsg, ErrorBody, Event, EventKind, Item, Role, ServerMsg, Severity,
    Status,
};
use crate::tui::client::NetEvent;
use crate::tui::fixtures::{self, live_model};
use crate::tui::message::{Message, Move};
use crate::tui::model::{Dialog, Level, Link, Model, Pane, Telemetry};

fn model() -> Model {
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

fn server(m: &mut Model, msg: ServerMsg) -> Vec<Effect> {
    update(m, Message::Net(NetEvent::Server(Box::new(msg))))
}

fn event(seq: u64, kind: EventKind) -> ServerMsg {
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
fn events_apply_in_order_duplicates_are_ignored_and_a_gap_asks_to_resume() {
    let mut m = model();
    assert_eq!(m.seq, 41);
    let alarm = Alarm {
        id: 7,
        severity: Severity::Critical,
        kind: "store".into(),
        message: "main.json was corrupt; restored the backup".into(),
        raised_ms: fixtures::WALL_MS,
    };
    server(&mut m, event(42, EventKind::AlarmRaised { alarm }));
    assert_eq!((m.seq, m.state.alarms.len()), (42, 1));
    assert!(
        m.log
            .lines
            .back()
            .is_some_and(|l| l.level == Level::Error && l.text.contains("ALARM store"))
    );
    server(&mut m, event(42, EventKind::AlarmCleared { id: 7 }));
    assert_eq!(
        m.state.alarms.len(),
        1,
        "a duplicate seq is not applied twice"
    );
    // 43 is missing: 44 is dropped and a resume from 42 requested, once.
    let effects = server(&mut m, event(44, EventKind::AlarmCleared { id: 7 }));
    assert_eq!(
        effects,
        vec![Effect::Send(ClientMsg::Resume {
            boot_id: "boot-1".into(),
            since: 42
        })]
    );
    assert!(m.resync_pending && !m.is_live());
    assert_eq!(m.state.alarms.len(), 1);
    assert!(server(&mut m, event(45, EventKind::AlarmCleared { id: 7 })).is_empty());
    // The replay fills the gap.
    server(
        &mut m,
        event(
            43,
            EventKind::Selected {
                playlist: "main".into(),
            },
        ),
    );
    server(&mut m, event(44, EventKind::AlarmCleared { id: 7 }));
    assert_eq!(m.seq, 44);
    assert!(m.state.alarms.is_empty() && m.is_live());
}

#[test]
fn snapshots_replace_the_state_and_a_new_boot_waits_for_one() {
    let mut m = model();
    server(
        &mut m,
        ServerMsg::Hello {
            server_version: "x".into(),
            boot_id: "boot-2".into(),
            seq: 3,
            role: Role::Operator,
        },
    );
    assert!(
        !m.have_state && !m.is_live(),
        "the old boot's state cannot be resumed"
    );
    assert!(server(&mut m, event(4, EventKind::AlarmCleared { id: 1 })).is_empty());
    let mut snap = fixtures::snapshot(3);
    snap.seq = 3;
    server(
        &mut m,
        ServerMsg::Snapshot {
            seq: 3,
            state: Box::new(snap),
        },
    );
    assert!(m.is_live());
    assert_eq!((m.seq, m.items().len()), (3, 3));
    assert_eq!(m.position(), Some(("boot-2".into(), 3)));
}

#[test]
fn progress_updates_times_and_goes_stale_without_updates() {
    let mut m = model();
    let Telemetry::Live(p) = m.telemetry() else {
        panic!("live after the snapshot")
    };
    assert_eq!(p.elapsed, 3.2);
    let mut progress = m.state.progress.clone();
    if let Some(p) = progress.get_mut("main") {
        p.elapsed = 4.0;
        p.remaining = 11.0;
    }
    fixtures::advance(&mut m, Duration::from_secs(1));
    server(
        &mut m,
        ServerMsg::Progress {
            progress: progress.clone(),
        },
    );
    assert!(matches!(m.telemetry(), Telemetry::Live(p) if p.elapsed == 4.0));
    fixtures::advance(&mut m, Duration::from_secs(3));
    assert!(matches!(m.telemetry(), Telemetry::Stale(r) if r.contains("no telemetry for 3 s")));
    if let Some(p) = progress.get_mut("main") {
        p.fresh = false;
    }
    server(&mut m, ServerMsg::Progress { progress });
    assert!(matches!(m.telemetry(), Telemetry::Stale(r) if r.contains("from CasparCG")));
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

/// An item as the daemon makes them: a generated id, which must never reach the log.
fn new_item(id: &str, clip: &str, title: Option<&str>) -> std::sync::Arc<Item> {
    let mut item = Item::new(id.to_owned(), clip);
    item.title = title.map(str::to_owned);
    item.into()
}

fn ids(m: &Model) -> Vec<String> {
    m.items().iter().map(|i| i.id.clone()).collect()
}

fn last_log(m: &Model) -> &str {
    m.log.lines.back().map_or("", |l| l.text.as_str())
}

#[test]
fn item_events_edit_the_copy_and_the_log_names_items_not_ids() {
    let mut m = model();
    let id = "i6c4d17281909b2dc";
    let added = EventKind::ItemAdded {
        playlist: "main".into(),
        revision: 2,
        index: 1,
        item: new_item(id, "AMB", Some("Headlines")),
        missing: true,
    };
    assert!(server(&mut m, event(42, added)).is_empty());
    assert_eq!(ids(&m)[..3], ["i0", id, "i1"]);
    assert_eq!(last_log(&m), "Main: added Headlines at 2");
    assert!(m.derived.missing.contains(id), "the MISSING flag shows");
    assert_eq!(
        m.state.playlists[0].missing.iter().collect::<Vec<_>>(),
        ["i4", id],
        "sorted by id"
    );
    let updated = EventKind::ItemUpdated {
        playlist: "main".into(),
        revision: 3,
        index: 1,
        item: new_item(id, "AMB", None),
        missing: false,
    };
    server(&mut m, event(43, updated));
    assert_eq!(last_log(&m), "Main: Headlines is now AMB");
    assert!(!m.derived.missing.contains(id));
    let moved = EventKind::ItemMoved {
        playlist: "main".into(),
        revision: 4,
        item: id.into(),
        from: 1,
        index: 6,
    };
    server(&mut m, event(44, moved));
    assert_eq!(ids(&m).last().map(String::as_str), Some(id));
    assert_eq!(last_log(&m), "Main: moved AMB to 7");
    let removed = EventKind::ItemRemoved {
        playlist: "main".into(),
        revision: 5,
        item: id.into(),
        index: 6,
    };
    server(&mut m, event(45, removed));
    assert_eq!(ids(&m), ["i0", "i1", "i2", "i3", "i4", "i5"]);
    assert_eq!(last_log(&m), "Main: removed AMB");
    let settings = EventKind::PlaylistSettings {
        playlist: "main".into(),
        revision: 6,
        name: "News".into(),
        looping: true,
        autoplay: true,
        air_date: None,
        filler: None,
        end_action: Default::default(),
        logo: None,
    };
    server(&mut m, event(46, settings));
    assert_eq!(last_log(&m), "News: renamed from Main, loop on");
    let missing = EventKind::Missing {
        playlist: "main".into(),
        missing: vec!["i0".into(), "i4".into()].into(),
    };
    server(&mut m, event(47, missing));
    assert!(m.derived.missing.contains("i0"));
    let pl = &m.state.playlists[0].playlist;
    assert_eq!((pl.revision, pl.looping, m.seq), (6, true, 47));
    assert!(m.is_live());
    for line in &m.log.lines {
        assert!(
            !line.text.contains(id) && !line.text.contains("(removed item)"),
            "{}",
            line.text
        );
    }
}

#[test]
fn playout_events_log_what_goes_on_air() {
    let mut m = model();
    let mut playout = m.state.playlists[0].playout.clone();
    playout.on_air = Some("i0".into());
    let on_air = |seq, playout| {
        event(
            seq,
            EventKind::Playout {
                playlist: "main".into(),
                playout,
            },
        )
    };
    server(&mut m, on_air(42, playout.clone()));
    assert_eq!(last_log(&m), "Main: on air CLIP1");
    assert_eq!(m.derived.on_air, Some(0));
    let lines = m.log.lines.len();
    playout.cued = None;
    server(&mut m, on_air(43, playout.clone()));
    assert_eq!(m.log.lines.len(), lines, "nothing new on air: no line");
    playout.status = Status::Stopped;
    server(&mut m, on_air(44, playout));
    assert_eq!(last_log(&m), "Main: stopped");
    assert_eq!(m.state.playlists[0].playout.cued, None);
}

#[test]
fn an_event_that_does_not_fit_asks_for_a_snapshot_not_a_replay() {
    let mut m = model();
    let gone = EventKind::ItemRemoved {
        playlist: "main".into(),
        revision: 2,
        item: "nope".into(),
        index: 0,
    };
    let before = m.state.playlists.clone();
    let effects = server(&mut m, event(42, gone));
    // A resume from 41 would replay the same event: only a snapshot can repair the copy.
    assert_eq!(
        effects,
        vec![Effect::Send(ClientMsg::Resume {
            boot_id: "boot-1".into(),
            since: crate::protocol::SNAPSHOT_SINCE,
        })]
    );
    assert_eq!(
        (m.seq, &m.state.playlists),
        (41, &before),
        "nothing applied"
    );
    assert!(!m.is_live());
    assert!(last_log(&m).contains("reloading the full state"));
    // Later events are gaps now: dropped without a second request.
    let next = event(43, EventKind::AlarmCleared { id: 1 });
    assert!(server(&mut m, next).is_empty());
    let unknown = EventKind::Playout {
        playlist: "elsewhere".into(),
        playout: Default::default(),
    };
    let mut fresh = fixtures::snapshot(6);
    fresh.seq = 43;
    server(
        &mut m,
        ServerMsg::Snapshot {
            seq: 43,
            state: Box::new(fresh),
        },
    );
    assert!(m.is_live());
    assert_eq!(
        server(&mut m, event(44, unknown)).len(),
        1,
        "no such playlist"
    );
}

#[test]
fn the_cursor_and_the_window_stay_on_their_items_when_rows_come_and_go_above() {
    let mut m = live_model(80, 24, 100);
    for _ in 0..4 {
        update(&mut m, Message::Move(Move::PageDown));
    }
    let (selected, offset) = (m.rundown.selected, m.rundown.offset);
    assert!(offset > 10, "scrolled: {offset}");
    let on_cursor = m.selected_id.clone();
    let mut seq = 41;
    let mut send = |m: &mut Model, kind| {
        seq += 1;
        assert!(server(m, event(seq, kind)).is_empty());
    };
    let edit = |revision| ("main".to_owned(), revision);
    let (playlist, revision) = edit(2);
    send(
        &mut m,
        EventKind::ItemAdded {
            playlist,
            revision,
            index: 0,
            item: new_item("i00000000000000aa", "AMB", None),
            missing: false,
        },
    );
    assert_eq!(m.selected_id, on_cursor);
    assert_eq!(
        (m.rundown.selected, m.rundown.offset),
        (selected + 1, offset + 1)
    );
    let (playlist, revision) = edit(3);
    send(
        &mut m,
        EventKind::ItemMoved {
            playlist,
            revision,
            item: "i00000000000000aa".into(),
            from: 0,
            index: 99,
        },
    );
    assert_eq!((m.rundown.selected, m.rundown.offset), (selected, offset));
    let (playlist, revision) = edit(4);
    send(
        &mut m,
        EventKind::ItemRemoved {
            playlist,
            revision,
            item: "i3".into(),
            index: 3,
        },
    );
    assert_eq!(m.selected_id, on_cursor);
    assert_eq!(
        (m.rundown.selected, m.rundown.offset),
        (selected - 1, offset - 1)
    );
    // Below the cursor nothing moves.
    let (playlist, revision) = edit(5);
    send(
        &mut m,
        EventKind::ItemRemoved {
            playlist,
            revision,
            item: "i90".into(),
            index: 89,
        },
    );
    assert_eq!(
        (m.rundown.selected, m.rundown.offset),
        (selected - 1, offset - 1)
    );
    // The item under the cursor goes: the cursor stays on its row, now the next item.
    let gone = on_cursor.clone().expect("a selected item");
    let (playlist, revision) = edit(6);
    let index = m.rundown.selected;
    send(
        &mut m,
        EventKind::ItemRemoved {
            playlist,
            revision,
            item: gone.clone(),
            index,
        },
    );
    assert_eq!(m.rundown.selected, selected - 1);
    assert_ne!(m.selected_id, Some(gone));
    assert_eq!(
        m.selected_id.as_deref(),
        m.items().get(selected - 1).map(|i| i.id.as_str())
    );
}
