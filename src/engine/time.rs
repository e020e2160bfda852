//! Simulated time: integer nanoseconds, never floats.
//!
//! [`SimTime`] is an instant (nanoseconds since the simulation epoch, which is
//! midnight of day 0 of a programme); [`SimDuration`] is a span. Keeping them
//! apart makes `instant + instant` a type error. All arithmetic is checked:
//! the `checked_*` methods return `None` on overflow, and the operators panic
//! with a message naming the operation (overflow is a bug, never a silent wrap).
//!
//! `u64` nanoseconds cover about 584 years, far beyond any programme.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds in one microsecond.
pub const NANOS_PER_MICRO: u64 = 1_000;
/// Nanoseconds in one millisecond.
pub const NANOS_PER_MILLI: u64 = 1_000_000;
/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Nanoseconds in one minute.
pub const NANOS_PER_MINUTE: u64 = 60 * NANOS_PER_SEC;
/// Nanoseconds in one hour.
pub const NANOS_PER_HOUR: u64 = 60 * NANOS_PER_MINUTE;
/// Nanoseconds in one simulated day.
pub const NANOS_PER_DAY: u64 = 24 * NANOS_PER_HOUR;

/// An instant of simulated time, in nanoseconds since the epoch (00:00 of day 0).
///
/// Ordered, hashable and `Copy`. Displayed as `day 3 02:00:00.250`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct SimDuration(u64);

impl SimTime {
    /// The epoch: 00:00:00 of day 0.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable instant.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> SimTime {
        SimTime(nanos)
    }

    /// The instant at `hour:minute:second` of day `day` (0-based); `None` if a
    /// field is out of range (hour < 24, minute < 60, second < 60) or the
    /// result overflows.
    pub const fn from_day_time(day: u64, hour: u64, minute: u64, second: u64) -> Option<SimTime> {
        if hour >= 24 || minute >= 60 || second >= 60 {
            return None;
        }
        let Some(day_ns) = day.checked_mul(NANOS_PER_DAY) else {
            return None;
        };
        let tod = hour * NANOS_PER_HOUR + minute * NANOS_PER_MINUTE + second * NANOS_PER_SEC;
        match day_ns.checked_add(tod) {
            Some(ns) => Some(SimTime(ns)),
            None => None,
        }
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the epoch, as a float (for reporting only, never ordering).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The 0-based day this instant falls in.
    pub const fn day_index(self) -> u64 {
        self.0 / NANOS_PER_DAY
    }

    /// The time elapsed since midnight of [`day_index`](Self::day_index).
    pub const fn time_of_day(self) -> SimDuration {
        SimDuration(self.0 % NANOS_PER_DAY)
    }

    /// The hour of the day, 0..=23.
    pub const fn hour_of_day(self) -> u64 {
        self.time_of_day().0 / NANOS_PER_HOUR
    }

    /// `self + d`, or `None` on overflow.
    pub const fn checked_add(self, d: SimDuration) -> Option<SimTime> {
        match self.0.checked_add(d.0) {
            Some(ns) => Some(SimTime(ns)),
            None => None,
        }
    }

    /// `self - d`, or `None` if the result would precede the epoch.
    pub const fn checked_sub(self, d: SimDuration) -> Option<SimTime> {
        match self.0.checked_sub(d.0) {
            Some(ns) => Some(SimTime(ns)),
            None => None,
        }
    }

    /// The span from `earlier` to `self`, or `None` if `earlier` is later.
    pub const fn checked_duration_since(self, earlier: SimTime) -> Option<SimDuration> {
        match self.0.checked_sub(earlier.0) {
            Some(ns) => Some(SimDuration(ns)),
            None => None,
        }
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// The empty span.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The largest representable span.
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// A span of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> SimDuration {
        SimDuration(nanos)
    }

    /// A span of `micros` microseconds. Panics on overflow (a const bug).
    pub const fn from_micros(micros: u64) -> SimDuration {
        SimDuration(
            micros
                .checked_mul(NANOS_PER_MICRO)
                .expect("SimDuration::from_micros overflow"),
        )
    }

    /// A span of `millis` milliseconds. Panics on overflow (a const bug).
    pub const fn from_millis(millis: u64) -> SimDuration {
        SimDuration(
            millis
                .checked_mul(NANOS_PER_MILLI)
                .expect("SimDuration::from_millis overflow"),
        )
    }

    /// A span of `secs` seconds. Panics on overflow (a const bug).
    pub const fn from_secs(secs: u64) -> SimDuration {
        SimDuration(
            secs.checked_mul(NANOS_PER_SEC)
                .expect("SimDuration::from_secs overflow"),
        )
    }

    /// A span of `secs` seconds, `None` on overflow.
    pub const fn checked_from_secs(secs: u64) -> Option<SimDuration> {
        match secs.checked_mul(NANOS_PER_SEC) {
            Some(ns) => Some(SimDuration(ns)),
            None => None,
        }
    }

    /// A span from a float number of seconds, rounded to the nearest
    /// nanosecond; `None` if negative, not finite, or too large. Use it only at
    /// the input boundary (config files), never inside a simulation.
    pub fn from_secs_f64(secs: f64) -> Option<SimDuration> {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        let ns = (secs * NANOS_PER_SEC as f64).round();
        if ns >= u64::MAX as f64 {
            return None;
        }
        Some(SimDuration(ns as u64))
    }

    /// Nanoseconds in this span.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole milliseconds in this span (truncated).
    pub const fn as_millis(self) -> u64 {
        self.0 / NANOS_PER_MILLI
    }

    /// Seconds, as a float (for reporting only).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Whether the span is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, `None` on overflow.
    pub const fn checked_add(self, other: SimDuration) -> Option<SimDuration> {
        match self.0.checked_add(other.0) {
            Some(ns) => Some(SimDuration(ns)),
            None => None,
        }
    }

    /// `self - other`, `None` if negative.
    pub const fn checked_sub(self, other: SimDuration) -> Option<SimDuration> {
        match self.0.checked_sub(other.0) {
            Some(ns) => Some(SimDuration(ns)),
            None => None,
        }
    }

    /// `self - other`, zero if negative.
    pub const fn saturating_sub(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(other.0))
    }

    /// `self * k`, `None` on overflow.
    pub const fn checked_mul(self, k: u64) -> Option<SimDuration> {
        match self.0.checked_mul(k) {
            Some(ns) => Some(SimDuration(ns)),
            None => None,
        }
    }

    /// `self * k`, saturating at [`SimDuration::MAX`].
    pub const fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }

    /// `self * num / den` computed in 128 bits, saturating; `den` must be > 0.
    pub fn mul_ratio(self, num: u64, den: u64) -> SimDuration {
        assert!(den > 0, "SimDuration::mul_ratio: zero denominator");
        let v = (self.0 as u128 * num as u128) / den as u128;
        SimDuration(u64::try_from(v).unwrap_or(u64::MAX))
    }

    /// The smaller of two spans.
    pub fn min(self, other: SimDuration) -> SimDuration {
        if self <= other { self } else { other }
    }
}

/// `⌊a × b / d⌋`, exact: the quotient of the 128-bit product, truncated to
/// 64 bits as `as u64` truncates it. When the product fits in 64 bits (a
/// rate times a tick, a backlog times a scale: the common case) it is
/// computed there, which spares the 128-bit division, a library call, of
/// the plain `(a as u128 * b as u128 / d as u128) as u64`. Panics if `d`
/// is 0.
#[inline]
pub fn mul_div(a: u64, b: u64, d: u64) -> u64 {
    match a.checked_mul(b) {
        Some(p) => p / d,
        None => (a as u128 * b as u128 / d as u128) as u64,
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Panics on overflow: past `SimTime::MAX` is a bug, never a wrap.
    fn add(self, d: SimDuration) -> SimTime {
        self.checked_add(d)
            .unwrap_or_else(|| panic!("SimTime overflow: {} + {}", self, d))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Panics if `earlier` is later than `self`.
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.checked_duration_since(earlier)
            .unwrap_or_else(|| panic!("SimTime underflow: {} - {}", self, earlier))
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    /// Panics on overflow.
    fn add(self, other: SimDuration) -> SimDuration {
        self.checked_add(other)
            .unwrap_or_else(|| panic!("SimDuration overflow: {} + {}", self, other))
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, other: SimDuration) {
        *self = *self + other;
    }
}

impl fmt::Display for SimTime {
    /// `day D HH:MM:SS.mmm`, with sub-millisecond digits only when present
    /// (`day 0 00:00:00.000001500`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tod = self.time_of_day().0;
        let (h, m, s) = (
            tod / NANOS_PER_HOUR,
            (tod % NANOS_PER_HOUR) / NANOS_PER_MINUTE,
            (tod % NANOS_PER_MINUTE) / NANOS_PER_SEC,
        );
        let sub = tod % NANOS_PER_SEC;
        write!(f, "day {} {:02}:{:02}:{:02}", self.day_index(), h, m, s)?;
        if sub.is_multiple_of(NANOS_PER_MILLI) {
            write!(f, ".{:03}", sub / NANOS_PER_MILLI)
        } else {
            write!(f, ".{:09}", sub)
        }
    }
}

impl fmt::Display for SimDuration {
    /// Seconds with up to 9 decimals, trailing zeros dropped: `1.5s`, `0.000002s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / NANOS_PER_SEC;
        let sub = self.0 % NANOS_PER_SEC;
        if sub == 0 {
            return write!(f, "{secs}s");
        }
        let digits = format!("{sub:09}");
        write!(f, "{secs}.{}s", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_div_is_the_truncated_128_bit_quotient() {
        let wide = |a: u64, b: u64, d: u64| (a as u128 * b as u128 / d as u128) as u64;
        let values = [
            0,
            1,
            3,
            999,
            1_000_000,
            1 << 32,
            (1 << 32) + 7,
            u64::MAX / 3,
            u64::MAX,
        ];
        for a in values {
            for b in values {
                for d in [1, 2, 7, 1_000_000, 1_000_000_000, 1 << 33, u64::MAX] {
                    assert_eq!(mul_div(a, b, d), wide(a, b, d), "{a} x {b} / {d}");
                }
            }
        }
    }

    #[test]
    fn display_shows_day_and_time_of_day() {
        let t = SimTime::from_day_time(3, 2, 0, 0).unwrap() + SimDuration::from_millis(250);
        assert_eq!(t.to_string(), "day 3 02:00:00.250");
        assert_eq!(SimTime::ZERO.to_string(), "day 0 00:00:00.000");
        let odd = SimTime::from_nanos(1_500);
        assert_eq!(odd.to_string(), "day 0 00:00:00.000001500");
    }

    #[test]
    fn calendar_helpers_split_day_and_time() {
        let t = SimTime::from_day_time(364, 23, 59, 59).unwrap();
        assert_eq!(t.day_index(), 364);
        assert_eq!(t.hour_of_day(), 23);
        assert_eq!(
            t.time_of_day(),
            SimDuration::from_secs(23 * 3600 + 59 * 60 + 59)
        );
        assert_eq!(SimTime::from_day_time(0, 24, 0, 0), None);
        assert_eq!(SimTime::from_day_time(0, 0, 60, 0), None);
    }

    #[test]
    fn arithmetic_is_checked_not_wrapping() {
        assert_eq!(SimTime::MAX.checked_add(SimDuration::from_nanos(1)), None);
        assert_eq!(SimTime::ZERO.checked_sub(SimDuration::from_nanos(1)), None);
        assert_eq!(
            SimDuration::MAX.checked_add(SimDuration::from_nanos(1)),
            None
        );
        assert_eq!(SimDuration::checked_from_secs(u64::MAX), None);
        assert_eq!(SimDuration::from_secs(2).checked_mul(u64::MAX), None);
        let r = std::panic::catch_unwind(|| SimTime::MAX + SimDuration::from_nanos(1));
        assert!(r.is_err(), "operator overflow must panic, not wrap");
    }

    #[test]
    fn constructors_agree_on_units() {
        assert_eq!(SimDuration::from_secs(1), SimDuration::from_millis(1_000));
        assert_eq!(SimDuration::from_millis(1), SimDuration::from_micros(1_000));
        assert_eq!(SimDuration::from_micros(1), SimDuration::from_nanos(1_000));
        assert_eq!(
            SimDuration::from_secs_f64(0.25),
            Some(SimDuration::from_millis(250))
        );
        assert_eq!(SimDuration::from_secs_f64(-1.0), None);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN), None);
        assert_eq!(SimDuration::from_secs_f64(1e300), None);
        assert_eq!(SimDuration::from_millis(1500).to_string(), "1.5s");
        assert_eq!(SimDuration::from_secs(90).to_string(), "90s");
        assert_eq!(
            SimDuration::from_secs(10).mul_ratio(3, 4),
            SimDuration::from_millis(7_500)
        );
    }
}
