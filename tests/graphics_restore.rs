//! Graphics after restarts, through the real `onair serve` process over real TCP and WebSocket
//! (docs/graphics.md, "Restarts"): a daemon SIGKILLed in the middle of a lower third's window comes
//! back knowing the lower third is on air within a second (adopted as it is: never added or played
//! again) and takes it off on its planned frame; after a CasparCG restart the on-air item's lower
//! third and the logo are put back, and the lower third still goes off on its planned frame. An
//! operator fires, updates and clears a graphic and takes the logo off and on by hand.

mod common;

use std::time::{Duration, Instant};

use common::daemon::*;
use futures_util::SinkExt;
use onair::sim::media::{MediaEntry, MediaKind, VideoFormat};
use onair::sim::{ClockMode, Sim, SimConfig, TakeHow, TakeRecord};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The lower third: 4 s into the item, for 8 s (frames at 25 fps).
const ON_FRAMES: i64 = 100;
const OFF_FRAMES: i64 = 300;

async fn sim() -> Sim {
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Realtime;
    cfg.formats = vec![VideoFormat::parse("1080i5000").expect("format")];
    cfg.media.entries.push(MediaEntry {
        id: "PROG".into(),
        kind: MediaKind::Movie,
        size_bytes: 1_000_000,
        mtime: "20261203120000".into(),
        frames: 750,
        timebase: (1, 25),
        path: "/opt/casparcg/media/PROG.mp4".into(),
        thumb_time: "20261203T120000".into(),
        thumb_size: 2000,
    });
    cfg.media.sort();
    Sim::start(cfg).await.expect("sim")
}

/// A playlist with the logo on layer 30 and one 30-second item with the lower third on layer
/// 20, taken now; returns the frame the item started on.
async fn on_air(d: &Daemon, sim: &Sim) -> i64 {
    on_air_item(d, sim).await.0
}

/// [`on_air`], with the item's id.
async fn on_air_item(d: &Daemon, sim: &Sim) -> (i64, String) {
    let mut ws = ws(&d.addr).await;
    let ok = |ack: &Value| assert_eq!(ack["ok"], true, "{ack}");
    ok(&command(
        &mut ws,
        "u",
        "playlist.update",
        json!({"playlist": "main", "logo": {"layer": 30, "graphic": {"kind": "still", "clip": "LOGO"}}}),
    )
    .await);
    let added = command(
        &mut ws,
        "a",
        "item.add",
        json!({"playlist": "main", "clip": "PROG", "graphics": {"events": [{
            "id": "lt", "layer": 20, "offset_ms": 4000, "duration_ms": 8000,
            "graphic": {"kind": "template", "template": "LOWER_THIRD", "data": {"name": "Ada"}}
        }]}}),
    )
    .await;
    ok(&added);
    ok(&command(&mut ws, "t", "playout.take", json!({"playlist": "main"})).await);
    let starts = takes(sim, 10, TakeHow::is_start);
    assert_eq!(starts.len(), 1, "{starts:?}");
    let item = added["item"]
        .as_str()
        .expect("the new item's id")
        .to_owned();
    (starts[0], item)
}

fn takes(sim: &Sim, layer: i32, how: impl Fn(TakeHow) -> bool) -> Vec<i64> {
    frames(&sim.take_log(), layer, how)
}

fn frames(log: &[TakeRecord], layer: i32, how: impl Fn(TakeHow) -> bool) -> Vec<i64> {
    log.iter()
        .filter(|t| t.channel == 0 && t.layer == layer && how(t.how))
        .map(|t| t.frame)
        .collect()
}

/// Polls the take log every 10 ms until `cond` holds for it, for at most `limit`.
async fn until(sim: &Sim, what: &str, limit: Duration, cond: impl Fn(&[TakeRecord]) -> bool) {
    let deadline = Instant::now() + limit;
    while !cond(&sim.take_log()) {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for the daemon's state to list the lower third as on air; how long that took.
async fn lower_third_on(d: &Daemon) -> Duration {
    graphics_until(d, "the lower third listed on air", |g| {
        g["name"] == "lt" && g["layer"] == 20 && g["phase"] == "on"
    })
    .await
}

/// Waits for the daemon's state (snapshot, then `graphics` events) to list a graphic for which
/// `want` holds; how long that took.
async fn graphics_until(d: &Daemon, what: &str, want: impl Fn(&Value) -> bool) -> Duration {
    let t0 = Instant::now();
    let shown = |graphics: &Value| graphics.as_array().is_some_and(|g| g.iter().any(&want));
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", d.addr))
        .await
        .expect("ws connects");
    // Bounded: progress messages keep the socket busy, so waiting per message would never end.
    let deadline = Instant::now() + WAIT;
    let mut last = Value::Null;
    loop {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {WAIT:?}; last graphics: {last}"
        );
        let m = next_json(&mut ws).await;
        let graphics = match m["type"].as_str() {
            Some("snapshot") => &m["state"]["graphics"],
            Some("event") if m["kind"] == "graphics" => &m["graphics"],
            _ => continue,
        };
        if shown(graphics) {
            let _ = ws.send(Message::Close(None)).await;
            return t0.elapsed();
        }
        last = graphics.clone();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_mid_lower_third_adopts_it_and_takes_it_off_on_its_frame() {
    let sim = sim().await;
    let data = tempfile::tempdir().expect("tempdir");
    let mut d = serve(&sim, data.path());
    let start = on_air(&d, &sim).await;
    until(&sim, "the lower third on", Duration::from_secs(10), |log| {
        !frames(log, 20, |h| h == TakeHow::CgPlay).is_empty()
    })
    .await;
    // In the middle of its window: SIGKILL, and a new daemon on the same data.
    d.child.kill().expect("SIGKILL");
    d.child.wait().expect("reaped");
    let restarted = Instant::now();
    let d = serve(&sim, data.path());
    let listening = Instant::now();
    lower_third_on(&d).await;
    let (since_restart, since_listening) = (restarted.elapsed(), listening.elapsed());
    assert!(
        since_listening < Duration::from_secs(1),
        "known on air {since_listening:?} after the new daemon listened"
    );
    until(
        &sim,
        "the lower third off",
        Duration::from_secs(15),
        |log| !frames(log, 20, |h| h == TakeHow::CgStop).is_empty(),
    )
    .await;
    let log = sim.take_log();
    let adds = frames(&log, 20, |h| h == TakeHow::CgAdd);
    let plays = frames(&log, 20, |h| h == TakeHow::CgPlay);
    let stops = frames(&log, 20, |h| h == TakeHow::CgStop);
    assert_eq!(
        (adds.len(), plays.len()),
        (1, 1),
        "adopted, not added or played again"
    );
    assert!(
        (0..=1).contains(&(plays[0] - start - ON_FRAMES)),
        "on at {}",
        plays[0] - start
    );
    assert!(
        (0..=1).contains(&(stops[0] - start - OFF_FRAMES)),
        "off {} frames after the item's first frame, planned {OFF_FRAMES}",
        stops[0] - start
    );
    // The logo was adopted too: on once, never again.
    assert_eq!(frames(&log, 30, |h| h == TakeHow::Promote).len(), 1);
    println!(
        "restart: the lower third known on air {since_restart:?} after the new daemon was \
         started ({since_listening:?} after it listened); off {} frames after the item's first \
         frame (planned {OFF_FRAMES})",
        stops[0] - start
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_caspar_restart_the_lower_third_and_logo_are_put_back() {
    let sim = sim().await;
    let data = tempfile::tempdir().expect("tempdir");
    let d = serve(&sim, data.path());
    let start = on_air(&d, &sim).await;
    until(&sim, "the lower third on", Duration::from_secs(10), |log| {
        !frames(log, 20, |h| h == TakeHow::CgPlay).is_empty()
    })
    .await;
    sim.restart(Duration::from_millis(300)).await;
    let back = Instant::now();
    until(
        &sim,
        "the lower third put back",
        Duration::from_secs(5),
        |log| {
            frames(log, 20, |h| h == TakeHow::CgPlay).len() == 2
                && frames(log, 30, |h| h == TakeHow::Promote || h == TakeHow::Play).len() == 2
        },
    )
    .await;
    let put_back = back.elapsed();
    until(
        &sim,
        "the lower third off",
        Duration::from_secs(15),
        |log| !frames(log, 20, |h| h == TakeHow::CgStop).is_empty(),
    )
    .await;
    let stops = takes(&sim, 20, |h| h == TakeHow::CgStop);
    assert!(
        (0..=1).contains(&(stops[0] - start - OFF_FRAMES)),
        "off {} frames after the item's first frame, planned {OFF_FRAMES}",
        stops[0] - start
    );
    assert!(
        put_back < Duration::from_secs(2),
        "put back {put_back:?} after the server"
    );
    println!("CasparCG restart: lower third and logo back {put_back:?} after the server was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_fires_updates_and_clears_graphics_and_takes_the_logo_off() {
    let sim = sim().await;
    let data = tempfile::tempdir().expect("tempdir");
    let d = serve(&sim, data.path());
    let (_, item) = on_air_item(&d, &sim).await;
    let mut ws = ws(&d.addr).await;
    let ok = |ack: &Value| assert_eq!(ack["ok"], true, "{ack}");
    let code = |ack: &Value| ack["error"]["code"].as_str().unwrap_or_default().to_owned();
    // Fired by hand before its time: on now, answered once CasparCG has answered.
    ok(&command(
        &mut ws,
        "f",
        "graphics.fire",
        json!({"playlist": "main", "item": item, "event": "lt"}),
    )
    .await);
    let page = sim.templates();
    assert!(page.iter().any(|p| p.layer == 20 && p.playing), "{page:?}");
    ok(&command(
        &mut ws,
        "u",
        "graphics.update",
        json!({"playlist": "main", "layer": 20, "data": {"name": "Grace \"Amazing\" Hopper"}}),
    )
    .await);
    let page = sim.templates();
    let sent: Value = serde_json::from_str(&page[0].data).expect("JSON at the server");
    assert_eq!(sent["name"], "Grace \"Amazing\" Hopper");
    // The state lists the template with the data it now shows, as the console and the web page
    // offer it for the next update.
    graphics_until(&d, "the new data listed", |g| {
        g["layer"] == 20
            && g["kind"] == "template"
            && g["data"]["name"] == "Grace \"Amazing\" Hopper"
    })
    .await;
    ok(&command(
        &mut ws,
        "i",
        "graphics.invoke",
        json!({"playlist": "main", "layer": 20, "method": "next_headline"}),
    )
    .await);
    let invoked = sim
        .command_log()
        .iter()
        .any(|r| r.name == "CG INVOKE" && r.params.iter().any(|p| p == "next_headline"));
    assert!(invoked, "CG 1-20 INVOKE 1 next_headline reached the server");
    ok(&command(
        &mut ws,
        "c",
        "graphics.clear",
        json!({"playlist": "main", "layer": 20}),
    )
    .await);
    assert!(
        !takes(&sim, 20, |h| h == TakeHow::CgStop).is_empty(),
        "cleared by hand"
    );
    // The logo off by hand, and back (once it is on).
    until(&sim, "the logo on", Duration::from_secs(5), |log| {
        !frames(log, 30, |h| h == TakeHow::Promote).is_empty()
    })
    .await;
    ok(&command(
        &mut ws,
        "l0",
        "graphics.logo",
        json!({"playlist": "main", "enabled": false}),
    )
    .await);
    assert_eq!(takes(&sim, 30, |h| h == TakeHow::Clear).len(), 1);
    ok(&command(
        &mut ws,
        "l1",
        "graphics.logo",
        json!({"playlist": "main", "enabled": true}),
    )
    .await);
    assert_eq!(
        takes(&sim, 30, |h| h == TakeHow::Play || h == TakeHow::Promote).len(),
        2
    );
    // Off by hand again: kept off across restarts, so on disk with the playout state.
    ok(&command(
        &mut ws,
        "l2",
        "graphics.logo",
        json!({"playlist": "main", "enabled": false}),
    )
    .await);
    let state = data.path().join("state.json");
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(&state).unwrap_or_default();
        let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if doc["playlists"]["main"]["logo_off"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "logo_off not saved: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What cannot be done changes nothing and says why.
    let bad = command(
        &mut ws,
        "b1",
        "graphics.fire",
        json!({"playlist": "main", "item": item, "event": "nope"}),
    )
    .await;
    assert_eq!(code(&bad), "graphics_error", "{bad}");
    let bad = command(
        &mut ws,
        "b2",
        "graphics.clear",
        json!({"playlist": "main", "layer": 10}),
    )
    .await;
    assert_eq!(code(&bad), "graphics_error", "{bad}");
    let bad = command(
        &mut ws,
        "b3",
        "graphics.update",
        json!({"playlist": "main", "layer": 20, "data": "not xml"}),
    )
    .await;
    assert_eq!(code(&bad), "bad_request", "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_casparcg_refuses_changes_nothing_listed() {
    let sim = sim().await;
    let data = tempfile::tempdir().expect("tempdir");
    let d = serve(&sim, data.path());
    let (_, item) = on_air_item(&d, &sim).await;
    let mut ws = ws(&d.addr).await;
    let fired = command(
        &mut ws,
        "f",
        "graphics.fire",
        json!({"playlist": "main", "item": item, "event": "lt"}),
    )
    .await;
    assert_eq!(fired["ok"], true, "{fired}");
    // Someone else clears the layer at the server: CasparCG then refuses the next update.
    let mut other = common::AmcpClient::connect(sim.addr()).await;
    other.send("CLEAR 1-20").await;
    let cleared = other.next_event().await;
    assert!(format!("{cleared:?}").contains("202"), "{cleared:?}");
    let refused = command(
        &mut ws,
        "u",
        "graphics.update",
        json!({"playlist": "main", "layer": 20, "data": {"name": "Never shown"}}),
    )
    .await;
    assert_eq!(refused["ok"], false, "{refused}");
    // The list still shows the data the template was given (its event's), not the refused one.
    graphics_until(&d, "the lower third listed with its event's data", |g| {
        g["layer"] == 20 && g["data"] == json!({"name": "Ada"})
    })
    .await;
}
