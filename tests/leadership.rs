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
