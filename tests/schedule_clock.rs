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

/// One day's random rundown from `from` to about `until` (ns): mostly follow items, now and then
/// a hard start up to 15 s before or after where the rundown will be (it cuts, or leaves a gap)
/// or a soft start up to 20 s after (a gap); `extra` is a hard start placed by hand (its instant
/// and its `at` text). Returns the items and the ids of the hard ones.
struct Day<'a> {
    prefix: &'a str,
    from: i64,
    until: i64,
    first: StartMode,
    extra: Option<(i64, &'a str)>,
}

fn rundown(
    day: Day<'_>,
    rng: &mut fastrand::Rng,
    local: &dyn Fn(i64) -> String,
) -> (Vec<Arc<onair::playout::model::Item>>, Vec<String>) {
    let lengths = [("CLIP1", 10 * SEC), ("CLIP2", 10 * SEC), ("SHORT", 2 * SEC)];
    let first = format!("{}0", day.prefix);
    let mut hard = Vec::new();
    let mut items = vec![match day.first {
        StartMode::Hard => {
            hard.push(first.clone());
            item(&first, "CLIP1", StartMode::Hard, Some(local(day.from)))
        }
        _ => item(&first, "CLIP1", StartMode::Follow, None),
    }];
    let (mut t, mut last_fixed) = (day.from + 10 * SEC, day.from);
    let mut extra = day.extra;
    let mut n = 1;
    while t < day.until {
        let (clip, len) = lengths[rng.usize(..lengths.len())];
        let id = format!("{}{n}", day.prefix);
        n += 1;
        let roll = rng.u8(..10);
        let it = match extra {
            Some((at, text)) if t > at - 40 * SEC => {
                extra = None;
                (last_fixed, t) = (at, at);
                hard.push(id.clone());
                item(&id, clip, StartMode::Hard, Some(text.to_owned()))
            }
            _ if roll == 0 => {
                let at = (t + rng.i64(-15..=15) * SEC).max(last_fixed + 5 * SEC);
                (last_fixed, t) = (at, at);
                hard.push(id.clone());
                item(&id, clip, StartMode::Hard, Some(local(at)))
            }
            _ if roll == 1 => {
                let at = (t + rng.i64(0..=20) * SEC).max(last_fixed + 5 * SEC);
                last_fixed = at;
                t = t.max(at);
                item(&id, clip, StartMode::Soft, Some(local(at)))
            }
            _ => item(&id, clip, StartMode::Follow, None),
        };
        items.push(it);
        t += len;
    }
    (items, hard)
}

fn ns(text: &str) -> i64 {
    let t: Timestamp = text.parse().expect("instant");
    i64::try_from(t.as_nanosecond()).expect("ns")
}

#[tokio::test]
async fn an_hour_across_a_daylight_saving_change_and_a_day_start_never_goes_black_or_starts_early()
{
    // 01:55 CET on the night Europe/Berlin springs forward at 02:00 CET (01:00 UTC) to 03:00
    // CEST; the channel day starts at 03:30 (01:30 UTC), when the next day's rundown takes over.
    let v0_ns = ns("2026-03-29T00:55:00Z");
    let dst_ns = ns("2026-03-29T01:00:00Z");
    let day_start_ns = ns("2026-03-29T01:30:00Z");
    let end_ns = v0_ns + 65 * 60 * SEC;
    let tz = TimeZone::get("Europe/Berlin").expect("zone");
    let local = move |ns: i64| {
        Timestamp::from_nanosecond(i128::from(ns))
            .expect("instant")
            .to_zoned_datetime(tz.clone())
            .strftime("%H:%M:%S%.3f")
            .to_string()
    };
    let mut rng = fastrand::Rng::with_seed(16);
    // Day one starts itself with a hard start 20 s in, holds a hard start at 02:30, a time that
    // does not exist that night (it starts at 03:00 CEST), and runs past its end: the day start
    // cuts it. Its fixed times stay before the day start (later ones would be on its own date).
    let (d1, mut hard) = rundown(
        Day {
            prefix: "a",
            from: v0_ns + 20 * SEC,
            until: day_start_ns - 60 * SEC,
            first: StartMode::Hard,
            extra: Some((dst_ns, "02:30:00")),
        },
        &mut rng,
        &local,
    );
    let mut d1 = d1;
    // Follow items past the day start, which never play.
    for k in 0..20 {
        d1.push(item(&format!("late{k}"), "CLIP2", StartMode::Follow, None));
    }
    let (d2, hard2) = rundown(
        Day {
            prefix: "b",
            from: day_start_ns,
            until: end_ns - 2 * 60 * SEC,
            first: StartMode::Follow,
            extra: None,
        },
        &mut rng,
        &local,
    );
    hard.extend(hard2);
    let last_id = d2.last().map(|i| i.id.clone()).expect("items");
    let mut day1 = playlist("day1", "1-10", d1);
    day1.air_date = Some("2026-03-28".into());
    let mut day2 = playlist("day2", "1-10", d2);
    day2.air_date = Some("2026-03-29".into());
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
        day_start: jiff::civil::Time::constant(3, 30, 0, 0),
        ..PlayoutConfig::default()
    };
    let r = rig_clocked(sim, vec![fill, day1, day2], config, BTreeMap::new(), clock).await;
    // Day two runs to its last item, then the filler takes over.
    wait_long(&r, |s| on_air(s, "day2") == Some(last_id.as_str())).await;
    wait_long(&r, |s| {
        on_air(s, "fill").is_some() && on_air(s, "day2").is_none()
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
    // The day change: day two's first item at 03:30 CEST, hard; nothing of day one after it.
    let b0 = starts
        .iter()
        .position(|(i, _, _)| i == "b0")
        .expect("day two started");
    assert_eq!(starts[b0].2["planned_start"], "2026-03-29T01:30:00.000Z");
    assert_eq!(starts[b0].2["start_mode"], "hard");
    assert!(
        starts[b0..].iter().all(|(_, _, l)| l["playlist"] != "day1"),
        "day one played after the day start"
    );
    // Day one ran past its day: the item on air then was cut on the frame.
    let cut = &starts[b0 - 1].0;
    assert!(cut.starts_with("late"), "{cut} was on air at the day start");
    let cut_end = lines
        .iter()
        .find(|(i, e, _)| i == cut && e == "end")
        .expect("its end");
    assert_eq!(cut_end.2["ended_by"], "hard");
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
