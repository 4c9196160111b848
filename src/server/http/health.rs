//! What the daemon's state means for health: the status (`ok` / `degraded` / `down`) with its reasons,
//! readiness, and the `/health` and `stats` JSON documents.
//!
//! HealthStatus rules (also in `docs/operations.md`):
//! - `down`: start-up has not completed, the daemon is shutting down, or the playout engine task has
//!   stopped. The daemon cannot do its job, so a load balancer or supervisor should act.
//! - `degraded`: no CasparCG server is connected, a playing playlist's telemetry is stale, a critical
//!   alarm is active, the store probe reports a failure, or (cluster mode) NATS is not connected; with a main/backup pair, also a side
//!   that is not connected or not in step, or a `drift` alarm (see [`super::servers`]). The daemon
//!   works and keeps trying; a human should look. Other warning alarms do not degrade.
//! - `ok`: none of the above.
//!
//! Probe JSON keys read here (the daemon's probes may carry more; they are passed through as is):
//! store `ok` (bool), `writable` (bool), `last_error` (string). Either flag `false` is a failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::servers::{self, ServerCheck};
use crate::protocol::link::{LinkReport, LinkStats, LinkStatus};
use crate::protocol::{
    Alarm, PlaylistView, Progress, ProgressMap, Severity, Snapshot, Status as PlayStatus,
};
use crate::server::listen::HttpStats;
use crate::server::{AppState, WsStats};

/// The daemon's overall health, as in `/health`'s `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    Ok,
    Degraded,
    Down,
}

impl HealthStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Ok => "ok",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Down => "down",
        }
    }

    /// 0, 1, 2: the same order as the `onair health` exit codes, for the metric.
    pub(super) fn level(self) -> u8 {
        match self {
            HealthStatus::Ok => 0,
            HealthStatus::Degraded => 1,
            HealthStatus::Down => 2,
        }
    }
}

/// One reading of every health input, so a document is internally consistent.
pub(super) struct Checks {
    pub startup_complete: bool,
    pub shutting_down: bool,
    pub engine_running: bool,
    /// The main server's link (the `caspar` section): the first of `servers`' readings.
    pub main: LinkReport,
    /// Every CasparCG server, the main first.
    pub servers: Vec<ServerCheck>,
    pub snapshot: Arc<Snapshot>,
    /// Latest progress: the snapshot's copy is only refreshed on events, this one several times a second.
    pub progress: Arc<ProgressMap>,
    /// Ids of playing playlists whose telemetry is stale.
    pub stale: Vec<String>,
    pub store: Option<Value>,
    pub osc: Option<Value>,
    /// The leader lease, in cluster mode (see [`super::cluster`]).
    pub cluster: Option<Value>,
}

impl Checks {
    pub fn gather(state: &AppState) -> Checks {
        let snapshot = state.engine.snapshot();
        let progress = state.engine.watch_progress().borrow().clone();
        // A playing playlist without a progress entry yet (just taken) is not evidence of staleness.
        let stale = snapshot
            .playlists
            .iter()
            .filter(|v| v.playout.status == PlayStatus::Playing)
            .filter(|v| progress.get(&v.playlist.id).is_some_and(|p| !p.fresh))
            .map(|v| v.playlist.id.clone())
            .collect();
        // One reading of every link, the main's `caspar` section included, so that the document
        // and a scrape agree with themselves. Without the servers probe, the main's link alone,
        // under the name the engine gives it.
        let views = &snapshot.link.servers;
        let reports = match state.probes.servers.as_ref().map(|f| f()) {
            Some(r) if !r.is_empty() => r,
            _ => {
                let name = views.first().map_or("main", |v| v.name.as_str());
                vec![(name.to_owned(), (state.link)())]
            }
        };
        let main = reports.first().map(|(_, r)| r.clone()).unwrap_or_default();
        let servers = servers::gather(reports, views);
        Checks {
            startup_complete: state.startup_complete.load(Ordering::Acquire),
            shutting_down: state.shutdown.is_cancelled(),
            engine_running: !state.engine.tx.is_closed(),
            main,
            servers,
            snapshot,
            progress,
            stale,
            store: state.probes.store.as_ref().map(|f| f()),
            osc: state.probes.osc.as_ref().map(|f| f()),
            cluster: state.probes.cluster.as_ref().map(|f| f()),
        }
    }

    fn down_reasons(&self) -> Vec<String> {
        let mut r = Vec::new();
        if !self.startup_complete {
            r.push("start-up not complete".to_owned());
        }
        if self.shutting_down {
            r.push("shutting down".to_owned());
        }
        if !self.engine_running {
            r.push("playout engine stopped".to_owned());
        }
        r
    }

    /// The status and why it is not `ok` (empty when it is). Without `detail` the reasons name no
    /// playlist, alarm text, address or path: what an anonymous caller may read when tokens are
    /// configured.
    pub fn status(&self, detail: bool) -> (HealthStatus, Vec<String>) {
        let down = self.down_reasons();
        if !down.is_empty() {
            return (HealthStatus::Down, down);
        }
        let mut r = Vec::new();
        r.extend(servers::none_connected(&self.servers, detail));
        servers::pair_reasons(&self.servers, detail, &mut r);
        self.stale_reason(detail, &mut r);
        self.drift_reason(detail, &mut r);
        let critical: Vec<&Alarm> = self
            .snapshot
            .alarms
            .iter()
            .filter(|a| a.severity == Severity::Critical)
            .collect();
        if let Some(first) = critical.first() {
            if detail {
                let more = match critical.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                };
                r.push(format!("critical alarm: {}{more}", first.message));
            } else {
                r.push(format!("critical alarms: {}", critical.len()));
            }
        }
        super::cluster::reasons(self.cluster.as_ref(), &mut r);
        if let Some(e) = self.store.as_ref().and_then(store_failure) {
            r.push(if detail {
                format!("store failing: {e}")
            } else {
                "store failing".to_owned()
            });
        }
        let status = if r.is_empty() {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        };
        (status, r)
    }

    /// A backup drifting beyond `playout.max_drift_frames`: the engine's `drift` alarm (a warning)
    /// is the one place that limit is known. The pair plays on, but a switch to the backup would
    /// jump by that many frames.
    fn drift_reason(&self, detail: bool, r: &mut Vec<String>) {
        let drift = self.snapshot.alarms.iter().filter(|a| a.kind == "drift");
        for alarm in drift {
            r.push(if detail {
                alarm.message.clone()
            } else {
                "backup server drifting".to_owned()
            });
        }
    }

    fn stale_reason(&self, detail: bool, r: &mut Vec<String>) {
        if !self.stale.is_empty() {
            r.push(if detail {
                format!("telemetry stale: {}", self.stale.join(", "))
            } else {
                format!(
                    "telemetry stale on {} playing playlist(s)",
                    self.stale.len()
                )
            });
        }
    }

    /// Why the daemon is not ready to serve playout (empty when it is); `detail` as in
    /// [`Checks::status`].
    pub fn not_ready(&self, detail: bool) -> Vec<String> {
        let mut r = Vec::new();
        if !self.startup_complete {
            r.push("playlists not loaded (start-up not complete)".to_owned());
        }
        if self.shutting_down {
            r.push("shutting down".to_owned());
        }
        if !self.engine_running {
            r.push("playout engine stopped".to_owned());
        }
        // One side of a pair is enough to play out: only no server at all makes the daemon unready.
        r.extend(servers::none_connected(&self.servers, detail));
        self.stale_reason(detail, &mut r);
        if let Some(e) = self.store.as_ref().and_then(store_failure) {
            r.push(if detail {
                format!("store not writable: {e}")
            } else {
                "store not writable".to_owned()
            });
        }
        r
    }
}

/// `Some(detail)` when the store probe reports a failure: its `last_error`, or a generic text.
fn store_failure(store: &Value) -> Option<String> {
    let flag = |k: &str| store.get(k).and_then(Value::as_bool);
    if flag("ok") != Some(false) && flag("writable") != Some(false) {
        return None;
    }
    Some(match store.get("last_error").and_then(Value::as_str) {
        Some(e) => e.to_owned(),
        None => "the last save failed".to_owned(),
    })
}

pub(super) fn link_desc(link: &LinkStatus) -> String {
    match link {
        LinkStatus::Connected { .. } => "connected".to_owned(),
        LinkStatus::Connecting { attempt } => format!("connecting, attempt {attempt}"),
        LinkStatus::Disconnected { reason, .. } => format!("down: {reason}"),
    }
}

/// What `GET /health` shows a caller without a token when tokens are configured: the status and
/// content-free reasons, nothing about playlists, clips or titles.
pub fn public_health_document(state: &AppState) -> Value {
    let (status, reasons) = Checks::gather(state).status(false);
    json!({ "status": status.as_str(), "reasons": reasons, "restricted": true })
}

/// The full health document (`GET /health`, WebSocket op `health`).
pub fn health_document(state: &AppState) -> Value {
    let checks = Checks::gather(state);
    let (status, reasons) = checks.status(true);
    let snap = &checks.snapshot;
    let mut doc = json!({
        "status": status.as_str(),
        "reasons": reasons,
        "uptime_seconds": state.started_at.elapsed().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
        "boot_id": state.boot_id,
        "startup_complete": checks.startup_complete,
        "caspar": caspar_section(&checks.main.status, &checks.main.stats),
        "servers": servers::section(&checks.servers),
        "telemetry": {
            "source": snap.link.telemetry,
            "fresh": checks.stale.is_empty(),
            "stale_playlists": checks.stale,
        },
        "websocket": ws_section(&state.ws),
        "http": http_section(&state.http),
        "playout": playout_section(snap, &checks.progress),
        "store": checks.store.clone().unwrap_or(Value::Null),
        "osc": checks.osc.clone().unwrap_or(Value::Null),
        "alarms": alarms_section(&snap.alarms),
        "memory": { "rss_bytes": rss_bytes() },
    });
    // Absent, not null, without cluster mode: a single daemon has no role.
    if let (Some(cluster), Value::Object(m)) = (&checks.cluster, &mut doc) {
        m.insert("cluster".into(), super::cluster::section(cluster));
    }
    doc
}

/// Counters for the WebSocket op `stats`: the AMCP link's statistics, WebSocket counters, probes.
pub fn stats_document(state: &AppState) -> Value {
    let link = (state.link)();
    let mut caspar = serde_json::to_value(&link.stats).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut caspar {
        // Makes `rtt_buckets` readable on its own: entry i counts round trips <= bound i.
        m.insert(
            "rtt_bucket_bounds_seconds".into(),
            json!(link.stats.rtt_bounds_seconds),
        );
        m.insert("connected".into(), json!(link.status.is_connected()));
    }
    json!({
        "uptime_seconds": state.started_at.elapsed().as_secs(),
        "boot_id": state.boot_id,
        "caspar": caspar,
        "websocket": ws_section(&state.ws),
        "http": http_section(&state.http),
        "store": state.probes.store.as_ref().map(|f| f()),
        "osc": state.probes.osc.as_ref().map(|f| f()),
    })
}

pub(super) fn caspar_section(link: &LinkStatus, s: &LinkStats) -> Value {
    let (server_version, since, req) = match link {
        LinkStatus::Connected {
            server_version,
            since,
            req_supported,
        } => (
            Some(server_version.as_str()),
            Some(*since),
            Some(*req_supported),
        ),
        LinkStatus::Disconnected { since, .. } => (None, Some(*since), None),
        LinkStatus::Connecting { .. } => (None, None, None),
    };
    json!({
        "connected": link.is_connected(),
        "state": link_desc(link),
        "since_ms": since.map(crate::schedule::unix_ms),
        "server_version": server_version,
        "req_supported": req,
        "rtt": rtt_summary(s),
        "reconnects": s.connects.saturating_sub(1),
        "connect_attempts": s.connect_attempts,
        "in_flight": s.in_flight,
        "waiting": s.waiting,
        "timeouts": s.timeouts,
        "overloaded": s.overloaded,
        "last_error": s.last_error,
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn rtt_summary(s: &LinkStats) -> Value {
    let samples = s.rtt_buckets.last().copied().unwrap_or(0);
    let ms = |secs: f64| round3(secs * 1000.0);
    let mean = (s.rtt_count > 0).then(|| ms(s.rtt_sum_seconds / s.rtt_count as f64));
    json!({
        "samples": samples,
        "mean_ms": mean,
        "p50_ms": quantile(&s.rtt_buckets, &s.rtt_bounds_seconds, 0.5).map(ms),
        "p99_ms": quantile(&s.rtt_buckets, &s.rtt_bounds_seconds, 0.99).map(ms),
    })
}

/// Estimates a quantile from cumulative bucket counts by linear interpolation inside the bucket, as
/// Prometheus' `histogram_quantile` does; the `+Inf` bucket answers with the largest finite bound.
/// `bounds` are the buckets' upper bounds (one fewer than `cumulative`, which ends with `+Inf`).
pub(super) fn quantile(cumulative: &[u64], bounds: &[f64], q: f64) -> Option<f64> {
    let total = *cumulative.last()?;
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let (mut prev, mut lower) = (0u64, 0.0);
    for (i, &cum) in cumulative.iter().enumerate() {
        let Some(&upper) = bounds.get(i) else {
            break;
        };
        if cum > prev && cum as f64 >= rank {
            let frac = (rank - prev as f64) / (cum - prev) as f64;
            return Some(lower + (upper - lower) * frac.clamp(0.0, 1.0));
        }
        prev = prev.max(cum);
        lower = upper;
    }
    bounds.last().copied()
}

fn ws_section(ws: &WsStats) -> Value {
    let v = |c: &AtomicU64| c.load(Ordering::Relaxed);
    json!({
        "clients": v(&ws.clients),
        "accepted": v(&ws.accepted),
        "rejected": v(&ws.rejected),
        "messages_in": v(&ws.messages_in),
        "messages_out": v(&ws.messages_out),
        "dropped": v(&ws.dropped),
        "resyncs": v(&ws.resyncs),
        "kicked": v(&ws.kicked),
        "commands": v(&ws.commands),
        "command_errors": v(&ws.command_errors),
    })
}

fn http_section(http: &HttpStats) -> Value {
    let v = |c: &AtomicU64| c.load(Ordering::Relaxed);
    json!({
        "connections": v(&http.open),
        "accepted": v(&http.accepted),
        "shed": v(&http.shed),
        "refused": v(&http.refused),
        "misdirected": v(&http.misdirected),
        "accept_errors": v(&http.accept_errors),
    })
}

fn playout_section(snap: &Snapshot, progress: &ProgressMap) -> Value {
    let playing = snap
        .playlists
        .iter()
        .filter(|v| v.playout.status == PlayStatus::Playing)
        .count();
    let playlists: Vec<Value> = snap
        .playlists
        .iter()
        .map(|v| playlist_entry(v, progress.get(&v.playlist.id)))
        .collect();
    json!({ "selected": snap.selected, "playing": playing, "playlists": playlists })
}

fn playlist_entry(view: &PlaylistView, progress: Option<&Progress>) -> Value {
    let pl = &view.playlist;
    let p = &view.playout;
    let item = |id: Option<&str>| {
        id.map(|id| match pl.item(id) {
            Some(i) => json!({ "item": i.id, "clip": i.clip, "title": i.title }),
            None => json!({ "item": id }),
        })
    };
    json!({
        "id": pl.id,
        "name": pl.name,
        "channel_layer": pl.channel_layer.to_string(),
        "status": p.status,
        "on_air": item(p.on_air.as_deref()),
        "on_air_since_ms": p.on_air_since_ms,
        "cued": item(p.cued.as_deref()),
        "armed_auto": p.armed_auto,
        "next": item(p.next.as_deref()),
        "elapsed": progress.map(|x| round3(x.elapsed)),
        "remaining": progress.map(|x| round3(x.remaining)),
        "rundown_remaining": progress.map(|x| round3(x.rundown_remaining)),
        "telemetry_fresh": progress.map(|x| x.fresh),
        "items": pl.items.len(),
        "missing_clips": view.missing.len(),
    })
}

fn alarms_section(alarms: &[Alarm]) -> Value {
    let count = |s: Severity| alarms.iter().filter(|a| a.severity == s).count();
    json!({
        "count": alarms.len(),
        "critical": count(Severity::Critical),
        "warning": count(Severity::Warning),
        "list": alarms,
    })
}

/// Resident set size of this process; `None` where `/proc` is not available.
pub(super) fn rss_bytes() -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    // `VmRSS:     12345 kB`; statm would need the page size, which std does not expose.
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
