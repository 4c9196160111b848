//! Main/backup pairs (issue 17): `cargo bench --bench pair` prints one JSON line per figure and a
//! summary line.
//!
//! Three simulators with real-time clocks on loopback: a lone server and a main/backup pair, each
//! driven by its own engine over real TCP. Measured at the simulators (their take logs stamp each
//! command's execution with the Unix time, one process so one clock):
//! - `skew`: for every take on the pair, |backup's PLAY − main's PLAY| (target p99 ≤ 1 ms);
//! - `take_to_play`: operator take → the main's PLAY, for the lone server, the pair, and the pair
//!   while its backup is down (target: backup down p99 ≤ 1.2 × the lone server's, same run);
//! - `resync`: the backup restarted after `ONAIR_BENCH_DOWN_SECS` (10) down: from the simulator
//!   accepting connections again to in step (`back_to_in_step_ms`: the link's reconnect with a
//!   100 ms backoff cap, then the catch-up), the engine's own catch-up (`catch_up_ms`, its
//!   `resync_ms`, whole milliseconds), and the drift between the two simulators right after
//!   (target ≤ 2 s, ≤ 2 frames).
//!
//! Samples alternate between the lone server and the pair in blocks, so both see the same machine.
//! Environment: `ONAIR_BENCH_TAKES` (1000), `ONAIR_BENCH_OUTAGES` (3).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use onair::caspar::CasparHandle;
use onair::config::CasparConfig;
use onair::playout::engine::{self, EngineDeps, EngineHandle, Op, SideDeps, Snapshot};
use onair::playout::model::{Item, Playlist};
use onair::sim::producer::Producer;
use onair::sim::{ClockMode, Sim, SimConfig, TakeHow};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn unix_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn summary(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((v.len() - 1) as f64 * p).round() as usize;
        (v[i] * 1000.0).round() / 1000.0
    };
    json!({ "n": v.len(), "p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0) })
}

async fn sim() -> Sim {
    let mut cfg = SimConfig::for_tests();
    cfg.clock = ClockMode::Realtime;
    Sim::start(cfg).await.expect("sim")
}

fn link(sim: &Sim) -> CasparHandle {
    CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ping_interval: 200 * MS,
        ping_timeout: Duration::from_secs(2),
        backoff_initial: 10 * MS,
        backoff_max: 100 * MS,
        ..CasparConfig::default()
    })
    .0
}

fn playlist() -> Playlist {
    let mut pl = Playlist::new("pl", "pl", "1-10".parse().expect("layer"));
    pl.autoplay = false;
    for (i, clip) in ["CLIP1", "CLIP2"].iter().enumerate() {
        pl.items
            .push_back(Arc::new(Item::new(format!("i{i}"), *clip)).into());
    }
    pl
}

async fn wait(engine: &EngineHandle, pred: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    let mut rx = engine.watch_snapshot();
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let s = rx.borrow_and_update().clone();
            if pred(&s) {
                return s;
            }
            rx.changed().await.expect("engine");
        }
    })
    .await
    .expect("condition within 60 s")
}

fn backup_view(s: &Snapshot) -> Option<&onair::protocol::ServerView> {
    s.link.servers.iter().find(|v| v.name == "backup")
}

/// Takes `i0`/`i1` alternately `n` times; per take, the Unix ns it was asked for.
async fn takes(engine: &EngineHandle, n: usize, k0: usize) -> Vec<i64> {
    let mut asked = Vec::with_capacity(n);
    for k in k0..k0 + n {
        let item = if k % 2 == 0 { "i0" } else { "i1" };
        asked.push(unix_ns());
        engine
            .execute(Op::Take {
                playlist: Some("pl".into()),
                item: Some(item.into()),
            })
            .await
            .expect("take");
    }
    asked
}

/// Execution times of the `PLAY`s a simulator took, after `from` of them.
fn plays(sim: &Sim) -> Vec<i64> {
    sim.take_log()
        .into_iter()
        .filter(|r| matches!(r.how, TakeHow::Play | TakeHow::Promote))
        .map(|r| r.executed_unix_ns)
        .collect()
}

fn layer_frame(sim: &Sim) -> Option<(String, i64)> {
    sim.with_state(|s| {
        let l = s.layer(0, 10)?;
        let Producer::Clip(c) = &l.foreground else {
            return None;
        };
        Some((c.name.to_uppercase(), c.time))
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_usize("ONAIR_BENCH_TAKES", 1000);
    let outages = env_usize("ONAIR_BENCH_OUTAGES", 3);
    let down = Duration::from_secs(env_usize("ONAIR_BENCH_DOWN_SECS", 10) as u64);
    let shutdown = CancellationToken::new();

    let lone = sim().await;
    let (lone_engine, _t1) = engine::spawn(EngineDeps {
        poll_interval: 40 * MS,
        ..EngineDeps::new(link(&lone), vec![playlist()], shutdown.clone())
    });
    let (main_sim, backup_sim) = (sim().await, sim().await);
    let (pair_engine, _t2) = engine::spawn(EngineDeps {
        poll_interval: 40 * MS,
        main: ("main".into(), main_sim.addr().to_string()),
        backup: Some(SideDeps {
            name: "backup".into(),
            address: backup_sim.addr().to_string(),
            caspar: link(&backup_sim),
            osc: None,
        }),
        ..EngineDeps::new(link(&main_sim), vec![playlist()], shutdown.clone())
    });
    wait(&lone_engine, |s| s.link.connected).await;
    wait(&pair_engine, |s| {
        s.link.servers.len() == 2 && s.link.servers.iter().all(|v| v.connected && v.in_step)
    })
    .await;

    // Blocks of 50 takes, alternating between the lone server and the pair.
    let block = 50;
    let (mut lone_lat, mut pair_lat, mut skew) = (Vec::new(), Vec::new(), Vec::new());
    let mut done = 0;
    while done < n {
        let m = block.min(n - done);
        for (engine, sims, lat) in [
            (&lone_engine, vec![&lone], &mut lone_lat),
            (&pair_engine, vec![&main_sim, &backup_sim], &mut pair_lat),
        ] {
            let before: Vec<usize> = sims.iter().map(|s| plays(s).len()).collect();
            let asked = takes(engine, m, done).await;
            // Every side must have executed the block's PLAYs (the backup's may trail the answer).
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while sims
                .iter()
                .zip(&before)
                .any(|(s, b)| plays(s).len() < b + m)
            {
                assert!(tokio::time::Instant::now() < deadline, "plays missing");
                tokio::time::sleep(MS).await;
            }
            let main_plays = plays(sims[0]);
            let main_new = &main_plays[before[0]..before[0] + m];
            lat.extend(
                asked
                    .iter()
                    .zip(main_new)
                    .map(|(a, p)| (p - a) as f64 / 1e6),
            );
            if sims.len() == 2 {
                let backup_plays = plays(sims[1]);
                let backup_new = &backup_plays[before[1]..before[1] + m];
                skew.extend(
                    main_new
                        .iter()
                        .zip(backup_new)
                        .map(|(a, b)| (b - a).abs() as f64 / 1e6),
                );
            }
        }
        done += m;
    }

    // Outages: the backup down for `down`, takes on the pair meanwhile (and on the lone server
    // for the same-run baseline), then its catch-up.
    let (mut down_lat, mut lone_during, mut resync_ms, mut drift) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut back_in_step_ms = Vec::new();
    for _ in 0..outages {
        // The simulators keep a bounded take log: start each outage with empty ones.
        for sim in [&lone, &main_sim, &backup_sim] {
            sim.clear_take_log();
        }
        let control = backup_sim.control();
        let outage = tokio::spawn(async move { control.restart(down).await });
        wait(&pair_engine, |s| {
            backup_view(s).is_some_and(|b| !b.connected)
        })
        .await;
        let until = tokio::time::Instant::now() + down.saturating_sub(Duration::from_secs(1));
        let mut k = 0;
        while tokio::time::Instant::now() < until {
            for (engine, sim, lat) in [
                (&lone_engine, &lone, &mut lone_during),
                (&pair_engine, &main_sim, &mut down_lat),
            ] {
                let before = plays(sim).len();
                let asked = takes(engine, 10, k).await;
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while plays(sim).len() < before + 10 {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "plays missing during the outage: {} of {} on {}",
                        plays(sim).len() - before,
                        10,
                        sim.addr()
                    );
                    tokio::time::sleep(MS).await;
                }
                let p = plays(sim);
                lat.extend(
                    asked
                        .iter()
                        .zip(&p[before..before + 10])
                        .map(|(a, p)| (p - a) as f64 / 1e6),
                );
            }
            k += 10;
            // Paced: a take every few milliseconds is plenty, and the simulators' take logs are
            // bounded.
            tokio::time::sleep(50 * MS).await;
        }
        outage.await.expect("restart");
        // From the backup accepting connections again to in step: the link's reconnect (its
        // backoff) plus the engine's catch-up.
        let back = std::time::Instant::now();
        let s = wait(&pair_engine, |s| {
            backup_view(s).is_some_and(|b| b.connected && b.in_step)
        })
        .await;
        back_in_step_ms.push(back.elapsed().as_secs_f64() * 1000.0);
        if let Some(ms) = backup_view(&s).and_then(|b| b.resync_ms) {
            resync_ms.push(ms as f64);
        }
        // The drift read at once on both simulators, once the backup shows the same clip.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let (Some(m), Some(b)) = (layer_frame(&main_sim), layer_frame(&backup_sim))
                && m.0 == b.0
            {
                drift.push((b.1 - m.1) as f64);
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no common clip");
            tokio::time::sleep(MS).await;
        }
    }

    let lone_p99 = summary(lone_lat.clone())["p99"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let lone_during_p99 = summary(lone_during.clone())["p99"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let down_p99 = summary(down_lat.clone())["p99"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let skew_p99 = summary(skew.clone())["p99"].as_f64().unwrap_or(f64::NAN);
    let resync_max = back_in_step_ms.iter().copied().fold(0.0, f64::max);
    let drift_max = drift.iter().map(|d: &f64| d.abs()).fold(0.0, f64::max);
    for (figure, value) in [
        (
            "skew_ms",
            json!({ "takes": skew.len(), "ms": summary(skew) }),
        ),
        (
            "take_to_play_ms",
            json!({
                "lone_server": summary(lone_lat),
                "pair": summary(pair_lat),
                "lone_server_during_outages": summary(lone_during),
                "pair_backup_down": summary(down_lat),
            }),
        ),
        (
            "resync",
            json!({ "outages": outages, "down_secs": down.as_secs(),
                    "catch_up_ms": summary(resync_ms),
                    "back_to_in_step_ms": summary(back_in_step_ms),
                    "drift_frames": drift }),
        ),
    ] {
        let mut line = json!({ "figure": figure });
        if let (Some(l), serde_json::Value::Object(v)) = (line.as_object_mut(), value) {
            l.extend(v);
        }
        println!("{line}");
    }
    let baseline = lone_p99.max(lone_during_p99);
    let checks = json!([
        { "figure": "skew p99", "value_ms": skew_p99, "target": "<= 1 ms", "pass": skew_p99 <= 1.0 },
        { "figure": "take_to_play p99, backup down / lone server", "value": down_p99 / baseline,
          "target": "<= 1.2", "pass": down_p99 <= 1.2 * baseline },
        { "figure": "back in step after the restart, max", "value_ms": resync_max, "target": "<= 2000 ms", "pass": resync_max <= 2000.0 },
        { "figure": "drift after resync, max", "value_frames": drift_max, "target": "<= 2", "pass": drift_max <= 2.0 },
    ]);
    println!("{}", json!({ "figure": "summary", "checks": checks }));
    shutdown.cancel();
}
