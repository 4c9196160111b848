//! `onair serve` under a fake systemd: the test binds the notify socket itself, starts the real
//! binary with `NOTIFY_SOCKET` and a short `WATCHDOG_USEC`, and waits (with timeouts, no fixed
//! sleeps) for `READY=1`, then `WATCHDOG=1` pings, then `STOPPING=1` after SIGTERM.

#![cfg(unix)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use onair::sim::{Sim, SimConfig};
use tokio::net::UnixDatagram;

/// Kills the child if the test fails before it exits by itself.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next notification, or a panic naming what was awaited.
async fn next(sock: &UnixDatagram, deadline: Instant, waiting_for: &str) -> String {
    let mut buf = [0u8; 4096];
    let left = deadline.saturating_duration_since(Instant::now());
    let n = tokio::time::timeout(left, sock.recv(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("no notification in time while waiting for {waiting_for}"))
        .expect("recv");
    String::from_utf8_lossy(&buf[..n]).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_notifies_ready_pings_the_watchdog_and_says_stopping() {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&socket_path).expect("bind the fake notify socket");
    let data = dir.path().join("data");

    // systemd sets WATCHDOG_PID to the service's pid; `exec` keeps the shell's pid, so `$$` is it.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"WATCHDOG_PID=$$ exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_onair"))
        .args(["serve", "--listen", "127.0.0.1:0", "--caspar"])
        .arg(sim.addr().to_string())
        .arg("--data")
        .arg(&data);
    for (k, _) in std::env::vars() {
        if k.starts_with("ONAIR_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .env("NOTIFY_SOCKET", &socket_path)
        // 200 ms: a ping every 100 ms.
        .env("WATCHDOG_USEC", "200000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("onair serve starts");
    let mut child = Guard(child);
    let pid = child.0.id();

    let deadline = Instant::now() + Duration::from_secs(20);
    assert_eq!(next(&sock, deadline, "READY=1").await, "READY=1");

    // Pings keep coming while the engine answers.
    let deadline = Instant::now() + Duration::from_secs(5);
    for _ in 0..3 {
        assert_eq!(next(&sock, deadline, "WATCHDOG=1").await, "WATCHDOG=1");
    }

    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    // Pings in flight may still arrive before STOPPING=1; nothing else may.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match next(&sock, deadline, "STOPPING=1").await.as_str() {
            "STOPPING=1" => break,
            "WATCHDOG=1" => continue,
            other => panic!("unexpected notification {other:?}"),
        }
    }

    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "onair serve did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ignores_a_watchdog_meant_for_another_pid() {
    // A WATCHDOG_USEC inherited from a parent (WATCHDOG_PID is not ours) must not start pings.
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&socket_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_onair"))
        .args(["serve", "--listen", "127.0.0.1:0", "--caspar"])
        .arg(sim.addr().to_string())
        .arg("--data")
        .arg(dir.path().join("data"))
        .env_remove("RUST_LOG")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .env("WATCHDOG_PID", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    assert_eq!(next(&sock, deadline, "READY=1").await, "READY=1");
    // Absence can only be shown by waiting: ten would-be ping intervals pass without a ping.
    let mut buf = [0u8; 256];
    let got = tokio::time::timeout(Duration::from_secs(1), sock.recv(&mut buf)).await;
    assert!(
        got.is_err(),
        "unexpected notification {:?}",
        got.map(|r| r.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned()))
    );
}

#[test]
fn the_unit_in_operations_md_is_the_shipped_unit_file() {
    let root = env!("CARGO_MANIFEST_DIR");
    let unit = std::fs::read_to_string(format!("{root}/docs/onair.service")).unwrap();
    let ops = std::fs::read_to_string(format!("{root}/docs/operations.md")).unwrap();
    assert!(
        ops.contains(&format!("```ini\n{unit}```")),
        "docs/operations.md must show docs/onair.service verbatim"
    );
    for key in ["Type=notify", "WatchdogSec=", "NotifyAccess=main"] {
        assert!(unit.contains(key), "docs/onair.service lacks {key}");
    }
}
