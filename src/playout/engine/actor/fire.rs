//! Firing fixed times: which item a playlist's plan says must be triggered, taking it on its frame,
//! and what the as-run log says about it (see `schedule` for the timing rule).

use super::lanes::Intent;
use super::schedule::LATE_LIMIT_NS;
use super::*;
use crate::playout::engine::state::Status;
use crate::playout::timing::StartMode;
use crate::schedule::{Entry, FrameClock, FrameRate, NANOS_PER_SEC, Plan, Position, Start, State};

/// A fire is due this close to its instant (the timer's granularity is a millisecond).
const FIRE_SLACK_NS: i64 = 500_000;

/// The item a playlist's plan says must be triggered next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fire {
    pub item: String,
    pub hard: bool,
    /// The frame containing its instant, on the planning clock.
    pub due: i64,
    /// Its instant (ns since the epoch), as planned.
    pub instant: i64,
    /// When it starts: its instant, or now when it is late.
    pub at: i64,
    /// When the take leaves (ns since the epoch): three quarters of a frame before `at`.
    pub send: i64,
    /// Nothing plays between the item on air and it, so it may wait in the background.
    pub next_in_time: bool,
    /// The channel frame rate it was planned at.
    pub rate: FrameRate,
}

impl Engine {
    /// Takes every pending fire whose moment came.
    pub(super) fn fire_due(&mut self) {
        let now = self.now_ns();
        let due: Vec<(String, Fire)> = self
            .scheduler
            .plans
            .iter()
            .filter_map(|(id, p)| p.fire.clone().map(|f| (id.clone(), f)))
            .filter(|(_, f)| f.send <= now + FIRE_SLACK_NS)
            .collect();
        for (id, fire) in due {
            if let Some(p) = self.scheduler.plans.get_mut(&id) {
                p.fire = None;
            }
            // Not fired now (no link, autoplay off, held): the next re-plan offers it again, late.
            if !self.may_fire(&id) {
                continue;
            }
            let key = (id.clone(), fire.item.clone(), fire.instant);
            if !self.scheduler.fired.insert(key) {
                continue;
            }
            let how = if fire.hard { "hard" } else { "soft" };
            tracing::info!(playlist = %id, item = %fire.item, how, "schedule: fixed time");
            self.pending_starts.insert(
                (id.clone(), fire.item.clone()),
                PlannedStart {
                    at_ns: fire.instant,
                    due: fire.due,
                    rate: fire.rate,
                    hard: fire.hard,
                },
            );
            let intent = Intent::Take {
                id: id.clone(),
                target: fire.item,
                how,
            };
            self.enqueue_first(&id, intent);
            self.scheduler.touch(&id);
        }
    }

    /// The schedule acts on a playlist in automation (autoplay on) that no one holds.
    fn may_fire(&self, id: &str) -> bool {
        let auto = self.playlists.get(id).is_some_and(|pl| pl.autoplay);
        let held = self
            .playout
            .get(id)
            .is_some_and(|p| p.status() == Status::Held);
        auto && !held
            && self.may_drive()
            && self
                .route(id)
                .is_some_and(|r| self.group_connected(r.group))
    }

    /// How late an item the schedule took started, for the as-run log: (planned instant, frames
    /// late) when it was a scheduled start.
    pub(super) fn planned_start_of(
        &mut self,
        id: &str,
        item: &str,
        at_ms: u64,
    ) -> Option<(PlannedStart, i64)> {
        let p = self
            .pending_starts
            .remove(&(id.to_owned(), item.to_owned()))?;
        let clock = FrameClock::new(0, p.rate);
        let at_ns = i64::try_from(at_ms)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000);
        // CasparCG applies a command on the frame after the one it arrived in, and its answer
        // comes within that frame: the item's first frame is the one after the answer's.
        let late = clock
            .frame_at(at_ns)
            .saturating_add(1)
            .saturating_sub(p.due);
        Some((p, late))
    }

    /// The background `rearm` should establish for the schedule: the item to fire, without AUTO,
    /// once nothing plays before it.
    pub(super) fn scheduled_background(&self, id: &str) -> Option<String> {
        if !self.may_fire(id) {
            return None;
        }
        self.scheduler.background(id).map(|f| f.item.clone())
    }
}

/// A start the schedule made, remembered until the item is on air (for the as-run log).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlannedStart {
    pub at_ns: i64,
    pub due: i64,
    pub rate: FrameRate,
    pub hard: bool,
}

/// The next item the plan says must be triggered: a hard start, or a soft one with a gap before it
/// (or nothing on air). `None` when the next fixed time needs no trigger or passed too long ago.
pub(super) fn fire_of(
    plan: &Plan,
    entries: &[Entry<'_>],
    position: Position,
    now: i64,
    rate: Option<FrameRate>,
) -> Option<Fire> {
    let next = plan.next_fixed?;
    let entry = entries.get(next.index)?;
    let planned = plan.items.get(next.index)?;
    let fixed = planned.fixed?;
    let (hard, at) = match entry.start {
        Start::Hard(at) => (true, at),
        Start::Soft(at) => (false, at),
        Start::Follow => return None,
    };
    let waiting = matches!(position, Position::Waiting { .. });
    // A soft start the item before runs into follows it (AUTO); one with a gap is triggered.
    if !hard && !waiting && fixed.slack.is_none_or(|s| s <= 0) {
        return None;
    }
    if at < now.saturating_sub(LATE_LIMIT_NS) {
        return None;
    }
    // Three quarters of a frame of the channel: any arrival after `at - frame` is never early, and
    // any arrival up to `at` at most one frame late, so this leaves a quarter frame for clocks that
    // disagree and three quarters for the network and a busy loop (half a frame was too little on
    // a loaded 2-core machine at 50 fps). Before the rate is known (no reading yet): three quarters
    // of a frame at the fastest rate CasparCG runs (60 fps), never early at any slower rate.
    let lead = rate.map_or(NANOS_PER_SEC / 80, |r| r.frame_nanos() * 3 / 4);
    let rate = rate.unwrap_or(FrameRate::FPS_25);
    let instant = at;
    // Late (the time passed while nothing could fire it): at once.
    let at = at.max(now);
    let on_air = match position {
        Position::OnAir { index, .. } => Some(index),
        Position::Waiting { .. } => None,
    };
    let from = on_air.map_or(0, |i| i + 1);
    let next_in_time = plan.items.get(from..next.index).is_none_or(|between| {
        between
            .iter()
            .all(|p| matches!(p.state, State::Skipped | State::Past | State::NotScheduled))
    });
    Some(Fire {
        item: entry.id.to_owned(),
        hard,
        due: fixed.due,
        instant,
        at,
        send: at.saturating_sub(lead).max(now),
        next_in_time,
        rate,
    })
}

/// The start mode of an as-run line, when the schedule started the item.
pub(super) fn start_mode(hard: bool) -> StartMode {
    if hard {
        StartMode::Hard
    } else {
        StartMode::Soft
    }
}
