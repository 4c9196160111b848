//! Fencing playout by the leader lease (docs/operations.md, "Cluster mode"): an engine that may not
//! drive sends nothing that changes playout, an engine whose lease lapses stops at the lease's
//! instant even when nobody tells it, and an engine that gains the lease takes over what is on air
//! without restarting it. The lease itself is a `watch` here; a simulator runs in real time.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::pair::{layer_of, link, playlist, playout_commands, sim_with};
use common::schedule::{poll_until, wait};
use onair::config::PlayoutConfig;
use onair::playout::engine::{self, EngineDeps, EngineHandle, Op, Playout, Status};
use onair::sim::Sim;
use onair::sim::media::SimMedia;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);

struct Node {
    engine: EngineHandle,
    lease: watch::Sender<Option<Instant>>,
    shutdown: CancellationToken,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An engine on `sim` with playlist `pl` (autoplay on), holding no lease, `restored` as saved.
async fn node(sim: &Sim, restored: BTreeMap<String, Playout>) -> Node {
    let (lease, drive) = watch::channel(None);
    let shutdown = CancellationToken::new();
    let (engine, _task) = engine::spawn(EngineDeps {
        config: PlayoutConfig::default(),
        poll_interval: 40 * MS,
        main: ("main".into(), sim.addr().to_string()),
        drive: Some(drive),
        restored,
        ..EngineDeps::new(
            link(sim),
            vec![playlist(&["CLIP1", "CLIP2", "CLIP1"], true)],
            shutdown.clone(),
        )
    });
    wait(&engine, |s| {
        s.link.connected
            && s.playlists
                .iter()
                .all(|p| p.playlist.items.iter().all(|i| i.frames.is_some()))
    })
    .await;
    Node {
        engine,
        lease,
        shutdown,
    }
}

async fn take(engine: &EngineHandle, item: &str) -> Result<(), String> {
    engine
        .execute(Op::Take {
            playlist: Some("pl".into()),
            item: Some(item.into()),
        })
        .await
        .map(drop)
        .map_err(|e| e.code().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_lease_nothing_is_sent_and_with_it_takes_go_through() {
    let sim = sim_with(SimMedia::virtual_library(20)).await;
    let n = node(&sim, BTreeMap::new()).await;
    assert_eq!(take(&n.engine, "i0").await, Err("not_leader".to_owned()));
    // Said before anything else: an item that does not exist, nothing to skip.
    assert_eq!(take(&n.engine, "nope").await, Err("not_leader".to_owned()));
    let skip = n.engine.execute(Op::Skip { playlist: None }).await;
    assert_eq!(skip.map(drop).map_err(|e| e.code()), Err("not_leader"));
    assert!(
        playout_commands(&sim).is_empty(),
        "{:?}",
        playout_commands(&sim)
    );

    n.lease
        .send_replace(Some(Instant::now() + Duration::from_secs(3600)));
    // The take may race the engine noticing the lease: it checks the instant itself.
    take(&n.engine, "i0").await.expect("take with the lease");
    // Autoplay arms what follows: the leader drives.
    poll_until("LOADBG … AUTO behind the item", || {
        playout_commands(&sim)
            .iter()
            .any(|c| c.starts_with("LOADBG"))
    })
    .await;
    assert_eq!(layer_of(&sim).map(|l| l.0).as_deref(), Some("CLIP1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_that_lapses_unrenewed_stops_playout_commands_at_its_instant() {
    let sim = sim_with(SimMedia::virtual_library(20)).await;
    let n = node(&sim, BTreeMap::new()).await;
    n.lease
        .send_replace(Some(Instant::now() + Duration::from_secs(3600)));
    take(&n.engine, "i0").await.expect("take with the lease");
    // A lease granted until a moment from now and never renewed (a renewal that hangs): nothing
    // tells the engine it ended.
    let until = Instant::now() + Duration::from_millis(300);
    n.lease.send_replace(Some(until));
    tokio::time::sleep_until(until).await;
    sim.clear_command_log();
    assert_eq!(take(&n.engine, "i1").await, Err("not_leader".to_owned()));
    let snap = wait(&n.engine, |s| s.alarms.iter().any(|a| a.kind == "cluster")).await;
    assert!(
        snap.alarms
            .iter()
            .any(|a| a.message.contains("leader lease"))
    );
    assert!(
        playout_commands(&sim).is_empty(),
        "{:?}",
        playout_commands(&sim)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gaining_the_lease_adopts_what_is_on_air_without_restarting_it() {
    let sim = sim_with(SimMedia::virtual_library(20)).await;
    // The old leader played i0 (CLIP1) before it died: the server shows it, the saved state says so.
    let mut amcp = common::AmcpClient::connect(sim.addr()).await;
    let reply = amcp.command("PLAY 1-10 CLIP1").await;
    assert_eq!(reply.code, 202);
    let restored = BTreeMap::from([(
        "pl".to_owned(),
        Playout {
            status: Status::Playing,
            on_air: Some("i0".into()),
            ..Playout::default()
        },
    )]);
    let n = node(&sim, restored).await;
    sim.clear_command_log();
    n.lease
        .send_replace(Some(Instant::now() + Duration::from_secs(3600)));
    let snap = wait(&n.engine, |s| {
        let p = &s.playlists[0].playout;
        p.status == Status::Playing && p.armed_auto
    })
    .await;
    assert_eq!(snap.playlists[0].playout.on_air.as_deref(), Some("i0"));
    let sent = playout_commands(&sim);
    assert!(
        sent.iter()
            .all(|c| !c.starts_with("PLAY") && !c.starts_with("LOAD ")),
        "the item on air was restarted: {sent:?}"
    );
    assert!(sent.iter().any(|c| c.starts_with("LOADBG")), "{sent:?}");
}

/// Cluster mode: a node that gains the lease while the journal is ahead of it (the last entries of
/// a leader that just handed over) asks the journal how long it is and takes no edit and sends no
/// playout command before it has applied that much. The journal is played by hand here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_gains_the_lease_applies_the_journal_up_to_its_length_first() {
    use onair::playout::engine::{EngineError, NewItem};
    use onair::playout::model::Playlist;
    use onair::playout::replica::{Delivered, ReplicaDeps, Replicated};
    use tokio::sync::mpsc;

    let sim = sim_with(SimMedia::virtual_library(20)).await;
    let (appends, mut appended) = mpsc::channel(16);
    let (entries, entries_rx) = mpsc::channel(16);
    let (_length, caught_up) = watch::channel(Some(0));
    let (syncs, mut asked) = mpsc::channel(4);
    let (compactions, _compacted) = mpsc::channel(1);
    let (lease, drive) = watch::channel(None);
    let shutdown = CancellationToken::new();
    let (engine, _task) = engine::spawn(EngineDeps {
        main: ("main".into(), sim.addr().to_string()),
        drive: Some(drive),
        replica: Some(ReplicaDeps {
            appends,
            entries: entries_rx,
            applied: 0,
            caught_up,
            syncs,
            compactions,
            compact_every: 0,
            driving: Default::default(),
        }),
        ..EngineDeps::new(link(&sim), Vec::new(), shutdown.clone())
    });
    let put = |seq: u64, id: &str| Delivered {
        seq,
        change: Replicated::Put {
            playlist: Playlist::new(id, id, "1-10".parse().expect("layer")),
        },
        mine: None,
    };
    entries.send(put(1, "news")).await.expect("engine alive");
    let add = || Op::ItemAdd {
        playlist: Some("news".into()),
        item: NewItem {
            clip: "CLIP1".into(),
            ..NewItem::default()
        },
        index: None,
    };
    // The lease is gained: the engine asks how long the journal is.
    lease.send_replace(Some(Instant::now() + Duration::from_secs(3600)));
    let done = tokio::time::timeout(Duration::from_secs(5), asked.recv())
        .await
        .expect("asked in time")
        .expect("engine alive");
    assert_eq!(
        engine.execute(add()).await.err(),
        Some(EngineError::NotLeader)
    );
    // Three entries, one applied here.
    let _ = done.send(Ok(3));
    assert_eq!(
        engine.execute(add()).await.err(),
        Some(EngineError::NotLeader)
    );
    entries.send(put(2, "sport")).await.expect("engine alive");
    entries.send(put(3, "weather")).await.expect("engine alive");
    // Every append the engine makes now is stored next.
    tokio::spawn(async move {
        let mut seq = 3;
        while let Some(a) = appended.recv().await {
            seq += 1;
            assert_eq!(a.after, seq - 1, "it appends after the whole journal");
            let _ = a.done.send(Ok(seq));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match engine.execute(add()).await {
            Ok(_) => break,
            Err(EngineError::NotLeader) if Instant::now() < deadline => {
                tokio::time::sleep(10 * MS).await;
            }
            Err(e) => panic!("the edit after catching up: {e:?}"),
        }
    }
    let ids: Vec<String> = engine
        .snapshot()
        .playlists
        .iter()
        .map(|p| p.playlist.id.clone())
        .collect();
    assert_eq!(ids, ["news", "sport", "weather"]);
    shutdown.cancel();
}
