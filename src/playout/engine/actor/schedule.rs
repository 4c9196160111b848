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

use tokio::time::Instant;

use super::fire::{Fire, fire_of};
use super::schedule_checks::STEP_TOLERANCE_NS;
use super::*;
use crate::playout::fill::EndAction;
use crate::playout::timing;
use crate::protocol::timeline::{StationView, TimelineView};
use crate::schedule::{
    AnchoredWall, Clock, EndPolicy, Entry, Filler, FrameClock, FrameRate, Input, NANOS_PER_SEC,
    Position, Start, Station,
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
    /// The plan has a gap filled by the filler right after the item on air.
    filler_follows: bool,
}

/// The schedule's state in the engine.
pub(crate) struct Scheduler {
    pub(super) station: Station,
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
    pub(super) missed: HashSet<(String, String, i64)>,
    /// Per playlist, the unfilled gap alarmed: (the fixed item it precedes, or "" for the end of
    /// the rundown; the alarm's text).
    pub(super) gap_alarms: HashMap<String, (String, String)>,
    /// Per filler playlist, the sequence number of its next play.
    pub(super) filler_seq: HashMap<String, u64>,
    /// Layers where `EMPTY` waits with AUTO behind a rundown's last item, and that rundown.
    pub(super) black_armed: HashMap<Route, String>,
    /// Per layer run by days, the missing next day alarmed: (its air date, the alarm's text).
    pub(super) day_alarms: HashMap<Route, (String, String)>,
    pub(super) next_day_warning: Duration,
    /// The clock everything here reads (the machine's, or a test's).
    pub(super) clock: Arc<dyn Clock>,
    /// Wall time by the monotonic clock since the last anchor: a disagreement is a step.
    pub(super) wall: AnchoredWall,
    /// The alarm of the last wall-clock step, and when it clears.
    pub(super) step_alarm: Option<(String, Instant)>,
}

impl Scheduler {
    pub(crate) fn new(
        config: &PlayoutConfig,
        clock: Arc<dyn Clock>,
    ) -> (Scheduler, Option<String>) {
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
            filler_seq: HashMap::new(),
            day_alarms: HashMap::new(),
            black_armed: HashMap::new(),
            next_day_warning: config.next_day_warning,
            wall: AnchoredWall::new(&*clock, STEP_TOLERANCE_NS),
            clock,
            step_alarm: None,
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
        let now_ns = self.clock.wall();
        let speed = u64::from(self.clock.speed());
        for fire in self.plans.values().filter_map(|p| p.fire.as_ref()) {
            // A wait on this clock, armed on a real timer.
            let wait = u64::try_from(fire.send.saturating_sub(now_ns)).unwrap_or(0) / speed;
            at = at.min(Instant::now() + Duration::from_nanos(wait));
        }
        if let Some((_, clears)) = &self.step_alarm {
            at = at.min(*clears);
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

    /// Whether playlist `id`'s plan fills the time right after its item on air with the filler.
    pub(super) fn filler_follows(&self, id: &str) -> bool {
        self.plans.get(id).is_some_and(|p| p.filler_follows)
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
            self.scheduler.prune(self.now_ns());
            self.check_wall_step();
            self.refresh_station();
            self.check_next_days();
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
        let now = crate::schedule::zone::from_nanos(self.now_ns());
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
    pub(super) fn replan(&mut self, id: &str) {
        let Some(pl) = self.playlists.get(id).filter(|pl| pl.filler.is_none()) else {
            if self.scheduler.plans.remove(id).is_some() {
                self.scheduler.timeline_dirty = true;
            }
            // A filler (or one that no longer is) changes the gaps of every rundown on its layer.
            if let Some(cl) = self.route(id) {
                for other in self.on_layer(cl) {
                    if other != id && self.scheduler.plans.contains_key(&other) {
                        self.scheduler.touch(&other);
                    }
                }
                self.gap_alarm(id, None);
            }
            return;
        };
        let now = self.now_ns();
        let known_rate = self
            .route_of(pl)
            .and_then(|r| self.frame_rates.get(&r.chan()))
            .and_then(|&(n, d)| FrameRate::new(n, d));
        let rate = known_rate.unwrap_or(FrameRate::FPS_25);
        let today = self
            .scheduler
            .station
            .air_date_of(crate::schedule::zone::from_nanos(now))
            .ok();
        let own_date = pl
            .air_date
            .as_deref()
            .and_then(|d| timing::validate_air_date(d).ok());
        let air_date = own_date.or(today);
        // A day that is over has no fixed times left (none of them may cut today's air).
        let day_over = own_date.zip(today).is_some_and(|(d, t)| d < t);
        // A day's rundown takes over at the day's start: its first item is a hard start then.
        let day_start = own_date
            .filter(|_| !day_over)
            .and_then(|d| self.scheduler.station.day_start_of(d).ok())
            .and_then(|t| crate::schedule::zone::to_nanos(t).ok());
        let runtime = self.playout.get(id);
        let position = match runtime.and_then(|r| r.on_air().zip(r.on_air_since_ms())) {
            Some((item, since)) if pl.index_of(item).is_some() => Position::OnAir {
                index: pl.index_of(item).unwrap_or(0),
                started: i64::try_from(since).unwrap_or(0).saturating_mul(1_000_000),
            },
            _ => Position::Waiting {
                next: match self.next_of(id).and_then(|n| pl.index_of(&n)) {
                    Some(next) => next,
                    // Played to its end before another playlist took the layer.
                    None if runtime.and_then(Runtime::left_after).is_some() => pl.items.len(),
                    None => 0,
                },
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
                    .filter(|_| !day_over)
                    .and_then(|d| timing::planned_start(item, station, d).ok())
                    .unwrap_or(Start::Follow);
                if let (0, Start::Follow, Some(at)) = (i, start, day_start)
                    && i >= upcoming
                {
                    // Long past (the day began without it): it plays when taken, unannounced.
                    if at >= now.saturating_sub(LATE_LIMIT_NS) {
                        start = Start::Hard(at);
                    }
                }
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
                    // What follows it by AUTO starts a tick after its last frame.
                    frames: timing::auto_frames(item, rate),
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
        let filler_pl = self.route_of(pl).and_then(|r| self.filler_of(r));
        let lengths = filler_pl.map(|f| Self::filler_lengths(f, rate));
        let filler = filler_pl.zip(lengths.as_deref()).map(|(f, clips)| Filler {
            clips,
            order: f.filler.unwrap_or_default().order(&f.id),
            next: self.scheduler.filler_seq.get(&f.id).copied().unwrap_or(0),
        });
        let end = match pl.end_action {
            // A looping rundown has no end.
            _ if pl.looping => EndPolicy::Hold,
            EndAction::Filler => EndPolicy::Filler,
            EndAction::Black => EndPolicy::Black,
            EndAction::Hold => EndPolicy::Hold,
        };
        let input = Input {
            entries: &entries,
            position,
            now,
            horizon,
            clock: FrameClock::new(0, rate),
            filler,
            end,
        };
        let plan = crate::schedule::plan(&input);
        let view = TimelineView::from_plan(&plan, &entries, pl.revision);
        let on_air = matches!(position, Position::OnAir { .. });
        let fire = fire_of(&plan, &entries, position, now, known_rate)
            .filter(|f| !self.scheduler.was_fired(id, f));
        let live = on_air || plan.next_fixed.is_some();
        let filler_follows = match position {
            Position::OnAir { index, .. } => {
                plan.items
                    .get(index)
                    .and_then(|p| p.end)
                    .is_some_and(|end| {
                        plan.gaps.iter().any(|g| {
                            g.start == end
                                && g.frames > 0
                                && g.fill == crate::schedule::GapFill::Filler
                        })
                    })
            }
            Position::Waiting { .. } => false,
        };
        let gap = super::schedule_checks::first_unfilled_gap(&plan, &entries, now, on_air)
            .filter(|_| pl.autoplay);
        let old = self.scheduler.plans.insert(
            id.to_owned(),
            PlaylistPlan {
                view,
                fire: fire.clone(),
                live,
                filler_follows,
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
        if end == EndPolicy::Black
            && on_air
            && let Some(ends) = self.on_air_end(id).filter(|&e| e <= now)
        {
            self.went_black(id, ends);
        }
        let old_follows = old.as_ref().is_some_and(|o| o.filler_follows);
        let old_fire = old.and_then(|o| o.fire);
        if old_follows != filler_follows {
            self.rearm(id);
        }
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
            planned_ms: self.now_ns() / 1_000_000,
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
