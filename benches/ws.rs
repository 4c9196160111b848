//! WebSocket benchmark: `cargo bench --bench ws` prints one JSON document.
//!
//! - fan-out: the real `onair serve` as a child process, N clients (default 1,000) connected; M state
//!   changes (default 1,000 `playlist.select`s, one small event each, one every 5 ms); for every client
//!   and every change, the delay from sending the command to the client's receipt of the event; and
//!   the daemon process's own CPU time and RSS.
//! - command latency: `playout.take` sent over WebSocket until the `PLAY` line has been executed by the
//!   simulator (polled from its command counter), p50/p99 over K takes (default 500).
//!
//! Environment: `ONAIR_BENCH_CLIENTS`, `ONAIR_BENCH_CHANGES`, `ONAIR_BENCH_TAKES`, `ONAIR_BENCH_PACE_US`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};

use onair::sim::{Sim, SimConfig};
use tokio_tungstenite::tungstenite::Message;

#[path = "common/daemon.rs"]
mod daemon;
use daemon::{proc_usage, start_daemon};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut Ws) -> Option<serde_json::Value> {
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).ok();
        }
    }
    None
}

async fn command(ws: &mut Ws, id: &str, op: &str, args: serde_json::Value) -> serde_json::Value {
    let cmd = serde_json::json!({"type": "command", "id": id, "op": op, "args": args});
    ws.send(Message::Text(cmd.to_string().into()))
        .await
        .expect("send");
    loop {
        let v = next_json(ws).await.expect("ack");
        if v["type"] == "ack" && v["id"] == id {
            return v;
        }
    }
}

fn main() {
    let clients = env_usize("ONAIR_BENCH_CLIENTS", 1000);
    let changes = env_usize("ONAIR_BENCH_CHANGES", 1000);
    let takes = env_usize("ONAIR_BENCH_TAKES", 500);
    let pace = Duration::from_micros(env_usize("ONAIR_BENCH_PACE_US", 5000) as u64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
        let data = std::env::temp_dir().join(format!("onair-bench-ws-{}", std::process::id()));
        let env = [
            ("ONAIR_SERVER_MAX_CLIENTS", (clients + 16).to_string()),
            ("ONAIR_SERVER_MAX_CLIENTS_PER_IP", (clients + 16).to_string()),
            ("ONAIR_SERVER_RATE_LIMIT_PER_SEC", "10000".to_string()),
            ("ONAIR_SERVER_RATE_LIMIT_BURST", "100000".to_string()),
            ("ONAIR_SERVER_EVENT_BUFFER", (changes + 16).to_string()),
        ];
        let daemon = start_daemon(&sim.addr().to_string(), &data, &env);
        let url = format!("ws://{}/ws", daemon.addr);
        let pid = daemon.child.id();

        let (mut control, _) = tokio_tungstenite::connect_async(&url).await.expect("connect");
        next_json(&mut control).await.expect("hello");
        // Wait until the daemon is connected to the simulator and has the media list.
        loop {
            let h = command(&mut control, "h", "health", serde_json::json!({})).await;
            if h["health"]["caspar"]["connected"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        command(&mut control, "c", "playlist.create", serde_json::json!({"name": "other"})).await;
        command(&mut control, "l", "playlist.loop", serde_json::json!({"playlist": "main", "enabled": true})).await;
        for (i, clip) in ["CLIP1", "CLIP2", "SHORT"].iter().enumerate() {
            let ack = command(&mut control, &format!("a{i}"), "item.add", serde_json::json!({"playlist": "main", "clip": clip})).await;
            assert_eq!(ack["ok"], true, "{ack}");
        }

        // Connect every client and read its hello + snapshot before measuring.
        let mut sockets = Vec::with_capacity(clients);
        for _ in 0..clients {
            let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.expect("connect");
            next_json(&mut ws).await.expect("hello");
            next_json(&mut ws).await.expect("snapshot");
            sockets.push(ws);
        }
        let (cpu0, rss0) = proc_usage(pid);
        let readers: Vec<_> = sockets
            .into_iter()
            .map(|mut ws| {
                tokio::spawn(async move {
                    let mut got = Vec::with_capacity(changes);
                    while got.len() < changes {
                        let Some(v) = next_json(&mut ws).await else { break };
                        if v["type"] == "event" && v["kind"] == "selected" {
                            got.push((v["seq"].as_u64().unwrap_or(0), Instant::now()));
                        }
                    }
                    got
                })
            })
            .collect();
        // Each change: alternate the selected playlist (one small event). Sent at a steady pace, the
        // way operators and panels produce changes, timed from the moment the command leaves.
        let mut sent: HashMap<u64, Instant> = HashMap::with_capacity(changes);
        let mut rss_max = rss0;
        let started = Instant::now();
        for i in 0..changes {
            let playlist = if i % 2 == 0 { "other" } else { "main" };
            let t0 = Instant::now();
            let ack = command(&mut control, &format!("s{i}"), "playlist.select", serde_json::json!({"playlist": playlist})).await;
            if let Some(seq) = ack["seq"].as_u64() {
                sent.insert(seq, t0);
            }
            if i % 100 == 0 {
                rss_max = rss_max.max(proc_usage(pid).1);
            }
            tokio::time::sleep(pace.saturating_sub(t0.elapsed())).await;
        }
        let mut latencies = Vec::with_capacity(clients * changes);
        let mut received = 0usize;
        for r in readers {
            let got = r.await.expect("reader");
            received += got.len();
            for (seq, at) in got {
                if let Some(t0) = sent.get(&seq) {
                    latencies.push(at.saturating_duration_since(*t0).as_secs_f64() * 1000.0);
                }
            }
        }
        let wall = started.elapsed().as_secs_f64();
        let (cpu1, rss1) = proc_usage(pid);
        latencies.sort_by(|a, b| a.total_cmp(b));

        // Command latency: take over WebSocket until the simulator executed the PLAY.
        let mut take_ms = Vec::with_capacity(takes);
        for i in 0..takes {
            sim.clear_command_log();
            let cmd = serde_json::json!({"type": "command", "id": format!("t{i}"), "op": "playout.take", "args": {"playlist": "main"}});
            let t0 = Instant::now();
            control.send(Message::Text(cmd.to_string().into())).await.expect("send");
            while !sim.command_log().iter().any(|c| c.name == "PLAY") && t0.elapsed() < Duration::from_secs(5) {
                tokio::task::yield_now().await;
            }
            take_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            // Drain the ack and events so the socket never backs up.
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(2), next_json(&mut control)).await {}
        }
        take_ms.sort_by(|a, b| a.total_cmp(b));

        let report = serde_json::json!({
            "benchmark": "ws",
            "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
            "fan_out": {
                "clients": clients,
                "changes": changes,
                "pace_ms": pace.as_secs_f64() * 1000.0,
                "deliveries": received,
                "expected_deliveries": clients * changes,
                "latency_ms": { "p50": percentile(&latencies, 0.5), "p99": percentile(&latencies, 0.99), "max": percentile(&latencies, 1.0) },
                "target_p99_ms": 10.0,
                "wall_seconds": wall,
                "daemon_cpu_seconds": cpu1 - cpu0,
                "daemon_cpu_percent_of_one_core": (cpu1 - cpu0) / wall * 100.0,
                "daemon_rss_bytes": { "before": rss0, "max": rss_max.max(rss1), "after": rss1 },
                "target_rss_bytes": 100u64 * 1024 * 1024,
            },
            "command_latency": {
                "takes": takes,
                "take_to_play_ms": { "p50": percentile(&take_ms, 0.5), "p99": percentile(&take_ms, 0.99) },
                "target_p99_ms": 1.0,
            },
        });
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        drop(daemon);
        sim.shutdown().await;
        let _ = std::fs::remove_dir_all(data);
    });
}
