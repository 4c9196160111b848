//! Ready-made console models for the view's snapshot tests and the benchmark: a daemon state with a
//! rundown, something on air, an armed next item and a missing clip, applied through `update` the
//! way the real connection would deliver it.

use std::time::{Duration, Instant};

use crate::playout::graphics::{Graphic, Level, Logo, MixerChange, Secondary, TemplateData};
use crate::protocol::{
    ChannelLayer, ClipView, GraphicPhase, Item, LinkView, LiveGraphic, LiveKind, MediaView,
    Playlist, PlaylistView, Playout, Progress, Role, ServerMsg, ServerRole, ServerView, Snapshot,
    Status, TelemetrySource,
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
            left_after: None,
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
            servers: Vec::new(),
        },
        media: media().into(),
        alarms: Vec::new(),
        progress,
        graphics: Vec::new(),
    }
}

/// A main/backup pair in step: the main leads, the backup 1 frame behind it caught up in 212 ms
/// after its last reconnect.
pub fn pair() -> [ServerView; 2] {
    let side = |name: &str, role, address: &str| ServerView {
        name: name.into(),
        role,
        address: address.into(),
        connected: true,
        state: "connected".into(),
        server_version: Some("2.4.3 fd9168c73 Stable".into()),
        in_step: true,
        ..ServerView::default()
    };
    let main = ServerView {
        lead: true,
        ..side("main", ServerRole::Main, "10.0.0.1:5250")
    };
    let backup = ServerView {
        drift_frames: Some(1),
        resync_ms: Some(212),
        ..side("backup", ServerRole::Backup, "10.0.0.2:5250")
    };
    [main, backup]
}

/// [`pair`] with the backup down (its link refused): the main plays on alone.
pub fn pair_backup_down() -> [ServerView; 2] {
    let [main, mut backup] = pair();
    backup.connected = false;
    backup.in_step = false;
    backup.drift_frames = None;
    backup.state = "down: connection refused".into();
    [main, backup]
}

/// [`pair`] with the backup out of step: a PLAY failed on it because it lacks two clips of the
/// rundown, and it drifts 3 frames behind the main (beyond the default limit of 2).
pub fn pair_backup_out_of_step() -> [ServerView; 2] {
    let [main, mut backup] = pair();
    backup.in_step = false;
    backup.note = Some("PLAY failed: 404 PLAY FAILED".into());
    backup.drift_frames = Some(-3);
    backup.missing = vec!["CLIP2".into(), "NEWS/OPENER".into()];
    [main, backup]
}

/// [`snapshot`]`(n)` of a station with `servers` (see [`pair`]).
pub fn snapshot_with(n: usize, servers: [ServerView; 2]) -> Snapshot {
    let mut state = snapshot(n);
    state.link.servers = servers.into();
    state
}

/// The layer's filler `night` ("Night filler", shuffled) on `main`'s layer, playing AMB.
pub fn filler() -> PlaylistView {
    let mut playlist = Playlist::new(
        "night",
        "Night filler",
        ChannelLayer {
            channel: 1,
            layer: Some(10),
        },
    );
    playlist.filler = Some(crate::protocol::FillerMode::Shuffle);
    playlist.items = ["AMB", "LOGO"]
        .iter()
        .enumerate()
        .map(|(k, clip)| {
            let mut item = Item::new(format!("f{k}"), *clip);
            item.frames = Some(3000);
            item.fps = Some((50, 1));
            item.into()
        })
        .collect();
    PlaylistView {
        playlist,
        playout: Playout {
            status: Status::Playing,
            on_air: Some("f0".into()),
            on_air_since_ms: Some(WALL_MS - 20_000),
            next: Some("f1".into()),
            ..Playout::default()
        },
        missing: Default::default(),
    }
}

/// [`snapshot`]`(n)` after the filler took the layer over: `main` (end action `black`) stopped
/// after its on-air item 2 and resumes at item 3, [`filler`] plays in the gap.
pub fn taken_over_snapshot(n: usize) -> Snapshot {
    let mut state = snapshot(n);
    let main = &mut state.playlists[0];
    main.playlist.end_action = crate::protocol::EndAction::Black;
    main.playout = Playout {
        status: Status::Stopped,
        next: Some("i2".into()),
        left_after: Some("i1".into()),
        ..Playout::default()
    };
    state.playlists.push(filler());
    state.progress.clear();
    state.progress.insert(
        "night".to_owned(),
        Progress {
            elapsed: 20.0,
            remaining: 40.0,
            duration: 60.0,
            rundown_remaining: 100.0,
            fresh: true,
        },
    );
    state
}

/// Three secondary events: a lower third 10 s in for 8 s (a template with data), a still bug
/// from 5 s before the end, and a mixer fade of layer 40 over the last 2 s.
pub fn events() -> Vec<Secondary> {
    let data = serde_json::json!({"name": "Ada Lovelace", "role": "Mathematician"});
    vec![
        Secondary {
            id: "name".into(),
            layer: 20,
            offset_ms: 10_000,
            duration_ms: Some(8_000),
            graphic: Graphic::Template {
                template: "LOWER_THIRD".into(),
                cg_layer: 1,
                data: data.as_object().cloned().map(TemplateData::Json),
            },
        },
        Secondary {
            id: "bug".into(),
            layer: 25,
            offset_ms: -5_000,
            duration_ms: None,
            graphic: Graphic::Still {
                clip: "LIVE_BUG".into(),
            },
        },
        Secondary {
            id: "fade".into(),
            layer: 40,
            offset_ms: -2_000,
            duration_ms: Some(2_000),
            graphic: Graphic::Mixer(MixerChange {
                opacity: Some(Level(0.0)),
                volume: None,
                fill: None,
                frames: 50,
                tween: Some("LINEAR".into()),
            }),
        },
    ]
}

/// A graphic onair has on channel `channel`, layer `layer`, for playlist `main`.
fn live_graphic(
    channel: u16,
    layer: i32,
    item: Option<&str>,
    name: &str,
    label: &str,
) -> LiveGraphic {
    LiveGraphic {
        server: None,
        channel,
        layer,
        playlist: "main".into(),
        item: item.map(str::to_owned),
        name: name.into(),
        label: label.into(),
        // The fixtures' templates are the upper-case names but the logo.
        kind: if name == "logo" {
            LiveKind::Still
        } else {
            LiveKind::Template
        },
        data: None,
        phase: GraphicPhase::On,
        manual: false,
    }
}

/// [`snapshot`]`(6)` with graphics: `main` has a logo (the still `LOGO` on layer 30), the on-air
/// item 2 carries [`events`] and its lower third is on, item 4 (an ad) has the logo off. onair
/// has the lower third and the logo on channel 1, and a clock on channel 2 (another channel).
pub fn graphics_snapshot() -> Snapshot {
    let mut state = snapshot(6);
    let main = &mut state.playlists[0].playlist;
    main.logo = Some(Logo {
        layer: 30,
        graphic: Box::new(Graphic::Still {
            clip: "LOGO".into(),
        }),
    });
    let mut on_air = (*main.items[1]).clone();
    on_air.title = Some("Interview".into());
    on_air.graphics.events = events();
    main.items.set(1, on_air.into());
    let mut ad = (*main.items[3]).clone();
    ad.graphics.logo = false;
    main.items.set(3, ad.into());
    state.graphics = vec![
        live_graphic(1, 30, None, "logo", "LOGO"),
        LiveGraphic {
            // On air with the data of its event.
            data: match &events()[0].graphic {
                Graphic::Template { data, .. } => data.clone(),
                _ => None,
            },
            ..live_graphic(1, 20, Some("i1"), "name", "LOWER_THIRD")
        },
        live_graphic(2, 20, None, "clock", "CLOCK"),
    ];
    state
}

/// A console of `width`×`height`, connected to a daemon whose state is [`snapshot`]`(n)`.
pub fn live_model(width: u16, height: u16, n: usize) -> Model {
    model_of(width, height, snapshot(n))
}

/// A console of `width`×`height`, connected to a daemon whose state is `state`.
pub fn model_of(width: u16, height: u16, state: Snapshot) -> Model {
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
            state: Box::new(state),
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

/// A planned timeline for [`playlist`]`(n)` (n ≥ 6) in Europe/Berlin (UTC+1): a hard start at item
/// 3 cuts the on-air item 2 (4 s lost, over-run), an unfilled 12 s gap before soft item 4
/// (under-run), item 5's clip has no known length so nothing after it has a time.
pub fn timelines(n: usize) -> crate::protocol::timeline::Timelines {
    use crate::protocol::timeline::{
        FixedView, GapFillView, GapView, NextFixedView, StationView, TimelineEntry, TimelineState,
        TimelineView, Timelines,
    };
    let wall = i64::try_from(WALL_MS).unwrap_or(0);
    let at = |s: f64| wall + (s * 1000.0) as i64;
    let entry = |k: usize, state, start: Option<f64>, end: Option<f64>| TimelineEntry {
        item: format!("i{k}"),
        state,
        start_ms: start.map(at),
        end_ms: end.map(at),
        cut: false,
        lost_ms: None,
        fixed: None,
    };
    let mut entries = vec![
        TimelineEntry {
            cut: true,
            lost_ms: Some(3_800),
            ..entry(1, TimelineState::OnAir, Some(-3.2), Some(8.0))
        },
        TimelineEntry {
            fixed: Some(FixedView {
                hard: true,
                due_ms: at(8.0),
                slack_ms: Some(-3_800),
                delay_ms: Some(0),
            }),
            ..entry(2, TimelineState::Planned, Some(8.0), Some(28.0))
        },
        TimelineEntry {
            fixed: Some(FixedView {
                hard: false,
                due_ms: at(40.0),
                slack_ms: Some(12_000),
                delay_ms: Some(0),
            }),
            ..entry(3, TimelineState::Planned, Some(40.0), Some(50.0))
        },
        entry(4, TimelineState::Planned, Some(50.0), None),
    ];
    entries.extend((5..n).map(|k| entry(k, TimelineState::Unknown, None, None)));
    let view = TimelineView {
        revision: playlist(n).playlist.revision,
        first: 1,
        entries,
        gaps: vec![GapView {
            start_ms: at(28.0),
            length_ms: 12_000,
            before: Some("i3".into()),
            fill: GapFillView::Unfilled,
        }],
        next_fixed: Some(NextFixedView {
            item: "i2".into(),
            hard: true,
            due_ms: at(8.0),
            start_ms: at(8.0),
        }),
        end_ms: None,
    };
    Timelines {
        planned_ms: wall,
        station: Some(StationView {
            timezone: "Europe/Berlin".into(),
            day_start: "06:00".into(),
            air_date: "2023-11-14".into(),
            utc_offset_s: 3600,
        }),
        playlists: [("main".to_owned(), view)].into(),
    }
}
