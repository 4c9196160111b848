//! Reconnecting: the attempt count and the delays between attempts, shared by the AMCP link
//! (`crate::caspar`) and the console's WebSocket client (`crate::tui`), so both retry the same way.
//!
//! Delays grow exponentially (from `backon`), capped, with full jitter, and start over after a
//! connection that stayed up long enough.
//!
//! Full jitter (a uniform draw between zero and the exponential delay) spreads the reconnects of many
//! daemons after a CasparCG restart, and keeps every delay at or below the cap, which `backon`'s own
//! additive jitter would not.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// An endless sequence of reconnect delays.
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    schedule: ExponentialBackoff,
    rng: fastrand::Rng,
}

impl Backoff {
    /// Delays start at `initial`, double, and never exceed `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self::with_rng(initial, max, fastrand::Rng::new())
    }

    /// Like [`Backoff::new`] with a seeded generator, for reproducible tests.
    pub fn with_rng(initial: Duration, max: Duration, rng: fastrand::Rng) -> Self {
        let max = max.max(initial);
        Backoff {
            initial,
            max,
            schedule: schedule(initial, max),
            rng,
        }
    }

    /// The exponential ceiling of the next attempt, before jitter.
    fn next_ceiling(&mut self) -> Duration {
        // The schedule is built without a retry limit, so it never ends; the fallback is the cap.
        self.schedule.next().unwrap_or(self.max).min(self.max)
    }

    /// The delay before the next attempt: uniform in `[0, ceiling]`.
    pub fn next_delay(&mut self) -> Duration {
        self.next_ceiling().mul_f64(self.rng.f64())
    }

    /// Starts over from `initial`, after a connection that stayed up long enough.
    pub fn reset(&mut self) {
        self.schedule = schedule(self.initial, self.max);
    }
}

/// The bookkeeping of a reconnect loop: which attempt this is, and how long to wait after a
/// failure or a lost connection.
#[derive(Debug)]
pub struct Reconnect {
    backoff: Backoff,
    reset_after: Duration,
    attempt: u32,
    up_since: Option<std::time::Instant>,
}

impl Reconnect {
    /// Delays from `initial` up to `max`; a connection up for `reset_after` starts them over.
    pub fn new(initial: Duration, max: Duration, reset_after: Duration) -> Self {
        Reconnect {
            backoff: Backoff::new(initial, max),
            reset_after,
            attempt: 0,
            up_since: None,
        }
    }

    /// Starts an attempt and returns its number, counted since the last successful connection.
    pub fn attempt(&mut self) -> u32 {
        self.attempt = self.attempt.saturating_add(1);
        self.attempt
    }

    /// The attempt connected.
    pub fn connected(&mut self) {
        self.attempt = 0;
        self.up_since = Some(std::time::Instant::now());
    }

    /// The attempt failed or the connection ended: how long to wait before the next attempt.
    pub fn delay(&mut self) -> Duration {
        if let Some(since) = self.up_since.take()
            && since.elapsed() >= self.reset_after
        {
            self.backoff.reset();
        }
        self.backoff.next_delay()
    }
}

fn schedule(initial: Duration, max: Duration) -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(initial)
        .with_max_delay(max)
        .with_factor(2.0)
        .without_max_times()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ceilings_double_up_to_the_cap_and_never_end() {
        let mut b = Backoff::with_rng(100 * MS, 2000 * MS, fastrand::Rng::with_seed(1));
        // backon multiplies with an f32 factor, so compare whole milliseconds.
        let ceilings: Vec<_> = (0..8).map(|_| b.next_ceiling().as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        for _ in 0..10_000 {
            assert_eq!(b.next_ceiling(), 2000 * MS);
        }
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_varies() {
        let mut b = Backoff::with_rng(100 * MS, 2000 * MS, fastrand::Rng::with_seed(7));
        let delays: Vec<_> = (0..200).map(|_| b.next_delay()).collect();
        assert!(delays.iter().all(|d| *d <= 2000 * MS));
        assert!(delays[0] <= 100 * MS);
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 150, "jitter should spread delays");
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::with_rng(100 * MS, 2000 * MS, fastrand::Rng::with_seed(3));
        for _ in 0..6 {
            b.next_ceiling();
        }
        b.reset();
        assert_eq!(b.next_ceiling(), 100 * MS);
    }
}
