//! Tests of the messages: client frames decode (keeping the id of bad commands, refusing viewers
//! on the op's name), server messages round-trip, and the wire shapes are the documented ones.

use serde_json::{Value, json};

use super::args::{ItemAdd, OptionalItem};
use super::*;

fn take(id: &str) -> ClientMsg {
    ClientMsg::Command {
        id: id.into(),
        request: Request::Take(OptionalItem::default()),
    }
}

#[test]
fn client_messages_decode_and_keep_the_id_of_bad_commands() {
    let op = Role::Operator;
    assert_eq!(
        decode_client(r#"{"type":"command","id":"7","op":"playout.take"}"#, op).unwrap(),
        take("7")
    );
    assert_eq!(
        decode_client(
            r#"{"type":"command","id":"7","op":"playout.take","args":null}"#,
            op
        )
        .unwrap(),
        take("7")
    );
    assert_eq!(
        decode_client(r#"{"type":"resume","boot_id":"b","since":4}"#, op).unwrap(),
        ClientMsg::Resume {
            boot_id: "b".into(),
            since: 4
        }
    );
    assert_eq!(
        decode_client(r#"{"type":"ping"}"#, op).unwrap(),
        ClientMsg::Ping
    );
    let bad = decode_client("{nope", op).unwrap_err();
    assert_eq!((bad.id, bad.error.code()), (None, "bad_json"));
    let bad = decode_client(r#"{"type":"command","id":"9"}"#, op).unwrap_err();
    assert_eq!(
        (bad.id.as_deref(), bad.error.code()),
        (Some("9"), "bad_request")
    );
    let bad = decode_client(r#"{"type":"launch","id":"9"}"#, op).unwrap_err();
    assert_eq!((bad.id, bad.error.code()), (None, "bad_request"));
    let bad = decode_client("[]", op).unwrap_err();
    assert_eq!(bad.error.code(), "bad_request");
    let bad = decode_client(r#"{"type":"command","id":"3","op":"x.y"}"#, op).unwrap_err();
    assert_eq!(
        (bad.id.as_deref(), bad.error.code()),
        (Some("3"), "unknown_op")
    );
    let bad = decode_client(
        r#"{"type":"command","id":"4","op":"item.add","args":{"clip":7}}"#,
        op,
    )
    .unwrap_err();
    assert_eq!(bad.id.as_deref(), Some("4"));
    assert_eq!(
        bad.error.to_string(),
        "item.add: `clip`: invalid type: integer `7`, expected a string"
    );
    for msg in [
        ClientMsg::Ping,
        take("1"),
        ClientMsg::Command {
            id: "1".into(),
            request: Request::ItemAdd(ItemAdd {
                clip: "A".into(),
                ..ItemAdd::default()
            }),
        },
        ClientMsg::Resume {
            boot_id: "b".into(),
            since: 1,
        },
    ] {
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(decode_client(&text, op).unwrap(), msg);
        assert_eq!(serde_json::from_str::<ClientMsg>(&text).unwrap(), msg);
    }
}

/// A viewer is refused on the op's name alone: it learns nothing about arguments or which ops
/// exist.
#[test]
fn viewers_are_refused_before_the_arguments_are_read() {
    let viewer = Role::Viewer;
    for (text, op) in [
        (
            r#"{"type":"command","id":"1","op":"item.add","args":{"clip":7}}"#,
            "item.add",
        ),
        (r#"{"type":"command","id":"1","op":"no.such"}"#, "no.such"),
        (
            r#"{"type":"command","id":"1","op":"playout.take"}"#,
            "playout.take",
        ),
    ] {
        let bad = decode_client(text, viewer).unwrap_err();
        assert_eq!(bad.id.as_deref(), Some("1"));
        assert_eq!(bad.error.code(), "forbidden");
        assert_eq!(
            bad.error.to_string(),
            format!("{op:?} needs the operator role")
        );
    }
    assert_eq!(
        decode_client(r#"{"type":"command","id":"2","op":"stats"}"#, viewer).unwrap(),
        ClientMsg::Command {
            id: "2".into(),
            request: Request::Stats
        }
    );
}

/// The documented command frame, byte for byte, from a typed request.
#[test]
fn commands_encode_as_documented() {
    let add = ClientMsg::Command {
        id: "42".into(),
        request: Request::ItemAdd(ItemAdd {
            clip: "CLIP1".into(),
            title: Some("Opener".into()),
            ..ItemAdd::default()
        }),
    };
    assert_eq!(
        serde_json::to_string(&add).unwrap(),
        r#"{"type":"command","id":"42","op":"item.add","args":{"clip":"CLIP1","title":"Opener"}}"#
    );
    let rescan = ClientMsg::Command {
        id: "1".into(),
        request: Request::MediaRescan,
    };
    assert_eq!(
        serde_json::to_string(&rescan).unwrap(),
        r#"{"type":"command","id":"1","op":"media.rescan"}"#
    );
    assert_eq!(
        serde_json::to_string(&ClientMsg::Ping).unwrap(),
        r#"{"type":"ping"}"#
    );
}

fn sample_view() -> PlaylistView {
    let mut playlist = Playlist::new("main", "Main", "1-10".parse().unwrap());
    let mut item = Item::new("i1".into(), "CLIP1");
    item.fps = Some((25, 1));
    item.frames = Some(250);
    playlist.items.push_back(item.into());
    PlaylistView {
        playlist,
        playout: Playout {
            on_air: Some("i1".into()),
            ..Playout::default()
        },
        missing: vec!["i1".into()].into(),
    }
}

fn round_trip(msg: &ServerMsg) -> ServerMsg {
    let text = encode(msg).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn server_messages_round_trip() {
    let mut progress = ProgressMap::new();
    progress.insert(
        "main".into(),
        Progress {
            elapsed: 1.5,
            remaining: 8.5,
            duration: 10.0,
            rundown_remaining: 8.5,
            fresh: true,
        },
    );
    let snapshot = Snapshot {
        seq: 9,
        selected: Some("main".into()),
        playlists: vec![sample_view()],
        link: LinkView::default(),
        progress: progress.clone(),
        ..Snapshot::default()
    };
    let msgs = [
        ServerMsg::Hello {
            server_version: "0.1.0".into(),
            boot_id: "abc".into(),
            seq: 9,
            role: Role::Viewer,
        },
        ServerMsg::Snapshot {
            seq: 9,
            state: Box::new(snapshot.clone()),
        },
        ServerMsg::Event(Box::new(Event {
            seq: 10,
            kind: EventKind::Playlist {
                playlist: Box::new(sample_view()),
            },
        })),
        ServerMsg::Event(Box::new(Event {
            seq: 11,
            kind: EventKind::AlarmCleared { id: 3 },
        })),
        ServerMsg::Progress { progress },
        ServerMsg::Ack(Ack::ok(
            "1",
            AckResult {
                item: Some("i1".into()),
                seq: Some(10),
                ..AckResult::default()
            },
        )),
        ServerMsg::Ack(Ack::ok(
            "2",
            AckResult {
                health: Some(json!({"status": "ok"})),
                ..AckResult::default()
            },
        )),
        ServerMsg::Ack(Ack::err(
            "3",
            ErrorBody::new("forbidden", "viewers may not"),
        )),
        ServerMsg::Pong,
        ServerMsg::Shutdown,
        ServerMsg::Error(ErrorBody::new("bad_json", "x")),
    ];
    for msg in &msgs {
        assert_eq!(&round_trip(msg), msg);
    }
    // The borrowed encoders write exactly what ServerMsg decodes.
    let text = encode_progress(&snapshot.progress).unwrap();
    assert_eq!(
        serde_json::from_str::<ServerMsg>(&text).unwrap(),
        msgs[4].clone()
    );
    let text = encode_snapshot(&snapshot).unwrap();
    assert_eq!(
        serde_json::from_str::<ServerMsg>(&text).unwrap(),
        msgs[1].clone()
    );
    let ServerMsg::Event(event) = &msgs[2] else {
        unreachable!()
    };
    let text = encode_event(event).unwrap();
    assert_eq!(serde_json::from_str::<ServerMsg>(&text).unwrap(), msgs[2]);
}

#[test]
fn wire_shapes_are_flat_and_tagged() {
    let v: Value = serde_json::from_str(
        &encode_event(&Event {
            seq: 4,
            kind: EventKind::Selected {
                playlist: "main".into(),
            },
        })
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        v,
        json!({"type": "event", "seq": 4, "kind": "selected", "playlist": "main"})
    );
    let v =
        serde_json::to_value(ServerMsg::Ack(Ack::err("x", ErrorBody::new("busy", "m")))).unwrap();
    assert_eq!(
        v,
        json!({"type": "ack", "id": "x", "ok": false, "error": {"code": "busy", "message": "m"}})
    );
    let v = serde_json::to_value(ServerMsg::Ack(Ack::ok(
        "y",
        AckResult {
            clips: Some(20),
            ..AckResult::default()
        },
    )))
    .unwrap();
    assert_eq!(
        v,
        json!({"type": "ack", "id": "y", "ok": true, "clips": 20})
    );
    assert_eq!(
        serde_json::to_value(ServerMsg::Shutdown).unwrap(),
        json!({"type": "shutdown"})
    );
}
