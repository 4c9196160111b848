//! Issue #14 through the real `onair serve` process: a FIFO in `playlists/` (the issue's
//! `mkfifo data/playlists/x.json`, then one in place of a playlist) must not freeze anything: every
//! other command is still acknowledged, `health` included; `/health` reports the store problem and
//! clears once the FIFO is gone and the playlist is written again; a playlist file replaced by a
//! symbolic link is never followed (target untouched, the backup never becomes a link); SIGTERM
//! still exits within 2 s.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::*;
use onair::playout::store::FileKind;
use onair::sim::{Sim, SimConfig};
use serde_json::{Value, json};
use tokio::time::timeout;

fn kind(path: &Path) -> FileKind {
    FileKind::of(&std::fs::symlink_metadata(path).unwrap())
}

fn mkfifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");
}

fn store_ok(doc: &Value) -> Option<bool> {
    doc["checks"]["store"]["ok"]
        .as_bool()
        .or_else(|| doc["store"]["ok"].as_bool())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifos_and_links_in_playlists_never_freeze_the_daemon() {
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let mut d = serve(&sim, data.path());
    let (mut ws, _) = timeout(
        WAIT,
        tokio_tungstenite::connect_async(format!("ws://{}/ws", d.addr)),
    )
    .await
    .expect("handshake in time")
    .expect("ws connects");
    let playlists = data.path().join("playlists");
    let ok = |ack: &Value| assert_eq!(ack["ok"], true, "{ack}");
    ok(&command(&mut ws, "c1", "playlist.create", json!({"name": "News"})).await);
    ok(&command(
        &mut ws,
        "c2",
        "item.add",
        json!({"clip": "CLIP1", "playlist": "news"}),
    )
    .await);
    ok(&command(
        &mut ws,
        "c3",
        "item.add",
        json!({"clip": "CLIP2", "playlist": "news"}),
    )
    .await);
    assert_eq!(kind(&playlists.join("news.json")), FileKind::Regular);

    // The FIFO under a new name, then an edit: acknowledged, and so is `health`.
    mkfifo(&playlists.join("x.json"));
    ok(&command(
        &mut ws,
        "e1",
        "item.add",
        json!({"clip": "CLIP1", "playlist": "main"}),
    )
    .await);
    ok(&command(&mut ws, "h1", "health", json!({})).await);

    // A FIFO in place of a playlist file: edits go on (the journal holds them), the file is
    // never opened, and writing the playlist back fails loudly until the FIFO is gone.
    mkfifo(&playlists.join("news.fifo"));
    std::fs::rename(playlists.join("news.fifo"), playlists.join("news.json")).unwrap();
    ok(&command(
        &mut ws,
        "e2",
        "item.add",
        json!({"clip": "CLIP2", "playlist": "news"}),
    )
    .await);
    ok(&command(
        &mut ws,
        "e3",
        "item.add",
        json!({"clip": "CLIP2", "playlist": "main"}),
    )
    .await);
    ok(&command(&mut ws, "h2", "health", json!({})).await);
    let doc = health_until(&d.addr, "the store failure shown", |d| {
        store_ok(d) == Some(false)
    })
    .await;
    assert!(doc.to_string().contains("is a FIFO"), "{doc}");
    assert_eq!(get(&d.addr, "/health/ready").await.0, 503);

    // The watcher saw it too (and never opened it). Then the operator removes it: the daemon writes
    // the playlist back and the store is healthy again. (Removing it within the watcher's debounce
    // window would hide both the FIFO and its removal from the watcher: a file created and removed
    // within the window makes no event.)
    health_until(&d.addr, "the watcher's rejection", |d| {
        d["alarms"]["list"].as_array().is_some_and(|alarms| {
            alarms.iter().any(|a| {
                let m = a["message"].as_str().unwrap_or_default();
                m.contains("\"news\"") && m.contains("rejected") && m.contains("is a FIFO")
            })
        })
    })
    .await;
    std::fs::remove_file(playlists.join("news.json")).unwrap();
    health_until(&d.addr, "the store failure cleared", |d| {
        store_ok(d) == Some(true)
    })
    .await;
    assert_eq!(kind(&playlists.join("news.json")), FileKind::Regular);

    // A link in place of a playlist is not followed: its target stays as it was, and the backup
    // is never turned into a link.
    let target = outside.path().join("elsewhere.json");
    let target_bytes = b"{\"not\": \"ours\"}\n".to_vec();
    std::fs::write(&target, &target_bytes).unwrap();
    std::os::unix::fs::symlink(&target, playlists.join("news.link")).unwrap();
    std::fs::rename(playlists.join("news.link"), playlists.join("news.json")).unwrap();
    ok(&command(
        &mut ws,
        "e4",
        "item.add",
        json!({"clip": "CLIP1", "playlist": "news"}),
    )
    .await);
    // Compaction must write news.json: refused, said so, and the journal keeps the edits.
    let compacted = command(
        &mut ws,
        "e5",
        "playlist.delete",
        json!({"playlist": "news"}),
    )
    .await;
    assert_eq!(compacted["ok"], false, "{compacted}");
    health_until(&d.addr, "the link reported", |d| store_ok(d) == Some(false)).await;
    assert_eq!(std::fs::read(&target).unwrap(), target_bytes);
    // With the journal there may be no backup yet; if there is one, it is never a link.
    if let Ok(meta) = std::fs::symlink_metadata(playlists.join("news.json.backup")) {
        assert_eq!(FileKind::of(&meta), FileKind::Regular);
    }
    assert_eq!(kind(&playlists.join("news.json")), FileKind::Symlink);

    // SIGTERM still ends the process promptly.
    let pid = d.child.id().to_string();
    let sent = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(2),
            "onair serve must exit within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(
        kind(&playlists.join("x.json")),
        FileKind::Fifo,
        "left alone"
    );
    d.addr.clear();
    sim.shutdown().await;
}
