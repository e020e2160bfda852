//! Recovery measurement over a stream of steady-state samples.
//!
//! The steady-state hypothesis of a scenario is evaluated by its probes at
//! regular instants; [`RecoveryTracker`] turns the resulting stream of
//! `healthy: bool` samples into a verdict:
//!
//! - never violated: recovery time zero;
//! - violated, then healthy again and *stable* (healthy for at least
//!   `stable_for` without a relapse): that closes an *episode*, from its
//!   first violation to the start of the healthy stretch that ended it. A
//!   later violation (a repeated fault, a relapse) opens a new episode; the
//!   recovery time is the longest episode, so the steady state must come
//!   back within the limit after every blow, not only the first;
//! - otherwise (an episode still open at the end: unhealthy, or not yet
//!   stable): not recovered.
//!
//! Fixed size whatever the number of samples.

use crate::engine::{SimDuration, SimTime};

/// The result of a [`RecoveryTracker`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The steady state held at every sample.
    NeverViolated,
    /// Every episode closed; the longest ran from `violated_at` to
    /// `restored_at`.
    Recovered {
        /// First failing sample of the longest episode.
        violated_at: SimTime,
        /// Start of the healthy, stable stretch that closed it.
        restored_at: SimTime,
    },
    /// An episode opened at `violated_at` and not restored (stably) by the end.
    NotRecovered {
        /// First failing sample of the open episode.
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
    /// Start of the open episode.
    open: Option<SimTime>,
    /// The longest closed episode.
    longest: Option<(SimTime, SimTime)>,
    episodes: u32,
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
            open: None,
            longest: None,
            episodes: 0,
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
            let since = *self.healthy_since.get_or_insert(now);
            if let Some(start) = self.open
                && now - since >= self.stable_for
            {
                // The episode closes: restored at `since`, stable since.
                self.open = None;
                if self.longest.is_none_or(|(a, b)| since - start > b - a) {
                    self.longest = Some((start, since));
                }
            }
        } else {
            self.violations += 1;
            self.healthy_since = None;
            if self.first_violation.is_none() {
                self.first_violation = Some(now);
            }
            if self.open.is_none() {
                self.open = Some(now);
                self.episodes += 1;
            }
        }
    }

    /// Violation episodes seen (each closed by stable health, or open).
    pub fn episodes(&self) -> u32 {
        self.episodes
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
        if let Some(violated_at) = self.open {
            return Recovery::NotRecovered { violated_at };
        }
        match self.longest {
            Some((violated_at, restored_at)) => Recovery::Recovered {
                violated_at,
                restored_at,
            },
            None => Recovery::NeverViolated,
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
    fn each_episode_must_recover_and_the_longest_is_the_recovery() {
        let mut r = RecoveryTracker::new(SimDuration::from_secs(2));
        // Episode 1: 1..3 (2 s); stable from 3; episode 2: 8..12 (4 s).
        let pattern = [
            true, false, false, true, true, true, true, true, false, false, false, false, true,
            true, true,
        ];
        for (t, &h) in pattern.iter().enumerate() {
            r.observe(s(t as u64), h);
        }
        assert_eq!(r.episodes(), 2);
        assert_eq!(
            r.recovery(),
            Recovery::Recovered {
                violated_at: s(8),
                restored_at: s(12)
            }
        );
        // A third episode still open at the end: not recovered.
        r.observe(s(15), false);
        assert_eq!(r.recovery(), Recovery::NotRecovered { violated_at: s(15) });
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
