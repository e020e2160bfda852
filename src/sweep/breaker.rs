//! A count-based circuit breaker (resilience4j semantics, simulated time).
//!
//! - **Closed**: calls pass; each outcome enters a sliding window of the last
//!   `window_calls` outcomes. Once the window holds at least `minimum_calls`
//!   outcomes and the failure rate is at least `failure_rate_threshold_pct`,
//!   the breaker **opens**.
//! - **Open**: calls are rejected at once until `open_wait_ms` has passed
//!   since opening; the first call after that moves it to half-open.
//! - **Half-open**: `half_open_calls` trial calls are permitted. When all
//!   have completed, the breaker opens again if their failure rate is at
//!   least the threshold, and closes (with an empty window) otherwise.
//!
//! The defaults are resilience4j's threshold (50 %) with a window, minimum
//! and waits scaled to one agent workflow of a few calls (resilience4j's 100
//! calls / 60 s would never trigger within one experiment).

use serde::{Deserialize, Serialize};

use crate::engine::{SimDuration, SimTime};
use crate::error::FieldError;

/// Largest sliding window (the window is a 64-bit ring).
pub const WINDOW_CALLS_MAX: u32 = 64;

/// Circuit-breaker parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Failure rate, in percent, at or above which the breaker opens (1..=100).
    pub failure_rate_threshold_pct: u32,
    /// Size of the count-based sliding window (1..=64 calls).
    pub window_calls: u32,
    /// Outcomes needed in the window before the rate is judged (1..=window_calls).
    pub minimum_calls: u32,
    /// Wait in the open state before trial calls, in milliseconds (1..=3,600,000).
    pub open_wait_ms: u64,
    /// Trial calls permitted in the half-open state (1..=64).
    pub half_open_calls: u32,
}

impl Default for BreakerConfig {
    /// 50 %, window 10, minimum 4, open wait 1 s, 2 trial calls.
    fn default() -> Self {
        BreakerConfig {
            failure_rate_threshold_pct: 50,
            window_calls: 10,
            minimum_calls: 4,
            open_wait_ms: 1_000,
            half_open_calls: 2,
        }
    }
}

impl BreakerConfig {
    /// Check the ranges; an error names the field (the caller nests it with
    /// [`FieldError::within`] and locates it with [`FieldError::in_file`]).
    pub fn validate(&self) -> Result<(), FieldError> {
        let bad = |name: &str, message: String| FieldError::new(name, message);
        if !(1..=100).contains(&self.failure_rate_threshold_pct) {
            return Err(bad(
                "failure_rate_threshold_pct",
                format!("{} is outside 1..=100", self.failure_rate_threshold_pct),
            ));
        }
        if !(1..=WINDOW_CALLS_MAX).contains(&self.window_calls) {
            return Err(bad(
                "window_calls",
                format!("{} is outside 1..={WINDOW_CALLS_MAX}", self.window_calls),
            ));
        }
        if !(1..=self.window_calls).contains(&self.minimum_calls) {
            return Err(bad(
                "minimum_calls",
                format!(
                    "{} is outside 1..=window_calls ({})",
                    self.minimum_calls, self.window_calls
                ),
            ));
        }
        if !(1..=3_600_000).contains(&self.open_wait_ms) {
            return Err(bad(
                "open_wait_ms",
                format!("{} is outside 1..=3600000", self.open_wait_ms),
            ));
        }
        if !(1..=64).contains(&self.half_open_calls) {
            return Err(bad(
                "half_open_calls",
                format!("{} is outside 1..=64", self.half_open_calls),
            ));
        }
        Ok(())
    }
}

/// The breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass and are counted.
    Closed,
    /// Calls are rejected until the given time.
    Open {
        /// When trial calls become possible.
        until: SimTime,
    },
    /// Trial calls are being made.
    HalfOpen,
}

/// The answer to a call attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permit {
    /// The call may proceed; report its outcome with [`Breaker::record`].
    Allowed,
    /// Rejected fast; trial calls become possible at `retry_at`.
    Rejected {
        /// The earliest time a call can be permitted.
        retry_at: SimTime,
    },
}

/// A circuit breaker: state plus a fixed-size window (constant memory).
#[derive(Clone, Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    state: BreakerState,
    /// Ring of outcomes, bit set = failure; `len` valid bits from `pos` back.
    window: u64,
    len: u32,
    pos: u32,
    trials_issued: u32,
    trials_done: u32,
    trials_failed: u32,
    opens: u32,
    opened_failure_permille: u32,
}

impl Breaker {
    /// A closed breaker with an empty window. `cfg` must be valid.
    pub fn new(cfg: BreakerConfig) -> Breaker {
        Breaker {
            cfg,
            state: BreakerState::Closed,
            window: 0,
            len: 0,
            pos: 0,
            trials_issued: 0,
            trials_done: 0,
            trials_failed: 0,
            opens: 0,
            opened_failure_permille: 0,
        }
    }

    /// The current state (an open breaker whose wait is over still reads
    /// `Open` until the next [`try_acquire`](Self::try_acquire)).
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// How many times the breaker has opened (including re-openings from
    /// half-open).
    pub fn opens(&self) -> u32 {
        self.opens
    }

    /// The failing share (permille) of the calls that last opened it.
    pub fn opened_failure_permille(&self) -> u32 {
        self.opened_failure_permille
    }

    /// The failure-rate threshold, permille.
    pub fn threshold_permille(&self) -> u32 {
        self.cfg.failure_rate_threshold_pct * 10
    }

    /// Failures and outcomes in the closed-state window.
    pub fn window_counts(&self) -> (u32, u32) {
        (self.window_failures(), self.len)
    }

    fn window_failures(&self) -> u32 {
        // The ring has `window_calls` slots; slots not yet written are zero
        // (the window is cleared on every transition), so the popcount of
        // the ring is the number of failures among the last `len` outcomes.
        (self.window & mask_for(self.cfg.window_calls)).count_ones()
    }

    /// Ask to make a call at `now`.
    pub fn try_acquire(&mut self, now: SimTime) -> Permit {
        match self.state {
            BreakerState::Closed => Permit::Allowed,
            BreakerState::Open { until } => {
                if now >= until {
                    self.state = BreakerState::HalfOpen;
                    self.trials_issued = 1;
                    self.trials_done = 0;
                    self.trials_failed = 0;
                    Permit::Allowed
                } else {
                    Permit::Rejected { retry_at: until }
                }
            }
            BreakerState::HalfOpen => {
                if self.trials_issued < self.cfg.half_open_calls {
                    self.trials_issued += 1;
                    Permit::Allowed
                } else {
                    // All trial calls are in flight: wait for their verdict.
                    Permit::Rejected {
                        retry_at: now + SimDuration::from_millis(self.cfg.open_wait_ms),
                    }
                }
            }
        }
    }

    /// Report the outcome of a permitted call that completed at `now`.
    /// Returns `true` if this outcome opened the breaker.
    pub fn record(&mut self, now: SimTime, failed: bool) -> bool {
        match self.state {
            BreakerState::Closed => {
                let w = self.cfg.window_calls;
                let bit = 1u64 << self.pos;
                if failed {
                    self.window |= bit;
                } else {
                    self.window &= !bit;
                }
                self.pos = (self.pos + 1) % w;
                self.len = (self.len + 1).min(w);
                let failures = self.window_failures();
                if self.len >= self.cfg.minimum_calls
                    && failures * 100 >= self.cfg.failure_rate_threshold_pct * self.len
                {
                    self.opened_failure_permille = failures * 1000 / self.len;
                    self.open(now);
                    return true;
                }
                false
            }
            BreakerState::HalfOpen => {
                self.trials_done += 1;
                self.trials_failed += u32::from(failed);
                if self.trials_done >= self.cfg.half_open_calls {
                    if self.trials_failed * 100
                        >= self.cfg.failure_rate_threshold_pct * self.trials_done
                    {
                        self.opened_failure_permille = self.trials_failed * 1000 / self.trials_done;
                        self.open(now);
                        return true;
                    }
                    self.state = BreakerState::Closed;
                    self.window = 0;
                    self.len = 0;
                    self.pos = 0;
                }
                false
            }
            // A call permitted before the breaker opened: not counted.
            BreakerState::Open { .. } => false,
        }
    }

    fn open(&mut self, now: SimTime) {
        self.state = BreakerState::Open {
            until: now + SimDuration::from_millis(self.cfg.open_wait_ms),
        };
        self.opens += 1;
        self.window = 0;
        self.len = 0;
        self.pos = 0;
    }
}

fn mask_for(window_calls: u32) -> u64 {
    if window_calls >= 64 {
        u64::MAX
    } else {
        (1u64 << window_calls) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            failure_rate_threshold_pct: 50,
            window_calls: 4,
            minimum_calls: 4,
            open_wait_ms: 1_000,
            half_open_calls: 2,
        }
    }

    #[test]
    fn stays_closed_below_minimum_calls_even_if_all_fail() {
        let mut b = Breaker::new(cfg());
        for i in 0..3 {
            assert_eq!(b.try_acquire(at_ms(i)), Permit::Allowed);
            assert!(!b.record(at_ms(i), true));
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.window_counts(), (3, 3));
    }

    #[test]
    fn opens_at_threshold_and_rejects_until_wait_is_over() {
        let mut b = Breaker::new(cfg());
        for (i, failed) in [false, true, false].into_iter().enumerate() {
            b.record(at_ms(i as u64), failed);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        // 2 failures of 4 = 50 % >= threshold.
        assert!(b.record(at_ms(10), true));
        assert_eq!(
            b.state(),
            BreakerState::Open {
                until: at_ms(1_010)
            }
        );
        assert_eq!(b.opens(), 1);
        assert_eq!(
            b.try_acquire(at_ms(500)),
            Permit::Rejected {
                retry_at: at_ms(1_010)
            }
        );
        assert_eq!(b.try_acquire(at_ms(1_010)), Permit::Allowed);
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn sliding_window_forgets_old_failures() {
        let mut b = Breaker::new(cfg());
        b.record(at_ms(0), true);
        for i in 1..=3 {
            b.record(at_ms(i), false);
        }
        assert_eq!(b.window_counts(), (1, 4));
        b.record(at_ms(4), false); // evicts the failure
        assert_eq!(b.window_counts(), (0, 4));
        b.record(at_ms(5), true);
        assert_eq!(b.state(), BreakerState::Closed, "1 of 4 is 25 %");
    }

    #[test]
    fn half_open_closes_after_good_trials() {
        let mut b = Breaker::new(cfg());
        for i in 0..4 {
            b.record(at_ms(i), true);
        }
        assert_eq!(b.opens(), 1);
        assert_eq!(b.try_acquire(at_ms(2_000)), Permit::Allowed);
        assert!(!b.record(at_ms(2_001), false));
        assert_eq!(b.state(), BreakerState::HalfOpen, "one trial is not enough");
        assert_eq!(b.try_acquire(at_ms(2_002)), Permit::Allowed);
        assert!(!b.record(at_ms(2_003), false));
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.window_counts(), (0, 0), "closing starts a fresh window");
    }

    #[test]
    fn half_open_reopens_after_failed_trials() {
        let mut b = Breaker::new(cfg());
        for i in 0..4 {
            b.record(at_ms(i), true);
        }
        b.try_acquire(at_ms(2_000));
        b.record(at_ms(2_001), true);
        b.try_acquire(at_ms(2_002));
        assert!(b.record(at_ms(2_003), false), "1 of 2 trials failed: 50 %");
        assert_eq!(
            b.state(),
            BreakerState::Open {
                until: at_ms(3_003)
            }
        );
        assert_eq!(b.opens(), 2);
    }

    #[test]
    fn half_open_limits_trial_calls() {
        let mut b = Breaker::new(cfg());
        for i in 0..4 {
            b.record(at_ms(i), true);
        }
        assert_eq!(b.try_acquire(at_ms(2_000)), Permit::Allowed);
        assert_eq!(b.try_acquire(at_ms(2_000)), Permit::Allowed);
        assert!(matches!(
            b.try_acquire(at_ms(2_000)),
            Permit::Rejected { .. }
        ));
    }

    #[test]
    fn validation_rejects_minimum_above_window() {
        let c = BreakerConfig {
            minimum_calls: 20,
            ..BreakerConfig::default()
        };
        let e = c.validate().unwrap_err().within("breaker");
        assert_eq!(e.field, "breaker.minimum_calls");
        assert!(BreakerConfig::default().validate().is_ok());
    }
}
