//! The daemon's HTTP/WebSocket surface tried as an attacker would, against the real `onair serve`
//! process over real TCP: DNS rebinding (a foreign `Host`) is refused on every route while the
//! configured `server.allowed_hosts` name is accepted; 1,000 idle and half-sent connections under a
//! file limit of 256 do not silence `/health/live` or a WebSocket client; anonymous callers see no
//! content in `/health` when tokens are set; names with invisible or direction-changing characters
//! are refused with the code point named.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::{Daemon, Serve, WAIT, Ws, command, next_json};
use onair::sim::{Sim, SimConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const OPERATOR: &str = "op-7f3a9c2e41d8";
const VIEWER: &str = "view-0b5e6d1a93c4";

/// Starts `onair serve` (under `prlimit` when `nofile` is given) with `env` settings.
fn serve(sim: &Sim, data: &Path, env: &[(&str, &str)], nofile: Option<u64>) -> Daemon {
    let serve = Serve::new(&sim.addr().to_string(), data).envs(env);
    match nofile {
        Some(n) => serve.wrapper(&["prlimit", &format!("--nofile={n}:{n}"), "--"]),
        None => serve,
    }
    .start()
}

async fn sim() -> Sim {
    Sim::start(SimConfig::for_tests())
        .await
        .expect("sim starts")
}

/// One raw HTTP/1.1 GET with exactly these headers; returns the status and the body.
async fn raw_get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut out = Vec::new();
    timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("an answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// Opens `/ws` with these extra headers; the handshake error (with its HTTP status) on refusal.
async fn ws_open(addr: &str, query: &str, headers: &[(&str, &str)]) -> Result<Ws, WsError> {
    let mut request = format!("ws://{addr}/ws{query}")
        .into_client_request()
        .expect("request");
    for (k, v) in headers {
        let name: tokio_tungstenite::tungstenite::http::HeaderName = k.parse().expect("name");
        request
            .headers_mut()
            .insert(name, HeaderValue::from_str(v).expect("value"));
    }
    timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake in time")
        .map(|(ws, _)| ws)
}

fn refused_status(r: Result<Ws, WsError>) -> u16 {
    match r {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected an HTTP refusal, the upgrade was accepted"),
    }
}

/// Reads until the `snapshot`, returning it.
async fn snapshot(ws: &mut Ws) -> Value {
    loop {
        let m = next_json(ws).await;
        if m["type"] == "snapshot" {
            return m;
        }
    }
}

fn playlist_names(snapshot: &Value) -> Vec<String> {
    let views = snapshot["state"]["playlists"]
        .as_array()
        .or_else(|| snapshot["playlists"].as_array())
        .cloned()
        .unwrap_or_default();
    views
        .iter()
        .filter_map(|v| {
            v["playlist"]["name"]
                .as_str()
                .or_else(|| v["name"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn dns_rebinding_is_refused_on_every_route_and_allowed_hosts_are_accepted() {
    let sim = sim().await;
    let data = tempfile::tempdir().expect("temp dir");
    let d = serve(
        &sim,
        data.path(),
        &[("ONAIR_SERVER_ALLOWED_HOSTS", "onair.studio.lan")],
        None,
    );
    let port = d.addr.rsplit(':').next().expect("port").to_owned();
    let evil = format!("attacker.example:{port}");
    let evil_origin = format!("http://{evil}");

    // What a browser sends once the attacker's name points at 127.0.0.1.
    let r = ws_open(&d.addr, "", &[("host", &evil), ("origin", &evil_origin)]).await;
    assert_eq!(refused_status(r), 421);
    for path in [
        "/",
        "/health",
        "/health/live",
        "/health/ready",
        "/metrics",
        "/ws",
    ] {
        let (status, body) = raw_get(&d.addr, path, &[("Host", &evil)]).await;
        assert_eq!(status, 421, "{path}: {body}");
        assert!(body.contains("allowed_hosts"), "{path}: {body}");
    }

    // The rebinding attempt changed nothing.
    let mut ws = ws_open(&d.addr, "", &[]).await.expect("loopback client");
    let snap = snapshot(&mut ws).await;
    let before = playlist_names(&snap);
    let again = ws_open(&d.addr, "", &[("host", &evil), ("origin", &evil_origin)]).await;
    assert_eq!(refused_status(again), 421);
    let ack = command(&mut ws, "p", "playlist.create", json!({"name": "Control"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let mut check = ws_open(&d.addr, "", &[]).await.expect("second client");
    let names = playlist_names(&snapshot(&mut check).await);
    assert_eq!(
        names.len(),
        before.len() + 1,
        "only our own create: {names:?}"
    );

    // The configured name, and its own page's origin, are accepted.
    let lan = format!("onair.studio.lan:{port}");
    let (status, body) = raw_get(&d.addr, "/health", &[("Host", &lan)]).await;
    assert_eq!(status, 200, "{body}");
    let mut ok = ws_open(
        &d.addr,
        "",
        &[("host", &lan), ("origin", &format!("http://{lan}"))],
    )
    .await
    .expect("allowed host and its own origin");
    snapshot(&mut ok).await;
    // A page of another local service is not the daemon's own page.
    let other_local = ws_open(&d.addr, "", &[("origin", "http://localhost:3000")]).await;
    assert_eq!(refused_status(other_local), 403);
}

#[tokio::test]
async fn held_connections_do_not_silence_probes_or_websocket_clients() {
    // The test itself holds 1,000 sockets.
    let _ = rlimit::increase_nofile_limit(8192);
    let sim = sim().await;
    let data = tempfile::tempdir().expect("temp dir");
    let d = serve(
        &sim,
        data.path(),
        &[("ONAIR_SERVER_HEADER_READ_TIMEOUT", "2s")],
        Some(256),
    );

    // A half-sent request is closed by the header deadline.
    let mut half = TcpStream::connect(&d.addr).await.expect("connect");
    half.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("send");
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let n = timeout(WAIT, half.read(&mut buf))
        .await
        .expect("closed by the header deadline, not held forever")
        .unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "not before the deadline"
    );

    let mut ws = ws_open(&d.addr, "", &[])
        .await
        .expect("client before the flood");
    snapshot(&mut ws).await;

    let mut held = Vec::new();
    for i in 0..1000 {
        let Ok(mut s) = TcpStream::connect(&d.addr).await else {
            continue;
        };
        if i % 2 == 1 {
            let _ = s
                .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await;
        }
        held.push(s);
    }
    assert!(held.len() >= 900, "the flood connected: {}", held.len());

    for i in 0..20 {
        let (status, body) = raw_get(&d.addr, "/health/live", &[("Host", "127.0.0.1")]).await;
        assert_eq!((status, body.as_str()), (200, "ok\n"), "probe {i}");
    }
    let ack = command(
        &mut ws,
        "c",
        "playlist.create",
        json!({"name": "During flood"}),
    )
    .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");

    let (_, metrics) = raw_get(&d.addr, "/metrics", &[]).await;
    let shed = metrics
        .lines()
        .find(|l| l.starts_with("onair_http_connections_shed_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no shed counter in:\n{metrics}"));
    assert!(
        shed > 0,
        "the cap (256 files) was reached and idle sockets shed"
    );
    drop(held);
}

#[tokio::test]
async fn anonymous_callers_see_status_but_no_content_when_tokens_are_set() {
    let sim = sim().await;
    let data = tempfile::tempdir().expect("temp dir");
    let d = serve(
        &sim,
        data.path(),
        &[
            ("ONAIR_SERVER_OPERATOR_TOKENS", OPERATOR),
            ("ONAIR_SERVER_VIEWER_TOKENS", VIEWER),
        ],
        None,
    );
    let mut ws = ws_open(&d.addr, &format!("?token={OPERATOR}"), &[])
        .await
        .expect("operator");
    snapshot(&mut ws).await;
    let ack = command(
        &mut ws,
        "p",
        "playlist.create",
        json!({"name": "Evening News"}),
    )
    .await;
    let id = ack["playlist"].as_str().expect("id").to_owned();
    let ack = command(
        &mut ws,
        "a",
        "item.add",
        json!({"playlist": id, "clip": "CLIP1", "title": "Secret Interview"}),
    )
    .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let ack = command(&mut ws, "t", "playout.take", json!({"playlist": id})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");

    let (status, body) = raw_get(&d.addr, "/health", &[]).await;
    assert_eq!(status, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).expect("JSON");
    let keys: Vec<&str> = doc
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["reasons", "restricted", "status"], "{doc}");
    for secret in ["Evening", "evening-news", "CLIP1", "Secret"] {
        assert!(!body.contains(secret), "{secret} leaked: {body}");
    }
    let (_, ready) = raw_get(&d.addr, "/health/ready", &[]).await;
    assert!(!ready.contains("evening"), "{ready}");
    let wrong = format!("Bearer {OPERATOR}x");
    let (_, body) = raw_get(&d.addr, "/health", &[("Authorization", &wrong)]).await;
    assert!(
        !body.contains("Evening"),
        "a wrong token reads nothing: {body}"
    );

    let viewer = format!("Bearer {VIEWER}");
    let (status, body) = raw_get(&d.addr, "/health", &[("Authorization", &viewer)]).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Evening News") && body.contains("CLIP1"),
        "{body}"
    );

    // `onair health` without and with a token.
    let check = |token: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_onair"));
        cmd.env_remove("ONAIR_TOKEN")
            .args(["health", "--url", &format!("http://{}", d.addr)]);
        if let Some(t) = token {
            cmd.env("ONAIR_TOKEN", t);
        }
        let out = cmd.output().expect("onair health runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let anonymous = check(None);
    assert!(anonymous.contains("--token"), "{anonymous}");
    let with_token = check(Some(VIEWER));
    assert!(with_token.contains("playing"), "{with_token}");
}

#[tokio::test]
async fn names_with_hidden_characters_are_refused_with_the_code_point() {
    let sim = sim().await;
    let data = tempfile::tempdir().expect("temp dir");
    let d = serve(&sim, data.path(), &[], None);
    let mut ws = ws_open(&d.addr, "", &[]).await.expect("client");
    snapshot(&mut ws).await;

    let ack = command(
        &mut ws,
        "1",
        "playlist.create",
        json!({"name": "News\u{202E}vom.kcatta"}),
    )
    .await;
    assert_eq!(ack["error"]["code"], json!("invalid"), "{ack}");
    let message = ack["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("name") && message.contains("U+202E"),
        "{message}"
    );

    let ack = command(&mut ws, "2", "playlist.create", json!({"name": "con"})).await;
    assert_eq!(ack["playlist"], json!("con-playlist"), "{ack}");

    for (i, (clip, cp)) in [
        ("CLIP\u{2066}1", "U+2066"),
        ("CLIP\u{200B}1", "U+200B"),
        ("CLIP\u{2029}1", "U+2029"),
    ]
    .into_iter()
    .enumerate()
    {
        let ack = command(
            &mut ws,
            &format!("c{i}"),
            "item.add",
            json!({"playlist": "con-playlist", "clip": clip}),
        )
        .await;
        assert_eq!(ack["error"]["code"], json!("invalid"), "{ack}");
        let message = ack["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("clip") && message.contains(cp),
            "{message}"
        );
    }
    // Nothing of the refused names reached the disk.
    let files: Vec<String> = std::fs::read_dir(data.path().join("playlists"))
        .expect("playlists dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert!(files.iter().all(|f| f.is_ascii()), "{files:?}");
    assert!(!files.iter().any(|f| f == "con.json"), "{files:?}");
}
