//! The take log: on which frame each change of what a layer shows became visible.
//!
//! Recorded: a new foreground (`PLAY`, `LOAD`, AUTO), a foreground taken off (`STOP`, `CLEAR`),
//! template calls (`CG ADD/PLAY/STOP/NEXT/UPDATE/REMOVE`) and opacity changes (`MIXER … OPACITY`).
//! The model ([`super::model`]) stays free of clocks: it only notes *that* something changed (a
//! [`TakeEvent`]). Whoever ran the command or the tick then stamps the event with a frame number
//! ([`FrameTiming`]) and appends a [`TakeRecord`] to the bounded log, so tests can check that a
//! "hard start" landed on the frame it was scheduled for.
//!
//! Semantics (a genlocked server whose channel applies a command on its next frame):
//! - a command executed at Unix time `a` is visible on frame `frame_at(a) + 1`, the first frame that
//!   starts after `a`;
//! - an AUTO promotion on a tick is visible on the frame that tick produces (tick `k` → frame `k`);
//! - with a stepped clock there is no wall time: frame numbers count the channel's ticks, so a
//!   command after `n` ticks is visible on frame `n + 1` and an AUTO on the `n`-th tick on frame `n`.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::frame_clock::SimFrameClock;
use super::model::SimState;
use super::producer::{Producer, TemplateHost};

/// Take records kept by `Sim::take_log` (older ones are dropped), and the most events the model
/// holds for stamping when nobody drains them (a `SimState` used on its own, as in unit tests).
pub const TAKE_LOG_LEN: usize = 10_000;

/// What changed what a layer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TakeHow {
    /// `PLAY n-l CLIP` (a clip, a still, a colour).
    Play,
    /// `PLAY n-l` without a clip, promoting the waiting background.
    Promote,
    /// `LOAD n-l CLIP`, or 2.4+ `LOAD n-l` promoting the background paused.
    Load,
    /// `LOADBG … AUTO`: promoted on a tick when the foreground ran out, or at once when the LOADBG
    /// found the foreground empty (then stamped like a command).
    Auto,
    /// `STOP n-l` took a foreground off (`clip` is what it showed).
    Stop,
    /// `CLEAR n-l`, `CLEAR n`, `CLEAR ALL` or `CG n-l CLEAR` removed a layer that showed something
    /// (`clip` is what it showed; one record per such layer).
    Clear,
    /// `CG ADD … 0`: a new template page loaded, not played (`clip` is the template).
    CgAdd,
    /// `CG ADD … 1` or `CG PLAY`: the template's `play()` called.
    CgPlay,
    /// `CG STOP`: the template's `stop()` called.
    CgStop,
    /// `CG NEXT`: the template's `next()` called.
    CgNext,
    /// `CG UPDATE`: new data sent to the template.
    CgUpdate,
    /// `CG REMOVE`: the page removed itself.
    CgRemove,
    /// `MIXER n-l OPACITY` (or its `DEFER`red change at `MIXER n COMMIT`, or a `MIXER … CLEAR`
    /// that reset an opacity): see [`TakeRecord::opacity`]; `clip` is what the layer shows.
    Opacity,
}

impl TakeHow {
    /// Something new started showing on the layer (`PLAY`, a promoted background, `AUTO`): what a
    /// schedule counts as a take. `LOAD` (shown paused), `STOP`, `CLEAR` and the graphics calls
    /// are not.
    pub fn is_start(self) -> bool {
        matches!(self, TakeHow::Play | TakeHow::Promote | TakeHow::Auto)
    }
}

/// The opacity a [`TakeHow::Opacity`] record set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpacityChange {
    /// The target opacity (0 transparent, 1 opaque).
    pub opacity: f64,
    /// The tween's length in frames (0: at once). The record's frame is the tween's first frame
    /// (already one step along); the target is reached `frames − 1` frames after it.
    pub frames: u32,
}

/// A change noted by the model, not yet given a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TakeEvent {
    /// 0-based channel index, as in the rest of the simulator's API.
    pub channel: usize,
    pub layer: i32,
    /// What the record is about (see [`TakeRecord::clip`]).
    pub clip: String,
    pub how: TakeHow,
    pub opacity: Option<OpacityChange>,
}

/// One change of what a layer shows, with the frame it became visible on.
#[derive(Debug, Clone, PartialEq)]
pub struct TakeRecord {
    /// 0-based channel index (`PLAY 1-10` is channel 0), as in `Sim::frame_clock` and `with_state`.
    pub channel: usize,
    pub layer: i32,
    /// For `Play`, `Promote`, `Load`, `Auto`, `Opacity`: what the foreground now shows: the clip
    /// name as the command gave it (`CLIP1`), an image's name, a colour (`#00000000` for
    /// `CLEAR_ON_404`), a template's name, or the producer kind for anything else. For `Stop` and
    /// `Clear`: what it showed before. For the `Cg…` kinds: the template name as `CG ADD` gave it.
    pub clip: String,
    /// The first frame showing it: on the channel's [`SimFrameClock`] with a real-time or
    /// accelerated clock, the channel's tick count with a stepped one.
    pub frame: i64,
    /// Unix time (ns, from `SystemTime`) at which the command or tick changed the model.
    pub executed_unix_ns: i64,
    pub how: TakeHow,
    /// The opacity set, for [`TakeHow::Opacity`]; `None` for the other kinds.
    pub opacity: Option<OpacityChange>,
}

/// The clip name a take record carries for a producer.
pub(crate) fn clip_name(producer: &Producer) -> String {
    match producer {
        Producer::Clip(c) => c.name.clone(),
        Producer::Image { name, .. } => name.clone(),
        Producer::Color { color } => color.clone(),
        Producer::Template(TemplateHost {
            page: Some(page), ..
        }) => page.template.clone(),
        other => other.name().to_string(),
    }
}

/// Now, as Unix nanoseconds (negative before 1970; saturating after 2262).
pub fn now_unix_ns() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// How a simulator turns "now" into frame numbers.
#[derive(Debug, Clone)]
pub(crate) struct FrameTiming {
    /// The monotonic instant matching every clock's `anchor_unix_ns` (captured together at start):
    /// the realtime clock tasks sleep until `anchor + (start_of(k) − anchor_unix_ns)`.
    pub(crate) anchor: Instant,
    /// One clock per channel; accelerated in `ClockMode::Speed`.
    pub(crate) clocks: Vec<SimFrameClock>,
    /// `false` for a stepped clock: frames are tick counts, not wall time.
    pub(crate) wall: bool,
    /// `Some(anchor_unix_ns)` for [`super::ClockMode::Virtual`]: "now" is that plus the runtime
    /// clock's time since `anchor`, not the machine's wall clock.
    pub(crate) runtime_wall: Option<i64>,
}

impl FrameTiming {
    /// Now, as Unix nanoseconds on this simulator's clock: the machine's wall clock, or for a
    /// virtual clock the runtime clock's time since the anchor added to the grid's start.
    pub(crate) fn now_unix_ns(&self) -> i64 {
        match self.runtime_wall {
            Some(start) => {
                let since = i64::try_from(self.anchor.elapsed().as_nanos()).unwrap_or(i64::MAX);
                start.saturating_add(since)
            }
            None => now_unix_ns(),
        }
    }

    /// The frame on which a command executed at `now_ns` on channel `ch` becomes visible.
    fn command_frame(&self, state: &SimState, ch: usize, now_ns: i64) -> i64 {
        match self.clocks.get(ch) {
            Some(clock) if self.wall => clock.frame_at(now_ns).saturating_add(1),
            _ => ticks(state, ch).saturating_add(1),
        }
    }

    /// The frame a tick just produced: `scheduled` when the realtime clock task knows it, else the
    /// frame whose time it is (a `Sim::step` alongside a running clock) or the tick count (stepped).
    fn tick_frame(&self, state: &SimState, ch: usize, now_ns: i64, scheduled: Option<i64>) -> i64 {
        match (scheduled, self.clocks.get(ch)) {
            (Some(k), _) => k,
            (None, Some(clock)) if self.wall => clock.frame_at(now_ns),
            _ => ticks(state, ch),
        }
    }

    /// Stamps the model's pending events as the effect of commands executed at Unix time `now`.
    pub(crate) fn stamp_commands(
        &self,
        state: &mut SimState,
        now: i64,
        log: &mut VecDeque<TakeRecord>,
    ) {
        for event in std::mem::take(&mut state.pending_takes) {
            let frame = self.command_frame(state, event.channel, now);
            push(log, record(event, frame, now));
        }
    }

    /// Stamps the model's pending events as the effect of a tick of channel `ch` that ran at Unix
    /// time `now`: AUTO promotions on the tick's frame.
    pub(crate) fn stamp_tick(
        &self,
        state: &mut SimState,
        ch: usize,
        scheduled: Option<i64>,
        now: i64,
        log: &mut VecDeque<TakeRecord>,
    ) {
        let frame = self.tick_frame(state, ch, now, scheduled);
        for event in std::mem::take(&mut state.pending_takes) {
            push(log, record(event, frame, now));
        }
    }
}

fn ticks(state: &SimState, ch: usize) -> i64 {
    state.channels.get(ch).map_or(0, |c| c.ticks)
}

fn record(event: TakeEvent, frame: i64, executed_unix_ns: i64) -> TakeRecord {
    TakeRecord {
        channel: event.channel,
        layer: event.layer,
        clip: event.clip,
        frame,
        executed_unix_ns,
        how: event.how,
        opacity: event.opacity,
    }
}

/// Appends to a ring of at most [`TAKE_LOG_LEN`] entries.
pub(crate) fn push<T>(ring: &mut VecDeque<T>, item: T) {
    if ring.len() >= TAKE_LOG_LEN {
        ring.pop_front();
    }
    ring.push_back(item);
}

#[cfg(test)]
#[path = "takes_tests.rs"]
mod tests;
