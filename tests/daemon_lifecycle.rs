//! The real `onair serve` process: start-up against the simulator, a WebSocket client, SIGTERM with
//! the client connected (shutdown message, close 1001, exit 0 within 2 s, playout untouched), and the
//! refusal to listen on a non-loopback address without an operator token.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::{onair, serve};
use futures_util::{SinkExt, StreamExt};
use onair::sim::{ClockMode, Sim, SimConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<serde_json::Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time")?;
        match msg.expect("websocket ok") {
            Message::Text(t) => return Some(serde_json::from_str(&t).expect("json")),
            Message::Close(frame) => {
                return Some(serde_json::json!({"closed": frame.map(|f| u16::from(f.code))}));
            }
            _ => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_client_connected_is_graceful_and_leaves_playout_alone() {
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Realtime;
    let sim = Sim::start(cfg).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut daemon = serve(&sim, data.path());

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", daemon.addr))
        .await
        .expect("ws connects");
    let hello = next_json(&mut ws).await.unwrap();
    assert_eq!(hello["type"], "hello");
    let snapshot = next_json(&mut ws).await.unwrap();
    assert_eq!(snapshot["type"], "snapshot");
    // Put something on air through the protocol.
    let add =
        serde_json::json!({"type":"command","id":"a1","op":"item.add","args":{"clip":"CLIP1"}});
    ws.send(Message::Text(add.to_string().into()))
        .await
        .unwrap();
    let take = serde_json::json!({"type":"command","id":"t1","op":"playout.take","args":{}});
    ws.send(Message::Text(take.to_string().into()))
        .await
        .unwrap();
    loop {
        let m = next_json(&mut ws).await.unwrap();
        if m["type"] == "ack" && m["id"] == "t1" {
            assert_eq!(m["ok"], true, "{m}");
            break;
        }
    }
    sim.clear_command_log();

    let pid = daemon.child.id().to_string();
    let sent_at = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut saw_shutdown = false;
    let close = loop {
        let m = next_json(&mut ws)
            .await
            .expect("a shutdown message then a close");
        if m["type"] == "shutdown" {
            saw_shutdown = true;
        }
        if m.get("closed").is_some() {
            break m["closed"].clone();
        }
    };
    assert!(saw_shutdown, "the client is told before the close");
    assert_eq!(close, serde_json::json!(u16::from(CloseCode::Away)));
    let status = loop {
        if let Some(s) = daemon.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            sent_at.elapsed() < Duration::from_secs(2),
            "onair serve must exit within 2 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    let touched: Vec<_> = sim
        .command_log()
        .iter()
        .map(|c| c.name)
        .filter(|n| matches!(*n, "STOP" | "CLEAR" | "CLEAR ALL"))
        .collect();
    assert!(
        touched.is_empty(),
        "shutdown must not touch playout: {touched:?}"
    );
    assert!(
        sim.with_state(|s| s.layer(0, 10).is_some()),
        "CLIP1 is still on air"
    );
}

#[test]
fn non_loopback_listen_without_token_is_refused() {
    let out = onair()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("operator token"), "{err}");
}
