//! `/health`, `/health/ready`, `/metrics` and `onair health` with a main/backup pair: two
//! simulators whose clocks run in real time, one engine driving both (the backup through
//! `EngineDeps::backup`), and the servers probe reading both real links, as `onair serve` wires it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use onair::config::ServerConfig;
use onair::daemon::link_probe;
use onair::playout::engine::{self, EngineDeps, Op, SideDeps};
use onair::protocol::link::{LinkReport, LinkStats, LinkStatus};
use onair::server::{AppState, Probes};
use onair::sim::Sim;
use onair::sim::media::SimMedia;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::common::pair::{link, playlist, sim_with};
use crate::rig::*;

struct PairRig {
    main: Sim,
    backup: Sim,
    state: Arc<AppState>,
    base: String,
}

/// A pair over `main_media` and `backup_media` playing playlist `pl` (`clips` on 1-10), start-up
/// complete, both sides connected and in step (`/health` says `ok`).
async fn pair_rig(main_media: SimMedia, backup_media: SimMedia, clips: &[&str]) -> PairRig {
    let (main, backup) = (sim_with(main_media).await, sim_with(backup_media).await);
    let (main_link, backup_link) = (link(&main), link(&backup));
    let mut pl = playlist(clips, false);
    // As in the single-server rig: no end-of-rundown alarm in these checks.
    pl.end_action = onair::playout::fill::EndAction::Hold;
    let shutdown = CancellationToken::new();
    let (engine, _) = engine::spawn(EngineDeps {
        poll_interval: 40 * MS,
        progress_hz: 20,
        main: ("main".into(), main.addr().to_string()),
        backup: Some(SideDeps {
            name: "backup".into(),
            address: backup.addr().to_string(),
            caspar: backup_link.clone(),
            osc: None,
        }),
        ..EngineDeps::new(main_link.clone(), vec![pl], shutdown.clone())
    });
    let (m, b) = (link_probe(main_link.clone()), link_probe(backup_link));
    let probes = Probes {
        servers: Some(Box::new(move || {
            vec![("main".to_owned(), m()), ("backup".to_owned(), b())]
        })),
        ..Probes::default()
    };
    let state = Arc::new(AppState::new(
        engine,
        link_probe(main_link),
        ServerConfig::default(),
        shutdown,
        probes,
    ));
    state.startup_complete.store(true, Ordering::Release);
    let base = listen(&state).await;
    wait_http(&base, "/health", |a| body_json(a)["status"] == "ok").await;
    PairRig {
        main,
        backup,
        state,
        base,
    }
}

async fn metrics(base: &str) -> String {
    String::from_utf8_lossy(&http(base, "/metrics", &[]).await.body).into_owned()
}

fn has_line(text: &str, prefix: &str) -> bool {
    text.lines().any(|l| l.starts_with(prefix))
}

fn reasons(doc: &Value) -> Vec<String> {
    serde_json::from_value(doc["reasons"].clone()).expect("reasons")
}

/// Takes the server down the way a crash looks from here: the port refuses and the open
/// connection drops.
async fn take_down(sim: &Sim) {
    sim.set_refuse_connections(true);
    sim.wait_listening(false).await;
    sim.drop_connections();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_is_ok_degraded_with_one_side_down_and_critical_with_both() {
    let lib = SimMedia::virtual_library(20);
    let r = pair_rig(lib.clone(), lib, &["CLIP1", "CLIP2"]).await;
    take_on(&r.state, &r.base).await;

    // Both up and in step: ok, two entries, the main first and followed.
    let doc = body_json(&wait_http(&r.base, "/health", |a| body_json(a)["status"] == "ok").await);
    let servers = doc["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 2, "{doc:#}");
    let (main, backup) = (&servers[0], &servers[1]);
    assert_eq!(
        (&main["name"], &main["role"]),
        (&json!("main"), &json!("main"))
    );
    assert_eq!(
        (&backup["name"], &backup["role"]),
        (&json!("backup"), &json!("backup"))
    );
    assert_eq!(backup["address"], json!(r.backup.addr().to_string()));
    for (s, lead) in [(main, true), (backup, false)] {
        assert_eq!(s["connected"], true, "{s}");
        assert_eq!(s["in_step"], true, "{s}");
        assert_eq!(s["lead"], lead, "{s}");
        assert!(s["rtt"]["samples"].as_u64() > Some(0), "{s}");
        assert_eq!(s["reconnects"], 0, "{s}");
    }
    assert_eq!(doc["caspar"]["connected"], true);
    let (code, out) = check(&r.base).await;
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "one line, then one per server: {out}");
    assert!(
        lines[0].starts_with("ONAIR OK - 2 of 2 CasparCG servers connected, 1 playlist playing"),
        "{out}"
    );
    assert!(lines[0].contains("servers_up=2 servers_in_step=2"), "{out}");
    assert!(
        lines[1].starts_with("main \"main\": connected, CasparCG 2.4") && lines[1].contains("lead"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("backup \"backup\": connected"),
        "{out}"
    );
    let text = metrics(&r.base).await;
    for line in [
        "onair_health_status 0",
        "onair_caspar_link_up{server=\"main\"} 1",
        "onair_caspar_link_up{server=\"backup\"} 1",
        "onair_caspar_connects_total{server=\"main\"} 1",
        "onair_caspar_connects_total{server=\"backup\"} 1",
        "onair_server_in_step{server=\"main\",role=\"main\"} 1",
        "onair_server_in_step{server=\"backup\",role=\"backup\"} 1",
        "onair_server_lead{server=\"main\"} 1",
        "onair_server_lead{server=\"backup\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    assert!(
        has_line(&text, "onair_caspar_rtt_seconds_count{server=\"backup\"} "),
        "{text}"
    );

    // The backup goes away: degraded, naming it; still ready (the main plays on); WARNING.
    take_down(&r.backup).await;
    let answer = wait_http(&r.base, "/health", |a| {
        reasons(&body_json(a))
            .iter()
            .any(|x| x.starts_with("backup server \"backup\" not connected ("))
    })
    .await;
    let doc = body_json(&answer);
    assert_eq!((answer.status, &doc["status"]), (200, &json!("degraded")));
    assert_eq!(reasons(&doc).len(), 1, "only the backup: {doc:#}");
    assert_eq!(doc["servers"][1]["connected"], false);
    assert_eq!(doc["servers"][0]["lead"], true);
    let ready = http(&r.base, "/health/ready", &[]).await;
    assert_eq!(
        ready.status,
        200,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    let (code, out) = check(&r.base).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("ONAIR WARNING - degraded: backup server \"backup\" not connected (")
            && out.contains(" - 1 of 2 CasparCG servers connected"),
        "{out}"
    );
    let text = metrics(&r.base).await;
    for line in [
        "onair_health_status 1",
        "onair_caspar_link_up{server=\"main\"} 1",
        "onair_caspar_link_up{server=\"backup\"} 0",
        "onair_server_in_step{server=\"backup\",role=\"backup\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    // The real binary: exit 1, the line and one line per server.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_onair"))
        .args(["health", "--url", &r.base, "--timeout", "5s"])
        .output()
        .await
        .expect("run onair health");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("ONAIR WARNING - "), "{stdout}");
    assert!(lines[2].starts_with("backup \"backup\": "), "{stdout}");

    // It comes back and is brought in step: ok again, its catch-up time known.
    r.backup.set_refuse_connections(false);
    r.backup.wait_listening(true).await;
    let doc = body_json(&wait_http(&r.base, "/health", |a| body_json(a)["status"] == "ok").await);
    assert!(doc["servers"][1]["resync_ms"].is_u64(), "{doc:#}");
    assert!(
        doc["servers"][1]["reconnects"].as_u64() >= Some(1),
        "{doc:#}"
    );
    let text = metrics(&r.base).await;
    assert!(
        has_line(&text, "onair_server_resync_seconds{server=\"backup\"} "),
        "{text}"
    );
    assert!(
        has_line(&text, "onair_caspar_connects_total{server=\"backup\"} 2"),
        "{text}"
    );

    // Both away: nothing can play out. Not ready, and CRITICAL, naming both.
    take_down(&r.main).await;
    take_down(&r.backup).await;
    let ready = wait_http(&r.base, "/health/ready", |a| a.status == 503).await;
    let doc = body_json(&ready);
    let not_connected = reasons(&doc)
        .into_iter()
        .find(|x| x.starts_with("CasparCG not connected ("))
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert!(
        not_connected.contains("main server \"main\": ")
            && not_connected.contains("; backup server \"backup\": "),
        "{not_connected}"
    );
    let health = http(&r.base, "/health", &[]).await;
    assert_eq!(
        (health.status, &body_json(&health)["status"]),
        (200, &json!("degraded"))
    );
    let (code, out) = check(&r.base).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with("ONAIR CRITICAL - degraded: CasparCG not connected (main server"),
        "{out}"
    );
    assert!(out.contains("0 of 2 CasparCG servers connected"), "{out}");
    let text = metrics(&r.base).await;
    assert!(
        text.lines()
            .any(|l| l == "onair_caspar_link_up{server=\"main\"} 0"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == "onair_caspar_link_up{server=\"backup\"} 0"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_side_out_of_step_is_named_with_the_command_that_failed() {
    let full = SimMedia::virtual_library(20);
    let mut partial = full.clone();
    partial.entries.retain(|e| e.id != "CLIP2");
    let r = pair_rig(full, partial, &["CLIP1", "CLIP2", "CLIP1"]).await;
    // CLIP2 is on the main only: its take fails on the backup, which is then out of step.
    r.state
        .engine
        .execute(Op::Take {
            playlist: Some("pl".into()),
            item: Some("i1".into()),
        })
        .await
        .expect("take");
    let doc = body_json(
        &wait_http(&r.base, "/health", |a| {
            body_json(a)["servers"][1]["in_step"] == json!(false)
        })
        .await,
    );
    assert_eq!(doc["status"], "degraded", "{doc:#}");
    let out_of_step = reasons(&doc)
        .into_iter()
        .find(|x| x.starts_with("backup server \"backup\" out of step: "))
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert!(out_of_step.contains("PLAY failed"), "{out_of_step}");
    let backup = &doc["servers"][1];
    assert_eq!(backup["connected"], true);
    assert_eq!(backup["missing"], json!(["CLIP2"]));
    assert!(
        backup["note"]
            .as_str()
            .is_some_and(|n| n.contains("PLAY failed")),
        "{backup}"
    );
    assert_eq!(http(&r.base, "/health/ready", &[]).await.status, 200);
    let (code, out) = check(&r.base).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\nbackup \"backup\": connected"), "{out}");
    assert!(out.contains("out of step: PLAY failed"), "{out}");
    let text = metrics(&r.base).await;
    assert!(
        text.lines()
            .any(|l| l == "onair_server_in_step{server=\"backup\",role=\"backup\"} 0"),
        "{text}"
    );
}

/// A report as a probe could give it: connected or down, with `stats`.
fn report(connected: bool, stats: LinkStats) -> LinkReport {
    let since = SystemTime::UNIX_EPOCH;
    let status = if connected {
        LinkStatus::Connected {
            server_version: "2.4.3".into(),
            since,
            req_supported: true,
        }
    } else {
        LinkStatus::Disconnected {
            reason: "ping timeout".into(),
            since,
        }
    };
    LinkReport { status, stats }
}

#[tokio::test]
async fn every_link_counter_is_labelled_with_its_server() {
    let bounds = vec![0.001, 0.01];
    let main = LinkStats {
        connects: 1,
        connect_attempts: 1,
        rtt_buckets: vec![2, 2, 2],
        rtt_count: 2,
        rtt_sum_seconds: 0.001,
        rtt_bounds_seconds: bounds.clone(),
        ..LinkStats::default()
    };
    let backup = LinkStats {
        connects: 3,
        connect_attempts: 9,
        timeouts: 7,
        disconnects: [("ping_timeout".to_owned(), 2)].into(),
        replies_by_code: [(202, 5)].into(),
        rtt_buckets: vec![1, 3, 4],
        rtt_count: 4,
        rtt_sum_seconds: 0.03,
        rtt_bounds_seconds: bounds,
        last_error: Some("ping timeout".into()),
        ..LinkStats::default()
    };
    let probes = Probes {
        servers: Some(Box::new(move || {
            vec![
                ("main".to_owned(), report(true, main.clone())),
                ("backup".to_owned(), report(false, backup.clone())),
            ]
        })),
        ..Probes::default()
    };
    let r = rig(ServerConfig::default(), probes).await;
    r.state.startup_complete.store(true, Ordering::Release);
    let text = metrics(&r.base).await;
    for line in [
        "onair_caspar_connects_total{server=\"main\"} 1",
        "onair_caspar_connects_total{server=\"backup\"} 3",
        "onair_caspar_connect_attempts_total{server=\"backup\"} 9",
        "onair_caspar_timeouts_total{server=\"main\"} 0",
        "onair_caspar_timeouts_total{server=\"backup\"} 7",
        "onair_caspar_disconnects_total{server=\"backup\",reason=\"ping_timeout\"} 2",
        "onair_caspar_replies_total{server=\"backup\",code=\"202\"} 5",
        "onair_caspar_link_up{server=\"main\"} 1",
        "onair_caspar_link_up{server=\"backup\"} 0",
        "onair_caspar_rtt_seconds_count{server=\"main\"} 2",
        "onair_caspar_rtt_seconds_count{server=\"backup\"} 4",
        "onair_caspar_rtt_seconds_bucket{le=\"0.01\",server=\"backup\"} 3",
        "onair_caspar_rtt_seconds_bucket{le=\"+Inf\",server=\"backup\"} 4",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    // The engine drives one server here: the backup the probe reports has no engine view, so
    // no `onair_server_*` series, but /health still lists it (a backup by its place) and names it.
    assert!(
        !has_line(&text, "onair_server_in_step{server=\"backup\""),
        "{text}"
    );
    let doc = body_json(&http(&r.base, "/health", &[]).await);
    let backup = &doc["servers"][1];
    assert_eq!(
        (&backup["name"], &backup["role"]),
        (&json!("backup"), &json!("backup"))
    );
    assert_eq!(
        (&backup["timeouts"], &backup["reconnects"]),
        (&json!(7), &json!(2))
    );
    assert_eq!(backup["in_step"], Value::Null);
    assert!(
        reasons(&doc)
            .contains(&"backup server \"backup\" not connected (down: ping timeout)".to_owned()),
        "{doc:#}"
    );
    // The `caspar` section is the main's reading, from the same probe.
    assert_eq!(doc["caspar"]["server_version"], "2.4.3");
}
