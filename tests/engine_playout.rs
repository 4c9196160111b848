//! The playout engine against the simulator over real TCP: autoplay switches on the expected frame,
//! operator actions, missing clips, recovery after a server restart, adoption after a daemon restart.

use std::collections::BTreeMap;
use std::time::Duration;

use onair::caspar::CasparHandle;
use onair::config::{CasparConfig, PlayoutConfig, Recovery};
use onair::playout::engine::{self, EngineDeps, EngineHandle, Op, Snapshot, Status};
use onair::playout::model::{Item, Limits, Playlist};
use onair::sim::producer::Producer;
use onair::sim::{ClockMode, Sim, SimConfig};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);

struct Rig {
    sim: Sim,
    engine: EngineHandle,
    caspar: CasparHandle,
    shutdown: CancellationToken,
}

fn playlist(clips: &[&str]) -> Playlist {
    let mut p = Playlist::new("main", "Main", "1-10".parse().unwrap());
    for (i, c) in clips.iter().enumerate() {
        p.items.push_back(Item::new(format!("i{i}"), *c).into());
    }
    p
}

fn link(sim: &Sim) -> CasparConfig {
    CasparConfig {
        address: sim.addr().to_string(),
        // Generous: a spurious reconnect under a loaded CI machine would re-read every channel.
        ping_timeout: Duration::from_secs(5),
        ping_interval: 200 * MS,
        backoff_initial: 10 * MS,
        backoff_max: 100 * MS,
        ..CasparConfig::default()
    }
}

fn start_engine(
    sim: &Sim,
    pl: Playlist,
    restored: BTreeMap<String, engine::Playout>,
    recovery: Recovery,
) -> (EngineHandle, CasparHandle, CancellationToken) {
    start_engine_with(sim, pl, restored, recovery, None, 5 * MS)
}

fn start_engine_with(
    sim: &Sim,
    pl: Playlist,
    restored: BTreeMap<String, engine::Playout>,
    recovery: Recovery,
    osc: Option<onair::caspar::osc::OscTelemetry>,
    poll_interval: Duration,
) -> (EngineHandle, CasparHandle, CancellationToken) {
    let (caspar, _) = CasparHandle::spawn(link(sim));
    let shutdown = CancellationToken::new();
    let (engine, _) = engine::spawn(EngineDeps {
        config: PlayoutConfig {
            recovery,
            ..PlayoutConfig::default()
        },
        poll_interval,
        restored,
        osc,
        ..EngineDeps::new(caspar.clone(), vec![pl], shutdown.clone())
    });
    (engine, caspar, shutdown)
}

async fn rig(clips: &[&str], clock: ClockMode) -> Rig {
    let mut cfg = SimConfig::for_tests();
    cfg.clock = clock;
    let sim = Sim::start(cfg).await.unwrap();
    let (engine, caspar, shutdown) =
        start_engine(&sim, playlist(clips), BTreeMap::new(), Recovery::Resume);
    wait(&engine, |s| s.link.connected && !s.media.clips.is_empty()).await;
    Rig {
        sim,
        engine,
        caspar,
        shutdown,
    }
}

async fn wait(engine: &EngineHandle, pred: impl Fn(&Snapshot) -> bool) -> std::sync::Arc<Snapshot> {
    let mut rx = engine.watch_snapshot();
    timeout(Duration::from_secs(10), async {
        loop {
            let snap = rx.borrow_and_update().clone();
            if pred(&snap) {
                return snap;
            }
            rx.changed().await.expect("engine alive");
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "condition not reached; last snapshot: {:#?}",
            engine.snapshot().playlists.first().map(|p| &p.playout)
        )
    })
}

fn sim_on_air(sim: &Sim) -> Option<String> {
    sim.with_state(|s| match &s.layer(0, 10)?.foreground {
        Producer::Clip(c) => Some(c.name.clone()),
        _ => None,
    })
}

fn playout(s: &Snapshot) -> &engine::Playout {
    &s.playlists[0].playout
}

fn armed(next: &'static str) -> impl Fn(&Snapshot) -> bool {
    move |s| playout(s).cued.as_deref() == Some(next) && playout(s).armed_auto
}

#[tokio::test]
async fn autoplay_plays_through_with_switches_on_the_expected_frames() {
    // SHORT is 2 s (50 frames on a 25 fps channel); the same clip twice tests switch detection.
    let r = rig(&["SHORT", "SHORT", "CLIP1"], ClockMode::Stepped).await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: None,
        })
        .await
        .unwrap();
    wait(&r.engine, armed("i1")).await;
    let fg = |sim: &Sim| {
        sim.with_state(|s| match &s.layer(0, 10)?.foreground {
            Producer::Clip(c) => Some((c.name.clone(), c.time)),
            _ => None,
        })
    };
    let mut switches = Vec::new();
    let mut expect_armed = ["i2"].into_iter();
    let mut prev = fg(&r.sim);
    for tick in 1..=200u32 {
        r.sim.step(1);
        // Let the engine read the channel after every frame, as OSC or a fast poll would.
        let executed = r.sim.commands_executed();
        timeout(Duration::from_secs(5), async {
            while r.sim.commands_executed() < executed + 2 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the engine keeps polling");
        let now = fg(&r.sim);
        let switched = match (&prev, &now) {
            (Some((pn, pt)), Some((nn, nt))) => pn != nn || nt < pt,
            _ => false,
        };
        if switched {
            switches.push(tick);
            // The clock stands still until the engine has armed the next item.
            if let Some(next) = expect_armed.next() {
                wait(&r.engine, armed(next)).await;
            }
        }
        prev = now;
        if switches.len() == 2 {
            break;
        }
    }
    // SHORT's first frame is on screen on tick 1. A cut AUTO fires when nb_frames − frame_number < 1
    // (docs/amcp-notes.md §4.5), which on a real 2.4.3 server lands 51 frames after a 50-frame clip's first
    // frame (the recorded OSC capture: SHORT at t=0.36 s, CLIP2 at t=2.40 s on a 25 fps channel).
    // The simulator reproduces that counting, so: tick 1 + 51 and then 51 frames later.
    assert_eq!(switches, [52, 103], "switch ticks");
    let snap = wait(&r.engine, |s| playout(s).on_air.as_deref() == Some("i2")).await;
    assert_eq!(playout(&snap).status, Status::Playing);
    assert_eq!(sim_on_air(&r.sim).as_deref(), Some("CLIP1"));
    r.shutdown.cancel();
}

#[tokio::test]
async fn operator_actions_map_to_amcp() {
    let r = rig(&["CLIP1", "CLIP2", "SHORT"], ClockMode::Stepped).await;
    let e = &r.engine;
    e.execute(Op::Cue {
        playlist: None,
        item: None,
    })
    .await
    .unwrap();
    let s = wait(e, |s| playout(s).cued.as_deref() == Some("i0")).await;
    assert!(
        !playout(&s).armed_auto,
        "nothing on air: AUTO would start at once"
    );
    assert_eq!(sim_on_air(&r.sim), None, "cue does not go to air");
    e.execute(Op::Take {
        playlist: None,
        item: None,
    })
    .await
    .unwrap();
    wait(e, |s| playout(s).on_air.as_deref() == Some("i0")).await;
    assert_eq!(sim_on_air(&r.sim).as_deref(), Some("CLIP1"));
    wait(e, armed("i1")).await;
    e.execute(Op::Next { playlist: None }).await.unwrap();
    wait(e, |s| playout(s).on_air.as_deref() == Some("i1")).await;
    assert_eq!(sim_on_air(&r.sim).as_deref(), Some("CLIP2"));
    e.execute(Op::Pause { playlist: None }).await.unwrap();
    assert!(r.sim.with_state(|s| s.layer(0, 10).unwrap().paused));
    assert_eq!(playout(&e.snapshot()).status, Status::Paused);
    e.execute(Op::Resume { playlist: None }).await.unwrap();
    assert!(!r.sim.with_state(|s| s.layer(0, 10).unwrap().paused));
    e.execute(Op::Previous { playlist: None }).await.unwrap();
    wait(e, |s| playout(s).on_air.as_deref() == Some("i0")).await;
    e.execute(Op::Stop { playlist: None }).await.unwrap();
    let s = e.snapshot();
    assert_eq!(
        (playout(&s).status, playout(&s).on_air.as_deref()),
        (Status::Stopped, None)
    );
    assert_eq!(sim_on_air(&r.sim), None);
    let names: Vec<_> = r.sim.command_log().iter().map(|c| c.name).collect();
    assert!(names.contains(&"STOP") && names.contains(&"PAUSE") && names.contains(&"RESUME"));
    r.shutdown.cancel();
}

#[tokio::test]
async fn missing_clip_is_flagged_and_refused_with_an_alarm() {
    let r = rig(&["NO_SUCH_CLIP", "CLIP1"], ClockMode::Stepped).await;
    let s = r.engine.snapshot();
    assert_eq!(s.playlists[0].missing.iter().collect::<Vec<_>>(), ["i0"]);
    let err = r
        .engine
        .execute(Op::Take {
            playlist: None,
            item: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "clip_not_found");
    let s = wait(&r.engine, |s| !s.alarms.is_empty()).await;
    assert!(s.alarms[0].message.contains("404"), "{:?}", s.alarms);
    assert_eq!(playout(&s).on_air, None);
    r.shutdown.cancel();
}

#[tokio::test]
async fn sim_restart_resumes_the_item_at_its_position() {
    let r = rig(&["CLIP1", "CLIP2"], ClockMode::Realtime).await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: None,
        })
        .await
        .unwrap();
    wait(&r.engine, armed("i1")).await;
    // Let it play about half a second, with the engine observing it.
    tokio::time::sleep(500 * MS).await;
    let before = r
        .sim
        .with_state(|s| match &s.layer(0, 10).unwrap().foreground {
            Producer::Clip(c) => c.time,
            _ => 0,
        });
    r.sim.restart(Duration::ZERO).await;
    let s = wait(&r.engine, |s| {
        s.alarms.iter().any(|a| a.kind == "reconcile") && armed("i1")(s)
    })
    .await;
    assert_eq!(playout(&s).on_air.as_deref(), Some("i0"));
    let after = r
        .sim
        .with_state(|s| match &s.layer(0, 10).unwrap().foreground {
            Producer::Clip(c) => Some((c.name.clone(), c.time)),
            _ => None,
        });
    let (name, time) = after.expect("CLIP1 back on air");
    assert_eq!(name, "CLIP1");
    // Resumed where it was (the position kept running while the server restarted; allow scheduling slack).
    assert!(
        time >= before && time <= before + 25,
        "resumed at frame {time}, was at {before}"
    );
    r.shutdown.cancel();
}

#[tokio::test]
async fn sim_restart_with_hold_waits_for_the_operator() {
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Stepped;
    let sim = Sim::start(cfg).await.unwrap();
    let (engine, _caspar, shutdown) = start_engine(
        &sim,
        playlist(&["CLIP1", "CLIP2"]),
        BTreeMap::new(),
        Recovery::Hold,
    );
    wait(&engine, |s| s.link.connected && !s.media.clips.is_empty()).await;
    engine
        .execute(Op::Take {
            playlist: None,
            item: None,
        })
        .await
        .unwrap();
    wait(&engine, armed("i1")).await;
    sim.clear_command_log();
    sim.restart(Duration::ZERO).await;
    let s = wait(&engine, |s| playout(s).status == Status::Held).await;
    assert!(
        s.alarms
            .iter()
            .any(|a| a.kind == "reconcile" && a.message.contains("hold"))
    );
    assert_eq!(sim_on_air(&sim), None, "hold sends nothing");
    assert!(
        sim.command_log()
            .iter()
            .all(|c| !matches!(c.name, "PLAY" | "LOADBG" | "STOP" | "CLEAR"))
    );
    shutdown.cancel();
}

#[tokio::test]
async fn daemon_restart_adopts_what_is_on_air_without_commands() {
    let r = rig(&["CLIP1", "CLIP2"], ClockMode::Stepped).await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: None,
        })
        .await
        .unwrap();
    let s = wait(&r.engine, armed("i1")).await;
    // Only what the state file keeps: the on-air item, its start and the cursor.
    let saved = engine::Playout {
        status: Status::Playing,
        on_air: playout(&s).on_air.clone(),
        on_air_since_ms: playout(&s).on_air_since_ms,
        next: playout(&s).next.clone(),
        ..engine::Playout::default()
    };
    // The daemon goes away (no STOP, no CLEAR) and a new one starts with the saved state.
    r.shutdown.cancel();
    r.caspar.shutdown();
    r.sim.wait_for_connections(0).await;
    r.sim.step(10);
    r.sim.clear_command_log();
    let restored = BTreeMap::from([("main".to_string(), saved)]);
    let (engine, _caspar, shutdown) = start_engine(
        &r.sim,
        playlist(&["CLIP1", "CLIP2"]),
        restored,
        Recovery::Resume,
    );
    let s = wait(&engine, |s| {
        s.link.connected && playout(s).status == Status::Playing && playout(s).cued.is_some()
    })
    .await;
    assert_eq!(playout(&s).on_air.as_deref(), Some("i0"));
    assert!(s.alarms.is_empty(), "{:?}", s.alarms);
    let sent: Vec<_> = r.sim.command_log().iter().map(|c| c.name).collect();
    assert!(
        sent.iter()
            .all(|n| matches!(*n, "VERSION" | "CLS" | "INFO")),
        "adoption must not touch playout: {sent:?}"
    );
    assert_eq!(sim_on_air(&r.sim).as_deref(), Some("CLIP1"));
    shutdown.cancel();
}

#[tokio::test]
async fn autoplay_follows_osc_without_polling() {
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Stepped;
    let sim = Sim::start(cfg).await.unwrap();
    let shutdown_osc = CancellationToken::new();
    let listener = onair::caspar::osc::OscListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let osc = listener.spawn(shutdown_osc.clone(), Duration::from_secs(5));
    // Polling every minute: only OSC can tell the engine about the switches.
    let (engine, _caspar, shutdown) = start_engine_with(
        &sim,
        playlist(&["SHORT", "CLIP2", "CLIP1"]),
        BTreeMap::new(),
        Recovery::Resume,
        Some(osc),
        Duration::from_secs(60),
    );
    wait(&engine, |s| s.link.connected && !s.media.clips.is_empty()).await;
    engine
        .execute(Op::Take {
            playlist: None,
            item: None,
        })
        .await
        .unwrap();
    wait(&engine, armed("i1")).await;
    assert!(sim.command_log().iter().any(|c| c.name == "OSC SUBSCRIBE"));
    sim.clear_command_log();
    for _ in 0..60 {
        sim.step(1);
        tokio::task::yield_now().await;
    }
    let s = wait(&engine, |s| {
        playout(s).on_air.as_deref() == Some("i1") && armed("i2")(s)
    })
    .await;
    assert_eq!(
        s.link.telemetry,
        onair::playout::engine::state::TelemetrySource::Osc
    );
    assert_eq!(sim_on_air(&sim).as_deref(), Some("CLIP2"));
    assert!(
        sim.command_log().iter().all(|c| c.name != "INFO"),
        "no INFO polling while OSC is fresh"
    );
    shutdown.cancel();
    shutdown_osc.cancel();
}

#[tokio::test]
async fn edits_are_durable_when_acked_and_as_run_has_a_pair_per_item() {
    use onair::playout::asrun::{AsRunLog, AsRunWriter, read_file};
    use onair::playout::store::{Store, StoreWriter};

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Stepped;
    let sim = Sim::start(cfg).await.unwrap();
    let (store, report) =
        Store::open(dir.path(), Limits::default(), "1-10".parse().unwrap()).unwrap();
    let writer = StoreWriter::spawn(store);
    let asrun = AsRunWriter::new(AsRunLog::open(dir.path().join("asrun")).unwrap());
    let (caspar, _) = CasparHandle::spawn(link(&sim));
    let shutdown = CancellationToken::new();
    let (engine, task) = engine::spawn(EngineDeps {
        caspar,
        main: ("main".into(), sim.addr().to_string()),
        backup: None,
        more: Vec::new(),
        drive: None,
        replica: None,
        config: PlayoutConfig::default(),
        limits: Limits::default(),
        poll_interval: 5 * MS,
        progress_hz: 10,
        playlists: report.playlists,
        restored: BTreeMap::new(),
        restored_filler: BTreeMap::new(),
        restored_graphics: BTreeMap::new(),
        selected: None,
        osc: None,
        store: Some(writer),
        asrun: Some(asrun),
        external: None,
        startup_alarms: Vec::new(),
        shutdown: shutdown.clone(),
        clock: std::sync::Arc::new(onair::schedule::SystemClock),
        restored_logo_off: Vec::new(),
    });
    wait(&engine, |s| s.link.connected && !s.media.clips.is_empty()).await;
    for clip in ["SHORT", "SHORT"] {
        let r = engine
            .execute(Op::ItemAdd {
                playlist: None,
                item: engine::NewItem {
                    clip: clip.into(),
                    ..Default::default()
                },
                index: None,
            })
            .await
            .unwrap();
        // Acknowledged means on disk: the journal (or the playlist file, after a compaction)
        // already holds the new item.
        let mut on_disk = std::fs::read_to_string(dir.path().join("playlists/main.json")).unwrap();
        for segment in std::fs::read_dir(dir.path().join("journal")).unwrap() {
            on_disk += &std::fs::read_to_string(segment.unwrap().path()).unwrap();
        }
        assert!(
            on_disk.contains(r.item.as_deref().unwrap()),
            "acked item must be on disk"
        );
    }
    engine
        .execute(Op::Take {
            playlist: None,
            item: None,
        })
        .await
        .unwrap();
    let first = engine.snapshot().playlists[0].playlist.items[0].id.clone();
    let second = engine.snapshot().playlists[0].playlist.items[1].id.clone();
    let second_for_wait = second.clone();
    wait(&engine, move |s| {
        playout(s).cued.as_deref() == Some(second_for_wait.as_str()) && playout(s).armed_auto
    })
    .await;
    for _ in 0..60 {
        let executed = sim.commands_executed();
        sim.step(1);
        timeout(Duration::from_secs(5), async {
            while sim.commands_executed() < executed + 2 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
    }
    let second_for_wait = second.clone();
    wait(&engine, move |s| {
        playout(s).on_air.as_deref() == Some(second_for_wait.as_str())
    })
    .await;
    engine.execute(Op::Stop { playlist: None }).await.unwrap();
    shutdown.cancel();
    task.await.unwrap();
    let day = std::fs::read_dir(dir.path().join("asrun"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (lines, bad) = read_file(&day).unwrap();
    assert_eq!(bad, 0);
    let events: Vec<(String, String, Option<String>)> = lines
        .iter()
        .map(|l| {
            let v = serde_json::to_value(&l.entry).unwrap();
            (
                v["item"].as_str().unwrap().to_owned(),
                v["event"].as_str().unwrap().to_owned(),
                v["ended_by"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (first.clone(), "start".into(), None),
            (first, "end".into(), Some("auto".into())),
            (second.clone(), "start".into(), None),
            (second, "end".into(), Some("stop".into())),
        ]
    );
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(
        state.contains("\"on_air\": null") || state.contains("\"on_air\":null"),
        "{state}"
    );
}

#[tokio::test]
async fn progress_is_marked_stale_when_telemetry_stops() {
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Speed(4.0);
    let sim = Sim::start(cfg).await.unwrap();
    let stop_osc = CancellationToken::new();
    let listener = onair::caspar::osc::OscListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let osc = listener.spawn(stop_osc.clone(), Duration::from_millis(300));
    let osc_probe = osc.clone();
    let (engine, _caspar, shutdown) = start_engine_with(
        &sim,
        playlist(&["CLIP1", "CLIP2"]),
        BTreeMap::new(),
        Recovery::Resume,
        Some(osc),
        Duration::from_secs(60),
    );
    wait(&engine, |s| s.link.connected && !s.media.clips.is_empty()).await;
    engine
        .execute(Op::Take {
            playlist: None,
            item: None,
        })
        .await
        .unwrap();
    let mut progress = engine.watch_progress();
    let fresh_elapsing =
        |p: &engine::ProgressMap| p.get("main").is_some_and(|p| p.fresh && p.elapsed > 0.0);
    timeout(
        Duration::from_secs(10),
        progress.wait_for(|p| fresh_elapsing(p)),
    )
    .await
    .unwrap()
    .unwrap();
    sim.set_osc_enabled(false);
    let stale = timeout(Duration::from_secs(10), progress.wait_for(|p| p.get("main").is_some_and(|p| !p.fresh)))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "progress turns stale without OSC: {:?} link {:?} osc stale {} stats {:?} sim commands {:?}",
                engine.watch_progress().borrow().clone(),
                engine.snapshot().link,
                osc_probe.is_stale(1),
                osc_probe.stats(),
                sim.command_log().iter().map(|c| c.name).collect::<Vec<_>>()
            )
        })
        .unwrap()
        .clone();
    assert!(!stale["main"].fresh);
    sim.set_osc_enabled(true);
    timeout(
        Duration::from_secs(10),
        progress.wait_for(|p| p.get("main").is_some_and(|p| p.fresh)),
    )
    .await
    .unwrap()
    .unwrap();
    shutdown.cancel();
    stop_osc.cancel();
}
