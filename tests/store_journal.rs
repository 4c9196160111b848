//! Issue #14's promises about edits, through the real `onair serve` process and its journal:
//! an edit answered `store_error` (the disk full) leaves no trace in events, snapshots or later
//! saves, and the store's failure clears as soon as a write succeeds again; a playlist file found
//! damaged is restored from its backup plus the journal without losing an acknowledged edit.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::*;
use futures_util::SinkExt;
use onair::sim::{Sim, SimConfig};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Connects and returns the socket and the first snapshot's state.
async fn connect(addr: &str) -> (Ws, Value) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("ws connects");
    loop {
        let m = next_json(&mut ws).await;
        if m["type"] == "snapshot" {
            return (ws, m["state"].clone());
        }
    }
}

fn items(state: &Value, playlist: &str) -> Vec<String> {
    let pl = state["playlists"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["id"] == playlist))
        .unwrap_or_else(|| panic!("playlist {playlist} in {state}"));
    pl["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Sends `item.add` and returns its ack and the item ids of the `item_added` events seen first.
async fn add(ws: &mut Ws, id: &str, clip: &str) -> (Value, Vec<String>) {
    let msg = json!({"type": "command", "id": id, "op": "item.add", "args": {"clip": clip}});
    ws.send(Message::text(msg.to_string())).await.expect("send");
    let mut added = Vec::new();
    loop {
        let m = next_json(ws).await;
        if m["type"] == "event" && m["kind"] == "item_added" {
            added.push(m["item"]["id"].as_str().unwrap().to_owned());
        }
        if m["type"] == "ack" && m["id"] == id {
            return (m, added);
        }
    }
}

fn store_ok(doc: &Value) -> Option<bool> {
    doc["store"]["ok"].as_bool()
}

/// SIGTERM, then waits (bounded) for the exit.
fn stop(mut d: Daemon) {
    let pid = d.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let sent = Instant::now();
    while d.child.try_wait().unwrap().is_none() {
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    d.addr.clear();
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 4096];
    while f.write_all(&block).and_then(|()| f.sync_all()).is_ok() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_that_cannot_be_saved_leaves_no_trace_and_health_clears_after() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let Some(_tmpfs) = Tmpfs::mount(&data, "256k") else {
        // Mounting needs root (CI runs as root); say so loudly rather than pass quietly.
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root?); the disk-full case is untested");
        return;
    };
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let d = serve(&sim, &data);
    let (mut ws, _) = connect(&d.addr).await;
    let (first, _) = add(&mut ws, "a0", "CLIP1").await;
    assert_eq!(first["ok"], true, "{first}");
    let mut saved = vec![first["item"].as_str().unwrap().to_owned()];
    let filler = data.join("filler");
    fill(&filler);
    // The journal's last page may still have room: add until the disk says no.
    let mut failed = None;
    for n in 1..400 {
        let (ack, added) = add(&mut ws, &format!("a{n}"), "CLIP1").await;
        if ack["ok"] == true {
            let id = ack["item"].as_str().unwrap().to_owned();
            assert_eq!(added, std::slice::from_ref(&id), "one event per saved edit");
            saved.push(id);
        } else {
            assert_eq!(ack["error"]["code"], "store_error", "{ack}");
            assert!(
                added.is_empty(),
                "no event for an edit not saved: {added:?}"
            );
            failed = Some(ack);
            break;
        }
    }
    let failed = failed.expect("the full disk refuses an edit");
    eprintln!("refused after {} saved edits: {failed}", saved.len());

    // Memory equals disk: a fresh client sees exactly the saved edits, and health says why not.
    let (_, state) = connect(&d.addr).await;
    assert_eq!(items(&state, "main"), saved);
    health_until(&d.addr, "the store failure shown", |d| {
        store_ok(d) == Some(false)
    })
    .await;
    assert_eq!(get(&d.addr, "/health/ready").await.0, 503);

    // Space returns: the next edit is saved and the failure clears by itself.
    std::fs::remove_file(&filler).unwrap();
    let (ack, added) = add(&mut ws, "after", "CLIP2").await;
    assert_eq!(ack["ok"], true, "{ack}");
    let id = ack["item"].as_str().unwrap().to_owned();
    assert_eq!(added, std::slice::from_ref(&id));
    saved.push(id);
    health_until(&d.addr, "the store failure cleared", |d| {
        store_ok(d) == Some(true)
    })
    .await;
    let deadline = Instant::now() + WAIT;
    while get(&d.addr, "/health/ready").await.0 != 200 {
        assert!(Instant::now() < deadline, "/health/ready back to 200");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // And the refused edit never comes back, not even after a restart.
    drop(ws);
    stop(d);
    let d = serve(&sim, &data);
    let (_, state) = connect(&d.addr).await;
    assert_eq!(items(&state, "main"), saved);
    drop(d);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_playlist_file_is_restored_without_losing_an_acknowledged_edit() {
    let data = tempfile::tempdir().unwrap();
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let d = serve(&sim, data.path());
    let (mut ws, _) = connect(&d.addr).await;
    let mut acked = Vec::new();
    for (n, clip) in ["CLIP1", "CLIP2"].iter().enumerate() {
        let (ack, _) = add(&mut ws, &format!("a{n}"), clip).await;
        acked.push(ack["item"].as_str().expect("saved").to_owned());
    }
    // A clean stop compacts: main.json now holds both, its backup the version before.
    drop(ws);
    stop(d);
    let d = serve(&sim, data.path());
    let (mut ws, _) = connect(&d.addr).await;
    for (n, clip) in ["CLIP1", "CLIP2"].iter().enumerate() {
        let (ack, _) = add(&mut ws, &format!("b{n}"), clip).await;
        acked.push(ack["item"].as_str().expect("saved").to_owned());
    }
    // A crash (nothing compacted), then the playlist file is damaged.
    drop(ws);
    drop(d);
    let primary = data.path().join("playlists/main.json");
    std::fs::write(&primary, b"{\"schema\": 1, \"playlist\": garbage").unwrap();

    let d = serve(&sim, data.path());
    let (_, state) = connect(&d.addr).await;
    assert_eq!(
        items(&state, "main"),
        acked,
        "backup + journal give back every acknowledged edit"
    );
    let alarms = state["alarms"].to_string();
    assert!(
        alarms.contains("backup"),
        "the restore is reported: {alarms}"
    );
    drop(d);
    sim.shutdown().await;
}
