//! A schedule rig: an engine with an as-run log, planning in UTC, over real TCP to a simulator
//! whose clock runs in real time (fixed times are wall-clock times), and the waits and readings
//! the schedule tests share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use onair::caspar::CasparHandle;
use onair::config::{CasparConfig, PlayoutConfig};
use onair::playout::asrun::{AsRunLog, AsRunWriter, read_file};
use onair::playout::engine::{self, EngineDeps, EngineHandle, Snapshot};
use onair::playout::model::{Item, Playlist};
use onair::playout::timing::StartMode;
use onair::protocol::timeline::Timelines;
use onair::schedule::{Clock, SystemClock};
use onair::sim::{ClockMode, Sim, SimConfig};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);

/// How long a wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct Rig {
    pub sim: Sim,
    pub engine: EngineHandle,
    pub shutdown: CancellationToken,
    pub task: Option<tokio::task::JoinHandle<()>>,
    pub dir: tempfile::TempDir,
}

/// One as-run line: (item, event, the line as JSON).
pub type AsRunRow = (String, String, serde_json::Value);

impl Rig {
    /// Stops the engine and reads its as-run log.
    pub async fn stop_and_read_as_run(mut self) -> Vec<AsRunRow> {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("engine task");
        }
        let mut rows = Vec::new();
        let mut days: Vec<_> = std::fs::read_dir(self.dir.path().join("asrun"))
            .expect("as-run dir")
            .map(|e| e.expect("entry").path())
            .collect();
        days.sort();
        for day in days {
            let (lines, bad) = read_file(&day).expect("as-run");
            assert_eq!(bad, 0);
            rows.extend(lines.iter().map(|l| {
                let v = serde_json::to_value(&l.entry).expect("json");
                let item = v["item"].as_str().unwrap_or_default().to_owned();
                let event = v["event"].as_str().unwrap_or_default().to_owned();
                (item, event, v)
            }));
        }
        rows
    }
}

/// The simulator's test library of 20 clips and, beside them, 25 fps clips like CLIP1 with these
/// ids and lengths in frames.
pub fn library_with(extra: &[(&str, u64)]) -> onair::sim::media::SimMedia {
    let mut media = onair::sim::media::SimMedia::virtual_library(20);
    let base = media
        .entries
        .iter()
        .find(|e| e.id == "CLIP1")
        .cloned()
        .expect("CLIP1");
    for &(id, frames) in extra {
        let mut e = base.clone();
        e.id = id.to_owned();
        e.frames = frames;
        e.timebase = (1, 25);
        e.path = format!("/opt/casparcg/media/{id}.mp4");
        media.entries.push(e);
    }
    media
}

/// A simulator (one 1080i50 channel) whose clock runs in real time.
pub async fn realtime_sim() -> Sim {
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Realtime;
    Sim::start(cfg).await.expect("sim")
}

/// A station-local time `ahead` from now, in UTC (the station's zone in these tests).
pub fn at_in(ahead: Duration) -> String {
    let t = Timestamp::now() + ahead;
    t.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("%H:%M:%S%.3f")
        .to_string()
}

/// The instant of a time of day from [`at_in`], today (UTC).
pub fn instant_of(at: &str) -> Timestamp {
    format!("{}T{at}Z", Timestamp::now().strftime("%Y-%m-%d"))
        .parse()
        .expect("instant")
}

/// A channel day that starts half a day from now, so that no test runs across a day change.
pub fn far_day_start() -> jiff::civil::Time {
    let t = Timestamp::now() + Duration::from_secs(12 * 3600);
    let z = t.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    jiff::civil::Time::constant(0, 0, 0, 0)
        .with()
        .hour(z.hour())
        .build()
        .expect("a time of day")
}

/// Planning in UTC with the day's start far away.
pub fn station() -> PlayoutConfig {
    PlayoutConfig {
        timezone: Some("UTC".into()),
        day_start: far_day_start(),
        ..PlayoutConfig::default()
    }
}

pub fn item(id: &str, clip: &str, start: StartMode, at: Option<String>) -> Arc<Item> {
    let mut it = Item::new(id.into(), clip);
    it.start = start;
    it.at = at;
    Arc::new(it)
}

pub fn playlist(id: &str, layer: &str, items: Vec<Arc<Item>>) -> Playlist {
    let mut pl = Playlist::new(id, id, layer.parse().expect("layer"));
    for it in items {
        pl.items.push_back(it.into());
    }
    pl
}

/// An engine on `sim` with `playlists`, whose playout was `restored` from a previous run; returns
/// once the link is up and every clip's length is known (planning needs them).
pub async fn rig(
    sim: Sim,
    playlists: Vec<Playlist>,
    config: PlayoutConfig,
    restored: BTreeMap<String, engine::Playout>,
) -> Rig {
    rig_clocked(sim, playlists, config, restored, Arc::new(SystemClock)).await
}

/// [`rig`] with the engine on `clock` (a sped-up or stepped one).
pub async fn rig_clocked(
    sim: Sim,
    playlists: Vec<Playlist>,
    config: PlayoutConfig,
    restored: BTreeMap<String, engine::Playout>,
    clock: Arc<dyn Clock>,
) -> Rig {
    rig_full(
        sim,
        playlists,
        config,
        restored,
        clock,
        BTreeMap::new(),
        Pacing::REAL_TIME,
    )
    .await
}

/// [`rig`] with the fillers' positions saved before a restart.
pub async fn rig_filler_restored(
    sim: Sim,
    playlists: Vec<Playlist>,
    restored_filler: BTreeMap<String, u64>,
) -> Rig {
    let clock = Arc::new(SystemClock);
    rig_full(
        sim,
        playlists,
        station(),
        BTreeMap::new(),
        clock,
        restored_filler,
        Pacing::REAL_TIME,
    )
    .await
}

/// How often the engine reads the server and pings it.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    pub poll: Duration,
    pub ping: Duration,
}

impl Pacing {
    /// A reading every 20 ms and a ping every 200 ms of the runtime's clock.
    pub const REAL_TIME: Pacing = Pacing {
        poll: Duration::from_millis(20),
        ping: Duration::from_millis(200),
    };
}

/// [`rig_clocked`] reading and pinging the server at `pacing` (a virtual-clock run reads less
/// often: each reading is real work, and a day has 4.3 million 20 ms readings).
pub async fn rig_paced(
    sim: Sim,
    playlists: Vec<Playlist>,
    config: PlayoutConfig,
    clock: Arc<dyn Clock>,
    pacing: Pacing,
) -> Rig {
    rig_full(
        sim,
        playlists,
        config,
        BTreeMap::new(),
        clock,
        BTreeMap::new(),
        pacing,
    )
    .await
}

async fn rig_full(
    sim: Sim,
    playlists: Vec<Playlist>,
    config: PlayoutConfig,
    restored: BTreeMap<String, engine::Playout>,
    clock: Arc<dyn Clock>,
    restored_filler: BTreeMap<String, u64>,
    pacing: Pacing,
) -> Rig {
    let (caspar, _) = CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ping_timeout: Duration::from_secs(5),
        ping_interval: pacing.ping,
        backoff_initial: 10 * MS,
        backoff_max: 100 * MS,
        ..CasparConfig::default()
    });
    let shutdown = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let asrun = AsRunWriter::new(AsRunLog::open(dir.path().join("asrun")).expect("as-run"));
    let (engine, task) = engine::spawn(EngineDeps {
        config,
        poll_interval: pacing.poll,
        restored,
        asrun: Some(asrun),
        clock,
        restored_filler,
        ..EngineDeps::new(caspar, playlists, shutdown.clone())
    });
    let r = Rig {
        sim,
        engine,
        shutdown,
        task: Some(task),
        dir,
    };
    wait(&r.engine, |s| {
        s.link.connected
            && s.playlists
                .iter()
                .all(|p| p.playlist.items.iter().all(|i| i.frames.is_some()))
    })
    .await;
    r
}

pub async fn wait(engine: &EngineHandle, pred: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    let mut rx = engine.watch_snapshot();
    timeout(WAIT, async {
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
        let s = engine.snapshot();
        let playout: Vec<_> = s
            .playlists
            .iter()
            .map(|p| (&p.playlist.id, &p.playout))
            .collect();
        panic!(
            "condition not reached; playout: {playout:#?}; alarms: {:#?}; servers: {:#?}",
            s.alarms, s.link.servers
        )
    })
}

pub async fn wait_timeline(
    engine: &EngineHandle,
    pred: impl Fn(&Timelines) -> bool,
) -> Arc<Timelines> {
    let mut rx = engine.watch_timeline();
    timeout(WAIT, async {
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

/// The item playlist `id` has on air.
pub fn on_air<'a>(s: &'a Snapshot, id: &str) -> Option<&'a str> {
    s.playlists
        .iter()
        .find(|p| p.playlist.id == id)
        .and_then(|p| p.playout.on_air.as_deref())
}

/// The AMCP the simulator received for layer 1-10, as `NAME params…`.
pub fn layer_commands(sim: &Sim) -> Vec<String> {
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

/// Polls `cond` every 10 ms until it holds (for state with no change notification, such as the
/// simulator's take log); fails the test after [`WAIT`].
pub async fn poll_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
