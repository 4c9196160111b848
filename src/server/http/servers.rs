//! Each CasparCG server of the station in `/health` and `/metrics`: its AMCP link as the daemon's
//! probe reads it, merged with the engine's view of it (role, lead, in step, drift, catch-up), and
//! what a main/backup pair's state means for the health status.
//!
//! Rules (also in docs/operations.md, "Status rules"): the station is "CasparCG not connected" when
//! a group (a main and its backup, or a lone server) has no server connected; with a pair, a side that is not connected, or connected but not in step,
//! degrades the status with a reason naming that server, but does not make the daemon unready: the
//! other side plays on.

use std::fmt;
use std::time::Duration;

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;
use serde_json::{Value, json};

use super::health::{caspar_section, link_desc};
use super::metrics::{family, rtt_buckets};
use crate::protocol::link::{LinkReport, LinkStats};
use crate::protocol::{ServerRole, ServerView};

/// One server, read once for a document or a scrape.
#[derive(Debug, Clone)]
pub(super) struct ServerCheck {
    pub name: String,
    pub role: ServerRole,
    /// Its link's reading; `None` only for a server the engine drives that no probe reports (not
    /// the daemon's wiring, but a partial probe must not hide a server).
    pub link: Option<LinkReport>,
    /// The engine's view of it; `None` before the engine published its servers.
    pub view: Option<ServerView>,
}

impl ServerCheck {
    /// Whether its AMCP link is up: the link's own reading, which is fresher than the engine's.
    pub fn connected(&self) -> bool {
        match &self.link {
            Some(l) => l.status.is_connected(),
            None => self.view.as_ref().is_some_and(|v| v.connected),
        }
    }

    /// Whether it plays what the station plays, by the engine's account. A server the engine has
    /// not described yet is not held against the station.
    pub fn in_step(&self) -> bool {
        self.view.as_ref().is_none_or(|v| v.connected && v.in_step)
    }

    fn state(&self) -> String {
        match (&self.link, &self.view) {
            (Some(l), _) => link_desc(&l.status),
            (None, Some(v)) => v.state.clone(),
            (None, None) => "unknown".to_owned(),
        }
    }

    /// `backup server "backup"`, as the engine's alarms name it.
    fn label(&self) -> String {
        format!("{} server {:?}", role_name(self.role), self.name)
    }
}

pub(super) fn role_name(role: ServerRole) -> &'static str {
    match role {
        ServerRole::Main => "main",
        ServerRole::Backup => "backup",
    }
}

/// Every server, the main first: each probe reading with the engine's view of the server of that
/// name, then any server the engine drives that the probe did not report.
pub(super) fn gather(reports: Vec<(String, LinkReport)>, views: &[ServerView]) -> Vec<ServerCheck> {
    let view_of = |name: &str| views.iter().find(|v| v.name == name).cloned();
    let mut out: Vec<ServerCheck> = reports
        .into_iter()
        .enumerate()
        .map(|(i, (name, link))| {
            let view = view_of(&name);
            // The probe lists the main first; its role stands when the engine has no view yet.
            let role = view.as_ref().map_or(
                if i == 0 {
                    ServerRole::Main
                } else {
                    ServerRole::Backup
                },
                |v| v.role,
            );
            ServerCheck {
                name,
                role,
                link: Some(link),
                view,
            }
        })
        .collect();
    for v in views {
        if !out.iter().any(|s| s.name == v.name) {
            out.push(ServerCheck {
                name: v.name.clone(),
                role: v.role,
                link: None,
                view: Some(v.clone()),
            });
        }
    }
    out
}

/// The servers by group (a main and its backup, see `ServerView::group`), in order of first
/// appearance. A server the engine has not described yet joins the group of its name (a main) or
/// the first group (a backup).
fn by_group(servers: &[ServerCheck]) -> Vec<Vec<&ServerCheck>> {
    let first = servers.first().map(|s| s.name.as_str()).unwrap_or_default();
    let key = |s: &ServerCheck| -> String {
        match &s.view {
            Some(v) if !v.group.is_empty() => v.group.clone(),
            _ if s.role == ServerRole::Main => s.name.clone(),
            _ => first.to_owned(),
        }
    };
    let mut groups: Vec<(String, Vec<&ServerCheck>)> = Vec::new();
    for s in servers {
        let k = key(s);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, members)) => members.push(s),
            None => groups.push((k, vec![s])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

/// "CasparCG not connected" when a group has no server connected: its channels cannot play out
/// (with one group: the station cannot). Without `detail` the reason names no server or address
/// (what an anonymous caller may read).
pub(super) fn none_connected(servers: &[ServerCheck], detail: bool) -> Option<String> {
    let down: Vec<Vec<&ServerCheck>> = by_group(servers)
        .into_iter()
        .filter(|g| !g.iter().any(|s| s.connected()))
        .collect();
    if down.is_empty() {
        return None;
    }
    if !detail {
        return Some("CasparCG not connected".to_owned());
    }
    let each: Vec<String> = down
        .iter()
        .flatten()
        .map(|s| match servers {
            // One server: the wording scripts have always seen.
            [_] => s.state(),
            _ => format!("{}: {}", s.label(), s.state()),
        })
        .collect();
    Some(format!("CasparCG not connected ({})", each.join("; ")))
}

/// With a pair of which at least one side is up: each side that is down or out of step. The station
/// plays on, but it has lost its redundancy until that side is back in step.
pub(super) fn pair_reasons(servers: &[ServerCheck], detail: bool, r: &mut Vec<String>) {
    for group in by_group(servers) {
        if group.len() < 2 || !group.iter().any(|s| s.connected()) {
            continue;
        }
        for s in group {
            let role = role_name(s.role);
            if !s.connected() {
                r.push(if detail {
                    format!("{} not connected ({})", s.label(), s.state())
                } else {
                    format!("{role} server not connected")
                });
            } else if !s.in_step() {
                r.push(if detail {
                    let note = s.view.as_ref().and_then(|v| v.note.as_deref());
                    // Connected by its link but not yet by the engine's account: it is about to be
                    // brought in step.
                    let note = note.unwrap_or("not brought in step yet");
                    format!("{} out of step: {note}", s.label())
                } else {
                    format!("{role} server out of step")
                });
            }
        }
    }
}

/// The `servers` array of `/health`: each server's link (the same keys as `caspar`) with the
/// engine's view of it.
pub(super) fn section(servers: &[ServerCheck]) -> Value {
    Value::Array(servers.iter().map(entry).collect())
}

fn entry(s: &ServerCheck) -> Value {
    let mut v = match &s.link {
        Some(l) => caspar_section(&l.status, &l.stats),
        None => json!({
            "connected": s.connected(),
            "state": s.state(),
            "server_version": s.view.as_ref().and_then(|v| v.server_version.clone()),
        }),
    };
    let view = s.view.as_ref();
    if let Value::Object(m) = &mut v {
        let mut put = |k: &str, x: Value| {
            m.insert(k.to_owned(), x);
        };
        put("name", json!(s.name));
        put("role", json!(s.role));
        put("address", json!(view.map(|v| &v.address)));
        put("lead", json!(view.map(|v| v.lead)));
        put("in_step", json!(view.map(|v| v.in_step)));
        put("note", json!(view.and_then(|v| v.note.as_ref())));
        put("drift_frames", json!(view.and_then(|v| v.drift_frames)));
        put("resync_ms", json!(view.and_then(|v| v.resync_ms)));
        put("missing", json!(view.map_or(&[][..], |v| &v.missing[..])));
    }
    v
}

/// How a per-link counter is read from the link's statistics.
type Read = fn(&LinkStats) -> u64;

/// The link counters, one series per server (`server` label).
const LINK_COUNTERS: [(&str, &str, Read); 7] = [
    (
        "onair_caspar_connects",
        "Successful AMCP connections.",
        |s| s.connects,
    ),
    (
        "onair_caspar_connect_attempts",
        "AMCP connection attempts.",
        |s| s.connect_attempts,
    ),
    (
        "onair_caspar_timeouts",
        "AMCP commands without a reply in time.",
        |s| s.timeouts,
    ),
    (
        "onair_caspar_late_replies",
        "AMCP replies after their deadline.",
        |s| s.late_replies,
    ),
    (
        "onair_caspar_overloaded",
        "504 QUEUE OVERFLOW replies.",
        |s| s.overloaded,
    ),
    (
        "onair_caspar_connection_lost",
        "Commands lost with the link.",
        |s| s.connection_lost,
    ),
    (
        "onair_caspar_not_connected",
        "Commands refused: link down.",
        |s| s.not_connected,
    ),
];

/// The link gauges, one series per server.
const LINK_GAUGES: [(&str, &str, Read); 2] = [
    (
        "onair_caspar_in_flight",
        "AMCP commands awaiting a reply.",
        |s| s.in_flight,
    ),
    (
        "onair_caspar_waiting",
        "AMCP commands held by flow control.",
        |s| s.waiting,
    ),
];

fn gauge_i64(v: u64) -> ConstGauge<i64> {
    ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Every per-server family: the link's (`onair_caspar_*`, the names a single server always had,
/// now with a `server` label) for the servers a probe reports, and the engine's view of each
/// (`onair_server_*`).
pub(super) fn encode(e: &mut DescriptorEncoder, servers: &[ServerCheck]) -> fmt::Result {
    let (counter, gauge) = (MetricType::Counter, MetricType::Gauge);
    let links: Vec<(&str, &LinkReport)> = servers
        .iter()
        .filter_map(|s| Some((s.name.as_str(), s.link.as_ref()?)))
        .collect();
    let by_server = |name| vec![("server", name)];
    let up = links.iter().map(|(n, l)| {
        (
            by_server(*n),
            ConstGauge::new(i64::from(l.status.is_connected())),
        )
    });
    let help = "1 while the server's AMCP link is connected.";
    family(e, ("onair_caspar_link_up", help, None, gauge), up)?;
    for (name, help, read) in LINK_GAUGES {
        let series = links
            .iter()
            .map(|(n, l)| (by_server(*n), gauge_i64(read(&l.stats))));
        family(e, (name, help, None, gauge), series)?;
    }
    for (name, help, read) in LINK_COUNTERS {
        let series = links
            .iter()
            .map(|(n, l)| (by_server(*n), ConstCounter::new(read(&l.stats))));
        family(e, (name, help, None, counter), series)?;
    }
    let disconnects = links.iter().flat_map(|(n, l)| {
        l.stats.disconnects.iter().map(|(reason, count)| {
            let labels = vec![("server", *n), ("reason", reason.as_str())];
            (labels, ConstCounter::new(*count))
        })
    });
    let help = "AMCP disconnects by reason.";
    family(
        e,
        ("onair_caspar_disconnects", help, None, counter),
        disconnects,
    )?;
    let codes: Vec<(&str, String, u64)> = links
        .iter()
        .flat_map(|(n, l)| {
            let replies = &l.stats.replies_by_code;
            replies.iter().map(|(c, k)| (*n, c.to_string(), *k))
        })
        .collect();
    let replies = codes.iter().map(|(n, c, k)| {
        let labels = vec![("server", *n), ("code", c.as_str())];
        (labels, ConstCounter::new(*k))
    });
    let help = "AMCP replies by status code.";
    family(e, ("onair_caspar_replies", help, None, counter), replies)?;
    let (name, help) = ("onair_caspar_rtt", "AMCP command round-trip time.");
    let mut rtt = e.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
    for (n, l) in &links {
        let s = &l.stats;
        let (buckets, count) = rtt_buckets(&s.rtt_buckets, &s.rtt_bounds_seconds);
        rtt.encode_family(&by_server(n))?
            .encode_histogram::<NoLabelSet>(s.rtt_sum_seconds, count, &buckets, None)?;
    }
    encode_views(e, servers)
}

/// The engine's view of each server: in step, lead, drift (while measurable), last catch-up.
fn encode_views(e: &mut DescriptorEncoder, servers: &[ServerCheck]) -> fmt::Result {
    let gauge = MetricType::Gauge;
    let views: Vec<(&str, &'static str, &ServerView)> = servers
        .iter()
        .filter_map(|s| Some((s.name.as_str(), role_name(s.role), s.view.as_ref()?)))
        .collect();
    let in_step = views.iter().map(|(n, role, v)| {
        let labels = vec![("server", *n), ("role", *role)];
        (labels, ConstGauge::new(i64::from(v.connected && v.in_step)))
    });
    let help = "1 while the server plays what the station plays.";
    family(e, ("onair_server_in_step", help, None, gauge), in_step)?;
    let lead = views
        .iter()
        .map(|(n, _, v)| (vec![("server", *n)], ConstGauge::new(i64::from(v.lead))));
    let help = "1 for the server whose telemetry the engine follows.";
    family(e, ("onair_server_lead", help, None, gauge), lead)?;
    let drift = views
        .iter()
        .filter_map(|(n, _, v)| Some((vec![("server", *n)], ConstGauge::new(v.drift_frames?))));
    let help = "The backup's position minus the main's, in frames, while measurable.";
    family(e, ("onair_server_drift_frames", help, None, gauge), drift)?;
    let resync = views.iter().filter_map(|(n, _, v)| {
        let secs = Duration::from_millis(v.resync_ms?).as_secs_f64();
        Some((vec![("server", *n)], ConstGauge::new(secs)))
    });
    let help = "How long the server's last catch-up after a reconnect took.";
    let unit = Some(&Unit::Seconds);
    family(e, ("onair_server_resync", help, unit, gauge), resync)
}
