//! The ideal frame clock of a simulated channel: frame `k` starts at `anchor + k × period`, exactly.
//!
//! A genlocked server's channel produces its frames on a fixed grid; the simulator models that grid
//! with an anchor (the instant the simulator started, as Unix nanoseconds) and the channel's tick rate
//! as a fraction (`num/den` ticks per second, e.g. 60000/1001). Everything is integer arithmetic in
//! `i128`, so there is no drift however long the simulator runs: the period of 59.94 fps is not a
//! whole number of nanoseconds, and adding a rounded period frame after frame would be ~1.7 ms off
//! after a day.

/// The frame grid of one channel. Frame 0 starts at the anchor (the simulator's start); the clock
/// task produces frame `k` (`k ≥ 1`) with its `k`-th tick, due at [`SimFrameClock::start_of`]`(k)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimFrameClock {
    /// Unix time of the start of frame 0, in nanoseconds.
    pub anchor_unix_ns: i64,
    /// Frames (ticks) per second as `num / den`.
    pub num: u32,
    pub den: u32,
}

const NANOS: i128 = 1_000_000_000;

/// Below this tick period, the realtime clock would spin rather than sleep; faster speeds are
/// clamped (as the clock always did with its 100 µs floor).
const MIN_PERIOD_NS: i128 = 100_000;

impl SimFrameClock {
    /// A clock of `num/den` frames per second anchored at `anchor_unix_ns`. A zero `num` or `den`
    /// is treated as 1 so that the arithmetic never divides by zero.
    pub fn new(anchor_unix_ns: i64, num: u32, den: u32) -> Self {
        SimFrameClock {
            anchor_unix_ns,
            num: num.max(1),
            den: den.max(1),
        }
    }

    /// Nanoseconds per frame times `num`: `start_of(k) − anchor = ⌊k × period_num / num⌋`.
    fn period_num(&self) -> i128 {
        i128::from(self.den.max(1)) * NANOS
    }

    fn rate_num(&self) -> i128 {
        i128::from(self.num.max(1))
    }

    /// The Unix time (ns) at which frame `frame` starts: `anchor + ⌊frame × den × 10⁹ / num⌋`.
    /// Negative frames (before the simulator started) follow the same grid.
    pub fn start_of(&self, frame: i64) -> i64 {
        let offset = (i128::from(frame) * self.period_num()).div_euclid(self.rate_num());
        saturate(i128::from(self.anchor_unix_ns) + offset)
    }

    /// The frame containing the instant `unix_ns`: the largest `k` with `start_of(k) ≤ unix_ns`.
    ///
    /// `start_of(k) ≤ t` ⟺ `⌊k·P/q⌋ ≤ d` ⟺ `k·P < (d+1)·q` ⟺ `k ≤ ⌊((d+1)·q − 1) / P⌋`, with
    /// `d = t − anchor`, `P = den·10⁹`, `q = num`. Exact as long as a frame lasts at least 1 ns.
    pub fn frame_at(&self, unix_ns: i64) -> i64 {
        let d = i128::from(unix_ns) - i128::from(self.anchor_unix_ns);
        let k = ((d + 1) * self.rate_num() - 1).div_euclid(self.period_num());
        saturate(k)
    }

    /// The same grid, `speed` times faster (for [`super::ClockMode::Speed`]): the rate becomes
    /// `num × s / den` with `s` a fraction close to `speed` (to 1/1000 where the numbers fit in
    /// `u32`); speeds are clamped to at least 1/1000 and to periods of at least 100 µs. `None` for a
    /// speed that is not a positive finite number.
    pub fn accelerated(&self, speed: f64) -> Option<SimFrameClock> {
        if !(speed.is_finite() && speed > 0.0) {
            return None;
        }
        // ⌊period / 100 µs⌋ is the fastest the clock task can usefully go.
        let max_speed = (self.period_num() / self.rate_num() / MIN_PERIOD_NS).max(1) as f64;
        let speed = speed.clamp(0.001, max_speed);
        for scale in [1000u32, 100, 10, 1] {
            let s_num = (speed * f64::from(scale)).round();
            if s_num < 1.0 || s_num > f64::from(u32::MAX) {
                continue;
            }
            let (s_num, s_den) = reduce(s_num as u64, u64::from(scale));
            let num = u64::from(self.num) * s_num;
            let den = u64::from(self.den) * s_den;
            let (num, den) = reduce(num, den);
            if let (Ok(num), Ok(den)) = (u32::try_from(num), u32::try_from(den)) {
                return Some(SimFrameClock::new(self.anchor_unix_ns, num, den));
            }
        }
        None
    }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

fn reduce(a: u64, b: u64) -> (u64, u64) {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a.max(1) } else { gcd(b, a % b) }
    }
    let g = gcd(a, b);
    (a / g, b / g)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-01T00:00:00Z plus a few odd nanoseconds, so no test relies on a round anchor.
    const ANCHOR: i64 = 1_767_225_600_000_000_000 + 123_456_789;
    const DAY_NS: i64 = 86_400 * 1_000_000_000;

    fn check_exact_over_a_day(num: u32, den: u32) {
        let clock = SimFrameClock::new(ANCHOR, num, den);
        let frames_per_day = i64::from(num) * 86_400 / i64::from(den);
        // A day's worth of frames, sampled densely at both ends and sparsely in between.
        let samples = (0..2_000)
            .chain((0..frames_per_day).step_by(997))
            .chain(frames_per_day - 2_000..frames_per_day + 2)
            .chain(-3..0);
        for k in samples {
            let start = clock.start_of(k);
            assert_eq!(clock.frame_at(start), k, "{num}/{den} frame {k}");
            assert_eq!(clock.frame_at(start - 1), k - 1, "{num}/{den} before {k}");
            assert!(clock.start_of(k + 1) > start);
            let t = start + (clock.start_of(k + 1) - start) / 2;
            let f = clock.frame_at(t);
            assert!(clock.start_of(f) <= t && t < clock.start_of(f + 1));
        }
        // No drift: after exactly `den × 86400` seconds (a whole number of frames), the grid is
        // back on an exact nanosecond, which repeated addition of a rounded period would miss.
        let whole = i64::from(num) * 86_400;
        assert_eq!(
            clock.start_of(whole),
            ANCHOR + i64::from(den) * DAY_NS,
            "{num}/{den}"
        );
        assert_eq!(clock.frame_at(ANCHOR + DAY_NS), frames_per_day);
    }

    #[test]
    fn exact_over_a_day_at_25_50_29_97_and_59_94() {
        check_exact_over_a_day(25, 1);
        check_exact_over_a_day(50, 1);
        check_exact_over_a_day(30_000, 1001);
        check_exact_over_a_day(60_000, 1001);
    }

    #[test]
    fn arbitrary_instants_fall_inside_their_frame() {
        for (num, den) in [(25, 1), (50, 1), (30_000, 1001), (60_000, 1001)] {
            let clock = SimFrameClock::new(ANCHOR, num, den);
            // A cheap deterministic walk over a day, at odd nanosecond offsets.
            let mut t = ANCHOR - 5_000_000_000;
            while t < ANCHOR + DAY_NS {
                let f = clock.frame_at(t);
                assert!(clock.start_of(f) <= t, "{num}/{den} t={t}");
                assert!(t < clock.start_of(f + 1), "{num}/{den} t={t}");
                t += 7_777_777_777;
            }
        }
    }

    #[test]
    fn periods_are_the_exact_fractions() {
        let ntsc = SimFrameClock::new(0, 60_000, 1001);
        // 1001/60000 s = 16 683 333.3… ns: frames 1, 2, 3 start at the floors of k × that.
        assert_eq!(ntsc.start_of(1), 16_683_333);
        assert_eq!(ntsc.start_of(2), 33_366_666);
        assert_eq!(ntsc.start_of(3), 50_050_000);
        let pal = SimFrameClock::new(0, 25, 1);
        assert_eq!(pal.start_of(1), 40_000_000);
        assert_eq!(pal.frame_at(39_999_999), 0);
        assert_eq!(pal.frame_at(40_000_000), 1);
        assert_eq!(pal.frame_at(-1), -1);
    }

    #[test]
    fn acceleration_scales_the_rate() {
        let pal = SimFrameClock::new(ANCHOR, 25, 1);
        assert_eq!(
            pal.accelerated(4.0),
            Some(SimFrameClock::new(ANCHOR, 100, 1))
        );
        assert_eq!(
            pal.accelerated(2.5),
            Some(SimFrameClock::new(ANCHOR, 125, 2))
        );
        // 40 ms / 100 µs: at most 400 times faster.
        assert_eq!(
            pal.accelerated(1000.0),
            Some(SimFrameClock::new(ANCHOR, 10_000, 1))
        );
        let ntsc = SimFrameClock::new(ANCHOR, 60_000, 1001);
        let fast = ntsc.accelerated(3.0).unwrap();
        // Three times faster: three frames in the time of one.
        assert_eq!(fast.start_of(3), ntsc.start_of(1));
        assert_eq!(pal.accelerated(0.0), None);
        assert_eq!(pal.accelerated(f64::NAN), None);
    }
}
