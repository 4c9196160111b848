//! The 24/7 schedule against the simulator over real TCP: a hard start cuts the item on air at its
//! time, a soft start never cuts and fills nothing early, and the engine publishes the timeline.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::schedule::*;
use jiff::Timestamp;
use onair::playout::engine::{self, Op, Snapshot};
use onair::playout::fill::EndAction;
use onair::playout::model::Item;
use onair::playout::timing::StartMode;
use onair::protocol::timeline::TimelineState;
use onair::sim::Sim;

async fn main_rig(items: Vec<Arc<Item>>) -> Rig {
    main_rig_on(realtime_sim().await, items, BTreeMap::new()).await
}

/// An engine on `sim` with one playlist "main" on 1-10, whose playout was `restored` from a
/// previous run (as after a restart).
async fn main_rig_on(
    sim: Sim,
    items: Vec<Arc<Item>>,
    restored: BTreeMap<String, engine::Playout>,
) -> Rig {
    let mut pl = playlist("main", "1-10", items);
    // No filler here: the last frame stays after the rundown, by choice (no end-of-rundown alarm).
    pl.end_action = EndAction::Hold;
    rig(sim, vec![pl], station(), restored).await
}

fn main_on_air(s: &Snapshot) -> Option<&str> {
    on_air(s, "main")
}

#[tokio::test]
async fn a_hard_start_cuts_the_item_on_air_at_its_time_from_the_background() {
    let at = at_in(Duration::from_millis(2_500));
    let r = main_rig(vec![
        item("open", "CLIP1", StartMode::Follow, None),
        item("skipped", "SHORT", StartMode::Follow, None),
        item("news", "CLIP2", StartMode::Hard, Some(at.clone())),
        item("after", "SHORT", StartMode::Follow, None),
    ])
    .await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: Some("open".into()),
        })
        .await
        .expect("take");
    // The plan: "open" is cut by the news, "skipped" never plays.
    let t = wait_timeline(&r.engine, |t| {
        t.playlists
            .get("main")
            .and_then(|v| v.next_fixed.as_ref())
            .is_some_and(|n| n.item == "news")
            && t.playlists["main"].entries.first().is_some_and(|e| e.cut)
    })
    .await;
    let view = &t.playlists["main"];
    assert_eq!(view.entries[1].state, TimelineState::Skipped);
    assert!(view.next_fixed.as_ref().is_some_and(|n| n.hard));
    let lost = view.entries[0]
        .lost_ms
        .expect("the cut says how much is lost");
    assert!((7_000..=8_000).contains(&lost), "lost {lost} ms of 10 s");
    // Loaded without AUTO before its time, so nothing can start it early.
    wait(&r.engine, |s| {
        s.playlists[0].playout.cued.as_deref() == Some("news") && !s.playlists[0].playout.armed_auto
    })
    .await;
    assert_eq!(main_on_air(&r.engine.snapshot()), Some("open"));
    let s = wait(&r.engine, |s| main_on_air(s) == Some("news")).await;
    let started = s.playlists[0]
        .playout
        .on_air_since_ms
        .expect("a start time");
    let due: Timestamp = format!("{}T{at}Z", Timestamp::now().strftime("%Y-%m-%d"))
        .parse()
        .expect("instant");
    let due_ms = due.as_millisecond();
    let late = i64::try_from(started).expect("ms") - due_ms;
    assert!(
        (-40..=100).contains(&late),
        "started {late} ms after its time (the take leaves half a frame early)"
    );
    let cmds = layer_commands(&r.sim);
    let load = cmds
        .iter()
        .position(|c| c.starts_with("LOADBG CLIP2"))
        .expect("the news was loaded in the background");
    assert!(!cmds[load].contains("AUTO"), "{}", cmds[load]);
    assert!(
        cmds[load..].iter().any(|c| c == "PLAY"),
        "promoted with a bare PLAY: {cmds:?}"
    );
    assert!(
        !cmds
            .iter()
            .any(|c| c.contains("SHORT") && c.starts_with("PLAY")),
        "the skipped item never played directly: {cmds:?}"
    );
    // After the news, autoplay goes on from it.
    wait(&r.engine, |s| {
        s.playlists[0].playout.cued.as_deref() == Some("after") && s.playlists[0].playout.armed_auto
    })
    .await;
    let lines = r.stop_and_read_as_run().await;
    let end = lines
        .iter()
        .find(|(item, event, _)| item == "open" && event == "end")
        .expect("the cut item's end");
    assert_eq!(end.2["ended_by"], "hard");
    let start = lines
        .iter()
        .find(|(item, event, _)| item == "news" && event == "start")
        .expect("the news' start");
    assert_eq!(start.2["start_mode"], "hard");
    assert_eq!(
        start.2["planned_start"],
        format!("{}T{at}Z", Timestamp::now().strftime("%Y-%m-%d"))
    );
    let late = start.2["late_frames"].as_i64().expect("late_frames");
    assert!((0..=1).contains(&late), "late by {late} frames");
    assert!(
        !lines.iter().any(|(item, _, _)| item == "skipped"),
        "the skipped item never started"
    );
}

#[tokio::test]
async fn a_soft_start_waits_for_the_item_before_it_and_never_cuts() {
    // CLIP1 plays 10 s; the soft item's time comes after 1.5 s, so it follows by AUTO.
    let r = main_rig(vec![
        item("open", "CLIP1", StartMode::Follow, None),
        item(
            "soft",
            "CLIP2",
            StartMode::Soft,
            Some(at_in(Duration::from_millis(1_500))),
        ),
    ])
    .await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: Some("open".into()),
        })
        .await
        .expect("take");
    wait(&r.engine, |s| {
        s.playlists[0].playout.cued.as_deref() == Some("soft") && s.playlists[0].playout.armed_auto
    })
    .await;
    // Well past its time it has not cut: the timeline says it waits (over-run).
    let t = wait_timeline(&r.engine, |t| {
        t.playlists.get("main").is_some_and(|v| {
            v.entries
                .get(1)
                .and_then(|e| e.fixed.as_ref())
                .and_then(|f| f.slack_ms)
                .is_some_and(|s| s < 0)
        })
    })
    .await;
    assert!(t.station.as_ref().is_some_and(|s| s.timezone == "UTC"));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        main_on_air(&r.engine.snapshot()),
        Some("open"),
        "a soft start never cuts"
    );
    assert!(
        !layer_commands(&r.sim).iter().any(|c| c == "PLAY"),
        "no bare PLAY was sent for the soft item"
    );
}

#[tokio::test]
async fn a_soft_start_after_a_short_item_waits_for_its_time() {
    // SHORT plays 2 s; the soft item is due after 4 s: it must not follow at once.
    let at = at_in(Duration::from_millis(4_000));
    let r = main_rig(vec![
        item("open", "SHORT", StartMode::Follow, None),
        item("soft", "CLIP2", StartMode::Soft, Some(at)),
    ])
    .await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: Some("open".into()),
        })
        .await
        .expect("take");
    let taken = Timestamp::now().as_millisecond();
    wait(&r.engine, |s| {
        s.playlists[0].playout.cued.as_deref() == Some("soft") && !s.playlists[0].playout.armed_auto
    })
    .await;
    // Nothing fills the gap: the operator is warned before it starts, with its length.
    let s = wait(&r.engine, |s| {
        s.alarms
            .iter()
            .any(|a| a.kind == "schedule" && a.message.contains("a gap of"))
    })
    .await;
    let alarm = s
        .alarms
        .iter()
        .find(|a| a.kind == "schedule")
        .expect("alarm");
    assert!(
        alarm.message.contains("with no filler"),
        "{}",
        alarm.message
    );
    let s = wait(&r.engine, |s| main_on_air(s) == Some("soft")).await;
    let started =
        i64::try_from(s.playlists[0].playout.on_air_since_ms.expect("start")).expect("ms");
    // The gap is over: the alarm clears by itself.
    wait(&r.engine, |s| s.alarms.iter().all(|a| a.kind != "schedule")).await;
    assert!(
        started - taken >= 3_900,
        "the soft item started {} ms after the take, before its time",
        started - taken
    );
}

#[tokio::test]
async fn a_hard_start_that_passed_while_the_daemon_was_down_is_taken_at_once_and_logged_late() {
    let at = at_in(Duration::from_millis(1_500));
    let items = vec![
        item("open", "CLIP1", StartMode::Follow, None),
        item("news", "CLIP2", StartMode::Hard, Some(at)),
    ];
    let r = main_rig(items.clone()).await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: Some("open".into()),
        })
        .await
        .expect("take");
    let s = wait(&r.engine, |s| main_on_air(s) == Some("open")).await;
    let restored: BTreeMap<_, _> = s
        .playlists
        .iter()
        .map(|p| (p.playlist.id.clone(), p.playout.clone()))
        .collect();
    // The daemon dies (its engine stops; CasparCG plays on) and is down past the news' time.
    let Rig {
        sim,
        shutdown,
        task,
        ..
    } = r;
    shutdown.cancel();
    if let Some(task) = task {
        task.await.expect("engine task");
    }
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let r = main_rig_on(sim, items, restored).await;
    let s = wait(&r.engine, |s| main_on_air(s) == Some("news")).await;
    assert!(
        s.alarms.iter().all(|a| a.kind != "schedule"),
        "{:?}",
        s.alarms
    );
    let lines = r.stop_and_read_as_run().await;
    let start = lines
        .iter()
        .find(|(item, event, _)| item == "news" && event == "start")
        .expect("the news' start");
    let late = start.2["late_frames"].as_i64().expect("late_frames");
    // About a second late at 50 fps, and said so.
    assert!(late > 25, "late by {late} frames");
}

#[tokio::test]
async fn the_timeline_plans_a_chain_of_follows_on_the_frames_the_server_plays_them() {
    // Four 2-second clips back to back: CasparCG starts each a tick after the one before ends
    // (a 50-frame clip holds 51 ticks before a cut AUTO), which the plan must count, or every
    // start after the first is planned a frame earlier per item before it.
    let r = main_rig(
        ["a", "b", "c", "d"]
            .into_iter()
            .map(|id| item(id, "SHORT", StartMode::Follow, None))
            .collect(),
    )
    .await;
    r.engine
        .execute(Op::Take {
            playlist: None,
            item: Some("a".into()),
        })
        .await
        .expect("take");
    let t = wait_timeline(&r.engine, |t| {
        t.playlists
            .get("main")
            .is_some_and(|v| v.entries.len() == 4 && v.entries.iter().all(|e| e.start_ms.is_some()))
    })
    .await;
    let planned: Vec<i64> = t.playlists["main"]
        .entries
        .iter()
        .map(|e| e.start_ms.expect("planned"))
        .collect();
    wait(&r.engine, |s| main_on_air(s) == Some("d")).await;
    let starts: Vec<i64> = r
        .sim
        .take_log()
        .iter()
        .filter(|t| t.channel == 0 && t.layer == 10 && t.how.is_start())
        .map(|t| t.frame)
        .collect();
    assert_eq!(starts.len(), 4, "{starts:?}");
    for k in 1..4 {
        let played = starts[k] - starts[0];
        assert_eq!(played, 51 * i64::try_from(k).expect("k"), "{starts:?}");
        // 25 fps: 40 ms a frame.
        assert_eq!(
            planned[k] - planned[0],
            40 * played,
            "item {k} planned {planned:?} against the server's frames {starts:?}"
        );
    }
}
