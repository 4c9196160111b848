//! Counters and a round-trip histogram of the AMCP link, readable at any time from any task.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::error::DisconnectReason;

/// Upper bounds of the round-trip histogram buckets, in seconds (Prometheus-style, cumulative on read).
pub const RTT_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Live statistics, updated by the connection actor.
#[derive(Debug, Default)]
pub struct Stats {
    connects: AtomicU64,
    connect_attempts: AtomicU64,
    disconnects: [AtomicU64; DisconnectReason::LABELS.len()],
    by_code: Mutex<BTreeMap<u16, u64>>,
    timeouts: AtomicU64,
    late_replies: AtomicU64,
    overloaded: AtomicU64,
    connection_lost: AtomicU64,
    not_connected: AtomicU64,
    in_flight: AtomicU64,
    waiting: AtomicU64,
    rtt_buckets: [AtomicU64; RTT_BUCKETS.len() + 1],
    rtt_sum_nanos: AtomicU64,
    rtt_count: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A consistent-enough copy of [`Stats`] for health pages and metrics.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StatsSnapshot {
    pub connects: u64,
    pub connect_attempts: u64,
    /// Disconnects by reason label.
    pub disconnects: BTreeMap<&'static str, u64>,
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
    /// Cumulative counts per bucket of [`RTT_BUCKETS`], plus the `+Inf` bucket last.
    pub rtt_buckets: Vec<u64>,
    pub rtt_sum_seconds: f64,
    pub rtt_count: u64,
    pub last_error: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters stay meaningful even if a holder panicked mid-update.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Stats {
    pub(crate) fn connect_attempt(&self) {
        self.connect_attempts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connected(&self) {
        self.connects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn disconnected(&self, reason: &DisconnectReason) {
        self.disconnects[reason.index()].fetch_add(1, Ordering::Relaxed);
        if *reason != DisconnectReason::Shutdown {
            self.set_last_error(reason.to_string());
        }
    }

    pub(crate) fn set_last_error(&self, e: String) {
        *lock(&self.last_error) = Some(e);
    }

    pub(crate) fn reply(&self, code: u16, rtt: Duration) {
        *lock(&self.by_code).entry(code).or_default() += 1;
        if code == 504 {
            self.overloaded.fetch_add(1, Ordering::Relaxed);
        }
        let secs = rtt.as_secs_f64();
        let i = RTT_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(RTT_BUCKETS.len());
        self.rtt_buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
        self.rtt_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.rtt_count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn timeout(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn late_reply(&self) {
        self.late_replies.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_lost(&self, n: u64) {
        self.connection_lost.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn not_connected(&self) {
        self.not_connected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_load(&self, in_flight: usize, waiting: usize) {
        self.in_flight.store(in_flight as u64, Ordering::Relaxed);
        self.waiting.store(waiting as u64, Ordering::Relaxed);
    }

    /// Copies every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut cumulative = 0;
        let rtt_buckets = self
            .rtt_buckets
            .iter()
            .map(|b| {
                cumulative += b.load(Ordering::Relaxed);
                cumulative
            })
            .collect();
        StatsSnapshot {
            connects: self.connects.load(Ordering::Relaxed),
            connect_attempts: self.connect_attempts.load(Ordering::Relaxed),
            disconnects: DisconnectReason::LABELS
                .iter()
                .zip(&self.disconnects)
                .map(|(l, c)| (*l, c.load(Ordering::Relaxed)))
                .collect(),
            replies_by_code: lock(&self.by_code).clone(),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            late_replies: self.late_replies.load(Ordering::Relaxed),
            overloaded: self.overloaded.load(Ordering::Relaxed),
            connection_lost: self.connection_lost.load(Ordering::Relaxed),
            not_connected: self.not_connected.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            waiting: self.waiting.load(Ordering::Relaxed),
            rtt_buckets,
            rtt_sum_seconds: Duration::from_nanos(self.rtt_sum_nanos.load(Ordering::Relaxed))
                .as_secs_f64(),
            rtt_count: self.rtt_count.load(Ordering::Relaxed),
            last_error: lock(&self.last_error).clone(),
        }
    }
}
