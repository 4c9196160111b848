//! The AMCP link as the daemon's surfaces report it: its state and counters, for `/health`,
//! `/metrics` and the WebSocket `stats` op.
//!
//! The link itself (`crate::caspar`) keeps richer internal types; the daemon turns them into this
//! report (`crate::daemon::link_probe`), so the HTTP and WebSocket surfaces never depend on the
//! AMCP client.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

/// The link's state.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkStatus {
    /// Trying to connect; `attempt` counts since the last successful connection.
    Connecting { attempt: u32 },
    /// Connected and probed.
    Connected {
        server_version: String,
        since: SystemTime,
        req_supported: bool,
    },
    /// Down, waiting before the next attempt (or shut down), since `since`, because of `reason`.
    Disconnected { reason: String, since: SystemTime },
}

impl LinkStatus {
    /// Whether commands can be sent now.
    pub fn is_connected(&self) -> bool {
        matches!(self, LinkStatus::Connected { .. })
    }
}

/// The link's counters and round-trip histogram. Serialised as is by the `stats` op.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkStats {
    pub connects: u64,
    pub connect_attempts: u64,
    /// Disconnects by reason label.
    pub disconnects: BTreeMap<String, u64>,
    /// Replies by status code.
    pub replies_by_code: BTreeMap<u16, u64>,
    pub timeouts: u64,
    pub late_replies: u64,
    pub overloaded: u64,
    pub connection_lost: u64,
    pub not_connected: u64,
    /// Commands written and awaiting a reply.
    pub in_flight: u64,
    /// Commands accepted but held back by flow control.
    pub waiting: u64,
    /// Cumulative counts per bucket of `rtt_bounds_seconds`, plus the `+Inf` bucket last.
    pub rtt_buckets: Vec<u64>,
    pub rtt_sum_seconds: f64,
    pub rtt_count: u64,
    pub last_error: Option<String>,
    /// Upper bounds of the round-trip buckets, in seconds.
    #[serde(skip)]
    pub rtt_bounds_seconds: Vec<f64>,
}

/// One reading of the link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkReport {
    pub status: LinkStatus,
    pub stats: LinkStats,
}

impl Default for LinkReport {
    fn default() -> Self {
        LinkReport {
            status: LinkStatus::Connecting { attempt: 0 },
            stats: LinkStats::default(),
        }
    }
}
