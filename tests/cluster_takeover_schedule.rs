//! After a takeover the station's schedule goes on, on time (issue 18): two `onair serve` nodes
//! of one station on one simulator (real-time clock) and a real `nats-server`; the leader plays a
//! rundown whose next item follows by AUTO and whose third has a hard start, and is SIGKILLed
//! while the first plays. The new leader's AUTO switch lands on the first clip's last frame and
//! the hard start on its frame (or the next), loaded in the background first; both are measured
//! on the simulator's frame clock.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::daemon::{Daemon, Serve, command, health_until, next_json};
use common::nats::NatsServer;
use common::pair::{playout_commands, sim_with};
use common::schedule::{at_in, far_day_start, instant_of, poll_until};
use onair::sim::media::SimMedia;
use onair::sim::{Sim, TakeHow};
use serde_json::json;

const TTL: &str = "1s";
const RENEW: &str = "250ms";
/// CLIP1 is 10 s long (500 frames at 50 fps).
const CLIP1_NS: i64 = 10_000_000_000;

fn node(sim: &Sim, nats: &NatsServer, data: &Path, name: &str, day_start: &str) -> Daemon {
    Serve::new(&sim.addr().to_string(), data)
        .envs(&[
            ("ONAIR_CLUSTER_NATS", nats.url().as_str()),
            ("ONAIR_CLUSTER_STATION", "studio-s"),
            ("ONAIR_CLUSTER_NODE", name),
            ("ONAIR_CLUSTER_LEASE_TTL", TTL),
            ("ONAIR_CLUSTER_RENEW_EVERY", RENEW),
            // Hard start times are read in UTC, the zone of `at_in`, on a channel day that does
            // not change during the test.
            ("ONAIR_PLAYOUT_TIMEZONE", "UTC"),
            ("ONAIR_PLAYOUT_DAY_START", day_start),
        ])
        .start()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_leader_makes_the_next_auto_switch_and_the_hard_start_on_time() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let sim = sim_with(SimMedia::virtual_library(20)).await;
    let day_start = far_day_start().strftime("%H:%M:%S").to_string();
    let (data_a, data_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let mut a = node(&sim, &nats, data_a.path(), "a", &day_start);
    health_until(&a.addr, "a leads", |d| d["cluster"]["role"] == "leader").await;
    let b = node(&sim, &nats, data_b.path(), "b", &day_start);
    health_until(&b.addr, "b follows a", |d| {
        d["cluster"]["role"] == "follower" && d["cluster"]["journal"]["open"] == true
    })
    .await;

    let (mut wa, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", a.addr))
        .await
        .expect("ws to a");
    while next_json(&mut wa).await["type"] != "snapshot" {}
    let ack = command(&mut wa, "c", "playlist.create", json!({"name": "News"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    // CLIP1 (10 s) now, CLIP2 by AUTO at its end, SHORT at a fixed time 4 s into CLIP2 (the
    // margin covers the edits and the take below).
    let hard_at = at_in(Duration::from_millis(14_500));
    for (id, clip, extra) in [
        ("i0", "CLIP1", json!({})),
        ("i1", "CLIP2", json!({})),
        ("i2", "SHORT", json!({"start": "hard", "at": hard_at})),
    ] {
        let mut args = json!({"playlist": "news", "clip": clip});
        if let (Some(args), Some(extra)) = (args.as_object_mut(), extra.as_object()) {
            args.extend(extra.clone());
        }
        let ack = command(&mut wa, id, "item.add", args).await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    let ack = command(&mut wa, "take", "playout.take", json!({"playlist": "news"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    poll_until("CLIP2 armed behind CLIP1", || {
        playout_commands(&sim)
            .iter()
            .any(|c| c.starts_with("LOADBG") && c.contains("CLIP2") && c.contains("AUTO"))
    })
    .await;
    // b has everything the leader wrote before it dies (its playlists and playout).
    health_until(&b.addr, "b has applied the journal", |d| {
        d["cluster"]["journal"]["behind"] == 0
            && d["cluster"]["journal"]["applied_seq"].as_u64() >= Some(6)
    })
    .await;

    // The leader dies two seconds into CLIP1.
    let play = sim
        .take_log()
        .into_iter()
        .find(|t| t.clip.eq_ignore_ascii_case("CLIP1") && t.how == TakeHow::Play)
        .expect("CLIP1 was played");
    tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_secs(2)).await;
    drop(wa);
    a.child.kill().expect("SIGKILL a");
    let killed = Instant::now();
    let _ = a.child.wait();
    let sent = playout_commands(&sim).len();
    health_until(&b.addr, "b leads", |d| d["cluster"]["role"] == "leader").await;
    eprintln!("b leads {:?} after the kill", killed.elapsed());

    // The hard start is the new leader's own doing: the old one was dead before CLIP2 went on
    // air, and only then is SHORT loaded in the background.
    poll_until("SHORT on air", || {
        sim.take_log()
            .iter()
            .any(|t| t.clip.eq_ignore_ascii_case("SHORT"))
    })
    .await;
    let takes = sim.take_log();
    let clock = sim.frame_clock(0);
    let auto = takes
        .iter()
        .find(|t| t.clip.eq_ignore_ascii_case("CLIP2"))
        .expect("CLIP2 went on air");
    assert_eq!(
        auto.how,
        TakeHow::Auto,
        "CLIP2 followed CLIP1 by AUTO: {auto:?}"
    );
    let frame_ns = clock.start_of(1) - clock.start_of(0);
    let ran = clock.start_of(auto.frame) - clock.start_of(play.frame);
    assert!(
        (ran - CLIP1_NS).abs() <= frame_ns,
        "CLIP1 ran {} ms before the AUTO switch, not its 10 s",
        ran / 1_000_000
    );
    let hard = takes
        .iter()
        .find(|t| t.clip.eq_ignore_ascii_case("SHORT"))
        .expect("SHORT went on air");
    let due_ns = i64::try_from(instant_of(&hard_at).as_nanosecond()).expect("ns");
    let due = clock.frame_at(due_ns);
    assert!(
        (0..=1).contains(&(hard.frame - due)),
        "the hard start due on frame {due} landed on {} ({} ms after its time)",
        hard.frame,
        (hard.executed_unix_ns - due_ns) / 1_000_000
    );
    assert_eq!(
        hard.how,
        TakeHow::Promote,
        "SHORT was loaded in the background before its time: {hard:?}"
    );
    eprintln!(
        "AUTO switch after CLIP1 ran {:.3} s; hard start on frame {} for due frame {due}, \
         executed {:.1} ms after its time",
        ran as f64 / 1e9,
        hard.frame,
        (hard.executed_unix_ns - due_ns) as f64 / 1e6
    );
    let after: Vec<String> = playout_commands(&sim)[sent..].to_vec();
    assert!(
        after
            .iter()
            .any(|c| c.starts_with("LOADBG") && c.contains("SHORT") && !c.contains("AUTO")),
        "the new leader loaded SHORT without AUTO: {after:?}"
    );
    drop(b);
}
