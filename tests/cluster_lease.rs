//! The leader lease (`onair::cluster::lease`) against a real `nats-server` with JetStream on
//! loopback, with a 1 s lease renewed every 250 ms: exactly one of two campaigners leads; when the
//! leader's task dies the other leads within a lease plus a renewal period, and a leader that
//! stops gives the key back so the other leads within a renewal period; the two drive windows
//! never overlap; a leader cut from NATS publishes `None` by the end of the window it last
//! published and nothing after; NATS down at start or restarted: a leader again once it is back.
//!
//! Every drive value a node publishes is recorded with the instant it was seen, so overlap is
//! judged from the values themselves: a window `Some(until)` was won by a call sent at
//! `until - (ttl - margin)`, and the next leader's first call must come after the last `until`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::nats::NatsServer;
use onair::cluster::lease::{Lease, LeaseSettings, LeaseState, Role};
use tokio::sync::watch;
use tokio::time::{Instant, timeout};

const TTL: Duration = Duration::from_secs(1);
const RENEW: Duration = Duration::from_millis(250);
const MARGIN: Duration = Duration::from_millis(200);
/// Scheduling on a busy test machine: how late a timer or a watch reader may run.
const SLACK: Duration = Duration::from_millis(250);
const WAIT: Duration = Duration::from_secs(10);

fn settings(url: &str, node: &str) -> LeaseSettings {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    LeaseSettings {
        nats: vec![url.to_owned()],
        station: "studio-a".into(),
        node: node.into(),
        address: Some(format!("127.0.0.1:{}", 8000 + node.len())),
        ttl: TTL,
        renew: RENEW,
        margin: MARGIN,
        replicas: 1,
    }
}

/// Every value a drive watch took, with when it was seen.
type Drives = Arc<Mutex<Vec<(Instant, Option<Instant>)>>>;

fn record(mut rx: watch::Receiver<Option<Instant>>) -> Drives {
    let log: Drives = Arc::default();
    let out = log.clone();
    tokio::spawn(async move {
        loop {
            let value = *rx.borrow_and_update();
            out.lock().expect("log").push((Instant::now(), value));
            if rx.changed().await.is_err() {
                break;
            }
        }
    });
    log
}

fn last_until(log: &Drives) -> Option<Instant> {
    log.lock()
        .expect("log")
        .iter()
        .filter_map(|(_, v)| *v)
        .max()
}

/// When the first window published after `after` was won (its call's send instant), once the
/// recorder has seen it (it runs beside the test: a state change may be read before it).
async fn first_win_after(log: &Drives, after: Instant) -> Instant {
    let deadline = Instant::now() + WAIT;
    loop {
        let first = log
            .lock()
            .expect("log")
            .iter()
            .filter(|(seen, v)| *seen > after && v.is_some())
            .filter_map(|(_, v)| *v)
            .min();
        if let Some(until) = first {
            return until - (TTL - MARGIN);
        }
        assert!(
            Instant::now() < deadline,
            "no window published after {after:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn wait_state(
    rx: &mut watch::Receiver<LeaseState>,
    what: &str,
    within: Duration,
    f: impl Fn(&LeaseState) -> bool,
) -> LeaseState {
    let found = timeout(within, rx.wait_for(|s| f(s)))
        .await
        .map(|r| r.expect("lease task alive").clone());
    found.unwrap_or_else(|_| panic!("{what}: not within {within:?}; last {:?}", *rx.borrow()))
}

/// Waits until one of the nodes leads; returns its index.
async fn first_leader(nodes: &[&Lease]) -> usize {
    let deadline = Instant::now() + WAIT;
    let mut rxs: Vec<_> = nodes.iter().map(|n| n.state()).collect();
    loop {
        if let Some(i) = rxs.iter().position(|r| r.borrow().role == Role::Leader) {
            return i;
        }
        let changes =
            futures_util::future::select_all(rxs.iter_mut().map(|r| Box::pin(r.changed())));
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            timeout(left, changes).await.is_ok(),
            "no node led within {WAIT:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_of_two_leads_and_the_other_follows_it() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let a = Lease::spawn(settings(&nats.url(), "a"));
    let b = Lease::spawn(settings(&nats.url(), "bb"));
    let (da, db) = (record(a.drive()), record(b.drive()));
    let i = first_leader(&[&a, &b]).await;
    let (leader, follower) = if i == 0 { (&a, &b) } else { (&b, &a) };
    let lead = leader.state().borrow().clone();
    let term = lead.term.expect("a leader has a term");
    assert_eq!(
        *leader.term().borrow(),
        term,
        "the term for the journal's appends"
    );
    assert_eq!(
        *follower.term().borrow(),
        0,
        "a follower that never led has no term"
    );
    let follows = wait_state(&mut follower.state(), "the other follows", WAIT, |s| {
        s.role == Role::Follower && s.leader.as_ref().is_some_and(|h| h.node == lead.node)
    })
    .await;
    assert_eq!(follows.leader.as_ref().and_then(|h| h.term), Some(term));
    assert_eq!(
        follows.leader.as_ref().and_then(|h| h.address.clone()),
        lead.leader.and_then(|h| h.address)
    );
    // Several renewals later nothing has changed: same leader, same term, the follower never drove.
    tokio::time::sleep(TTL * 2).await;
    let now = leader.state().borrow().clone();
    assert_eq!((now.role, now.term), (Role::Leader, Some(term)));
    assert!(
        leader
            .counters()
            .renewals_ok
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 4
    );
    assert_eq!(follower.state().borrow().role, Role::Follower);
    let follower_log = if i == 0 { &db } else { &da };
    assert_eq!(
        last_until(follower_log),
        None,
        "the follower never published a window"
    );
    assert!(leader.drive().borrow().is_some_and(|u| u > Instant::now()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_leader_dies_the_other_leads_within_a_lease_and_the_windows_never_overlap() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let a = Lease::spawn(settings(&nats.url(), "a"));
    let b = Lease::spawn(settings(&nats.url(), "bb"));
    let (da, db) = (record(a.drive()), record(b.drive()));
    let i = first_leader(&[&a, &b]).await;
    let (leader, follower, old_log, new_log) = if i == 0 {
        (a, b, da, db)
    } else {
        (b, a, db, da)
    };
    let old_term = leader.state().borrow().term;
    // Let a renewal or two happen, then the leader's task dies without giving the key back.
    wait_state(&mut leader.state(), "a renewal", WAIT, |s| {
        s.last_renewal.is_some()
    })
    .await;
    let died = Instant::now();
    drop(leader);
    let took = wait_state(&mut follower.state(), "the other leads", WAIT, |s| {
        s.role == Role::Leader
    })
    .await;
    let after = died.elapsed();
    eprintln!("takeover after the leader's task died: {after:?}");
    assert!(after <= TTL + RENEW + SLACK, "took {after:?}");
    assert!(took.term > old_term, "{:?} then {:?}", old_term, took.term);
    let old_until = last_until(&old_log).expect("the old leader drove");
    let new_from = first_win_after(&new_log, died).await;
    assert!(
        new_from > old_until,
        "windows overlap: new from {new_from:?}, old until {old_until:?}"
    );
    assert_eq!(
        follower
            .counters()
            .takeovers
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_stops_gives_the_key_back_and_the_other_leads_at_once() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let a = Lease::spawn(settings(&nats.url(), "a"));
    let b = Lease::spawn(settings(&nats.url(), "bb"));
    let i = first_leader(&[&a, &b]).await;
    let (leader, follower) = if i == 0 { (a, b) } else { (b, a) };
    let mut follows = follower.state();
    wait_state(&mut follows, "follows", WAIT, |s| s.leader.is_some()).await;
    let drive = leader.drive();
    let stopped = Instant::now();
    leader.stop(Duration::from_secs(1)).await;
    assert_eq!(*drive.borrow(), None, "a stopped leader does not drive");
    wait_state(&mut follows, "the other leads", WAIT, |s| {
        s.role == Role::Leader
    })
    .await;
    let after = stopped.elapsed();
    eprintln!("takeover after the leader gave the key back: {after:?}");
    assert!(after < TTL, "took {after:?}: the key was not given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_from_nats_stops_driving_at_its_instant_and_leads_again_after_a_restart() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let a = Lease::spawn(settings(&nats.url(), "a"));
    let b = Lease::spawn(settings(&nats.url(), "bb"));
    let (da, db) = (record(a.drive()), record(b.drive()));
    let i = first_leader(&[&a, &b]).await;
    let (leader, log) = if i == 0 { (&a, &da) } else { (&b, &db) };
    wait_state(&mut leader.state(), "a renewal", WAIT, |s| {
        s.last_renewal.is_some()
    })
    .await;
    let mut drive = leader.drive();
    nats.kill();
    let killed = Instant::now();
    timeout(TTL + SLACK, drive.wait_for(Option::is_none))
        .await
        .expect("the leader stops driving within its lease")
        .expect("task alive");
    let fenced = Instant::now();
    let until = last_until(log).expect("it drove");
    eprintln!(
        "None seen {:?} after the window's end",
        fenced.saturating_duration_since(until)
    );
    assert!(
        until <= killed + (TTL - MARGIN),
        "a window from before the kill"
    );
    assert!(
        fenced >= until,
        "None before the instant: {fenced:?} < {until:?}"
    );
    assert!(
        fenced <= until + SLACK,
        "None {:?} after the instant",
        fenced - until
    );
    // Nothing but a renewal extends the window: none was published after the kill.
    let published_after: Vec<_> = log
        .lock()
        .expect("log")
        .iter()
        .filter(|(seen, v)| *seen > killed && v.is_some_and(|u| u > until))
        .map(|(_, v)| *v)
        .collect();
    assert!(published_after.is_empty(), "{published_after:?}");
    for n in [&a, &b] {
        wait_state(&mut n.state(), "no leader", SLACK, |s| {
            s.role != Role::Leader
        })
        .await;
    }

    nats.restart();
    let back = Instant::now();
    let j = first_leader(&[&a, &b]).await;
    eprintln!("a leader again {:?} after the NATS restart", back.elapsed());
    if j != i {
        // The other node took over across the outage: after the old window ended.
        let new_log = if j == 0 { &da } else { &db };
        let new_from = first_win_after(new_log, back).await;
        assert!(new_from > until, "windows overlap across the outage");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_while_nats_is_down_waits_and_leads_once_it_is_up() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let url = nats.url();
    nats.kill();
    let a = Lease::spawn(settings(&url, "a"));
    let mut state = a.state();
    // It started (spawn returned) and knows it does not know.
    let s = wait_state(&mut state, "unknown", WAIT, |s| !s.connected).await;
    assert_eq!(s.role, Role::Unknown);
    assert_eq!(*a.drive().borrow(), None);
    nats.restart();
    let s = wait_state(&mut state, "leads once NATS is up", WAIT, |s| {
        s.role == Role::Leader
    })
    .await;
    assert!(s.connected && s.term.is_some());
    // Stopping never waits for NATS either.
    nats.kill();
    let stopping = Instant::now();
    a.stop(Duration::from_millis(500)).await;
    assert!(stopping.elapsed() < Duration::from_millis(900));
}
