//! Recovery measurement over a stream of steady-state samples.
//!
//! The steady-state hypothesis of a scenario is evaluated by its probes at
//! regular instants; [`RecoveryTracker`] turns the resulting stream of
//! `healthy: bool` samples into a verdict:
//!
//! - never violated: recovery time zero;
//! - violated, then healthy again and *stable* (healthy for at least
//!   `stable_for` without a relapse) by the end: recovery time = from the
//!   first violation to the start of the final healthy stretch;
//! - otherwise: not recovered (still unhealthy at the end, or not yet stable).
//!
//! Fixed size whatever the number of samples.

use crate::engine::{SimDuration, SimTime};

/// The result of a [`RecoveryTracker`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The steady state held at every sample.
    NeverViolated,
    /// Violated at `violated_at`, restored for good at `restored_at`.
    Recovered {
        /// First sample that failed the hypothesis.
        violated_at: SimTime,
        /// Start of the final healthy, stable stretch.
        restored_at: SimTime,
    },
    /// Violated at `violated_at` and not restored (stably) by the end.
    NotRecovered {
        /// First sample that failed the hypothesis.
        violated_at: SimTime,
    },
}

impl Recovery {
    /// The recovery time: zero if never violated, `None` if not recovered.
    pub fn duration(self) -> Option<SimDuration> {
        match self {
            Recovery::NeverViolated => Some(SimDuration::ZERO),
            Recovery::Recovered {
                violated_at,
                restored_at,
            } => Some(restored_at - violated_at),
            Recovery::NotRecovered { .. } => None,
        }
    }
}

/// Folds steady-state samples into a [`Recovery`].
#[derive(Clone, Debug)]
pub struct RecoveryTracker {
    stable_for: SimDuration,
    first_violation: Option<SimTime>,
    healthy_since: Option<SimTime>,
    last_sample: Option<SimTime>,
    violations: u64,
}

impl RecoveryTracker {
    /// A tracker that needs `stable_for` of continuous health to call the
    /// state restored.
    pub fn new(stable_for: SimDuration) -> Self {
        RecoveryTracker {
            stable_for,
            first_violation: None,
            healthy_since: None,
            last_sample: None,
            violations: 0,
        }
    }

    /// Feed one sample. Samples must come in time order.
    pub fn observe(&mut self, now: SimTime, healthy: bool) {
        debug_assert!(
            self.last_sample.is_none_or(|t| t <= now),
            "samples out of order"
        );
        self.last_sample = Some(now);
        if healthy {
            if self.healthy_since.is_none() {
                self.healthy_since = Some(now);
            }
        } else {
            self.violations += 1;
            self.healthy_since = None;
            if self.first_violation.is_none() {
                self.first_violation = Some(now);
            }
        }
    }

    /// Number of unhealthy samples seen.
    pub fn violations(&self) -> u64 {
        self.violations
    }

    /// When the hypothesis first failed, if ever.
    pub fn first_violation(&self) -> Option<SimTime> {
        self.first_violation
    }

    /// Whether the last sample was healthy.
    pub fn healthy_now(&self) -> bool {
        self.healthy_since.is_some()
    }

    /// The verdict so far.
    pub fn recovery(&self) -> Recovery {
        let Some(violated_at) = self.first_violation else {
            return Recovery::NeverViolated;
        };
        match (self.healthy_since, self.last_sample) {
            (Some(since), Some(last)) if last - since >= self.stable_for => Recovery::Recovered {
                violated_at,
                restored_at: since,
            },
            _ => Recovery::NotRecovered { violated_at },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    #[test]
    fn healthy_throughout_is_zero_recovery() {
        let mut r = RecoveryTracker::new(SimDuration::from_secs(2));
        for t in 0..10 {
            r.observe(s(t), true);
        }
        assert_eq!(r.recovery(), Recovery::NeverViolated);
        assert_eq!(r.recovery().duration(), Some(SimDuration::ZERO));
    }

    #[test]
    fn recovery_runs_from_first_violation_to_final_stable_health() {
        let mut r = RecoveryTracker::new(SimDuration::from_secs(2));
        let pattern = [true, false, false, true, false, true, true, true, true];
        for (t, &h) in pattern.iter().enumerate() {
            r.observe(s(t as u64), h);
        }
        assert_eq!(
            r.recovery(),
            Recovery::Recovered {
                violated_at: s(1),
                restored_at: s(5)
            }
        );
        assert_eq!(r.recovery().duration(), Some(SimDuration::from_secs(4)));
    }

    #[test]
    fn health_too_short_to_be_stable_is_not_recovery() {
        let mut r = RecoveryTracker::new(SimDuration::from_secs(5));
        for (t, h) in [(0, false), (1, true), (2, true)] {
            r.observe(s(t), h);
        }
        assert_eq!(r.recovery(), Recovery::NotRecovered { violated_at: s(0) });
        assert_eq!(r.recovery().duration(), None);
    }
}
