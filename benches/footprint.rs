//! Footprint benchmark: `cargo bench --bench footprint` prints one JSON document.
//!
//! - OSC ingest: a simulator with 8 channels of 1080p5000, every channel playing a looping clip, so
//!   each frame carries full layer state over OSC to the daemon (which subscribes by itself with
//!   `OSC SUBSCRIBE`); the real `onair serve` as a child process, no WebSocket clients. Daemon CPU
//!   (user + sys from /proc/<pid>/stat) over `ONAIR_FOOTPRINT_SECS` (default 60). Target ≤ 2 % of
//!   one core.
//! - Idle: a fresh daemon against the same simulator with every channel cleared, no clients: RSS and
//!   CPU over the same duration. Targets RSS ≤ 20 MB, CPU ≤ 0.5 %.
//!
//! The `osc` object of `/health` is included so a run that received no OSC cannot pass unnoticed.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use onair::sim::format::VideoFormat;
use onair::sim::{ClockMode, Sim, SimConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

#[path = "common/daemon.rs"]
mod daemon;
use daemon::{proc_usage, start_daemon};

const CHANNELS: usize = 8;

/// `GET /health` as JSON (a plain HTTP/1.0 request keeps this free of an HTTP client).
fn health(addr: &str) -> serde_json::Value {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return serde_json::Value::Null;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(s, "GET /health HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Waits (bounded) until the daemon reports a connected link.
fn wait_connected(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while health(addr)["caspar"]["connected"] != true {
        assert!(
            Instant::now() < deadline,
            "daemon never connected to the simulator"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends AMCP lines to the simulator on a connection of its own and reads one reply per line.
async fn amcp(sim: &Sim, lines: &[String]) {
    let stream = tokio::net::TcpStream::connect(sim.addr())
        .await
        .expect("amcp");
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r).lines();
    for line in lines {
        w.write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        let reply = r.next_line().await.expect("read").unwrap_or_default();
        assert!(reply.starts_with("20"), "{line}: {reply}");
    }
}

/// Measures CPU share of one core and RSS of `pid` over `secs`.
fn measure(pid: u32, secs: u64) -> serde_json::Value {
    let (cpu0, rss0) = proc_usage(pid);
    let t0 = Instant::now();
    let mut rss_max = rss0;
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(500));
        rss_max = rss_max.max(proc_usage(pid).1);
    }
    let (cpu1, rss1) = proc_usage(pid);
    let wall = t0.elapsed().as_secs_f64();
    serde_json::json!({
        "seconds": wall,
        "cpu_percent_of_one_core": (cpu1 - cpu0) / wall * 100.0,
        "rss_start_mb": rss0 as f64 / 1e6,
        "rss_end_mb": rss1 as f64 / 1e6,
        "rss_max_mb": rss_max as f64 / 1e6,
    })
}

fn main() {
    let secs: u64 = std::env::var("ONAIR_FOOTPRINT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sim = runtime.block_on(async {
        let format = VideoFormat::parse("1080p5000").expect("format");
        Sim::start(SimConfig {
            formats: vec![format; CHANNELS],
            clock: ClockMode::Realtime,
            ..SimConfig::for_tests()
        })
        .await
        .expect("sim")
    });
    let caspar = sim.addr().to_string();
    let play: Vec<String> = (1..=CHANNELS)
        .map(|c| format!("PLAY {c}-10 CLIP1 LOOP"))
        .collect();
    runtime.block_on(amcp(&sim, &play));

    let data = tempfile::tempdir().expect("temp dir");
    let daemon = start_daemon(&caspar, &data.path().join("osc"), &[]);
    wait_connected(&daemon.addr);
    // Let start-up work (media scan, reconciliation, first allocations) finish before measuring.
    std::thread::sleep(Duration::from_secs(3));
    let osc_run = measure(daemon.child.id(), secs);
    let osc_health = health(&daemon.addr)["osc"].clone();
    drop(daemon);

    let clear: Vec<String> = (1..=CHANNELS).map(|c| format!("CLEAR {c}")).collect();
    runtime.block_on(amcp(&sim, &clear));
    let daemon = start_daemon(&caspar, &data.path().join("idle"), &[]);
    wait_connected(&daemon.addr);
    std::thread::sleep(Duration::from_secs(3));
    let idle = measure(daemon.child.id(), secs);
    drop(daemon);
    runtime.block_on(sim.shutdown());

    let out = serde_json::json!({
        "footprint": {
            "channels": CHANNELS,
            "format": "1080p5000",
            "osc_ingest": {"measured": osc_run, "osc": osc_health, "target_cpu_percent": 2.0},
            "idle": {"measured": idle, "target_cpu_percent": 0.5, "target_rss_mb": 20.0},
        }
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}
