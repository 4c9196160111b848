//! What `/health` and `/metrics` read of the daemon's parts, on demand: the store, every
//! server's link, the OSC listeners.

use crate::caspar::osc::OscTelemetry;
use crate::caspar::{CasparHandle, LinkState, RTT_BUCKETS, StatsSnapshot};
use crate::playout::store::StoreWriter;
use crate::protocol::link::{LinkReport, LinkStats, LinkStatus};
use crate::server;

/// The store part of `/health` and `/metrics`.
pub(super) fn store_probe(
    writer: StoreWriter,
    recoveries: u64,
) -> Box<dyn Fn() -> serde_json::Value + Send + Sync> {
    Box::new(move || {
        let stats = writer.stats();
        serde_json::json!({
            "ok": stats.last_error.is_none(),
            "writable": stats.last_error.is_none(),
            "last_error": stats.last_error,
            "saves": stats.saves,
            "writes": stats.writes,
            "coalesced": stats.coalesced,
            "failures": stats.failures,
            "recoveries": recoveries,
            "last_save_ms": stats.last_save_duration.map(|d| d.as_secs_f64() * 1000.0),
        })
    })
}

/// Every server's link (the main first), for `/health` and `/metrics`.
pub(super) fn servers_probe(links: Vec<(String, CasparHandle)>) -> server::ServersProbe {
    Box::new(move || {
        links
            .iter()
            .map(|(name, c)| (name.clone(), link_report(&c.state(), c.stats())))
            .collect()
    })
}

/// The AMCP link as the HTTP and WebSocket surfaces see it: its state and counters, read on demand.
pub fn link_probe(caspar: CasparHandle) -> server::LinkProbe {
    Box::new(move || link_report(&caspar.state(), caspar.stats()))
}

fn link_report(state: &LinkState, s: StatsSnapshot) -> LinkReport {
    let status = match state {
        LinkState::Connecting { attempt } => LinkStatus::Connecting { attempt: *attempt },
        LinkState::Connected {
            server_version,
            since,
            req_supported,
        } => LinkStatus::Connected {
            server_version: server_version.clone(),
            since: *since,
            req_supported: *req_supported,
        },
        LinkState::Disconnected { reason, since } => LinkStatus::Disconnected {
            reason: reason.to_string(),
            since: *since,
        },
    };
    let stats = LinkStats {
        connects: s.connects,
        connect_attempts: s.connect_attempts,
        disconnects: s
            .disconnects
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        replies_by_code: s.replies_by_code,
        timeouts: s.timeouts,
        late_replies: s.late_replies,
        overloaded: s.overloaded,
        connection_lost: s.connection_lost,
        not_connected: s.not_connected,
        in_flight: s.in_flight,
        waiting: s.waiting,
        rtt_buckets: s.rtt_buckets,
        rtt_sum_seconds: s.rtt_sum_seconds,
        rtt_count: s.rtt_count,
        last_error: s.last_error,
        rtt_bounds_seconds: RTT_BUCKETS.to_vec(),
    };
    LinkReport { status, stats }
}

/// The OSC part of `/health` and `/metrics`.
pub(super) fn osc_probe(osc: OscTelemetry) -> Box<dyn Fn() -> serde_json::Value + Send + Sync> {
    Box::new(move || {
        let stats = osc.stats();
        let state = osc.latest();
        serde_json::json!({
            "listen": osc.local_addr().to_string(),
            "fresh": state.channels.values().any(|c| !c.stale),
            "datagrams": stats.datagrams,
            "decode_errors": stats.decode_errors,
        })
    })
}
