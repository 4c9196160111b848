//! The 24/7 schedule against the simulator over real TCP: a hard start cuts the item on air at its
//! time, a soft start never cuts and fills nothing early, and the engine publishes the timeline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use onair::caspar::CasparHandle;
use onair::config::{CasparConfig, PlayoutConfig};
use onair::playout::asrun::{AsRunLog, AsRunWriter, read_file};
use onair::playout::engine::{self, EngineDeps, EngineHandle, Op, Snapshot};
use onair::playout::model::{Item, Playlist};
use onair::playout::timing::StartMode;
use onair::protocol::timeline::{TimelineState, Timelines};
use onair::sim::{ClockMode, Sim, SimConfig};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);

struct Rig {
    sim: Sim,
    engine: EngineHandle,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    dir: tempfile::TempDir,
}

impl Rig {
    /// Stops the engine and reads its as-run log: (item, event, the line as JSON).
    async fn stop_and_read_as_run(mut self) -> Vec<(String, String, serde_json::Value)> {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("engine task");
        }
        let day = std::fs::read_dir(self.dir.path().join("asrun"))
            .expect("as-run dir")
            .next()
            .expect("a day file")
            .expect("entry")
            .path();
        let (lines, bad) = read_file(&day).expect("as-run");
        assert_eq!(bad, 0);
        lines
            .iter()
            .map(|l| {
                let v = serde_json::to_value(&l.entry).expect("json");
                let item = v["item"].as_str().unwrap_or_default().to_owned();
                let event = v["event"].as_str().unwrap_or_default().to_owned();
                (item, event, v)
            })
            .collect()
    }
}

/// A station-local time `ahead` from now, in UTC (the station's zone in these tests).
fn at_in(ahead: Duration) -> String {
    let t = Timestamp::now() + ahead;
    t.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("%H:%M:%S%.3f")
        .to_string()
}

/// A channel day that starts half a day from now, so that no test runs across a day change.
fn far_day_start() -> jiff::civil::Time {
    let t = Timestamp::now() + Duration::from_secs(12 * 3600);
    let z = t.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    jiff::civil::Time::constant(0, 0, 0, 0)
        .with()
        .hour(z.hour())
        .build()
        .expect("a time of day")
}

fn item(id: &str, clip: &str, start: StartMode, at: Option<String>) -> Arc<Item> {
    let mut it = Item::new(id.into(), clip);
    it.start = start;
    it.at = at;
    Arc::new(it)
}

async fn rig(items: Vec<Arc<Item>>) -> Rig {
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Realtime;
    let sim = Sim::start(cfg).await.expect("sim");
    rig_on(sim, items, BTreeMap::new()).await
}

/// An engine on `sim` whose playout was `restored` from a previous run (as after a restart).
async fn rig_on(
    sim: Sim,
    items: Vec<Arc<Item>>,
    restored: BTreeMap<String, engine::Playout>,
) -> Rig {
    let mut pl = Playlist::new("main", "Main", "1-10".parse().expect("layer"));
    // No filler here: the last frame stays after the rundown, by choice (no end-of-rundown alarm).
    pl.end_action = onair::playout::fill::EndAction::Hold;
    for it in items {
        pl.items.push_back(it.into());
    }
    let (caspar, _) = CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ping_timeout: Duration::from_secs(5),
        ping_interval: 200 * MS,
        backoff_initial: 10 * MS,
        backoff_max: 100 * MS,
        ..CasparConfig::default()
    });
    let shutdown = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let asrun = AsRunWriter::new(AsRunLog::open(dir.path().join("asrun")).expect("as-run"));
    let (engine, task) = engine::spawn(EngineDeps {
        config: PlayoutConfig {
            timezone: Some("UTC".into()),
            day_start: far_day_start(),
            ..PlayoutConfig::default()
        },
        poll_interval: 20 * MS,
        restored,
        asrun: Some(asrun),
        ..EngineDeps::new(caspar, vec![pl], shutdown.clone())
    });
    let r = Rig {
        sim,
        engine,
        shutdown,
        task: Some(task),
        dir,
    };
    // Clip lengths come from the media library: planning needs them.
    wait(&r.engine, |s| {
        s.link.connected
            && s.playlists[0]
                .playlist
                .items
                .iter()
                .all(|i| i.frames.is_some())
    })
    .await;
    r
}

async fn wait(engine: &EngineHandle, pred: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    let mut rx = engine.watch_snapshot();
    timeout(Duration::from_secs(15), async {
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
            "condition not reached; last playout: {:#?}",
            engine.snapshot().playlists.first().map(|p| &p.playout)
        )
    })
}

async fn wait_timeline(engine: &EngineHandle, pred: impl Fn(&Timelines) -> bool) -> Arc<Timelines> {
    let mut rx = engine.watch_timeline();
    timeout(Duration::from_secs(15), async {
        loop {
            let t = rx.borrow_and_update().clone();
            if pred(&t) {
                return t;
            }
            rx.changed().await.expect("engine alive");
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "timeline not reached: {:#?}",
            engine.watch_timeline().borrow()
        )
    })
}

fn on_air(s: &Snapshot) -> Option<&str> {
    s.playlists[0].playout.on_air.as_deref()
}

/// The AMCP the simulator received for layer 1-10, as `NAME params…`.
fn layer_commands(sim: &Sim) -> Vec<String> {
    sim.command_log()
        .into_iter()
        .filter(|r| r.channel == Some(1) && r.layer == Some(10))
        .map(|r| {
            format!("{} {}", r.name, r.params.join(" "))
                .trim()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_hard_start_cuts_the_item_on_air_at_its_time_from_the_background() {
    let at = at_in(Duration::from_millis(2_500));
    let r = rig(vec![
        item("open", "CLIP1", StartMode::Follow, None),
        item("skipped", "SHORT", StartMode::Follow, None),
        item("news", "CLIP2", StartMode::Hard, Some(at.clone())),
        item("after", "SHORT", StartMode::Follow, None),
    ])
    .await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: Some("open".into()),
        })
        .await
        .expect("take");
    // The plan: "open" is cut by the news, "skipped" never plays.
    let t = wait_timeline(&r.engine, |t| {
        t.playlists
            .get("main")
            .and_then(|v| v.next_fixed.as_ref())
            .is_some_and(|n| n.item == "news")
            && t.playlists["main"].entries.first().is_some_and(|e| e.cut)
    })
    .await;
    let view = &t.playlists["main"];
    assert_eq!(view.entries[1].state, TimelineState::Skipped);
    assert!(view.next_fixed.as_ref().is_some_and(|n| n.hard));
    let lost = view.entries[0]
        .lost_ms
        .expect("the cut says how much is lost");
    assert!((7_000..=8_000).contains(&lost), "lost {lost} ms of 10 s");
    // Loaded without AUTO before its time, so nothing can start it early.
    wait(&r.engine, |s| {
        s.playlists[0].playout.cued.as_deref() == Some("news") && !s.playlists[0].playout.armed_auto
    })
    .await;
    assert_eq!(on_air(&r.engine.snapshot()), Some("open"));
    let s = wait(&r.engine, |s| on_air(s) == Some("news")).await;
    let started = s.playlists[0]
        .playout
        .on_air_since_ms
        .expect("a start time");
    let due: Timestamp = format!("{}T{at}Z", Timestamp::now().strftime("%Y-%m-%d"))
        .parse()
        .expect("instant");
    let due_ms = due.as_millisecond();
    let late = i64::try_from(started).expect("ms") - due_ms;
    assert!(
        (-40..=100).contains(&late),
        "started {late} ms after its time (the take leaves half a frame early)"
    );
    let cmds = layer_commands(&r.sim);
    let load = cmds
        .iter()
        .position(|c| c.starts_with("LOADBG CLIP2"))
        .expect("the news was loaded in the background");
    assert!(!cmds[load].contains("AUTO"), "{}", cmds[load]);
    assert!(
        cmds[load..].iter().any(|c| c == "PLAY"),
        "promoted with a bare PLAY: {cmds:?}"
    );
    assert!(
        !cmds
            .iter()
            .any(|c| c.contains("SHORT") && c.starts_with("PLAY")),
        "the skipped item never played directly: {cmds:?}"
    );
    // After the news, autoplay goes on from it.
    wait(&r.engine, |s| {
        s.playlists[0].playout.cued.as_deref() == Some("after") && s.playlists[0].playout.armed_auto
    })
    .await;
    let lines = r.stop_and_read_as_run().await;
    let end = lines
        .iter()
        .find(|(item, event, _)| item == "open" && event == "end")
        .expect("the cut item's end");
    assert_eq!(end.2["ended_by"], "hard");
    let start = lines
        .iter()
        .find(|(item, event, _)| item == "news" && event == "start")
        .expect("the news' start");
    assert_eq!(start.2["start_mode"], "hard");
    assert_eq!(
        start.2["planned_start"],
        format!("{}T{at}Z", Timestamp::now().strftime("%Y-%m-%d"))
    );
    let late = start.2["late_frames"].as_i64().expect("late_frames");
    assert!((0..=1).contains(&late), "late by {late} frames");
    assert!(
        !lines.iter().any(|(item, _, _)| item == "skipped"),
        "the skipped item never started"
    );
}

#[tokio::test]
async fn a_soft_start_waits_for_the_item_before_it_and_never_cuts() {
    // CLIP1 plays 10 s; the soft item's time comes after 1.5 s, so it follows by AUTO.
    let r = rig(vec![
        item("open", "CLIP1", StartMode::Follow, None),
        item(
            "soft",
            "CLIP2",
            StartMode::Soft,
            Some(at_in(Duration::from_millis(1_500))),
        ),
    ])
    .await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: Some("open".into()),
        })
        .await
        .expect("take");
    wait(&r.engine, |s| {
        s.playlists[0].playout.cued.as_deref() == Some("soft") && s.playlists[0].playout.armed_auto
    })
    .await;
    // Well past its time it has not cut: the timeline says it waits (over-run).
    let t = wait_timeline(&r.engine, |t| {
        t.playlists.get("main").is_some_and(|v| {
            v.entries
                .get(1)
                .and_then(|e| e.fixed.as_ref())
                .and_then(|f| f.slack_ms)
                .is_some_and(|s| s < 0)
        })
    })
    .await;
    assert!(t.station.as_ref().is_some_and(|s| s.timezone == "UTC"));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        on_air(&r.engine.snapshot()),
        Some("open"),
        "a soft start never cuts"
    );
    assert!(
        !layer_commands(&r.sim).iter().any(|c| c == "PLAY"),
        "no bare PLAY was sent for the soft item"
    );
}

#[tokio::test]
async fn a_soft_start_after_a_short_item_waits_for_its_time() {
    // SHORT plays 2 s; the soft item is due after 4 s: it must not follow at once.
    let at = at_in(Duration::from_millis(4_000));
    let r = rig(vec![
        item("open", "SHORT", StartMode::Follow, None),
        item("soft", "CLIP2", StartMode::Soft, Some(at)),
    ])
    .await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: Some("open".into()),
        })
        .await
        .expect("take");
    let taken = Timestamp::now().as_millisecond();
    wait(&r.engine, |s| {
        s.playlists[0].playout.cued.as_deref() == Some("soft") && !s.playlists[0].playout.armed_auto
    })
    .await;
    // Nothing fills the gap: the operator is warned before it starts, with its length.
    let s = wait(&r.engine, |s| {
        s.alarms
            .iter()
            .any(|a| a.kind == "schedule" && a.message.contains("a gap of"))
    })
    .await;
    let alarm = s
        .alarms
        .iter()
        .find(|a| a.kind == "schedule")
        .expect("alarm");
    assert!(
        alarm.message.contains("with no filler"),
        "{}",
        alarm.message
    );
    let s = wait(&r.engine, |s| on_air(s) == Some("soft")).await;
    let started =
        i64::try_from(s.playlists[0].playout.on_air_since_ms.expect("start")).expect("ms");
    // The gap is over: the alarm clears by itself.
    wait(&r.engine, |s| s.alarms.iter().all(|a| a.kind != "schedule")).await;
    assert!(
        started - taken >= 3_900,
        "the soft item started {} ms after the take, before its time",
        started - taken
    );
}

#[tokio::test]
async fn a_hard_start_that_passed_while_the_daemon_was_down_is_taken_at_once_and_logged_late() {
    let at = at_in(Duration::from_millis(1_500));
    let items = vec![
        item("open", "CLIP1", StartMode::Follow, None),
        item("news", "CLIP2", StartMode::Hard, Some(at)),
    ];
    let r = rig(items.clone()).await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: Some("open".into()),
        })
        .await
        .expect("take");
    let s = wait(&r.engine, |s| on_air(s) == Some("open")).await;
    let restored: BTreeMap<_, _> = s
        .playlists
        .iter()
        .map(|p| (p.playlist.id.clone(), p.playout.clone()))
        .collect();
    // The daemon dies (its engine stops; CasparCG plays on) and is down past the news' time.
    let Rig {
        sim,
        shutdown,
        task,
        ..
    } = r;
    shutdown.cancel();
    if let Some(task) = task {
        task.await.expect("engine task");
    }
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let r = rig_on(sim, items, restored).await;
    let s = wait(&r.engine, |s| on_air(s) == Some("news")).await;
    assert!(
        s.alarms.iter().all(|a| a.kind != "schedule"),
        "{:?}",
        s.alarms
    );
    let lines = r.stop_and_read_as_run().await;
    let start = lines
        .iter()
        .find(|(item, event, _)| item == "news" && event == "start")
        .expect("the news' start");
    let late = start.2["late_frames"].as_i64().expect("late_frames");
    // About a second late at 50 fps, and said so.
    assert!(late > 25, "late by {late} frames");
}
