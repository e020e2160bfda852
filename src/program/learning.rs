//! Per-scenario learning records and the escalation rule.
//!
//! Bounded: a record is a fixed set of counters, a safeguard set and one
//! counter per failure kind, whatever the number of runs.

use serde::{Deserialize, Serialize};

use crate::safeguard::SafeguardSet;
use crate::scenario::{FailureKind, Outcome};

use super::spec::Programme;

/// What the programme has learned about one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearningRecord {
    /// Scenario id.
    pub id: String,
    /// Executions so far.
    pub execution_count: u64,
    /// Passes so far.
    pub pass_count: u64,
    /// Failures so far.
    pub fail_count: u64,
    /// Mean recovery time over executions that recovered, seconds.
    pub avg_recovery_time_s: f64,
    /// Executions that recovered (the mean's weight).
    pub recovered_count: u64,
    /// Current difficulty level, 1..=10; never goes down.
    pub difficulty_level: u8,
    /// Executions at the current level.
    pub level_executions: u32,
    /// Passes at the current level.
    pub level_passes: u32,
    /// Failures at the current level.
    pub level_failures: u32,
    /// Run index of the last execution, if any.
    pub last_executed_run: Option<u64>,
    /// Simulated time (ns) of the last execution, if any.
    pub last_executed_ns: Option<u64>,
    /// Safeguards that fixed this scenario (fired in a passing execution).
    pub learned_fixes: SafeguardSet,
    /// Failures counted per kind, in [`FailureKind::ALL`] order.
    pub known_failure_modes: [u64; 6],
}

impl LearningRecord {
    /// A fresh record at level 1.
    pub fn new(id: &str) -> Self {
        LearningRecord {
            id: id.to_string(),
            execution_count: 0,
            pass_count: 0,
            fail_count: 0,
            avg_recovery_time_s: 0.0,
            recovered_count: 0,
            difficulty_level: 1,
            level_executions: 0,
            level_passes: 0,
            level_failures: 0,
            last_executed_run: None,
            last_executed_ns: None,
            learned_fixes: SafeguardSet::EMPTY,
            known_failure_modes: [0; 6],
        }
    }

    /// Whether the scenario counts as mastered (5+ passes at some level
    /// promoted it, or it passes at the top).
    pub fn mastered(&self, passes_min: u32) -> bool {
        self.difficulty_level > 1 || self.level_passes >= passes_min
    }

    /// Fold one outcome in; returns `Some(new_level)` when it escalates.
    ///
    /// The rule, exactly: counted over executions **at the current level**,
    /// when passes >= `passes_min` and passes / executions >= `pass_rate_min`,
    /// the level goes up by one (up to `level_max`) and the counters for the
    /// new level start at zero. Levels never go down.
    pub fn record(&mut self, o: &Outcome, run: u64, at_ns: u64, prog: &Programme) -> Option<u8> {
        self.execution_count += 1;
        self.level_executions += 1;
        self.last_executed_run = Some(run);
        self.last_executed_ns = Some(at_ns);
        if let Some(r) = o.recovery_s {
            self.recovered_count += 1;
            self.avg_recovery_time_s +=
                (r - self.avg_recovery_time_s) / self.recovered_count as f64;
        }
        if o.passed {
            self.pass_count += 1;
            self.level_passes += 1;
            self.learned_fixes = self
                .learned_fixes
                .union(o.safeguards_fired.intersection(o.safeguards_expected));
        } else {
            self.fail_count += 1;
            self.level_failures += 1;
            for k in &o.failure_kinds {
                self.known_failure_modes[k.index()] += 1;
            }
        }
        let rate_ok = self.level_passes as u64 * 1000
            >= prog.pass_rate_min_permille as u64 * self.level_executions as u64;
        if self.level_passes >= prog.passes_min && rate_ok && self.difficulty_level < prog.level_max
        {
            self.difficulty_level += 1;
            self.level_executions = 0;
            self.level_passes = 0;
            self.level_failures = 0;
            return Some(self.difficulty_level);
        }
        None
    }

    /// The most frequent failure kind so far, if any.
    pub fn main_failure_mode(&self) -> Option<FailureKind> {
        let (i, &n) = self
            .known_failure_modes
            .iter()
            .enumerate()
            .max_by_key(|&(i, n)| (*n, std::cmp::Reverse(i)))?;
        (n > 0).then(|| FailureKind::ALL[i])
    }
}
