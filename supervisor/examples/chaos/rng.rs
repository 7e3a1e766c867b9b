//! The seeded PRNG every random choice of the harness comes from.
//!
//! SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
//! generators", 2014): a 64-bit counter advanced by the golden-ratio
//! constant and passed through a fixed mixing function. It is tiny, has no
//! bad seeds, and is plenty for picking faults and timings; it is not
//! cryptographic. Each round gets its own stream ([`Rng::for_round`]), so a
//! round's plan depends only on the seed and its number: `--only-round`
//! replays one round without running the ones before it.

/// A SplitMix64 generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The independent stream of round `round` (1-based) of `seed`.
    pub fn for_round(seed: u64, round: u32) -> Self {
        let mut mixer = Rng(seed ^ u64::from(round).wrapping_mul(0xd6e8_feb8_6659_fd93));
        Rng(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi` (`lo` if the range is empty). The tiny modulo
    /// bias of a 64-bit draw does not matter here.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// [`Rng::range`] for `u32`.
    pub fn range_u32(&mut self, lo: u32, hi: u32) -> u32 {
        u32::try_from(self.range(u64::from(lo), u64::from(hi))).unwrap_or(lo)
    }

    /// [`Rng::range`] for `usize`.
    pub fn range_usize(&mut self, lo: usize, hi: usize) -> usize {
        let drawn = self.range(lo as u64, hi as u64);
        usize::try_from(drawn).unwrap_or(lo)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// A uniformly chosen element, `None` if `items` is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        items.get(self.range_usize(0, items.len() - 1))
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.range_usize(0, i));
        }
    }

    /// A new generator whose stream is independent of this one's future.
    pub fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }
}
