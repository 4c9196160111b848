//! The engine under a slow server (`cargo bench --bench engine`, one JSON document): an engine and
//! the simulator in real time (3 channels, 25 fps) over real TCP, measured twice in the same run:
//! once with a healthy server, once while every media rescan (`CLS`) is held 10 s and a `STOP` on
//! channel 1 is stalled past its 2 s deadline, again and again.
//!
//! - take: `playout.take` on channel 2 until the simulator has executed and answered the `PLAY`;
//! - add: `item.add` acknowledged (no server involved);
//! - AUTO: on channel 3 a looping rundown of 2 s clips switches by itself; each as-run start is
//!   compared with the switch on the simulator's frame clock.
//!
//! `ONAIR_ENGINE_OPS` sets takes and adds per phase (default 500).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use onair::caspar::CasparHandle;
use onair::config::CasparConfig;
use onair::playout::asrun::{self, AsRunLog, AsRunWriter};
use onair::playout::engine::{self, EngineHandle, NewItem, Op};
use onair::playout::model::{Item, Limits, Playlist};
use onair::sim::media::VideoFormat;
use onair::sim::producer::Producer;
use onair::sim::{ClockMode, Sim, SimConfig};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const FRAME_MS: f64 = 40.0;

fn playlist(id: &str, cl: &str, clips: &[&str], looping: bool) -> Playlist {
    let mut p = Playlist::new(id, id, cl.parse().unwrap());
    for (i, c) in clips.iter().enumerate() {
        p.items.push_back(Item::new(format!("{id}{i}"), *c).into());
    }
    p.looping = looping;
    p
}

fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn stats(mut v: Vec<f64>) -> Value {
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if v.is_empty() {
            return Value::Null;
        }
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        json!((v[i] * 1000.0).round() / 1000.0)
    };
    json!({ "n": v.len(), "p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0) })
}

fn main() {
    let ops: usize = std::env::var("ONAIR_ENGINE_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let doc = rt.block_on(run(ops));
    println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
}

async fn run(ops: usize) -> Value {
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
        command_timeout: Duration::from_secs(2),
        ..CasparConfig::default()
    });
    let asrun_dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let (engine, _) = engine::spawn(engine::EngineDeps {
        limits: Limits {
            max_items: 100_000,
            ..Limits::default()
        },
        poll_interval: Duration::from_millis(10),
        asrun: Some(AsRunWriter::new(AsRunLog::open(asrun_dir.path()).unwrap())),
        ..engine::EngineDeps::new(
            caspar.clone(),
            vec![
                playlist("a", "1-10", &["CLIP1"], false),
                playlist("b", "2-10", &["CLIP1", "CLIP2"], true),
                playlist("c", "3-10", &["SHORT", "SHORT"], true),
                // Adds go to an empty playlist per phase: the cost of an edit still grows with the
                // rundown (whole-playlist events), so both phases must start from the same size.
                playlist("d1", "1-20", &[], false),
                playlist("d2", "1-30", &[], false),
            ],
            shutdown.clone(),
        )
    });
    let mut rx = engine.watch_snapshot();
    let ready = |s: &engine::Snapshot| s.link.connected && !s.media.clips.is_empty();
    while !ready(&rx.borrow()) {
        rx.changed().await.unwrap();
    }
    let take = |id: &str| Op::Take {
        playlist: Some(id.into()),
        item: None,
    };
    engine.execute(take("a")).await.unwrap();
    engine.execute(take("c")).await.unwrap();

    let healthy = phase(&engine, ops, "d1").await;
    let switches_healthy = auto_offsets(&sim, &asrun_dir, 4).await;

    // The server turns slow, and stays slow while we measure.
    sim.faults()
        .set_command_delay_for("CLS", Duration::from_secs(10));
    sim.faults()
        .set_command_delay_for("STOP", Duration::from_secs(3));
    let stop = Arc::new(AtomicBool::new(false));
    let mut background = Vec::new();
    for op in [
        Op::MediaRescan,
        Op::Stop {
            playlist: Some("a".into()),
        },
    ] {
        let (engine, stop) = (engine.clone(), stop.clone());
        background.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = engine.execute(op.clone()).await;
            }
        }));
    }
    while sim.faults().delaying() < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let slow = phase(&engine, ops, "d2").await;
    let switches_slow = auto_offsets(&sim, &asrun_dir, 4).await;
    stop.store(true, Ordering::Relaxed);
    for b in background {
        b.abort();
    }
    shutdown.cancel();

    let ratio = |a: &Value, b: &Value| match (a["p99"].as_f64(), b["p99"].as_f64()) {
        (Some(x), Some(y)) if y > 0.0 => json!((x / y * 100.0).round() / 100.0),
        _ => Value::Null,
    };
    json!({
        "bench": "engine",
        "ops_per_phase": ops,
        "healthy": { "take_ms": healthy.0, "add_ms": healthy.1, "auto_asrun_offset_ms": switches_healthy },
        "slow_server": {
            "faults": "CLS held 10 s (rescans back to back); STOP on channel 1 held 3 s, deadline 2 s (back to back)",
            "take_ms": slow.0, "add_ms": slow.1, "auto_asrun_offset_ms": switches_slow,
        },
        "add_p99_slow_vs_healthy": ratio(&slow.1, &healthy.1),
        "targets": {
            "take_p99_ms_under_faults": 5,
            "add_p99_slow_vs_healthy": 1.2,
            "auto_asrun_offset_ms": format!("within one frame ({FRAME_MS} ms)"),
        },
    })
}

/// `ops` takes on channel 2 and `ops` adds to playlist `adds_to`; latencies in ms.
async fn phase(engine: &EngineHandle, ops: usize, adds_to: &str) -> (Value, Value) {
    let mut takes = Vec::with_capacity(ops);
    let mut adds = Vec::with_capacity(ops);
    for _ in 0..ops {
        let t = Instant::now();
        engine
            .execute(Op::Take {
                playlist: Some("b".into()),
                item: None,
            })
            .await
            .expect("take");
        takes.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        engine
            .execute(Op::ItemAdd {
                playlist: Some(adds_to.into()),
                item: NewItem {
                    clip: "CLIP2".into(),
                    ..NewItem::default()
                },
                index: None,
            })
            .await
            .expect("add");
        adds.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (stats(takes), stats(adds))
}

/// Waits for `n` AUTO switches on channel 3 and returns, per switch, the as-run start minus the
/// switch on the simulator's frame clock.
async fn auto_offsets(sim: &Sim, dir: &tempfile::TempDir, n: usize) -> Value {
    let fg = || {
        sim.with_state(|s| match &s.layer(2, 10)?.foreground {
            Producer::Clip(c) => Some(c.time),
            _ => None,
        })
    };
    let mut switches = Vec::new();
    let mut last = fg();
    while switches.len() < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let now = fg();
        if let (Some(before), Some(frames)) = (last, now)
            && frames < before
        {
            switches.push(wall_ms() - frames as f64 * FRAME_MS);
        }
        last = now;
    }
    // Give the engine a moment to write the last line.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let path = dir
        .path()
        .join(format!("{}.jsonl", asrun::utc_date(SystemTime::now())));
    let (lines, _) = asrun::read_file(&path).unwrap_or_default();
    let starts: Vec<f64> = lines
        .iter()
        .filter(|l| l.entry.playlist == "c" && l.entry.event == asrun::AsRunEvent::Start)
        .map(|l| rfc3339_ms(&l.time))
        .collect();
    let offsets: Vec<f64> = switches
        .iter()
        .map(|s| {
            starts
                .iter()
                .map(|a| a - s)
                .min_by(|x, y| x.abs().total_cmp(&y.abs()))
                .unwrap_or(f64::NAN)
        })
        .collect();
    json!({ "switches": n, "offsets_ms": offsets })
}

fn rfc3339_ms(time: &str) -> f64 {
    let parse = |r: std::ops::Range<usize>| time[r].parse::<i64>().unwrap_or(0);
    let (y, mo, d) = (parse(0..4), parse(5..7), parse(8..10));
    let (h, mi, s, ms) = (parse(11..13), parse(14..16), parse(17..19), parse(20..23));
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (((days * 24 + h) * 60 + mi) * 60 + s) as f64 * 1000.0 + ms as f64
}
