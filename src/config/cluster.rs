//! `[cluster]`: two or more daemons sharing one station through NATS JetStream (issue 18). Absent,
//! cluster mode is off and the daemon runs alone, as it always has. This file holds the section's
//! keys, their defaults (the node name is the host name, the renewal period a quarter of the lease),
//! the fencing margin derived from the lease's time to live, and the section's checks.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::format as fmt_duration;

/// The shortest lease: below it, one slow NATS round trip or scheduler hiccup would cost the lease.
pub(super) const MIN_LEASE_TTL: Duration = Duration::from_millis(500);
/// The longest lease: a dead leader is replaced only after its lease runs out, so a longer one
/// means minutes off the schedule, which a playout station would not choose.
pub(super) const MAX_LEASE_TTL: Duration = Duration::from_secs(60);
/// Renewing more often than this is load on NATS without any gain in safety.
pub(super) const MIN_RENEW_EVERY: Duration = Duration::from_millis(50);
/// Names of a station and of a node: they become part of NATS bucket names and, later, subjects,
/// where only these characters are safe.
const MAX_STATION_CHARS: usize = 32;
const MAX_NODE_CHARS: usize = 64;
/// More NATS URLs than this is a copy-paste accident, not a cluster.
const MAX_NATS_URLS: usize = 16;
const MAX_REPLICAS: usize = 5;
/// A station's edits and playout saves of a few hours: a snapshot of a week of rundowns is a few
/// MB, so compacting more often than this costs more than the entries it saves reading.
const DEFAULT_COMPACT_EVERY: u64 = 5_000;
/// The client's port when a URL names none.
const NATS_DEFAULT_PORT: u16 = 4222;

/// `[cluster]`: cluster mode (docs/configuration.md). The lease that elects the station's leader
/// lives in the JetStream key-value bucket `onair_<station>_lease`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// NATS servers, `nats://HOST[:PORT]` (or `HOST:PORT`); the client tries them in turn.
    pub nats: Vec<String>,
    /// The station's name, the same on every node of the station: `[A-Za-z0-9_-]`, 1 to 32.
    pub station: String,
    /// This node's name, unique in the station: `[A-Za-z0-9_-]`, 1 to 64. Unset: the host name up
    /// to its first dot (filled in by the loader, so `--print-config` shows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// How long the lease lives after its last renewal; a dead leader is replaced after it.
    #[serde(with = "super::duration::serde")]
    pub lease_ttl: Duration,
    /// How often the leader renews the lease and a follower tries to take it. Unset: a quarter of
    /// `lease_ttl` (filled in by the loader).
    #[serde(
        with = "opt_duration",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub renew_every: Option<Duration>,
    /// JetStream replicas of the lease bucket, the journal and its snapshots (1 for a single NATS
    /// server, 3 for a 3-node cluster).
    pub replicas: usize,
    /// Journal entries between two compactions by the leader (a snapshot of the station stored,
    /// the entries it replaces dropped); 0 never compacts.
    pub compact_every: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nats: Vec::new(),
            station: String::new(),
            node: None,
            lease_ttl: Duration::from_secs(2),
            renew_every: None,
            replicas: 1,
            compact_every: DEFAULT_COMPACT_EVERY,
        }
    }
}

impl ClusterConfig {
    /// The renewal period: `renew_every`, else a quarter of `lease_ttl`, which leaves room for two
    /// more attempts after a failed one before the lease is given up (see [`Self::safety_margin`]).
    pub fn renew_period(&self) -> Duration {
        self.renew_every.unwrap_or(self.lease_ttl / 4)
    }

    /// How long before the lease's expiry (counted from when its last successful renewal was sent)
    /// the leader stops believing it leads: 10 % of `lease_ttl` plus 100 ms.
    ///
    /// The lease expires on the NATS server's clock and is believed on ours. Counting from the
    /// instant the renewal was *sent* already errs on the safe side (the server stores it later).
    /// What the margin covers: the two clocks running at different rates (NTP slews a clock by at
    /// most 0.05 %; 10 % covers a badly disciplined virtual machine with room to spare), and the
    /// time between the leader's deadline and its last command leaving the machine (a busy
    /// scheduler, a command already being written: 100 ms). It does not cover a step of the NATS
    /// server's wall clock, which JetStream's max_age follows: run NTP there with slewing.
    pub fn safety_margin(&self) -> Duration {
        self.lease_ttl / 10 + Duration::from_millis(100)
    }

    /// The node name: `node`, else this machine's host name up to its first dot.
    pub fn node_name(&self) -> Result<String, String> {
        match &self.node {
            Some(node) => Ok(node.clone()),
            None => host_name().map(|host| host.split('.').next().unwrap_or_default().to_owned()),
        }
    }
}

/// This machine's host name (`uname -n`).
fn host_name() -> Result<String, String> {
    #[cfg(unix)]
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    #[cfg(not(unix))]
    let name = std::env::var("COMPUTERNAME").unwrap_or_default();
    if name.trim().is_empty() {
        Err("this machine's host name is not known".to_owned())
    } else {
        Ok(name.trim().to_owned())
    }
}

/// Fills in the keys whose defaults depend on other keys or on the machine, so the loaded
/// configuration (and `--print-config`) says what the daemon will use. `Err` is (key, message).
pub(super) fn resolve(c: &mut ClusterConfig) -> Result<(), (String, String)> {
    if c.node.is_none() {
        let unusable = |e: String| {
            (
                "cluster.node".to_owned(),
                format!("{e}: set cluster.node to this node's name"),
            )
        };
        let node = c.node_name().map_err(unusable)?;
        check_name(&node, MAX_NODE_CHARS)
            .map_err(|e| unusable(format!("the host name is not a node name: {e}")))?;
        c.node = Some(node);
    }
    if c.renew_every.is_none() {
        c.renew_every = Some(c.renew_period());
    }
    Ok(())
}

/// The problems of `[cluster]`, as (key, message), in the order of docs/configuration.md.
pub(super) fn problems(c: &ClusterConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if c.nats.is_empty() {
        out.push((
            "cluster.nats",
            "must list at least one NATS server, e.g. nats = [\"nats://10.0.0.7:4222\"] (remove \
             [cluster] to run without NATS)"
                .to_owned(),
        ));
    } else if c.nats.len() > MAX_NATS_URLS {
        out.push((
            "cluster.nats",
            format!(
                "lists {} servers; at most {MAX_NATS_URLS} are accepted",
                c.nats.len()
            ),
        ));
    } else {
        for (i, url) in c.nats.iter().enumerate() {
            if let Err(e) = check_nats_url(url) {
                out.push(("cluster.nats", format!("entry {}: {e}", i + 1)));
            } else if let Some(j) = c.nats[..i].iter().position(|u| u == url) {
                out.push((
                    "cluster.nats",
                    format!("entry {} repeats entry {}", i + 1, j + 1),
                ));
            }
        }
    }
    if c.station.is_empty() {
        out.push((
            "cluster.station",
            "must be set: the station's name, the same on every node, e.g. station = \"studio-a\""
                .to_owned(),
        ));
    } else if let Err(e) = check_name(&c.station, MAX_STATION_CHARS) {
        out.push(("cluster.station", e));
    }
    if let Some(node) = &c.node
        && let Err(e) = check_name(node, MAX_NODE_CHARS)
    {
        out.push(("cluster.node", e));
    }
    if c.lease_ttl < MIN_LEASE_TTL || c.lease_ttl > MAX_LEASE_TTL {
        out.push((
            "cluster.lease_ttl",
            format!(
                "must be between {} and {}, got {}",
                fmt_duration(MIN_LEASE_TTL),
                fmt_duration(MAX_LEASE_TTL),
                fmt_duration(c.lease_ttl)
            ),
        ));
    } else if let Some(every) = c.renew_every {
        // Two attempts must fit in the time the leader believes a renewal: one may fail.
        let max = c.lease_ttl.saturating_sub(c.safety_margin()) / 2;
        if every < MIN_RENEW_EVERY || every > max {
            out.push((
                "cluster.renew_every",
                format!(
                    "must be between {} and {} (half of lease_ttl {} less its safety margin {}, \
                     so that a failed renewal is retried before the lease is given up), got {}",
                    fmt_duration(MIN_RENEW_EVERY),
                    fmt_duration(max),
                    fmt_duration(c.lease_ttl),
                    fmt_duration(c.safety_margin()),
                    fmt_duration(every)
                ),
            ));
        }
    }
    if !(1..=MAX_REPLICAS).contains(&c.replicas) {
        out.push((
            "cluster.replicas",
            format!(
                "must be between 1 and {MAX_REPLICAS} (JetStream's limit), got {}",
                c.replicas
            ),
        ));
    }
    out
}

/// `[A-Za-z0-9_-]`, 1 to `max` characters.
fn check_name(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() || name.len() > max {
        return Err(format!(
            "{name:?} must be 1 to {max} characters long, got {}",
            name.chars().count()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "{name:?} may contain only letters A-Z and a-z, digits, '_' and '-'"
        ));
    }
    Ok(())
}

/// `nats://HOST[:PORT]` or `HOST:PORT`; no other scheme, no credentials, no path.
fn check_nats_url(url: &str) -> Result<(), String> {
    let bad =
        |reason: &str| format!("{url:?} is not a NATS URL ({reason}); e.g. nats://10.0.0.7:4222");
    let rest = match url.split_once("://") {
        Some(("nats", rest)) => rest,
        Some(("tls", _)) => {
            // Needs a TLS crypto provider and certificate settings; a later increment.
            return Err(bad("TLS is not supported yet: use nats://"));
        }
        Some((scheme, _)) => {
            return Err(bad(&format!("{scheme}:// is not supported: use nats://")));
        }
        None => url,
    };
    if rest.contains('@') {
        // They would be printed by --print-config and logged; credentials come with a later increment.
        return Err(bad("credentials in the URL are not supported"));
    }
    if rest.contains(['/', '?', '#']) {
        return Err(bad("no path"));
    }
    let with_port = if url.starts_with("nats://") && !has_port(rest) {
        // nats://HOST without a port: the client's default port.
        format!("{rest}:{NATS_DEFAULT_PORT}")
    } else {
        rest.to_owned()
    };
    super::validate::check_host_port(&with_port)
        .map_err(|_| bad("expected nats://HOST[:PORT] or HOST:PORT, a port between 1 and 65535"))
}

/// Whether `HOST:PORT` text (host possibly an IPv6 address in brackets) has a port.
fn has_port(text: &str) -> bool {
    match text.rsplit_once(']') {
        Some((_, after)) => after.starts_with(':'),
        None => text.contains(':'),
    }
}

/// `Option<Duration>` as an optional duration text (absent: `None`).
mod opt_duration {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::super::duration::serde::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::super::duration::serde::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_url_forms() {
        for ok in [
            "nats://127.0.0.1:4222",
            "nats://nats-1.studio.lan",
            "nats://[::1]:4222",
            "127.0.0.1:4222",
            "nats-1:4222",
        ] {
            assert_eq!(check_nats_url(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("tls://nats:4222", "TLS is not supported yet"),
            ("ws://nats:8080", "ws:// is not supported"),
            ("nats://user:pw@nats:4222", "credentials"),
            ("nats://nats:4222/x", "no path"),
            ("nats://nats:0", "a port between 1 and 65535"),
            ("nats", "expected nats://HOST[:PORT] or HOST:PORT"),
            ("", "expected nats://HOST[:PORT] or HOST:PORT"),
        ] {
            let err = check_nats_url(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn the_margin_and_the_renewal_period_follow_the_ttl() {
        let c = ClusterConfig::default();
        assert_eq!(c.safety_margin(), Duration::from_millis(300));
        assert_eq!(c.renew_period(), Duration::from_millis(500));
        let c = ClusterConfig {
            lease_ttl: Duration::from_secs(1),
            ..ClusterConfig::default()
        };
        assert_eq!(c.safety_margin(), Duration::from_millis(200));
        assert_eq!(c.renew_period(), Duration::from_millis(250));
    }

    #[test]
    fn the_default_node_is_the_short_host_name() {
        let node = ClusterConfig::default().node_name().expect("a host name");
        assert!(!node.is_empty() && !node.contains('.'), "{node}");
    }
}
