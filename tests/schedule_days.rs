//! A rundown per day against the simulator over real TCP: at `day_start` the next day's rundown
//! takes the layer on the frame, and a missing next day is alarmed ahead.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::schedule::*;
use jiff::Timestamp;
use onair::config::PlayoutConfig;
use onair::playout::engine::Op;
use onair::playout::timing::StartMode;
use onair::schedule::Station;
use onair::sim::TakeHow;

/// A station whose channel day starts `ahead` from now (rounded up to a whole second), and that
/// instant.
fn day_starting_in(ahead: Duration) -> (PlayoutConfig, Timestamp) {
    let at = Timestamp::now() + ahead;
    let at = Timestamp::from_second(at.as_second() + 1).expect("instant");
    let z = at.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let config = PlayoutConfig {
        timezone: Some("UTC".into()),
        day_start: z.time(),
        ..PlayoutConfig::default()
    };
    (config, at)
}

fn station(config: &PlayoutConfig) -> Station {
    Station::new(jiff::tz::TimeZone::UTC, config.day_start)
}

#[tokio::test]
async fn at_the_day_start_the_next_days_rundown_takes_the_layer_on_the_frame() {
    let (config, start) = day_starting_in(Duration::from_secs(6));
    let st = station(&config);
    let today = st.air_date_of(Timestamp::now()).expect("today");
    let tomorrow = st.air_date_of(start).expect("tomorrow");
    assert_ne!(today, tomorrow);
    let mut day1 = playlist(
        "day1",
        "1-10",
        vec![
            item("d1-a", "CLIP1", StartMode::Follow, None),
            item("d1-b", "CLIP1", StartMode::Follow, None),
        ],
    );
    day1.air_date = Some(today.to_string());
    let mut day2 = playlist(
        "day2",
        "1-10",
        vec![
            item("d2-a", "CLIP2", StartMode::Follow, None),
            item("d2-b", "SHORT", StartMode::Follow, None),
        ],
    );
    day2.air_date = Some(tomorrow.to_string());
    let sim = realtime_sim().await;
    let r = rig(sim, vec![day1, day2], config, BTreeMap::new()).await;
    r.engine
        .execute(Op::Take {
            playlist: Some("day1".into()),
            item: Some("d1-a".into()),
        })
        .await
        .expect("take");
    // The next day's first item waits in the background, without AUTO, for its frame.
    wait(&r.engine, |s| {
        s.playlists.iter().any(|p| {
            p.playlist.id == "day2"
                && p.playout.cued.as_deref() == Some("d2-a")
                && !p.playout.armed_auto
        })
    })
    .await;
    let s = wait(&r.engine, |s| on_air(s, "day2") == Some("d2-a")).await;
    assert_eq!(on_air(&s, "day1"), None, "the old day is off air");
    let takes: Vec<_> = r
        .sim
        .take_log()
        .into_iter()
        .filter(|t| t.layer == 10 && t.how.is_start())
        .collect();
    let last = takes.last().expect("takes");
    assert_eq!((last.clip.as_str(), last.how), ("CLIP2", TakeHow::Promote));
    let due = r
        .sim
        .frame_clock(0)
        .frame_at(i64::try_from(start.as_nanosecond()).expect("ns"));
    let late = last.frame - due;
    assert!(
        (0..=1).contains(&late),
        "the day started {late} frames late"
    );
    // The new day goes on by itself.
    wait(&r.engine, |s| {
        s.playlists
            .iter()
            .any(|p| p.playlist.id == "day2" && p.playout.cued.as_deref() == Some("d2-b"))
    })
    .await;
    let lines = r.stop_and_read_as_run().await;
    let find = |item: &str, event: &str| {
        lines
            .iter()
            .find(|(i, e, _)| i == item && e == event)
            .unwrap_or_else(|| panic!("no {event} of {item}: {lines:#?}"))
            .2
            .clone()
    };
    assert_eq!(find("d1-a", "end")["ended_by"], "hard");
    let first = find("d2-a", "start");
    assert_eq!(first["start_mode"], "hard");
    assert!(
        !lines.iter().any(|(i, _, _)| i == "d1-b"),
        "the old day's rest never played"
    );
}

#[tokio::test]
async fn a_missing_next_day_is_alarmed_ahead_and_cleared_when_it_arrives() {
    let (config, start) = day_starting_in(Duration::from_secs(1800));
    let st = station(&config);
    let today = st.air_date_of(Timestamp::now()).expect("today");
    let tomorrow = st.air_date_of(start).expect("tomorrow");
    let mut day1 = playlist(
        "day1",
        "1-10",
        vec![item("d1-a", "CLIP1", StartMode::Follow, None)],
    );
    day1.air_date = Some(today.to_string());
    let sim = realtime_sim().await;
    let r = rig(sim, vec![day1], config, BTreeMap::new()).await;
    let s = wait(&r.engine, |s| {
        s.alarms
            .iter()
            .any(|a| a.kind == "schedule" && a.message.contains("no rundown for"))
    })
    .await;
    let alarm = s
        .alarms
        .iter()
        .find(|a| a.kind == "schedule")
        .expect("alarm");
    assert!(
        alarm.message.contains(&tomorrow.to_string()) && alarm.message.contains("1-10"),
        "{}",
        alarm.message
    );
    // The next day is prepared over the protocol: the alarm goes.
    let created = r
        .engine
        .execute(Op::PlaylistCreate {
            name: "Tomorrow".into(),
            channel_layer: Some("1-10".parse().expect("layer")),
            server: None,
        })
        .await
        .expect("create");
    r.engine
        .execute(Op::PlaylistUpdate {
            playlist: created.playlist.clone(),
            name: None,
            looping: None,
            air_date: Some(Some(tomorrow.to_string())),
            filler: None,
            end_action: None,
            logo: None,
        })
        .await
        .expect("air date");
    wait(&r.engine, |s| s.alarms.iter().all(|a| a.kind != "schedule")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_day_placed_as_a_file_in_the_data_dir_clears_the_alarm() {
    use common::daemon::{Serve, health_until};

    // The real daemon, its channel day starting half an hour from now.
    let (config, start) = day_starting_in(Duration::from_secs(1800));
    let st = station(&config);
    let today = st.air_date_of(Timestamp::now()).expect("today");
    let tomorrow = st.air_date_of(start).expect("tomorrow");
    let sim = onair::sim::Sim::start(onair::sim::SimConfig::for_tests())
        .await
        .expect("sim");
    let data = tempfile::tempdir().expect("data");
    let playlists = data.path().join("playlists");
    std::fs::create_dir_all(&playlists).expect("playlists dir");
    let write = |id: &str, date: jiff::civil::Date| {
        let mut pl = playlist(
            id,
            "1-10",
            vec![item("a", "CLIP1", StartMode::Follow, None)],
        );
        pl.air_date = Some(date.to_string());
        let bytes = onair::playout::store::encode(&pl).expect("encode");
        // As an editor or a script would: a new file renamed into place.
        let tmp = playlists.join(format!(".{id}.json.tmp"));
        std::fs::write(&tmp, bytes).expect("write");
        std::fs::rename(&tmp, playlists.join(format!("{id}.json"))).expect("rename");
    };
    write("today", today);
    let day_start = config.day_start.strftime("%H:%M:%S").to_string();
    let d = Serve::new(&sim.addr().to_string(), data.path())
        .envs(&[
            ("ONAIR_PLAYOUT_TIMEZONE", "UTC"),
            ("ONAIR_PLAYOUT_DAY_START", day_start.as_str()),
        ])
        .start();
    let missing = |doc: &serde_json::Value| {
        doc["alarms"]["list"].as_array().is_some_and(|l| {
            l.iter().any(|a| {
                a["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&format!("no rundown for {tomorrow}")))
            })
        })
    };
    health_until(&d.addr, "the missing next day alarmed", missing).await;
    write("tomorrow", tomorrow);
    let doc = health_until(&d.addr, "the alarm cleared by the file", |doc| {
        !missing(doc)
    })
    .await;
    let ids: Vec<&str> = doc["playout"]["playlists"]
        .as_array()
        .map(|l| l.iter().filter_map(|p| p["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(ids.contains(&"tomorrow"), "the file was loaded: {ids:?}");
}
