//! The schedule on an injected clock against the simulator over real TCP: a wall-clock step is
//! detected, alarmed and re-planned; and an hour of random follow, soft and hard starts across a
//! daylight-saving change, with a filler, runs sixty times faster than real time on a sped-up
//! simulator and engine clock, with no frame left uncovered and no fixed time started early.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::schedule::*;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use onair::config::PlayoutConfig;
use onair::playout::fill::FillerMode;
use onair::playout::timing::StartMode;
use onair::schedule::{Clock, FrameClock, FrameRate, ScaledClock, SystemClock};
use onair::sim::{ClockMode, Sim, SimConfig, TakeHow};

const SEC: i64 = 1_000_000_000;

#[tokio::test]
async fn a_wall_clock_step_is_alarmed_and_every_timeline_re_planned() {
    let now = SystemClock.wall();
    let clock = Arc::new(ScaledClock::new(now, now, 1));
    let sim = realtime_sim().await;
    let main = playlist(
        "main",
        "1-10",
        vec![item(
            "news",
            "CLIP2",
            StartMode::Hard,
            Some(at_in(Duration::from_secs(600))),
        )],
    );
    let r = rig_clocked(sim, vec![main], station(), BTreeMap::new(), clock.clone()).await;
    let before = wait_timeline(&r.engine, |t| {
        t.playlists
            .get("main")
            .is_some_and(|v| v.next_fixed.is_some())
    })
    .await;
    let countdown = |t: &onair::protocol::timeline::Timelines| {
        let n = t.playlists["main"].next_fixed.clone().expect("next fixed");
        n.start_ms - t.planned_ms
    };
    let ahead = countdown(&before);
    // NTP steps the clock five minutes forward.
    clock.step_wall(300 * SEC);
    let s = wait(&r.engine, |s| {
        s.alarms
            .iter()
            .any(|a| a.kind == "schedule" && a.message.contains("wall clock stepped"))
    })
    .await;
    let alarm = s
        .alarms
        .iter()
        .find(|a| a.message.contains("wall clock stepped"))
        .expect("alarm");
    assert!(alarm.message.contains("+300.0"), "{}", alarm.message);
    // Re-planned on the new time: the news is five minutes closer.
    let after = wait_timeline(&r.engine, |t| {
        t.playlists
            .get("main")
            .and_then(|v| v.next_fixed.as_ref())
            .is_some()
            && countdown(t) < ahead - 290_000
    })
    .await;
    assert!(
        countdown(&after) > ahead - 310_000,
        "{ahead} → {}",
        countdown(&after)
    );
}

/// Channel frames (25 fps) from a clip's first frame to the first frame of what follows it by
/// AUTO on the simulator: its length and the frame on which AUTO promotes.
fn run_frames(clip: &str) -> i64 {
    match clip {
        "SHORT" => 51,
        "CLIP1" | "CLIP2" => 251,
        other => panic!("unexpected clip {other}"),
    }
}

const SPEED: u32 = 60;

#[tokio::test]
async fn an_hour_across_a_daylight_saving_change_never_goes_black_or_starts_early() {
    // 01:55 CET on the night Europe/Berlin springs forward at 02:00 CET (01:00 UTC) to 03:00.
    let v0: Timestamp = "2026-03-29T00:55:00Z".parse().expect("instant");
    let v0_ns = i64::try_from(v0.as_nanosecond()).expect("ns");
    let end_ns = v0_ns + 65 * 60 * SEC;
    let tz = TimeZone::get("Europe/Berlin").expect("zone");
    let local = |ns: i64| {
        Timestamp::from_nanosecond(i128::from(ns))
            .expect("instant")
            .to_zoned_datetime(tz.clone())
            .strftime("%H:%M:%S%.3f")
            .to_string()
    };
    let lengths = [("CLIP1", 10 * SEC), ("CLIP2", 10 * SEC), ("SHORT", 2 * SEC)];
    let mut rng = fastrand::Rng::with_seed(16);
    // The first item is hard 20 s in (the schedule starts the day); then random items, with a
    // fixed time now and then near where the rundown will be, and one hard start at 02:30, a
    // time that does not exist that night (it starts at 03:00 CEST, 01:00 UTC).
    let mut items = vec![item(
        "i0",
        "CLIP1",
        StartMode::Hard,
        Some(local(v0_ns + 20 * SEC)),
    )];
    let mut t = v0_ns + 30 * SEC;
    let mut last_fixed = v0_ns + 20 * SEC;
    let mut gap_item = false;
    let mut hard = vec!["i0".to_owned()];
    let mut n = 1;
    while t < end_ns - 2 * 60 * SEC {
        let (clip, len) = lengths[rng.usize(..lengths.len())];
        let id = format!("i{n}");
        n += 1;
        let dst = "2026-03-29T01:00:00Z".parse::<Timestamp>().expect("dst");
        let dst_ns = i64::try_from(dst.as_nanosecond()).expect("ns");
        let roll = rng.u8(..10);
        let it = if !gap_item && t > dst_ns - 40 * SEC {
            gap_item = true;
            last_fixed = dst_ns;
            t = dst_ns;
            hard.push(id.clone());
            item(&id, clip, StartMode::Hard, Some("02:30:00".into()))
        } else if roll == 0 {
            // Hard, up to 15 s before or after where the rundown will be: it cuts or leaves a gap.
            let at = (t + rng.i64(-15..=15) * SEC).max(last_fixed + 5 * SEC);
            last_fixed = at;
            t = at;
            hard.push(id.clone());
            item(&id, clip, StartMode::Hard, Some(local(at)))
        } else if roll == 1 {
            // Soft, up to 20 s after: a gap the filler fills.
            let at = (t + rng.i64(0..=20) * SEC).max(last_fixed + 5 * SEC);
            last_fixed = at;
            t = t.max(at);
            item(&id, clip, StartMode::Soft, Some(local(at)))
        } else {
            item(&id, clip, StartMode::Follow, None)
        };
        items.push(it);
        t += len;
    }
    let last_id = format!("i{}", n - 1);
    let main = playlist("main", "1-10", items);
    let mut fill = playlist(
        "fill",
        "1-10",
        vec![
            item("f1", "SHORT", StartMode::Follow, None),
            item("f2", "CLIP1", StartMode::Follow, None),
        ],
    );
    fill.filler = Some(FillerMode::InOrder);

    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Speed(f64::from(SPEED));
    let sim = Sim::start(cfg).await.expect("sim");
    let anchor = sim.frame_clock(0).anchor_unix_ns;
    // The engine's virtual clock runs on the simulator's frame grid: frame k of the simulator is
    // frame k of the engine's clock after v0 (a whole number of frames).
    let clock = Arc::new(ScaledClock::new(anchor, v0_ns, SPEED));
    let config = PlayoutConfig {
        timezone: Some("Europe/Berlin".into()),
        ..PlayoutConfig::default()
    };
    let r = rig_clocked(sim, vec![fill, main], config, BTreeMap::new(), clock).await;
    // The rundown runs to its last item, then the filler takes over.
    wait_long(&r, |s| on_air(s, "main") == Some(last_id.as_str())).await;
    wait_long(&r, |s| {
        on_air(s, "fill").is_some() && on_air(s, "main").is_none()
    })
    .await;
    let takes: Vec<_> = r
        .sim
        .take_log()
        .into_iter()
        .filter(|t| t.layer == 10 && t.how != TakeHow::Load)
        .collect();
    let lines = r.stop_and_read_as_run().await;
    let starts: Vec<_> = lines.iter().filter(|(_, e, _)| e == "start").collect();
    assert!(takes.len() >= 300, "{} takes", takes.len());
    if takes.len() != starts.len() {
        let k = takes
            .iter()
            .zip(&starts)
            .position(|(t, (_, _, l))| l["clip"] != t.clip.as_str())
            .unwrap_or(takes.len().min(starts.len()));
        let lo = k.saturating_sub(4);
        let show: Vec<String> = (lo..k + 8)
            .map(|i| {
                format!(
                    "{:?} | {:?}",
                    takes.get(i).map(|t| (t.clip.clone(), t.frame, t.how)),
                    starts.get(i).map(|(id, _, l)| (
                        id.clone(),
                        l["clip"].clone(),
                        l["planned_start"].clone(),
                        l["start_mode"].clone()
                    )),
                )
            })
            .collect();
        panic!(
            "{} takes, {} as-run starts; first difference at {k}: {show:#?}",
            takes.len(),
            starts.len()
        );
    }

    let frames = FrameClock::new(0, FrameRate::FPS_25);
    let v0_frame = frames.frame_at(v0_ns);
    let mut late = Vec::new();
    let mut filler_plays = 0;
    for (k, (take, (id, _, line))) in takes.iter().zip(&starts).enumerate() {
        assert_eq!(line["clip"], take.clip.as_str(), "take {k} is {id}");
        if line["filler"] == true {
            filler_plays += 1;
        }
        // No frame uncovered: the next take comes no later than this clip's end.
        if let Some(next) = takes.get(k + 1) {
            assert!(
                next.frame - take.frame <= run_frames(&take.clip),
                "a gap after {id} ({}): {} frames to the next take",
                take.clip,
                next.frame - take.frame
            );
        }
        if let Some(planned) = line["planned_start"].as_str() {
            let planned: Timestamp = planned.parse().expect("planned");
            let due =
                frames.frame_at(i64::try_from(planned.as_nanosecond()).expect("ns")) - v0_frame;
            assert!(
                take.frame >= due,
                "{id} started {} frames early",
                due - take.frame
            );
            late.push(take.frame - due);
        }
    }
    for id in &hard {
        assert!(
            starts.iter().any(|(i, _, _)| i == id),
            "hard item {id} never started"
        );
    }
    let dst_start = starts
        .iter()
        .find(|(_, _, l)| l["planned_start"] == "2026-03-29T01:00:00.000Z")
        .expect("the 02:30 item started at 03:00 CEST");
    assert_eq!(dst_start.2["start_mode"], "hard");
    assert!(filler_plays > 0, "the gaps were filled");
    late.sort_unstable();
    eprintln!(
        "{} takes ({filler_plays} filler), {} fixed starts; frames late at {SPEED}x: p50 {} max {}",
        takes.len(),
        late.len(),
        late[late.len() / 2],
        late[late.len() - 1]
    );
}

/// [`wait`] for the long run (the hour takes a minute of real time).
async fn wait_long(r: &Rig, pred: impl Fn(&onair::playout::engine::Snapshot) -> bool) {
    let mut rx = r.engine.watch_snapshot();
    tokio::time::timeout(Duration::from_secs(180), async {
        loop {
            if pred(&rx.borrow_and_update()) {
                return;
            }
            rx.changed().await.expect("engine alive");
        }
    })
    .await
    .expect("the run reached its end");
}
