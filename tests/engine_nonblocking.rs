//! The engine never waits on the wire: while a media rescan (`CLS`) takes 10 s and a `STOP` on
//! channel 1 is stalled until its deadline, a take on channel 2 reaches the simulator at once, an
//! edit is acknowledged at once, and an AUTO switch on channel 3 is logged (as-run) within one frame
//! of the moment the simulator switched, because its time comes from the telemetry.
//!
//! Real TCP to the simulator in real time (3 channels, 25 fps); no sleeps: every wait is on an
//! event or on the simulator's state.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use onair::caspar::CasparHandle;
use onair::config::CasparConfig;
use onair::playout::asrun::{self, AsRunLog, AsRunWriter};
use onair::playout::engine::{self, EngineDeps, EngineHandle, NewItem, Op, Snapshot};
use onair::playout::model::{Item, Playlist};
use onair::sim::media::VideoFormat;
use onair::sim::producer::Producer;
use onair::sim::{ClockMode, Sim, SimConfig};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);
/// One frame of the channels (1080i5000: 25 frames per second).
const FRAME_MS: f64 = 40.0;

fn playlist(id: &str, cl: &str, clips: &[&str]) -> Playlist {
    let mut p = Playlist::new(id, id, cl.parse().unwrap());
    for (i, c) in clips.iter().enumerate() {
        p.items.push_back(Item::new(format!("{id}{i}"), *c).into());
    }
    p
}

async fn wait(engine: &EngineHandle, what: &str, pred: impl Fn(&Snapshot) -> bool) {
    let mut rx = engine.watch_snapshot();
    timeout(Duration::from_secs(10), async {
        loop {
            if pred(&rx.borrow_and_update()) {
                return;
            }
            rx.changed().await.expect("engine alive");
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// Parses the as-run `time` (RFC 3339 UTC with milliseconds) into Unix milliseconds.
fn asrun_ms(time: &str) -> f64 {
    let parse = |r: std::ops::Range<usize>| time[r].parse::<i64>().unwrap();
    let (y, mo, d) = (parse(0..4), parse(5..7), parse(8..10));
    let (h, mi, s, ms) = (parse(11..13), parse(14..16), parse(17..19), parse(20..23));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (((days * 24 + h) * 60 + mi) * 60 + s) as f64 * 1000.0 + ms as f64
}

#[tokio::test]
async fn a_slow_server_holds_up_nothing_else() {
    let format = VideoFormat::parse("1080i5000").unwrap();
    let sim = Sim::start(SimConfig {
        formats: vec![format; 3],
        clock: ClockMode::Realtime,
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let (caspar, _) = CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ping_timeout: Duration::from_secs(5),
        ping_interval: 200 * MS,
        command_timeout: Duration::from_secs(2),
        backoff_initial: 10 * MS,
        backoff_max: 100 * MS,
        ..CasparConfig::default()
    });
    let asrun_dir = tempfile::tempdir().unwrap();
    let log = AsRunLog::open(asrun_dir.path()).unwrap();
    let shutdown = CancellationToken::new();
    let (engine, _) = engine::spawn(EngineDeps {
        poll_interval: 10 * MS,
        asrun: Some(AsRunWriter::new(log)),
        ..EngineDeps::new(
            caspar.clone(),
            vec![
                playlist("a", "1-10", &["CLIP1"]),
                playlist("b", "2-10", &["CLIP1", "CLIP2"]),
                playlist("c", "3-10", &["SHORT", "CLIP1"]),
            ],
            shutdown.clone(),
        )
    });
    wait(&engine, "connected with media", |s| {
        s.link.connected && !s.media.clips.is_empty()
    })
    .await;
    let take = |id: &str| Op::Take {
        playlist: Some(id.into()),
        item: None,
    };

    // Channel 3 plays SHORT (2 s) with CLIP1 armed behind it: AUTO will switch by itself.
    engine.execute(take("c")).await.expect("take c");
    wait(&engine, "c armed", |s| {
        s.playlists
            .iter()
            .any(|p| p.playlist.id == "c" && p.playout.armed_auto)
    })
    .await;
    engine.execute(take("a")).await.expect("take a");

    // The server turns slow: CLS takes 10 s, and STOP on channel 1 outlives its 2 s deadline.
    sim.faults()
        .set_command_delay_for("CLS", Duration::from_secs(10));
    sim.faults()
        .set_command_delay_for("STOP", Duration::from_secs(3));
    let rescan = tokio::spawn({
        let engine = engine.clone();
        async move { engine.execute(Op::MediaRescan).await }
    });
    let stop = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .execute(Op::Stop {
                    playlist: Some("a".into()),
                })
                .await
        }
    });
    // Both are on the wire before we go on.
    timeout(Duration::from_secs(5), async {
        while sim.faults().delaying() < 2 {
            tokio::time::sleep(MS).await;
        }
    })
    .await
    .expect("CLS and STOP reach the simulator");

    // (a) A take on channel 2 is answered while they hang.
    let started = Instant::now();
    engine.execute(take("b")).await.expect("take b");
    let take_b = started.elapsed();
    assert!(
        sim.command_log()
            .iter()
            .any(|r| r.name == "PLAY" && r.channel == Some(2)),
        "PLAY 2-10 reached the simulator"
    );
    // (b) An edit is acknowledged without waiting for any of it.
    let started = Instant::now();
    engine
        .execute(Op::ItemAdd {
            playlist: Some("b".into()),
            item: NewItem {
                clip: "CLIP2".into(),
                ..NewItem::default()
            },
            index: None,
        })
        .await
        .expect("add");
    let add = started.elapsed();
    assert!(
        !stop.is_finished() && !rescan.is_finished(),
        "still hanging"
    );
    assert!(
        take_b < Duration::from_millis(500) && add < Duration::from_millis(500),
        "take {take_b:?}, add {add:?} while CLS and STOP hang"
    );

    // (c) The AUTO switch on channel 3, as the simulator's frame clock saw it.
    let fg = |sim: &Sim| {
        sim.with_state(|s| match &s.layer(2, 10)?.foreground {
            Producer::Clip(c) => Some((c.name.clone(), c.time)),
            _ => None,
        })
    };
    let switched_at = timeout(Duration::from_secs(5), async {
        loop {
            if let Some((name, frames)) = fg(&sim)
                && name.eq_ignore_ascii_case("CLIP1")
            {
                // Its first frame was `frames` frames ago.
                return wall_ms() - frames as f64 * FRAME_MS;
            }
            tokio::time::sleep(MS).await;
        }
    })
    .await
    .expect("the simulator switches channel 3 by itself");
    let logged = timeout(Duration::from_secs(5), async {
        loop {
            let path = asrun_dir
                .path()
                .join(format!("{}.jsonl", asrun::utc_date(SystemTime::now())));
            if let Ok((lines, _)) = asrun::read_file(&path)
                && let Some(l) = lines
                    .iter()
                    .find(|l| l.entry.item == "c1" && l.entry.event == asrun::AsRunEvent::Start)
            {
                return asrun_ms(&l.time);
            }
            tokio::time::sleep(10 * MS).await;
        }
    })
    .await
    .expect("the as-run start of c1");
    let off = logged - switched_at;
    eprintln!("take b {take_b:?}, add {add:?}, as-run start {off:+.1} ms from the switch");
    assert!(
        off.abs() <= FRAME_MS + 2.0,
        "as-run start {off:+.1} ms from the simulator's switch (one frame is {FRAME_MS} ms)"
    );
    assert!(!rescan.is_finished(), "all of this happened while CLS hung");

    // The stalled STOP fails at its deadline, as an error, not a hang.
    let stopped = timeout(Duration::from_secs(5), stop)
        .await
        .expect("STOP answered");
    assert!(stopped.unwrap().is_err(), "the timed-out STOP is an error");
    shutdown.cancel();
}
