//! A whole channel day on a virtual clock: 1,000 random follow, soft and hard items on a
//! daylight-saving day, re-planned as time passes the way the engine will, with a wall-clock step
//! on the way. Every plan must cover every frame up to the next day's start (an item, a filler
//! play, nothing unfilled) and start no fixed-time item before its frame.

use jiff::civil::{Date, Time, date, time};
use jiff::tz::TimeZoneDatabase;

use super::*;

/// An item's (frames, overlap, start).
type Item = (Option<u64>, u32, Start);

struct Day {
    station: Station,
    air_date: Date,
    rate: FrameRate,
}

fn days() -> [Day; 3] {
    let zone = |name| TimeZoneDatabase::bundled().get(name).expect("bundled zone");
    [
        // Spring forward with the day start inside the gap: a 23.5-hour day.
        Day {
            station: Station::new(zone("Europe/Berlin"), time(2, 30, 0, 0)),
            air_date: date(2025, 3, 30),
            rate: FrameRate::FPS_25,
        },
        // Fall back: a 25-hour day, at 59.94 fps.
        Day {
            station: Station::new(zone("America/New_York"), time(6, 0, 0, 0)),
            air_date: date(2025, 11, 1),
            rate: FrameRate::FPS_59_94,
        },
        // Fall back with the change inside the day and a midnight day start, at 29.97 fps.
        Day {
            station: Station::new(zone("Europe/Berlin"), Time::midnight()),
            air_date: date(2025, 10, 26),
            rate: FrameRate::FPS_29_97,
        },
    ]
}

/// A random rundown for `day`: (entries' data, filler clip lengths). Fixed times are drawn as
/// local times of day, resolved through the station like an operator's `at`.
fn rundown(day: &Day, rng: &mut fastrand::Rng) -> (Vec<Item>, Vec<u64>) {
    let fps = |secs: u64| secs * u64::from(day.rate.num()) / u64::from(day.rate.den());
    let start = day.station.day_start_of(day.air_date).expect("in range");
    let length = day
        .station
        .day_length(day.air_date)
        .expect("in range")
        .as_secs();
    let mut items = Vec::with_capacity(1_000);
    // The day's rundown takes over at its start: a hard start of its first item.
    let at = |t: jiff::Timestamp| zone::to_nanos(t).expect("in range");
    items.push((Some(fps(rng.u64(5..180))), 0, Start::Hard(at(start))));
    for _ in 1..1_000 {
        let frames = Some(fps(rng.u64(5..100)));
        let overlap = if rng.u8(..) < 40 { rng.u32(0..50) } else { 0 };
        let mode = match rng.u8(..100) {
            0..=13 => {
                // A local time of day somewhere in the channel day, as an operator would type it.
                let instant = start
                    .checked_add(jiff::SignedDuration::from_secs(rng.i64(0..length)))
                    .expect("in range");
                let local = day.station.time_zone().to_datetime(instant).time();
                let tod = TimeOfDay::from_parts(
                    local.hour().unsigned_abs().into(),
                    local.minute().unsigned_abs().into(),
                    local.second().unsigned_abs().into(),
                    rng.u32(0..1000),
                )
                .expect("valid");
                let t = at(day.station.resolve(day.air_date, tod).expect("in range"));
                if rng.bool() {
                    Start::Hard(t)
                } else {
                    Start::Soft(t)
                }
            }
            _ => Start::Follow,
        };
        items.push((frames, overlap, mode));
    }
    // Keep fixed times in rundown order as a planning tool would, but not all: some operators
    // type them out of order, and the planner must cope.
    let mut fixed: Vec<i64> = items
        .iter()
        .filter_map(|(_, _, s)| match s {
            Start::Hard(t) | Start::Soft(t) => Some(*t),
            Start::Follow => None,
        })
        .collect();
    if rng.u8(..) > 30 {
        fixed.sort_unstable();
    }
    let mut sorted = fixed.into_iter();
    for (_, _, s) in &mut items {
        if let Start::Hard(t) | Start::Soft(t) = s {
            *t = sorted.next().expect("same count");
        }
    }
    let filler = (0..rng.usize(1..8)).map(|_| fps(rng.u64(3..120))).collect();
    (items, filler)
}

/// Where the rundown stands at `now` by `plan`: the last item started and not ended, else waiting
/// for the first one not yet started.
fn position_at(plan: &Plan, now: i64) -> Position {
    let frame = plan.clock.frame_at(now);
    let on_air = plan
        .items
        .iter()
        .enumerate()
        .rev()
        .find(|(_, p)| p.start.is_some_and(|s| s <= frame) && p.end.is_some_and(|e| e > frame));
    match on_air {
        Some((index, p)) => Position::OnAir {
            index,
            started: plan.instant(p.start.unwrap_or(frame)),
        },
        None => Position::Waiting {
            next: plan
                .items
                .iter()
                .position(|p| p.start.is_some_and(|s| s > frame))
                .unwrap_or(plan.items.len()),
        },
    }
}

/// Checks one plan: no fixed item early, every frame from now to the horizon covered.
fn check(plan: &Plan, horizon: i64, entries: &[Entry<'_>]) -> Result<(), String> {
    if let Some(g) = plan.unfilled().next() {
        return Err(format!("unfilled gap {g:?}"));
    }
    let mut segments: Vec<(i64, i64)> = Vec::new();
    for (i, p) in plan.items.iter().enumerate() {
        if let Some(f) = p.fixed
            && let Some(s) = p.start
        {
            if s < f.due {
                return Err(format!(
                    "item {i} starts at frame {s}, before its frame {}",
                    f.due
                ));
            }
            let prev_start = plan.items[..i].iter().rev().find_map(|q| q.start);
            let excused = f.due < plan.now || prev_start.is_some_and(|ps| ps > f.due);
            if f.hard && s != f.due && !excused {
                return Err(format!("hard item {i} at {s}, not on its frame {}", f.due));
            }
            if let Start::Hard(t) | Start::Soft(t) = entries[i].start
                && plan.instant(f.due) > t
            {
                return Err(format!(
                    "item {i}: frame {} starts after its instant",
                    f.due
                ));
            }
        }
        if let (Some(s), Some(e)) = (p.start, p.end) {
            segments.push((s, e));
        }
    }
    segments.extend(
        plan.fillers
            .iter()
            .map(|f| (f.start, f.start + f.frames as i64)),
    );
    segments.sort_unstable();
    let mut covered = plan.now;
    for (s, e) in segments {
        if s > covered && covered < horizon {
            return Err(format!("frames {covered}..{s} are not covered"));
        }
        covered = covered.max(e);
    }
    if covered < horizon {
        return Err(format!("frames {covered}..{horizon} are not covered"));
    }
    Ok(())
}

#[test]
fn a_day_of_random_items_never_goes_black_or_starts_early() {
    for seed in 0..12u64 {
        for day in days() {
            let mut rng = fastrand::Rng::with_seed(seed);
            let (items, filler) = rundown(&day, &mut rng);
            let entries: Vec<Entry<'_>> = items
                .iter()
                .map(|&(frames, overlap, start)| Entry {
                    id: "x",
                    frames,
                    overlap,
                    start,
                })
                .collect();
            let start = zone::to_nanos(day.station.day_start_of(day.air_date).expect("in range"))
                .expect("in range");
            let next_day = zone::to_nanos(
                day.station
                    .next_day_start(zone::from_nanos(start))
                    .expect("in range"),
            )
            .expect("in range");
            // The clock starts ten minutes before the day; the channel idles on filler.
            let clock = ManualClock::new(start - 600 * NANOS_PER_SEC);
            let frame_clock = FrameClock::new(start - 600 * NANOS_PER_SEC, day.rate);
            let mut wall = AnchoredWall::new(&clock, day.rate.frame_nanos());
            let mut position = Position::Waiting { next: 0 };
            let mut next_filler = 0;
            let mut steps = 0;
            let mut previous: Option<Plan> = None;
            // What the day exercised: hard cuts, filled gaps, soft starts that waited.
            let (mut cuts, mut gaps, mut waits) = (0, 0, 0);
            while wall.now(&clock) < next_day {
                let now = wall.now(&clock);
                let input = Input {
                    entries: &entries,
                    position,
                    now,
                    horizon: next_day,
                    clock: frame_clock,
                    filler: Some(Filler {
                        clips: &filler,
                        order: FillerOrder::Shuffle { seed },
                        next: next_filler,
                    }),
                    end: EndPolicy::Filler,
                };
                let p = plan(&input);
                let horizon = frame_clock.frame_at(next_day);
                if let Err(e) = check(&p, horizon, &entries) {
                    panic!("seed {seed}, {:?}, step {steps}: {e}", day.air_date);
                }
                // A re-plan from where the last plan said we would be agrees with it.
                if let Some(before) = &previous {
                    for (i, (a, b)) in before.items.iter().zip(&p.items).enumerate() {
                        if a.start.is_some_and(|s| s > p.now) {
                            assert_eq!(a.start, b.start, "seed {seed}: item {i} moved");
                        }
                    }
                }
                cuts += p.items.iter().filter(|i| i.cut.is_some()).count();
                gaps += p.gaps.iter().filter(|g| g.before.is_some()).count();
                waits += p
                    .items
                    .iter()
                    .filter_map(|i| i.fixed)
                    .filter(|f| !f.hard && f.delay.is_some_and(|d| d > 0))
                    .count();
                steps += 1;
                clock.advance(rng.i64(1..1_800) * NANOS_PER_SEC);
                if steps == 20 {
                    // An NTP step of two seconds: detected, re-anchored; the plan follows the wall.
                    clock.step_wall(2 * NANOS_PER_SEC);
                    let step = wall.check(&clock).expect("a step of 2 s is detected");
                    assert_eq!(step.size, 2 * NANOS_PER_SEC);
                    previous = None;
                } else {
                    previous = Some(p.clone());
                }
                let now = wall.now(&clock);
                position = position_at(&p, now);
                // The filler goes on with the first play not started by now.
                let frame = p.clock.frame_at(now);
                next_filler = p
                    .fillers
                    .iter()
                    .find(|f| f.start >= frame)
                    .map_or(p.next_filler, |f| f.seq);
            }
            assert!(steps > 20, "the day was re-planned {steps} times");
            assert!(
                cuts > 0 && gaps > 0 && waits > 0,
                "{cuts} cuts, {gaps} gaps, {waits} waits"
            );
        }
    }
}
