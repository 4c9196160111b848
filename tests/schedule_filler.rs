//! Fillers against the simulator over real TCP: the layer's filler playlist fills a gap before a
//! fixed time and the time after the rundown's end, clip after clip on the frame (by AUTO), and
//! the fixed time cuts it on its frame; without a filler the operator is warned.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::schedule::*;
use onair::playout::engine::Op;
use onair::playout::fill::{EndAction, FillerMode};
use onair::playout::model::Playlist;
use onair::playout::timing::StartMode;
use onair::sim::{TakeHow, TakeRecord};

/// The simulator's foreground changes on layer 1-10 (loads into the background left out).
fn layer_takes(r: &Rig) -> Vec<TakeRecord> {
    r.sim
        .take_log()
        .into_iter()
        .filter(|t| t.channel == 0 && t.layer == 10 && t.how.is_start())
        .collect()
}

/// Frames from a SHORT's first frame to the first frame of what follows it by AUTO on the
/// simulator's 1080i50 channel: its 2 s (50 frames) and the frame on which AUTO promotes.
const SHORT_RUN: i64 = 51;

fn filler(items: &[(&str, &str)]) -> Playlist {
    let mut f = playlist(
        "fill",
        "1-10",
        items
            .iter()
            .map(|(id, clip)| item(id, clip, StartMode::Follow, None))
            .collect(),
    );
    f.filler = Some(FillerMode::InOrder);
    f
}

#[tokio::test]
async fn a_rundown_ten_seconds_short_of_its_hard_start_plays_ten_seconds_of_filler() {
    // "open" (SHORT) plays 2 s; the news is hard 12 s after the take: a 10 s gap, filled by
    // SHORT (2 s) and then CLIP1 (10 s), which the news cuts after 8 s.
    let sim = realtime_sim().await;
    let fill = filler(&[("f-short", "SHORT"), ("f-long", "CLIP1")]);
    let main = playlist(
        "main",
        "1-10",
        vec![item("open", "SHORT", StartMode::Follow, None)],
    );
    let r = rig(sim, vec![fill, main], station(), BTreeMap::new()).await;
    let at = at_in(Duration::from_millis(12_000));
    r.engine
        .execute(Op::ItemAdd {
            playlist: Some("main".into()),
            item: onair::playout::engine::NewItem {
                clip: "CLIP2".into(),
                start: Some(StartMode::Hard),
                at: Some(at.clone()),
                ..Default::default()
            },
            index: None,
        })
        .await
        .expect("add the news");
    r.engine
        .execute(Op::Take {
            playlist: Some("main".into()),
            item: Some("open".into()),
        })
        .await
        .expect("take");
    // The filler waits behind the last item before the gap, armed to follow it.
    wait(&r.engine, |s| {
        s.playlists
            .iter()
            .any(|p| p.playlist.id == "fill" && p.playout.cued.as_deref() == Some("f-short"))
    })
    .await;
    let s = wait(&r.engine, |s| {
        on_air(s, "main").is_some_and(|i| i != "open")
    })
    .await;
    assert!(
        s.alarms.iter().all(|a| a.kind != "schedule"),
        "a filled gap raises no alarm: {:?}",
        s.alarms
    );
    let news = on_air(&s, "main").expect("on air").to_owned();
    assert_eq!(on_air(&s, "fill"), None, "the news took the layer");
    let takes = layer_takes(&r);
    let clips: Vec<(&str, TakeHow)> = takes.iter().map(|t| (t.clip.as_str(), t.how)).collect();
    assert_eq!(
        clips,
        [
            ("SHORT", TakeHow::Play),
            ("SHORT", TakeHow::Auto),
            ("CLIP1", TakeHow::Auto),
            ("CLIP2", TakeHow::Promote),
        ],
        "{takes:#?}"
    );
    // No frame without a clip: each filler clip starts by AUTO on the frame after the one before
    // it showed its last (SHORT is 2 s: 50 frames of the 1080i50 channel).
    assert_eq!(takes[1].frame - takes[0].frame, SHORT_RUN, "{takes:#?}");
    assert_eq!(takes[2].frame - takes[1].frame, SHORT_RUN, "{takes:#?}");
    // The news on the frame containing its time: never early, at most one frame late.
    let clock = r.sim.frame_clock(0);
    let due_ns = i64::try_from(instant_of(&at).as_nanosecond()).expect("ns");
    let due = clock.frame_at(due_ns);
    let late = takes[3].frame - due;
    assert!(
        (0..=1).contains(&late),
        "the news started {late} frames late"
    );
    // The gap was filled: 10 s at 25 frames a second, less the take's latency and the frame
    // SHORT's AUTO adds.
    let filled = takes[3].frame - takes[1].frame;
    assert!((246..=250).contains(&filled), "{filled} frames of filler");

    let lines = r.stop_and_read_as_run().await;
    let line = |item: &str, event: &str| {
        lines
            .iter()
            .find(|(i, e, _)| i == item && e == event)
            .unwrap_or_else(|| panic!("no {event} of {item}: {lines:#?}"))
            .2
            .clone()
    };
    assert_eq!(line("open", "end")["ended_by"], "auto");
    assert_eq!(line("f-short", "start")["filler"], true);
    assert_eq!(line("f-short", "end")["ended_by"], "auto");
    assert_eq!(line("f-long", "start")["filler"], true);
    assert_eq!(line("f-long", "end")["ended_by"], "hard");
    let start = line(&news, "start");
    assert_eq!(start["start_mode"], "hard");
    assert!(start.get("filler").is_none(), "{start}");
}

#[tokio::test]
async fn after_the_rundown_the_filler_loops_on_the_frame() {
    let sim = realtime_sim().await;
    let fill = filler(&[("f1", "SHORT"), ("f2", "SHORT")]);
    let main = playlist(
        "main",
        "1-10",
        vec![item("open", "SHORT", StartMode::Follow, None)],
    );
    let r = rig(sim, vec![fill, main], station(), BTreeMap::new()).await;
    r.engine
        .execute(Op::Take {
            playlist: Some("main".into()),
            item: Some("open".into()),
        })
        .await
        .expect("take");
    // f1, f2, then f1 again.
    wait(&r.engine, |s| on_air(s, "fill") == Some("f2")).await;
    let s = wait(&r.engine, |s| on_air(s, "fill") == Some("f1")).await;
    assert_eq!(on_air(&s, "main"), None, "the rundown is off air");
    let takes = layer_takes(&r);
    let frames: Vec<i64> = takes.iter().map(|t| t.frame - takes[0].frame).collect();
    assert_eq!(
        &frames[..4],
        [0, SHORT_RUN, 2 * SHORT_RUN, 3 * SHORT_RUN],
        "{takes:#?}"
    );
    assert!(takes[1..4].iter().all(|t| t.how == TakeHow::Auto));
    assert!(
        s.alarms.iter().all(|a| a.kind != "schedule"),
        "{:?}",
        s.alarms
    );
}

#[tokio::test]
async fn without_a_filler_the_end_of_the_rundown_is_alarmed_unless_the_operator_chose_hold() {
    let sim = realtime_sim().await;
    let main = playlist(
        "main",
        "1-10",
        vec![item("open", "SHORT", StartMode::Follow, None)],
    );
    let r = rig(sim, vec![main], station(), BTreeMap::new()).await;
    r.engine
        .execute(Op::Take {
            playlist: Some("main".into()),
            item: Some("open".into()),
        })
        .await
        .expect("take");
    let s = wait(&r.engine, |s| s.alarms.iter().any(|a| a.kind == "schedule")).await;
    let alarm = s
        .alarms
        .iter()
        .find(|a| a.kind == "schedule")
        .expect("alarm");
    assert!(alarm.message.contains("has no filler"), "{}", alarm.message);
    // Holding the last frame is a choice: the alarm goes.
    r.engine
        .execute(Op::PlaylistUpdate {
            playlist: Some("main".into()),
            name: None,
            looping: None,
            air_date: None,
            filler: None,
            end_action: Some(EndAction::Hold),
            logo: None,
        })
        .await
        .expect("end action");
    wait(&r.engine, |s| s.alarms.iter().all(|a| a.kind != "schedule")).await;
}

#[tokio::test]
async fn end_action_black_empties_the_layer_on_the_frame_the_rundown_ends() {
    let sim = realtime_sim().await;
    let mut main = playlist(
        "main",
        "1-10",
        vec![item("open", "SHORT", StartMode::Follow, None)],
    );
    main.end_action = EndAction::Black;
    let r = rig(sim, vec![main], station(), BTreeMap::new()).await;
    r.engine
        .execute(Op::Take {
            playlist: Some("main".into()),
            item: Some("open".into()),
        })
        .await
        .expect("take");
    let s = wait(&r.engine, |s| {
        s.playlists[0].playout.on_air.is_none()
            && s.playlists[0].playout.status == onair::playout::engine::Status::Stopped
    })
    .await;
    assert!(
        s.alarms.iter().all(|a| a.kind != "schedule"),
        "{:?}",
        s.alarms
    );
    poll_until("the layer emptied", || layer_takes(&r).len() >= 2).await;
    let takes = layer_takes(&r);
    assert_eq!(takes.len(), 2, "{takes:#?} {:?}", layer_commands(&r.sim));
    assert_eq!(
        (takes[1].clip.as_str(), takes[1].how),
        ("EMPTY", TakeHow::Auto)
    );
    assert_eq!(takes[1].frame - takes[0].frame, SHORT_RUN, "{takes:#?}");
    let lines = r.stop_and_read_as_run().await;
    let end = lines
        .iter()
        .find(|(i, e, _)| i == "open" && e == "end")
        .expect("the end");
    assert_eq!(end.2["ended_by"], "auto");
}

#[tokio::test]
async fn a_restart_in_the_gap_adopts_the_filler_and_the_hard_start_still_fires_on_its_frame() {
    let sim = realtime_sim().await;
    let at = at_in(Duration::from_millis(9_000));
    let fill = filler(&[("f-long", "CLIP1")]);
    let main = playlist(
        "main",
        "1-10",
        vec![
            item("open", "SHORT", StartMode::Follow, None),
            item("news", "CLIP2", StartMode::Hard, Some(at.clone())),
        ],
    );
    let playlists = vec![fill, main];
    let r = rig(sim, playlists.clone(), station(), BTreeMap::new()).await;
    r.engine
        .execute(Op::Take {
            playlist: Some("main".into()),
            item: Some("open".into()),
        })
        .await
        .expect("take");
    let s = wait(&r.engine, |s| {
        s.playlists
            .iter()
            .any(|p| p.playlist.id == "fill" && p.playout.armed_auto)
    })
    .await;
    let restored: BTreeMap<_, _> = s
        .playlists
        .iter()
        .map(|p| (p.playlist.id.clone(), p.playout.clone()))
        .collect();
    // The daemon goes away; CasparCG plays on, and the filler follows "open" by itself.
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
    poll_until("the filler on air", || {
        sim.take_log()
            .iter()
            .any(|t| t.layer == 10 && t.clip == "CLIP1" && t.how == TakeHow::Auto)
    })
    .await;
    let r = rig(sim, playlists, station(), restored).await;
    let s = wait(&r.engine, |s| on_air(s, "fill") == Some("f-long")).await;
    let main = s
        .playlists
        .iter()
        .find(|p| p.playlist.id == "main")
        .expect("main");
    assert_eq!(main.playout.on_air, None);
    assert_eq!(main.playout.left_after.as_deref(), Some("open"));
    assert!(
        s.alarms.iter().all(|a| a.kind != "reconcile"),
        "the filler on air is what should be: {:?}",
        s.alarms
    );
    wait(&r.engine, |s| on_air(s, "main") == Some("news")).await;
    let takes = layer_takes(&r);
    let news = takes.last().expect("takes");
    assert_eq!((news.clip.as_str(), news.how), ("CLIP2", TakeHow::Promote));
    let due_ns = i64::try_from(instant_of(&at).as_nanosecond()).expect("ns");
    let late = news.frame - r.sim.frame_clock(0).frame_at(due_ns);
    assert!(
        (0..=1).contains(&late),
        "the news started {late} frames late"
    );
}

#[tokio::test]
async fn after_a_restart_the_filler_goes_on_where_it_stopped() {
    // Saved before the restart: the filler's next play is its second clip.
    let sim = realtime_sim().await;
    let fill = filler(&[("f1", "SHORT"), ("f2", "CLIP1")]);
    let main = playlist(
        "main",
        "1-10",
        vec![item("open", "SHORT", StartMode::Follow, None)],
    );
    let saved = BTreeMap::from([("fill".to_owned(), 1)]);
    let r = rig_filler_restored(sim, vec![fill, main], saved).await;
    r.engine
        .execute(Op::Take {
            playlist: Some("main".into()),
            item: Some("open".into()),
        })
        .await
        .expect("take");
    wait(&r.engine, |s| on_air(s, "fill") == Some("f2")).await;
    let takes = layer_takes(&r);
    assert_eq!(
        takes.iter().map(|t| t.clip.as_str()).collect::<Vec<_>>(),
        ["SHORT", "CLIP1"],
        "f1 was not played first"
    );
}
