//! The simulator's control port over real TCP on 127.0.0.1:0: every command answers one line
//! (`OK …` or `ERR …`), and its effect is what an AMCP client observes (silence, late replies,
//! EOF, refused connects, garbage). The last test runs the real `onair sim --control … --stall`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{AmcpClient, Event, TIMEOUT, free_port, start_v24};
use onair::sim::Sim;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

const VERSION_REPLY: &str = "201 VERSION OK\r\n2.4.3 fd9168c73 Stable\r\n";

/// A control connection: one command line out, one answer line back.
struct Control {
    rd: AsyncBufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl Control {
    async fn ask(&mut self, line: &str) -> String {
        self.wr
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write to the control port");
        self.answer().await
    }

    async fn answer(&mut self) -> String {
        let mut answer = String::new();
        timeout(TIMEOUT, self.rd.read_line(&mut answer))
            .await
            .expect("an answer in time")
            .expect("read from the control port");
        answer.trim_end().to_owned()
    }
}

/// A simulator with its control port on 127.0.0.1:0, and one control connection.
async fn start() -> (Sim, Control, CancellationToken) {
    let sim = start_v24().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the control port");
    let addr = listener.local_addr().expect("control address");
    let stop = CancellationToken::new();
    tokio::spawn(onair::sim::control::serve(
        listener,
        sim.control(),
        stop.clone(),
    ));
    let (rd, wr) = TcpStream::connect(addr)
        .await
        .expect("connect to the control port")
        .into_split();
    let control = Control {
        rd: AsyncBufReader::new(rd),
        wr,
    };
    (sim, control, stop)
}

#[tokio::test]
async fn help_status_and_mistakes_each_answer_one_line() {
    let (sim, mut ctl, stop) = start().await;
    assert!(ctl.ask("help").await.starts_with("OK commands: stall"));
    assert_eq!(
        ctl.ask("STATUS").await,
        "OK stalled=false delay=0s refusing=false connections=0"
    );
    assert!(
        ctl.ask("explode")
            .await
            .starts_with("ERR unknown command \"explode\"")
    );
    assert!(
        ctl.ask("delay soon")
            .await
            .starts_with("ERR invalid duration \"soon\"")
    );
    assert!(
        ctl.ask("osc sideways")
            .await
            .starts_with("ERR osc takes on or off")
    );
    assert!(
        ctl.ask("drop everything")
            .await
            .starts_with("ERR wrong arguments for drop")
    );
    // An over-long line is refused and the connection closed: framing cannot be trusted after it.
    let long = format!("stall {}", "9".repeat(2000));
    assert!(
        ctl.ask(&long)
            .await
            .starts_with("ERR lines are at most 1024 bytes")
    );
    assert_eq!(ctl.answer().await, "", "closed after an over-long line");
    stop.cancel();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_timed_stall_swallows_replies_then_ends_by_itself() {
    let (sim, mut ctl, stop) = start().await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    c.exchange("VERSION", VERSION_REPLY).await;
    assert_eq!(ctl.ask("stall 1s").await, "OK");
    assert!(sim.faults().stall_left().is_some());
    let status = ctl.ask("status").await;
    assert!(
        status.starts_with("OK stalled=") && status.contains("ms "),
        "{status}"
    );
    c.send("REQ s1 VERSION").await;
    // Bounded wait: silence can only be observed by waiting (see tests/sim_faults.rs).
    assert!(
        c.next_event_within(Duration::from_millis(100))
            .await
            .is_none(),
        "a stalled server answered"
    );
    // Wait for the stall to end as the control port reports it, not for a guessed time.
    let deadline = Instant::now() + TIMEOUT;
    while ctl.ask("status").await != "OK stalled=false delay=0s refusing=false connections=1" {
        assert!(Instant::now() < deadline, "the stall did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The reply due during the stall is lost, not late: the next frame is this PONG.
    c.ping_barrier("after-stall").await;
    // An open-ended stall lasts until `unstall`.
    assert_eq!(ctl.ask("stall").await, "OK");
    assert!(ctl.ask("status").await.starts_with("OK stalled=true"));
    assert_eq!(ctl.ask("unstall").await, "OK");
    c.ping_barrier("unstalled").await;
    stop.cancel();
    sim.shutdown().await;
}

#[tokio::test]
async fn delay_and_clear() {
    let (sim, mut ctl, stop) = start().await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    assert_eq!(ctl.ask("delay 200ms").await, "OK");
    assert_eq!(ctl.ask("command-delay 10ms PLAY").await, "OK");
    assert_eq!(
        sim.faults().command_delay("PLAY"),
        Duration::from_millis(10)
    );
    let sent = Instant::now();
    c.exchange("REQ d1 VERSION", &format!("RES d1 {VERSION_REPLY}"))
        .await;
    assert!(
        sent.elapsed() >= Duration::from_millis(200),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(ctl.ask("garbage").await, "OK");
    assert_eq!(ctl.ask("clear").await, "OK");
    assert_eq!(sim.faults().reply_delay(), Duration::ZERO);
    assert_eq!(sim.faults().command_delay("PLAY"), Duration::ZERO);
    // `clear` also withdrew the pending garbage: this reply is intact.
    c.exchange("REQ d2 VERSION", &format!("RES d2 {VERSION_REPLY}"))
        .await;
    stop.cancel();
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_refuse_accept_restart_and_garbage() {
    let (sim, mut ctl, stop) = start().await;
    let mut c = AmcpClient::connect(sim.addr()).await;
    c.exchange("VERSION", VERSION_REPLY).await;
    assert_eq!(ctl.ask("drop").await, "OK connections dropped: 1");
    c.expect_eof().await;

    assert_eq!(ctl.ask("refuse").await, "OK");
    let refused = AmcpClient::try_connect(sim.addr()).await;
    assert!(
        matches!(&refused, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
        "connect while refusing: {:?}",
        refused.map(|_| ())
    );
    assert_eq!(ctl.ask("accept").await, "OK");

    let mut c = AmcpClient::connect(sim.addr()).await;
    sim.wait_for_connections(1).await;
    c.send("PLAY 1-10 CLIP1").await;
    c.next_reply().await;
    // `restart` answers once the port accepts again; the channels came back empty.
    assert_eq!(ctl.ask("restart 100ms").await, "OK");
    c.expect_eof().await;
    assert!(sim.with_state(|st| st.layer(0, 10).is_none()));

    let mut c = AmcpClient::connect(sim.addr()).await;
    assert_eq!(ctl.ask("garbage").await, "OK");
    c.send("REQ g VERSION").await;
    assert!(matches!(c.next_event().await, Event::Error(_)));
    assert_eq!(ctl.ask("osc off").await, "OK");
    assert_eq!(ctl.ask("osc on").await, "OK");
    stop.cancel();
    sim.shutdown().await;
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
fn the_binary_starts_stalled_and_is_unstalled_through_its_control_port() {
    let (amcp, control) = (free_port(), free_port());
    let (amcp, control) = (format!("127.0.0.1:{amcp}"), format!("127.0.0.1:{control}"));
    let child = Command::new(env!("CARGO_BIN_EXE_onair"))
        .args(["sim", "--osc-port", "0", "--log-level", "warn", "--stall"])
        .args(["--listen", &amcp, "--control", &control])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn onair sim");
    let mut guard = ChildGuard(child);
    let stderr = guard.0.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The control banner comes after the port is bound.
    let banner = format!("control port on {control}");
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("no control banner from onair sim: {e}"));
        if line.contains(&banner) {
            break;
        }
    }
    let ask = |line: &str| -> String {
        let mut tcp = std::net::TcpStream::connect(&control).expect("connect to the control port");
        tcp.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
        tcp.write_all(format!("{line}\n").as_bytes())
            .expect("write");
        let mut answer = String::new();
        BufReader::new(tcp).read_line(&mut answer).expect("answer");
        answer.trim_end().to_owned()
    };
    assert!(ask("status").starts_with("OK stalled=true"));
    assert_eq!(ask("unstall"), "OK");
    let mut tcp = std::net::TcpStream::connect(&amcp).expect("connect to onair sim");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    tcp.write_all(b"REQ v VERSION\r\n").expect("write");
    let expected = format!("RES v {VERSION_REPLY}");
    let mut got = vec![0u8; expected.len()];
    std::io::Read::read_exact(&mut tcp, &mut got).expect("VERSION reply after unstall");
    assert_eq!(String::from_utf8_lossy(&got), expected);
}
