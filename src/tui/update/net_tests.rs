//! `update` applying the daemon's messages: events in `seq` order (duplicates ignored, a gap turned
//! into a resume request, one that does not fit into a snapshot request), snapshots and new boots,
//! progress going stale, and item and playout events editing the console's copy with a log that
//! names items, not ids, while the cursor and the window stay on their items.

use std::time::Duration;

use super::tests::{event, model, server};
use super::{Effect, update};
use crate::protocol::{Alarm, ClientMsg, EventKind, Item, Role, ServerMsg, Severity, Status};
use crate::tui::fixtures::{self, live_model};
use crate::tui::message::{Message, Move};
use crate::tui::model::{Level, Model, Telemetry};

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
