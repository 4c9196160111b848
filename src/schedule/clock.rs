//! Time sources for planning: a monotonic clock anchored to the wall clock, with step detection.
//!
//! Planning runs on the monotonic clock (it never jumps), converted to wall time through an anchor
//! taken once: `wall = wall_at_anchor + (monotonic − monotonic_at_anchor)`. When the real wall
//! clock disagrees with that by more than a frame (an NTP step, someone setting the clock), the
//! anchor has drifted from what the station's clock says: [`AnchoredWall::check`] reports the step
//! and re-anchors, and the engine re-plans (fixed times are wall-clock times). Tests inject a
//! [`ManualClock`] so a 24-hour schedule runs in milliseconds.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch of `t` (0 before 1970, saturating after 2262), for the
/// `*_ms` fields of the protocol and the state file.
pub fn unix_ms(t: SystemTime) -> u64 {
    jiff::Timestamp::try_from(t).map_or(if t > UNIX_EPOCH { u64::MAX } else { 0 }, |t| {
        u64::try_from(t.as_millisecond()).unwrap_or(0)
    })
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms_now() -> u64 {
    unix_ms(SystemTime::now())
}

/// A source of monotonic and wall time, both in nanoseconds.
pub trait Clock: Send + Sync {
    /// Nanoseconds on a clock that never goes back, from an arbitrary origin.
    fn monotonic(&self) -> i64;
    /// Nanoseconds since the Unix epoch on the wall clock (which may step).
    fn wall(&self) -> i64;
    /// How many times faster than real time this clock runs (1 for the machine's clocks): the
    /// engine divides the waits it computes on this clock by it before arming a real timer.
    fn speed(&self) -> u32 {
        1
    }
}

/// The machine's clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn monotonic(&self) -> i64 {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        let origin = *ORIGIN.get_or_init(Instant::now);
        i64::try_from(origin.elapsed().as_nanos()).unwrap_or(i64::MAX)
    }

    fn wall(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
        }
    }
}

/// A clock that moves only when told to: [`advance`](Self::advance) moves both readings (time
/// passing), [`step_wall`](Self::step_wall) only the wall clock (an NTP correction).
#[derive(Debug, Default)]
pub struct ManualClock {
    monotonic: AtomicI64,
    wall: AtomicI64,
}

impl ManualClock {
    /// Starts at monotonic 0 and wall time `wall`.
    pub fn new(wall: i64) -> ManualClock {
        ManualClock {
            monotonic: AtomicI64::new(0),
            wall: AtomicI64::new(wall),
        }
    }

    /// Lets `nanos` pass (negative values are ignored: monotonic time does not go back).
    pub fn advance(&self, nanos: i64) {
        let nanos = nanos.max(0);
        self.monotonic.fetch_add(nanos, Ordering::SeqCst);
        self.wall.fetch_add(nanos, Ordering::SeqCst);
    }

    /// Moves the wall clock alone by `delta` (either way).
    pub fn step_wall(&self, delta: i64) {
        self.wall.fetch_add(delta, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn monotonic(&self) -> i64 {
        self.monotonic.load(Ordering::SeqCst)
    }

    fn wall(&self) -> i64 {
        self.wall.load(Ordering::SeqCst)
    }
}

/// Virtual time running `speed` times faster than real time, for runs against a simulator
/// sped up by the same factor (`ClockMode::Speed`): an hour of schedule plays in a minute at 60.
///
/// Wall time is `virtual_start + (real wall − real_anchor) × speed` (plus any
/// [`step_wall`](Self::step_wall)): anchored on the simulator's frame-clock anchor and started on a
/// whole frame, the engine's frames fall exactly on the simulator's.
#[derive(Debug)]
pub struct ScaledClock {
    real_anchor: i64,
    virtual_start: i64,
    speed: u32,
    origin: Instant,
    stepped: AtomicI64,
}

impl ScaledClock {
    /// Reads `virtual_start` at real wall time `real_anchor` (both ns since the Unix epoch).
    pub fn new(real_anchor: i64, virtual_start: i64, speed: u32) -> ScaledClock {
        ScaledClock {
            real_anchor,
            virtual_start,
            speed: speed.max(1),
            origin: Instant::now(),
            stepped: AtomicI64::new(0),
        }
    }

    /// Moves the wall clock alone by `delta` (an NTP step, as the engine must detect it).
    pub fn step_wall(&self, delta: i64) {
        self.stepped.fetch_add(delta, Ordering::SeqCst);
    }
}

impl Clock for ScaledClock {
    fn monotonic(&self) -> i64 {
        let real = i64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(i64::MAX);
        real.saturating_mul(i64::from(self.speed))
    }

    fn wall(&self) -> i64 {
        let real = SystemClock.wall().saturating_sub(self.real_anchor);
        self.virtual_start
            .saturating_add(real.saturating_mul(i64::from(self.speed)))
            .saturating_add(self.stepped.load(Ordering::SeqCst))
    }

    fn speed(&self) -> u32 {
        self.speed
    }
}

/// A detected wall-clock step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallStep {
    /// How far the wall clock jumped from where the anchor expected it (positive: forward).
    pub size: i64,
    /// The wall time it now reads.
    pub wall: i64,
}

/// Wall time derived from the monotonic clock since an anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchoredWall {
    monotonic_at_anchor: i64,
    wall_at_anchor: i64,
    /// A disagreement above this is a step (one frame of the channel).
    tolerance: i64,
}

impl AnchoredWall {
    /// Anchors now; `tolerance` is the largest disagreement that is not a step (one frame).
    pub fn new(clock: &dyn Clock, tolerance: i64) -> AnchoredWall {
        AnchoredWall {
            monotonic_at_anchor: clock.monotonic(),
            wall_at_anchor: clock.wall(),
            tolerance: tolerance.max(0),
        }
    }

    /// The wall time at monotonic reading `monotonic`, by the anchor.
    pub fn wall_at(&self, monotonic: i64) -> i64 {
        self.wall_at_anchor
            .saturating_add(monotonic.saturating_sub(self.monotonic_at_anchor))
    }

    /// The anchored wall time now.
    pub fn now(&self, clock: &dyn Clock) -> i64 {
        self.wall_at(clock.monotonic())
    }

    /// Compares the real wall clock with the anchored one: a disagreement of more than the
    /// tolerance is a step, which is returned after re-anchoring to the real wall clock.
    pub fn check(&mut self, clock: &dyn Clock) -> Option<WallStep> {
        let monotonic = clock.monotonic();
        let wall = clock.wall();
        let size = wall.saturating_sub(self.wall_at(monotonic));
        if size.unsigned_abs() <= self.tolerance.unsigned_abs() {
            return None;
        }
        self.monotonic_at_anchor = monotonic;
        self.wall_at_anchor = wall;
        Some(WallStep { size, wall })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: i64 = 40_000_000;

    #[test]
    fn anchored_time_follows_the_monotonic_clock() {
        let clock = ManualClock::new(1_000 * FRAME);
        let mut anchored = AnchoredWall::new(&clock, FRAME);
        clock.advance(25 * FRAME);
        assert_eq!(anchored.now(&clock), 1_025 * FRAME);
        assert_eq!(anchored.check(&clock), None);
        clock.advance(-5);
        assert_eq!(
            clock.monotonic(),
            25 * FRAME,
            "monotonic time never goes back"
        );
    }

    #[test]
    fn a_step_of_more_than_a_frame_is_reported_once_and_re_anchored() {
        let clock = ManualClock::new(0);
        let mut anchored = AnchoredWall::new(&clock, FRAME);
        clock.step_wall(FRAME);
        assert_eq!(
            anchored.check(&clock),
            None,
            "one frame is within tolerance"
        );
        clock.step_wall(1);
        let step = anchored.check(&clock).expect("a step");
        assert_eq!(
            step,
            WallStep {
                size: FRAME + 1,
                wall: FRAME + 1
            }
        );
        assert_eq!(anchored.now(&clock), FRAME + 1, "re-anchored");
        assert_eq!(anchored.check(&clock), None, "reported once");
        clock.advance(10 * FRAME);
        clock.step_wall(-3_600 * 1_000_000_000);
        let back = anchored.check(&clock).expect("a backward step");
        assert_eq!(back.size, -3_600 * 1_000_000_000);
    }

    #[test]
    fn a_scaled_clock_runs_faster_from_its_anchor() {
        let real = SystemClock.wall();
        let clock = ScaledClock::new(real, 1_000 * FRAME, 60);
        let (w0, m0) = (clock.wall(), clock.monotonic());
        assert!(w0 >= 1_000 * FRAME, "starts at its virtual start");
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (w1, m1) = (clock.wall(), clock.monotonic());
        assert!(w1 - w0 >= 60 * 19_000_000, "{} ns in 20 ms at 60", w1 - w0);
        assert!(m1 - m0 >= 60 * 19_000_000);
        assert_eq!(clock.speed(), 60);
        let mut anchored = AnchoredWall::new(&clock, 1_000 * FRAME);
        // The two clocks are read at slightly different moments, 60 times magnified: the step
        // is far larger than that, and the check allows for it.
        clock.step_wall(90_000 * FRAME);
        assert!(
            anchored
                .check(&clock)
                .is_some_and(|s| s.size >= 80_000 * FRAME)
        );
    }

    #[test]
    fn unix_milliseconds() {
        use std::time::Duration;
        assert_eq!(unix_ms(UNIX_EPOCH), 0);
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(
            unix_ms(UNIX_EPOCH + Duration::from_micros(1_795_452_371_945_999)),
            1_795_452_371_945
        );
        assert!(unix_ms_now() > 1_700_000_000_000);
    }

    #[test]
    fn the_system_clock_reads_sensible_values() {
        let c = SystemClock;
        let (a, b) = (c.monotonic(), c.monotonic());
        assert!(b >= a);
        assert!(c.wall() > 1_700_000_000 * 1_000_000_000, "after 2023");
    }
}
