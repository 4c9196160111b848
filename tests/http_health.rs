//! The HTTP monitoring surface over real sockets: a simulator, the AMCP link, the engine and the axum
//! listener on 127.0.0.1:0. Covers the probes (`/health/live`, `/startup`, `/ready`) including the
//! flip when CasparCG goes away and comes back, the `/health` document, `/metrics` (exposition
//! syntax, names, bearer token), and `onair health` exit codes from the library and the binary.
//! With a main/backup pair (`http_health/pair.rs`): one entry per server, one side down (degraded,
//! still ready, WARNING), both down (not ready, CRITICAL), a side out of step, per-server metrics.

mod common;
#[path = "http_health/pair.rs"]
mod pair;
#[path = "http_health/rig.rs"]
mod rig;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use onair::config::ServerConfig;
use onair::server::Probes;
use rig::*;
use serde_json::{Value, json};
use tokio::net::TcpListener;

#[tokio::test]
async fn probes_follow_startup_and_the_caspar_link() {
    let r = rig(ServerConfig::default(), Probes::default()).await;
    let live = http(&r.base, "/health/live", &[]).await;
    assert_eq!((live.status, live.body.as_slice()), (200, &b"ok\n"[..]));
    assert_eq!(http(&r.base, "/health/startup", &[]).await.status, 503);
    let ready = http(&r.base, "/health/ready", &[]).await;
    assert_eq!(ready.status, 503);
    let reasons = body_json(&ready)["reasons"].to_string();
    assert!(reasons.contains("start-up not complete"), "{reasons}");
    let health = http(&r.base, "/health", &[]).await;
    assert_eq!(
        (health.status, &body_json(&health)["status"]),
        (503, &json!("down"))
    );
    let (code, line) = check(&r.base).await;
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with("ONAIR CRITICAL - down: start-up not complete"),
        "{line}"
    );

    r.state.startup_complete.store(true, Ordering::Release);
    assert_eq!(http(&r.base, "/health/startup", &[]).await.status, 200);
    wait_http(&r.base, "/health/ready", |a| a.status == 200).await;
    take(&r).await;
    assert_eq!(check(&r.base).await.0, 0);

    // CasparCG goes away: the port refuses and the open connection drops.
    r.sim.set_refuse_connections(true);
    r.sim.wait_listening(false).await;
    r.sim.drop_connections();
    let ready = wait_http(&r.base, "/health/ready", |a| a.status == 503).await;
    let reasons = body_json(&ready)["reasons"].to_string();
    assert!(reasons.contains("CasparCG not connected"), "{reasons}");
    let health = wait_http(&r.base, "/health", |a| {
        body_json(a)["telemetry"]["fresh"] == json!(false)
    })
    .await;
    let doc = body_json(&health);
    assert_eq!((health.status, &doc["status"]), (200, &json!("degraded")));
    assert_eq!(doc["caspar"]["connected"], json!(false));
    assert_eq!(doc["telemetry"]["stale_playlists"], json!(["main"]));
    // Off air: `/health` says degraded (the daemon works and retries), `onair health` CRITICAL.
    let (code, line) = check(&r.base).await;
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with("ONAIR CRITICAL - degraded: CasparCG not connected"),
        "{line}"
    );
    assert!(line.contains("telemetry stale: main"), "{line}");

    // It comes back: ready again, with the reconnect counted.
    r.sim.set_refuse_connections(false);
    r.sim.wait_listening(true).await;
    wait_http(&r.base, "/health/ready", |a| a.status == 200).await;
    let doc = body_json(&wait_http(&r.base, "/health", |a| body_json(a)["status"] == "ok").await);
    assert!(doc["caspar"]["reconnects"].as_u64() >= Some(1), "{doc}");
    assert_eq!(check(&r.base).await.0, 0);

    // Shutting down is `down`: load balancers should stop sending operators here.
    r.state.shutdown.cancel();
    let health = http(&r.base, "/health", &[]).await;
    assert_eq!(health.status, 503);
    assert!(
        body_json(&health)["reasons"]
            .to_string()
            .contains("shutting down")
    );
    assert_eq!(http(&r.base, "/health/live", &[]).await.status, 200);
}

#[tokio::test]
async fn health_document_has_every_section() {
    let r = ready_rig(ServerConfig::default(), Probes::default()).await;
    take(&r).await;
    let answer = http(&r.base, "/health", &[]).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let doc = body_json(&answer);
    assert_eq!(doc["status"], "ok", "{doc:#}");
    assert_eq!(doc["reasons"], json!([]));
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["boot_id"], json!(r.state.boot_id));
    assert!(doc["uptime_seconds"].is_u64());
    let caspar = &doc["caspar"];
    assert_eq!(caspar["connected"], true);
    assert_eq!(caspar["state"], "connected");
    assert!(
        caspar["server_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("2.4")),
        "{caspar}"
    );
    assert!(caspar["rtt"]["samples"].as_u64() > Some(0), "{caspar}");
    assert!(
        caspar["rtt"]["p50_ms"].is_f64() && caspar["rtt"]["mean_ms"].is_f64(),
        "{caspar}"
    );
    assert_eq!(caspar["reconnects"], 0);
    assert!(caspar["in_flight"].is_u64() && caspar.get("last_error").is_some());
    // One server: `servers` has it alone, with the same link figures and the engine's view.
    let servers = doc["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 1, "{doc:#}");
    let main = &servers[0];
    assert_eq!(
        (&main["name"], &main["role"]),
        (&json!("main"), &json!("main"))
    );
    assert_eq!(
        (&main["in_step"], &main["lead"]),
        (&json!(true), &json!(true))
    );
    for key in [
        "connected",
        "state",
        "server_version",
        "since_ms",
        "reconnects",
    ] {
        assert_eq!(main[key], caspar[key], "{key}");
    }
    assert!(main["rtt"]["samples"].as_u64() > Some(0), "{main}");
    assert_eq!(
        (&main["drift_frames"], &main["missing"]),
        (&Value::Null, &json!([]))
    );
    assert_eq!(doc["websocket"]["clients"], 0);
    assert_eq!(doc["telemetry"]["fresh"], true);
    let playout = &doc["playout"];
    assert_eq!(playout["playing"], 1);
    let main = &playout["playlists"][0];
    assert_eq!(
        (&main["id"], &main["status"]),
        (&json!("main"), &json!("playing"))
    );
    assert_eq!(main["on_air"]["clip"], "CLIP1");
    assert_eq!(
        main["next"]["item"]
            .as_str()
            .or(main["cued"]["item"].as_str()),
        Some("i1")
    );
    assert!(main["remaining"].is_f64(), "{main}");
    assert!(
        main["rundown_remaining"].as_f64().is_some_and(|s| s > 0.0),
        "{main}"
    );
    assert_eq!((&doc["store"], &doc["osc"]), (&Value::Null, &Value::Null));
    assert_eq!(
        (&doc["alarms"]["count"], &doc["alarms"]["list"]),
        (&json!(0), &json!([]))
    );
    if cfg!(target_os = "linux") {
        assert!(doc["memory"]["rss_bytes"].as_u64() > Some(0), "{doc}");
    }

    // The WebSocket ops use the same documents.
    let direct = onair::server::http::health_document(&r.state);
    assert_eq!(direct["boot_id"], doc["boot_id"]);
    let stats = onair::server::http::stats_document(&r.state);
    assert!(stats["caspar"]["connects"].as_u64() >= Some(1), "{stats}");
    assert_eq!(
        stats["caspar"]["rtt_bucket_bounds_seconds"]
            .as_array()
            .map(Vec::len),
        Some(14)
    );
    assert_eq!(stats["websocket"]["accepted"], 0);
}

#[tokio::test]
async fn store_failure_degrades_and_blocks_readiness() {
    let probes = Probes {
        store: Some(Box::new(
            || json!({ "ok": false, "last_error": "disk full", "saves": 3, "failures": 1, "recoveries": 2 }),
        )),
        osc: Some(Box::new(|| json!({ "fresh": true, "datagrams": 42 }))),
        servers: None,
        cluster: None,
    };
    let r = rig(ServerConfig::default(), probes).await;
    r.state.startup_complete.store(true, Ordering::Release);
    let ready = wait_http(&r.base, "/health/ready", |a| {
        !body_json(a)["reasons"].to_string().contains("CasparCG")
    })
    .await;
    assert_eq!(ready.status, 503);
    assert_eq!(
        body_json(&ready)["reasons"],
        json!(["store not writable: disk full"])
    );
    let doc = body_json(&http(&r.base, "/health", &[]).await);
    assert_eq!(doc["status"], "degraded");
    assert_eq!(doc["reasons"], json!(["store failing: disk full"]));
    assert_eq!(doc["store"]["saves"], 3);
    assert_eq!(doc["osc"]["datagrams"], 42);
    let metrics = String::from_utf8_lossy(&http(&r.base, "/metrics", &[]).await.body).into_owned();
    for line in [
        "onair_store_ok 0",
        "onair_store_saves_total 3",
        "onair_store_failures_total 1",
        "onair_store_recoveries_total 2",
        "onair_osc_fresh 1",
        "onair_osc_datagrams_total 42",
        "onair_health_status 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing:\n{metrics}"
        );
    }
}

/// `name{labels} value` with a valid metric name, balanced quoted label values and a number.
fn is_sample(line: &str) -> bool {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    let name_ok = name.chars().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
    });
    if name.is_empty() || !name_ok {
        return false;
    }
    let mut rest = &line[name_end..];
    if let Some(labels) = rest.strip_prefix('{') {
        let mut chars = labels.char_indices();
        let mut in_quotes = false;
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if in_quotes => {
                    chars.next();
                }
                '"' => in_quotes = !in_quotes,
                '}' if !in_quotes => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else { return false };
        let pairs = &labels[..end];
        if !pairs
            .split("\",")
            .all(|p| p.is_empty() || p.contains("=\""))
        {
            return false;
        }
        rest = &labels[end + 1..];
    }
    let Some(value) = rest.strip_prefix(' ') else {
        return false;
    };
    matches!(value, "+Inf" | "-Inf" | "NaN") || value.parse::<f64>().is_ok()
}

#[tokio::test]
async fn metrics_are_valid_exposition_behind_the_token() {
    let config = ServerConfig {
        metrics_token: Some("s3cret".to_owned()),
        ..ServerConfig::default()
    };
    let r = ready_rig(config, Probes::default()).await;
    take(&r).await;
    let denied = http(&r.base, "/metrics", &[]).await;
    assert_eq!(denied.status, 401);
    assert!(
        denied
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer"))
    );
    let wrong = http(&r.base, "/metrics", &[("Authorization", "Bearer s3cre")]).await;
    assert_eq!(wrong.status, 401);
    assert!(!String::from_utf8_lossy(&wrong.body).contains("s3cret"));
    let ok = http(&r.base, "/metrics", &[("Authorization", "Bearer s3cret")]).await;
    assert_eq!(ok.status, 200);
    assert!(
        ok.header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text"))
    );
    let text = String::from_utf8(ok.body).expect("UTF-8");
    for line in text.lines() {
        assert!(
            line.starts_with("# ") || is_sample(line),
            "bad line {line:?} in:\n{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"));
    for name in [
        "onair_build_info{version=",
        "onair_health_status 0",
        "onair_startup_complete 1",
        "onair_uptime_seconds ",
        "onair_caspar_link_up{server=\"main\"} 1",
        "onair_caspar_connects_total{server=\"main\"} 1",
        "onair_caspar_connect_attempts_total{server=\"main\"} ",
        "onair_caspar_disconnects_total{server=\"main\",reason=\"ping_timeout\"} 0",
        "onair_caspar_replies_total{server=\"main\",code=\"201\"} ",
        "onair_caspar_timeouts_total{server=\"main\"} 0",
        "onair_caspar_late_replies_total{server=\"main\"} 0",
        "onair_caspar_overloaded_total{server=\"main\"} 0",
        "onair_caspar_connection_lost_total{server=\"main\"} 0",
        "onair_caspar_not_connected_total{server=\"main\"} ",
        "onair_caspar_in_flight{server=\"main\"} ",
        "onair_caspar_waiting{server=\"main\"} 0",
        "onair_caspar_rtt_seconds_bucket{le=\"0.001\",server=\"main\"} ",
        "onair_caspar_rtt_seconds_sum{server=\"main\"} ",
        "onair_server_in_step{server=\"main\",role=\"main\"} 1",
        "onair_server_lead{server=\"main\"} 1",
        "onair_telemetry_fresh 1",
        "onair_playlist_playing{playlist=\"main\"} 1",
        "onair_playlist_rundown_remaining_seconds{playlist=\"main\"} ",
        "onair_alarms_active{severity=\"critical\"} 0",
        "onair_ws_clients 0",
        "onair_ws_accepted_total 0",
        "onair_ws_rejected_total 0",
        "onair_ws_messages_in_total 0",
        "onair_ws_messages_out_total 0",
        "onair_ws_dropped_total 0",
        "onair_ws_resyncs_total 0",
        "onair_ws_kicked_total 0",
        "onair_ws_commands_total 0",
        "onair_ws_command_errors_total 0",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{text}"
        );
    }
    if cfg!(target_os = "linux") {
        assert!(
            text.contains("\nonair_process_resident_memory_bytes "),
            "{text}"
        );
    }
    // The histogram is consistent: +Inf bucket == count, buckets never decrease.
    let value = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{prefix} missing"))
    };
    let count = value("onair_caspar_rtt_seconds_count{server=\"main\"} ");
    assert!(count > 0.0);
    assert_eq!(
        value("onair_caspar_rtt_seconds_bucket{le=\"+Inf\",server=\"main\"} "),
        count
    );
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("onair_caspar_rtt_seconds_bucket"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert_eq!(buckets.len(), 15);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
}

#[tokio::test]
async fn metrics_are_open_without_a_token_and_the_page_is_html() {
    let r = rig(ServerConfig::default(), Probes::default()).await;
    let m = http(&r.base, "/metrics", &[]).await;
    assert_eq!(m.status, 200);
    assert!(String::from_utf8_lossy(&m.body).contains("onair_startup_complete 0"));
    let page = http(&r.base, "/", &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("href=\"/health\"") && html.contains("href=\"/metrics\""));
}

#[tokio::test]
async fn onair_health_exit_codes() {
    let r = ready_rig(ServerConfig::default(), Probes::default()).await;
    let (code, line) = check(&r.base).await;
    assert_eq!(code, 0, "{line}");
    assert!(
        line.starts_with("ONAIR OK - CasparCG 2.4")
            && line.contains("connected, 0 playlists playing, 0 alarms | uptime="),
        "{line}"
    );
    let (code, out) = onair::health::check(&r.base, Duration::from_secs(5), true, None).await;
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("JSON")["status"],
        "ok"
    );
    // A URL that already names /health works too.
    assert_eq!(check(&format!("{}/health", r.base)).await.0, 0);
    assert_eq!(check(&format!("{}/health/", r.base)).await.0, 0);

    // The real binary, once: prints the line, exits 0.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_onair"))
        .args(["health", "--url", &r.base, "--timeout", "5s"])
        .output()
        .await
        .expect("run onair health");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with("ONAIR OK - ") && stdout.ends_with('\n'),
        "{stdout}"
    );

    // Nothing listens: CRITICAL.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr")
    };
    let (code, line) = check(&format!("http://{closed}")).await;
    assert_eq!(code, 2, "{line}");
    assert!(line.starts_with("ONAIR CRITICAL - "), "{line}");

    // Accepts but never answers: CRITICAL within the timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    let started = Instant::now();
    let (code, line) = onair::health::check(&silent_url, 300 * MS, false, None).await;
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("no answer"), "{line}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(silent);

    // Something else answers: UNKNOWN, unless it is a gateway error (the daemon behind is down).
    let other = serve(
        Router::new()
            .route("/health", get(|| async { "hello, I am not onair" }))
            .route(
                "/x/health",
                get(|| async { axum::Json(json!({ "status": "fine" })) }),
            )
            .route(
                "/y/health",
                get(|| async { (StatusCode::BAD_GATEWAY, "bad gateway") }),
            ),
    )
    .await;
    let (code, line) = check(&other).await;
    assert_eq!(code, 3, "{line}");
    assert!(
        line.starts_with("ONAIR UNKNOWN - ") && line.contains("HTTP 200"),
        "{line}"
    );
    assert_eq!(check(&format!("{other}/x")).await.0, 3);
    assert_eq!(check(&format!("{other}/y")).await.0, 2);
    let garbage = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let garbage_url = format!("http://{}", garbage.local_addr().expect("addr"));
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        if let Ok((mut s, _)) = garbage.accept().await {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        }
    });
    assert_eq!(check(&garbage_url).await.0, 3);
}
