//! The planner: one pass over the rundown that places every item on the frame clock.
//!
//! Rules, in rundown order from the item on air (or, with nothing on air, from the first item with
//! a fixed time at or after the next one to play; the ones before it play only when taken):
//!
//! - a `follow` item starts when the previous one ends, minus its transition (CasparCG's AUTO
//!   starts the next clip that many frames early), never before the previous one started;
//! - a `soft` item starts at the later of its frame and that point;
//! - a `hard` item starts on its frame, cutting whatever is on air then (flagged with the frames
//!   lost); items planned to start at or after that frame never play (`Skipped`, lost whole, with
//!   their gaps and filler plays). If the frame has passed it starts now, and if it is earlier than
//!   the start of the item on air or of an earlier hard item (fixed times out of order) it starts
//!   with that one, which is then lost whole: a plan never goes back in time;
//! - an item after one of unknown length has an unknown start, until a hard start makes the time
//!   line known again; a gap whose length is unknown is not reported (nothing would be true);
//! - time before a fixed item with nothing on air is a gap, filled with filler plays (the last one
//!   trimmed to fit) or reported unfilled; after the rundown's end, up to the horizon, the end
//!   policy decides.
//!
//! Cost: O(items + filler plays), with no allocation beyond the output vectors (which
//! [`plan_into`] reuses), so re-planning a 10,000-item rundown takes microseconds.

use super::filler::FillerSeq;
use super::timeline::{
    Cut, EndPolicy, Entry, FillerPlay, Fixed, Gap, GapFill, Input, MAX_FILLER_PLAYS, NextFixed,
    Plan, Planned, Position, Start, State,
};

/// Plans `input`.
pub fn plan(input: &Input<'_>) -> Plan {
    let mut out = Plan::new(input.clock);
    plan_into(input, &mut out);
    out
}

/// What comes before the item being planned.
#[derive(Clone, Copy)]
struct Prev {
    start: Option<i64>,
    end: Option<i64>,
    /// `None` before the first planned item when nothing is on air: the "previous end" is now.
    item: Option<usize>,
}

/// Plans `input` into `out`, reusing its buffers.
pub fn plan_into(input: &Input<'_>, out: &mut Plan) {
    let clock = input.clock;
    let now = clock.frame_at(input.now);
    let horizon = clock.frame_at(input.horizon);
    out.clock = clock;
    out.now = now;
    out.items.clear();
    out.items.reserve(input.entries.len());
    out.gaps.clear();
    out.fillers.clear();
    out.fillers_truncated = false;
    out.next_fixed = None;
    let mut filler = FillerSeq::new(input.filler.as_ref());
    let entries = input.entries;

    let (begin, mut prev) = match input.position {
        Position::OnAir { index, started } if index < entries.len() => {
            out.items
                .extend((0..index).map(|_| Planned::without_start(State::Past)));
            let start = clock.frame_at(started);
            // An item still on air past its planned end ends no earlier than now.
            let end = frames(&entries[index]).map(|d| start.saturating_add(d).max(now));
            out.items.push(Planned {
                state: State::OnAir,
                start: Some(start),
                end,
                cut: None,
                fixed: None,
            });
            let prev = Prev {
                start: Some(start),
                end,
                item: Some(index),
            };
            (index + 1, prev)
        }
        Position::OnAir { .. } | Position::Waiting { .. } => {
            let next = match input.position {
                Position::Waiting { next } => next.min(entries.len()),
                Position::OnAir { .. } => entries.len(),
            };
            out.items
                .extend((0..next).map(|_| Planned::without_start(State::Past)));
            let first = entries[next..]
                .iter()
                .position(|e| e.start != Start::Follow)
                .map_or(entries.len(), |f| next + f);
            out.items
                .extend((next..first).map(|_| Planned::without_start(State::NotScheduled)));
            let prev = Prev {
                start: Some(now),
                end: Some(now),
                item: None,
            };
            (first, prev)
        }
    };

    // A hard start never goes before this: the start of the item on air (or now) and then of the
    // last hard start planned (fixed times out of order).
    let mut floor = prev.start.unwrap_or(now);
    for (i, entry) in entries.iter().enumerate().skip(begin) {
        let natural = prev.end.map(|end| match (prev.item, prev.start) {
            (Some(_), Some(ps)) => end.saturating_sub(i64::from(entry.overlap)).max(ps),
            _ => end,
        });
        let (start, fixed) = match entry.start {
            Start::Follow => (natural, None),
            Start::Soft(at) => {
                let due = clock.frame_at(at);
                let start = natural.map(|s| s.max(due).max(now));
                (start, Some(fixed(false, due, prev.end, start)))
            }
            Start::Hard(at) => {
                let due = clock.frame_at(at);
                let start = due.max(now).max(floor);
                // Whatever would start at or after it never plays; what is on air then is cut.
                prev = skip_back(out, &mut filler, entries, begin, i, start, prev);
                if let Some(p) = prev.item {
                    cut(&mut out.items[p], prev.end, start);
                }
                floor = start;
                (Some(start), Some(fixed(true, due, prev.end, Some(start))))
            }
        };
        if let (Some(fixed_start), Some(prev_end)) = (start.filter(|_| fixed.is_some()), prev.end)
            && fixed_start > prev_end
        {
            let gap = fill(
                &mut out.fillers,
                &mut filler,
                prev_end,
                fixed_start,
                horizon,
            );
            out.gaps.push(Gap {
                before: Some(i),
                ..gap
            });
        }
        if let Some(f) = fixed
            && out.next_fixed.is_none()
            && start.unwrap_or(f.due) >= now
        {
            out.next_fixed = Some(NextFixed {
                index: i,
                due: f.due,
                start,
                countdown: start.unwrap_or(f.due).saturating_sub(now),
            });
        }
        let end = start.zip(frames(entry)).map(|(s, d)| s.saturating_add(d));
        out.items.push(Planned {
            state: if start.is_some() {
                State::Planned
            } else {
                State::Unknown
            },
            start,
            end,
            cut: None,
            fixed,
        });
        prev = Prev {
            start,
            end,
            item: Some(i),
        };
    }

    out.end = if prev.item.is_some() { prev.end } else { None };
    let tail_from = if prev.item.is_some() {
        prev.end.map(|e| e.max(now))
    } else {
        Some(now)
    };
    if let Some(from) = tail_from.filter(|&f| f < horizon) {
        let gap = match input.end {
            EndPolicy::Filler => fill(&mut out.fillers, &mut filler, from, horizon, horizon),
            EndPolicy::Black | EndPolicy::Hold => Gap {
                start: from,
                frames: horizon.saturating_sub(from),
                before: None,
                fill: if input.end == EndPolicy::Black {
                    GapFill::Black
                } else {
                    GapFill::Hold
                },
                fillers: (out.fillers.len(), out.fillers.len()),
            },
        };
        out.gaps.push(gap);
    }
    out.fillers_truncated = out.fillers.len() >= MAX_FILLER_PLAYS;
    out.next_filler = filler.as_ref().map_or(0, FillerSeq::seq);
}

/// Before a hard start at frame `start` of item `i`: every item planned since `begin` that would
/// start at or after it is lost whole (its gap and filler plays go too), back to the first one
/// that starts before it, which becomes the item before the hard start. Hard items are never
/// passed (the floor keeps `start` at or after them), nor items of unknown start (not guessed).
fn skip_back(
    out: &mut Plan,
    filler: &mut Option<FillerSeq<'_>>,
    entries: &[Entry<'_>],
    begin: usize,
    i: usize,
    start: i64,
    prev: Prev,
) -> Prev {
    let mut j = i;
    while j > begin {
        let k = j - 1;
        let p = &out.items[k];
        let hard = matches!(entries[k].start, Start::Hard(_));
        if hard || p.start.is_none_or(|s| s < start) {
            break;
        }
        out.items[k] = Planned {
            state: State::Skipped,
            start: None,
            end: None,
            cut: Some(Cut {
                at: start,
                lost: frames(&entries[k]),
            }),
            fixed: p.fixed,
        };
        j = k;
    }
    if j == i {
        return prev;
    }
    while out
        .gaps
        .last()
        .is_some_and(|g| g.before.is_some_and(|b| b >= j))
    {
        if let Some(gap) = out.gaps.pop() {
            if let (Some(seq), Some(play)) = (filler.as_mut(), out.fillers.get(gap.fillers.0)) {
                seq.rewind(play.seq);
            }
            out.fillers.truncate(gap.fillers.0);
        }
    }
    if out.next_fixed.is_some_and(|n| n.index >= j) {
        out.next_fixed = None;
    }
    match j.checked_sub(1) {
        // The item on air (or an earlier planned one) is now the one before the hard start.
        Some(k) if k + 1 > begin || out.items[k].state == State::OnAir => Prev {
            start: out.items[k].start,
            end: out.items[k].end,
            item: Some(k),
        },
        _ => Prev {
            start: Some(out.now),
            end: Some(out.now),
            item: None,
        },
    }
}

fn frames(entry: &Entry<'_>) -> Option<i64> {
    entry.frames.map(|f| i64::try_from(f).unwrap_or(i64::MAX))
}

fn fixed(hard: bool, due: i64, prev_end: Option<i64>, start: Option<i64>) -> Fixed {
    Fixed {
        hard,
        due,
        slack: prev_end.map(|e| due.saturating_sub(e)),
        delay: start.map(|s| s.saturating_sub(due).max(0)),
    }
}

/// The item before a hard start at `at` is cut there if it would still be on air.
fn cut(item: &mut Planned, end: Option<i64>, at: i64) {
    match end {
        Some(end) if end > at => {
            item.cut = Some(Cut {
                at,
                lost: Some(end.saturating_sub(at)),
            });
            item.end = Some(at);
        }
        Some(_) => {}
        None => {
            item.cut = Some(Cut { at, lost: None });
        }
    }
}

/// A gap `[from, to)` (before: none yet), with filler plays up to `horizon`.
fn fill(
    plays: &mut Vec<FillerPlay>,
    filler: &mut Option<FillerSeq<'_>>,
    from: i64,
    to: i64,
    horizon: i64,
) -> Gap {
    let first = plays.len();
    let fill = match filler {
        Some(seq) => {
            let mut at = from;
            let until = to.min(horizon);
            while at < until && plays.len() < MAX_FILLER_PLAYS {
                let (clip, n, frames) = seq.next_play();
                let left = u64::try_from(until.saturating_sub(at)).unwrap_or(u64::MAX);
                let played = frames.min(left);
                plays.push(FillerPlay {
                    clip,
                    seq: n,
                    start: at,
                    frames: played,
                    trimmed: played < frames,
                });
                at = at.saturating_add(i64::try_from(played).unwrap_or(i64::MAX));
            }
            GapFill::Filler
        }
        None => GapFill::Unfilled,
    };
    Gap {
        start: from,
        frames: to.saturating_sub(from),
        before: None,
        fill,
        fillers: (first, plays.len()),
    }
}
