//! Issue 14's memory scenario at the sizes: `cargo bench --bench ws_memory` prints one
//! JSON document. The real `onair serve` (release build) with a rundown of 2,000 items with
//! 300-character titles (each `item.update` publishes a ~0.9 MB event while the engine sends whole
//! playlists), 16 clients that connect and stop reading, 1,000 updates from one client that reads
//! everything. Daemon RSS after a warm-up, at its peak while the stuck clients are connected, and
//! after they are gone. Same harness as `tests/ws_memory.rs` (`tests/ws_memory/mod.rs`).
//!
//! The run is repeated with `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072` in the daemon's
//! environment: with a fixed threshold every block of 128 KiB or more is its own mapping, given
//! back to the system when freed, so the difference between the two runs is what glibc's heap
//! keeps of freed memory rather than what the daemon still holds.
//!
//! Environment: `ONAIR_BENCH_ITEMS`, `ONAIR_BENCH_TITLE`, `ONAIR_BENCH_STUCK`,
//! `ONAIR_BENCH_UPDATES`.

#[path = "../tests/ws_memory/mod.rs"]
mod harness;

use harness::{Drive, Params, Report};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn json(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "event_bytes": r.event_bytes,
        "daemon_rss_bytes": { "before": r.rss_before, "peak": r.rss_peak, "after": r.rss_after },
        "after_vs_before": r.rss_after as f64 / r.rss_before as f64 - 1.0,
        "updates_seconds": r.updates_seconds,
        "websocket": r.websocket,
    })
}

fn main() {
    let params = Params {
        drive: Drive::Update,
        items: env_usize("ONAIR_BENCH_ITEMS", 2000),
        title: env_usize("ONAIR_BENCH_TITLE", 300),
        stuck: env_usize("ONAIR_BENCH_STUCK", 16),
        warm_up: 100,
        updates: env_usize("ONAIR_BENCH_UPDATES", 1000),
        window: 4,
        env: Vec::new(),
    };
    let fixed = Params {
        env: vec![(
            "GLIBC_TUNABLES".to_owned(),
            "glibc.malloc.mmap_threshold=131072".to_owned(),
        )],
        ..params.clone()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (default, fixed_threshold) =
        runtime.block_on(async { (harness::run(&params).await, harness::run(&fixed).await) });
    let report = serde_json::json!({
        "benchmark": "ws_memory",
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "items": params.items,
        "title_chars": params.title,
        "stuck_clients": params.stuck,
        "updates": params.updates,
        "target": { "peak_rss_bytes": 300_000_000u64, "after_vs_before": 0.25 },
        "default_allocator": json(&default),
        "fixed_mmap_threshold": json(&fixed_threshold),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
}
