//! What the daemon's state means for health: the status (`ok` / `degraded` / `down`) with its reasons,
//! readiness, and the `/health` and `stats` JSON documents.
//!
//! HealthStatus rules (also in `docs/operations.md`):
//! - `down`: start-up has not completed, the daemon is shutting down, or the playout engine task has
//!   stopped. The daemon cannot do its job, so a load balancer or supervisor should act.
//! - `degraded`: CasparCG is not connected, a playing playlist's telemetry is stale, a critical alarm
//!   is active, or the store probe reports a failure. The daemon works and keeps trying; a human
//!   should look. Warning alarms alone do not degrade.
//! - `ok`: none of the above.
//!
//! Probe JSON keys read here (the daemon's probes may carry more; they are passed through as is):
//! store `ok` (bool), `writable` (bool), `last_error` (string). Either flag `false` is a failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::protocol::link::{LinkStats, LinkStatus};
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
    pub link: LinkStatus,
    /// The link's counters, read together with its state.
    pub link_stats: LinkStats,
    pub snapshot: Arc<Snapshot>,
    /// Latest progress: the snapshot's copy is only refreshed on events, this one several times a second.
    pub progress: Arc<ProgressMap>,
    /// Ids of playing playlists whose telemetry is stale.
    pub stale: Vec<String>,
    pub store: Option<Value>,
    pub osc: Option<Value>,
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
        let link = (state.link)();
        Checks {
            startup_complete: state.startup_complete.load(Ordering::Acquire),
            shutting_down: state.shutdown.is_cancelled(),
            engine_running: !state.engine.tx.is_closed(),
            link: link.status,
            link_stats: link.stats,
            snapshot,
            progress,
            stale,
            store: state.probes.store.as_ref().map(|f| f()),
            osc: state.probes.osc.as_ref().map(|f| f()),
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
        self.link_reason(detail, &mut r);
        self.stale_reason(detail, &mut r);
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

    fn link_reason(&self, detail: bool, r: &mut Vec<String>) {
        if !self.link.is_connected() {
            r.push(if detail {
                format!("CasparCG not connected ({})", link_desc(&self.link))
            } else {
                "CasparCG not connected".to_owned()
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
        self.link_reason(detail, &mut r);
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

fn link_desc(link: &LinkStatus) -> String {
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
    json!({
        "status": status.as_str(),
        "reasons": reasons,
        "uptime_seconds": state.started_at.elapsed().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
        "boot_id": state.boot_id,
        "startup_complete": checks.startup_complete,
        "caspar": caspar_section(&checks.link, &checks.link_stats),
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
    })
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

fn caspar_section(link: &LinkStatus, s: &LinkStats) -> Value {
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
mod tests {
    use super::*;

    const BOUNDS: [f64; 14] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
    ];

    fn cumulative(per_bucket: &[u64]) -> Vec<u64> {
        per_bucket
            .iter()
            .scan(0, |acc, n| {
                *acc += n;
                Some(*acc)
            })
            .collect()
    }

    #[test]
    fn quantile_interpolates_inside_the_bucket() {
        // 10 samples, all in (0.5 ms, 1 ms].
        let mut b = vec![0u64; BOUNDS.len() + 1];
        b[3] = 10;
        let c = cumulative(&b);
        let p50 = quantile(&c, &BOUNDS, 0.5).unwrap();
        assert!((p50 - 0.00075).abs() < 1e-9, "{p50}");
        assert_eq!(quantile(&[0; 15], &BOUNDS, 0.5), None);
        assert_eq!(quantile(&[], &BOUNDS, 0.5), None);
    }

    #[test]
    fn quantile_in_the_inf_bucket_is_the_largest_bound() {
        let mut b = vec![0u64; BOUNDS.len() + 1];
        b[BOUNDS.len()] = 3;
        assert_eq!(quantile(&cumulative(&b), &BOUNDS, 0.99), Some(5.0));
    }

    #[test]
    fn store_probe_failure_is_read_from_ok_or_writable() {
        assert_eq!(store_failure(&json!({ "ok": true, "saves": 3 })), None);
        assert_eq!(store_failure(&json!({})), None);
        assert_eq!(
            store_failure(&json!({ "ok": false, "last_error": "disk full" })).as_deref(),
            Some("disk full")
        );
        assert!(store_failure(&json!({ "writable": false })).is_some());
    }

    #[test]
    fn rss_is_known_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(rss_bytes().is_some_and(|b| b > 0));
        }
    }
}
