//! Main/backup pairs (docs/operations.md, "Main and backup servers"): one engine drives two
//! simulators over real TCP; every playout command reaches both, a side that fails or goes away
//! never holds up the other, and a side that comes back is brought in step.

mod common;

use std::time::Duration;

use common::pair::{pair, playlist, server, sim_drift, sim_with};
use common::schedule::{poll_until, wait};
use onair::playout::engine::Op;
use onair::sim::TakeHow;
use onair::sim::media::SimMedia;

async fn take(p: &common::pair::Pair, item: &str) {
    p.engine
        .execute(Op::Take {
            playlist: Some("pl".into()),
            item: Some(item.into()),
        })
        .await
        .expect("take");
}

/// The execution times (Unix ns) of every `PLAY` of `clip` the simulator took.
fn plays(sim: &onair::sim::Sim) -> Vec<(String, i64)> {
    sim.take_log()
        .into_iter()
        .filter(|r| matches!(r.how, TakeHow::Play | TakeHow::Promote))
        .map(|r| (r.clip.to_uppercase(), r.executed_unix_ns))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_take_reaches_main_and_backup_together() {
    let lib = SimMedia::virtual_library(20);
    let p = pair(
        sim_with(lib.clone()).await,
        sim_with(lib).await,
        vec![playlist(&["CLIP1", "CLIP2"], false)],
    )
    .await;
    let n = 100;
    for k in 0..n {
        take(&p, if k % 2 == 0 { "i0" } else { "i1" }).await;
    }
    poll_until("both sides took every PLAY", || {
        plays(&p.main).len() >= n && plays(&p.backup).len() >= n
    })
    .await;
    let (main, backup) = (plays(&p.main), plays(&p.backup));
    assert_eq!(main.len(), n);
    assert_eq!(backup.len(), n);
    let mut skews: Vec<i64> = main
        .iter()
        .zip(&backup)
        .map(|((mc, mt), (bc, bt))| {
            assert_eq!(mc, bc, "both sides play the same clips in the same order");
            (bt - mt).abs()
        })
        .collect();
    skews.sort_unstable();
    let p99 = skews[skews.len() * 99 / 100 - 1];
    eprintln!(
        "pair skew over {n} takes: p50 {} µs, p99 {} µs, max {} µs",
        skews[n / 2] / 1000,
        p99 / 1000,
        skews[n - 1] / 1000
    );
    // The target (1 ms p99) is measured on the release build by `cargo bench --bench pair`; a
    // debug build on a shared machine gets a looser bound here.
    assert!(p99 < 20_000_000, "p99 skew {p99} ns");
    let s = p.engine.snapshot();
    assert!(server(&s, "main").in_step && server(&s, "backup").in_step);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_that_restarts_changes_nothing_on_the_main_and_is_brought_back_in_step() {
    let lib = SimMedia::virtual_library(20);
    let p = pair(
        sim_with(lib.clone()).await,
        sim_with(lib).await,
        vec![playlist(&["CLIP1", "CLIP2", "CLIP1"], true)],
    )
    .await;
    take(&p, "i0").await;
    poll_until("both sides play CLIP1", || sim_drift(&p).is_some()).await;

    // The backup goes away for two seconds (a CasparCG restart: it comes back empty).
    let control = p.backup.control();
    let backup_down = tokio::spawn(async move { control.restart(Duration::from_secs(2)).await });
    let snap = wait(&p.engine, |s| !server(s, "backup").connected).await;
    assert!(server(&snap, "main").in_step);
    assert!(
        snap.alarms.iter().any(|a| a.kind == "server"),
        "the backup's loss is alarmed: {:#?}",
        snap.alarms
    );
    // The main plays on: an operator take during the outage goes through at once.
    take(&p, "i1").await;
    backup_down.await.expect("restart");

    // Back: brought to the main's state (the item on air from the live position, then the next).
    let snap = wait(&p.engine, |s| {
        let b = server(s, "backup");
        b.connected && b.in_step
    })
    .await;
    let resync = server(&snap, "backup").resync_ms.expect("resync time");
    assert!(resync < 2_000, "resync took {resync} ms");
    assert!(
        !snap.alarms.iter().any(|a| a.kind == "server"),
        "the alarm clears once the backup is in step: {:#?}",
        snap.alarms
    );
    poll_until("the backup shows the main's item", || {
        sim_drift(&p).is_some()
    })
    .await;
    let drift = sim_drift(&p).expect("same clip");
    assert!(drift.abs() <= 2, "drift after resync: {drift} frames");
    // The next item is armed on the backup too: the AUTO switch happens on both.
    poll_until("both sides switched to the next item", || {
        let m = common::pair::layer_of(&p.main).map(|l| l.0);
        let b = common::pair::layer_of(&p.backup).map(|l| l.0);
        m.as_deref() == Some("CLIP1") && b.as_deref() == Some("CLIP1")
    })
    .await;
    let drift = sim_drift(&p).expect("same clip");
    assert!(
        drift.abs() <= 2,
        "drift after the AUTO switch: {drift} frames"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_missing_on_the_backup_only_is_flagged_there_and_the_main_plays_it() {
    let full = SimMedia::virtual_library(20);
    let mut partial = full.clone();
    partial.entries.retain(|e| e.id != "CLIP2");
    let p = pair(
        sim_with(full).await,
        sim_with(partial).await,
        vec![playlist(&["CLIP1", "CLIP2", "SHORT", "CLIP1"], false)],
    )
    .await;
    let snap = wait(&p.engine, |s| !server(s, "backup").missing.is_empty()).await;
    assert_eq!(server(&snap, "backup").missing, vec!["CLIP2".to_owned()]);
    assert!(server(&snap, "main").missing.is_empty());

    take(&p, "i1").await;
    let snap = wait(&p.engine, |s| !server(s, "backup").in_step).await;
    let note = server(&snap, "backup").note.clone().unwrap_or_default();
    assert!(note.contains("PLAY failed"), "{note}");
    assert!(server(&snap, "main").in_step);
    assert_eq!(
        common::pair::layer_of(&p.main).map(|l| l.0).as_deref(),
        Some("CLIP2")
    );
    // A take of a clip both sides have puts the backup back in step (not the item before the
    // missing one: arming CLIP2 behind it would fail on the backup again).
    take(&p, "i2").await;
    wait(&p.engine, |s| server(s, "backup").in_step).await;
}

/// Whether the server named `name` is known and leads.
fn leads(s: &onair::playout::engine::Snapshot, name: &str) -> bool {
    s.link.servers.iter().any(|v| v.name == name && v.lead)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_come_from_the_main_when_the_backup_connected_first() {
    // The backup answers first and leads: the station's library is its own, without CLIP2. Once
    // the main is up and in step it leads, and its library (with CLIP2) becomes the station's.
    let full = SimMedia::virtual_library(20);
    let mut partial = full.clone();
    partial.entries.retain(|e| e.id != "CLIP2");
    let main = sim_with(full).await;
    main.set_refuse_connections(true);
    main.wait_listening(false).await;
    let p = common::pair::start_pair(
        main,
        sim_with(partial).await,
        vec![playlist(&["CLIP1", "CLIP2"], false)],
    );
    let snap = wait(&p.engine, |s| {
        leads(s, "backup") && s.playlists[0].playlist.items[0].frames.is_some()
    })
    .await;
    assert_eq!(snap.playlists[0].playlist.items[1].frames, None);
    p.main.set_refuse_connections(false);
    let snap = wait(&p.engine, |s| {
        leads(s, "main") && s.playlists[0].playlist.items[1].frames.is_some()
    })
    .await;
    assert!(server(&snap, "main").missing.is_empty());
    let snap = wait(&p.engine, |s| !server(s, "backup").missing.is_empty()).await;
    assert_eq!(server(&snap, "backup").missing, vec!["CLIP2".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_main_goes_away_the_backup_plays_on_and_the_main_is_brought_back() {
    let lib = SimMedia::virtual_library(20);
    let p = pair(
        sim_with(lib.clone()).await,
        sim_with(lib).await,
        vec![playlist(&["CLIP1", "CLIP2"], false)],
    )
    .await;
    take(&p, "i0").await;
    let control = p.main.control();
    let main_down = tokio::spawn(async move { control.restart(Duration::from_secs(2)).await });
    wait(&p.engine, |s| !server(s, "main").connected).await;
    // The station is still connected (through the backup) and takes still work.
    let snap = p.engine.snapshot();
    assert!(snap.link.connected);
    assert!(server(&snap, "backup").lead);
    take(&p, "i1").await;
    assert_eq!(
        common::pair::layer_of(&p.backup).map(|l| l.0).as_deref(),
        Some("CLIP2")
    );
    main_down.await.expect("restart");
    wait(&p.engine, |s| {
        let m = server(s, "main");
        m.connected && m.in_step && m.lead
    })
    .await;
    poll_until("the main shows the backup's item again", || {
        common::pair::layer_of(&p.main).map(|l| l.0).as_deref() == Some("CLIP2")
    })
    .await;
    let drift = sim_drift(&p).expect("same clip");
    assert!(
        drift.abs() <= 2,
        "drift after the main's return: {drift} frames"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_with_a_backup_drives_both_simulators_from_the_configured_pair() {
    // `onair demo --backup`: the daemon built from a [[servers]] configuration (main + backup).
    let demo = onair::demo::start(None, true).await.expect("demo starts");
    let backup = demo.backup.as_ref().expect("a backup simulator");
    wait(&demo.daemon.engine, |s| {
        s.link.servers.len() == 2 && s.link.servers.iter().all(|v| v.connected && v.in_step)
    })
    .await;
    onair::demo::seed(&demo.daemon).await.expect("seed");
    poll_until("both simulators play the first item", || {
        let m = common::pair::layer_of(&demo.sim);
        let b = common::pair::layer_of(backup);
        m.is_some() && m.map(|l| l.0) == b.map(|l| l.0)
    })
    .await;
    let s = demo.daemon.engine.snapshot();
    assert_eq!(server(&s, "main").address, demo.sim.addr().to_string());
    assert_eq!(server(&s, "backup").address, backup.addr().to_string());
    assert!(server(&s, "main").lead);
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_the_backup_lacks_is_flagged_when_it_is_added_and_cleared_when_its_last_use_goes() {
    let full = SimMedia::virtual_library(20);
    let mut partial = full.clone();
    partial.entries.retain(|e| e.id != "CLIP2");
    let p = pair(
        sim_with(full).await,
        sim_with(partial).await,
        vec![playlist(&["CLIP1", "SHORT"], false)],
    )
    .await;
    let snap = p.engine.snapshot();
    assert!(server(&snap, "backup").missing.is_empty());
    let mut added = Vec::new();
    for _ in 0..2 {
        let r = p
            .engine
            .execute(Op::ItemAdd {
                playlist: Some("pl".into()),
                item: onair::playout::engine::NewItem {
                    clip: "CLIP2".into(),
                    ..Default::default()
                },
                index: None,
            })
            .await
            .expect("add");
        added.push(r.item.expect("item id"));
    }
    // Flagged by the edit itself, not at the next rescan.
    let snap = wait(&p.engine, |s| !server(s, "backup").missing.is_empty()).await;
    assert_eq!(server(&snap, "backup").missing, vec!["CLIP2".to_owned()]);
    assert!(server(&snap, "main").missing.is_empty());
    // One use left: still missing; none left: cleared.
    for (k, item) in added.iter().enumerate() {
        p.engine
            .execute(Op::ItemRemove {
                playlist: Some("pl".into()),
                item: item.clone(),
            })
            .await
            .expect("remove");
        let snap = p.engine.snapshot();
        assert_eq!(
            server(&snap, "backup").missing.is_empty(),
            k == 1,
            "after {k}"
        );
    }
}

/// What layer `layer` of channel 1 of `sim` shows in the foreground (a template page, a still).
fn shows(sim: &onair::sim::Sim, layer: i32) -> bool {
    sim.with_state(|s| {
        s.layer(0, layer)
            .is_some_and(|l| !matches!(l.foreground, onair::sim::producer::Producer::Empty))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_that_restarts_gets_the_graphics_on_air_back() {
    use onair::playout::graphics::{Graphic, ItemGraphics, Logo, Secondary};
    let lib = SimMedia::virtual_library(20);
    let mut pl = playlist(&["CLIP1", "CLIP2"], false);
    pl.logo = Some(Logo {
        layer: 30,
        graphic: Box::new(Graphic::Still {
            clip: "LOGO".into(),
        }),
    });
    let mut first = (*pl.items[0]).clone();
    first.graphics = ItemGraphics {
        logo: true,
        events: vec![Secondary {
            id: "lt".into(),
            layer: 20,
            offset_ms: 0,
            duration_ms: None,
            graphic: Graphic::Template {
                template: "LOWER_THIRD".into(),
                cg_layer: 1,
                data: None,
            },
        }],
    };
    pl.items[0] = std::sync::Arc::new(first).into();
    let p = pair(sim_with(lib.clone()).await, sim_with(lib).await, vec![pl]).await;
    take(&p, "i0").await;
    poll_until("both sides show the logo and the lower third", || {
        [&p.main, &p.backup]
            .iter()
            .all(|s| shows(s, 20) && shows(s, 30))
    })
    .await;
    let control = p.backup.control();
    control.restart(Duration::from_millis(500)).await;
    assert!(
        !shows(&p.backup, 20) && !shows(&p.backup, 30),
        "came back empty"
    );
    wait(&p.engine, |s| {
        let b = server(s, "backup");
        b.connected && b.in_step
    })
    .await;
    poll_until(
        "the backup shows the logo and the lower third again",
        || shows(&p.backup, 20) && shows(&p.backup, 30),
    )
    .await;
    let page = p.backup.templates();
    assert!(page.iter().any(|t| t.layer == 20 && t.playing), "{page:?}");
    // The main was left alone: added and played once.
    let main_adds = p
        .main
        .take_log()
        .iter()
        .filter(|t| t.layer == 20 && t.how == TakeHow::CgAdd)
        .count();
    assert_eq!(main_adds, 1);
}
