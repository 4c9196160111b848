//! Channel frame-rate arithmetic with exact rationals (25, 50, 30000/1001, 60000/1001 …).
//!
//! A frame clock is an anchor (an instant known to be a frame boundary, e.g. when the channel
//! reported a frame) and a rate. Frame `k` begins at `anchor + k · den / num` seconds exactly; in
//! nanoseconds that is rounded **up**, so the nanosecond we name as a frame's start is never
//! before the true boundary and still lies inside frame `k` (a frame is > 1 ns long). Everything
//! is integer arithmetic in `i128`: 59.94 fps frames are 16,683,333.3… ns long, and a float would
//! eventually place a start in the frame before.

use super::NANOS_PER_SEC;

/// A frame rate as a fraction of frames per second, e.g. 60000/1001 for 59.94.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRate {
    num: u32,
    den: u32,
}

impl FrameRate {
    pub const FPS_25: FrameRate = FrameRate { num: 25, den: 1 };
    pub const FPS_50: FrameRate = FrameRate { num: 50, den: 1 };
    pub const FPS_29_97: FrameRate = FrameRate {
        num: 30000,
        den: 1001,
    };
    pub const FPS_59_94: FrameRate = FrameRate {
        num: 60000,
        den: 1001,
    };

    /// `num / den` frames per second; `None` unless both are positive and the rate is between
    /// 1 and 1000 fps (anything else is no video channel, and keeps the arithmetic far from
    /// overflow).
    pub fn new(num: u32, den: u32) -> Option<FrameRate> {
        let (n, d) = (u64::from(num), u64::from(den));
        (den > 0 && n >= d && n <= 1000 * d).then_some(FrameRate { num, den })
    }

    pub fn num(self) -> u32 {
        self.num
    }

    pub fn den(self) -> u32 {
        self.den
    }

    /// Nanoseconds in `frames` frames, rounded up.
    pub fn frames_to_nanos(self, frames: i64) -> i64 {
        let exact = i128::from(frames) * i128::from(self.den) * i128::from(NANOS_PER_SEC);
        saturate(div_ceil(exact, i128::from(self.num)))
    }

    /// Whole frames that fit in `nanos` (rounded down).
    pub fn nanos_to_frames(self, nanos: i64) -> i64 {
        let scaled = i128::from(nanos) * i128::from(self.num);
        saturate(scaled.div_euclid(i128::from(self.den) * i128::from(NANOS_PER_SEC)))
    }

    /// Length of one frame in nanoseconds, rounded up (the longest a frame can be in whole ns).
    pub fn frame_nanos(self) -> i64 {
        self.frames_to_nanos(1)
    }
}

/// Frame boundaries of one channel: an anchor instant (a boundary) and the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameClock {
    /// Nanoseconds since the Unix epoch of frame 0's first instant.
    pub anchor: i64,
    pub rate: FrameRate,
}

impl FrameClock {
    pub fn new(anchor: i64, rate: FrameRate) -> FrameClock {
        FrameClock { anchor, rate }
    }

    /// The index of the frame containing instant `t` (frame `k` holds `[start(k), start(k+1))`).
    pub fn frame_at(&self, t: i64) -> i64 {
        let since = i128::from(t) - i128::from(self.anchor);
        let scaled = since * i128::from(self.rate.num);
        saturate(scaled.div_euclid(self.per_frame_scaled()))
    }

    /// The first frame that starts at or after `t`.
    pub fn frame_at_or_after(&self, t: i64) -> i64 {
        let since = i128::from(t) - i128::from(self.anchor);
        saturate(div_ceil(
            since * i128::from(self.rate.num),
            self.per_frame_scaled(),
        ))
    }

    /// The instant frame `k` starts, in whole nanoseconds, never before the exact boundary.
    pub fn start_of(&self, k: i64) -> i64 {
        let offset = div_ceil(
            i128::from(k) * self.per_frame_scaled(),
            i128::from(self.rate.num),
        );
        saturate(i128::from(self.anchor) + offset)
    }

    /// `den · 10⁹`: one frame is this many `1/num` nanoseconds.
    fn per_frame_scaled(&self) -> i128 {
        i128::from(self.rate.den) * i128::from(NANOS_PER_SEC)
    }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    -((-a).div_euclid(b))
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RATES: [FrameRate; 6] = [
        FrameRate::FPS_25,
        FrameRate::FPS_50,
        FrameRate::FPS_29_97,
        FrameRate::FPS_59_94,
        FrameRate {
            num: 24000,
            den: 1001,
        },
        FrameRate { num: 60, den: 1 },
    ];

    #[test]
    fn whole_rates_have_exact_frames() {
        let c = FrameClock::new(1_000, FrameRate::FPS_25);
        assert_eq!(c.start_of(0), 1_000);
        assert_eq!(c.start_of(25), 1_000 + NANOS_PER_SEC);
        assert_eq!(c.frame_at(1_000 + 40_000_000 - 1), 0);
        assert_eq!(c.frame_at(1_000 + 40_000_000), 1);
        assert_eq!(c.frame_at(999), -1);
        assert_eq!(c.frame_at_or_after(1_001), 1);
        assert_eq!(c.frame_at_or_after(1_000), 0);
    }

    #[test]
    fn drop_frame_rates_round_boundaries_up() {
        let c = FrameClock::new(0, FrameRate::FPS_59_94);
        // Frame 1 begins at 16,683,333.33… ns: named 16,683,334, which is inside frame 1.
        assert_eq!(c.start_of(1), 16_683_334);
        assert_eq!(c.frame_at(16_683_333), 0);
        assert_eq!(c.frame_at(16_683_334), 1);
        // 60,000 frames are exactly 1001 s.
        assert_eq!(c.start_of(60_000), 1_001 * NANOS_PER_SEC);
        assert_eq!(c.frame_at(1_001 * NANOS_PER_SEC), 60_000);
        assert_eq!(c.frame_at(1_001 * NANOS_PER_SEC - 1), 59_999);
        assert_eq!(FrameRate::FPS_59_94.frame_nanos(), 16_683_334);
        assert_eq!(
            FrameRate::FPS_29_97.nanos_to_frames(1_001 * NANOS_PER_SEC),
            30_000
        );
    }

    #[test]
    fn rates_are_checked() {
        assert_eq!(FrameRate::new(60000, 1001), Some(FrameRate::FPS_59_94));
        for (n, d) in [(0, 1), (1, 0), (1, 2), (1001, 1), (0, 0)] {
            assert_eq!(FrameRate::new(n, d), None, "{n}/{d}");
        }
    }

    #[test]
    fn extreme_inputs_saturate_instead_of_overflowing() {
        let c = FrameClock::new(i64::MAX, FrameRate::FPS_59_94);
        assert_eq!(c.start_of(i64::MAX), i64::MAX);
        assert_eq!(
            c.frame_at(i64::MIN),
            -1_105_698_945_478,
            "2⁶⁴ ns back, still exact"
        );
        assert_eq!(c.start_of(i64::MIN), i64::MIN);
        assert_eq!(FrameRate::FPS_25.frames_to_nanos(i64::MAX), i64::MAX);
    }

    proptest! {
        /// A named frame start is never before the true boundary and lies inside its frame, and
        /// the frame containing an instant never starts after it: no planned start can be early.
        #[test]
        fn frame_starts_are_never_early(
            anchor in -(1i64 << 61)..(1i64 << 61),
            offset in -(1i64 << 50)..(1i64 << 50),
            rate in 0usize..RATES.len(),
        ) {
            let rate = RATES[rate];
            let c = FrameClock::new(anchor, rate);
            let t = anchor.saturating_add(offset);
            let k = c.frame_at(t);
            let start = c.start_of(k);
            prop_assert!(start <= t, "frame {k} starts at {start}, after {t}");
            prop_assert!(c.start_of(k + 1) > t);
            prop_assert_eq!(c.frame_at(start), k);
            // Exactly: start · num ≥ k · den · 10⁹ (never before the true boundary), and less
            // than one nanosecond after it.
            let exact = i128::from(k) * i128::from(rate.den()) * 1_000_000_000;
            let named = (i128::from(start) - i128::from(anchor)) * i128::from(rate.num());
            prop_assert!(named >= exact && named - exact < i128::from(rate.num()));
            let after = c.frame_at_or_after(t);
            prop_assert!(c.start_of(after) >= t && (after == k || after == k + 1));
        }
    }
}
