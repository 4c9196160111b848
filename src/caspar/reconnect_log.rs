//! When the reconnect loop writes a log line: the first failure of an outage with a hint, then ever
//! more rarely (attempts 1, 2, 4, 8, … and at least once every [`QUIET_AT_MOST`] with a count of
//! what was not logged), and the recovery once.
//!
//! A daemon started without CasparCG retries about once a second for as long as it runs; one line
//! per attempt buried everything else in the journal (~40,000 lines a day). The policy is pure, with
//! the attempt number and the time passed in, so it is tested without sockets or clocks.

use std::time::{Duration, Instant};

/// While failures go on, a line is written at least this often, whatever the attempt number.
pub(crate) const QUIET_AT_MOST: Duration = Duration::from_secs(600);

/// Whether the link was ever up in this process: the words and the hint differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outage {
    /// No connection has succeeded since the daemon started (wrong address, CasparCG not running).
    NeverConnected,
    /// The link was up and went down.
    Lost,
}

/// A failed attempt that deserves a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FailureLine {
    pub(crate) outage: Outage,
    /// Failed attempts in this outage, this one included (1-based).
    pub(crate) attempt: u32,
    /// Failures since the previous line that were not logged.
    pub(crate) unlogged: u32,
    /// How long the link has been down (or, never connected, since the first attempt).
    pub(crate) down_for: Duration,
}

impl FailureLine {
    /// The first line of an outage, which carries the hint.
    pub(crate) fn is_first(&self) -> bool {
        self.attempt == 1
    }
}

/// The end of an outage: logged once, on the first successful connection after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recovery {
    pub(crate) outage: Outage,
    /// Attempts that failed before this one succeeded.
    pub(crate) failed_attempts: u32,
    pub(crate) down_for: Duration,
}

/// The reconnect loop's memory of what it has logged.
#[derive(Debug, Default)]
pub(crate) struct ReconnectLog {
    ever_up: bool,
    /// When the current outage began; `None` while the link is up (or before the first attempt).
    down_since: Option<Instant>,
    failed: u32,
    unlogged: u32,
    last_line: Option<Instant>,
}

impl ReconnectLog {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn outage(&self) -> Outage {
        if self.ever_up {
            Outage::Lost
        } else {
            Outage::NeverConnected
        }
    }

    /// Attempt `attempt` (1-based since the link was last up, or since start) failed at `now`:
    /// the line to write, if one is due.
    pub(crate) fn failed(&mut self, attempt: u32, now: Instant) -> Option<FailureLine> {
        let since = *self.down_since.get_or_insert(now);
        self.failed = attempt;
        let quiet_too_long = self
            .last_line
            .is_none_or(|t| now.saturating_duration_since(t) >= QUIET_AT_MOST);
        if !(attempt.is_power_of_two() || quiet_too_long) {
            self.unlogged = self.unlogged.saturating_add(1);
            return None;
        }
        self.last_line = Some(now);
        Some(FailureLine {
            outage: self.outage(),
            attempt,
            unlogged: std::mem::take(&mut self.unlogged),
            down_for: now.saturating_duration_since(since),
        })
    }

    /// The link is up at `now`: the recovery to log, if it ends an outage with failed attempts or
    /// a lost link.
    pub(crate) fn connected(&mut self, now: Instant) -> Option<Recovery> {
        let outage = self.outage();
        let recovery = self.down_since.take().and_then(|since| {
            (self.failed > 0 || outage == Outage::Lost).then(|| Recovery {
                outage,
                failed_attempts: self.failed,
                down_for: now.saturating_duration_since(since),
            })
        });
        self.ever_up = true;
        self.failed = 0;
        self.unlogged = 0;
        self.last_line = None;
        recovery
    }

    /// The link that was up went down at `now` (the caller logs that itself, once). Reconnect
    /// failures from here on count from 1 again.
    pub(crate) fn lost(&mut self, now: Instant) {
        self.ever_up = true;
        self.down_since = Some(now);
        self.failed = 0;
        self.unlogged = 0;
        self.last_line = Some(now);
    }
}

/// `1h 2m 3s`-style text for a log line; whole seconds are enough for outages.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, s) => format!("{h}h {m}m {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    /// The attempts of `1..=n`, one a second from `t0`, that get a line.
    fn logged(log: &mut ReconnectLog, t0: Instant, n: u32) -> Vec<u32> {
        (1..=n)
            .filter_map(|a| log.failed(a, t0 + S * a).map(|l| l.attempt))
            .collect()
    }

    #[test]
    fn never_connected_logs_powers_of_two_with_the_first_marked() {
        let t0 = Instant::now();
        let mut log = ReconnectLog::new();
        let first = log.failed(1, t0).expect("the first failure is logged");
        assert_eq!(first.outage, Outage::NeverConnected);
        assert!(first.is_first());
        assert_eq!((first.unlogged, first.down_for), (0, Duration::ZERO));
        assert_eq!(
            logged(&mut log, t0, 300)[1..],
            [2, 4, 8, 16, 32, 64, 128, 256]
        );
    }

    #[test]
    fn a_day_without_caspar_is_a_few_hundred_lines_not_forty_thousand() {
        let t0 = Instant::now();
        let mut log = ReconnectLog::new();
        let lines = logged(&mut log, t0, 86_400).len();
        // One per 10 minutes (144) plus the powers of two before the first 10 minutes are up.
        assert!((144..=160).contains(&lines), "{lines} lines");
    }

    #[test]
    fn ten_quiet_minutes_force_a_line_that_counts_what_was_skipped() {
        let t0 = Instant::now();
        let mut log = ReconnectLog::new();
        assert!(log.failed(1, t0).is_some());
        assert!(log.failed(2, t0 + S).is_some());
        assert_eq!(log.failed(3, t0 + 2 * S), None);
        assert_eq!(log.failed(4, t0 + 599 * S).map(|l| l.unlogged), Some(1));
        assert_eq!(
            log.failed(5, t0 + 1198 * S),
            None,
            "9m59s after the last line"
        );
        let line = log
            .failed(6, t0 + 1199 * S)
            .expect("10 min after the last line");
        assert_eq!((line.attempt, line.unlogged), (6, 1));
        assert_eq!(line.down_for, 1199 * S);
    }

    #[test]
    fn recovery_is_reported_once_and_a_later_loss_is_a_lost_link() {
        let t0 = Instant::now();
        let mut log = ReconnectLog::new();
        log.failed(1, t0);
        log.failed(2, t0 + S);
        log.failed(3, t0 + 2 * S);
        let back = log.connected(t0 + 3 * S).expect("recovery after failures");
        assert_eq!(back.outage, Outage::NeverConnected);
        assert_eq!((back.failed_attempts, back.down_for), (3, 3 * S));
        // A reconnect without a failure in between (after the loss) is still a recovery, once.
        log.lost(t0 + 10 * S);
        let back = log.connected(t0 + 11 * S).expect("recovery after a loss");
        assert_eq!((back.outage, back.failed_attempts), (Outage::Lost, 0));
        assert_eq!(log.connected(t0 + 12 * S), None);

        log.lost(t0 + 20 * S);
        let line = log
            .failed(1, t0 + 21 * S)
            .expect("first failure after a loss");
        assert_eq!(line.outage, Outage::Lost);
        assert_eq!(line.down_for, S);
        assert!(log.failed(2, t0 + 22 * S).is_some());
        assert_eq!(log.failed(3, t0 + 23 * S), None);
    }

    #[test]
    fn connecting_at_once_is_no_recovery() {
        let mut log = ReconnectLog::new();
        assert_eq!(log.connected(Instant::now()), None);
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human(S * 42), "42s");
        assert_eq!(human(S * 605), "10m 5s");
        assert_eq!(human(S * 3723), "1h 2m 3s");
    }
}
