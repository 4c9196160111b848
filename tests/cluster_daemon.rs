//! Two `onair serve` processes of one station (the same `[cluster]`, through `ONAIR_CLUSTER_*`)
//! against one simulator and one real `nats-server`: exactly one drives (a take on the follower
//! fails with `not_leader` and sends nothing); SIGKILL the leader and the follower takes over,
//! adopts the item still on air without restarting it and arms the next one with AUTO.
//!
//! The follower starts from nothing: its playlists and the leader's playout (what is on air)
//! come from the station's replicated journal.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::daemon::{Daemon, Serve, command, command_on_new_leader, health_until, next_json, ws};
use common::nats::NatsServer;
use common::pair::{layer_of, playout_commands, playout_terms, sim_with};
use onair::sim::Sim;
use onair::sim::media::SimMedia;
use serde_json::json;

const TTL: &str = "1s";
const RENEW: &str = "250ms";

fn node(sim: &Sim, nats: &NatsServer, data: &Path, name: &str) -> Daemon {
    Serve::new(&sim.addr().to_string(), data)
        .envs(&[
            ("ONAIR_CLUSTER_NATS", nats.url().as_str()),
            ("ONAIR_CLUSTER_STATION", "studio-a"),
            ("ONAIR_CLUSTER_NODE", name),
            ("ONAIR_CLUSTER_LEASE_TTL", TTL),
            ("ONAIR_CLUSTER_RENEW_EVERY", RENEW),
            ("ONAIR_CASPAR_INFO_POLL_INTERVAL", "100ms"),
        ])
        .start()
}

/// A new client's snapshot.
async fn snapshot(addr: &str) -> serde_json::Value {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("ws connects");
    assert_eq!(next_json(&mut ws).await["type"], "hello");
    let snap = next_json(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    snap
}

/// `GET path` as text.
async fn text(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .expect("an answer in time")
        .expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_daemon_drives_and_the_other_takes_over_what_is_on_air_when_it_is_killed() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let sim = sim_with(SimMedia::virtual_library(20)).await;
    let (data_a, data_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );

    let mut a = node(&sim, &nats, data_a.path(), "a");
    health_until(&a.addr, "a leads", |d| d["cluster"]["role"] == "leader").await;
    let mut wa = ws(&a.addr).await;
    // In cluster mode the playlists are the journal's: there is no default playlist.
    let ack = command_on_new_leader(
        &mut wa,
        "create",
        "playlist.create",
        json!({"name": "News"}),
    )
    .await;
    assert_eq!(ack["ok"], true, "{ack}");
    for (i, clip) in ["CLIP1", "CLIP2"].iter().enumerate() {
        let ack = command(
            &mut wa,
            &format!("add{i}"),
            "item.add",
            json!({"playlist": "news", "clip": clip}),
        )
        .await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    let ack = command(&mut wa, "take", "playout.take", json!({"playlist": "news"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    common::schedule::poll_until("CLIP2 armed behind CLIP1", || {
        playout_commands(&sim)
            .iter()
            .any(|c| c.contains("LOADBG") && c.contains("CLIP2"))
    })
    .await;

    let b = node(&sim, &nats, data_b.path(), "b");
    let doc = health_until(&b.addr, "b follows a", |d| {
        d["cluster"]["leader"] == "a" && d["cluster"]["nats_connected"] == true
    })
    .await;
    assert_eq!(doc["cluster"]["role"], "follower", "{doc}");
    assert_eq!(doc["status"], "ok", "a follower is healthy: {doc}");
    let metrics = text(&b.addr, "/metrics").await;
    for line in ["onair_lease_role 1", "onair_lease_takeovers_total 0"] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    assert!(
        metrics.contains("onair_lease_renewals_total{result=\"ok\"}"),
        "{metrics}"
    );
    // The journal: everything the leader appended so far (the playlist, two items, its playout)
    // is applied here, nothing behind.
    let doc = health_until(&b.addr, "b has applied the journal", |d| {
        let j = &d["cluster"]["journal"];
        j["open"] == true && j["behind"] == 0 && j["applied_seq"].as_u64() >= Some(4)
    })
    .await;
    // How long after NATS stored it the last entry was applied here (one machine, one clock).
    let lag = doc["cluster"]["journal"]["lag_ms"]
        .as_f64()
        .expect("lag_ms");
    assert!((0.0..5000.0).contains(&lag), "{doc}");
    let applied = doc["cluster"]["journal"]["applied_seq"]
        .as_u64()
        .unwrap_or(0);
    let metrics = text(&b.addr, "/metrics").await;
    assert!(
        metrics.contains("onair_journal_applied_seq ")
            && metrics.contains("onair_journal_last_seq "),
        "{metrics}"
    );
    assert!(applied >= 4, "{doc}");
    let mut wb = ws(&b.addr).await;
    // The follower shows the rundown and what the leader plays, from the journal.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let snap = snapshot(&b.addr).await;
        let news = snap["state"]["playlists"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["id"] == "news"))
            .cloned();
        if let Some(news) = news
            && news["items"].as_array().map(Vec::len) == Some(2)
            && news["playout"]["on_air"].is_string()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "b never showed the rundown on air: {snap}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = playout_commands(&sim).len();
    let ack = command(
        &mut wb,
        "take-b",
        "playout.take",
        json!({"playlist": "news"}),
    )
    .await;
    assert_eq!(ack["ok"], false, "{ack}");
    assert_eq!(ack["error"]["code"], "not_leader", "{ack}");
    // Where to send it instead.
    assert_eq!(ack["error"]["leader"]["node"], "a", "{ack}");
    assert_eq!(ack["error"]["leader"]["address"], a.addr.as_str(), "{ack}");
    assert_eq!(
        ack["error"]["leader"]["url"],
        format!("ws://{}/ws", a.addr),
        "{ack}"
    );
    assert_eq!(
        playout_commands(&sim).len(),
        before,
        "the follower sent nothing"
    );

    // The leader dies (SIGKILL: no goodbye, the lease expires by itself).
    let (clip, frame) = layer_of(&sim).expect("CLIP1 on air");
    assert_eq!(clip, "CLIP1");
    let sent = playout_commands(&sim).len();
    a.child.kill().expect("SIGKILL a");
    let killed = Instant::now();
    let _ = a.child.wait();
    let mut first_command = None;
    let deadline = killed + Duration::from_secs(10);
    while first_command.is_none() {
        let now = playout_commands(&sim);
        if now.len() > sent {
            first_command = Some((killed.elapsed(), now[sent].clone()));
        }
        assert!(
            Instant::now() < deadline,
            "b sent no playout command after a died"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (took, what) = first_command.expect("a command");
    eprintln!("kill -> first playout command from b: {took:?} ({what})");
    let doc = health_until(&b.addr, "b leads", |d| d["cluster"]["role"] == "leader").await;
    assert_eq!(doc["cluster"]["leader"], "b");
    common::schedule::poll_until("b arms CLIP2 with AUTO", || {
        playout_commands(&sim)[sent..]
            .iter()
            .any(|c| c.starts_with("LOADBG") && c.contains("CLIP2") && c.contains("AUTO"))
    })
    .await;
    // Adopted, not restarted: no PLAY or LOAD of CLIP1, and CLIP1 played on from where it was.
    let after: Vec<_> = playout_commands(&sim)[sent..].to_vec();
    assert!(
        !after
            .iter()
            .any(|c| (c.starts_with("PLAY") || c.starts_with("LOAD ")) && c.contains("CLIP1")),
        "{after:?}"
    );
    let (clip, later) = layer_of(&sim).expect("still on air");
    assert_eq!(clip, "CLIP1");
    assert!(
        later > frame,
        "CLIP1 restarted: frame {later} after {frame}"
    );
    // TTL 1 s + one renewal period 250 ms + the engine's reconciliation.
    assert!(took < Duration::from_millis(2500), "takeover took {took:?}");
    // The client that was connected to b while it followed is now the leader's surface: same
    // connection, its edit is taken.
    let ack = command(
        &mut wb,
        "add-b",
        "item.add",
        json!({"playlist": "news", "clip": "CLIP3"}),
    )
    .await;
    assert_eq!(ack["ok"], true, "{ack}");
    drop(b);
}

/// SIGTERM, then waits (bounded) for the exit.
fn stop(d: &mut Daemon) {
    let pid = d.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The first step of a rolling upgrade (docs/operations.md): the leader is stopped for its new
/// version and hands the station over at once, without waiting for its lease to run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_for_an_upgrade_hands_over_well_before_its_lease_would_expire() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let sim = sim_with(SimMedia::virtual_library(20)).await;
    let (data_a, data_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    // The default lease (2 s): a hand-over that waited for it would show.
    let start = |data: &Path, name: &str| {
        Serve::new(&sim.addr().to_string(), data)
            .envs(&[
                ("ONAIR_CLUSTER_NATS", nats.url().as_str()),
                ("ONAIR_CLUSTER_STATION", "studio-u"),
                ("ONAIR_CLUSTER_NODE", name),
                ("ONAIR_CASPAR_INFO_POLL_INTERVAL", "100ms"),
            ])
            .start()
    };
    let mut a = start(data_a.path(), "a");
    health_until(&a.addr, "a leads", |d| d["cluster"]["role"] == "leader").await;
    let mut wa = ws(&a.addr).await;
    let ack = command_on_new_leader(&mut wa, "c", "playlist.create", json!({"name": "News"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    for (i, clip) in ["CLIP1", "CLIP2"].iter().enumerate() {
        let args = json!({"playlist": "news", "clip": clip});
        let ack = command(&mut wa, &format!("add{i}"), "item.add", args).await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    let ack = command(&mut wa, "take", "playout.take", json!({"playlist": "news"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    let b = start(data_b.path(), "b");
    // As an operator does before stopping the leader: the upgraded follower has the journal and
    // is ready to take over (a node just connected to NATS waits one lease first).
    health_until(&b.addr, "b follows, caught up, ready", |d| {
        d["cluster"]["role"] == "follower"
            && d["cluster"]["journal"]["behind"] == 0
            && d["cluster"]["journal"]["applied_seq"].as_u64() >= Some(5)
            && d["cluster"]["ready_to_lead"] == true
    })
    .await;
    common::schedule::poll_until("CLIP2 armed", || {
        playout_commands(&sim)
            .iter()
            .any(|c| c.starts_with("LOADBG") && c.contains("CLIP2"))
    })
    .await;
    let (_, frame) = layer_of(&sim).expect("CLIP1 on air");
    let sent = playout_commands(&sim).len();
    let stopping = Instant::now();
    stop(&mut a);
    let stopped = stopping.elapsed();
    common::schedule::poll_until("b re-arms CLIP2", || {
        playout_commands(&sim)[sent..]
            .iter()
            .any(|c| c.starts_with("LOADBG") && c.contains("CLIP2") && c.contains("AUTO"))
    })
    .await;
    let took = stopping.elapsed();
    eprintln!("SIGTERM -> a exited {stopped:?}; -> b re-armed the next item {took:?}");
    // Those commands are b's: its term, after a's.
    let terms = playout_terms(&sim);
    let (before, after) = terms.split_at(sent);
    let term_a = before.last().and_then(|(t, _)| *t).expect("a's term");
    assert!(
        after.iter().all(|(t, _)| t.is_some_and(|t| t > term_a)),
        "after a's term {term_a}: {after:?}"
    );
    let after: Vec<_> = playout_commands(&sim)[sent..].to_vec();
    assert!(
        !after
            .iter()
            .any(|c| (c.starts_with("PLAY") || c.starts_with("LOAD ")) && c.contains("CLIP1")),
        "the item on air was not restarted: {after:?}"
    );
    // It plays on from where it was (the hand-over may take less than a frame).
    common::schedule::poll_until("CLIP1 plays on", || {
        layer_of(&sim).is_some_and(|(clip, later)| clip == "CLIP1" && later > frame)
    })
    .await;
    // Well inside the 2 s lease: the lease was given back, not left to expire.
    assert!(
        took < Duration::from_millis(1500),
        "hand-over took {took:?}"
    );
}
