//! `/health/live` latency while connections are held open against the daemon: N idle and N
//! half-sent connections (N = 0 and N = 1,000), with the default file limit and with a soft and
//! hard limit of 256 (`prlimit`), against the real `onair serve` process. A bare HTTP responder on
//! a raw socket in this process, probed the same way, is the same-run baseline.
//!
//! Each probe opens a new TCP connection, sends `GET /health/live` and reads the answer to its end,
//! as a load balancer or `curl` does. Held connections that the daemon closes (shed for room, or
//! past the header deadline) are reopened after 1 s, as a patient attacker would.
//!
//! `cargo bench --bench http` prints one JSON document. `ONAIR_HTTP_PROBES` sets the probes per
//! scenario (default 500).

#[path = "common/daemon.rs"]
mod daemon;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use daemon::Daemon;
use onair::sim::{Sim, SimConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A probe that takes longer than this counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

fn main() {
    let _ = rlimit::increase_nofile_limit(16_384);
    let probes: usize = std::env::var("ONAIR_HTTP_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sim = runtime
        .block_on(Sim::start(SimConfig::for_tests()))
        .expect("sim");
    let caspar = sim.addr().to_string();
    let baseline = runtime.block_on(async {
        let addr = bare_responder().await;
        probe_series(&addr, probes).await
    });
    let mut scenarios = Vec::new();
    for nofile in [None, Some(256u64)] {
        for held in [0usize, 1000] {
            let data = tempfile::tempdir().expect("temp dir");
            let d = start(&caspar, data.path(), nofile);
            let result = runtime.block_on(scenario(&d.addr, held, probes));
            scenarios.push(json!({
                "nofile": nofile.map_or(json!("default"), |n| json!(n)),
                "idle": held,
                "half_sent": held,
                "probes": result,
                "p99_vs_bare": ratio(&result, &baseline, "p99_ms"),
            }));
            drop(d);
        }
    }
    let doc = json!({
        "bench": "http",
        "what": "/health/live latency (new connection per probe) while N idle and N half-sent connections are held",
        "probes_per_scenario": probes,
        "baseline_bare_socket": baseline,
        "scenarios": scenarios,
        "target": "every probe answered; p99 <= 50 ms with 1,000 + 1,000 held, also at a 256-file limit",
    });
    println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
}

fn ratio(a: &Value, b: &Value, key: &str) -> Value {
    match (a[key].as_f64(), b[key].as_f64()) {
        (Some(x), Some(y)) if y > 0.0 => json!((x / y * 100.0).round() / 100.0),
        _ => Value::Null,
    }
}

/// `onair serve`, under `prlimit --nofile=N:N` when `nofile` is given.
fn start(caspar: &str, data: &std::path::Path, nofile: Option<u64>) -> Daemon {
    match nofile {
        None => daemon::start_daemon(caspar, data, &[]),
        Some(n) => daemon::start_daemon_with(
            "prlimit",
            &[format!("--nofile={n}:{n}"), "--".into()],
            caspar,
            data,
            &[],
        ),
    }
}

/// Holds `held` idle and `held` half-sent connections, then measures probes.
async fn scenario(addr: &str, held: usize, probes: usize) -> Value {
    let stop = Arc::new(AtomicBool::new(false));
    let reopened = Arc::new(AtomicU64::new(0));
    let mut holders = Vec::new();
    for i in 0..held * 2 {
        let (addr, stop, reopened) = (addr.to_owned(), stop.clone(), reopened.clone());
        holders.push(tokio::spawn(hold(addr, i % 2 == 1, stop, reopened)));
        if i % 100 == 99 {
            // Let the accept loop breathe like a real ramp-up rather than a SYN flood.
            tokio::task::yield_now().await;
        }
    }
    // Give the held connections time to be established before measuring.
    tokio::time::sleep(Duration::from_millis(if held > 0 { 1500 } else { 0 })).await;
    let mut result = probe_series(addr, probes).await;
    stop.store(true, Ordering::Relaxed);
    for h in holders {
        h.abort();
    }
    result["held_reopened"] = json!(reopened.load(Ordering::Relaxed));
    result
}

/// One held connection: open, send half a request (or nothing), wait until the daemon closes it,
/// reopen after 1 s.
async fn hold(addr: String, half: bool, stop: Arc<AtomicBool>, reopened: Arc<AtomicU64>) {
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        if !first {
            reopened.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        first = false;
        let Ok(mut s) = TcpStream::connect(&addr).await else {
            continue;
        };
        if half {
            let _ = s
                .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await;
        }
        let mut buf = [0u8; 512];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    }
}

/// `probes` sequential probes; latency percentiles in ms and failures.
async fn probe_series(addr: &str, probes: usize) -> Value {
    let mut ms = Vec::with_capacity(probes);
    let mut failed = 0u64;
    for _ in 0..probes {
        let start = Instant::now();
        match tokio::time::timeout(PROBE_TIMEOUT, probe(addr)).await {
            Ok(true) => ms.push(start.elapsed().as_secs_f64() * 1000.0),
            _ => failed += 1,
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if ms.is_empty() {
            Value::Null
        } else {
            let i = ((ms.len() as f64 - 1.0) * p).round() as usize;
            json!((ms[i] * 1000.0).round() / 1000.0)
        }
    };
    json!({
        "answered": ms.len(),
        "failed": failed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
    })
}

async fn probe(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    let req = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if s.write_all(req).await.is_err() {
        return false;
    }
    let mut out = Vec::with_capacity(256);
    s.read_to_end(&mut out).await.is_ok() && out.starts_with(b"HTTP/1.1 200")
}

/// The baseline: a raw socket that reads a request head and answers `ok`, no HTTP library.
async fn bare_responder() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let mut seen = Vec::new();
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
                    )
                    .await;
            });
        }
    });
    addr
}
