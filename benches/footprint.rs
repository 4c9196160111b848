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

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use onair::sim::format::VideoFormat;
use onair::sim::{ClockMode, Sim, SimConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const CHANNELS: usize = 8;

struct Daemon {
    child: Child,
    addr: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(caspar: &str, data: &std::path::Path) -> Daemon {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onair"));
    // The daemon rejects ONAIR_* variables it does not know, such as this benchmark's own.
    for (k, _) in std::env::vars() {
        if k.starts_with("ONAIR_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--caspar",
            caspar,
            "--data",
        ])
        .arg(data)
        .env("ONAIR_LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("onair serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("onair serve prints its address");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    // Keep draining stderr so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Daemon { child, addr }
}

/// (user + system CPU seconds, RSS bytes) of a process, from /proc.
fn proc_usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the stat line, i.e. 11 and 12 after the command name.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    (cpu, rss_kb * 1024)
}

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
    let daemon = start_daemon(&caspar, &data.path().join("osc"));
    wait_connected(&daemon.addr);
    // Let start-up work (media scan, reconciliation, first allocations) finish before measuring.
    std::thread::sleep(Duration::from_secs(3));
    let osc_run = measure(daemon.child.id(), secs);
    let osc_health = health(&daemon.addr)["osc"].clone();
    drop(daemon);

    let clear: Vec<String> = (1..=CHANNELS).map(|c| format!("CLEAR {c}")).collect();
    runtime.block_on(amcp(&sim, &clear));
    let daemon = start_daemon(&caspar, &data.path().join("idle"));
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
