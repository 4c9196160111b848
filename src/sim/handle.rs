//! Starting a simulator and controlling it: the library API used by `onair sim`, the demo and tests.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::clock::{self, ClockMode};
use super::control::SimControl;
use super::dialect::Dialect;
use super::faults::Faults;
use super::frame_clock::SimFrameClock;
use super::media::{SimMedia, VideoFormat};
use super::model::SimState;
use super::osc::OscSender;
use super::server::{self, Shared};
use super::takes::{self, FrameTiming, TakeRecord};

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// AMCP listen address; port 0 picks a free port (see [`Sim::addr`]).
    pub listen: SocketAddr,
    pub dialect: Dialect,
    /// One video format per channel.
    pub formats: Vec<VideoFormat>,
    pub media: SimMedia,
    /// Every AMCP client's IP receives OSC on this UDP port, as on the real server; 0 disables that.
    pub osc_port: u16,
    pub clock: ClockMode,
}

impl SimConfig {
    /// A 2.4 simulator on `127.0.0.1:0` with one 1080i5000 channel, the virtual library of 20 clips,
    /// no automatic OSC, and a stepped clock: the usual starting point for tests.
    pub fn for_tests() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            dialect: Dialect::V24,
            formats: vec![VideoFormat::parse("1080i5000").unwrap_or_default()],
            media: SimMedia::virtual_library(20),
            osc_port: 0,
            clock: ClockMode::Stepped,
        }
    }
}

/// A running simulator. Dropping it stops every task.
pub struct Sim {
    pub(super) shared: Arc<Shared>,
    addr: SocketAddr,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Sim {
    /// Binds the listener and starts the queues, the clock and the OSC sender.
    pub async fn start(config: SimConfig) -> io::Result<Sim> {
        // The OS error alone ("Address already in use") does not say which address.
        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.listen))
        })?;
        let addr = listener.local_addr()?;
        let osc = OscSender::new()?;
        let timing = frame_timing(&config);
        let state = SimState::new(config.dialect, config.formats.clone(), config.media);
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let shared = server::build(
            config.dialect,
            state,
            osc,
            config.osc_port,
            timing.clone(),
            &tracker,
            &shutdown,
        );
        tracker.spawn(server::listen(
            shared.clone(),
            Some(listener),
            addr,
            tracker.clone(),
            shutdown.clone(),
        ));
        if timing.wall {
            for (ch, frame_clock) in timing.clocks.iter().enumerate() {
                tracker.spawn(clock::run_channel(
                    shared.clone(),
                    ch,
                    *frame_clock,
                    timing.anchor,
                    if timing.runtime_wall.is_some() {
                        clock::VIRTUAL_BATCH
                    } else {
                        1
                    },
                    shutdown.clone(),
                ));
            }
        }
        tracing::info!(%addr, dialect = %config.dialect, channels = config.formats.len(), "sim: listening");
        Ok(Sim {
            shared,
            addr,
            tracker,
            shutdown,
        })
    }

    /// The AMCP address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Advances every channel by `frames` frames (for [`ClockMode::Stepped`]; also works alongside a
    /// running clock).
    pub fn step(&self, frames: u32) {
        for _ in 0..frames {
            for ch in 0..self.shared.channels {
                clock::tick(&self.shared, ch, None);
            }
        }
    }

    /// Inspects or changes the model directly. Foreground changes made inside (e.g. by running
    /// `exec::execute`) enter the take log as commands executed when `f` returns.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut SimState) -> R) -> R {
        let mut state = self.shared.state();
        clock::catch_up_all(&self.shared, &mut state);
        let r = f(&mut state);
        self.shared.stamp_takes(&mut state, None);
        r
    }

    /// The frame grid of channel `channel` (0-based, as in [`Sim::with_state`]): frame `k` starts
    /// at `anchor + k × period`, the anchor being the instant the simulator started. With
    /// [`ClockMode::Speed`] the rate is the accelerated one; with [`ClockMode::Stepped`] nothing
    /// ticks on it (the take log counts ticks instead), but the grid is still reported.
    ///
    /// # Panics
    /// If the simulator has no such channel.
    pub fn frame_clock(&self, channel: usize) -> SimFrameClock {
        match self.shared.timing.clocks.get(channel) {
            Some(c) => *c,
            None => panic!(
                "frame_clock({channel}): the simulator has {} channel(s), numbered from 0",
                self.shared.timing.clocks.len()
            ),
        }
    }

    /// The runtime instant at which the frame grid starts, with that start as Unix nanoseconds: an
    /// engine clock built on both (`playout::engine::RuntimeClock`) counts frames exactly as this
    /// simulator does with [`ClockMode::Virtual`].
    pub fn anchor(&self) -> (Instant, i64) {
        let unix = self
            .shared
            .timing
            .clocks
            .first()
            .map_or(0, |c| c.anchor_unix_ns);
        (self.shared.timing.anchor, unix)
    }

    /// Every recorded change of a layer's foreground (the last `takes::TAKE_LOG_LEN`), oldest
    /// first, with the frame it became visible on (see [`super::takes`] for the semantics).
    pub fn take_log(&self) -> Vec<TakeRecord> {
        let log = self
            .shared
            .take_log
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        log.iter().cloned().collect()
    }

    /// Every template page on the channels (what `CG ADD` loaded and the later `CG` calls did to
    /// it: template, playing, the data as received), by channel and layer.
    pub fn templates(&self) -> Vec<super::cg::TemplateInstance> {
        self.shared.state().templates()
    }

    /// The take log's records so far, oldest first, leaving it empty: a long run collects them as
    /// it goes, so none falls off the end of the log.
    pub fn drain_take_log(&self) -> Vec<TakeRecord> {
        let mut log = self
            .shared
            .take_log
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *log).into()
    }

    /// Forgets the take log.
    pub fn clear_take_log(&self) {
        self.shared
            .take_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The fault switches: stall, reply delay, garbage, per-command processing delay.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Closes every open AMCP connection now (the listener stays up).
    pub fn drop_connections(&self) {
        self.shared.drop_connections();
    }

    /// While `true`, new connections are refused (the port is closed: ECONNREFUSED). Existing
    /// connections stay open. The listener task applies the change asynchronously; await
    /// [`Sim::wait_listening`] before relying on it (until then a connect may still be accepted).
    pub fn set_refuse_connections(&self, refuse: bool) {
        self.control().set_refuse_connections(refuse);
    }

    /// Waits until the AMCP port is actually open (`true`) or closed (`false`), i.e. until the last
    /// [`Sim::set_refuse_connections`] has taken effect.
    pub async fn wait_listening(&self, listening: bool) {
        self.control().wait_listening(listening).await;
    }

    /// Simulates a server restart: connections dropped, queued commands lost, the port closed for
    /// `downtime`, then back with empty channels. When this returns the port accepts again.
    pub async fn restart(&self, downtime: Duration) {
        self.control().restart(downtime).await;
    }

    /// A handle on the faults and connections that outlives borrows of the `Sim` (for the control
    /// port of `onair sim`, see [`super::control`]).
    pub fn control(&self) -> SimControl {
        SimControl::new(Arc::clone(&self.shared))
    }

    /// Stops or restarts the OSC stream without touching AMCP.
    pub fn set_osc_enabled(&self, enabled: bool) {
        self.shared.osc.set_enabled(enabled);
    }

    /// Open AMCP connections.
    pub fn connection_count(&self) -> usize {
        *self.shared.connections().borrow()
    }

    /// Waits until exactly `n` AMCP connections are open.
    pub async fn wait_for_connections(&self, n: usize) {
        let mut rx = self.shared.connections();
        let _ = rx.wait_for(|c| *c == n).await;
    }

    /// The most recent commands executed (at most `server::COMMAND_LOG_LEN`), oldest first: what
    /// clients made the server do, for assertions such as "no STOP or CLEAR was sent".
    pub fn command_log(&self) -> Vec<super::request::SimRequest> {
        let log = self
            .shared
            .command_log
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        log.iter().cloned().collect()
    }

    /// Forgets the command log.
    pub fn clear_command_log(&self) {
        self.shared
            .command_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Commands executed by the queues so far.
    pub fn commands_executed(&self) -> u64 {
        self.shared.commands_executed.load(Ordering::Relaxed)
    }

    /// Stops the simulator and waits for its tasks to finish.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Fixes the frame grid: the anchor as Unix time and as a monotonic instant, captured back to back
/// (the clock tasks sleep on the monotonic one, commands are stamped with the wall clock), and each
/// channel's tick rate, accelerated for [`ClockMode::Speed`].
fn frame_timing(config: &SimConfig) -> FrameTiming {
    // Wall time first: the monotonic anchor is then at or after it, so a tick (which sleeps on the
    // monotonic clock) can be late on the wall-clock grid but never early.
    let (anchor_unix_ns, runtime_wall) = match config.clock {
        ClockMode::Virtual { start_unix_ns } => (start_unix_ns, Some(start_unix_ns)),
        _ => (takes::now_unix_ns(), None),
    };
    let anchor = Instant::now();
    let speed = match config.clock {
        ClockMode::Realtime | ClockMode::Virtual { .. } => Some(1.0),
        ClockMode::Speed(f) if f.is_finite() && f > 0.0 => Some(f),
        ClockMode::Speed(_) | ClockMode::Stepped => None,
    };
    let clocks = config
        .formats
        .iter()
        .map(|format| {
            let (num, den) = config.dialect.tick_rate(format);
            let nominal = SimFrameClock::new(anchor_unix_ns, num, den);
            match speed {
                Some(s) if s != 1.0 => nominal.accelerated(s).unwrap_or(nominal),
                _ => nominal,
            }
        })
        .collect();
    FrameTiming {
        anchor,
        clocks,
        wall: speed.is_some(),
        runtime_wall,
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[cfg(test)]
#[path = "frames_tests.rs"]
mod frames_tests;
