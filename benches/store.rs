//! Store benchmark: `cargo bench --bench store` prints one JSON document.
//!
//! For playlists of 100, 1,000 and 10,000 realistic items (clip, title, transition, duration):
//! - save: `Store::save`, the full durable sequence (serialize, re-parse and validate, temp file,
//!   fsync, backup link, rename, directory fsync);
//! - load: `Store::open` of a directory holding that playlist (read, parse, validate).
//!
//! Targets: 1,000 items save p99 ≤ 20 ms; 10,000 items load ≤ 50 ms. Figures depend on the disk's
//! fsync latency: run it on the file system the daemon's data lives on (`ONAIR_BENCH_DIR`, default
//! the system temp directory). `ONAIR_BENCH_SCALE` multiplies the iteration counts.

use std::path::Path;
use std::time::{Duration, Instant};

use onair::amcp::{ChannelLayer, TransitionKind};
use onair::playout::model::{Item, Limits, Playlist, Transition};
use onair::playout::store::{Store, encode};
use serde_json::json;

fn layer() -> ChannelLayer {
    ChannelLayer {
        channel: 1,
        layer: Some(10),
    }
}

fn playlist(items: usize, revision: u64) -> Playlist {
    let mut p = Playlist::new("bench", "Evening rundown", layer());
    p.items = (0..items)
        .map(|k| Item {
            title: Some(format!("Story {k}: headline for the lower third")),
            frames: Some(750 + k as u64 % 9000),
            fps: Some((25, 1)),
            in_point: Some(25),
            transition: Transition {
                kind: if k % 3 == 0 {
                    TransitionKind::Cut
                } else {
                    TransitionKind::Mix
                },
                frames: if k % 3 == 0 { 0 } else { 12 },
                tween: (k % 3 != 0).then(|| "EASEINSINE".to_owned()),
            },
            ..Item::new(
                format!("i{:016x}", k as u64 * 0x9e37_79b9),
                format!("NEWS/2024/PKG_{k:05}_FINAL"),
            )
        })
        .map(onair::playout::model::Slot::from)
        .collect();
    p.revision = revision;
    p
}

/// Milliseconds at percentile `p` of sorted samples (nearest rank).
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn summary(mut samples: Vec<Duration>) -> serde_json::Value {
    samples.sort_unstable();
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64;
    json!({
        "p50": round(percentile(&samples, 50.0)),
        "p99": round(percentile(&samples, 99.0)),
        "max": round(percentile(&samples, 100.0)),
        "mean": round(mean * 1000.0),
    })
}

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

fn bench_size(root: &Path, items: usize, iterations: usize) -> serde_json::Value {
    let dir = tempfile::tempdir_in(root).expect("bench directory");
    let limits = Limits::default();
    let (store, _) = Store::open(dir.path(), limits, layer()).expect("open");
    // Each save is a new revision with a changed title, as an operator's edit would be.
    let mut save = Vec::with_capacity(iterations);
    let mut p = playlist(items, 0);
    for rev in 1..=iterations as u64 {
        p.revision = rev;
        let at = rev as usize % items;
        let mut edited = (*p.items[at]).clone();
        edited.title = Some(format!("edited at revision {rev}"));
        p.items.set(at, edited.into());
        let t = Instant::now();
        store.save(&p).expect("save");
        save.push(t.elapsed());
    }
    let bytes = encode(&p).expect("encode").len();
    drop(store);
    std::fs::remove_file(dir.path().join("playlists/main.json")).expect("remove main");
    let mut load = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let (_store, report) = Store::open(dir.path(), limits, layer()).expect("open");
        load.push(t.elapsed());
        assert_eq!(report.playlists.len(), 1);
        assert_eq!(report.playlists[0].items.len(), items);
    }
    json!({
        "items": items,
        "file_bytes": bytes,
        "iterations": iterations,
        "save_ms": summary(save),
        "load_ms": summary(load),
    })
}

fn main() {
    let root = std::env::var_os("ONAIR_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let scale: f64 = std::env::var("ONAIR_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let scaled = |n: usize| ((n as f64 * scale).round() as usize).max(1);
    let results: Vec<_> = [(100, 200), (1_000, 100), (10_000, 30)]
        .into_iter()
        .map(|(items, iterations)| bench_size(&root, items, scaled(iterations)))
        .collect();
    let doc = json!({
        "bench": "store",
        "dir": root.display().to_string(),
        "targets": { "save_1000_p99_ms": 20, "load_10000_ms": 50 },
        "results": results,
    });
    match serde_json::to_string_pretty(&doc) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("store bench: {e}"),
    }
}
