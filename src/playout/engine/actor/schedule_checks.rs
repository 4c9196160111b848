//! The schedule's warnings, each raised once and cleared when its cause is gone: a gap nothing
//! fills (before a fixed time, or after a rundown's end), a fixed time missed, a missing next
//! day, a wall-clock step.

use tokio::time::Instant;

use super::*;
use crate::schedule::{Entry, NANOS_PER_SEC, Plan};

/// A disagreement between the wall clock and the monotonic clock above this is a step: a frame at
/// 60 fps (NTP slews at most 0.5 ms a second, far below it between two checks a second apart).
pub(super) const STEP_TOLERANCE_NS: i64 = NANOS_PER_SEC / 60;
/// How long the alarm of a wall-clock step stays up.
const STEP_ALARM_FOR: Duration = Duration::from_secs(600);

impl Engine {
    /// Raises the alarm for the first unfilled gap ahead (once per fixed item it precedes) and
    /// clears it when the gap is gone.
    pub(super) fn gap_alarm(&mut self, id: &str, gap: Option<(String, i64, i64)>) {
        let current = self.scheduler.gap_alarms.get(id).cloned();
        if current.as_ref().map(|c| &c.0) == gap.as_ref().map(|g| &g.0) {
            return;
        }
        if let Some((_, message)) = current {
            self.scheduler.gap_alarms.remove(id);
            self.clear_alarm("schedule", &message);
        }
        if let Some((before, start_ns, length_ns)) = gap {
            let start = crate::schedule::zone::from_nanos(start_ns)
                .to_zoned_datetime(self.scheduler.station.time_zone().clone())
                .strftime("%H:%M:%S")
                .to_string();
            let secs = length_ns as f64 / NANOS_PER_SEC as f64;
            let message = if before.is_empty() {
                let cl = self.route(id).map(|r| self.layer_name(r));
                format!(
                    "playlist {id:?} ends at {start}, {secs:.1} s before the next day starts, \
                     and layer {} has no filler: the channel will show the last frame (make a \
                     playlist the layer's filler, or set end_action to hold or black)",
                    cl.unwrap_or_default()
                )
            } else {
                let label = self.item_label(id, &before);
                format!(
                    "playlist {id:?}: a gap of {secs:.1} s at {start} before {label} with no \
                     filler: the channel will show the last frame of the item before it"
                )
            };
            self.scheduler
                .gap_alarms
                .insert(id.to_owned(), (before, message.clone()));
            self.raise(Severity::Warning, "schedule", message);
        }
    }

    /// Warns, `playout.next_day_warning` ahead, about every layer run by days (one of its
    /// playlists has an air date) that has no rundown for the next channel day; clears the alarm
    /// when one arrives or the day has begun.
    pub(super) fn check_next_days(&mut self) {
        let now = crate::schedule::zone::from_nanos(self.now_ns());
        let st = &self.scheduler.station;
        let Some((next_start, next_date)) = st
            .next_day_start(now)
            .ok()
            .and_then(|t| Some((t, st.air_date_of(t).ok()?)))
        else {
            return;
        };
        let ahead = next_start.duration_since(now);
        let due = !self.scheduler.next_day_warning.is_zero()
            && ahead
                <= jiff::SignedDuration::try_from(self.scheduler.next_day_warning)
                    .unwrap_or(jiff::SignedDuration::MAX);
        let next = next_date.to_string();
        let mut layers: BTreeMap<Route, bool> = BTreeMap::new();
        for pl in self.playlists.values().filter(|pl| pl.filler.is_none()) {
            if let (Some(d), Some(r)) = (&pl.air_date, self.route_of(pl)) {
                *layers.entry(r).or_default() |= *d == next;
            }
        }
        let mut want: HashMap<Route, String> = HashMap::new();
        for (cl, has_next) in layers {
            if !due || has_next {
                continue;
            }
            let starts = next_start
                .to_zoned_datetime(st.time_zone().clone())
                .strftime("%H:%M:%S")
                .to_string();
            let then = match self.filler_of(cl) {
                Some(f) => format!("the filler {:?} will play", f.id),
                None => "the layer has no filler: the last frame will stay on air".to_owned(),
            };
            let layer = self.layer_name(cl);
            want.insert(
                cl,
                format!(
                    "no rundown for {next} on layer {layer}: the day starts at {starts} (in {} min) \
                     and {then}",
                    ahead.as_secs() / 60
                ),
            );
        }
        // Raised once per missing day (the minutes in the text are those at the first notice),
        // cleared when the day arrives or begins.
        let gone: Vec<(Route, String)> = self
            .scheduler
            .day_alarms
            .iter()
            .filter(|(cl, (date, _))| !want.contains_key(*cl) || *date != next)
            .map(|(cl, (_, m))| (*cl, m.clone()))
            .collect();
        for (cl, message) in gone {
            self.scheduler.day_alarms.remove(&cl);
            self.clear_alarm("schedule", &message);
        }
        for (cl, message) in want {
            if !self.scheduler.day_alarms.contains_key(&cl) {
                self.raise(Severity::Warning, "schedule", message.clone());
                self.scheduler
                    .day_alarms
                    .insert(cl, (next.clone(), message));
            }
        }
    }

    /// Detects a wall-clock step (NTP, someone setting the clock): logged, alarmed for ten
    /// minutes, and every timeline re-planned on the new time.
    pub(super) fn check_wall_step(&mut self) {
        if let Some((message, clears)) = self.scheduler.step_alarm.clone()
            && Instant::now() >= clears
        {
            self.scheduler.step_alarm = None;
            self.clear_alarm("schedule", &message);
        }
        let Some(step) = self.scheduler.wall.check(&*self.scheduler.clock) else {
            return;
        };
        let secs = step.size as f64 / NANOS_PER_SEC as f64;
        tracing::warn!(
            step_s = secs,
            "schedule: the wall clock stepped; re-planning"
        );
        let message = format!(
            "the wall clock stepped {secs:+.3} s (an NTP correction or a manual change): every \
             timeline was re-planned on the new time"
        );
        if let Some((old, _)) = self.scheduler.step_alarm.take() {
            self.clear_alarm("schedule", &old);
        }
        self.raise(Severity::Warning, "schedule", message.clone());
        self.scheduler.step_alarm = Some((message, Instant::now() + STEP_ALARM_FOR));
        let ids: Vec<String> = self.playlists.keys().cloned().collect();
        for id in ids {
            self.scheduler.touch(&id);
        }
    }

    pub(super) fn report_missed(&mut self, id: &str, item: &str, instant: i64) {
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
}

/// Alarms look this far ahead for a gap.
const GAP_LOOKAHEAD_NS: i64 = 3_600 * NANOS_PER_SEC;

/// The first gap that nothing fills and that starts within the lookahead: (the item it precedes,
/// "" for the end of the rundown; its start and length in ns). The end of the rundown counts
/// only while the rundown is on air (a rundown not started is not yet the channel's).
pub(super) fn first_unfilled_gap(
    plan: &Plan,
    entries: &[Entry<'_>],
    now: i64,
    on_air: bool,
) -> Option<(String, i64, i64)> {
    plan.unfilled()
        .filter(|g| g.before.is_some() || on_air)
        .map(|g| {
            (
                g.before,
                plan.instant(g.start),
                plan.clock.rate.frames_to_nanos(g.frames),
            )
        })
        .find(|&(_, start, length)| start <= now.saturating_add(GAP_LOOKAHEAD_NS) && length > 0)
        .and_then(|(before, start, length)| {
            let key = match before {
                Some(i) => entries.get(i)?.id.to_owned(),
                None => String::new(),
            };
            Some((key, start, length))
        })
}
