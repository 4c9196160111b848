//! Hard-start lateness on the simulator's frame clock (issue 16): `cargo bench --bench hard_start`
//! prints one JSON line per channel rate and a summary line.
//!
//! One engine drives three simulated channels (25, 50 and 59.94 fps) over real TCP; each channel's
//! playlist is N hard-start items a fixed spacing apart, so every start comes from a background
//! the engine loaded in advance and is taken on its own. For every start the simulator records the
//! frame it became visible on; the lateness is that frame minus the frame containing the item's
//! time (0: on time; negative would be early). Also printed: how long before its time the
//! simulator executed the take (the engine aims at half a frame).
//!
//! Environment: `ONAIR_BENCH_STARTS` (per channel, 1000), `ONAIR_BENCH_SPACING_MS` (150).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use onair::caspar::CasparHandle;
use onair::config::{CasparConfig, PlayoutConfig};
use onair::playout::engine::{self, EngineDeps};
use onair::playout::model::{Item, Playlist};
use onair::playout::timing::StartMode;
use onair::sim::media::VideoFormat;
use onair::sim::{ClockMode, Sim, SimConfig, TakeHow};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);

fn env_i64(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn time_of_day(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .expect("instant")
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("%H:%M:%S%.3f")
        .to_string()
}

fn far_day_start() -> jiff::civil::Time {
    let t = Timestamp::now() + Duration::from_secs(12 * 3600);
    let z = t.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    jiff::civil::Time::constant(0, 0, 0, 0)
        .with()
        .hour(z.hour())
        .build()
        .expect("a time of day")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    (sorted[i] * 1000.0).round() / 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let starts = env_i64("ONAIR_BENCH_STARTS", 1000).max(1);
    let spacing = env_i64("ONAIR_BENCH_SPACING_MS", 150).max(50);
    let formats = ["1080i5000", "720p5000", "1080p5994"];
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Realtime;
    cfg.formats = formats
        .iter()
        .map(|f| VideoFormat::parse(f).expect("format"))
        .collect();
    let sim = Sim::start(cfg).await.expect("sim");
    let t0 = Timestamp::now().as_millisecond() + 2_000;
    let instants: Vec<i64> = (0..starts).map(|k| t0 + k * spacing).collect();
    let playlists: Vec<Playlist> = (1..=formats.len())
        .map(|ch| {
            let mut pl = Playlist::new(
                format!("ch{ch}"),
                format!("Channel {ch}"),
                format!("{ch}-10").parse().expect("layer"),
            );
            for (k, &ms) in instants.iter().enumerate() {
                let mut it = Item::new(format!("h{ch}-{k}"), "CLIP1");
                it.start = StartMode::Hard;
                it.at = Some(time_of_day(ms));
                pl.items.push_back(Arc::new(it).into());
            }
            pl
        })
        .collect();
    let (caspar, _) = CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ping_timeout: Duration::from_secs(5),
        ping_interval: 200 * MS,
        backoff_initial: 10 * MS,
        backoff_max: 100 * MS,
        ..CasparConfig::default()
    });
    let shutdown = CancellationToken::new();
    let (engine, task) = engine::spawn(EngineDeps {
        config: PlayoutConfig {
            timezone: Some("UTC".into()),
            day_start: far_day_start(),
            ..PlayoutConfig::default()
        },
        poll_interval: 50 * MS,
        restored: BTreeMap::new(),
        ..EngineDeps::new(caspar, playlists, shutdown.clone())
    });
    // Until the last start plus a second.
    let end = instants[instants.len() - 1] + 1_000;
    let wait = u64::try_from(end - Timestamp::now().as_millisecond()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let snapshot = engine.snapshot();
    shutdown.cancel();
    task.await.expect("engine task");

    let takes = sim.take_log();
    let mut worst = i64::MIN;
    let mut earliest = i64::MAX;
    let mut complete = true;
    for (ch, format) in formats.iter().enumerate() {
        let clock = sim.frame_clock(ch);
        let mine: Vec<_> = takes
            .iter()
            .filter(|t| t.channel == ch && t.layer == 10)
            .collect();
        let mut hist: BTreeMap<i64, usize> = BTreeMap::new();
        let mut leads = Vec::new();
        let mut promoted = 0;
        for (k, take) in mine.iter().enumerate().take(instants.len()) {
            let due = clock.frame_at(instants[k] * 1_000_000);
            let off = take.frame - due;
            *hist.entry(off).or_default() += 1;
            worst = worst.max(off);
            earliest = earliest.min(off);
            leads.push((instants[k] * 1_000_000 - take.executed_unix_ns) as f64 / 1e6);
            promoted += usize::from(take.how == TakeHow::Promote);
        }
        complete &= mine.len() == instants.len();
        leads.sort_by(f64::total_cmp);
        let frames: BTreeMap<String, usize> =
            hist.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        println!(
            "{}",
            json!({
                "figure": "hard_start_lateness",
                "format": format,
                "fps": format!("{}/{}", clock.num, clock.den),
                "starts": instants.len(),
                "takes_seen": mine.len(),
                "promoted_from_background": promoted,
                "frames_late": frames,
                "executed_before_time_ms": {
                    "min": percentile(&leads, 0.0),
                    "p1": percentile(&leads, 0.01),
                    "p50": percentile(&leads, 0.5),
                    "max": percentile(&leads, 1.0),
                },
            })
        );
    }
    let on_air: Vec<_> = snapshot
        .playlists
        .iter()
        .map(|p| p.playout.on_air.clone())
        .collect();
    println!(
        "{}",
        json!({
            "figure": "summary",
            "cpus": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
            "spacing_ms": spacing,
            "every_start_seen": complete,
            "target": "never early, at most one frame late",
            "earliest_frames": earliest,
            "latest_frames": worst,
            "pass": complete && earliest >= 0 && worst <= 1,
            "last_on_air": on_air,
        })
    );
}
