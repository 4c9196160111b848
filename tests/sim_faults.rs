//! The simulator's fault injection over real TCP (refuse, drop, stall, reply delay, garbage, restart)
//! and a smoke test of the real `onair sim` binary (bad flag, start, VERSION, clean exit on SIGINT).
//!
//! Faults are what a client must survive, so each test checks what the client *observes*: connect
//! errors, EOF, silence with TCP open, late replies, undecodable bytes. Silence (a stall) can only
//! be observed by waiting; that one wait is bounded and commented. Everything else waits on events.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{AmcpClient, Event, TIMEOUT, free_port, start_v24};
use tokio::time::Instant;

const VERSION_REPLY: &str = "201 VERSION OK\r\n2.4.3 fd9168c73 Stable\r\n";

fn refused(result: std::io::Result<AmcpClient>) -> bool {
    matches!(result, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
}

#[tokio::test]
async fn refusing_closes_the_port_and_reopens_it() {
    let sim = start_v24().await;
    let mut old = AmcpClient::connect(sim.addr()).await;
    // Accepted by the simulator, not only by the kernel: a connection still in the backlog when
    // the port closes is reset, as with a real server going down.
    sim.wait_for_connections(1).await;
    sim.set_refuse_connections(true);
    sim.wait_listening(false).await;
    assert!(refused(AmcpClient::try_connect(sim.addr()).await));
    // Connections made before stay usable.
    old.exchange("VERSION", VERSION_REPLY).await;
    sim.set_refuse_connections(false);
    sim.wait_listening(true).await;
    let mut new = AmcpClient::connect(sim.addr()).await;
    new.exchange("VERSION", VERSION_REPLY).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn dropping_connections_gives_every_client_eof() {
    let sim = start_v24().await;
    let mut a = AmcpClient::connect(sim.addr()).await;
    let mut b = AmcpClient::connect(sim.addr()).await;
    sim.wait_for_connections(2).await;
    assert_eq!(sim.connection_count(), 2);
    sim.drop_connections();
    a.expect_eof().await;
    b.expect_eof().await;
    sim.wait_for_connections(0).await;
    // The listener stays up.
    let mut c = AmcpClient::connect(sim.addr()).await;
    c.exchange("VERSION", VERSION_REPLY).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stalled_server_reads_but_never_answers() {
    let sim = start_v24().await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    c.exchange("VERSION", VERSION_REPLY).await;
    let executed = sim.commands_executed();
    sim.faults().set_stalled(true);
    c.send_all(&[
        "REQ s1 VERSION",
        "PING during-stall",
        "REQ s2 PLAY 1-10 CLIP1",
    ])
    .await;
    // Bounded wait: silence can only be observed by waiting. The single-threaded runtime runs the
    // simulator's tasks as soon as this test awaits, and they need microseconds, so 300 ms is
    // ample for any reply to have been written if the stall let it through.
    assert!(
        c.next_event_within(Duration::from_millis(300))
            .await
            .is_none(),
        "a stalled server sent something"
    );
    // TCP stayed open and the commands were read and executed: only their replies were lost.
    assert_eq!(sim.connection_count(), 1);
    assert_eq!(sim.commands_executed(), executed + 2);
    assert!(sim.with_state(|st| st.layer(0, 10).is_some()));
    sim.faults().set_stalled(false);
    // The swallowed replies are gone, not late: the next frame is this PONG.
    c.ping_barrier("after-stall").await;
    c.exchange("REQ s3 VERSION", &format!("RES s3 {VERSION_REPLY}"))
        .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn delayed_replies_arrive_late_and_in_order() {
    let sim = start_v24().await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    let delay = Duration::from_millis(300);
    sim.faults().set_reply_delay(delay);
    let sent = Instant::now();
    c.send_all(&["REQ d1 VERSION", "REQ d2 INFO", "PING d3"])
        .await;
    let first = c.next_frame().await;
    let elapsed = sent.elapsed();
    // Lower bound exact (the writer sleeps until queued + delay); upper bound only generous.
    assert!(elapsed >= delay, "first reply after {elapsed:?}");
    assert!(elapsed < TIMEOUT);
    let mut ids = vec![first.req_id().unwrap_or("PONG").to_string()];
    for f in c.frames(2).await {
        ids.push(f.req_id().unwrap_or("PONG").to_string());
    }
    // The general queue's order is kept; PONG may come anywhere relative to it.
    ids.retain(|id| id != "PONG");
    assert_eq!(ids, ["d1", "d2"]);
    sim.faults().set_reply_delay(Duration::ZERO);
    c.ping_barrier("prompt-again").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_corrupted_reply_is_a_decode_error_once() {
    let sim = start_v24().await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    sim.faults().corrupt_next_reply();
    c.send("REQ x VERSION").await;
    match c.next_event().await {
        Event::Error(_) => {}
        other => panic!("expected the codec to reject the garbage, got {other:?}"),
    }
    // One reply only: a fresh connection is answered normally.
    let mut fresh = AmcpClient::connect(sim.addr()).await;
    fresh
        .exchange("REQ y VERSION", &format!("RES y {VERSION_REPLY}"))
        .await;
    sim.shutdown().await;
}

/// A restart drops every connection, refuses connects while "down", loses the queued commands and
/// comes back with empty channels.
#[tokio::test]
async fn restart_comes_back_empty_and_forgets_queued_commands() {
    let sim = start_v24().await;
    let addr = sim.addr();
    let mut c = AmcpClient::connect(addr).await;
    c.exchange("PLAY 1-10 CLIP1", "202 PLAY OK\r\n").await;
    sim.step(5);
    sim.faults()
        .set_command_delay_for("LOADBG", Duration::from_millis(500));
    c.send_all(&["REQ old1 LOADBG 1-10 CLIP2", "REQ old2 PLAY 1-20 SHORT"])
        .await;
    // Single-threaded runtime: after this PONG, old1 is executing (held) and old2 waits.
    c.ping_barrier("queued").await;
    let executed = sim.commands_executed();

    tokio::join!(sim.restart(Duration::from_millis(200)), async {
        sim.wait_listening(false).await;
        c.expect_eof().await;
        assert!(
            refused(AmcpClient::try_connect(addr).await),
            "connect during the downtime must be refused"
        );
    });
    // restart() returns once the port accepts again.
    let mut c = AmcpClient::connect(addr).await;
    // Channel 1's queue still holds old1/old2 from before the restart: this INFO is answered only
    // after they were taken off the queue, and they must have been discarded, not executed.
    let reply = c.request("i", "INFO 1").await;
    let xml = reply.body_text().expect("XML");
    assert!(!xml.contains("<stage>"), "channel not empty: {xml}");
    assert_eq!(sim.commands_executed(), executed + 1, "only the INFO ran");
    assert!(c.info(1).await.layers.is_empty());
    c.exchange("REQ v VERSION", &format!("RES v {VERSION_REPLY}"))
        .await;
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------------------------

fn onair() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onair"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// Kills and reaps the child however the test ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn cli_rejects_an_unknown_server_version() {
    let out = onair()
        .args(["sim", "--server-version", "9.9"])
        .output()
        .expect("the onair binary runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--server-version") && stderr.contains("9.9"),
        "unclear message: {stderr}"
    );
}

#[test]
fn cli_serves_amcp_and_exits_cleanly_on_sigint() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = onair()
        .args([
            "sim",
            "--listen",
            &listen,
            "--osc-port",
            "0",
            "--clips",
            "5",
        ])
        .args(["--log-level", "warn"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn onair sim");
    let mut guard = ChildGuard(child);
    let stderr = guard.0.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The banner is printed once the port is bound and the signal handlers are installed.
    let banner = format!("CasparCG simulator on {listen}");
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("no start-up banner from onair sim: {e}"));
        if line.contains(&banner) {
            break;
        }
    }

    let mut tcp = std::net::TcpStream::connect(&listen).expect("connect to onair sim");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    tcp.write_all(b"REQ v VERSION\r\n").expect("write");
    let expected = format!("RES v {VERSION_REPLY}");
    let mut got = vec![0u8; expected.len()];
    tcp.read_exact(&mut got).expect("VERSION reply");
    assert_eq!(String::from_utf8_lossy(&got), expected);

    let pid = guard.0.id().to_string();
    let kill = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(kill.success());
    // The stderr pipe closes when the process exits.
    let mut said_stopping = false;
    loop {
        match rx.recv_timeout(TIMEOUT) {
            Ok(line) => said_stopping |= line.contains("stopping"),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("onair sim did not exit after SIGINT"),
        }
    }
    let status = guard.0.wait().expect("reap onair sim");
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    assert!(said_stopping);
    // Its connections were closed on the way out.
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest);
    assert!(rest.is_empty());
}
