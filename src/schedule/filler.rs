//! The filler's endless sequence: clip `seq % n` of pass `seq / n`, in order or shuffled.
//!
//! A shuffled pass is an affine permutation `(a · pos + b) mod n` with `a` coprime to `n`, drawn
//! from the seed and the pass number: every clip once per pass, any play computable on its own in
//! O(1) without storing an order (the planner allocates nothing per play but its output).

use super::timeline::{Filler, FillerOrder};

pub(super) struct FillerSeq<'a> {
    clips: &'a [u64],
    order: FillerOrder,
    seq: u64,
    /// The shuffled pass last drawn, `(pass, a, b)`: drawing costs a seeded generator, once per
    /// pass rather than once per play.
    pass: Option<(u64, u64, u64)>,
}

impl<'a> FillerSeq<'a> {
    /// `None` when there is no filler, or every clip has 0 frames (it could fill nothing).
    pub fn new(filler: Option<&Filler<'a>>) -> Option<FillerSeq<'a>> {
        let f = filler?;
        f.clips.iter().any(|&c| c > 0).then_some(FillerSeq {
            clips: f.clips,
            order: f.order,
            seq: f.next,
            pass: None,
        })
    }

    /// The next play with frames: (clip index, sequence number, frames).
    pub fn next_play(&mut self) -> (usize, u64, u64) {
        loop {
            let seq = self.seq;
            self.seq = self.seq.wrapping_add(1);
            let clip = self.clip_at(seq);
            let frames = self.clips.get(clip).copied().unwrap_or(0);
            if frames > 0 {
                return (clip, seq, frames);
            }
        }
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Goes back to play `seq` (plays planned in a gap that a hard start then took away).
    pub fn rewind(&mut self, seq: u64) {
        self.seq = seq;
    }

    fn clip_at(&mut self, seq: u64) -> usize {
        let n = self.clips.len() as u64;
        let (pass, pos) = (seq / n, seq % n);
        let index = match self.order {
            FillerOrder::InOrder => pos,
            FillerOrder::Shuffle { seed } if n > 1 => {
                let (a, b) = match self.pass {
                    Some((p, a, b)) if p == pass => (a, b),
                    _ => {
                        let (a, b) = draw(seed, pass, n);
                        self.pass = Some((pass, a, b));
                        (a, b)
                    }
                };
                // In u64 for any real filler list; u128 only past 2³² clips.
                a.checked_mul(pos)
                    .and_then(|x| x.checked_add(b))
                    .map_or_else(|| wide(a, pos, b, n), |x| x % n)
            }
            FillerOrder::Shuffle { .. } => 0,
        };
        usize::try_from(index).unwrap_or(0)
    }
}

/// `(a · pos + b) mod n` without overflow.
fn wide(a: u64, pos: u64, b: u64, n: u64) -> u64 {
    let v = (u128::from(a) * u128::from(pos) + u128::from(b)) % u128::from(n);
    u64::try_from(v).unwrap_or(0)
}

/// The permutation `(a, b)` of shuffled pass `pass` of `n > 1` clips.
fn draw(seed: u64, pass: u64, n: u64) -> (u64, u64) {
    let mut rng = fastrand::Rng::with_seed(seed ^ pass.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut a = rng.u64(1..n);
    while gcd(a, n) != 1 {
        a = a % (n - 1) + 1;
    }
    (a, rng.u64(0..n))
}

/// The play with sequence number `filler.next` or the first one after it with frames: (clip
/// index, its sequence number); `None` when no clip has frames.
pub fn next_play(filler: &Filler<'_>) -> Option<(usize, u64)> {
    let mut seq = FillerSeq::new(Some(filler))?;
    let (clip, n, _) = seq.next_play();
    Some((clip, n))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(filler: &Filler<'_>, n: usize) -> Vec<usize> {
        let mut seq = FillerSeq::new(Some(filler)).expect("usable");
        (0..n).map(|_| seq.next_play().0).collect()
    }

    #[test]
    fn in_order_loops_and_skips_empty_clips() {
        let clips = [10, 0, 30];
        let f = Filler {
            clips: &clips,
            order: FillerOrder::InOrder,
            next: 0,
        };
        assert_eq!(take(&f, 5), [0, 2, 0, 2, 0]);
        let f = Filler { next: 2, ..f };
        assert_eq!(take(&f, 2), [2, 0]);
        let none = [0, 0];
        let f = Filler { clips: &none, ..f };
        assert!(FillerSeq::new(Some(&f)).is_none());
        assert!(FillerSeq::new(None).is_none());
    }

    #[test]
    fn the_permutation_never_overflows() {
        assert_eq!(wide(3, 5, 1, 7), 2);
        assert_eq!(wide(u64::MAX - 1, u64::MAX - 2, 5, u64::MAX), 7);
    }

    #[test]
    fn a_shuffled_pass_plays_every_clip_once_and_passes_differ() {
        let clips = [1u64; 12];
        let f = Filler {
            clips: &clips,
            order: FillerOrder::Shuffle { seed: 7 },
            next: 0,
        };
        let plays = take(&f, 12 * 6);
        let mut passes = Vec::new();
        for pass in plays.chunks(12) {
            let mut sorted = pass.to_vec();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..12).collect::<Vec<_>>());
            passes.push(pass.to_vec());
        }
        passes.dedup();
        assert!(passes.len() > 1, "passes are not all the same order");
        assert_eq!(take(&f, 30), take(&f, 30), "the seed decides");
    }
}
