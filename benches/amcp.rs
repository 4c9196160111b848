//! AMCP link benchmark: `cargo bench --bench amcp` prints one JSON document.
//!
//! Both sides run against the same simulator in the same process, so the figures compare client
//! overhead, not servers:
//! - pipelined: N `PLAY` commands through `CasparHandle` versus a raw socket that writes the same
//!   `REQ <id> PLAY …` lines and counts the replies, both keeping at most 64 commands in flight per
//!   channel queue (more would overflow the server's 128-command queues, as on a real CasparCG);
//! - sequential: one `PLAY` at a time, round-trip latency percentiles for both.
//!
//! Environment: `ONAIR_BENCH_COMMANDS` (default 1,000,000), `ONAIR_BENCH_ROUND_TRIPS` (default 20,000),
//! `ONAIR_BENCH_SERVER` (`sim` or `minimal` to run only one of the two servers).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use onair::amcp::{ChannelLayer, Clip, Command};
use onair::caspar::{CasparHandle, CommandError};
use onair::config::CasparConfig;
use onair::sim::{Sim, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CHANNELS: u16 = 4;
const WINDOW_PER_QUEUE: usize = 64;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn line(id: usize) -> String {
    let ch = 1 + (id % usize::from(CHANNELS));
    format!("REQ {id} PLAY {ch}-10 \"CLIP1\"\r\n")
}

/// Writes lines and counts reply lines, keeping the same in-flight window as the handle.
/// A minimal AMCP responder: answers `REQ <id> …` with `RES <id> 202 PLAY OK`, the REQ probe with
/// a VERSION, and PING with PONG. It shows the client's own ceiling, which the simulator (a full
/// server model) hides.
async fn fast_responder() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = s.set_nodelay(true);
                let (mut rd, mut wr) = s.into_split();
                let mut buf = vec![0u8; 64 * 1024];
                let mut pending = Vec::new();
                let mut out = Vec::with_capacity(64 * 1024);
                loop {
                    let k = match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => k,
                    };
                    pending.extend_from_slice(&buf[..k]);
                    let mut start = 0;
                    while let Some(p) = memchr::memmem::find(&pending[start..], b"\r\n") {
                        let line = &pending[start..start + p];
                        start += p + 2;
                        if let Some(rest) = line.strip_prefix(b"REQ ") {
                            let id_end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
                            let id = &rest[..id_end];
                            out.extend_from_slice(b"RES ");
                            out.extend_from_slice(id);
                            if rest[id_end..].starts_with(b" VERSION") {
                                out.extend_from_slice(
                                    b" 201 VERSION OK\r\n2.4.3 fd9168c73 Stable\r\n",
                                );
                            } else {
                                out.extend_from_slice(b" 202 PLAY OK\r\n");
                            }
                        } else if let Some(rest) = line.strip_prefix(b"PING") {
                            out.extend_from_slice(b"PONG");
                            out.extend_from_slice(rest);
                            out.extend_from_slice(b"\r\n");
                        }
                    }
                    pending.drain(..start);
                    if !out.is_empty() {
                        if wr.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                }
            });
        }
    });
    addr
}

async fn raw_pipelined(addr: SocketAddr, n: usize) -> (Duration, usize) {
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let (mut rd, mut wr) = s.into_split();
    let window = WINDOW_PER_QUEUE * usize::from(CHANNELS);
    let start = Instant::now();
    let mut sent = 0;
    let mut out = String::new();
    while sent < n.min(window) {
        out.push_str(&line(sent));
        sent += 1;
    }
    wr.write_all(out.as_bytes()).await.expect("write");
    let mut received = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while received < n {
        let k = rd.read(&mut buf).await.expect("read");
        assert!(k > 0, "simulator closed the connection");
        let replies = memchr::memchr_iter(b'\n', &buf[..k]).count();
        received += replies;
        out.clear();
        for _ in 0..replies {
            if sent < n {
                out.push_str(&line(sent));
                sent += 1;
            }
        }
        if !out.is_empty() {
            wr.write_all(out.as_bytes()).await.expect("write");
        }
    }
    (start.elapsed(), received)
}

async fn handle_pipelined(h: &CasparHandle, n: usize) -> (Duration, usize, usize) {
    let start = Instant::now();
    let tasks = 8;
    let per_task = n / tasks;
    let joins: Vec<_> = (0..tasks)
        .map(|t| {
            let h = h.clone();
            tokio::spawn(async move {
                let (mut ok, mut lost) = (0, 0);
                let mut done = 0;
                while done < per_task {
                    let batch = (per_task - done).min(2000);
                    let cmds = (0..batch).map(|i| {
                        let ch = 1 + ((t + done + i) % usize::from(CHANNELS)) as u16;
                        Command::Play(
                            ChannelLayer::new(ch, 10).expect("valid"),
                            Some(Clip::new("CLIP1")),
                        )
                    });
                    for r in h.send_many(cmds).await {
                        match r {
                            Ok(_) => ok += 1,
                            Err(CommandError::Overloaded | CommandError::Server { .. }) => ok += 1,
                            Err(_) => lost += 1,
                        }
                    }
                    done += batch;
                }
                (ok, lost)
            })
        })
        .collect();
    let (mut ok, mut lost) = (0, 0);
    for j in joins {
        let (o, l) = j.await.expect("task");
        ok += o;
        lost += l;
    }
    (start.elapsed(), ok, lost)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

async fn raw_sequential(addr: SocketAddr, n: usize) -> Vec<Duration> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut buf = vec![0u8; 4096];
    let mut rtts = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        s.write_all(line(i).as_bytes()).await.expect("write");
        let mut got = 0;
        while !buf[..got].ends_with(b"\r\n") {
            let k = s.read(&mut buf[got..]).await.expect("read");
            assert!(k > 0, "closed");
            got += k;
        }
        rtts.push(t.elapsed());
    }
    rtts
}

async fn handle_sequential(h: &CasparHandle, n: usize) -> Vec<Duration> {
    let mut rtts = Vec::with_capacity(n);
    for i in 0..n {
        let ch = 1 + (i % usize::from(CHANNELS)) as u16;
        let cmd = Command::Play(
            ChannelLayer::new(ch, 10).expect("valid"),
            Some(Clip::new("CLIP1")),
        );
        let t = Instant::now();
        h.send(cmd).await.expect("PLAY succeeds");
        rtts.push(t.elapsed());
    }
    rtts
}

fn summary(mut rtts: Vec<Duration>) -> serde_json::Value {
    rtts.sort();
    serde_json::json!({
        "p50_us": percentile(&rtts, 0.50),
        "p99_us": percentile(&rtts, 0.99),
        "max_us": percentile(&rtts, 1.0),
    })
}

/// Raw socket and handle against one server, pipelined and sequential.
async fn run_pair(addr: SocketAddr, n: usize, rt_n: usize) -> serde_json::Value {
    let (raw_time, raw_replies) = raw_pipelined(addr, n).await;
    let link = CasparConfig {
        address: addr.to_string(),
        max_in_flight_per_queue: WINDOW_PER_QUEUE,
        command_timeout: Duration::from_secs(30),
        ..CasparConfig::default()
    };
    let (h, _task) = CasparHandle::spawn(link);
    h.wait_connected().await;
    let (handle_time, handle_ok, handle_lost) = handle_pipelined(&h, n).await;
    let raw_rate = raw_replies as f64 / raw_time.as_secs_f64();
    let handle_rate = handle_ok as f64 / handle_time.as_secs_f64();
    let raw_rtt = summary(raw_sequential(addr, rt_n).await);
    let handle_rtt = summary(handle_sequential(&h, rt_n).await);
    let ratio_p50 =
        handle_rtt["p50_us"].as_f64().unwrap_or(0.0) / raw_rtt["p50_us"].as_f64().unwrap_or(1.0);
    h.shutdown();
    serde_json::json!({
        "pipelined": {
            "commands": n,
            "raw_socket": { "seconds": raw_time.as_secs_f64(), "commands_per_sec": raw_rate, "replies": raw_replies },
            "handle": { "seconds": handle_time.as_secs_f64(), "commands_per_sec": handle_rate, "resolved": handle_ok, "lost": handle_lost },
            "handle_to_raw_ratio": handle_rate / raw_rate,
        },
        "sequential_round_trip": {
            "round_trips": rt_n,
            "raw_socket": raw_rtt,
            "handle": handle_rtt,
            "p50_handle_to_raw": ratio_p50,
        },
    })
}

fn main() {
    let n = env_usize("ONAIR_BENCH_COMMANDS", 1_000_000);
    let rt_n = env_usize("ONAIR_BENCH_ROUND_TRIPS", 20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let which = std::env::var("ONAIR_BENCH_SERVER").unwrap_or_default();
        let mut against_sim = serde_json::Value::Null;
        if which.is_empty() || which == "sim" {
            let mut cfg = SimConfig::for_tests();
            cfg.formats = vec![cfg.formats[0]; usize::from(CHANNELS)];
            let sim = Sim::start(cfg).await.expect("sim");
            against_sim = run_pair(sim.addr(), n, rt_n).await;
            sim.shutdown().await;
        }
        let mut against_fast = serde_json::Value::Null;
        if which.is_empty() || which == "minimal" {
            against_fast = run_pair(fast_responder().await, n, rt_n).await;
        }
        let report = serde_json::json!({
            "benchmark": "amcp",
            "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
            "targets": { "pipelined_handle_to_raw_ratio": 0.40, "sequential_p50_handle_to_raw": 1.5 },
            "against_simulator": against_sim,
            "against_minimal_responder": against_fast,
        });
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    });
}
