//! Issue #14 through the real `onair serve` process: a FIFO in `playlists/` (the issue's
//! `mkfifo data/playlists/x.json`, then one in place of a playlist) must not freeze anything: every
//! other command is still acknowledged, `health` included; `/health` reports the store problem and
//! clears once the FIFO is gone and the playlist is written again; a playlist file replaced by a
//! symbolic link is never followed (target untouched, the backup never becomes a link); SIGTERM
//! still exits within 2 s.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use onair::playout::store::FileKind;
use onair::sim::{Sim, SimConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(15);

/// The daemon child; killed (and reaped) when the test ends, however it ends.
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

fn serve(sim: &Sim, data: &Path) -> Daemon {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onair"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ONAIR_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--caspar"])
        .arg(sim.addr().to_string())
        .arg("--data")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("onair serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut daemon = Daemon {
        child,
        addr: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.addr.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("onair serve prints its address");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            daemon.addr = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    daemon
}

/// `GET path`: the status and the body as JSON (bounded: a frozen daemon fails the test).
async fn get(addr: &str, path: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut out = Vec::new();
    timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("an HTTP answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Polls `/health` until `want` holds for it; returns that document.
async fn health_until(addr: &str, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, doc) = get(addr, "/health").await;
        if want(&doc) {
            return doc;
        }
        assert!(Instant::now() < deadline, "{what}: last /health {doc}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = timeout(WAIT, ws.next())
            .await
            .expect("a message in time (a frozen daemon sends none)")
            .expect("open")
            .expect("frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("JSON");
        }
    }
}

/// Sends a command and returns its ack (events before it are skipped).
async fn command(ws: &mut Ws, id: &str, op: &str, args: Value) -> Value {
    let msg = json!({"type": "command", "id": id, "op": op, "args": args});
    ws.send(Message::text(msg.to_string())).await.expect("send");
    loop {
        let m = next_json(ws).await;
        if m["type"] == "ack" && m["id"] == id {
            return m;
        }
    }
}

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
    let compacted = command(&mut ws, "e5", "playlist.delete", json!({"playlist": "news"})).await;
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
