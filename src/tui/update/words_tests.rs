//! What the log pane says: "connecting to <url>" with a hint before the first connection,
//! "reconnecting" only after one, names instead of item ids, and each error said once.

use std::time::Duration;

use super::update;
use crate::playout::engine::state::{Event, EventKind};
use crate::playout::model::Item;
use crate::protocol::{Ack, ErrorBody, ServerMsg};
use crate::tui::client::NetEvent;
use crate::tui::fixtures::{self, live_model};
use crate::tui::message::Message;
use crate::tui::model::{LogLine, Mode, Model};

const URL: &str = "ws://127.0.0.1:8250/ws";
const REFUSED: &str = "cannot reach the daemon: Connection refused (os error 111)";

fn net(m: &mut Model, event: NetEvent) {
    update(m, Message::Net(event));
}

fn refused() -> NetEvent {
    NetEvent::Disconnected {
        reason: REFUSED.into(),
        retry_in: Duration::from_millis(500),
    }
}

fn log_text(m: &Model) -> Vec<&str> {
    m.log.lines.iter().map(|l| l.text.as_str()).collect()
}

#[test]
fn before_the_first_connection_the_log_names_the_url_and_hints_at_a_daemon() {
    let mut m = Model::new(URL, std::time::Instant::now(), fixtures::WALL_MS);
    net(&mut m, NetEvent::Connecting { attempt: 1 });
    net(&mut m, refused());
    net(&mut m, NetEvent::Connecting { attempt: 2 });
    net(&mut m, refused());
    let lines = log_text(&m);
    assert_eq!(
        lines.len(),
        1,
        "a repeated failure is not logged again: {lines:?}"
    );
    let line = lines[0];
    assert!(
        line.starts_with(&format!("cannot connect to {URL}: {REFUSED}")),
        "{line}"
    );
    assert!(
        line.contains("`onair serve`") && line.contains("`onair demo`"),
        "{line}"
    );
    assert!(!line.contains("reconnect"), "never connected yet: {line}");

    // Once it was up, losing it is a reconnect, and the hint is no longer needed.
    net(&mut m, NetEvent::Connected);
    net(&mut m, refused());
    net(&mut m, NetEvent::Connecting { attempt: 1 });
    net(&mut m, refused());
    let last = log_text(&m).last().copied().unwrap_or_default().to_owned();
    assert!(
        last.starts_with(&format!("cannot reconnect to {URL}")),
        "{last}"
    );
    assert!(!last.contains("onair serve"), "{last}");
}

#[test]
fn the_demo_does_not_tell_its_operator_to_start_a_daemon() {
    let mut m = Model::new(URL, std::time::Instant::now(), fixtures::WALL_MS);
    m.mode = Mode::Demo;
    net(&mut m, NetEvent::Connecting { attempt: 1 });
    net(&mut m, refused());
    let lines = log_text(&m);
    assert!(lines[0].starts_with("cannot connect to"), "{lines:?}");
    assert!(!lines[0].contains("onair serve"), "{lines:?}");
}

#[test]
fn the_log_shows_item_and_playlist_names_never_generated_ids() {
    let mut m = live_model(80, 24, 6);
    let id = "i6c4d17281909b2dc";
    m.state.playlists[0]
        .playlist
        .items
        .push_back(Item::new(id.to_owned(), "WEATHER_01").into());
    // The daemon's own log record, as the demo's log pane receives it.
    update(
        &mut m,
        Message::Logs(vec![LogLine {
            wall_ms: fixtures::WALL_MS,
            level: crate::tui::model::Level::Info,
            text: format!("on air playlist=main item={id} how=take"),
        }]),
    );
    // An ack whose error message names the item.
    let effects = update(&mut m, Message::TakeNext);
    let Some(super::Effect::Send(crate::protocol::ClientMsg::Command { id: cmd, .. })) =
        effects.first()
    else {
        panic!("take was not sent: {effects:?}");
    };
    let error = ErrorBody::new(
        "item_not_found",
        format!("no item \"{id}\" in this playlist"),
    );
    update(
        &mut m,
        Message::Net(NetEvent::Server(Box::new(ServerMsg::Ack(Ack::err(
            cmd.clone(),
            error,
        ))))),
    );
    let selected = ServerMsg::Event(Box::new(Event {
        seq: 42,
        kind: EventKind::Selected {
            playlist: "main".into(),
        },
    }));
    update(&mut m, Message::Net(NetEvent::Server(Box::new(selected))));
    let text = log_text(&m).join("\n");
    assert!(!text.contains(id), "a raw id in the log:\n{text}");
    assert!(text.contains("item=WEATHER_01"), "{text}");
    assert!(text.contains("no item \"WEATHER_01\""), "{text}");
    assert!(text.contains("playlist Main selected"), "{text}");
}

#[test]
fn a_failed_rescan_says_media_rescan_failed_once() {
    let mut m = live_model(80, 24, 6);
    let effects = update(&mut m, Message::Rescan);
    let Some(super::Effect::Send(crate::protocol::ClientMsg::Command { id, .. })) = effects.first()
    else {
        panic!("rescan was not sent: {effects:?}");
    };
    // The engine's error text is the cause only (see `media_failed` in the engine).
    let error = ErrorBody::new(
        "playout_error",
        "the media scanner is unavailable (CasparCG answered 501 CLS FAILED)",
    );
    update(
        &mut m,
        Message::Net(NetEvent::Server(Box::new(ServerMsg::Ack(Ack::err(
            id.clone(),
            error,
        ))))),
    );
    let last = log_text(&m).last().copied().unwrap_or_default().to_owned();
    assert!(
        last.starts_with("media rescan failed: the media scanner"),
        "{last}"
    );
    assert_eq!(last.matches("rescan failed").count(), 1, "{last}");
}

#[test]
fn the_log_says_who_took_the_layer_over_and_what_a_role_change_is() {
    let mut m = live_model(80, 24, 6);
    let mut seq = 41;
    let mut event = |m: &mut Model, kind: EventKind| {
        seq += 1;
        let msg = ServerMsg::Event(Box::new(Event { seq, kind }));
        update(m, Message::Net(NetEvent::Server(Box::new(msg))));
    };
    // The filler goes on air in the gap, and the rundown steps aside after CLIP2.
    event(
        &mut m,
        EventKind::Playlist {
            playlist: Box::new(fixtures::filler()),
        },
    );
    let main = fixtures::taken_over_snapshot(6).playlists[0].clone();
    event(
        &mut m,
        EventKind::Playout {
            playlist: "main".into(),
            playout: main.playout,
        },
    );
    let revision = m.state.playlists[0].playlist.revision + 1;
    event(
        &mut m,
        EventKind::PlaylistSettings {
            playlist: "main".into(),
            revision,
            name: "Main".into(),
            looping: false,
            autoplay: true,
            air_date: None,
            filler: None,
            end_action: crate::protocol::EndAction::Hold,
            logo: None,
        },
    );
    event(
        &mut m,
        EventKind::PlaylistSettings {
            playlist: "night".into(),
            revision: 1,
            name: "Night filler".into(),
            looping: false,
            autoplay: true,
            air_date: None,
            filler: None,
            end_action: Default::default(),
            logo: None,
        },
    );
    event(
        &mut m,
        EventKind::PlaylistSettings {
            playlist: "night".into(),
            revision: 2,
            name: "Night filler".into(),
            looping: false,
            autoplay: true,
            air_date: None,
            filler: Some(crate::protocol::FillerMode::InOrder),
            end_action: Default::default(),
            logo: None,
        },
    );
    let text = log_text(&m).join("\n");
    for want in [
        "Night filler: on air AMB",
        "Main: off air, layer taken over by Night filler after «CLIP2»",
        "Main: end: hold",
        "Night filler: no longer the filler",
        "Night filler: now the filler (in order)",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
}
