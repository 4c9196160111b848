//! A main/backup rig: two simulators whose clocks run in real time, one engine driving both over
//! real TCP (the backup as `EngineDeps::backup`), and readings of both sides.

use std::sync::Arc;
use std::time::Duration;

use onair::caspar::CasparHandle;
use onair::config::{CasparConfig, PlayoutConfig};
use onair::playout::engine::{self, EngineDeps, EngineHandle, SideDeps, Snapshot};
use onair::playout::model::{Item, Playlist};
use onair::protocol::ServerView;
use onair::sim::media::SimMedia;
use onair::sim::producer::Producer;
use onair::sim::{ClockMode, Sim, SimConfig};
use tokio_util::sync::CancellationToken;

use super::schedule::wait;

const MS: Duration = Duration::from_millis(1);

pub struct Pair {
    pub main: Sim,
    pub backup: Sim,
    pub engine: EngineHandle,
    pub shutdown: CancellationToken,
    pub task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A simulator (one 1080i50 channel) whose clock runs in real time, with `media`.
pub async fn sim_with(media: SimMedia) -> Sim {
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Realtime;
    cfg.media = media;
    Sim::start(cfg).await.expect("sim")
}

/// A link tuned for tests: fast reconnects, a short ping.
pub fn link(sim: &Sim) -> CasparHandle {
    let (caspar, _) = CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ping_interval: 200 * MS,
        ping_timeout: Duration::from_secs(2),
        backoff_initial: 10 * MS,
        backoff_max: 100 * MS,
        ..CasparConfig::default()
    });
    caspar
}

/// One playlist `pl` on 1-10 with `clips`, autoplay off unless `autoplay`.
pub fn playlist(clips: &[&str], autoplay: bool) -> Playlist {
    let mut pl = Playlist::new("pl", "pl", "1-10".parse().expect("layer"));
    pl.autoplay = autoplay;
    for (i, clip) in clips.iter().enumerate() {
        pl.items
            .push_back(Arc::new(Item::new(format!("i{i}"), *clip)).into());
    }
    pl
}

/// An engine driving `main` and `backup` with `playlists`; returns once both sides are connected
/// and every clip's length is known.
pub async fn pair(main: Sim, backup: Sim, playlists: Vec<Playlist>) -> Pair {
    let p = start_pair(main, backup, playlists);
    wait(&p.engine, |s| {
        s.link.servers.len() == 2
            && s.link.servers.iter().all(|v| v.connected && v.in_step)
            && s.playlists
                .iter()
                .all(|p| p.playlist.items.iter().all(|i| i.frames.is_some()))
    })
    .await;
    p
}

/// The engine of [`pair`], returned at once (the sides connect on their own).
pub fn start_pair(main: Sim, backup: Sim, playlists: Vec<Playlist>) -> Pair {
    let shutdown = CancellationToken::new();
    let backup_side = SideDeps {
        name: "backup".into(),
        address: backup.addr().to_string(),
        caspar: link(&backup),
        osc: None,
    };
    let (engine, task) = engine::spawn(EngineDeps {
        config: PlayoutConfig::default(),
        poll_interval: 40 * MS,
        main: ("main".into(), main.addr().to_string()),
        backup: Some(backup_side),
        ..EngineDeps::new(link(&main), playlists, shutdown.clone())
    });
    Pair {
        main,
        backup,
        engine,
        shutdown,
        task: Some(task),
    }
}

/// The view of the server named `name`.
pub fn server<'a>(s: &'a Snapshot, name: &str) -> &'a ServerView {
    s.link
        .servers
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no server {name:?} in {:#?}", s.link.servers))
}

/// What layer 1-10 of `sim` shows: its clip and the frame on screen (in channel frames from the
/// start of the file).
pub fn layer_of(sim: &Sim) -> Option<(String, i64)> {
    sim.with_state(|s| {
        let layer = s.layer(0, 10)?;
        let Producer::Clip(c) = &layer.foreground else {
            return None;
        };
        Some((c.name.to_uppercase(), c.time))
    })
}

/// The drift between the two simulators' layer 1-10 in frames (backup minus main), read at once
/// on both; `None` when they do not show the same clip.
pub fn sim_drift(p: &Pair) -> Option<i64> {
    let (m, b) = (layer_of(&p.main)?, layer_of(&p.backup)?);
    (m.0 == b.0).then_some(b.1 - m.1)
}

/// Commands that change playout, as the simulator received them (`NAME params…`).
pub fn playout_commands(sim: &Sim) -> Vec<String> {
    playout_log(sim)
        .into_iter()
        .map(|r| format!("{} {}", r.name, r.params.join(" ")))
        .collect()
}

/// Commands that change playout with the leader term their `REQ` id carried (`REQ t<term>-<n>`;
/// `None` for a plain id), in the order the simulator executed them.
pub fn playout_terms(sim: &Sim) -> Vec<(Option<u64>, String)> {
    playout_log(sim)
        .into_iter()
        .map(|r| {
            let term = r.req_id.as_deref().and_then(onair::caspar::term_of);
            (term, format!("{} {}", r.name, r.params.join(" ")))
        })
        .collect()
}

/// The simulator's log of executed commands that change playout.
fn playout_log(sim: &Sim) -> Vec<onair::sim::request::SimRequest> {
    sim.command_log()
        .into_iter()
        .filter(|r| {
            matches!(
                r.name,
                "PLAY" | "LOADBG" | "LOAD" | "STOP" | "CLEAR" | "PAUSE" | "RESUME"
            )
        })
        .collect()
}
