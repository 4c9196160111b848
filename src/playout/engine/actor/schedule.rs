//! The 24/7 schedule in the engine: each playlist's timeline planned from what is on air, hard and
//! soft starts fired on their frame, and the timelines published (docs/operations.md, "Planning a
//! day").
//!
//! Planning itself is pure ([`crate::schedule`]); this module builds the planner's input from the
//! playlists and their playout, keeps one plan per playlist and acts on it:
//!
//! - A fixed-time item that must be triggered (a hard start, or a soft start with a gap before
//!   it) is loaded into the background *without* AUTO as soon as nothing else will play before it
//!   (so an item ending early can never start it early), and taken three quarters of a frame
//!   before its instant. Whatever the server's frame phase, a command that lands within the frame
//!   before its instant takes effect on the frame containing the instant or the one after: never
//!   early, at most one frame late, with a quarter frame of margin for disagreeing clocks and
//!   three quarters for the network and the timer.
//! - A soft start whose previous item runs past its time needs no trigger: it follows through
//!   `LOADBG … AUTO` like any item.
//! - Re-planning is coalesced (changes within 100 ms share one plan), and playlists with something
//!   on air or a fixed time ahead are re-planned every second: an item running past its planned
//!   end moves everything after it.

use std::collections::HashSet;

use jiff::Timestamp;
use tokio::time::Instant;

use super::fire::{Fire, fire_of};
use super::*;
use crate::playout::timing;
use crate::protocol::timeline::{StationView, TimelineView};
use crate::schedule::{
    EndPolicy, Entry, FrameClock, FrameRate, Input, NANOS_PER_SEC, Position, Start, Station,
};

/// Changes within this long share one re-plan.
const REPLAN_DELAY: Duration = Duration::from_millis(100);
/// Playlists on air or with a fixed time ahead are re-planned this often.
const REPLAN_EVERY: Duration = Duration::from_secs(1);
/// Timelines reach clients at most this often.
const TIMELINE_EVERY: Duration = Duration::from_secs(1);
/// A fixed time that passed longer ago than this (the daemon was down, or the item was scheduled
/// in the past) is reported as missed instead of being started late.
pub(super) const LATE_LIMIT_NS: i64 = 10 * 60 * NANOS_PER_SEC;
pub(super) struct PlaylistPlan {
    view: TimelineView,
    pub(super) fire: Option<Fire>,
    /// Whether it is re-planned every second.
    live: bool,
}

/// The schedule's state in the engine.
pub(crate) struct Scheduler {
    station: Station,
    station_view: Option<StationView>,
    preroll: Duration,
    pub(super) plans: HashMap<String, PlaylistPlan>,
    dirty: HashSet<String>,
    replan_at: Option<Instant>,
    next_periodic: Instant,
    published: Arc<Timelines>,
    timeline_dirty: bool,
    next_timeline: Instant,
    /// (playlist, item, instant) already taken by the schedule: never twice.
    pub(super) fired: HashSet<(String, String, i64)>,
    /// Fixed times reported as missed (one alarm each).
    missed: HashSet<(String, String, i64)>,
    /// Per playlist, the unfilled gap alarmed: (the fixed item it precedes, the alarm's text).
    gap_alarms: HashMap<String, (String, String)>,
}

impl Scheduler {
    pub(crate) fn new(config: &PlayoutConfig) -> (Scheduler, Option<String>) {
        let (tz, problem) = match config.time_zone() {
            Ok(tz) => (tz, None),
            Err(e) => (
                jiff::tz::TimeZone::UTC,
                Some(format!("{e}; planning in UTC (set playout.timezone)")),
            ),
        };
        let now = Instant::now();
        let scheduler = Scheduler {
            station: Station::new(tz, config.day_start),
            station_view: None,
            preroll: config.preroll,
            plans: HashMap::new(),
            dirty: HashSet::new(),
            replan_at: Some(now),
            next_periodic: now,
            published: Arc::default(),
            timeline_dirty: true,
            next_timeline: now,
            fired: HashSet::new(),
            missed: HashSet::new(),
            gap_alarms: HashMap::new(),
        };
        (scheduler, problem)
    }

    /// Playlist `id` changed: re-plan it soon.
    pub(crate) fn touch(&mut self, id: &str) {
        if !self.dirty.contains(id) {
            self.dirty.insert(id.to_owned());
        }
        if self.replan_at.is_none() {
            self.replan_at = Some(Instant::now() + REPLAN_DELAY);
        }
    }

    /// When the engine loop must next call [`Engine::on_schedule`].
    pub(crate) fn deadline(&self) -> Instant {
        let mut at = self.next_periodic;
        if let Some(r) = self.replan_at {
            at = at.min(r);
        }
        if self.timeline_dirty {
            at = at.min(self.next_timeline);
        }
        let now_ns = now_ns();
        for fire in self.plans.values().filter_map(|p| p.fire.as_ref()) {
            let wait = u64::try_from(fire.send.saturating_sub(now_ns)).unwrap_or(0);
            at = at.min(Instant::now() + Duration::from_nanos(wait));
        }
        at
    }

    /// The background a playlist's plan asks for: its pending fire, once nothing else plays
    /// before it.
    pub(super) fn background(&self, id: &str) -> Option<&Fire> {
        self.plans
            .get(id)
            .and_then(|p| p.fire.as_ref())
            .filter(|f| f.next_in_time && !self.was_fired(id, f))
    }

    pub(super) fn was_fired(&self, id: &str, f: &Fire) -> bool {
        self.fired
            .contains(&(id.to_owned(), f.item.clone(), f.instant))
    }

    /// Forgets fired and missed times older than two days (they can no longer come up).
    fn prune(&mut self, now: i64) {
        let keep = |k: &(String, String, i64)| k.2 > now.saturating_sub(2 * 86_400 * NANOS_PER_SEC);
        self.fired.retain(keep);
        self.missed.retain(keep);
    }
}

/// Nanoseconds since the Unix epoch, now.
pub(super) fn now_ns() -> i64 {
    crate::schedule::zone::to_nanos(Timestamp::now()).unwrap_or(0)
}

impl Engine {
    /// The schedule's timer: re-plan what changed, fire what is due, publish timelines.
    pub(super) fn on_schedule(&mut self) {
        let now = Instant::now();
        if now >= self.scheduler.next_periodic {
            self.scheduler.next_periodic = now + REPLAN_EVERY;
            let live: Vec<String> = self
                .scheduler
                .plans
                .iter()
                .filter(|(_, p)| p.live)
                .map(|(id, _)| id.clone())
                .collect();
            self.scheduler.dirty.extend(live);
            self.scheduler.prune(now_ns());
            self.refresh_station();
            self.scheduler.replan_at = Some(now);
        }
        if self.scheduler.replan_at.is_some_and(|r| r <= now) {
            self.scheduler.replan_at = None;
            let dirty: Vec<String> = self.scheduler.dirty.drain().collect();
            for id in dirty {
                self.replan(&id);
            }
        }
        self.fire_due();
        if self.scheduler.timeline_dirty && now >= self.scheduler.next_timeline {
            self.publish_timelines();
        }
    }

    fn refresh_station(&mut self) {
        let now = Timestamp::now();
        let st = &self.scheduler.station;
        let tz = st.time_zone();
        let view = StationView {
            timezone: tz.iana_name().unwrap_or("UTC").to_owned(),
            day_start: crate::config::format_day_start(st.day_start()),
            air_date: st
                .air_date_of(now)
                .map_or_else(|_| String::new(), |d| d.to_string()),
            utc_offset_s: tz.to_offset(now).seconds(),
        };
        if self.scheduler.station_view.as_ref() != Some(&view) {
            self.scheduler.station_view = Some(view);
            self.scheduler.timeline_dirty = true;
        }
    }

    /// Plans playlist `id` again, and re-arms its background when what must fire changed.
    fn replan(&mut self, id: &str) {
        let Some(pl) = self.playlists.get(id) else {
            if self.scheduler.plans.remove(id).is_some() {
                self.scheduler.timeline_dirty = true;
            }
            return;
        };
        let now = now_ns();
        let ch = pl.channel_layer.channel;
        let known_rate = self
            .frame_rates
            .get(&ch)
            .and_then(|&(n, d)| FrameRate::new(n, d));
        let rate = known_rate.unwrap_or(FrameRate::FPS_25);
        let air_date = pl
            .air_date
            .as_deref()
            .and_then(|d| timing::validate_air_date(d).ok())
            .or_else(|| self.scheduler.station.air_date_of(Timestamp::now()).ok());
        let runtime = self.playout.get(id);
        let position = match runtime.and_then(|r| r.on_air().zip(r.on_air_since_ms())) {
            Some((item, since)) if pl.index_of(item).is_some() => Position::OnAir {
                index: pl.index_of(item).unwrap_or(0),
                started: i64::try_from(since).unwrap_or(0).saturating_mul(1_000_000),
            },
            _ => Position::Waiting {
                next: self.next_of(id).and_then(|n| pl.index_of(&n)).unwrap_or(0),
            },
        };
        let upcoming = match position {
            Position::OnAir { index, .. } => index + 1,
            Position::Waiting { next } => next,
        };
        let station = &self.scheduler.station;
        let mut missed = Vec::new();
        let entries: Vec<Entry<'_>> = pl
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let mut start = air_date
                    .and_then(|d| timing::planned_start(item, station, d).ok())
                    .unwrap_or(Start::Follow);
                // A time long past is missed, not planned: it would cut the air at every re-plan.
                if let Start::Hard(at) | Start::Soft(at) = start
                    && i >= upcoming
                    && at < now.saturating_sub(LATE_LIMIT_NS)
                {
                    missed.push((item.id.clone(), at));
                    start = Start::Follow;
                }
                Entry {
                    id: &item.id,
                    frames: timing::channel_frames(item, rate),
                    overlap: item.transition.frames,
                    start,
                }
            })
            .collect();
        let horizon = self
            .scheduler
            .station
            .next_day_start(crate::schedule::zone::from_nanos(now))
            .ok()
            .and_then(|t| crate::schedule::zone::to_nanos(t).ok())
            .unwrap_or(now.saturating_add(86_400 * NANOS_PER_SEC));
        let input = Input {
            entries: &entries,
            position,
            now,
            horizon,
            clock: FrameClock::new(0, rate),
            filler: None,
            // What CasparCG does today when the rundown ends: the last frame stays on the layer.
            // (An end action and fillers are configurable once they exist.)
            end: EndPolicy::Hold,
        };
        let plan = crate::schedule::plan(&input);
        let view = TimelineView::from_plan(&plan, &entries, pl.revision);
        let on_air = matches!(position, Position::OnAir { .. });
        let fire = fire_of(&plan, &entries, position, now, known_rate)
            .filter(|f| !self.scheduler.was_fired(id, f));
        let live = on_air || plan.next_fixed.is_some();
        let gap = first_unfilled_gap(&plan, &entries, now).filter(|_| pl.autoplay);
        let old = self.scheduler.plans.insert(
            id.to_owned(),
            PlaylistPlan {
                view,
                fire: fire.clone(),
                live,
            },
        );
        let changed_view =
            old.as_ref().map(|o| &o.view) != self.scheduler.plans.get(id).map(|p| &p.view);
        if changed_view {
            self.scheduler.timeline_dirty = true;
        }
        for (item, instant) in missed {
            self.report_missed(id, &item, instant);
        }
        self.gap_alarm(id, gap);
        let old_fire = old.and_then(|o| o.fire);
        if old_fire != fire {
            if let Some(f) = fire.as_ref().filter(|f| f.next_in_time) {
                let ahead = Duration::from_nanos(u64::try_from(f.at - now).unwrap_or(0));
                let was_next = old_fire
                    .as_ref()
                    .is_some_and(|o| o.item == f.item && o.next_in_time);
                if !was_next && ahead < self.scheduler.preroll {
                    // Something played until now: the item could not be loaded any earlier.
                    tracing::warn!(
                        playlist = id,
                        item = %f.item,
                        ahead_ms = ahead.as_millis(),
                        preroll_ms = self.scheduler.preroll.as_millis(),
                        "schedule: fixed-time item loaded less than the preroll before its time"
                    );
                }
            }
            self.rearm(id);
        }
    }

    /// Raises the alarm for the first unfilled gap ahead (once per fixed item it precedes) and
    /// clears it when the gap is gone.
    fn gap_alarm(&mut self, id: &str, gap: Option<(String, i64, i64)>) {
        let current = self.scheduler.gap_alarms.get(id).cloned();
        if current.as_ref().map(|c| &c.0) == gap.as_ref().map(|g| &g.0) {
            return;
        }
        if let Some((_, message)) = current {
            self.scheduler.gap_alarms.remove(id);
            self.clear_alarm("schedule", &message);
        }
        if let Some((before, start_ns, length_ns)) = gap {
            let label = self.item_label(id, &before);
            let start = crate::schedule::zone::from_nanos(start_ns)
                .to_zoned_datetime(self.scheduler.station.time_zone().clone())
                .strftime("%H:%M:%S")
                .to_string();
            let message = format!(
                "playlist {id:?}: a gap of {:.1} s at {start} before {label} with no filler: the \
                 channel will show the last frame of the item before it",
                length_ns as f64 / NANOS_PER_SEC as f64
            );
            self.scheduler
                .gap_alarms
                .insert(id.to_owned(), (before, message.clone()));
            self.raise(Severity::Warning, "schedule", message);
        }
    }

    fn report_missed(&mut self, id: &str, item: &str, instant: i64) {
        let key = (id.to_owned(), item.to_owned(), instant);
        if self.scheduler.missed.insert(key) {
            let title = self.item_label(id, item);
            self.raise(
                Severity::Warning,
                "schedule",
                format!(
                    "the fixed time of {title} passed more than 10 minutes ago with the item not \
                     on air: not started late (take it by hand if it should still play)"
                ),
            );
        }
    }

    /// An item's title, or its clip, for operators' messages.
    pub(super) fn item_label(&self, id: &str, item: &str) -> String {
        self.playlists
            .get(id)
            .and_then(|pl| pl.item(item))
            .map_or_else(
                || item.to_owned(),
                |it| format!("{:?}", it.title.clone().unwrap_or_else(|| it.clip.clone())),
            )
    }

    fn publish_timelines(&mut self) {
        let mut playlists = BTreeMap::new();
        for (id, p) in &self.scheduler.plans {
            playlists.insert(id.clone(), p.view.clone());
        }
        let timelines = Timelines {
            planned_ms: now_ns() / 1_000_000,
            station: self.scheduler.station_view.clone(),
            playlists,
        };
        self.scheduler.published = Arc::new(timelines);
        self.timeline_tx
            .send_replace(self.scheduler.published.clone());
        self.scheduler.timeline_dirty = false;
        self.scheduler.next_timeline = Instant::now() + TIMELINE_EVERY;
    }
}

/// Alarms look this far ahead for a gap.
const GAP_LOOKAHEAD_NS: i64 = 3_600 * NANOS_PER_SEC;

/// The first gap before a fixed item that nothing fills and that starts within the lookahead:
/// (the item it precedes, its start and length in ns).
fn first_unfilled_gap(
    plan: &crate::schedule::Plan,
    entries: &[Entry<'_>],
    now: i64,
) -> Option<(String, i64, i64)> {
    plan.unfilled()
        .filter_map(|g| Some((g.before?, g)))
        .map(|(before, g)| {
            (
                before,
                plan.instant(g.start),
                plan.clock.rate.frames_to_nanos(g.frames),
            )
        })
        .find(|&(_, start, length)| start <= now.saturating_add(GAP_LOOKAHEAD_NS) && length > 0)
        .and_then(|(before, start, length)| {
            Some((entries.get(before)?.id.to_owned(), start, length))
        })
}
