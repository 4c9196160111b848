//! Several independent servers (docs/operations.md, "Several servers"): one engine drives two
//! main/backup pairs (four simulators over real TCP); a playlist plays on the server it names, a
//! server going away touches nothing on the other, and a playlist naming a server that is not
//! configured is refused or, when already stored, not played anywhere.

mod common;

use std::time::Duration;

use common::pair::{layer_of, link, playlist, sim_with};
use common::schedule::{poll_until, wait};
use onair::config::PlayoutConfig;
use onair::playout::engine::{self, EngineDeps, EngineHandle, GroupDeps, Op, SideDeps, Snapshot};
use onair::playout::model::Playlist;
use onair::sim::Sim;
use onair::sim::media::SimMedia;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);

fn side(name: &str, sim: &Sim) -> SideDeps {
    SideDeps {
        name: name.into(),
        address: sim.addr().to_string(),
        caspar: link(sim),
        osc: None,
    }
}

struct Station {
    /// a, a2 (a's backup), b, b2 (b's backup).
    sims: [Sim; 4],
    engine: EngineHandle,
    shutdown: CancellationToken,
}

impl Drop for Station {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Four simulators as two pairs, `a` (the first group) and `b`, driving `playlists`; returns once
/// every server is connected and in step and every clip's length is known.
async fn station(playlists: Vec<Playlist>) -> Station {
    let lib = SimMedia::virtual_library(20);
    let mut sims = Vec::new();
    for _ in 0..4 {
        sims.push(sim_with(lib.clone()).await);
    }
    let sims: [Sim; 4] = sims.try_into().unwrap_or_else(|_| unreachable!());
    let shutdown = CancellationToken::new();
    let (engine, _task) = engine::spawn(EngineDeps {
        config: PlayoutConfig::default(),
        poll_interval: 40 * MS,
        main: ("a".into(), sims[0].addr().to_string()),
        backup: Some(side("a2", &sims[1])),
        more: vec![GroupDeps {
            main: side("b", &sims[2]),
            backup: Some(side("b2", &sims[3])),
        }],
        ..EngineDeps::new(link(&sims[0]), playlists, shutdown.clone())
    });
    wait(&engine, |s| {
        s.link.servers.len() == 4
            && s.link.servers.iter().all(|v| v.connected && v.in_step)
            && s.playlists
                .iter()
                .filter(|p| {
                    p.playlist
                        .server
                        .as_deref()
                        .is_none_or(|n| n == "a" || n == "b")
                })
                .all(|p| p.playlist.items.iter().all(|i| i.frames.is_some()))
    })
    .await;
    Station {
        sims,
        engine,
        shutdown,
    }
}

fn on(mut pl: Playlist, id: &str, server: Option<&str>) -> Playlist {
    pl.id = id.into();
    pl.name = id.into();
    pl.server = server.map(str::to_owned);
    pl
}

async fn take(engine: &EngineHandle, playlist: &str, item: &str) -> Result<(), String> {
    engine
        .execute(Op::Take {
            playlist: Some(playlist.into()),
            item: Some(item.into()),
        })
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

fn clip_on(sim: &Sim) -> Option<String> {
    layer_of(sim).map(|l| l.0)
}

fn view<'a>(s: &'a Snapshot, name: &str) -> &'a onair::protocol::ServerView {
    s.link
        .servers
        .iter()
        .find(|v| v.name == name)
        .expect("server view")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_playlist_plays_on_its_own_pair_and_one_server_down_touches_nothing_elsewhere() {
    // Both playlists use layer 1-10: on two servers these are two layers.
    let st = station(vec![
        on(playlist(&["CLIP1", "CLIP2"], false), "news", None),
        on(playlist(&["SHORT", "CLIP1"], false), "sport", Some("b")),
    ])
    .await;
    let snap = st.engine.snapshot();
    assert_eq!(view(&snap, "a2").group, "a");
    assert_eq!(view(&snap, "b2").group, "b");

    take(&st.engine, "news", "i0").await.expect("take news");
    take(&st.engine, "sport", "i0").await.expect("take sport");
    let names = ["a", "a2", "b", "b2"];
    let want = [Some("CLIP1"), Some("CLIP1"), Some("SHORT"), Some("SHORT")];
    // A take answers with the first side's success; the other side's PLAY is on its way.
    for (i, sim) in st.sims.iter().enumerate() {
        poll_until(names[i], || clip_on(sim).as_deref() == want[i]).await;
    }

    // Group b's main goes away: group a is not touched, b plays on through its backup.
    let before: Vec<usize> = [&st.sims[0], &st.sims[1]]
        .iter()
        .map(|s| s.take_log().len())
        .collect();
    let control = st.sims[2].control();
    let down = tokio::spawn(async move { control.restart(Duration::from_secs(1)).await });
    wait(&st.engine, |s| !view(s, "b").connected).await;
    let snap = st.engine.snapshot();
    assert!(view(&snap, "a").connected && view(&snap, "a").in_step && view(&snap, "a").lead);
    assert!(view(&snap, "b2").lead, "b's backup leads its group");
    take(&st.engine, "sport", "i1")
        .await
        .expect("take on b's backup");
    assert_eq!(clip_on(&st.sims[3]).as_deref(), Some("CLIP1"));
    take(&st.engine, "news", "i1").await.expect("take news");
    for k in [0, 1] {
        poll_until(names[k], || {
            clip_on(&st.sims[k]).as_deref() == Some("CLIP2")
        })
        .await;
    }
    // Group a saw only its own takes (news' two): nothing of sport's reached it.
    for (k, sim) in [&st.sims[0], &st.sims[1]].iter().enumerate() {
        assert!(sim.take_log().len() > before[k], "{}", names[k]);
        let log = sim.take_log();
        assert!(
            log.iter().all(|t| !t.clip.eq_ignore_ascii_case("SHORT")),
            "{}: {log:?}",
            names[k]
        );
    }
    // b's main comes back and is brought to b's state; a stays as it was.
    down.await.expect("restart");
    wait(&st.engine, |s| {
        let b = view(s, "b");
        b.connected && b.in_step
    })
    .await;
    poll_until("b shows sport's item again", || {
        clip_on(&st.sims[2]).as_deref() == Some("CLIP1")
    })
    .await;
    assert_eq!(clip_on(&st.sims[0]).as_deref(), Some("CLIP2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playlist_on_a_server_that_is_not_configured_is_refused_or_not_played() {
    let st = station(vec![
        on(playlist(&["CLIP1"], false), "news", None),
        on(playlist(&["CLIP2"], false), "gone", Some("studio-x")),
    ])
    .await;
    // Loaded from the store: kept, alarmed, and a take fails without reaching any server.
    let snap = st.engine.snapshot();
    assert!(
        snap.alarms
            .iter()
            .any(|a| a.message.contains("\"gone\"") && a.message.contains("not configured")),
        "{:#?}",
        snap.alarms
    );
    let err = take(&st.engine, "gone", "i0").await.expect_err("no server");
    assert!(err.contains("studio-x"), "{err}");
    for sim in &st.sims {
        assert!(
            sim.take_log()
                .iter()
                .all(|t| !t.clip.eq_ignore_ascii_case("CLIP2"))
        );
    }
    // A new playlist must name a configured server.
    let err = st
        .engine
        .execute(Op::PlaylistCreate {
            name: "Extra".into(),
            channel_layer: None,
            server: Some("studio-y".into()),
        })
        .await
        .expect_err("unknown server refused");
    assert!(err.to_string().contains("studio-y"), "{err}");
    let created = st
        .engine
        .execute(Op::PlaylistCreate {
            name: "Extra".into(),
            channel_layer: None,
            server: Some("b".into()),
        })
        .await
        .expect("a configured server");
    let id = created.playlist.expect("id");
    let snap = st.engine.snapshot();
    let pl = snap
        .playlists
        .iter()
        .find(|p| p.playlist.id == id)
        .expect("created");
    assert_eq!(pl.playlist.server.as_deref(), Some("b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onair_serve_drives_several_mains_from_the_configuration_and_health_names_the_one_down() {
    use onair::config::{CasparConfig, Config, ServerEntry};
    // `a` alone, `b` with its backup `b2`, as `[[servers]]` gives them to `onair serve`.
    let lib = SimMedia::virtual_library(20);
    let (a, b, b2) = (
        sim_with(lib.clone()).await,
        sim_with(lib.clone()).await,
        sim_with(lib).await,
    );
    let entry = |name: &str, backup: Option<&str>, sim: &Sim| ServerEntry {
        name: name.into(),
        backup: backup.map(str::to_owned),
        link: CasparConfig {
            address: sim.addr().to_string(),
            ping_interval: 200 * MS,
            backoff_initial: 10 * MS,
            backoff_max: 100 * MS,
            ..CasparConfig::default()
        },
    };
    let dir = tempfile::tempdir().expect("data dir");
    let mut config = Config {
        servers: vec![
            entry("a", None, &a),
            entry("b", Some("b2"), &b),
            entry("b2", None, &b2),
        ],
        ..Config::default()
    };
    config.server.listen = ([127, 0, 0, 1], 0).into();
    config.store.data_dir = dir.path().to_path_buf();
    let daemon = onair::daemon::Daemon::start(config)
        .await
        .expect("daemon starts");
    let engine = daemon.engine.clone();
    wait(&engine, |s| {
        s.link.servers.len() == 3 && s.link.servers.iter().all(|v| v.connected && v.in_step)
    })
    .await;
    let snap = engine.snapshot();
    assert_eq!(view(&snap, "b2").group, "b");
    assert_eq!(view(&snap, "a").group, "a");

    // A playlist on b, made and played as a client would.
    let created = engine
        .execute(Op::PlaylistCreate {
            name: "Sport".into(),
            channel_layer: None,
            server: Some("b".into()),
        })
        .await
        .expect("create on b");
    let id = created.playlist.expect("id");
    let added = engine
        .execute(Op::ItemAdd {
            playlist: Some(id.clone()),
            item: engine::NewItem {
                clip: "CLIP2".into(),
                ..engine::NewItem::default()
            },
            index: None,
        })
        .await
        .expect("add");
    let item = added.item.expect("item id");
    take(&engine, &id, &item).await.expect("take on b");
    for (name, sim) in [("b", &b), ("b2", &b2)] {
        poll_until(name, || clip_on(sim).as_deref() == Some("CLIP2")).await;
    }
    assert_eq!(clip_on(&a), None, "a plays nothing of b's playlist");

    // b's group goes down entirely: /health is critical and names b's servers; a stays up.
    let addr = daemon.addr.to_string();
    for sim in [&b, &b2] {
        sim.set_refuse_connections(true);
        sim.wait_listening(false).await;
        sim.drop_connections();
    }
    let doc = common::daemon::health_until(&addr, "b's group down", |d| {
        d["reasons"].to_string().contains("CasparCG not connected")
    })
    .await;
    let reasons = doc["reasons"].to_string();
    assert!(
        reasons.contains("\\\"b\\\"") && reasons.contains("\\\"b2\\\""),
        "{doc}"
    );
    assert!(!reasons.contains("\\\"a\\\""), "a is up: {doc}");
    // Its channels cannot play: the daemon is not ready (what `onair health` reports as CRITICAL).
    let (code, _) = common::daemon::get(&addr, "/health/ready").await;
    assert_eq!(code, 503);
    let snap = engine.snapshot();
    assert!(view(&snap, "a").connected);
    daemon.shutdown().await;
}
