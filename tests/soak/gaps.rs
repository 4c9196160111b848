//! Turns the pair mode's records into the report: each side's downtime (the faults that take it
//! down, injected by the chaos task, and every interval its link was down), the 2 s allowance after
//! it is back, and the intervals its layer did not play outside those windows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::chaos::FaultWindow;
use super::pair::{Recorder, Shows, ViewChange};

/// The "back in step within 2 s": after a side's downtime ends (its link is back, its fault
/// cleared), it may show nothing for this long before that counts as a gap.
pub const RESYNC_ALLOWANCE: Duration = Duration::from_secs(2);

/// Faults that take a side down: the link cannot work through them.
pub const DOWNTIME_FAULTS: [&str; 3] = ["restart", "stall", "drop_connections"];

/// Gaps listed in detail in the report (the counts cover all).
const GAPS_LISTED: usize = 20;

/// One side of the pair, as measured.
#[derive(Debug, Clone, Serialize)]
pub struct SideReport {
    pub name: String,
    /// Faults the chaos task put on this side, by kind (an action on both sides counts on each).
    pub faults: BTreeMap<&'static str, u64>,
    pub faults_total: u64,
    /// Intervals the side was down: its restart/stall/drop faults until its link was back, and
    /// any other time its link was down, merged.
    pub downtime_windows: u64,
    pub downtime_ms_total: f64,
    /// Link outages that no restart, stall or drop of this side explains (a corrupt reply, a
    /// command timeout under slow replies): counted as the side's own downtime too.
    pub link_downs_other: u64,
    /// Time excluded from the gap count: the downtime windows plus the allowance after each.
    pub excluded_ms_total: f64,
    /// Every interval the layer did not play (inside downtime or not).
    pub not_playing_intervals: u64,
    /// Intervals where the layer showed nothing of ours (empty) outside the excluded windows.
    pub gaps_outside_downtime: u64,
    /// The longest part of such an interval that lies outside the excluded windows.
    pub gap_outside_max_ms: f64,
    /// Intervals where it held a clip's last frame (nothing armed behind it) outside the windows,
    /// with no fault of its own on (or within 2 s before).
    pub held_outside_downtime: u64,
    pub held_outside_max_ms: f64,
    /// Last frames held while this side's own slow faults (command delay, queue flood) were on
    /// or within 2 s after: the server ran the next `LOADBG` late. Reported, not a gap.
    pub held_while_slow: u64,
    /// Last frames held with no fault of this side's own, while the other side had one (a
    /// restart, a flooded queue) on or within 2 s before: the engine follows the main's telemetry
    /// while the main is in step, so a main whose layer runs behind (its commands executed late)
    /// arms this side's next item late too. A known limit of following one side (docs/operations.md,
    /// "Main and backup servers"); reported, bounded by the test, not counted as a gap.
    pub held_behind_other_side: u64,
    pub held_behind_other_side_max_ms: f64,
    /// Catch-up times the engine reported (`link.servers[].resync_ms`).
    pub resync_ms_engine: Summary,
    /// From the end of each downtime window (link back) to the layer playing again, measured on
    /// the simulator, for the windows in which the layer stopped playing.
    pub resync_ms_sim: Summary,
    pub link_connects: u64,
    pub pending_at_end: u64,
}

/// A few figures of a list of milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(mut v: Vec<f64>) -> Summary {
        v.sort_by(f64::total_cmp);
        Summary {
            count: v.len(),
            p50: v.get(v.len() / 2).copied().unwrap_or(0.0),
            max: v.last().copied().unwrap_or(0.0),
        }
    }
}

/// One interval a layer did not play outside its side's downtime, with what went on around it.
#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub side: String,
    /// `empty` or `held`.
    pub kind: &'static str,
    /// Seconds from the start of the run.
    pub at_s: f64,
    pub ms: f64,
    pub outside_ms: f64,
    /// Faults of this side on during it or in the 2 s before (any kind), and of the other side.
    pub faults_here: Vec<&'static str>,
    pub faults_other_side: Vec<&'static str>,
    /// What the layer held when it stopped playing.
    pub layer: Option<String>,
    /// The engine's view of this side when it began: in step, and why not.
    pub in_step: Option<bool>,
    pub note: Option<String>,
}

/// The pair part of the soak's report.
#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    pub sample_every_ms: f64,
    pub samples: u64,
    /// Longest time between two samples: what the sampler could miss on this machine.
    pub sampler_max_step_ms: f64,
    pub resync_allowance_ms: f64,
    /// Chaos actions that hit both sides at once.
    pub both_sides_actions: u64,
    pub sides: Vec<SideReport>,
    /// The first gaps outside downtime on either side, in time order.
    pub gaps: Vec<Gap>,
}

type Span = (Instant, Instant);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sorts and merges overlapping or touching spans.
pub fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| s.0);
    let mut out: Vec<Span> = Vec::new();
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// How much of `span` no span of `cover` (merged) covers.
pub fn uncovered(span: Span, cover: &[Span]) -> Duration {
    let mut left = span.1.saturating_duration_since(span.0);
    for &(a, b) in cover {
        let (from, to) = (a.max(span.0), b.min(span.1));
        if to > from {
            left = left.saturating_sub(to - from);
        }
    }
    left
}

/// Intervals where the link was down, from its changes; one still open ends at `end`.
fn link_down(changes: &[(Instant, bool)], end: Instant) -> Vec<Span> {
    let mut out = Vec::new();
    let mut down_since = None;
    for &(at, up) in changes {
        match (up, down_since) {
            (false, None) => down_since = Some(at),
            (true, Some(from)) => {
                out.push((from, at));
                down_since = None;
            }
            _ => {}
        }
    }
    if let Some(from) = down_since {
        out.push((from, end));
    }
    out
}

/// Intervals the layer did not play, each with whether it was empty at some point (else held).
/// Intervals the layer did not play: each with whether it was empty at some point (else it held
/// a frame) and what the layer held when it stopped.
fn not_playing(changes: &[Change], end: Instant) -> Vec<(Span, bool, Option<String>)> {
    let mut out = Vec::new();
    let mut open: Option<(Instant, bool, Option<String>)> = None;
    for (at, shows, what) in changes {
        match (shows, &mut open) {
            (Shows::Playing, Some((from, empty, first))) => {
                out.push(((*from, *at), *empty, first.take()));
                open = None;
            }
            (Shows::Playing, None) => {}
            (other, Some((_, empty, _))) => *empty |= *other == Shows::Empty,
            (other, None) => open = Some((*at, *other == Shows::Empty, what.clone())),
        }
    }
    if let Some((from, empty, what)) = open {
        out.push(((from, end), empty, what));
    }
    out
}

type Change = (Instant, Shows, Option<String>);

/// Each downtime fault's window, stretched to the end of the link outage it caused (one that began
/// while it was on or within [`CAUSE`] after: a ping timeout or a reconnect notices it late), and
/// how many link outages no such fault explains.
fn downtime(faults: &[&FaultWindow], downs: &[Span]) -> (Vec<Span>, u64) {
    let mut spans = Vec::new();
    let mut explained = vec![false; downs.len()];
    for f in faults.iter().filter(|f| DOWNTIME_FAULTS.contains(&f.kind)) {
        let mut to = f.to;
        for (i, d) in downs.iter().enumerate() {
            if d.0 >= f.from && d.0 <= f.to + CAUSE {
                to = to.max(d.1);
                explained[i] = true;
            }
        }
        spans.push((f.from, to));
    }
    spans.extend(downs.iter().copied());
    let unexplained = explained.iter().filter(|e| !**e).count() as u64;
    (merge(spans), unexplained)
}

/// How long after a fault it is still named beside a gap.
const AFTERMATH: Duration = Duration::from_secs(2);

/// How long after a fault a link outage still counts as caused by it.
const CAUSE: Duration = Duration::from_secs(1);

/// The kinds of `side`'s faults that were on during `span` or ended less than [`AFTERMATH`] before
/// it began (commands queued under a command delay still run late after it is turned off).
fn overlapping(faults: &[FaultWindow], side: usize, span: Span) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = faults
        .iter()
        .filter(|f| f.side == side && f.from <= span.1 && f.to + AFTERMATH >= span.0)
        .map(|f| f.kind)
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

fn view_at(views: &[ViewChange], at: Instant) -> Option<&ViewChange> {
    views.iter().take_while(|v| v.at <= at).last()
}

/// The per-side figures and the gap list. `extra[side]` = (link connects, pending at the end).
pub fn analyse(
    rec: &Recorder,
    names: &[String],
    faults: &[FaultWindow],
    both_sides_actions: u64,
    run_start: Instant,
    extra: &[(u64, u64)],
) -> PairReport {
    let end = rec.stopped();
    let mut sides = Vec::new();
    let mut gaps = Vec::new();
    for (side, name) in names.iter().enumerate() {
        let trace = rec.trace(side);
        let mine: Vec<&FaultWindow> = faults.iter().filter(|f| f.side == side).collect();
        let mut by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
        for f in &mine {
            *by_kind.entry(f.kind).or_default() += 1;
        }
        let downs = link_down(&trace.link, end);
        let (downtime, link_downs) = downtime(&mine, &downs);
        let excluded = merge(
            downtime
                .iter()
                .map(|&(a, b)| (a, b + RESYNC_ALLOWANCE))
                .collect(),
        );
        let intervals = not_playing(&trace.shows, end);
        let (mut empty_n, mut empty_max, mut held_n, mut held_max) = (0, 0.0f64, 0, 0.0f64);
        let mut held_slow = 0;
        let (mut behind_n, mut behind_max) = (0, 0.0f64);
        for (span, empty, what) in &intervals {
            let (span, empty) = (*span, *empty);
            let outside = uncovered(span, &excluded);
            if outside.is_zero() {
                continue;
            }
            let faults_here = overlapping(faults, side, span);
            let faults_other_side = overlapping(faults, names.len() - 1 - side, span);
            if empty {
                empty_n += 1;
                empty_max = empty_max.max(ms(outside));
            } else if !faults_here.is_empty() {
                // A server made slow (a command delay, a flood of its queue) runs the next item's
                // LOADBG late and holds the last frame meanwhile: its own fault, not the engine's.
                held_slow += 1;
            } else if !faults_other_side.is_empty() {
                behind_n += 1;
                behind_max = behind_max.max(ms(outside));
            } else {
                held_n += 1;
                held_max = held_max.max(ms(outside));
            }
            let view = view_at(&trace.views, span.0);
            gaps.push(Gap {
                side: name.clone(),
                kind: if empty { "empty" } else { "held" },
                at_s: span.0.saturating_duration_since(run_start).as_secs_f64(),
                ms: ms(span.1 - span.0),
                outside_ms: ms(outside),
                faults_here,
                faults_other_side,
                layer: what.clone(),
                in_step: view.map(|v| v.in_step),
                note: view.and_then(|v| v.note.clone()),
            });
        }
        // Back to playing after each window whose layer stopped: from the window's end (link back,
        // fault cleared) to the first sample that plays.
        let resync_sim: Vec<f64> = downtime
            .iter()
            .filter_map(|&(a, b)| {
                let stopped = intervals.iter().any(|(s, _, _)| s.0 <= b && s.1 >= a);
                if !stopped {
                    return None;
                }
                // Playing again by the time the link was back (an AUTO armed before the fault,
                // or a catch-up under way while a stall ended) counts as 0.
                let back = if playing_at(&trace.shows, b) {
                    b
                } else {
                    trace
                        .shows
                        .iter()
                        .find(|(at, s, _)| *at >= b && *s == Shows::Playing)
                        .map(|(at, _, _)| *at)?
                };
                Some(ms(back - b))
            })
            .collect();
        let (link_connects, pending_at_end) = extra.get(side).copied().unwrap_or_default();
        sides.push(SideReport {
            name: name.clone(),
            faults_total: by_kind.values().sum(),
            faults: by_kind,
            downtime_windows: downtime.len() as u64,
            downtime_ms_total: downtime.iter().map(|&(a, b)| ms(b - a)).sum(),
            link_downs_other: link_downs,
            excluded_ms_total: excluded.iter().map(|&(a, b)| ms(b - a)).sum(),
            not_playing_intervals: intervals.len() as u64,
            gaps_outside_downtime: empty_n,
            gap_outside_max_ms: empty_max,
            held_outside_downtime: held_n,
            held_outside_max_ms: held_max,
            held_while_slow: held_slow,
            held_behind_other_side: behind_n,
            held_behind_other_side_max_ms: behind_max,
            resync_ms_engine: Summary::of(trace.resync_ms.iter().map(|&v| v as f64).collect()),
            resync_ms_sim: Summary::of(resync_sim),
            link_connects,
            pending_at_end,
        });
    }
    gaps.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    gaps.truncate(GAPS_LISTED);
    PairReport {
        sample_every_ms: ms(super::pair::SAMPLE_EVERY),
        samples: rec.samples(),
        sampler_max_step_ms: ms(rec.max_step()),
        resync_allowance_ms: ms(RESYNC_ALLOWANCE),
        both_sides_actions,
        sides,
        gaps,
    }
}

/// Whether the layer was playing at `at`, from its changes.
fn playing_at(changes: &[Change], at: Instant) -> bool {
    changes
        .iter()
        .take_while(|(t, _, _)| *t <= at)
        .last()
        .is_some_and(|(_, s, _)| *s == Shows::Playing)
}
