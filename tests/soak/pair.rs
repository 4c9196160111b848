//! Pair mode of the soak: what each simulator's layer 1-10 shows, sampled every frame of the
//! sped-up clock, each side's link going down and up, and the engine's view of each side. The
//! analysis of these records into gaps outside downtime is in `gaps.rs`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onair::caspar::CasparHandle;
use onair::playout::engine::EngineHandle;
use onair::sim::Sim;
use onair::sim::producer::Producer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One frame of the soak's simulators (1080i50 at 4×: 100 frames a second). Reading a layer is a
/// lock and a few field reads, so sampling both sides at this rate costs little.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// What a side's layer 1-10 shows at one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shows {
    /// A clip, moving; or its last frame with the next clip armed with AUTO behind it, which the
    /// server takes on the next frame by itself (every AUTO switch shows the last frame once).
    Playing,
    /// A clip's last frame held (it ended with nothing armed behind it) or a paused clip: ours,
    /// but playout stands still.
    Held,
    /// Nothing of ours: an empty layer (after a restart) or something that is not a clip.
    Empty,
}

/// Reads layer 1-10 of `sim` now.
pub fn shows(sim: &Sim) -> Shows {
    sim.with_state(|s| {
        let Some(layer) = s.layer(0, 10) else {
            return Shows::Empty;
        };
        let auto_next = layer.background.is_some() && layer.auto_delta.is_some();
        match &layer.foreground {
            Producer::Clip(_) if layer.paused => Shows::Held,
            Producer::Clip(c) if c.eof && !auto_next => Shows::Held,
            Producer::Clip(_) => Shows::Playing,
            _ => Shows::Empty,
        }
    })
}

/// Layer 1-10 of `sim` in a few words: the foreground clip and position, what waits behind it.
pub fn describe(sim: &Sim) -> String {
    sim.with_state(|s| {
        let Some(l) = s.layer(0, 10) else {
            return "no layer (fresh server)".to_owned();
        };
        let name = |p: &Producer| match p {
            Producer::Clip(c) => c.name.clone(),
            other => other.name().to_owned(),
        };
        let fg = match &l.foreground {
            Producer::Clip(c) => format!(
                "{} at {}/{}{}{}",
                c.name,
                c.time,
                c.end(),
                if c.eof { " (end)" } else { "" },
                if l.paused { " paused" } else { "" }
            ),
            other => other.name().to_owned(),
        };
        let bg = match &l.background {
            Some(b) if l.auto_delta.is_some() => format!("{} AUTO", name(&b.producer)),
            Some(b) => name(&b.producer),
            None => "nothing".to_owned(),
        };
        format!("{fg}; behind: {bg}")
    })
}

/// The engine's view of one side at one moment.
#[derive(Debug, Clone)]
pub struct ViewChange {
    pub at: Instant,
    pub connected: bool,
    pub in_step: bool,
    pub note: Option<String>,
    pub resync_ms: Option<u64>,
}

/// Everything recorded about one side while the soak ran.
#[derive(Debug, Default)]
pub struct Trace {
    /// Each change of what the layer shows (the first entry is the first sample), with a
    /// description of the layer when it stops playing.
    pub shows: Vec<(Instant, Shows, Option<String>)>,
    /// Each change of the daemon's link to it: `true` = connected.
    pub link: Vec<(Instant, bool)>,
    /// Each change of the engine's view of it (connected, in step, note).
    pub views: Vec<ViewChange>,
    /// `resync_ms` each time the engine reported a catch-up done.
    pub resync_ms: Vec<u64>,
}

/// The records of both sides, filled by the recorder tasks.
pub struct Recorder {
    pub traces: Vec<Mutex<Trace>>,
    pub samples: Mutex<u64>,
    /// Longest time between two samples: the sampler's real resolution on a busy machine.
    pub max_step: Mutex<Duration>,
    pub started: Mutex<Option<Instant>>,
    pub stopped: Mutex<Option<Instant>>,
}

/// A running recorder: stop it with [`Recording::stop`].
pub struct Recording {
    pub recorder: Arc<Recorder>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Recording {
    /// Starts recording the links and the engine's views at once; the layers are sampled from
    /// [`Recording::start_sampling`] on (before the first take they legitimately show nothing).
    pub fn start(links: Vec<CasparHandle>, engine: &EngineHandle) -> Recording {
        let recorder = Arc::new(Recorder {
            traces: links.iter().map(|_| Mutex::default()).collect(),
            samples: Mutex::new(0),
            max_step: Mutex::new(Duration::ZERO),
            started: Mutex::new(None),
            stopped: Mutex::new(None),
        });
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        for (side, link) in links.into_iter().enumerate() {
            tasks.push(tokio::spawn(watch_link(
                Arc::clone(&recorder),
                side,
                link,
                stop.clone(),
            )));
        }
        tasks.push(tokio::spawn(watch_views(
            Arc::clone(&recorder),
            engine.watch_snapshot(),
            stop.clone(),
        )));
        Recording {
            recorder,
            stop,
            tasks,
        }
    }

    /// Starts sampling each side's layer every [`SAMPLE_EVERY`].
    pub fn start_sampling(&mut self, sims: Vec<Arc<Sim>>) {
        self.tasks.push(tokio::spawn(sample(
            Arc::clone(&self.recorder),
            sims,
            self.stop.clone(),
        )));
    }

    /// At the end of the run: waits for both sides to be in step and for the allowance after the
    /// last fault to pass (a side that never caught up then shows as a gap at the end), stops
    /// recording and analyses. `at_end[side]` = (link connects, AMCP pending table).
    pub async fn finish(
        self,
        engine: &EngineHandle,
        chaos: &super::chaos::Chaos,
        run_start: Instant,
        at_end: &[(u64, u64)],
    ) -> super::gaps::PairReport {
        super::wait_until(super::SETTLE, || {
            engine
                .snapshot()
                .link
                .servers
                .iter()
                .all(|v| v.connected && v.in_step)
        })
        .await;
        // The one fixed wait: it is the observation window the allowance defines, not a guess.
        tokio::time::sleep(super::gaps::RESYNC_ALLOWANCE).await;
        let rec = self.stop().await;
        let names: Vec<String> = engine
            .snapshot()
            .link
            .servers
            .iter()
            .map(|v| v.name.clone())
            .collect();
        let both = chaos.counts().get("both_sides").copied().unwrap_or(0);
        super::gaps::analyse(&rec, &names, &chaos.windows(), both, run_start, at_end)
    }

    /// Stops every task, waits for them (they hold simulator handles) and returns the records.
    pub async fn stop(self) -> Arc<Recorder> {
        *lock(&self.recorder.stopped) = Some(Instant::now());
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.recorder
    }
}

impl Recorder {
    pub fn trace(&self, side: usize) -> std::sync::MutexGuard<'_, Trace> {
        lock(&self.traces[side])
    }

    pub fn samples(&self) -> u64 {
        *lock(&self.samples)
    }

    pub fn max_step(&self) -> Duration {
        *lock(&self.max_step)
    }

    pub fn started(&self) -> Option<Instant> {
        *lock(&self.started)
    }

    pub fn stopped(&self) -> Instant {
        lock(&self.stopped).unwrap_or_else(Instant::now)
    }
}

/// Samples every side's layer each frame and keeps the changes.
async fn sample(rec: Arc<Recorder>, sims: Vec<Arc<Sim>>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last: Vec<Option<Shows>> = vec![None; sims.len()];
    let mut previous: Option<Instant> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        if let Some(p) = previous {
            let mut max = lock(&rec.max_step);
            *max = (*max).max(now - p);
        } else {
            *lock(&rec.started) = Some(now);
        }
        previous = Some(now);
        *lock(&rec.samples) += 1;
        for (side, sim) in sims.iter().enumerate() {
            let now_shows = shows(sim);
            if last[side] != Some(now_shows) {
                last[side] = Some(now_shows);
                // What the layer holds when it stops playing goes into the gap's report.
                let what = (now_shows != Shows::Playing).then(|| describe(sim));
                rec.trace(side)
                    .shows
                    .push((Instant::now(), now_shows, what));
            }
        }
    }
}

/// Records each change of a side's link state.
async fn watch_link(rec: Arc<Recorder>, side: usize, link: CasparHandle, stop: CancellationToken) {
    let mut rx = link.watch_state();
    let mut last = None;
    loop {
        let up = rx.borrow_and_update().is_connected();
        if last != Some(up) {
            last = Some(up);
            rec.trace(side).link.push((Instant::now(), up));
        }
        tokio::select! {
            () = stop.cancelled() => return,
            changed = rx.changed() => if changed.is_err() { return },
        }
    }
}

/// Records each change of the engine's view of the servers, and each catch-up time it reports.
async fn watch_views(
    rec: Arc<Recorder>,
    mut rx: tokio::sync::watch::Receiver<Arc<onair::playout::engine::Snapshot>>,
    stop: CancellationToken,
) {
    loop {
        let servers = rx.borrow_and_update().link.servers.clone();
        let now = Instant::now();
        for (side, view) in servers.iter().enumerate().take(rec.traces.len()) {
            let mut trace = rec.trace(side);
            let before = trace.views.last().cloned();
            let changed = before.as_ref().is_none_or(|b| {
                b.connected != view.connected
                    || b.in_step != view.in_step
                    || b.note != view.note
                    || b.resync_ms != view.resync_ms
            });
            if !changed {
                continue;
            }
            // A catch-up done shows as a new `resync_ms`, or (when it took as long as the last
            // one) as the side in step right after the note that it was being brought there; the
            // watch may skip that note when the catch-up is quick, but then the value is new.
            let caught_up = before.as_ref().is_some_and(|b| {
                b.resync_ms != view.resync_ms
                    || (!b.in_step
                        && b.note.as_deref() == Some("being brought to the other side's state"))
            });
            if view.in_step
                && caught_up
                && let Some(ms) = view.resync_ms
            {
                trace.resync_ms.push(ms);
            }
            trace.views.push(ViewChange {
                at: now,
                connected: view.connected,
                in_step: view.in_step,
                note: view.note.clone(),
                resync_ms: view.resync_ms,
            });
        }
        tokio::select! {
            () = stop.cancelled() => return,
            changed = rx.changed() => if changed.is_err() { return },
        }
    }
}
