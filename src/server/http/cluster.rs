//! Cluster mode (the leader lease) in `/health` and `/metrics`, from the daemon's `cluster` probe.
//!
//! Probe keys read: `node`, `role` (`leader` / `follower` / `unknown`), `term`, `leader`,
//! `leader_address`, `connected` (bool), `last_renewal_ms_ago`, `renewals_ok`, `renewals_failed`,
//! `takeovers` (numbers), `ready_to_lead` (bool), `journal` (the replicated journal's stats). A follower is healthy: it is what the second node of a station is for.
//! A node without its NATS connection is degraded: it can neither lead nor take over.

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use serde_json::{Value, json};

use super::metrics::family;

/// `/health`'s `cluster` object.
pub(super) fn section(probe: &Value) -> Value {
    let key = |k: &str| probe.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "node": key("node"),
        "role": key("role"),
        "term": key("term"),
        "leader": key("leader"),
        "leader_address": key("leader_address"),
        "nats_connected": key("connected"),
        "last_renewal_ms_ago": key("last_renewal_ms_ago"),
        "ready_to_lead": key("ready_to_lead"),
        "journal": key("journal"),
    })
}

/// Why cluster mode degrades the status (nothing when it does not).
pub(super) fn reasons(probe: Option<&Value>, r: &mut Vec<String>) {
    let Some(probe) = probe else { return };
    if probe.get("connected").and_then(Value::as_bool) == Some(false) {
        r.push("not connected to NATS: this node can neither lead nor take over".to_owned());
    }
}

/// `onair_lease_role`, `onair_lease_renewals_total{result}`, `onair_lease_takeovers_total`.
pub(super) fn encode(e: &mut DescriptorEncoder, probe: Option<&Value>) -> fmt::Result {
    let Some(probe) = probe else { return Ok(()) };
    let n = |k: &str| probe.get(k).and_then(Value::as_u64).unwrap_or(0);
    let role = match probe.get("role").and_then(Value::as_str) {
        Some("leader") => 2,
        Some("follower") => 1,
        _ => 0,
    };
    let help = "This node's part in the station: 0 unknown (no NATS), 1 follower, 2 leader.";
    family(
        e,
        ("onair_lease_role", help, None, MetricType::Gauge),
        [(Vec::new(), ConstGauge::new(role as i64))],
    )?;
    let help = "Leader lease renewals by this node, by result (failed: refused or unanswered).";
    let renewals = [("ok", n("renewals_ok")), ("failed", n("renewals_failed"))]
        .map(|(result, v)| (vec![("result", result)], ConstCounter::new(v)));
    family(
        e,
        ("onair_lease_renewals", help, None, MetricType::Counter),
        renewals,
    )?;
    let help = "Times this node won the leader lease.";
    family(
        e,
        ("onair_lease_takeovers", help, None, MetricType::Counter),
        [(Vec::new(), ConstCounter::new(n("takeovers")))],
    )?;
    let journal = |k: &str| {
        probe
            .get("journal")
            .and_then(|j| j.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0) as i64
    };
    let help = "The station's replicated journal: its last sequence as this node last saw it.";
    family(
        e,
        ("onair_journal_last_seq", help, None, MetricType::Gauge),
        [(Vec::new(), ConstGauge::new(journal("last_seq")))],
    )?;
    let help = "The last journal sequence this node applied; the difference is its lag in entries.";
    family(
        e,
        ("onair_journal_applied_seq", help, None, MetricType::Gauge),
        [(Vec::new(), ConstGauge::new(journal("applied_seq")))],
    )?;
    let lag = probe
        .get("journal")
        .and_then(|j| j.get("lag_ms"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
        / 1000.0;
    let help = "How long after NATS stored it this node applied the last journal entry \
                (replication lag; the NATS server's clock against this node's).";
    family(
        e,
        ("onair_journal_lag_seconds", help, None, MetricType::Gauge),
        [(Vec::new(), ConstGauge::new(lag))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follower_is_healthy_and_a_node_without_nats_is_not() {
        let mut r = Vec::new();
        reasons(
            Some(&json!({"role": "follower", "connected": true})),
            &mut r,
        );
        reasons(None, &mut r);
        assert!(r.is_empty(), "{r:?}");
        reasons(
            Some(&json!({"role": "unknown", "connected": false})),
            &mut r,
        );
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn the_section_names_the_leader() {
        let s = section(
            &json!({"node": "a", "role": "follower", "term": null, "leader": "b",
            "leader_address": "10.0.0.2:8250", "connected": true, "takeovers": 3}),
        );
        assert_eq!(s["leader"], "b");
        assert_eq!(s["nats_connected"], true);
        assert!(s.get("takeovers").is_none());
    }
}
