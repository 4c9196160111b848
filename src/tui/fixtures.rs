//! Ready-made console models for the view's snapshot tests and the benchmark: a daemon state with a
//! rundown, something on air, an armed next item and a missing clip, applied through `update` the
//! way the real connection would deliver it.

use std::time::{Duration, Instant};

use crate::protocol::{
    ChannelLayer, ClipView, Item, LinkView, MediaView, Playlist, PlaylistView, Playout, Progress,
    Role, ServerMsg, Snapshot, Status, TelemetrySource,
};

use super::client::NetEvent;
use super::message::Message;
use super::model::Model;
use super::update::update;

/// 12:34:56 UTC on a fixed day: snapshots do not depend on when they run.
pub const WALL_MS: u64 = 1_700_000_000_000 - 1_700_000_000_000 % 86_400_000 + 45_296_000;

/// The media library of the fixtures.
pub fn media() -> MediaView {
    let clip = |name: &str, duration: Option<f64>, kind: &str| ClipView {
        name: name.into(),
        kind: kind.into(),
        duration,
    };
    MediaView {
        clips: vec![
            clip("AMB", Some(60.0), "MOVIE"),
            clip("CLIP1", Some(10.0), "MOVIE"),
            clip("CLIP2", Some(10.0), "MOVIE"),
            clip("LOGO", None, "STILL"),
            clip("NEWS/OPENER", Some(12.5), "MOVIE"),
            clip("SHORT", Some(2.0), "MOVIE"),
        ],
        updated_ms: Some(WALL_MS),
        error: None,
    }
}

/// A playlist `main` with `n` items (every 7th carries a title, item 5 a schedule, item 4's clip is
/// missing); item 2 on air, item 3 cued with AUTO armed.
pub fn playlist(n: usize) -> PlaylistView {
    let clips = [
        "CLIP1",
        "CLIP2",
        "NEWS/OPENER",
        "SHORT",
        "MISSING_CLIP",
        "AMB",
    ];
    let items: Vec<Item> = (0..n)
        .map(|k| {
            let mut item = Item::new(format!("i{k}"), clips[k % clips.len()]);
            item.frames = (k % clips.len() != 4).then_some(500 + (k as u64 % 3) * 250);
            item.fps = Some((50, 1));
            if k % 7 == 0 {
                item.title = Some(format!("Story {k}"));
            }
            if k == 5 {
                item.scheduled = Some("12:40:00".into());
            }
            item
        })
        .collect();
    let mut playlist = Playlist::new(
        "main",
        "Main",
        ChannelLayer {
            channel: 1,
            layer: Some(10),
        },
    );
    playlist.items = items.into_iter().map(Into::into).collect();
    let id = |k: usize| (k < n).then(|| format!("i{k}"));
    PlaylistView {
        playlist,
        playout: Playout {
            status: if n > 1 {
                Status::Playing
            } else {
                Status::Stopped
            },
            on_air: id(1),
            on_air_since_ms: Some(WALL_MS - 3_200),
            cued: id(2),
            armed_auto: true,
            next: id(2),
        },
        missing: {
            // Sorted by id, as the daemon sends it (`i10` before `i4`).
            let mut missing: Vec<String> = (4..n)
                .step_by(clips.len())
                .map(|k| format!("i{k}"))
                .collect();
            missing.sort();
            missing.into()
        },
    }
}

/// The daemon state of the fixtures with an `n`-item rundown.
pub fn snapshot(n: usize) -> Snapshot {
    let mut progress = std::collections::BTreeMap::new();
    if n > 1 {
        progress.insert(
            "main".to_owned(),
            Progress {
                elapsed: 3.2,
                remaining: 11.8,
                duration: 15.0,
                rundown_remaining: 1234.5,
                fresh: true,
            },
        );
    }
    Snapshot {
        seq: 41,
        selected: Some("main".into()),
        playlists: vec![playlist(n)],
        link: LinkView {
            connected: true,
            server_version: Some("2.4.3".into()),
            state: "connected".into(),
            telemetry: TelemetrySource::Osc,
        },
        media: media().into(),
        alarms: Vec::new(),
        progress,
    }
}

/// A console of `width`×`height`, connected to a daemon whose state is [`snapshot`]`(n)`.
pub fn live_model(width: u16, height: u16, n: usize) -> Model {
    let now = Instant::now();
    let mut model = Model::new("ws://127.0.0.1:8250/ws", now, WALL_MS);
    for msg in [
        Message::Resize(width, height),
        Message::Net(NetEvent::Connecting { attempt: 1 }),
        Message::Net(NetEvent::Connected),
        Message::Net(NetEvent::Server(Box::new(ServerMsg::Hello {
            server_version: "0.1.0".into(),
            boot_id: "boot-1".into(),
            seq: 41,
            role: Role::Operator,
        }))),
        Message::Net(NetEvent::Server(Box::new(ServerMsg::Snapshot {
            seq: 41,
            state: Box::new(snapshot(n)),
        }))),
    ] {
        update(&mut model, msg);
    }
    // Log lines carry the fixed wall clock.
    for line in &mut model.log.lines {
        line.wall_ms = WALL_MS;
    }
    model
}

/// Moves the model's clock forward by `by` (as the run loop would before the next message).
pub fn advance(model: &mut Model, by: Duration) {
    model.now += by;
    model.wall_ms += u64::try_from(by.as_millis()).unwrap_or(0);
}
