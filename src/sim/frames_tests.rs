//! The frame clock and take log of a running simulator, over AMCP: stepped, real-time and
//! accelerated. Real-time assertions derive the expected frame from the recorded execution time
//! and the test's own timestamps around it, never from how long a sleep lasted.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::*;
use crate::sim::takes::{TakeHow, now_unix_ns};

struct Client {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl Client {
    async fn connect(sim: &Sim) -> Client {
        let (rd, wr) = TcpStream::connect(sim.addr()).await.unwrap().into_split();
        Client {
            rd: BufReader::new(rd),
            wr,
        }
    }

    /// Sends one command and returns the first line of its reply.
    async fn send(&mut self, line: &str) -> String {
        self.wr
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        let mut reply = String::new();
        tokio::time::timeout(Duration::from_secs(5), self.rd.read_line(&mut reply))
            .await
            .expect("no reply within 5 s")
            .unwrap();
        reply
    }
}

async fn start(format: &str, clock: ClockMode) -> Sim {
    Sim::start(SimConfig {
        formats: vec![VideoFormat::parse(format).unwrap()],
        clock,
        ..SimConfig::for_tests()
    })
    .await
    .unwrap()
}

/// Waits (up to 5 s) until the take log holds a record matching `pred`.
async fn wait_for_take(sim: &Sim, pred: impl Fn(&TakeRecord) -> bool) -> TakeRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(r) = sim.take_log().into_iter().find(&pred) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            sim.take_log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `PLAY 1-10 SHORT LENGTH <length>` then `LOADBG 1-10 CLIP2 AUTO`: returns the PLAY's and the
/// AUTO's records. The LOADBG must arrive before the clip ends; `length` leaves it the time.
async fn play_then_auto(sim: &Sim, length: u32) -> (TakeRecord, TakeRecord) {
    let mut c = Client::connect(sim).await;
    let play = format!("PLAY 1-10 SHORT LENGTH {length}");
    assert_eq!(c.send(&play).await, "202 PLAY OK\r\n");
    assert_eq!(c.send("LOADBG 1-10 CLIP2 AUTO").await, "202 LOADBG OK\r\n");
    let play = wait_for_take(sim, |r| r.how == TakeHow::Play).await;
    (play, wait_for_take(sim, |r| r.how == TakeHow::Auto).await)
}

#[tokio::test]
async fn stepped_takes_are_numbered_by_ticks() {
    let sim = start("1080p5000", ClockMode::Stepped).await;
    sim.step(10);
    let mut c = Client::connect(&sim).await;
    assert_eq!(c.send("PLAY 1-10 SHORT LENGTH 20").await, "202 PLAY OK\r\n");
    assert_eq!(c.send("LOADBG 1-10 CLIP2 AUTO").await, "202 LOADBG OK\r\n");
    sim.step(30);
    let log = sim.take_log();
    let summary: Vec<_> = log
        .iter()
        .map(|r| (r.channel, r.layer, r.clip.as_str(), r.how, r.frame))
        .collect();
    // After 10 ticks the PLAY shows on frame 11; a 20-frame clip hands over on the 22nd tick.
    assert_eq!(
        summary,
        [
            (0, 10, "SHORT", TakeHow::Play, 11),
            (0, 10, "CLIP2", TakeHow::Auto, 10 + 22),
        ]
    );
    sim.clear_take_log();
    assert!(sim.take_log().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn realtime_takes_land_on_the_next_frame_of_the_grid() {
    let sim = start("1080p5000", ClockMode::Realtime).await;
    let clock = sim.frame_clock(0);
    assert_eq!((clock.num, clock.den), (50, 1));
    let mut c = Client::connect(&sim).await;
    assert_eq!(c.send("LOADBG 1-20 CLIP1").await, "202 LOADBG OK\r\n");
    let before = now_unix_ns();
    assert_eq!(c.send("PLAY 1-20").await, "202 PLAY OK\r\n");
    let after = now_unix_ns();
    let promote = wait_for_take(&sim, |r| r.how == TakeHow::Promote).await;
    assert_eq!((promote.layer, promote.clip.as_str()), (20, "CLIP1"));
    let a = promote.executed_unix_ns;
    assert!(before <= a && a <= after);
    assert_eq!(promote.frame, clock.frame_at(a) + 1);
    assert!(clock.start_of(promote.frame) > a);

    // AUTO on the frame of its tick, and as many frames after the PLAY as on a stepped clock.
    // (A clip of L frames hands over on the (L+2)-th tick on a stepped clock: L+1 frames later.)
    let (play, auto) = play_then_auto(&sim, 20).await;
    assert_eq!(play.frame, clock.frame_at(play.executed_unix_ns) + 1);
    assert_eq!(auto.frame - play.frame, 20 + 1);
    // The tick that produced the frame ran at or after the frame's start, never before.
    assert!(clock.start_of(auto.frame) <= auto.executed_unix_ns);
    sim.shutdown().await;
}

#[tokio::test]
async fn realtime_ticks_follow_the_grid_from_the_anchor() {
    let sim = start("1080p5000", ClockMode::Realtime).await;
    let clock = sim.frame_clock(0);
    let started = now_unix_ns();
    // The anchor is the simulator's start: at most a few milliseconds ago.
    assert!(clock.anchor_unix_ns <= started && started - clock.anchor_unix_ns < 1_000_000_000);
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(33)).await;
        // The clock task alone (read without catching up): never ahead of the grid, and behind
        // it only by its timer's lateness (a generous bound: this machine may be busy).
        let ticked = sim.shared.state().channels[0].ticks;
        let now = clock.frame_at(now_unix_ns());
        assert!(
            ticked <= now && ticked >= now - 25,
            "ticked {ticked}, grid at {now}"
        );
        // `with_state` brings the channel up to the current frame first: the model has produced
        // exactly the grid frames that have started (give or take the instants read around it).
        let before = clock.frame_at(now_unix_ns());
        let ticks = sim.with_state(|st| st.channels[0].ticks);
        let after = clock.frame_at(now_unix_ns());
        assert!(
            before <= ticks && ticks <= after,
            "{before} ≤ {ticks} ≤ {after}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn an_accelerated_clock_reports_its_rate() {
    let sim = start("1080p5000", ClockMode::Speed(4.0)).await;
    let clock = sim.frame_clock(0);
    assert_eq!((clock.num, clock.den), (200, 1));
    // 100 frames at 200 a second: half a second for the LOADBG to arrive.
    let (play, auto) = play_then_auto(&sim, 100).await;
    assert_eq!(play.frame, clock.frame_at(play.executed_unix_ns) + 1);
    assert_eq!(auto.frame - play.frame, 100 + 1);
    assert!(clock.start_of(auto.frame) <= auto.executed_unix_ns);
    sim.shutdown().await;
}

#[tokio::test]
async fn frame_clocks_are_per_channel_and_exact() {
    let sim = Sim::start(SimConfig {
        formats: ["1080i5000", "1080p5994", "720p2997"]
            .iter()
            .map(|f| VideoFormat::parse(f).unwrap())
            .collect(),
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let rates: Vec<_> = (0..3)
        .map(|ch| (sim.frame_clock(ch).num, sim.frame_clock(ch).den))
        .collect();
    assert_eq!(rates, [(25, 1), (60_000, 1001), (30_000, 1001)]);
    assert_eq!(
        sim.frame_clock(1).anchor_unix_ns,
        sim.frame_clock(0).anchor_unix_ns
    );
    sim.shutdown().await;
}
