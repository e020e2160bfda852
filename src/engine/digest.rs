//! The run digest and component fingerprints: stable 64-bit hashes that
//! witness what a run did (its events, the state values folded in, its
//! verdicts) and what a component holds. Below the driver and the
//! observers, which both carry digests.

use std::fmt;

use super::rng::mix64;
use super::time::SimTime;

/// The run digest: a stable 64-bit hash folded over every handled event.
///
/// # Algorithm (stable across versions and platforms)
/// Start from `0x243F_6A88_85A3_08D3`. For each handled event, with `t` its
/// time in nanoseconds, `k` its [`EventInfo::kind`](super::EventInfo::kind) and `g` its
/// [`EventInfo::target`](super::EventInfo::target):
/// `d = mix64(d ^ t); d = mix64(d ^ ((k << 32) | g))`, where `mix64` is the
/// SplitMix64 finaliser ([`mix64`]), arithmetic wrapping. Two runs that handle
/// the same events at the same times in the same order have equal digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Digest(u64);

impl Digest {
    /// The digest of a run that handled no event.
    pub const EMPTY: Digest = Digest(0x243F_6A88_85A3_08D3);

    /// Fold one handled event into the digest.
    #[inline]
    pub fn fold(self, time: SimTime, kind: u16, target: u32) -> Digest {
        let d = mix64(self.0 ^ time.as_nanos());
        Digest(mix64(d ^ (((kind as u64) << 32) | target as u64)))
    }

    /// Fold one value of the model's state (see [`Ctx::fold_state`](super::Ctx::fold_state)):
    /// `d = mix64(d ^ mix64(v ^ STATE_TAG))`, where the tag keeps a state
    /// value from ever equalling an event's fold.
    #[inline]
    pub fn fold_value(self, value: u64) -> Digest {
        const STATE_TAG: u64 = 0x5EED_57A7_E000_0001;
        Digest(mix64(self.0 ^ mix64(value ^ STATE_TAG)))
    }

    /// Combine another digest into this one (for runs made of several parts).
    pub fn combine(self, other: Digest) -> Digest {
        Digest(mix64(self.0 ^ mix64(other.0)))
    }

    /// The raw value.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// From a raw value (e.g. parsed from a CSV row).
    pub const fn from_value(v: u64) -> Digest {
        Digest(v)
    }
}

impl fmt::Display for Digest {
    /// Sixteen lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The digest algorithm's version. 1: events only. 2: events, every probe
/// value at each sample (the model folds them with [`Ctx::fold_state`](super::Ctx::fold_state)) and
/// the verdicts at the end. Handles and shard files carry it, so a digest
/// recorded by another format is refused, not reported as a mismatch.
pub const DIGEST_FORMAT: u32 = 2;

/// A 64-bit fingerprint of a component's state, built field by field in a
/// fixed order (SplitMix64 over each value, like the digest). Components use
/// it to report their full state in a self-check ([`Ctx::report_state`](super::Ctx::report_state)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(u64);

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint(0x9E37_79B9_7F4A_7C15)
    }
}

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Fingerprint {
        Fingerprint::default()
    }

    /// Fold an unsigned value.
    #[inline]
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0 = mix64(self.0 ^ v.wrapping_add(0x632B_E59B_D9B4_E019));
        self
    }

    /// Fold a signed value.
    #[inline]
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.u64(v as u64)
    }

    /// Fold a flag.
    #[inline]
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u64(v as u64)
    }

    /// Fold an instant.
    #[inline]
    pub fn time(&mut self, t: SimTime) -> &mut Self {
        self.u64(t.as_nanos())
    }

    /// Fold an optional value (`None` and `Some(0)` differ).
    #[inline]
    pub fn opt(&mut self, v: Option<u64>) -> &mut Self {
        match v {
            Some(x) => self.u64(1).u64(x),
            None => self.u64(0),
        }
    }

    /// Fold the bits of a float (fluid quantities).
    #[inline]
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.u64(v.to_bits())
    }

    /// The fingerprint.
    pub fn finish(&self) -> u64 {
        self.0
    }
}
