//! Tests of the wire format: every op parses, bad inputs give the right codes, messages round-trip.

use serde_json::json;

use super::*;
use crate::playout::engine::state::LinkView;
use crate::playout::engine::{EventKind, NewItem, Op, PlaylistView, Playout, Progress};
use crate::playout::model::{Item, ItemFields, Playlist, Transition};

fn op(name: &str, args: Value) -> Op {
    parse_op(name, args).unwrap_or_else(|e| panic!("{name} should parse: {e}"))
}

fn code(name: &str, args: Value) -> &'static str {
    match parse_command(name, args) {
        Ok(c) => panic!("{name} should fail, got {c:?}"),
        Err(e) => e.code(),
    }
}

#[test]
fn every_listed_op_parses_with_its_minimal_args() {
    for name in OPS {
        let args = match *name {
            "playlist.create" | "playlist.rename" => json!({"name": "News"}),
            "playlist.delete" | "playlist.select" => json!({"playlist": "main"}),
            "playlist.loop" | "playout.autoplay" => json!({"enabled": true}),
            "item.add" => json!({"clip": "CLIP1"}),
            "item.insert" => json!({"clip": "CLIP1", "index": 0}),
            "item.move" => json!({"item": "a", "index": 1}),
            "item.remove" => json!({"item": "a"}),
            "item.update" => json!({"item": "a", "loop": true}),
            _ => Value::Null,
        };
        parse_command(name, args).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn playlist_ops() {
    assert_eq!(
        op(
            "playlist.create",
            json!({"name": "News", "channel_layer": "2-20"})
        ),
        Op::PlaylistCreate {
            name: "News".into(),
            channel_layer: Some("2-20".parse().unwrap()),
        }
    );
    assert_eq!(
        op("playlist.select", json!({"playlist": "news"})),
        Op::PlaylistSelect {
            playlist: "news".into()
        }
    );
    assert_eq!(
        op("playlist.delete", json!({"playlist": "news"})),
        Op::PlaylistDelete {
            playlist: "news".into()
        }
    );
    assert_eq!(
        op(
            "playlist.rename",
            json!({"playlist": "news", "name": "Late"})
        ),
        Op::PlaylistRename {
            playlist: Some("news".into()),
            name: "Late".into()
        }
    );
    assert_eq!(
        op("playlist.loop", json!({"enabled": false})),
        Op::PlaylistLoop {
            playlist: None,
            enabled: false
        }
    );
}

#[test]
fn item_ops() {
    let add = op(
        "item.add",
        json!({"clip": "AMB", "title": "Opener", "transition": "mix 25 LINEAR", "loop": true,
               "in": 10, "out": 200, "playlist": "main"}),
    );
    assert_eq!(
        add,
        Op::ItemAdd {
            playlist: Some("main".into()),
            index: None,
            item: NewItem {
                clip: "AMB".into(),
                title: Some("Opener".into()),
                transition: Some(Transition {
                    kind: crate::amcp::TransitionKind::Mix,
                    frames: 25,
                    tween: Some("LINEAR".into()),
                }),
                looping: true,
                in_point: Some(10),
                out_point: Some(200),
                scheduled: None,
            },
        }
    );
    let Op::ItemAdd { index, item, .. } = op(
        "item.insert",
        json!({"clip": "A", "index": 3, "transition": {"kind": "WIPE", "frames": 5}}),
    ) else {
        panic!("item.insert is an ItemAdd");
    };
    assert_eq!(index, Some(3));
    assert_eq!(item.transition.map(|t| t.frames), Some(5));
    assert_eq!(
        op("item.move", json!({"item": "a", "index": 0})),
        Op::ItemMove {
            playlist: None,
            item: "a".into(),
            index: 0
        }
    );
    assert_eq!(
        op("item.remove", json!({"item": "a"})),
        Op::ItemRemove {
            playlist: None,
            item: "a".into()
        }
    );
}

#[test]
fn item_update_distinguishes_null_from_absent() {
    let Op::ItemUpdate { fields, item, .. } = op(
        "item.update",
        json!({"item": "a", "title": null, "out": 50, "clip": "B"}),
    ) else {
        panic!("ItemUpdate expected");
    };
    assert_eq!(item, "a");
    assert_eq!(
        fields,
        ItemFields {
            clip: Some("B".into()),
            title: Some(None),
            out_point: Some(Some(50)),
            ..ItemFields::default()
        }
    );
    assert_eq!(code("item.update", json!({"item": "a"})), "bad_request");
}

#[test]
fn playout_ops() {
    assert_eq!(
        op("playout.take", json!({"item": "b"})),
        Op::Take {
            playlist: None,
            item: Some("b".into())
        }
    );
    assert_eq!(
        op("playout.cue", Value::Null),
        Op::Cue {
            playlist: None,
            item: None
        }
    );
    assert_eq!(op("playout.stop", json!({})), Op::Stop { playlist: None });
    assert_eq!(
        op("playout.clear", json!({"playlist": "x"})),
        Op::Clear {
            playlist: Some("x".into())
        }
    );
    assert_eq!(
        op("playout.previous", Value::Null),
        Op::Previous { playlist: None }
    );
    assert_eq!(
        op("playout.autoplay", json!({"enabled": true})),
        Op::Autoplay {
            playlist: None,
            enabled: true
        }
    );
    assert_eq!(op("media.rescan", Value::Null), Op::MediaRescan);
    assert_eq!(
        parse_command("health", Value::Null).unwrap(),
        Command::Health
    );
    assert_eq!(parse_command("stats", json!({})).unwrap(), Command::Stats);
}

#[test]
fn bad_inputs_have_typed_errors() {
    assert_eq!(code("playout.explode", Value::Null), "unknown_op");
    assert_eq!(code("", Value::Null), "unknown_op");
    // Engine-only parsing does not know the session's ops.
    assert_eq!(
        parse_op("health", Value::Null).unwrap_err().code(),
        "unknown_op"
    );
    for (name, args) in [
        ("item.add", json!({})),
        ("item.add", json!({"clip": 5})),
        ("item.add", json!({"clip": "A", "titel": "typo"})),
        ("item.add", json!({"clip": "A", "transition": "FADE 3"})),
        ("item.add", json!({"clip": "A", "in": -1})),
        ("item.insert", json!({"clip": "A"})),
        ("item.move", json!({"item": "a", "index": "1"})),
        ("item.move", json!({"item": "a", "index": -1})),
        (
            "playlist.create",
            json!({"name": "x", "channel_layer": "0-1"}),
        ),
        ("playlist.select", json!({})),
        ("playout.autoplay", json!({"enabled": "yes"})),
        ("playout.stop", json!({"force": true})),
        ("playout.stop", json!([1, 2])),
        ("media.rescan", json!("now")),
        ("health", json!({"verbose": true})),
    ] {
        assert_eq!(code(name, args.clone()), "bad_request", "{name} {args}");
    }
    // Messages name the op and the argument.
    for (args, field) in [
        (json!({}), "`clip`"),
        (json!({"clip": 5}), "`clip`"),
        (json!({"clip": "A", "titel": "x"}), "`titel`"),
        (json!({"clip": "A", "in": -1}), "`in`"),
        (json!({"loop": "yes", "clip": "A"}), "`loop`"),
        (
            json!({"clip": "A", "transition": {"kind": "FADE"}}),
            "`transition`",
        ),
    ] {
        let msg = parse_op("item.add", args).unwrap_err().to_string();
        assert!(
            msg.starts_with("item.add: ") && msg.contains(field),
            "{msg}"
        );
        assert!(!msg.contains("line 1"), "{msg}");
    }
}

#[test]
fn roles() {
    assert!(Role::Operator.may_run("media.rescan"));
    assert!(Role::Operator.may_run("no.such.op"));
    assert!(!Role::Viewer.may_run("media.rescan"));
    assert!(!Role::Viewer.may_run("item.add"));
    assert!(Role::Viewer.may_run("health"));
    assert!(Role::Viewer.may_run("stats"));
}

#[test]
fn client_messages_decode_and_keep_the_id_of_bad_commands() {
    assert_eq!(
        decode_client(r#"{"type":"command","id":"7","op":"playout.take"}"#).unwrap(),
        ClientMsg::Command {
            id: "7".into(),
            op: "playout.take".into(),
            args: Value::Null
        }
    );
    assert_eq!(
        decode_client(r#"{"type":"resume","boot_id":"b","since":4}"#).unwrap(),
        ClientMsg::Resume {
            boot_id: "b".into(),
            since: 4
        }
    );
    assert_eq!(
        decode_client(r#"{"type":"ping"}"#).unwrap(),
        ClientMsg::Ping
    );
    let bad = decode_client("{nope").unwrap_err();
    assert_eq!((bad.id, bad.error.code()), (None, "bad_json"));
    let bad = decode_client(r#"{"type":"command","id":"9"}"#).unwrap_err();
    assert_eq!(
        (bad.id.as_deref(), bad.error.code()),
        (Some("9"), "bad_request")
    );
    let bad = decode_client(r#"{"type":"launch","id":"9"}"#).unwrap_err();
    assert_eq!((bad.id, bad.error.code()), (None, "bad_request"));
    let bad = decode_client("[]").unwrap_err();
    assert_eq!(bad.error.code(), "bad_request");
    for msg in [
        ClientMsg::Ping,
        ClientMsg::Command {
            id: "1".into(),
            op: "item.add".into(),
            args: json!({"clip": "A"}),
        },
    ] {
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(decode_client(&text).unwrap(), msg);
    }
}

fn sample_view() -> PlaylistView {
    let mut playlist = Playlist::new("main", "Main", "1-10".parse().unwrap());
    let mut item = Item::new("i1".into(), "CLIP1");
    item.fps = Some((25, 1));
    item.frames = Some(250);
    playlist.items.push(item);
    PlaylistView {
        playlist,
        playout: Playout {
            on_air: Some("i1".into()),
            ..Playout::default()
        },
        missing: vec!["i1".into()],
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
