//! Seeded random streams derived from `(root seed, labels...)`.
//!
//! Every component that draws random numbers gets its **own** stream, named by
//! a path of labels from the root seed, e.g.
//! `SeedPath::root(42).child("run").child_u64(17).child("bus")`. Streams are
//! derived independently, so adding a new component (a new path) never shifts
//! the draws of existing ones, and a run can be replayed alone from its path.
//!
//! # The derivation (stable across versions and platforms)
//! - A label is hashed with 64-bit FNV-1a over a one-byte tag followed by its
//!   bytes: tag `0x01` then the UTF-8 bytes for a string label, tag `0x02`
//!   then the 8 little-endian bytes for an integer label.
//! - `child(parent, label) = mix64(parent + 0x9E37_79B9_7F4A_7C15) ^ fnv(label)`
//!   then `mix64` once more, where `mix64` is the SplitMix64 finaliser
//!   (`z ^= z >> 30; z *= 0xBF58_476D_1CE4_E5B9; z ^= z >> 27;
//!   z *= 0x94D0_49BB_1331_11EB; z ^= z >> 31`), all arithmetic wrapping.
//! - The generator is `Xoshiro256PlusPlus::seed_from_u64(path.seed())` from
//!   `rand_xoshiro` (which expands the 64-bit seed with SplitMix64).
//!
//! Changing any of this changes every digest and snapshot: don't.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The random generator used everywhere in chaosim: xoshiro256++.
pub type SimRng = Xoshiro256PlusPlus;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a fast, well-mixing bijection on `u64`.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 64-bit FNV-1a of `tag` followed by `bytes`.
pub const fn fnv1a64(tag: u8, bytes: &[u8]) -> u64 {
    let mut h = (FNV_OFFSET ^ tag as u64).wrapping_mul(FNV_PRIME);
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u64).wrapping_mul(FNV_PRIME);
        i += 1;
    }
    h
}

/// A position in the tree of seeds: the root seed, or a labelled child of
/// another path. Cheap to copy; call [`rng`](Self::rng) to get a generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeedPath(u64);

impl SeedPath {
    /// The root of the tree for a user-given seed.
    pub const fn root(seed: u64) -> SeedPath {
        SeedPath(mix64(seed.wrapping_add(GOLDEN_GAMMA)))
    }

    const fn derive(self, label_hash: u64) -> SeedPath {
        SeedPath(mix64(mix64(self.0.wrapping_add(GOLDEN_GAMMA)) ^ label_hash))
    }

    /// The child named by a string label.
    pub const fn child(self, label: &str) -> SeedPath {
        self.derive(fnv1a64(0x01, label.as_bytes()))
    }

    /// The child named by an integer label (a run index, an entity id...).
    pub const fn child_u64(self, label: u64) -> SeedPath {
        self.derive(fnv1a64(0x02, &label.to_le_bytes()))
    }

    /// The 64-bit seed at this path.
    pub const fn seed(self) -> u64 {
        self.0
    }

    /// A fresh generator seeded from this path.
    pub fn rng(self) -> SimRng {
        SimRng::seed_from_u64(self.0)
    }
}

/// Draw helpers on any generator, so models need not import `rand` traits.
pub trait RngDraws {
    /// A uniform `u64`.
    fn draw_u64(&mut self) -> u64;

    /// A uniform float in `[0, 1)` with 53 bits of precision.
    #[inline]
    fn unit_f64(&mut self) -> f64 {
        (self.draw_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)` (Lemire's multiply-shift, bias-free by
    /// rejection); `n` must be > 0.
    ///
    /// A draw is rejected iff the low half of its product is below
    /// `2^64 mod n`, which is below `n`: so a low half of at least `n` is
    /// accepted without computing that remainder (Lemire's "nearly
    /// divisionless" form). The accepted draws, and so the values and the
    /// number of draws, are those of the form that divides every time.
    #[inline]
    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let mut m = (self.draw_u64() as u128) * (n as u128);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.draw_u64() as u128) * (n as u128);
            }
        }
        (m >> 64) as u64
    }

    /// `true` with probability `num / den` exactly (integer ratio, no floats).
    #[inline]
    fn ratio(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// An exponential variate with the given mean, in nanoseconds, rounded
    /// down; used for Poisson processes. `mean_ns` must be finite and >= 0.
    #[inline]
    fn exp_ns(&mut self, mean_ns: f64) -> u64 {
        // 1 - U is in (0, 1], so the log is finite.
        let u = 1.0 - self.unit_f64();
        let x = -u.ln() * mean_ns;
        if x >= u64::MAX as f64 {
            u64::MAX
        } else {
            x as u64
        }
    }
}

impl<R: rand::Rng + ?Sized> RngDraws for R {
    #[inline]
    fn draw_u64(&mut self) -> u64 {
        self.next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_pinned() {
        // Pinned values: if these change, every recorded digest changes too.
        assert_eq!(SeedPath::root(42).seed(), 0xbdd7_3226_2feb_6e95);
        assert_eq!(
            SeedPath::root(42).child("bus").child_u64(3).seed(),
            SeedPath::root(42).child("bus").child_u64(3).seed()
        );
        let mut r = SimRng::seed_from_u64(42);
        assert_eq!(
            r.draw_u64(),
            0xd076_4d4f_4476_689f,
            "rand_xoshiro seeding changed"
        );
    }

    #[test]
    fn labels_are_ordered_and_typed() {
        let root = SeedPath::root(7);
        assert_ne!(root.child("a").child("b"), root.child("b").child("a"));
        assert_ne!(root.child("1"), root.child_u64(1));
        assert_ne!(root.child("ab"), root.child("a").child("b"));
    }

    /// The form of `below` that computes the rejection threshold on every
    /// call: the values and the number of draws every digest depends on.
    fn below_dividing_every_time(r: &mut SimRng, n: u64) -> u64 {
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (r.draw_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    #[test]
    fn below_draws_what_the_dividing_form_draws() {
        // Bounds where rejection is likely (just above a power of two, near
        // 2^64) or impossible (powers of two), and everyday spans.
        let bounds = [
            1u64,
            2,
            3,
            7,
            1000,
            1_000_001,
            (1 << 32) + 1,
            (1 << 63) + 1,
            u64::MAX / 3 * 2,
            u64::MAX - 1,
            u64::MAX,
        ];
        let (mut a, mut b) = (SeedPath::root(9).rng(), SeedPath::root(9).rng());
        for n in bounds {
            for _ in 0..2000 {
                assert_eq!(a.below(n), below_dividing_every_time(&mut b, n), "n = {n}");
            }
        }
        // Same number of draws: the streams are still in step.
        assert_eq!(a.draw_u64(), b.draw_u64());
    }

    #[test]
    fn below_stays_in_range_and_ratio_is_exact_at_edges() {
        let mut r = SeedPath::root(1).rng();
        for n in [1u64, 2, 3, 7, 1000, u64::MAX] {
            for _ in 0..100 {
                assert!(r.below(n) < n);
            }
        }
        assert!((0..1000).all(|_| !r.ratio(0, 5)));
        assert!((0..1000).all(|_| r.ratio(5, 5)));
        let u = r.unit_f64();
        assert!((0.0..1.0).contains(&u));
    }
}
