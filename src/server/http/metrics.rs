//! `GET /metrics`: Prometheus exposition (OpenMetrics text, via `prometheus-client`), optionally
//! behind a bearer token.
//!
//! The values live elsewhere (link stats, WebSocket atomics, the engine's snapshot, probe closures), so
//! instead of mirroring them into registered metrics, every scrape copies them once into a [`Scrape`]
//! and encodes it with a custom [`Collector`]. That keeps one source of truth, and the round-trip
//! histogram is exported from the link's own cumulative buckets. The per-server families (each
//! CasparCG link, `server` label, and the engine's view of each server) are in [`super::servers`].
//!
//! Store probe keys read: `ok` / `writable` (bool), `saves`, `failures`, `recoveries` (numbers).
//! OSC probe keys read: `fresh` (bool), `datagrams`, `decode_errors` (numbers). Missing keys simply
//! leave their metric out.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use serde_json::Value;

use super::health::{self, Checks};
use super::servers::{self as servers, ServerCheck};
use crate::protocol::{Severity, Status as PlayStatus};
use crate::server::{AppState, access};

/// What Prometheus expects for the OpenMetrics text this encoder writes (`_total`, `# EOF`).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub(super) async fn handler(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let allowed = match &state.config.metrics_token {
        Some(token) => authorized(&headers, token),
        None => true,
    };
    if !allowed {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"onair metrics\""),
            )],
            "unauthorized\n",
        )
            .into_response();
    }
    match render(&state) {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            text,
        )
            .into_response(),
        Err(fmt::Error) => {
            tracing::error!("metrics: encoding failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "metrics encoding failed\n",
            )
                .into_response()
        }
    }
}

/// `Authorization: Bearer <token>`, the scheme case-insensitive, the token compared in constant time.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    access::bearer(headers).is_some_and(|t| access::token_eq(t.as_bytes(), token.as_bytes()))
}

/// The exposition text for the current state.
pub(super) fn render(state: &AppState) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape::gather(state)));
    let mut out = String::with_capacity(8192);
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

/// A metric without labels: name (a counter's without `_total`), help, value.
type Plain<T> = (&'static str, &'static str, T);

/// Every value exported, copied at scrape time.
#[derive(Debug)]
struct Scrape {
    counters: Vec<Plain<u64>>,
    gauges: Vec<Plain<i64>>,
    uptime_seconds: f64,
    rss_bytes: Option<u64>,
    /// Each CasparCG server: its link's reading and the engine's view of it.
    servers: Vec<ServerCheck>,
    /// Per playlist: id, playing, rundown remaining seconds (when playing and known).
    playlists: Vec<(String, bool, Option<f64>)>,
    alarms: [(&'static str, i64); 2],
    /// The leader lease, in cluster mode.
    cluster: Option<Value>,
}

/// Store probe keys exported as counters.
const STORE_COUNTERS: [Plain<&str>; 3] = [
    (
        "onair_store_saves",
        "Playlist saves handled by the store.",
        "saves",
    ),
    ("onair_store_failures", "Failed store writes.", "failures"),
    (
        "onair_store_recoveries",
        "Playlists restored from a backup.",
        "recoveries",
    ),
];

/// OSC probe keys exported as counters.
const OSC_COUNTERS: [Plain<&str>; 2] = [
    (
        "onair_osc_datagrams",
        "OSC datagrams received.",
        "datagrams",
    ),
    (
        "onair_osc_decode_errors",
        "OSC datagrams not decoded.",
        "decode_errors",
    ),
];

impl Scrape {
    fn gather(state: &AppState) -> Scrape {
        let checks = Checks::gather(state);
        let (status, _) = checks.status(false);
        let snap = &checks.snapshot;
        let ws = &state.ws;
        let http = &state.http;
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let g = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let mut counters = vec![
            (
                "onair_ws_accepted",
                "WebSocket connections accepted.",
                c(&ws.accepted),
            ),
            (
                "onair_ws_rejected",
                "WebSocket upgrades refused.",
                c(&ws.rejected),
            ),
            (
                "onair_ws_messages_in",
                "WebSocket messages received.",
                c(&ws.messages_in),
            ),
            (
                "onair_ws_messages_out",
                "WebSocket messages sent.",
                c(&ws.messages_out),
            ),
            (
                "onair_ws_dropped",
                "Messages not delivered to slow clients.",
                c(&ws.dropped),
            ),
            (
                "onair_ws_resyncs",
                "Snapshots sent to resync slow clients.",
                c(&ws.resyncs),
            ),
            (
                "onair_ws_kicked",
                "WebSocket clients disconnected.",
                c(&ws.kicked),
            ),
            (
                "onair_ws_commands",
                "WebSocket commands received.",
                c(&ws.commands),
            ),
            (
                "onair_ws_command_errors",
                "WebSocket commands failed.",
                c(&ws.command_errors),
            ),
            (
                "onair_http_connections_accepted",
                "HTTP connections accepted.",
                c(&http.accepted),
            ),
            (
                "onair_http_connections_shed",
                "Idle HTTP connections closed to make room (connection cap).",
                c(&http.shed),
            ),
            (
                "onair_http_connections_refused",
                "New HTTP connections closed at once: cap reached, none idle.",
                c(&http.refused),
            ),
            (
                "onair_http_misdirected",
                "Requests refused with 421: Host not one of the daemon's names.",
                c(&http.misdirected),
            ),
            (
                "onair_http_accept_errors",
                "Failed accepts (e.g. out of file descriptors).",
                c(&http.accept_errors),
            ),
        ];
        let mut gauges = vec![
            (
                "onair_health_status",
                "0 ok, 1 degraded, 2 down.",
                i64::from(status.level()),
            ),
            (
                "onair_startup_complete",
                "1 once start-up finished.",
                flag(checks.startup_complete),
            ),
            (
                "onair_telemetry_fresh",
                "0 when playing telemetry is stale.",
                flag(checks.stale.is_empty()),
            ),
            (
                "onair_ws_clients",
                "WebSocket clients connected.",
                g(c(&ws.clients)),
            ),
            (
                "onair_http_connections",
                "HTTP connections open (not counting upgraded WebSockets).",
                g(c(&http.open)),
            ),
        ];
        let (store, osc) = (checks.store.as_ref(), checks.osc.as_ref());
        let ok = probe_bool(store, "ok").or(probe_bool(store, "writable"));
        if let Some(ok) = ok {
            gauges.push((
                "onair_store_ok",
                "0 when the store fails to save.",
                flag(ok),
            ));
        }
        if let Some(fresh) = probe_bool(osc, "fresh") {
            gauges.push((
                "onair_osc_fresh",
                "1 while OSC telemetry arrives.",
                flag(fresh),
            ));
        }
        for (probe, table) in [(store, &STORE_COUNTERS[..]), (osc, &OSC_COUNTERS[..])] {
            for (name, help, key) in table {
                if let Some(v) = probe_u64(probe, key) {
                    counters.push((name, help, v));
                }
            }
        }
        let playlists = snap
            .playlists
            .iter()
            .map(|v| {
                let playing = v.playout.status == PlayStatus::Playing;
                let remaining = checks.progress.get(&v.playlist.id).filter(|_| playing);
                (
                    v.playlist.id.clone(),
                    playing,
                    remaining.map(|p| p.rundown_remaining),
                )
            })
            .collect();
        let alarms = |s: Severity| g(snap.alarms.iter().filter(|a| a.severity == s).count() as u64);
        Scrape {
            counters,
            gauges,
            uptime_seconds: state.started_at.elapsed().as_secs_f64(),
            rss_bytes: health::rss_bytes(),
            servers: checks.servers,
            cluster: checks.cluster,
            playlists,
            alarms: [
                ("warning", alarms(Severity::Warning)),
                ("critical", alarms(Severity::Critical)),
            ],
        }
    }
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// A family: its descriptor (name, help, unit, type), then one sample per label set.
pub(super) fn family<'a, M: EncodeMetric>(
    enc: &mut DescriptorEncoder,
    (name, help, unit, kind): (&str, &str, Option<&Unit>, MetricType),
    series: impl IntoIterator<Item = (Vec<(&'a str, &'a str)>, M)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, unit, kind)?;
    for (labels, metric) in series {
        metric.encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Per-bucket counts (what the encoder wants) from the link's cumulative ones, ending with `+Inf`.
pub(super) fn rtt_buckets(cumulative: &[u64], bounds: &[f64]) -> (Vec<(f64, u64)>, u64) {
    let mut out = Vec::with_capacity(bounds.len() + 1);
    let mut prev = 0u64;
    for (i, &cum) in cumulative.iter().enumerate() {
        let upper = bounds.get(i).copied().unwrap_or(f64::INFINITY);
        out.push((upper, cum.saturating_sub(prev)));
        prev = prev.max(cum);
        if upper.is_infinite() {
            break;
        }
    }
    if out.last().is_none_or(|(upper, _)| upper.is_finite()) {
        out.push((f64::INFINITY, 0));
    }
    (out, prev)
}

fn probe_u64(probe: Option<&Value>, key: &str) -> Option<u64> {
    probe?.get(key)?.as_u64()
}

fn probe_bool(probe: Option<&Value>, key: &str) -> Option<bool> {
    probe?.get(key)?.as_bool()
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let e = &mut enc;
        e.encode_descriptor("onair_build", "Build information.", None, MetricType::Info)?
            .encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;
        let uptime = ("onair_uptime", "Seconds since the daemon started.");
        ConstGauge::new(self.uptime_seconds).encode(e.encode_descriptor(
            uptime.0,
            uptime.1,
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?)?;
        if let Some(rss) = self.rss_bytes {
            let (name, help) = ("onair_process_resident_memory", "Resident memory.");
            ConstGauge::new(rss).encode(e.encode_descriptor(
                name,
                help,
                Some(&Unit::Bytes),
                MetricType::Gauge,
            )?)?;
        }
        for (name, help, v) in &self.gauges {
            ConstGauge::new(*v).encode(e.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)?;
        }
        for (name, help, v) in &self.counters {
            ConstCounter::new(*v).encode(e.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)?;
        }

        servers::encode(e, &self.servers)?;
        super::cluster::encode(e, self.cluster.as_ref())?;

        let gauge = MetricType::Gauge;
        let help = "Active alarms by severity.";
        let alarms = self
            .alarms
            .map(|(s, n)| (vec![("severity", s)], ConstGauge::new(n)));
        family(e, ("onair_alarms_active", help, None, gauge), alarms)?;
        let playing = self
            .playlists
            .iter()
            .map(|(id, p, _)| (vec![("playlist", id.as_str())], ConstGauge::new(flag(*p))));
        let help = "1 while the playlist plays.";
        family(e, ("onair_playlist_playing", help, None, gauge), playing)?;
        let remaining = self.playlists.iter().filter_map(|(id, _, r)| {
            Some((vec![("playlist", id.as_str())], ConstGauge::new((*r)?)))
        });
        let name = "onair_playlist_rundown_remaining_seconds";
        let help = "Seconds until a playing playlist runs out.";
        family(e, (name, help, None, gauge), remaining)
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
