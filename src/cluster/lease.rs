//! The leader lease: one daemon of a station leads, elected through the key `leader` of the
//! JetStream key-value bucket `onair_<station>_lease` (docs/operations.md, "Cluster mode").
//!
//! A follower tries to create the key every renewal period (create-if-absent); the bucket's
//! `max_age` (the lease's time to live) removes the key once its holder stops renewing, and then a
//! create succeeds. The holder renews by compare-and-set on the key's revision. The term is the
//! revision at which a node won the key, kept for its whole tenure.
//!
//! What the engine sees is [`Lease::drive`]: until when this daemon may drive the servers, the
//! instant the last successful renewal was *sent* plus the lease's time to live less a safety
//! margin ([`crate::config::ClusterConfig::safety_margin`]). Nothing but a successful renewal
//! extends it, so a hung NATS call or a partition stops playout commands at that instant (the
//! engine checks it before every command; this task also publishes `None` at it).
//!
//! Starting never waits for NATS (the task connects in the background and retries), and neither
//! does stopping: [`Lease::stop`] gives the key back (a delete expecting our revision, so it never
//! removes another node's lease) within a bound, and a leader that crashes leaves the key to expire.

mod bucket;
mod campaign;
mod fence;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ClusterConfig;

/// The key the nodes of a station campaign for.
pub const KEY: &str = "leader";

/// The lease bucket of `station` (`[A-Za-z0-9_-]`, checked by the configuration).
pub fn bucket_name(station: &str) -> String {
    format!("onair_{station}_lease")
}

/// What the lease task needs: `[cluster]` resolved, plus this node's own address for the others.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub nats: Vec<String>,
    pub station: String,
    pub node: String,
    /// This daemon's HTTP/WebSocket address, as the other nodes and clients should reach it.
    pub address: Option<String>,
    pub ttl: Duration,
    pub renew: Duration,
    pub margin: Duration,
    pub replicas: usize,
}

impl LeaseSettings {
    /// From `[cluster]`; `Err` when the node name cannot be known (no `node`, no host name).
    pub fn from_config(c: &ClusterConfig, address: Option<String>) -> Result<Self, String> {
        Ok(LeaseSettings {
            nats: c.nats.clone(),
            station: c.station.clone(),
            node: c.node_name()?,
            address,
            ttl: c.lease_ttl,
            renew: c.renew_period(),
            margin: c.safety_margin(),
            replicas: c.replicas,
        })
    }

    /// The bound on every NATS call: shorter than the renewal period, so a hung call never holds
    /// up the next attempt, and never longer than a second.
    pub fn call_timeout(&self) -> Duration {
        (self.renew * 3 / 4).min(Duration::from_secs(1))
    }
}

/// This node's part in the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Not known: NATS is not reachable (or not yet), or a renewal is unanswered.
    Unknown,
    /// Another node holds the lease, or nobody does and this node has not won it yet.
    Follower,
    /// This node holds the lease and may drive the servers.
    Leader,
}

impl Role {
    /// The wire name, as in `/health`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Unknown => "unknown",
            Role::Follower => "follower",
            Role::Leader => "leader",
        }
    }

    /// 0, 1, 2 for the `onair_lease_role` gauge.
    pub fn level(self) -> u8 {
        match self {
            Role::Unknown => 0,
            Role::Follower => 1,
            Role::Leader => 2,
        }
    }
}

/// The lease key's value: who holds it. JSON, so other tools can read it with `nats kv get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub node: String,
    /// The holder's HTTP/WebSocket address, when it knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The holder's term; absent in the value that wins the key (its revision is not known before
    /// it is stored), so a reader takes the entry's revision then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
    /// Tells this process's values from those of an earlier process of the same node, so a node
    /// adopts a key only its own process wrote (a create whose answer was lost).
    #[serde(default)]
    pub session: String,
}

/// What the lease task last knew, for `/health`, the metrics and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseState {
    pub node: String,
    pub role: Role,
    /// Whether the NATS client is connected.
    pub connected: bool,
    /// This node's term while it leads.
    pub term: Option<u64>,
    /// Who leads as last seen (this node included); `None` when nobody does or it is not known.
    pub leader: Option<Holder>,
    /// When this node's last successful renewal (or win) was stored.
    pub last_renewal: Option<SystemTime>,
    /// Until when this node may drive (the value on [`Lease::drive`]).
    pub drive_until: Option<Instant>,
    /// Before this instant (one lease after its last (re)connection to NATS) this node does not
    /// try to win the lease; `None` before it first connected.
    pub quiet_until: Option<Instant>,
}

/// Counters for the metrics.
#[derive(Debug, Default)]
pub struct LeaseCounters {
    pub renewals_ok: AtomicU64,
    pub renewals_failed: AtomicU64,
    pub takeovers: AtomicU64,
}

impl LeaseCounters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A running lease task. Dropping it aborts the task without giving the key back (as a crash
/// would: the key expires); [`Lease::stop`] gives it back.
pub struct Lease {
    drive: watch::Receiver<Option<Instant>>,
    term: watch::Receiver<u64>,
    state: watch::Receiver<LeaseState>,
    counters: Arc<LeaseCounters>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Lease {
    /// Starts campaigning in the background (on the current tokio runtime); returns at once.
    pub fn spawn(settings: LeaseSettings) -> Lease {
        let (drive_tx, drive) = watch::channel(None);
        let (term_tx, term) = watch::channel(0);
        let (state_tx, state) = watch::channel(LeaseState {
            node: settings.node.clone(),
            role: Role::Unknown,
            connected: false,
            term: None,
            leader: None,
            last_renewal: None,
            drive_until: None,
            quiet_until: None,
        });
        let counters = Arc::new(LeaseCounters::default());
        let stop = CancellationToken::new();
        let task = tokio::spawn(campaign::run(
            settings,
            campaign::Outputs {
                drive: Arc::new(drive_tx),
                term: term_tx,
                state: state_tx,
                counters: counters.clone(),
            },
            stop.clone(),
        ));
        Lease {
            drive,
            term,
            state,
            counters,
            stop,
            task: Some(task),
        }
    }

    /// Until when this daemon may drive (`None`: not at all): the engine's `EngineDeps::drive`.
    pub fn drive(&self) -> watch::Receiver<Option<Instant>> {
        self.drive.clone()
    }

    /// This node's term while it leads, and the last one it held after (0 before it first leads):
    /// what the replicated journal stamps on each append (`cluster::replica::spawn`).
    pub fn term(&self) -> watch::Receiver<u64> {
        self.term.clone()
    }

    /// The task's view of the lease.
    pub fn state(&self) -> watch::Receiver<LeaseState> {
        self.state.clone()
    }

    pub fn counters(&self) -> Arc<LeaseCounters> {
        self.counters.clone()
    }

    /// A reading of the lease as JSON, on demand, for `/health` and `/metrics` (the keys the
    /// server's cluster module reads: node, role, term, leader, leader_address, connected,
    /// last_renewal_ms_ago, renewals_ok, renewals_failed, takeovers).
    pub fn probe(&self) -> Box<dyn Fn() -> serde_json::Value + Send + Sync> {
        let (state, counters) = (self.state(), self.counters());
        Box::new(move || {
            let s = state.borrow().clone();
            let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
            serde_json::json!({
                "node": s.node,
                "role": s.role.as_str(),
                "term": s.term,
                "leader": s.leader.as_ref().map(|h| &h.node),
                "leader_address": s.leader.as_ref().and_then(|h| h.address.as_ref()),
                "connected": s.connected,
                "last_renewal_ms_ago": s
                    .last_renewal
                    .and_then(|t| t.elapsed().ok())
                    .map(|d| d.as_millis() as u64),
                "renewals_ok": n(&counters.renewals_ok),
                "renewals_failed": n(&counters.renewals_failed),
                "takeovers": n(&counters.takeovers),
                // Whether this node would take over now if the leader went away: connected and
                // past its quiet period (a rolling upgrade waits for this on the upgraded node).
                "ready_to_lead": s.connected
                    && s.quiet_until.is_some_and(|q| Instant::now() >= q),
            })
        })
    }

    /// Stops campaigning: stops driving at once, then, if this node holds the key, deletes it
    /// expecting its revision (so another node takes over within a renewal period, not a lease).
    /// Returns within `within` either way; a key not given back expires.
    pub async fn stop(mut self, within: Duration) {
        self.stop.cancel();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(within, &mut task).await.is_err()
        {
            tracing::warn!("cluster: the lease was not given back in time; it will expire");
            task.abort();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A per-process tag for [`Holder::session`].
fn new_session() -> String {
    format!("{:016x}", fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_reads_without_term_and_address() {
        let h: Holder = serde_json::from_str(r#"{"node":"a","session":"x"}"#).expect("parses");
        assert_eq!(h.term, None);
        assert_eq!(h.address, None);
        let text = serde_json::to_string(&Holder {
            node: "b".into(),
            address: Some("10.0.0.2:8250".into()),
            term: Some(7),
            session: "s".into(),
        })
        .expect("serializes");
        assert_eq!(
            text,
            r#"{"node":"b","address":"10.0.0.2:8250","term":7,"session":"s"}"#
        );
    }

    #[test]
    fn calls_are_bounded_below_the_renewal_period() {
        let c = ClusterConfig {
            nats: vec!["nats://127.0.0.1:4222".into()],
            station: "s".into(),
            node: Some("n".into()),
            lease_ttl: Duration::from_secs(1),
            ..ClusterConfig::default()
        };
        let s = LeaseSettings::from_config(&c, None).expect("settings");
        assert_eq!(s.renew, Duration::from_millis(250));
        assert!(s.call_timeout() < s.renew);
        assert_eq!(bucket_name("studio-a"), "onair_studio-a_lease");
    }
}
