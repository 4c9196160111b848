//! Tests of typed requests: every op parses, bad inputs give the right codes and messages that name
//! the op and the argument, requests encode to what they parse from, names and roles come from the
//! one list.

use serde_json::{Value, json};

use super::args::{ItemAdd, ItemUpdate, OptionalItem, Target};
use super::*;

fn parse(name: &str, args: Value) -> Request {
    Request::parse(name, args).unwrap_or_else(|e| panic!("{name} should parse: {e}"))
}

fn code(name: &str, args: Value) -> &'static str {
    match Request::parse(name, args) {
        Ok(r) => panic!("{name} should fail, got {r:?}"),
        Err(e) => e.code(),
    }
}

/// Arguments each op needs at least (`null` where it needs none).
fn minimal_args(name: &str) -> Value {
    match name {
        "playlist.create" | "playlist.rename" | "playlist.update" => json!({"name": "News"}),
        "playlist.delete" | "playlist.select" => json!({"playlist": "main"}),
        "playlist.loop" | "playout.autoplay" | "graphics.logo" => json!({"enabled": true}),
        "graphics.fire" => json!({"item": "a", "event": "lt"}),
        "graphics.update" => json!({"layer": 20, "data": {"name": "Ada"}}),
        "graphics.clear" => json!({"layer": 20}),
        "graphics.invoke" => json!({"layer": 20, "method": "next_headline"}),
        "item.add" => json!({"clip": "CLIP1"}),
        "item.insert" => json!({"clip": "CLIP1", "index": 0}),
        "item.move" => json!({"item": "a", "index": 1}),
        "item.remove" => json!({"item": "a"}),
        "item.update" => json!({"item": "a", "loop": true}),
        _ => Value::Null,
    }
}

#[test]
fn every_listed_op_parses_with_its_minimal_args_and_keeps_its_name() {
    for name in Request::NAMES {
        let request = parse(name, minimal_args(name));
        assert_eq!(request.name(), *name);
    }
    let mut names = Request::NAMES.to_vec();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Request::NAMES.len(), "names are unique");
}

/// A typed request encodes to the `op`/`args` it parses from, so the console's commands are what
/// a hand-written client would send, and decode back to the same request.
#[test]
fn requests_encode_as_they_parse() {
    for name in Request::NAMES {
        let args = minimal_args(name);
        let request = parse(name, args.clone());
        let wire = serde_json::to_value(&request).unwrap();
        assert_eq!(wire["op"], *name);
        // Ops without arguments leave `args` out; those whose arguments are all optional write `{}`.
        match (&args, wire.get("args")) {
            (Value::Null, None) => {}
            (Value::Null, Some(empty)) => assert_eq!(empty, &json!({}), "{name}"),
            (args, got) => assert_eq!(got, Some(args), "{name}"),
        }
        assert_eq!(serde_json::from_value::<Request>(wire).unwrap(), request);
    }
    // Defaults are left out; set fields are written with their wire names.
    let add = Request::ItemAdd(ItemAdd {
        clip: "A".into(),
        looping: true,
        in_point: Some(5),
        transition: Some(Transition {
            kind: TransitionKind::Mix,
            frames: 10,
            tween: None,
        }),
        ..ItemAdd::default()
    });
    assert_eq!(
        serde_json::to_value(&add).unwrap(),
        json!({"op": "item.add", "args": {"clip": "A", "loop": true, "in": 5,
                                          "transition": {"kind": "MIX", "frames": 10}}})
    );
    // `null` (clear) and absent (keep) stay apart through a round trip.
    let update = Request::ItemUpdate(Box::new(ItemUpdate {
        item: "a".into(),
        title: Some(None),
        out_point: Some(Some(9)),
        ..ItemUpdate::default()
    }));
    let wire = serde_json::to_value(&update).unwrap();
    assert_eq!(
        wire,
        json!({"op": "item.update", "args": {"item": "a", "title": null, "out": 9}})
    );
    assert_eq!(serde_json::from_value::<Request>(wire).unwrap(), update);
}

#[test]
fn args_may_be_left_out_or_null_only_without_required_arguments() {
    assert_eq!(
        parse("playout.take", Value::Null),
        Request::Take(OptionalItem::default())
    );
    assert_eq!(
        parse("playout.stop", json!({})),
        Request::Stop(Target::default())
    );
    assert_eq!(parse("media.rescan", json!({})), Request::MediaRescan);
    assert_eq!(parse("health", Value::Null), Request::Health);
    assert_eq!(code("item.add", Value::Null), "bad_request");
    assert_eq!(code("playlist.select", Value::Null), "bad_request");
}

#[test]
fn bad_inputs_have_typed_errors() {
    assert_eq!(code("playout.explode", Value::Null), "unknown_op");
    assert_eq!(code("", Value::Null), "unknown_op");
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
        ("item.update", json!({"item": "a"})),
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
        let msg = Request::parse("item.add", args).unwrap_err().to_string();
        assert!(
            msg.starts_with("item.add: ") && msg.contains(field),
            "{msg}"
        );
        assert!(!msg.contains("line 1"), "{msg}");
    }
    // The example of docs/ws-protocol.md, word for word.
    assert_eq!(
        Request::parse("item.add", json!({"clip": 7}))
            .unwrap_err()
            .to_string(),
        "item.add: `clip`: invalid type: integer `7`, expected a string"
    );
    assert_eq!(
        Request::parse("item.update", json!({"item": "a"}))
            .unwrap_err()
            .to_string(),
        "item.update: nothing to change (give clip, title, transition, loop, in, out, scheduled, start, at or graphics)"
    );
    assert_eq!(
        Request::parse("playlist.update", json!({"playlist": "main"}))
            .unwrap_err()
            .to_string(),
        "playlist.update: nothing to change (give name, loop, air_date, filler, end_action or logo)"
    );
    // Start modes: a known word, and `null` clears `at` (a field left out leaves it).
    assert_eq!(
        code("item.update", json!({"item": "a", "start": "fixed"})),
        "bad_request"
    );
    let Request::ItemUpdate(u) = parse("item.update", json!({"item": "a", "at": null})) else {
        panic!("an item.update");
    };
    assert_eq!((u.start, u.at), (None, Some(None)));
    let Request::ItemUpdate(u) = parse(
        "item.update",
        json!({"item": "a", "start": "hard", "at": "18:00:00"}),
    ) else {
        panic!("an item.update");
    };
    assert_eq!(u.start, Some(StartMode::Hard));
    let Request::PlaylistUpdate(u) = parse("playlist.update", json!({"air_date": null})) else {
        panic!("a playlist.update");
    };
    assert_eq!(u.air_date, Some(None));
    // A missing argument names itself, not the argument that happened to come last.
    for (name, args, want) in [
        (
            "item.insert",
            json!({"clip": "A"}),
            "item.insert: missing field `index`",
        ),
        (
            "item.add",
            json!({"title": "x"}),
            "item.add: missing field `clip`",
        ),
    ] {
        let msg = Request::parse(name, args).unwrap_err().to_string();
        assert_eq!(msg, want);
    }
    assert_eq!(
        Request::parse("playout.stop", json!([1]))
            .unwrap_err()
            .to_string(),
        "playout.stop: args must be an object, not an array"
    );
}

#[test]
fn transitions_are_objects_or_short_text() {
    let Request::ItemAdd(a) = parse("item.add", json!({"clip": "A", "transition": "wipe 5"}))
    else {
        unreachable!()
    };
    assert_eq!(
        a.transition,
        Some(Transition {
            kind: TransitionKind::Wipe,
            frames: 5,
            tween: None
        })
    );
    let Request::ItemAdd(a) = parse(
        "item.add",
        json!({"clip": "A", "transition": {"kind": "PUSH", "frames": 3, "tween": "LINEAR"}}),
    ) else {
        unreachable!()
    };
    assert_eq!(a.transition.map(|t| t.tween), Some(Some("LINEAR".into())));
    for bad in [json!("MIX x"), json!("MIX 1 LINEAR extra"), json!(5)] {
        let args = json!({"clip": "A", "transition": bad});
        assert_eq!(code("item.add", args), "bad_request", "{bad}");
    }
}

#[test]
fn roles_come_from_the_list() {
    assert!(Role::Operator.may_run("media.rescan"));
    assert!(Role::Operator.may_run("no.such.op"));
    assert!(!Role::Viewer.may_run("media.rescan"));
    assert!(!Role::Viewer.may_run("item.add"));
    assert!(!Role::Viewer.may_run("no.such.op"));
    assert!(Role::Viewer.may_run("health"));
    assert!(Role::Viewer.may_run("stats"));
    let viewers: Vec<&str> = Request::NAMES
        .iter()
        .copied()
        .filter(|n| Request::role_needed(n) == Some(Role::Viewer))
        .collect();
    assert_eq!(viewers, ["health", "stats"]);
    assert_eq!(Request::role_needed("nope"), None);
}
