//! Graphics on air (issue 19): `cargo bench --bench graphics` prints one JSON object per line.
//!
//! 1. `lateness`: secondary events fired by the engine over real TCP against the simulator in
//!    real time, each measured on the simulator's frame clock: frames between the frame it was
//!    planned for (the item's first frame as the simulator showed it, plus the event's offset,
//!    rounded up to a frame) and the frame it went on and off on. 10 channels (5 at 25 fps, 5 at
//!    50 fps), each with 10 ten-second items carrying 10 events (templates and stills on 10
//!    layers, 0.5 s + 0.9 s·k into the item for 0.4 s): 1,000 events.
//! 2. `timeline`: the cost the events add to planning. The engine plans graphics for the on-air
//!    item and the next only (docs/graphics.md), so its 24/7 timeline of a 10,000-item rundown
//!    costs the same with 10 events per item as without (timed both ways); placing every event
//!    of the rundown on its frames (what a full graphics timeline would cost) is timed per item.
//!
//! Environment: `ONAIR_BENCH_CHANNELS` (10), `ONAIR_BENCH_ITEMS` (items per channel, 10),
//! `ONAIR_BENCH_RUNDOWN` (10000), `ONAIR_BENCH_SAMPLES` (timeline samples, 200).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use onair::caspar::CasparHandle;
use onair::config::{CasparConfig, PlayoutConfig};
use onair::playout::engine::{self, EngineDeps};
use onair::playout::graphics::{Graphic, ItemGraphics, Secondary};
use onair::playout::graphics_timing::{Primary, steps};
use onair::playout::model::{Item, Playlist};
use onair::playout::timing::{StartMode, channel_frames};
use onair::schedule::plan::plan_into;
use onair::schedule::{EndPolicy, Entry, FrameClock, FrameRate, Input, Plan, Position, Start};
use onair::sim::media::VideoFormat;
use onair::sim::{ClockMode, Sim, SimConfig, SimFrameClock, TakeHow};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const EVENTS: usize = 10;

/// How many events were how many frames late.
type Histogram = BTreeMap<i64, usize>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn emit(figure: &str, mut body: Value) {
    if let Some(map) = body.as_object_mut() {
        map.insert("figure".into(), json!(figure));
    }
    println!("{}", serde_json::to_string(&body).unwrap_or_default());
}

/// Event `k` of an item: a template on even layers, a still on odd ones.
fn event(k: usize) -> Secondary {
    let graphic = if k.is_multiple_of(2) {
        Graphic::Template {
            template: "LOWER_THIRD".into(),
            cg_layer: 1,
            data: None,
        }
    } else {
        Graphic::Still {
            clip: "LOGO".into(),
        }
    };
    Secondary {
        id: format!("e{k}"),
        layer: 20 + k as i32,
        offset_ms: 500 + 900 * k as i64,
        duration_ms: Some(400),
        graphic,
    }
}

fn time_of_day(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .expect("instant")
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("%H:%M:%S%.3f")
        .to_string()
}

/// The first frame starting at or after `t` on `clock`.
fn frame_at_or_after(clock: &SimFrameClock, t: i64) -> i64 {
    let f = clock.frame_at(t);
    if clock.start_of(f) == t { f } else { f + 1 }
}

fn lateness() {
    let channels = env_usize("ONAIR_BENCH_CHANNELS", 10).max(2);
    let items = env_usize("ONAIR_BENCH_ITEMS", 10).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let formats: Vec<&str> = (0..channels)
            .map(|c| {
                if c < channels / 2 {
                    "1080i5000"
                } else {
                    "720p5000"
                }
            })
            .collect();
        let mut cfg = SimConfig::for_tests();
        cfg.clock = ClockMode::Realtime;
        cfg.formats = formats
            .iter()
            .map(|f| VideoFormat::parse(f).expect("format"))
            .collect();
        let sim = Sim::start(cfg).await.expect("sim");
        let t0 = jiff::Timestamp::now().as_millisecond() + 4_000;
        let playlists: Vec<Playlist> = (0..channels)
            .map(|c| {
                let ch = c + 1;
                let mut pl = Playlist::new(
                    format!("ch{ch}"),
                    format!("Channel {ch}"),
                    format!("{ch}-10").parse().expect("layer"),
                );
                for k in 0..items {
                    // CLIP1: 10 s.
                    let mut it = Item::new(format!("p{ch}-{k}"), "CLIP1");
                    if k == 0 {
                        it.start = StartMode::Hard;
                        it.at = Some(time_of_day(t0 + 290 * c as i64));
                    }
                    it.graphics = ItemGraphics {
                        logo: true,
                        events: (0..EVENTS).map(event).collect(),
                    };
                    pl.items.push_back(Arc::new(it).into());
                }
                pl
            })
            .collect();
        let (caspar, _) = CasparHandle::spawn(CasparConfig {
            address: sim.addr().to_string(),
            ..CasparConfig::default()
        });
        let shutdown = CancellationToken::new();
        let (engine, task) = engine::spawn(EngineDeps {
            config: PlayoutConfig {
                timezone: Some("UTC".into()),
                ..PlayoutConfig::default()
            },
            poll_interval: Duration::from_millis(200),
            restored: BTreeMap::new(),
            ..EngineDeps::new(caspar, playlists, shutdown.clone())
        });
        let want = channels * items * EVENTS;
        let deadline = Instant::now() + Duration::from_secs(15 * items as u64 + 60);
        let offs = |log: &[onair::sim::TakeRecord]| {
            log.iter()
                .filter(|t| t.layer >= 20 && matches!(t.how, TakeHow::CgStop | TakeHow::Clear))
                .count()
        };
        while offs(&sim.take_log()) < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        shutdown.cancel();
        let _ = task.await;
        drop(engine);
        let log = sim.take_log();
        let mut by_rate: BTreeMap<u32, (Histogram, Histogram)> = BTreeMap::new();
        let mut missing = 0;
        for ch in 0..channels {
            let clock = sim.frame_clock(ch);
            let fps = clock.num / clock.den;
            let starts: Vec<i64> = log
                .iter()
                .filter(|t| t.channel == ch && t.layer == 10 && t.how.is_start())
                .map(|t| t.frame)
                .collect();
            for k in 0..EVENTS {
                let layer = 20 + k as i32;
                let template = k.is_multiple_of(2);
                let on: Vec<i64> = log
                    .iter()
                    .filter(|t| t.channel == ch && t.layer == layer)
                    .filter(|t| {
                        if template {
                            t.how == TakeHow::CgPlay
                        } else {
                            t.how == TakeHow::Promote
                        }
                    })
                    .map(|t| t.frame)
                    .collect();
                let off: Vec<i64> = log
                    .iter()
                    .filter(|t| t.channel == ch && t.layer == layer)
                    .filter(|t| {
                        if template {
                            t.how == TakeHow::CgStop
                        } else {
                            t.how == TakeHow::Clear
                        }
                    })
                    .map(|t| t.frame)
                    .collect();
                let ev = event(k);
                for (i, &start) in starts.iter().enumerate().take(items) {
                    let (Some(&on), Some(&off)) = (on.get(i), off.get(i)) else {
                        missing += 1;
                        continue;
                    };
                    let base = clock.start_of(start);
                    let plan_on = frame_at_or_after(&clock, base + ev.offset_ms * 1_000_000);
                    let plan_off = frame_at_or_after(
                        &clock,
                        clock.start_of(plan_on) + ev.duration_ms.unwrap_or(0) as i64 * 1_000_000,
                    );
                    let e = by_rate.entry(fps).or_default();
                    *e.0.entry(on - plan_on).or_default() += 1;
                    *e.1.entry(off - plan_off).or_default() += 1;
                }
            }
        }
        let mut early = 0;
        let mut over_one = 0;
        for (fps, (on, off)) in &by_rate {
            for (late, n) in on.iter().chain(off.iter()) {
                if *late < 0 {
                    early += n;
                }
                if *late > 1 {
                    over_one += n;
                }
            }
            emit(
                "lateness",
                json!({
                    "fps": fps,
                    "events": on.values().sum::<usize>(),
                    "on_frames_late": on,
                    "off_frames_late": off,
                }),
            );
        }
        emit(
            "lateness_summary",
            json!({
                "events_planned": want,
                "events_measured": want - missing,
                "missing": missing,
                "early": early,
                "more_than_one_frame_late": over_one,
                "target": "never early, at most one frame late",
                "met": early == 0 && over_one == 0 && missing == 0,
            }),
        );
    });
}

fn timeline() {
    let n = env_usize("ONAIR_BENCH_RUNDOWN", 10_000);
    let samples = env_usize("ONAIR_BENCH_SAMPLES", 200);
    let rate = FrameRate::FPS_25;
    let clock = FrameClock::new(0, rate);
    let mut rng = fastrand::Rng::with_seed(19);
    let make = |graphics: bool, rng: &mut fastrand::Rng| -> Vec<Item> {
        (0..n)
            .map(|i| {
                let mut item = Item::new(format!("i{i:016x}"), format!("CLIP{}", i % 50));
                item.frames = Some(rng.u64(250..2_250));
                item.fps = Some((25, 1));
                if graphics {
                    item.graphics.events = (0..EVENTS).map(event).collect();
                }
                item
            })
            .collect()
    };
    let plain = make(false, &mut rng);
    let mut rng = fastrand::Rng::with_seed(19);
    let with = make(true, &mut rng);
    let plan_once = |items: &[Item], out: &mut Plan| {
        let entries: Vec<Entry<'_>> = items
            .iter()
            .map(|i| Entry {
                id: &i.id,
                frames: channel_frames(i, rate),
                overlap: i.transition.frames,
                start: Start::Follow,
            })
            .collect();
        let input = Input {
            entries: &entries,
            position: Position::OnAir {
                index: 0,
                started: 0,
            },
            now: 0,
            horizon: i64::MAX / 4,
            clock,
            filler: None,
            end: EndPolicy::Black,
        };
        plan_into(&input, out);
    };
    let mut plans = [Plan::new(clock), Plan::new(clock)];
    let mut times = [Vec::new(), Vec::new()];
    for s in 0..samples {
        for (k, items) in [&plain, &with].into_iter().enumerate() {
            let k = (k + s) % 2;
            let items = if k == 0 { &plain } else { items };
            let t = Instant::now();
            plan_once(items, &mut plans[k]);
            times[k].push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    for t in &mut times {
        t.sort_by(f64::total_cmp);
    }
    let median = |v: &[f64]| v[v.len() / 2];
    // Every event of the rundown placed on its frames, from the plan's starts.
    let mut placing = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let mut steps_total = 0usize;
        for (item, planned) in with.iter().zip(plans[1].items.iter()) {
            let Some(start) = planned.start else { continue };
            let primary = Primary {
                start,
                length: channel_frames(item, rate).map(|l| l as i64),
                clock,
            };
            for ev in &item.graphics.events {
                steps_total += steps(&primary, ev).map_or(0, |s| s.len());
            }
        }
        black_box(steps_total);
        placing.push(t.elapsed().as_secs_f64() * 1e6);
    }
    placing.sort_by(f64::total_cmp);
    let (plain_us, with_us) = (median(&times[0]), median(&times[1]));
    emit(
        "timeline",
        json!({
            "items": n,
            "events_per_item": EVENTS,
            "plan_without_events_p50_us": (plain_us * 10.0).round() / 10.0,
            "plan_with_events_p50_us": (with_us * 10.0).round() / 10.0,
            "added_ns_per_item": ((with_us - plain_us) * 1000.0 / n as f64).round(),
            "placing_every_event_p50_us": (median(&placing) * 10.0).round() / 10.0,
            "placing_ns_per_item": (median(&placing) * 1000.0 / n as f64).round(),
        }),
    );
}

fn main() {
    timeline();
    if std::env::var_os("ONAIR_BENCH_SKIP_LATENESS").is_none() {
        lateness();
    }
}
