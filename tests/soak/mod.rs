//! Soak/chaos harness shared by `tests/soak.rs` (60 s, in CI) and `benches/soak.rs` (long runs).
//!
//! In one process: a sped-up simulator, the real daemon (`Daemon::start`), N WebSocket watchers that
//! check `seq` continuity, one operator issuing commands at a steady rate with autoplay on, and a
//! chaos task that restarts, stalls, disconnects, slows down and corrupts the simulator at random
//! intervals. [`run`] returns a [`Report`]; the callers decide what to assert or print.
//!
//! Pair mode (`Params::pair`): two simulators at the same speed with the same library, the daemon
//! configured with `[[servers]]` main + backup, the chaos task hitting the main, the backup or both,
//! and each simulator's layer sampled every frame to find playout gaps outside that side's own
//! downtime (`pair.rs`, `gaps.rs`).

#![allow(dead_code)]

pub mod chaos;
mod clients;
pub mod gaps;
pub mod pair;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use onair::caspar::CasparHandle;
use onair::config::{CasparConfig, Config, ServerEntry};
use onair::daemon::Daemon;
use onair::sim::{ClockMode, Sim, SimConfig};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use clients::Watcher;
pub use gaps::PairReport;

/// What to run.
#[derive(Debug, Clone)]
pub struct Params {
    pub duration: Duration,
    pub clients: usize,
    /// Time between two operator commands.
    pub op_interval: Duration,
    /// Chaos actions start at uniformly random intervals in this range.
    pub chaos_every: (Duration, Duration),
    /// Simulator clock speed: 4.0 plays a 10 s clip in 2.5 s, so autoplay changes items often.
    pub speed: f64,
    /// RSS growth is measured from this point on (allocator pools and buffers fill up before it).
    pub warmup: Duration,
    /// Print an interim JSON line this often (the bench uses a minute; the test none).
    pub report_every: Option<Duration>,
    /// Live heap bytes, when the caller tracks allocations (the bench with a heap profiler):
    /// reported beside RSS, which also counts what the allocator keeps after frees.
    pub heap_bytes: Option<fn() -> u64>,
    /// A main/backup pair of simulators instead of one, faults on either side or both, and each
    /// side's playout gaps measured at its simulator.
    pub pair: bool,
    /// Called once everything has settled and the final RSS is read, before anything is shut
    /// down: the bench ends its heap profile here, so the profile's end shows what a running
    /// daemon holds, not what teardown leaves.
    pub before_teardown: Option<fn()>,
}

/// The outcome of one run; every field is also printed as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub seconds: f64,
    pub clients: usize,
    pub commands_issued: u64,
    pub commands_acked: u64,
    pub commands_ok: u64,
    pub commands_failed: u64,
    pub failures_by_code: std::collections::BTreeMap<String, u64>,
    /// Commands without an ack once the link is back and a grace period passed.
    pub hung: u64,
    /// Acks for ids that were not pending (duplicates): must be 0.
    pub unexpected_acks: u64,
    pub max_ack_ms: f64,
    pub final_seq: u64,
    pub events_min: u64,
    pub events_max: u64,
    pub seq_gaps: u64,
    pub resyncs: u64,
    pub ws_reconnects: u64,
    /// Largest AMCP pending table (in flight + waiting) seen while the link was down.
    pub pending_while_down_max: u64,
    /// AMCP pending table once the link reconnected at the end.
    pub pending_at_end: u64,
    pub link_connects: u64,
    /// Commands the server refused with `504 QUEUE OVERFLOW` (provoked by the chaos flood).
    pub link_overloaded: u64,
    pub chaos: std::collections::BTreeMap<&'static str, u64>,
    pub item_starts_seen: u64,
    pub asrun_starts: u64,
    pub asrun_ends: u64,
    pub alarms_raised: u64,
    pub rss_start: u64,
    pub rss_warm: u64,
    pub rss_end: u64,
    pub rss_max: u64,
    /// (rss_end - rss_warm) / rss_warm.
    pub rss_growth_after_warmup: f64,
    /// RSS split as the kernel counts it, after warm-up and at the end: anonymous memory (the heap,
    /// stacks: what a leak grows) and file pages (the executable's code, faulted in the first time a
    /// path runs, clean, bounded by the binary's size and reclaimable by the kernel at any time).
    pub rss_anon_warm: u64,
    pub rss_anon_end: u64,
    pub rss_file_warm: u64,
    pub rss_file_end: u64,
    /// (rss_anon_end - rss_anon_warm) / rss_warm: the part of the growth that is not code pages.
    pub anon_growth_after_warmup: f64,
    /// Live heap bytes after warm-up and at the end (with `Params::heap_bytes`).
    pub heap_warm: Option<u64>,
    pub heap_end: Option<u64>,
    pub fds_start: u64,
    pub fds_end: u64,
    /// Pair mode: each side's faults, downtime, gaps outside it and catch-up times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair: Option<PairReport>,
}

impl Report {
    /// The invariants every run keeps (the callers add their own bounds on memory and the like).
    pub fn broken(&self) -> Vec<&'static str> {
        let mut broken = Vec::new();
        if self.commands_issued != self.commands_acked {
            broken.push("issued != acked");
        }
        if self.hung != 0 {
            broken.push("hung commands");
        }
        if self.unexpected_acks != 0 {
            broken.push("duplicate acks");
        }
        if self.seq_gaps != 0 {
            broken.push("seq gaps");
        }
        if self.pending_while_down_max != 0 || self.pending_at_end != 0 {
            broken.push("AMCP pending table not empty");
        }
        if let Some(pair) = &self.pair
            && pair
                .sides
                .iter()
                .any(|s| s.gaps_outside_downtime != 0 || s.held_outside_downtime != 0)
        {
            broken.push("playout gap (empty or held) outside a side's downtime");
        }
        broken
    }
}

/// Longest any end-of-run wait may take.
pub const SETTLE: Duration = Duration::from_secs(30);

/// A `/proc/self/status` field in bytes (they are given in kB).
fn status_bytes(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// (RssAnon, RssFile) bytes of this process.
pub fn self_rss_split() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    (
        status_bytes(&status, "RssAnon:"),
        status_bytes(&status, "RssFile:"),
    )
}

/// (VmRSS bytes, open file descriptors) of this process.
pub fn self_usage() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status_bytes(&status, "VmRSS:");
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    (rss, fds)
}

/// A link that notices a dead server quickly and reconnects fast.
fn link_config(sim: &Sim) -> CasparConfig {
    CasparConfig {
        address: sim.addr().to_string(),
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(500),
        // Short enough that a stalled server fails commands well within the run, instead of at 5 s.
        command_timeout: Duration::from_secs(2),
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(300),
        ..CasparConfig::default()
    }
}

/// One simulator as `[caspar]`, or two as `[[servers]]` main + backup.
fn daemon_config(sims: &[Arc<Sim>], data: &Path, clients: usize) -> Config {
    let mut config = Config::default();
    match sims {
        [main, backup] => {
            config.servers = vec![
                ServerEntry {
                    name: "main".into(),
                    backup: Some("backup".into()),
                    link: link_config(main),
                },
                ServerEntry {
                    name: "backup".into(),
                    backup: None,
                    link: link_config(backup),
                },
            ];
        }
        _ => config.caspar = link_config(&sims[0]),
    }
    config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.server.max_clients = clients + 8;
    config.server.max_clients_per_ip = clients + 8;
    config.server.rate_limit_per_sec = 1000;
    config.server.rate_limit_burst = 1000;
    config.store.data_dir = data.to_path_buf();
    config
}

/// Counts `start` and `end` lines of the as-run log.
fn asrun_counts(dir: &Path) -> (u64, u64) {
    let (mut starts, mut ends) = (0, 0);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            if line.contains("\"event\":\"start\"") {
                starts += 1;
            } else if line.contains("\"event\":\"end\"") {
                ends += 1;
            }
        }
    }
    (starts, ends)
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; returns whether it held.
pub async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs one soak and returns its report; panics only if the rig cannot even start.
pub async fn run(mut params: Params) -> Report {
    let before_teardown = params.before_teardown.take();
    let (rss_start, fds_start) = self_usage();
    let started = Instant::now();
    let mut sims = Vec::new();
    for _ in 0..if params.pair { 2 } else { 1 } {
        // Same speed, same (deterministic) virtual library on both sides of a pair.
        let sim = Sim::start(SimConfig {
            clock: ClockMode::Speed(params.speed),
            ..SimConfig::for_tests()
        })
        .await
        .expect("sim starts");
        sims.push(Arc::new(sim));
    }
    let data = tempfile::tempdir().expect("temp dir");
    let daemon = Daemon::start(daemon_config(&sims, data.path(), params.clients))
        .await
        .expect("daemon starts");
    let links: Vec<CasparHandle> = daemon.links();
    assert_eq!(links.len(), sims.len(), "one link per simulator");
    let url = format!("ws://{}/ws", daemon.addr);
    let mut snapshots = daemon.engine.watch_snapshot();
    tokio::time::timeout(
        SETTLE,
        snapshots.wait_for(|s| {
            s.link.connected
                && !s.media.clips.is_empty()
                && s.link.servers.iter().all(|v| v.connected && v.in_step)
        }),
    )
    .await
    .expect("daemon connects to the simulators")
    .expect("engine alive");
    let mut recording = params
        .pair
        .then(|| pair::Recording::start(links.clone(), &daemon.engine));

    let stop_clients = CancellationToken::new();
    let watchers: Vec<Arc<Watcher>> = (0..params.clients)
        .map(|_| Watcher::spawn(url.clone(), stop_clients.clone()))
        .collect();
    let operator = clients::Operator::connect(&url).await;
    operator.setup().await;
    if let Some(recording) = &mut recording {
        // Before the first take the layers legitimately show nothing: gaps count from the moment
        // both play (bounded: if one never does, sampling starts anyway and shows it).
        wait_until(SETTLE, || {
            sims.iter().all(|s| pair::shows(s) == pair::Shows::Playing)
        })
        .await;
        recording.start_sampling(sims.clone());
    }

    let stop_ops = CancellationToken::new();
    let op_task = tokio::spawn(operator.clone().drive(params.op_interval, stop_ops.clone()));
    let chaos = chaos::Chaos::new();
    let deadline = started + params.duration;
    let targets = sims
        .iter()
        .zip(&links)
        .map(|(sim, link)| chaos::Target {
            sim: Arc::clone(sim),
            link: link.clone(),
        })
        .collect();
    let chaos_task = tokio::spawn(chaos.clone().drive(targets, params.chaos_every, deadline));

    // Sample RSS while the run goes on; print interim lines if asked.
    let mut rss_warm = 0;
    let mut split_warm = None;
    let mut heap_warm = None;
    let mut rss_max = rss_start;
    let mut next_report = params.report_every.map(|every| started + every);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        // The simulator remembers its last 10,000 commands and 10,000 takes for tests that
        // inspect them; in this one process those logs would count as growth that is not the
        // daemon's (the take log alone held 0.33 MB after 10 minutes, heap-profiled, and fills
        // for about an hour: ~1.5 MB).
        for sim in &sims {
            sim.clear_command_log();
            drop(sim.drain_take_log());
        }
        let (rss, fds) = self_usage();
        rss_max = rss_max.max(rss);
        if rss_warm == 0 && started.elapsed() >= params.warmup {
            rss_warm = rss;
            split_warm = Some(self_rss_split());
            heap_warm = params.heap_bytes.map(|f| f());
        }
        if let (Some(at), Some(every)) = (next_report, params.report_every)
            && Instant::now() >= at
        {
            next_report = Some(at + every);
            let (anon, file) = self_rss_split();
            let line = serde_json::json!({
                "elapsed_s": started.elapsed().as_secs(),
                "commands_issued": operator.issued(),
                "pending_commands": operator.pending(),
                "events_min": watchers.iter().map(|w| w.events.load(Ordering::Relaxed)).min(),
                "seq_gaps": watchers.iter().map(|w| w.gaps.load(Ordering::Relaxed)).sum::<u64>(),
                "chaos": chaos.counts(),
                "rss": rss,
                "rss_anon": anon,
                "rss_file": file,
                "heap": params.heap_bytes.map(|f| f()),
                "fds": fds,
            });
            println!("{line}");
        }
    }

    // Chaos ends by clearing every fault; then the links must come back and everything settle.
    let _ = chaos_task.await;
    stop_ops.cancel();
    let _ = op_task.await;
    wait_until(SETTLE, || links.iter().all(|l| l.state().is_connected())).await;
    wait_until(SETTLE, || operator.pending() == 0).await;
    let mut pending: Vec<u64> = vec![u64::MAX; links.len()];
    wait_until(Duration::from_secs(10), || {
        for (p, link) in pending.iter_mut().zip(&links) {
            let s = link.stats();
            *p = s.in_flight + s.waiting;
        }
        pending.iter().all(|p| *p == 0)
    })
    .await;
    let pending_at_end = pending.iter().copied().max().unwrap_or(0);
    let final_seq = daemon.engine.watch_snapshot().borrow().seq;
    wait_until(SETTLE, || {
        watchers
            .iter()
            .all(|w| w.last_seq.load(Ordering::SeqCst) >= final_seq)
    })
    .await;
    let pair_report = match recording {
        Some(recording) => {
            let at_end: Vec<(u64, u64)> = links
                .iter()
                .zip(&pending)
                .map(|(l, p)| (l.stats().connects, *p))
                .collect();
            Some(
                recording
                    .finish(&daemon.engine, &chaos, started, &at_end)
                    .await,
            )
        }
        None => None,
    };
    stop_clients.cancel();
    let ops = operator.finish();
    let link_connects = links.iter().map(|l| l.stats().connects).sum();
    let link_overloaded = links.iter().map(|l| l.stats().overloaded).sum();
    let (rss_end, _) = self_usage();
    let split_end = self_rss_split();
    if let Some(end) = before_teardown {
        end();
    }

    daemon.shutdown().await;
    for sim in sims {
        if let Ok(sim) = Arc::try_unwrap(sim) {
            sim.shutdown().await;
        }
    }
    for w in &watchers {
        w.wait_stopped(Duration::from_secs(5)).await;
    }
    let (asrun_starts, asrun_ends) = asrun_counts(&data.path().join("asrun"));
    drop(data);
    let (_, fds_end) = self_usage();
    let events: Vec<u64> = watchers
        .iter()
        .map(|w| w.events.load(Ordering::SeqCst))
        .collect();
    let rss_warm = if rss_warm == 0 { rss_start } else { rss_warm };
    let split_warm = split_warm.unwrap_or(split_end);
    Report {
        seconds: started.elapsed().as_secs_f64(),
        clients: params.clients,
        commands_issued: ops.issued,
        commands_acked: ops.ok + ops.failed,
        commands_ok: ops.ok,
        commands_failed: ops.failed,
        failures_by_code: ops.failures_by_code,
        hung: ops.hung,
        unexpected_acks: ops.unexpected_acks,
        max_ack_ms: ops.max_ack_ms,
        final_seq,
        events_min: events.iter().copied().min().unwrap_or(0),
        events_max: events.iter().copied().max().unwrap_or(0),
        seq_gaps: watchers.iter().map(|w| w.gaps.load(Ordering::SeqCst)).sum(),
        resyncs: watchers
            .iter()
            .map(|w| w.resyncs.load(Ordering::SeqCst))
            .sum(),
        ws_reconnects: watchers
            .iter()
            .map(|w| w.reconnects.load(Ordering::SeqCst))
            .sum(),
        pending_while_down_max: chaos.pending_while_down_max(),
        pending_at_end,
        link_connects,
        link_overloaded,
        chaos: chaos.counts(),
        item_starts_seen: ops.starts,
        asrun_starts,
        asrun_ends,
        alarms_raised: ops.alarms_raised,
        rss_start,
        rss_warm,
        rss_end,
        rss_max: rss_max.max(rss_end),
        rss_growth_after_warmup: (rss_end as f64 - rss_warm as f64) / rss_warm.max(1) as f64,
        rss_anon_warm: split_warm.0,
        rss_anon_end: split_end.0,
        rss_file_warm: split_warm.1,
        rss_file_end: split_end.1,
        anon_growth_after_warmup: (split_end.0 as f64 - split_warm.0 as f64)
            / rss_warm.max(1) as f64,
        heap_warm,
        heap_end: params.heap_bytes.map(|f| f()),
        fds_start,
        fds_end,
        pair: pair_report,
    }
}
