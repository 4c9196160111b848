//! Pending-table tests with a hand-driven clock: matching, deadlines, flow control, loss.

use super::*;
use crate::amcp::ChannelLayer;
use crate::amcp::codec::AmcpCodec;
use tokio::sync::oneshot;
use tokio_util::codec::Decoder;

const MS: Duration = Duration::from_millis(1);

fn session(req: bool, max: usize) -> PendingTable {
    let deadlines = Deadlines {
        normal: 1000 * MS,
        scanner: 30_000 * MS,
    };
    PendingTable::new(req, max, deadlines, Arc::new(Stats::default()))
}

fn play(ch: u16) -> Command {
    Command::Play(ChannelLayer::new(ch, 10).unwrap(), None)
}

fn submit(
    s: &mut PendingTable,
    cmd: Command,
    now: Instant,
) -> oneshot::Receiver<Result<Reply, CommandError>> {
    let (tx, rx) = oneshot::channel();
    s.submit(&cmd, tx.into(), now);
    rx
}

fn written(s: &mut PendingTable) -> Vec<String> {
    let out = s.output().split();
    String::from_utf8(out.to_vec())
        .unwrap()
        .split_terminator("\r\n")
        .map(str::to_owned)
        .collect()
}

fn reply(text: &str) -> Frame {
    let mut codec = AmcpCodec::default();
    let mut buf = bytes::BytesMut::from(text);
    codec.decode(&mut buf).unwrap().unwrap()
}

fn outcome(rx: &mut oneshot::Receiver<Result<Reply, CommandError>>) -> Result<Reply, CommandError> {
    rx.try_recv()
        .expect("an outcome should have been delivered")
}

#[test]
fn matches_out_of_order_replies_by_id() {
    let t0 = Instant::now();
    let mut s = session(true, 64);
    let mut a = submit(&mut s, play(1), t0);
    let mut b = submit(&mut s, Command::Version, t0);
    assert_eq!(written(&mut s), ["REQ 1 PLAY 1-10", "REQ 2 VERSION"]);
    s.on_frame(reply("RES 2 201 VERSION OK\r\n2.4.3 x Stable\r\n"), t0 + MS);
    s.on_frame(reply("RES 1 202 PLAY OK\r\n"), t0 + 2 * MS);
    assert_eq!(outcome(&mut b).unwrap().code, 201);
    assert_eq!(outcome(&mut a).unwrap().code, 202);
    assert!(s.is_empty());
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn error_codes_become_typed_errors() {
    let t0 = Instant::now();
    let mut s = session(true, 64);
    let mut a = submit(&mut s, play(1), t0);
    let mut b = submit(&mut s, play(1), t0);
    let mut c = submit(&mut s, Command::Raw("FOO".into()), t0);
    s.on_frame(reply("RES 1 404 PLAY FAILED\r\n"), t0);
    s.on_frame(reply("RES 2 504 QUEUE OVERFLOW\r\n"), t0);
    s.on_frame(reply("RES 3 400 ERROR\r\nREQ 3 FOO\r\n"), t0);
    assert_eq!(
        outcome(&mut a),
        Err(CommandError::Server {
            code: 404,
            text: "PLAY FAILED".into()
        })
    );
    assert_eq!(outcome(&mut b), Err(CommandError::Overloaded));
    assert!(
        matches!(outcome(&mut c), Err(CommandError::Server { code: 400, text }) if text.contains("REQ 3 FOO"))
    );
    let stats = s.stats.snapshot();
    assert_eq!(stats.overloaded, 1);
    assert_eq!(stats.replies_by_code.get(&404), Some(&1));
}

#[test]
fn deadlines_are_exact_and_late_replies_are_dropped() {
    let t0 = Instant::now();
    let mut s = session(true, 64);
    let mut a = submit(&mut s, play(1), t0);
    let mut cls = submit(&mut s, Command::Cls, t0);
    assert_eq!(s.next_deadline(), Some(t0 + 1000 * MS));
    s.expire(t0 + 999 * MS);
    assert!(a.try_recv().is_err(), "not yet");
    s.expire(t0 + 1000 * MS);
    assert_eq!(outcome(&mut a), Err(CommandError::Timeout(1000 * MS)));
    assert_eq!(
        s.next_deadline(),
        Some(t0 + 30_000 * MS),
        "scanner commands get the longer deadline"
    );
    // The late reply to the timed-out command must not complete anything else.
    s.on_frame(reply("RES 1 202 PLAY OK\r\n"), t0 + 1500 * MS);
    assert!(cls.try_recv().is_err());
    assert_eq!(s.stats.snapshot().late_replies, 1);
    s.on_frame(reply("RES 2 200 CLS OK\r\n\r\n"), t0 + 1600 * MS);
    assert!(outcome(&mut cls).is_ok());
}

#[test]
fn flow_control_per_queue_keeps_order() {
    let t0 = Instant::now();
    let mut s = session(true, 2);
    let mut rx: Vec<_> = (0..4).map(|_| submit(&mut s, play(1), t0)).collect();
    let other = submit(&mut s, play(2), t0);
    assert_eq!(
        written(&mut s),
        ["REQ 1 PLAY 1-10", "REQ 2 PLAY 1-10", "REQ 5 PLAY 2-10"]
    );
    assert_eq!(s.stats.snapshot().waiting, 2);
    s.on_frame(reply("RES 1 202 PLAY OK\r\n"), t0);
    assert_eq!(written(&mut s), ["REQ 3 PLAY 1-10"]);
    s.on_frame(reply("RES 3 202 PLAY OK\r\n"), t0);
    assert_eq!(written(&mut s), ["REQ 4 PLAY 1-10"]);
    assert!(outcome(&mut rx[0]).is_ok());
    drop(other);
}

#[test]
fn waiting_commands_time_out_without_being_written() {
    let t0 = Instant::now();
    let mut s = session(true, 1);
    let _a = submit(&mut s, play(1), t0);
    let mut b = submit(&mut s, play(1), t0 + 10 * MS);
    written(&mut s);
    s.expire(t0 + 1010 * MS);
    assert!(matches!(outcome(&mut b), Err(CommandError::Timeout(_))));
    assert!(written(&mut s).is_empty() || s.is_empty());
    assert!(s.is_empty());
}

#[test]
fn fail_all_empties_the_table() {
    let t0 = Instant::now();
    let mut s = session(true, 1);
    let mut rx: Vec<_> = (0..5)
        .map(|i| submit(&mut s, play(1 + i % 2), t0))
        .collect();
    s.fail_all(&CommandError::ConnectionLost);
    for r in &mut rx {
        assert_eq!(outcome(r), Err(CommandError::ConnectionLost));
    }
    assert!(s.is_empty());
    assert_eq!(s.next_deadline(), None);
    assert!(s.output().is_empty());
    let stats = s.stats.snapshot();
    assert_eq!(
        (stats.connection_lost, stats.in_flight, stats.waiting),
        (5, 0, 0)
    );
}

#[test]
fn fifo_mode_sends_one_at_a_time_without_req() {
    let t0 = Instant::now();
    let mut s = session(false, 64);
    let mut a = submit(&mut s, play(1), t0);
    let mut b = submit(&mut s, Command::Version, t0);
    assert_eq!(written(&mut s), ["PLAY 1-10"]);
    s.on_frame(reply("202 PLAY OK\r\n"), t0);
    assert_eq!(written(&mut s), ["VERSION"]);
    s.on_frame(reply("201 VERSION OK\r\n2.0.7 Stable\r\n"), t0);
    assert_eq!(outcome(&mut a).unwrap().code, 202);
    assert_eq!(outcome(&mut b).unwrap().code, 201);
    let mut c = submit(&mut s, play(1), t0);
    s.expire(t0 + 2000 * MS);
    assert!(matches!(outcome(&mut c), Err(CommandError::Timeout(_))));
    assert!(
        s.needs_reset(),
        "a timeout without ids desynchronises FIFO matching"
    );
}

#[test]
fn refuses_what_it_cannot_match() {
    let t0 = Instant::now();
    let mut s = session(true, 64);
    for cmd in [
        Command::Ping(None),
        Command::Bye,
        Command::Begin,
        Command::Raw("REQ x VERSION".into()),
    ] {
        let mut rx = submit(&mut s, cmd, t0);
        assert!(matches!(
            outcome(&mut rx),
            Err(CommandError::Unsupported(_))
        ));
    }
    let mut bad = submit(&mut s, Command::Raw("PLAY 1\nSTOP 1".into()), t0);
    assert!(matches!(outcome(&mut bad), Err(CommandError::Invalid(_))));
    assert!(s.is_empty() && s.output().is_empty());
}

/// A table fenced by a lease whose window opens at `t0` for one second, term 7.
fn fenced(t0: Instant) -> (PendingTable, tokio::sync::watch::Sender<Option<Instant>>) {
    let (drive_tx, drive) = tokio::sync::watch::channel(Some(t0 + 1000 * MS));
    let (_term_tx, term) = tokio::sync::watch::channel(7);
    let s = session(true, 1).fenced(Some(crate::caspar::Fence::new(drive, term)));
    (s, drive_tx)
}

#[test]
fn a_leading_table_stamps_its_term_and_a_lapsed_one_writes_no_playout_command() {
    let t0 = Instant::now();
    let (mut s, drive) = fenced(t0);
    let mut a = submit(&mut s, play(1), t0);
    assert_eq!(written(&mut s), ["REQ t7-1 PLAY 1-10"]);
    // Two more wait behind the first for the channel's one slot; an INFO too.
    let mut b = submit(&mut s, play(1), t0);
    let mut c = submit(&mut s, play(1), t0);
    let mut info = submit(&mut s, Command::Info(ChannelLayer::new(1, 10)), t0);
    assert!(written(&mut s).is_empty());
    // The lease runs out while they wait: neither PLAY reaches the wire once a slot frees, but
    // the read still goes out, with a plain id.
    drive.send_replace(None);
    s.on_frame(reply("RES t7-1 202 PLAY OK\r\n"), t0 + 2 * MS);
    assert!(
        outcome(&mut a).is_ok(),
        "a reply with a term matches its command"
    );
    assert_eq!(outcome(&mut b), Err(CommandError::NotLeading));
    assert_eq!(outcome(&mut c), Err(CommandError::NotLeading));
    assert_eq!(written(&mut s), ["REQ 4 INFO 1-10"]);
    s.on_frame(reply("RES 4 201 INFO OK\r\n<channel/>\r\n"), t0 + 3 * MS);
    assert!(outcome(&mut info).is_ok());
    assert!(s.is_empty(), "nothing left pending");
    // A window that passed by the clock is as closed as one withdrawn.
    drive.send_replace(Some(t0 + 10 * MS));
    let mut late = submit(&mut s, play(2), t0 + 10 * MS);
    assert_eq!(outcome(&mut late), Err(CommandError::NotLeading));
    assert!(written(&mut s).is_empty());
}
