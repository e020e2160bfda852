//! Exponential backoff with jitter (AWS Architecture Blog formulas).
//!
//! With `base` and `cap` in nanoseconds and `n` the retry number (0 for the
//! first retry): `expo(n) = min(cap, base · 2^n)`, and the wait is
//! - [`Jitter::None`]: the exponential wait `expo(n)` itself;
//! - [`Jitter::Full`]: `U[0, expo(n)]`;
//! - [`Jitter::Equal`]: `expo(n)/2 + U[0, expo(n) - expo(n)/2]`;
//! - [`Jitter::Decorrelated`]: `min(cap, U[base, 3 · previous])`, where
//!   `previous` is the last wait (starting at `base`).
//!
//! All draws are integer nanoseconds from the caller's seeded stream.

use serde::{Deserialize, Serialize};

use crate::engine::RngDraws;
use crate::error::FieldError;

/// Nanoseconds per millisecond.
const MS: u64 = 1_000_000;
/// Largest base or cap accepted: one hour.
pub const BACKOFF_MS_MAX: u64 = 3_600_000;

/// How a backoff wait is randomised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Jitter {
    /// No randomisation: the exponential wait itself.
    None,
    /// Uniform in `[0, expo]`.
    Full,
    /// Half the exponential wait plus uniform in the other half.
    Equal,
    /// `min(cap, U[base, 3 · previous])`.
    Decorrelated,
}

/// An exponential backoff policy (multiplier 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// The randomisation.
    pub jitter: Jitter,
    /// The first exponential wait, in milliseconds (1..=3,600,000).
    pub base_ms: u64,
    /// The largest wait, in milliseconds (base_ms..=3,600,000).
    pub cap_ms: u64,
}

impl Default for Backoff {
    /// Full jitter, base 100 ms, cap 2 s.
    fn default() -> Self {
        Backoff {
            jitter: Jitter::Full,
            base_ms: 100,
            cap_ms: 2_000,
        }
    }
}

impl Backoff {
    /// Check the ranges; the error names `base_ms` or `cap_ms` (the caller
    /// puts it [`within`](FieldError::within) the field that holds the
    /// policy).
    pub fn validate(&self) -> Result<(), FieldError> {
        if !(1..=BACKOFF_MS_MAX).contains(&self.base_ms) {
            return Err(FieldError::new(
                "base_ms",
                format!("{} is outside 1..={BACKOFF_MS_MAX}", self.base_ms),
            ));
        }
        if !(self.base_ms..=BACKOFF_MS_MAX).contains(&self.cap_ms) {
            return Err(FieldError::new(
                "cap_ms",
                format!(
                    "{} is outside base_ms..={BACKOFF_MS_MAX} ({}..={BACKOFF_MS_MAX})",
                    self.cap_ms, self.base_ms
                ),
            ));
        }
        Ok(())
    }

    /// The base wait in nanoseconds.
    pub fn base_ns(&self) -> u64 {
        self.base_ms * MS
    }

    /// The cap in nanoseconds.
    pub fn cap_ns(&self) -> u64 {
        self.cap_ms * MS
    }

    /// `expo(n) = min(cap, base · 2^n)` in nanoseconds (saturating).
    pub fn expo_ns(&self, retry: u32) -> u64 {
        let factor = 1u64.checked_shl(retry).unwrap_or(u64::MAX);
        self.base_ns().saturating_mul(factor).min(self.cap_ns())
    }

    /// The wait before retry number `retry` (0-based), given the previous
    /// wait `previous_ns` (used by decorrelated jitter; pass the base for the
    /// first retry), drawn from `rng`.
    pub fn wait_ns<R: RngDraws + ?Sized>(&self, retry: u32, previous_ns: u64, rng: &mut R) -> u64 {
        match self.jitter {
            Jitter::None => self.expo_ns(retry),
            Jitter::Full => {
                let e = self.expo_ns(retry);
                rng.below(e + 1)
            }
            Jitter::Equal => {
                let e = self.expo_ns(retry);
                let half = e / 2;
                half + rng.below(e - half + 1)
            }
            Jitter::Decorrelated => {
                let base = self.base_ns();
                let hi = previous_ns.max(base).saturating_mul(3);
                (base + rng.below(hi - base + 1)).min(self.cap_ns())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SeedPath;

    fn policy(jitter: Jitter) -> Backoff {
        Backoff {
            jitter,
            base_ms: 100,
            cap_ms: 1_000,
        }
    }

    #[test]
    fn expo_doubles_then_caps() {
        let b = policy(Jitter::None);
        let ms: Vec<u64> = (0..6).map(|n| b.expo_ns(n) / MS).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(b.expo_ns(200), 1_000 * MS, "huge retry numbers saturate");
        let mut rng = SeedPath::root(1).rng();
        assert_eq!(b.wait_ns(2, 0, &mut rng), 400 * MS);
    }

    #[test]
    fn full_jitter_spans_zero_to_expo() {
        let b = policy(Jitter::Full);
        let mut rng = SeedPath::root(2).rng();
        let waits: Vec<u64> = (0..4000).map(|_| b.wait_ns(1, 0, &mut rng)).collect();
        assert!(waits.iter().all(|&w| w <= 200 * MS));
        assert!(waits.iter().any(|&w| w < 20 * MS), "reaches near 0");
        assert!(waits.iter().any(|&w| w > 180 * MS), "reaches near expo");
        let mean = waits.iter().sum::<u64>() as f64 / waits.len() as f64 / MS as f64;
        assert!((mean - 100.0).abs() < 5.0, "mean {mean} ms, expected 100");
    }

    #[test]
    fn equal_jitter_keeps_half() {
        let b = policy(Jitter::Equal);
        let mut rng = SeedPath::root(3).rng();
        for _ in 0..2000 {
            let w = b.wait_ns(2, 0, &mut rng);
            assert!((200 * MS..=400 * MS).contains(&w), "{w}");
        }
    }

    #[test]
    fn decorrelated_jitter_grows_from_previous_and_caps() {
        let b = policy(Jitter::Decorrelated);
        let mut rng = SeedPath::root(4).rng();
        let mut prev = b.base_ns();
        let mut seen_cap = false;
        for _ in 0..200 {
            let w = b.wait_ns(0, prev, &mut rng);
            assert!(
                w >= 100 * MS && w <= (3 * prev).min(1_000 * MS),
                "{w} after {prev}"
            );
            seen_cap |= w == 1_000 * MS;
            prev = w;
        }
        assert!(seen_cap, "the cap is reached");
    }

    #[test]
    fn validation_names_the_field() {
        let bad = Backoff {
            jitter: Jitter::Full,
            base_ms: 500,
            cap_ms: 100,
        };
        let e = bad.validate().unwrap_err().within("rules[0].backoff");
        assert_eq!(e.field, "rules[0].backoff.cap_ms", "{e}");
        assert!(e.message.contains("base_ms..="), "{e}");
        assert!(policy(Jitter::Full).validate().is_ok());
    }
}
