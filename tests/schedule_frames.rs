//! Hard starts on the frame, measured on the simulator's frame clock: 100 hard starts on each of
//! three channels (25, 50 and 59.94 fps) land on the frame containing their time or the next one,
//! never on a frame before it, each from a background loaded in advance.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use onair::caspar::CasparHandle;
use onair::config::{CasparConfig, PlayoutConfig};
use onair::playout::engine::{self, EngineDeps, EngineHandle, Snapshot};
use onair::playout::model::{Item, Playlist};
use onair::playout::timing::StartMode;
use onair::sim::media::VideoFormat;
use onair::sim::{ClockMode, Sim, SimConfig, TakeHow};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);
/// Hard starts per channel.
const STARTS: usize = 100;
/// Between two hard starts: long enough to load the next one in the background.
const SPACING_MS: i64 = 300;

fn time_of_day(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .expect("instant")
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("%H:%M:%S%.3f")
        .to_string()
}

/// A channel day that starts half a day from now, so that no run crosses a day change.
fn far_day_start() -> jiff::civil::Time {
    let t = Timestamp::now() + Duration::from_secs(12 * 3600);
    let z = t.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    jiff::civil::Time::constant(0, 0, 0, 0)
        .with()
        .hour(z.hour())
        .build()
        .expect("a time of day")
}

async fn wait(engine: &EngineHandle, pred: impl Fn(&Snapshot) -> bool) {
    let mut rx = engine.watch_snapshot();
    timeout(Duration::from_secs(90), async {
        loop {
            if pred(&rx.borrow_and_update()) {
                return;
            }
            rx.changed().await.expect("engine alive");
        }
    })
    .await
    .expect("condition reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_starts_land_on_their_frame_or_the_next_at_25_50_and_59_94() {
    let formats = ["1080i5000", "720p5000", "1080p5994"];
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Realtime;
    cfg.formats = formats
        .iter()
        .map(|f| VideoFormat::parse(f).expect("format"))
        .collect();
    let sim = Sim::start(cfg).await.expect("sim");
    // The first start 2 s from now (time to connect and load), then one every 300 ms.
    let t0 = Timestamp::now().as_millisecond() + 2_000;
    let instants: Vec<i64> = (0..STARTS as i64).map(|k| t0 + k * SPACING_MS).collect();
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
    let last: Vec<String> = (1..=formats.len())
        .map(|ch| format!("h{ch}-{}", STARTS - 1))
        .collect();
    wait(&engine, |s| {
        s.playlists.iter().all(|p| {
            p.playout
                .on_air
                .as_ref()
                .is_some_and(|on| last.contains(on))
        })
    })
    .await;
    shutdown.cancel();
    task.await.expect("engine task");

    let takes = sim.take_log();
    let mut report = Vec::new();
    for (ch, format) in formats.iter().enumerate() {
        let clock = sim.frame_clock(ch);
        let mine: Vec<_> = takes
            .iter()
            .filter(|t| t.channel == ch && t.layer == 10)
            .collect();
        assert_eq!(mine.len(), STARTS, "{format}: one take per hard start");
        let mut late = [0usize; 2];
        let mut leads: Vec<f64> = Vec::new();
        for (k, take) in mine.iter().enumerate() {
            leads.push((instants[k] * 1_000_000 - take.executed_unix_ns) as f64 / 1e6);
            let due = clock.frame_at(instants[k] * 1_000_000);
            let off = take.frame - due;
            assert!(
                (0..=1).contains(&off),
                "{format}: start {k} due on frame {due} landed on {} ({off:+} frames; sent \
                 {:.2} ms before its time)",
                take.frame,
                (instants[k] * 1_000_000 - take.executed_unix_ns) as f64 / 1e6
            );
            late[usize::try_from(off).unwrap_or(1)] += 1;
            assert_eq!(
                take.how,
                TakeHow::Promote,
                "{format}: start {k} was not loaded in the background first"
            );
        }
        leads.sort_by(f64::total_cmp);
        report.push(format!(
            "{format}: {} on time, {} one frame late; executed before its time: min {:.2} ms, \
             median {:.2} ms, max {:.2} ms",
            late[0],
            late[1],
            leads[0],
            leads[leads.len() / 2],
            leads[leads.len() - 1]
        ));
    }
    println!("{}", report.join("; "));
}
