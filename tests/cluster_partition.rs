//! A partition (issue 18): the leader is cut from NATS but keeps its link to CasparCG. Its lease
//! runs out, it stops sending playout commands at that instant, the other node wins the lease
//! and drives. Counted at the simulator by the term each command's `REQ` id carries: the old
//! term's commands all come before the new term's, never interleaved, and none of the old term
//! comes after the cut heals.

mod common;

use std::path::Path;
use std::time::Instant;

use common::daemon::{Daemon, Serve, command, command_on_new_leader, health_until, ws};
use common::nats::NatsServer;
use common::pair::{playout_terms, sim_with};
use common::proxy::Proxy;
use onair::sim::Sim;
use onair::sim::media::SimMedia;
use serde_json::json;

fn node(sim: &Sim, nats_url: &str, data: &Path, name: &str) -> Daemon {
    Serve::new(&sim.addr().to_string(), data)
        .envs(&[
            ("ONAIR_CLUSTER_NATS", nats_url),
            ("ONAIR_CLUSTER_STATION", "studio-p"),
            ("ONAIR_CLUSTER_NODE", name),
            ("ONAIR_CLUSTER_LEASE_TTL", "1s"),
            ("ONAIR_CLUSTER_RENEW_EVERY", "250ms"),
            ("ONAIR_CASPAR_INFO_POLL_INTERVAL", "100ms"),
        ])
        .start()
}

/// The terms in the order the simulator executed their commands, each run of one term once:
/// `[3, 5]` when term 3 drove, then term 5. A command without a term fails the test.
fn term_runs(sim: &Sim) -> Vec<u64> {
    let mut runs: Vec<u64> = Vec::new();
    for (term, what) in playout_terms(sim) {
        let term = term.unwrap_or_else(|| panic!("{what} carried no term"));
        if runs.last() != Some(&term) {
            runs.push(term);
        }
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_from_nats_stops_driving_before_the_next_one_starts() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let nats_addr = nats
        .url()
        .trim_start_matches("nats://")
        .parse()
        .expect("nats address");
    let proxy = Proxy::start(nats_addr).await;
    let sim = sim_with(SimMedia::virtual_library(20)).await;
    let (data_a, data_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );

    let a = node(&sim, &proxy.nats_url(), data_a.path(), "a");
    let led = health_until(&a.addr, "a leads", |d| d["cluster"]["role"] == "leader").await;
    let term_a = led["cluster"]["term"].as_u64().expect("a's term");
    let mut wa = ws(&a.addr).await;
    let ack = command_on_new_leader(&mut wa, "c", "playlist.create", json!({"name": "Loop"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    // Two-second clips, so that whoever leads sends a command (the next LOADBG … AUTO) every
    // two seconds for as long as the test runs (30 adds: within a client's burst of 40).
    for i in 0..30 {
        let ack = command(
            &mut wa,
            &format!("add{i}"),
            "item.add",
            json!({"playlist": "loop", "clip": "SHORT"}),
        )
        .await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    let ack = command(&mut wa, "take", "playout.take", json!({"playlist": "loop"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    let b = node(&sim, &nats.url(), data_b.path(), "b");
    health_until(&b.addr, "b follows, caught up", |d| {
        d["cluster"]["role"] == "follower" && d["cluster"]["journal"]["behind"] == 0
    })
    .await;
    common::schedule::poll_until("a armed a second item", || {
        playout_terms(&sim)
            .iter()
            .filter(|(_, c)| c.starts_with("LOADBG"))
            .count()
            >= 2
    })
    .await;

    proxy.cut();
    let cut = Instant::now();
    let led = health_until(&b.addr, "b leads", |d| d["cluster"]["role"] == "leader").await;
    let term_b = led["cluster"]["term"].as_u64().expect("b's term");
    eprintln!("cut -> b leads: {:?}", cut.elapsed());
    assert!(term_b > term_a, "terms grow: {term_a} then {term_b}");
    let doc = health_until(&a.addr, "a knows it does not lead", |d| {
        d["cluster"]["role"] != "leader"
    })
    .await;
    eprintln!("a while cut off: {}", doc["cluster"]);
    // b drives: the next item switch is b's.
    common::schedule::poll_until("b sends a playout command", || {
        term_runs(&sim).last() == Some(&term_b)
    })
    .await;
    // The cut heals: a sees b's lease and follows; it never drives again.
    proxy.heal();
    health_until(&a.addr, "a follows b", |d| {
        d["cluster"]["role"] == "follower" && d["cluster"]["leader"] == "b"
    })
    .await;
    let later = playout_terms(&sim).len();
    common::schedule::poll_until("two more switches after the heal", || {
        playout_terms(&sim).len() >= later + 2
    })
    .await;

    let runs = term_runs(&sim);
    let per_term: Vec<(u64, usize)> = runs
        .iter()
        .map(|t| {
            let n = playout_terms(&sim)
                .iter()
                .filter(|(x, _)| *x == Some(*t))
                .count();
            (*t, n)
        })
        .collect();
    eprintln!("playout commands per term, in order: {per_term:?}");
    assert_eq!(
        runs,
        vec![term_a, term_b],
        "a's term, then b's, never interleaved: {:?}",
        playout_terms(&sim)
    );
    drop((a, b));
}
