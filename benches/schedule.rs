//! Re-planning the 24/7 timeline (issue 16): `cargo bench --bench schedule` prints one JSON object
//! per line, one per figure, then a summary with the target and whether this run met it.
//!
//! A rundown of N real playlist items (every 12th a hard start, every 12th a soft one, times spread
//! over a Europe/Berlin channel day, 20 shuffled filler clips, 25 fps) is planned once; then each
//! sample is one operator edit followed by an incremental re-plan: the edited item's
//! planner entry is rebuilt (its length, or its `at` resolved through the station's zone) and the
//! whole timeline is planned again into the same buffers. Samples alternate in blocks between the
//! 10,000-item rundown and a 10-item one, so both see the same machine state. Also timed: building
//! every entry from scratch (each `at` resolved through the zone), what a full rebuild would cost,
//! and that rebuild followed by the plan, which is what the engine does per re-plan today.
//!
//! Environment: `ONAIR_BENCH_ITEMS` (10000), `ONAIR_BENCH_SAMPLES` (samples per size, 5000),
//! `ONAIR_BENCH_ENGINE_SAMPLES` (full rebuild-and-plan samples, 500).

use std::hint::black_box;
use std::time::Instant;

use jiff::civil::{date, time};
use jiff::tz::TimeZoneDatabase;
use onair::playout::model::Item;
use onair::playout::timing::{StartMode, channel_frames, planned_start};
use onair::schedule::plan::plan_into;
use onair::schedule::{
    EndPolicy, Entry, Filler, FillerOrder, FrameClock, FrameRate, Input, Plan, Position, Start,
    Station, zone,
};
use serde_json::{Value, json};

const RATE: FrameRate = FrameRate::FPS_25;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Nearest-rank percentile of sorted samples.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(mut v: Vec<f64>) -> Value {
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    json!({
        "n": v.len(),
        "p50_us": round3(pct(&v, 50.0)),
        "p99_us": round3(pct(&v, 99.0)),
        "max_us": round3(pct(&v, 100.0)),
        "mean_us": round3(mean),
    })
}

fn emit(figure: &str, mut body: Value) -> Value {
    if let Some(map) = body.as_object_mut() {
        map.insert("figure".into(), json!(figure));
    }
    println!("{}", serde_json::to_string(&body).unwrap_or_default());
    body
}

/// A rundown of `n` items with 10–90 s clips; every 12th hard, every 12th (offset 6) soft.
fn rundown(n: usize, rng: &mut fastrand::Rng) -> Vec<Item> {
    (0..n)
        .map(|i| {
            let mut item = Item::new(format!("i{i:016x}"), format!("CLIP{}", i % 50));
            item.frames = Some(rng.u64(250..2_250));
            item.fps = Some((25, 1));
            let minutes = (i * 24 * 60 / n.max(1)) as u32;
            let at = format!("{:02}:{:02}:00", (6 + minutes / 60) % 24, minutes % 60);
            match i % 12 {
                0 => (item.start, item.at) = (StartMode::Hard, Some(at)),
                6 => (item.start, item.at) = (StartMode::Soft, Some(at)),
                _ => {}
            }
            item
        })
        .collect()
}

fn entry<'a>(item: &'a Item, station: &Station, day: jiff::civil::Date) -> Entry<'a> {
    Entry {
        id: &item.id,
        frames: channel_frames(item, RATE),
        overlap: item.transition.frames,
        start: planned_start(item, station, day).unwrap_or(Start::Follow),
    }
}

struct Size {
    items: Vec<Item>,
    entries: Vec<Entry<'static>>,
}

fn main() {
    let n = env_usize("ONAIR_BENCH_ITEMS", 10_000);
    let samples = env_usize("ONAIR_BENCH_SAMPLES", 5_000);
    let tz = TimeZoneDatabase::bundled()
        .get("Europe/Berlin")
        .expect("bundled zone");
    let station = Station::new(tz, time(6, 0, 0, 0));
    let day = date(2026, 11, 24);
    let start = zone::to_nanos(station.day_start_of(day).expect("day")).expect("in range");
    let next_day = zone::to_nanos(
        station
            .next_day_start(zone::from_nanos(start))
            .expect("next day"),
    )
    .expect("in range");
    let mut rng = fastrand::Rng::with_seed(16);
    let filler: Vec<u64> = (0..20).map(|_| rng.u64(125..1_500)).collect();
    let clock = FrameClock::new(start, RATE);

    // The items are leaked so that entries can borrow their ids for the whole run, as the engine's
    // entries borrow its playlist.
    let mut sizes: Vec<Size> = [n, 10]
        .into_iter()
        .map(|count| {
            let items: &'static [Item] = Vec::leak(rundown(count, &mut rng));
            let entries = items.iter().map(|i| entry(i, &station, day)).collect();
            Size {
                items: items.to_vec(),
                entries,
            }
        })
        .collect();

    // A full rebuild of every entry (every `at` resolved through the zone), for comparison.
    let mut rebuild = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let entries: Vec<Entry<'_>> = sizes[0]
            .items
            .iter()
            .map(|i| entry(i, &station, day))
            .collect();
        rebuild.push(t.elapsed().as_secs_f64() * 1e6);
        black_box(entries);
    }

    // What the engine does per re-plan today: every entry rebuilt, then the whole plan.
    let mut engine_replan = Vec::new();
    let mut engine_plan = Plan::new(clock);
    for k in 0..env_usize("ONAIR_BENCH_ENGINE_SAMPLES", 500) {
        let t = Instant::now();
        let entries: Vec<Entry<'_>> = sizes[0]
            .items
            .iter()
            .map(|i| entry(i, &station, day))
            .collect();
        let input = Input {
            entries: &entries,
            position: Position::OnAir {
                index: 0,
                started: start,
            },
            now: start + (k as i64 % 3_600) * 1_000_000_000,
            horizon: next_day,
            clock,
            filler: Some(Filler {
                clips: &filler,
                order: FillerOrder::Shuffle { seed: 7 },
                next: 0,
            }),
            end: EndPolicy::Filler,
        };
        plan_into(&input, &mut engine_plan);
        engine_replan.push(t.elapsed().as_secs_f64() * 1e6);
        black_box(&engine_plan);
    }

    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut plans = [Plan::new(clock), Plan::new(clock)];
    let block = 100;
    let mut done = 0;
    while done < samples {
        for (s, size) in sizes.iter_mut().enumerate() {
            let len = size.items.len();
            for k in 0..block {
                let index = rng.usize(..len);
                // The edit: a new out point (a new length) or, on a fixed item, a new time.
                let item = &mut size.items[index];
                if item.start == StartMode::Follow {
                    item.out_point = Some(rng.u64(100..2_000));
                } else {
                    item.at = Some(format!(
                        "{:02}:{:02}:{:02}",
                        rng.u8(0..24),
                        rng.u8(0..60),
                        rng.u8(0..60)
                    ));
                }
                let now = start + ((done + k) as i64 % 3_600) * 1_000_000_000;
                let t = Instant::now();
                let edited = entry(item, &station, day);
                size.entries[index] = Entry {
                    id: size.entries[index].id,
                    ..edited
                };
                let input = Input {
                    entries: &size.entries,
                    position: Position::OnAir {
                        index: 0,
                        started: start,
                    },
                    now,
                    horizon: next_day,
                    clock,
                    filler: Some(Filler {
                        clips: &filler,
                        order: FillerOrder::Shuffle { seed: 7 },
                        next: 0,
                    }),
                    end: EndPolicy::Filler,
                };
                plan_into(&input, &mut plans[s]);
                times[s].push(t.elapsed().as_secs_f64() * 1e6);
                black_box(&plans[s]);
            }
        }
        done += block;
    }
    let big = plans[0].clone();
    emit(
        "replan_after_edit",
        json!({
            "items": n,
            "fixed_items": sizes[0].entries.iter().filter(|e| e.start != Start::Follow).count(),
            "gaps": big.gaps.len(),
            "filler_plays": big.fillers.len(),
            "large": summary(times[0].clone()),
            "small_10": summary(times[1].clone()),
        }),
    );
    let mut sorted = times[0].clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = pct(&sorted, 99.0);
    emit(
        "rebuild_all_entries",
        json!({ "items": n, "time": summary(rebuild) }),
    );
    let mut engine_sorted = engine_replan.clone();
    engine_sorted.sort_by(f64::total_cmp);
    let engine_p99 = pct(&engine_sorted, 99.0);
    emit(
        "engine_replan_rebuild_and_plan",
        json!({ "items": n, "time": summary(engine_replan) }),
    );
    let pass = p99 <= 1_000.0;
    let engine_pass = engine_p99 <= 1_000.0;
    emit(
        "summary",
        json!({
            "checks": [{
                "figure": "replan_after_edit p99",
                "value_us": round3(p99),
                "target": "<= 1000 us",
                "pass": pass,
            }, {
                "figure": "engine_replan_rebuild_and_plan p99",
                "value_us": round3(engine_p99),
                "target": "<= 1000 us",
                "pass": engine_pass,
            }],
        }),
    );
}
