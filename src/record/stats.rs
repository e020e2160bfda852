//! Mergeable streaming statistics and confidence intervals.
//!
//! Two kinds of moments are offered:
//! - [`Welford`] for float data: numerically stable running mean and
//!   variance; [`Welford::merge`] uses Chan's formula. Floating-point merges
//!   are not associative to the last bit, so results depend on the grouping.
//! - [`IntMoments`] for integer data (nanoseconds, counts): exact `u128`
//!   sums of values and squares. Merging is associative and commutative to
//!   the bit, which is what lets shards merge into byte-identical summaries.
//!
//! [`LogSketch`] is a fixed-size quantile sketch over `u64` values with
//! integer bucketing (no logarithms, so identical on every platform).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Running mean and variance of `f64` values (Welford), mergeable (Chan).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Welford {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Welford {
    /// An empty accumulator.
    pub const fn new() -> Welford {
        Welford {
            n: 0,
            mean: 0.0,
            m2: 0.0,
        }
    }

    /// Add one value.
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Fold another accumulator into this one (Chan et al.). The result
    /// equals, up to rounding, the accumulator of all values of both.
    pub fn merge(&mut self, other: &Welford) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        let mean = self.mean + delta * other.n as f64 / n as f64;
        let m2 = self.m2 + other.m2 + delta * delta * (self.n as f64 * other.n as f64) / n as f64;
        *self = Welford { n, mean, m2 };
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The mean (0 when empty).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The sample variance (n - 1 denominator; 0 below two values).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// The sample standard deviation.
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }
}

/// Exact moments of non-negative integer values: count, sum, sum of squares
/// and maximum, as integers. Merging is exact in any order or grouping.
///
/// Capacity: values up to 2^40 (about 18 minutes in nanoseconds) and up to
/// 2^40 values keep the sums of squares below 2^120, far from overflow;
/// [`push`](Self::push) saturates rather than wraps beyond that.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntMoments {
    /// Number of values.
    pub n: u64,
    /// Sum of the values (decimal text in serialized form: RON has no u128).
    #[serde(with = "u128_text")]
    pub sum: u128,
    /// Sum of the squares of the values (decimal text in serialized form).
    #[serde(with = "u128_text")]
    pub sum_sq: u128,
    /// Largest value (0 when empty).
    pub max: u64,
}

impl IntMoments {
    /// Add one value.
    #[inline]
    pub fn push(&mut self, x: u64) {
        self.n += 1;
        self.sum = self.sum.saturating_add(x as u128);
        self.sum_sq = self.sum_sq.saturating_add((x as u128) * (x as u128));
        self.max = self.max.max(x);
    }

    /// Fold another accumulator into this one (exact).
    pub fn merge(&mut self, other: &IntMoments) {
        self.n += other.n;
        self.sum = self.sum.saturating_add(other.sum);
        self.sum_sq = self.sum_sq.saturating_add(other.sum_sq);
        self.max = self.max.max(other.max);
    }

    /// The mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum as f64 / self.n as f64
        }
    }

    /// The sample variance (n - 1 denominator; 0 below two values), computed
    /// from the exact integer identity `n·Σx² − (Σx)²` before one division.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as u128;
        // Both products fit for the documented capacity; saturate otherwise.
        let a = n.saturating_mul(self.sum_sq);
        let b = self.sum.saturating_mul(self.sum);
        let num = a.saturating_sub(b);
        num as f64 / (n as f64 * (n - 1) as f64)
    }

    /// The sample standard deviation.
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }
}

mod u128_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Sub-bucket bits of [`LogSketch`]: each power of two is split into
/// `2^SKETCH_SUB_BITS` equal buckets.
pub const SKETCH_SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SKETCH_SUB_BITS;
/// Number of buckets of a [`LogSketch`]: values below `2^SKETCH_SUB_BITS`
/// are exact, then `2^SKETCH_SUB_BITS` buckets per power of two up to 2^64.
pub const SKETCH_BUCKETS: usize = ((65 - SKETCH_SUB_BITS) as usize) << SKETCH_SUB_BITS;
/// The sketch's guaranteed relative error on any reported quantile:
/// `2^-(SKETCH_SUB_BITS + 1)` = 1/256 ≈ 0.39 %.
pub const SKETCH_RELATIVE_ERROR: f64 = 1.0 / (2u64 << SKETCH_SUB_BITS) as f64;

/// A fixed-size, exactly mergeable quantile sketch over `u64` values
/// (log-linear buckets, as in HDR histograms).
///
/// A value `x < 128` has its own bucket. Above, `x` in `[2^e, 2^(e+1))` falls
/// in one of 128 equal buckets of width `w = 2^(e-7)`; the reported value is
/// the bucket's midpoint, so its distance to any value of the bucket is at
/// most `w / 2 <= x / 256` ([`SKETCH_RELATIVE_ERROR`]). Quantiles use the
/// nearest-rank definition: the `q`-quantile of `n` values is the value of
/// rank `ceil(q·n)` in sorted order; the sketch reports that value's bucket
/// midpoint. Bucketing uses integer operations only, so it is identical on
/// every platform; merging adds counts, so it is exact in any order.
///
/// Size: [`SKETCH_BUCKETS`] = 7,424 counters (58 KiB), whatever the count.
#[derive(Clone, PartialEq, Eq)]
pub struct LogSketch {
    counts: Box<[u64]>,
    n: u64,
}

impl std::fmt::Debug for LogSketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSketch")
            .field("n", &self.n)
            .field(
                "buckets_used",
                &self.counts.iter().filter(|&&c| c > 0).count(),
            )
            .finish()
    }
}

impl Default for LogSketch {
    fn default() -> Self {
        Self::new()
    }
}

impl LogSketch {
    /// An empty sketch.
    pub fn new() -> LogSketch {
        LogSketch {
            counts: vec![0; SKETCH_BUCKETS].into_boxed_slice(),
            n: 0,
        }
    }

    /// The bucket index of `x`.
    #[inline]
    pub fn bucket_of(x: u64) -> usize {
        if x < SUB {
            x as usize
        } else {
            let e = 63 - x.leading_zeros();
            let shift = e - SKETCH_SUB_BITS;
            let group = (shift + 1) as u64;
            ((group << SKETCH_SUB_BITS) + ((x >> shift) - SUB)) as usize
        }
    }

    /// The lowest value and the width of bucket `i`.
    pub fn bucket_bounds(i: usize) -> (u64, u64) {
        let i = i as u64;
        if i < SUB {
            (i, 1)
        } else {
            let group = i >> SKETCH_SUB_BITS;
            let shift = group - 1;
            let lo = (SUB + (i & (SUB - 1))) << shift;
            (lo, 1 << shift)
        }
    }

    /// Add one value.
    #[inline]
    pub fn push(&mut self, x: u64) {
        self.counts[Self::bucket_of(x)] += 1;
        self.n += 1;
    }

    /// Add `count` occurrences of bucket `i` (for rebuilding from a sparse
    /// list); `i` must be below [`SKETCH_BUCKETS`].
    pub fn add_bucket(&mut self, i: usize, count: u64) -> bool {
        match self.counts.get_mut(i) {
            Some(c) => {
                *c += count;
                self.n += count;
                true
            }
            None => false,
        }
    }

    /// Fold another sketch into this one (exact).
    pub fn merge(&mut self, other: &LogSketch) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += *b;
        }
        self.n += other.n;
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The non-empty buckets as `(index, count)`, in index order.
    pub fn sparse(&self) -> Vec<(u32, u64)> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i as u32, *c))
            .collect()
    }

    /// The nearest-rank quantile `num / den` (e.g. 99/100 for p99), as the
    /// midpoint of its bucket; `None` when empty or `num > den` or `den == 0`.
    pub fn quantile_ratio(&self, num: u64, den: u64) -> Option<f64> {
        if self.n == 0 || den == 0 || num > den {
            return None;
        }
        // rank = ceil(num * n / den), at least 1.
        let rank = ((num as u128 * self.n as u128).div_ceil(den as u128)).max(1) as u64;
        self.at_rank(rank)
    }

    /// The value of rank `rank` (1-based, in sorted order) as the midpoint
    /// of its bucket; `None` when `rank` is 0 or above the count.
    pub fn at_rank(&self, rank: u64) -> Option<f64> {
        if rank == 0 || rank > self.n {
            return None;
        }
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, w) = Self::bucket_bounds(i);
                return Some(lo as f64 + (w - 1) as f64 / 2.0);
            }
        }
        None
    }
}

/// A two-sided confidence interval `[low, high]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

fn normal_quantile(p: f64) -> f64 {
    Normal::new(0.0, 1.0)
        .expect("standard normal")
        .inverse_cdf(p)
}

/// The Wilson score interval for `successes` out of `n` trials at the given
/// confidence (e.g. 0.95), with `z` from statrs' normal inverse CDF. For
/// `n == 0` it is `[0, 1]`.
pub fn wilson_interval(successes: u64, n: u64, confidence: f64) -> Interval {
    if n == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let z = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// The Student-t interval for a mean: `mean ± t(n-1) · sd / sqrt(n)` at the
/// given confidence, with the quantile from statrs. Degenerate (`[mean,
/// mean]`) below two values.
pub fn t_interval(mean: f64, sd: f64, n: u64, confidence: f64) -> Interval {
    if n < 2 {
        return Interval {
            low: mean,
            high: mean,
        };
    }
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .expect("n >= 2 gives positive degrees of freedom")
        .inverse_cdf(1.0 - (1.0 - confidence) / 2.0);
    let half = t * sd / (n as f64).sqrt();
    Interval {
        low: mean - half,
        high: mean + half,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_invert_bucket_of() {
        for x in [
            0u64,
            1,
            127,
            128,
            129,
            255,
            256,
            1000,
            123_456_789,
            u64::MAX,
        ] {
            let i = LogSketch::bucket_of(x);
            assert!(i < SKETCH_BUCKETS, "{x} -> {i}");
            let (lo, w) = LogSketch::bucket_bounds(i);
            assert!(lo <= x && x - lo < w, "{x}: [{lo}, +{w})");
        }
        assert_eq!(LogSketch::bucket_of(u64::MAX), SKETCH_BUCKETS - 1);
    }

    #[test]
    fn int_moments_match_welford() {
        let mut w = Welford::new();
        let mut m = IntMoments::default();
        for x in [3u64, 9, 27, 81, 243] {
            w.push(x as f64);
            m.push(x);
        }
        assert!((w.mean() - m.mean()).abs() < 1e-9);
        assert!((w.variance() - m.variance()).abs() < 1e-6);
    }
}
