//! Two engines sharing one station through the replicated journal on a real `nats-server`
//! (issue 18): edits made on the leader reach the follower in order, every node's playlists equal
//! the leader's and its own disk, a follower refuses edits with `not_leader`, two nodes that both
//! believe they lead never fork the journal (one edit is refused, with no trace), and an edit the
//! journal does not confirm (NATS down) is answered `store_error`, leaves no trace until the
//! journal shows it, and is applied everywhere if NATS stored it after all.

mod common;

use std::time::Duration;

use common::nats::NatsServer;
use onair::caspar::CasparHandle;
use onair::cluster::journal::{Entry, Journal, Replicated, Snapshot};
use onair::cluster::replica;
use onair::config::CasparConfig;
use onair::playout::engine::{self, EngineDeps, EngineError, EngineHandle, NewItem, Op};
use onair::playout::model::{Limits, Playlist};
use onair::playout::store::{Store, StoreWriter};
use onair::sim::{Sim, SimConfig};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(15);

struct Node {
    engine: EngineHandle,
    task: tokio::task::JoinHandle<()>,
    dir: tempfile::TempDir,
    shutdown: CancellationToken,
    /// Until when it may drive (the lease, by hand).
    lease: watch::Sender<Option<Instant>>,
}

impl Node {
    fn lead(&self) {
        let _ = self
            .lease
            .send(Some(Instant::now() + Duration::from_secs(3600)));
    }

    /// Stops the engine and returns the playlists its disk holds.
    async fn stop(self) -> Vec<Playlist> {
        self.shutdown.cancel();
        self.task.await.expect("engine ends");
        let (_, report) = Store::open(self.dir.path(), Limits::default(), cl()).expect("reopens");
        report.playlists
    }
}

fn cl() -> onair::amcp::ChannelLayer {
    "1-10".parse().expect("channel-layer")
}

async fn node(sim: &Sim, nats: &NatsServer, name: &str) -> Node {
    node_compacting(sim, nats, name, 0).await
}

/// A node whose engine, while it leads, compacts the journal every `every` entries.
async fn node_compacting(sim: &Sim, nats: &NatsServer, name: &str, every: u64) -> Node {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, report) = Store::open(dir.path(), Limits::default(), cl()).expect("store");
    let (caspar, _) = CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ..CasparConfig::default()
    });
    let shutdown = CancellationToken::new();
    let client = async_nats::connect(nats.url()).await.expect("NATS");
    let journal = Journal::open(client, "station", 1).await.expect("journal");
    let (_term_tx, term) = watch::channel(1);
    let (replica, _task) = replica::spawn(journal, name, term, 0, every, shutdown.clone());
    let (lease, drive) = watch::channel(None);
    let (engine, task) = engine::spawn(EngineDeps {
        store: Some(StoreWriter::spawn(store)),
        drive: Some(drive),
        replica: Some(replica),
        ..EngineDeps::new(caspar, report.playlists, shutdown.clone())
    });
    Node {
        engine,
        task,
        dir,
        shutdown,
        lease,
    }
}

fn news(e: &EngineHandle) -> Playlist {
    playlists(e)
        .into_iter()
        .find(|p| p.id == "news")
        .expect("playlist news")
}

/// Waits until `a` and `b` show the same playlist `news`.
async fn converge_news(a: &EngineHandle, b: &EngineHandle) {
    let mut rx = a.watch_snapshot();
    let reached = tokio::time::timeout(WAIT, async {
        while news(a) != news(b) {
            rx.changed().await.expect("engine alive");
        }
    })
    .await;
    assert!(reached.is_ok(), "{:?} / {:?}", summary(a), summary(b));
}

/// Each playlist's id, revision and item count (for failure messages).
fn summary(e: &EngineHandle) -> Vec<(String, u64, usize)> {
    playlists(e)
        .iter()
        .map(|p| (p.id.clone(), p.revision, p.items.len()))
        .collect()
}

fn playlists(e: &EngineHandle) -> Vec<Playlist> {
    e.snapshot()
        .playlists
        .iter()
        .map(|v| v.playlist.clone())
        .collect()
}

/// Waits until `a` and `b` show the same playlists.
async fn converge(a: &EngineHandle, b: &EngineHandle) {
    let (mut ra, mut rb) = (a.watch_snapshot(), b.watch_snapshot());
    let reached = tokio::time::timeout(WAIT, async {
        loop {
            if playlists(a) == playlists(b) {
                return;
            }
            tokio::select! {
                r = ra.changed() => r.expect("engine alive"),
                r = rb.changed() => r.expect("engine alive"),
            }
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "the nodes never converged:\na {:?}\nb {:?}",
        summary(a),
        summary(b)
    );
}

fn add(clip: &str) -> Op {
    Op::ItemAdd {
        playlist: Some("news".into()),
        item: NewItem {
            clip: clip.into(),
            ..NewItem::default()
        },
        index: None,
    }
}

/// Creates playlist `news` on a node just given the lease: it takes edits once it has asked the
/// journal its length and applied that much (`not_leader` until then).
async fn create(e: &EngineHandle) {
    let deadline = Instant::now() + WAIT;
    loop {
        let created = e
            .execute(Op::PlaylistCreate {
                name: "News".into(),
                channel_layer: Some(cl()),
                server: None,
            })
            .await;
        match created {
            Ok(_) => return,
            Err(EngineError::NotLeader) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("create: {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_on_the_leader_reach_the_follower_in_order_and_every_node_equals_its_disk() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let (a, b) = (node(&sim, &nats, "a").await, node(&sim, &nats, "b").await);
    a.lead();
    create(&a.engine).await;
    // Pipelined: 200 adds in flight at once, then moves, updates and removals.
    let mut queued = Vec::new();
    for n in 0..200 {
        queued.push(
            a.engine
                .queue(add(&format!("CLIP{}", n % 20)))
                .await
                .expect("queued"),
        );
    }
    for q in queued {
        q.answer().await.expect("added");
    }
    let items: Vec<String> = news(&a.engine).items.iter().map(|i| i.id.clone()).collect();
    for (n, id) in items.iter().take(20).enumerate() {
        let op = match n % 3 {
            0 => Op::ItemMove {
                playlist: Some("news".into()),
                item: id.clone(),
                index: 150,
            },
            1 => Op::ItemRemove {
                playlist: Some("news".into()),
                item: id.clone(),
            },
            _ => Op::PlaylistRename {
                playlist: Some("news".into()),
                name: format!("News {n}"),
            },
        };
        a.engine.execute(op).await.expect("edit");
    }
    converge(&a.engine, &b.engine).await;
    assert_eq!(news(&b.engine).items.len(), 193);

    // The follower takes no edit.
    let refused = b.engine.execute(add("CLIP1")).await;
    assert_eq!(refused.map(|_| ()), Err(EngineError::NotLeader));

    let leader = playlists(&a.engine);
    assert_eq!(a.stop().await, leader, "the leader's disk");
    assert_eq!(b.stop().await, leader, "the follower's disk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_that_both_believe_they_lead_never_fork_the_journal() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let (a, b) = (node(&sim, &nats, "a").await, node(&sim, &nats, "b").await);
    a.lead();
    create(&a.engine).await;
    converge(&a.engine, &b.engine).await;
    // A partition's worst case: both hold a lease they believe in.
    b.lead();
    let mut refused = 0;
    for n in 0..50 {
        let (x, y) = tokio::join!(
            a.engine.execute(add(&format!("A{n}"))),
            b.engine.execute(add(&format!("B{n}"))),
        );
        for r in [x, y] {
            match r {
                Ok(_) => {}
                Err(EngineError::NotLeader) => refused += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        // Let each see the other's entries before the next round.
        converge(&a.engine, &b.engine).await;
    }
    assert!(refused > 0, "the two never raced");
    converge(&a.engine, &b.engine).await;
    let items = news(&a.engine).items.len();
    assert_eq!(
        items,
        100 - refused,
        "every edit answered ok is there, no other"
    );
    let leader = playlists(&a.engine);
    assert_eq!(a.stop().await, leader);
    assert_eq!(b.stop().await, leader);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_nats_does_not_confirm_is_refused_and_every_node_applies_what_the_journal_holds() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let (a, b) = (node(&sim, &nats, "a").await, node(&sim, &nats, "b").await);
    a.lead();
    create(&a.engine).await;
    a.engine.execute(add("CLIP1")).await.expect("added");
    converge(&a.engine, &b.engine).await;
    let before = playlists(&a.engine);

    nats.kill();
    let failed = tokio::time::timeout(WAIT, a.engine.execute(add("CLIP2")))
        .await
        .expect("answered in time");
    match failed {
        Err(EngineError::Store(why)) => assert!(why.contains("not confirmed"), "{why}"),
        other => panic!("expected store_error, got {other:?}"),
    }
    assert_eq!(playlists(&a.engine), before, "no trace in memory");

    nats.restart();
    let again = tokio::time::timeout(WAIT, async {
        loop {
            match a.engine.execute(add("CLIP3")).await {
                Ok(_) => return,
                Err(e) => eprintln!("after restart: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        again.is_ok(),
        "edits never worked again after NATS came back"
    );
    converge(&a.engine, &b.engine).await;
    let clips: Vec<String> = news(&a.engine)
        .items
        .iter()
        .map(|i| i.clip.clone())
        .collect();
    // The NATS client kept the unconfirmed append and sent it once the server was back, so the
    // journal may hold it: then every node applies it (the journal is the truth; the error said
    // so), else no node has it.
    assert!(
        clips == ["CLIP1", "CLIP3"] || clips == ["CLIP1", "CLIP2", "CLIP3"],
        "{clips:?}"
    );
    let leader = playlists(&a.engine);
    assert_eq!(a.stop().await, leader);
    assert_eq!(b.stop().await, leader);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_starts_later_reads_the_whole_journal_before_it_may_lead() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let a = node(&sim, &nats, "a").await;
    a.lead();
    create(&a.engine).await;
    for n in 0..50 {
        a.engine
            .execute(add(&format!("CLIP{}", n % 20)))
            .await
            .expect("added");
    }
    // Node c starts from nothing, connecting in the background.
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = Store::open(dir.path(), Limits::default(), cl()).expect("store");
    let (caspar, _) = CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ..CasparConfig::default()
    });
    let shutdown = CancellationToken::new();
    let (_term_tx, term) = watch::channel(1);
    let started = replica::start(
        replica::ReplicaSettings {
            nats: vec![nats.url()],
            station: "station".into(),
            replicas: 1,
            node: "c".into(),
            compact_every: 0,
        },
        term,
        shutdown.clone(),
    );
    let mut journal_length = started.deps.caught_up.clone();
    // It holds the lease from the start: it must still not drive (nor edit) before it has the
    // journal's playlists.
    let (_lease, drive) = watch::channel(Some(Instant::now() + Duration::from_secs(3600)));
    let (c, task) = engine::spawn(EngineDeps {
        store: Some(StoreWriter::spawn(store)),
        drive: Some(drive),
        replica: Some(started.deps),
        ..EngineDeps::new(caspar, Vec::new(), shutdown.clone())
    });
    tokio::time::timeout(WAIT, journal_length.wait_for(Option::is_some))
        .await
        .expect("the journal opened in time")
        .expect("replica alive");
    // Hand over: a stops leading; c's first accepted edit comes after the whole journal.
    let _ = a.lease.send(None);
    let accepted = tokio::time::timeout(WAIT, async {
        loop {
            match c.execute(add("C")).await {
                Ok(_) => return,
                Err(EngineError::NotLeader) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    })
    .await;
    assert!(accepted.is_ok(), "c never took an edit: {:?}", summary(&c));
    // Everything the journal holds, and nothing else (the first node's own default playlist
    // `main` was made by its local store and is not in the journal).
    let ids: Vec<String> = playlists(&c).into_iter().map(|p| p.id).collect();
    assert_eq!(ids, ["news"]);
    assert_eq!(news(&c).items.len(), 51);
    converge_news(&a.engine, &c).await;
    shutdown.cancel();
    task.await.expect("engine ends");
    let leader = playlists(&a.engine);
    assert_eq!(a.stop().await, leader);
}

async fn raw_journal(nats: &NatsServer) -> Journal {
    let client = async_nats::connect(nats.url()).await.expect("NATS");
    Journal::open(client, "station", 1).await.expect("journal")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_compacts_and_a_new_node_starts_from_the_snapshot() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let a = node_compacting(&sim, &nats, "a", 20).await;
    a.lead();
    create(&a.engine).await;
    for n in 0..60 {
        a.engine
            .execute(add(&format!("CLIP{}", n % 20)))
            .await
            .expect("added");
    }
    let journal = raw_journal(&nats).await;
    let compacted = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(Some(s)) = journal.snapshot().await
                && s.seq >= 40
                && journal.first_seq().await.ok() == Some(s.seq + 1)
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the leader compacted the journal");
    // The snapshot is the station as of its sequence: the playlist with that many items (one
    // entry made the playlist, each later one added an item; no playout was saved). (This
    // test's nodes also have their local store's default playlist, which a snapshot carries.)
    let snap_news = compacted
        .playlists
        .iter()
        .find(|p| p.id == "news")
        .expect("news in the snapshot");
    assert_eq!(snap_news.items.len() as u64, compacted.seq - 1);
    // A node starting now cannot read the entries the snapshot replaced: it has the station only
    // if it starts from the snapshot.
    let c = node(&sim, &nats, "c").await;
    converge(&a.engine, &c.engine).await;
    assert_eq!(news(&c.engine).items.len(), 60);
    let leader = playlists(&a.engine);
    assert_eq!(c.stop().await, leader, "c's disk holds the station too");
    assert_eq!(a.stop().await, leader);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_a_compaction_gets_the_snapshot_in_place_of_the_entries_it_missed() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let journal = raw_journal(&nats).await;
    let entry = |n: u64| Entry {
        term: 1,
        node: "w".into(),
        id: n,
        change: Replicated::Delete {
            playlist: format!("p{n}"),
        },
    };
    for n in 0..10 {
        journal.append(&entry(n), n).await.unwrap().await.unwrap();
    }
    let shutdown = CancellationToken::new();
    let (_term_tx, term) = watch::channel(0);
    let (mut r, _task) = replica::spawn(journal.clone(), "r", term, 0, 0, shutdown.clone());
    for seq in 1..=10 {
        assert_eq!(next(&mut r.entries).await.seq, seq);
    }
    // This node stops taking entries (a slow engine) while the journal grows by far more than it
    // buffers, and the leader compacts everything.
    let mut pending = Vec::new();
    for n in 10..2000 {
        pending.push(journal.append(&entry(n), n).await.unwrap());
    }
    for p in pending {
        p.await.unwrap();
    }
    journal
        .compact(&Snapshot {
            seq: 2000,
            playlists: Vec::new(),
            playout: None,
        })
        .await
        .expect("compacts");
    journal
        .append(&entry(2000), 2000)
        .await
        .unwrap()
        .await
        .unwrap();
    // It reads what it had buffered, in order, then the snapshot, then the entries after it.
    let mut expected = 11;
    loop {
        let d = next(&mut r.entries).await;
        if matches!(d.change, Replicated::Reset { .. }) {
            assert_eq!(d.seq, 2000, "the snapshot stands for everything up to 2000");
            assert!(expected <= 2000);
            break;
        }
        assert_eq!(d.seq, expected, "no entry skipped before the snapshot");
        expected += 1;
    }
    assert_eq!(next(&mut r.entries).await.seq, 2001);
    shutdown.cancel();
}

async fn next(
    rx: &mut tokio::sync::mpsc::Receiver<onair::playout::replica::Delivered>,
) -> onair::playout::replica::Delivered {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an entry in time")
        .expect("replica alive")
}
