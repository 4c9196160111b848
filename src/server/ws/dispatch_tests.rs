//! Every op's arguments reach the engine as the op they name.

use serde_json::{Value, json};

use super::*;
use crate::playout::model::Transition;
use crate::protocol::codes;

fn command(name: &str, args: Value) -> Handling {
    Request::parse(name, args)
        .map(Handling::from)
        .unwrap_or_else(|e| panic!("{name} should parse: {e}"))
}

fn op(name: &str, args: Value) -> Op {
    match command(name, args) {
        Handling::Engine(op) => *op,
        other => panic!("{name} is not an engine op: {other:?}"),
    }
}

#[test]
fn playlist_ops() {
    assert_eq!(
        op(
            "playlist.create",
            json!({"name": "News", "channel_layer": "2-20", "server": "studio-b"})
        ),
        Op::PlaylistCreate {
            name: "News".into(),
            channel_layer: Some("2-20".parse().unwrap()),
            server: Some("studio-b".into()),
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
               "in": 10, "out": 200, "playlist": "main", "start": "hard", "at": "18:00:00"}),
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
                start: Some(crate::playout::timing::StartMode::Hard),
                at: Some("18:00:00".into()),
                graphics: None,
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
    assert_eq!(command("health", Value::Null), Handling::Health);
    assert_eq!(command("stats", json!({})), Handling::Stats);
}

/// Each `playout.*` action without an item reaches the engine as the action it names (they share
/// one argument struct, so a swapped arm would otherwise go unnoticed).
#[test]
fn transport_ops_are_not_swapped() {
    let want = |name: &str, playlist: Option<String>| match name {
        "playout.next" => Op::Next { playlist },
        "playout.previous" => Op::Previous { playlist },
        "playout.skip" => Op::Skip { playlist },
        "playout.stop" => Op::Stop { playlist },
        "playout.pause" => Op::Pause { playlist },
        "playout.resume" => Op::Resume { playlist },
        "playout.clear" => Op::Clear { playlist },
        _ => unreachable!(),
    };
    for name in [
        "playout.next",
        "playout.previous",
        "playout.skip",
        "playout.stop",
        "playout.pause",
        "playout.resume",
        "playout.clear",
    ] {
        let got = op(name, json!({"playlist": "p"}));
        assert_eq!(got, want(name, Some("p".into())), "{name}");
    }
}

/// Every code the engine can produce is one the protocol lists (and the docs document).
#[test]
fn engine_error_codes_are_listed() {
    use crate::caspar::CommandError;
    use crate::playout::model::PlaylistError;
    let errors = [
        EngineError::Playlist(PlaylistError::PlaylistNotFound("x".into())),
        EngineError::Playlist(PlaylistError::ItemNotFound("x".into())),
        EngineError::Playlist(PlaylistError::IndexOutOfRange { index: 9, len: 1 }),
        EngineError::Playlist(PlaylistError::TooManyItems { max: 1 }),
        EngineError::Playlist(PlaylistError::TooManyPlaylists { max: 1 }),
        EngineError::Playlist(PlaylistError::AlreadyExists("x".into())),
        EngineError::Playlist(PlaylistError::Invalid {
            field: "clip",
            reason: "x".into(),
        }),
        EngineError::Caspar(CommandError::NotConnected),
        EngineError::Caspar(CommandError::Server {
            code: 404,
            text: "x".into(),
        }),
        EngineError::Caspar(CommandError::ConnectionLost),
        EngineError::Store("x".into()),
        EngineError::NothingToCue,
        EngineError::NothingToTake,
        EngineError::NothingToSkip,
        EngineError::NoPreviousItem,
        EngineError::PlaylistOnAir,
        EngineError::ItemOnAir,
        EngineError::MediaRescan("x".into()),
        EngineError::NotLeader,
        EngineError::Graphics("x".into()),
        EngineError::ShuttingDown,
    ];
    for e in &errors {
        assert!(codes::ENGINE.contains(&e.code()), "{e:?}: {}", e.code());
        // No wildcard: a new variant does not compile here until it is in the list above.
        match e {
            EngineError::Playlist(_)
            | EngineError::Caspar(_)
            | EngineError::Store(_)
            | EngineError::NothingToCue
            | EngineError::NothingToTake
            | EngineError::NoPreviousItem
            | EngineError::NothingToSkip
            | EngineError::PlaylistOnAir
            | EngineError::ItemOnAir
            | EngineError::MediaRescan(_)
            | EngineError::NotLeader
            | EngineError::Graphics(_)
            | EngineError::ShuttingDown => {}
        }
    }
    let mut seen: Vec<&str> = errors.iter().map(EngineError::code).collect();
    seen.dedup();
    assert_eq!(seen, codes::ENGINE, "every listed engine code is produced");
}
