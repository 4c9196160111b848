//! Graphics as edits over a real WebSocket (issue 19): secondary events and the logo flag on an
//! item, the playlist's standing logo, their events, and refusals that leave everything as it was.

mod ws_rig;

use onair::protocol::ServerMsg;
use serde_json::{Value, json};
use ws_rig::{Client, config, start};

fn lower_third() -> Value {
    json!({"events": [{"id": "name", "layer": 20, "offset_ms": 10000, "duration_ms": 8000,
        "graphic": {"kind": "template", "template": "LOWER_THIRD",
                    "data": {"name": "Ada \"the\" \\ Lovelace\nÉcole — 東京"}}}]})
}

/// The events carried before an ack, as JSON.
fn events(before: &[ServerMsg]) -> Vec<Value> {
    before
        .iter()
        .map(|m| serde_json::to_value(m).expect("json"))
        .filter(|v| v["type"] == "event")
        .collect()
}

#[tokio::test]
async fn graphics_are_edited_stored_and_sent_and_bad_ones_change_nothing() {
    let rig = start(config()).await;
    let mut c = Client::connect(&rig, "", &[]).await;
    while !matches!(c.next().await, ServerMsg::Snapshot { .. }) {}

    let (ack, before) = c
        .command(
            "a",
            "item.add",
            json!({"clip": "CLIP1", "graphics": lower_third()}),
        )
        .await;
    assert!(ack.ok, "{ack:?}");
    let item = ack.result.item.clone().expect("an id");
    let added = events(&before);
    assert_eq!(added[0]["kind"], "item_added", "{added:?}");
    assert_eq!(added[0]["item"]["graphics"], lower_third());

    // An ad: the logo off, no events.
    let (ack, before) = c
        .command(
            "u",
            "item.update",
            json!({"item": item, "graphics": {"logo": false}}),
        )
        .await;
    assert!(ack.ok, "{ack:?}");
    assert_eq!(
        events(&before)[0]["item"]["graphics"],
        json!({"logo": false})
    );

    let logo = json!({"layer": 30, "graphic": {"kind": "still", "clip": "LOGO"}});
    let (ack, before) = c
        .command("l", "playlist.update", json!({"logo": logo}))
        .await;
    assert!(ack.ok, "{ack:?}");
    let set = events(&before);
    assert_eq!(set[0]["kind"], "playlist_settings", "{set:?}");
    assert_eq!(set[0]["logo"], logo);

    // Refused: the clip layer (10), a mixer logo, XML without '<': nothing changes.
    for (op, args, field) in [
        (
            "item.update",
            json!({"item": item, "graphics": {"events": [{"id": "x", "layer": 10,
                "graphic": {"kind": "still", "clip": "LOGO"}}]}}),
            "graphics.layer",
        ),
        (
            "playlist.update",
            json!({"logo": {"layer": 30, "graphic": {"kind": "mixer", "opacity": 0.5}}}),
            "logo",
        ),
        (
            "item.add",
            json!({"clip": "CLIP1", "graphics": {"events": [{"id": "x", "layer": 20,
                "graphic": {"kind": "template", "template": "T", "data": "plain"}}]}}),
            "graphic.data",
        ),
    ] {
        let (ack, before) = c.command("bad", op, args).await;
        assert!(!ack.ok, "{op} refused");
        let e = ack.error.expect("an error");
        assert_eq!(e.code, "invalid", "{e:?}");
        assert!(e.message.contains(field), "{field}: {e:?}");
        assert!(events(&before).is_empty(), "nothing changed: {before:?}");
    }
}
