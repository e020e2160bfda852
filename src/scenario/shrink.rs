//! Shrinking a failing scenario configuration to a smaller one that still
//! fails the same way, and writing it as a regression scenario.
//!
//! [`shrink`] is a deterministic greedy search over one [`ScenarioSpec`]:
//! each candidate is a small change, run by the caller's evaluator (the real
//! runner, [`run_alone`]), and kept only if the run still fails the same
//! way ([`FailureSignature`]: the same first [`FailureKind`](super::FailureKind) and, for a
//! safeguard failure, the same needed safeguard, so a minimal case still
//! exercises what it failed on). The passes, repeated until a whole round keeps
//! nothing or the budget of `steps_max` candidate runs is spent:
//!
//! 1. **drop faults**, one at a time (never the last one); the candidate
//!    then expects only the safeguards that respond to a fault still on
//!    ([`ScenarioSpec::restrict_expected_to_faults`]), and the written
//!    regression file carries that reduced `expected_safeguards`;
//! 2. **shorten lengths**: try half the length, then smaller steps (a
//!    descent that halves its step on every refusal, down to
//!    [`TIME_STEP_MIN_NS`]); only for kinds whose length matters;
//! 3. **lower intensities** the same way (down to steps of
//!    [`INTENSITY_STEP_MIN_PERMILLE`]); only for kinds whose intensity
//!    matters;
//! 4. **fewer random targets**: halve `RandomKernels(n)`;
//! 5. **move starts later**, as far as the fault still ends inside the
//!    scenario window.
//!
//! Changed times land on multiples of [`TIME_STEP_MIN_NS`] and changed
//! intensities on multiples of [`INTENSITY_STEP_MIN_PERMILLE`], so the
//! written file reads cleanly (`length_s: 12.5`, `intensity: 0.37`).
//!
//! Every kept change makes a fault shorter, weaker, narrower or later (or
//! removes it), so the search terminates even without the budget.
//!
//! [`shrink_case`] wraps it for a user: it renames the case to a new id
//! ([`shrunk_id`]), shrinks, writes the result as RON ([`scenario_ron`]),
//! parses that text back and re-runs it, so the file it hands out is known
//! to validate and to reproduce the failure (same kind, same digest).

use std::path::Path;

use crate::engine::{Digest, SimTime};
use crate::error::{Error, Result};
use crate::model::stack::StackSpec;
use crate::safeguard::SafeguardSet;

use super::execution::{Execution, Item};
use super::outcome::{FailureSignature, Outcome};
use super::run::{RunOutputs, run_execution_item};
use super::spec::{ScenarioSpec, Target, parse_scenario, scenario_ron};

/// Smallest step of the length and start descents (one steady-state sample).
pub const TIME_STEP_MIN_NS: u64 = super::run::SAMPLE_EVERY_NS;
/// Smallest step of the intensity descent, permille.
pub const INTENSITY_STEP_MIN_PERMILLE: u16 = 10;
/// Default budget of candidate runs.
pub const STEPS_MAX_DEFAULT: u32 = 200;
/// How many alternative ids [`shrink_case`] tries when renaming changes the
/// outcome (a new id names a new nemesis stream for random targets).
pub const RENAME_ATTEMPTS: u32 = 8;

/// Run one scenario alone, exactly as `chaosim run ID --seed SEED` does
/// (same seed path as [`Runner`](super::run::Runner) for a one-item
/// execution), starting at `start` (`chaosim run` default: day 0, 12:00).
pub fn run_alone(
    stack: &StackSpec,
    spec: &ScenarioSpec,
    seed: u64,
    difficulty: u8,
    deployed: SafeguardSet,
    start: SimTime,
) -> Result<Outcome> {
    let exec = Execution {
        seed,
        run: 0,
        start,
        concurrent: false,
        items: vec![Item {
            scenario: spec.id.clone(),
            difficulty,
            known_fixes: SafeguardSet::EMPTY,
        }],
        deployed,
    };
    run_execution_item(stack, &exec, &exec.items[0], spec, 0, RunOutputs::default())
}

/// The default start of `chaosim run`: day 0, 12:00.
pub fn default_start() -> SimTime {
    SimTime::from_day_time(0, 12, 0, 0).expect("valid time")
}

/// Total fault time: the lengths of the faults whose length matters, summed.
pub fn fault_time_ns(spec: &ScenarioSpec) -> u64 {
    spec.faults
        .iter()
        .filter(|f| f.kind.uses_length())
        .map(|f| f.length_ns)
        .sum()
}

/// What [`shrink`] found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest failing configuration found.
    pub spec: ScenarioSpec,
    /// Its outcome (fails with the target kind).
    pub outcome: Outcome,
    /// Candidate runs tried.
    pub steps: u32,
    /// Candidates kept.
    pub kept: u32,
    /// Whether the budget ran out before a round kept nothing.
    pub budget_exhausted: bool,
}

struct Search<'a> {
    target: FailureSignature,
    steps_max: u32,
    steps: u32,
    kept: u32,
    eval: &'a mut dyn FnMut(&ScenarioSpec) -> Result<Outcome>,
    best: ScenarioSpec,
    best_outcome: Outcome,
}

impl Search<'_> {
    fn out_of_budget(&self) -> bool {
        self.steps >= self.steps_max
    }

    /// Run `candidate`; keep it if it fails the same way.
    fn try_keep(&mut self, candidate: ScenarioSpec) -> Result<bool> {
        if self.out_of_budget() {
            return Ok(false);
        }
        self.steps += 1;
        let o = (self.eval)(&candidate)?;
        if !o.passed && o.signature() == Some(self.target) {
            self.best = candidate;
            self.best_outcome = o;
            self.kept += 1;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Descend `get` towards smaller values: try `value - step` (rounded
    /// down to a multiple of `quantum`) with `step` starting at half the
    /// value, halving the step on every refusal, down to `quantum`.
    fn descend(
        &mut self,
        i: usize,
        get: fn(&ScenarioSpec, usize) -> u64,
        set: fn(&mut ScenarioSpec, usize, u64),
        quantum: u64,
    ) -> Result<bool> {
        let mut any = false;
        let mut step = get(&self.best, i) / 2;
        while step >= quantum && !self.out_of_budget() {
            let v = get(&self.best, i);
            step = step.min(v / 2);
            let target = (v - step) / quantum * quantum;
            if step < quantum || target == 0 || target >= v {
                break;
            }
            let mut c = self.best.clone();
            set(&mut c, i, target);
            if self.try_keep(c)? {
                any = true;
            } else {
                step /= 2;
            }
        }
        Ok(any)
    }

    fn round(&mut self) -> Result<bool> {
        let mut any = false;
        // 1. Drop faults one at a time.
        let mut i = 0;
        while i < self.best.faults.len() && self.best.faults.len() > 1 {
            let mut c = self.best.clone();
            c.faults.remove(i);
            c.restrict_expected_to_faults();
            if self.try_keep(c)? {
                any = true;
            } else {
                i += 1;
            }
        }
        // 2. Shorten lengths.
        for i in 0..self.best.faults.len() {
            if self.best.faults[i].kind.uses_length() {
                any |= self.descend(
                    i,
                    |s, i| s.faults[i].length_ns,
                    |s, i, v| s.faults[i].length_ns = v,
                    TIME_STEP_MIN_NS,
                )?;
            }
        }
        // 3. Lower intensities.
        for i in 0..self.best.faults.len() {
            if self.best.faults[i].kind.uses_intensity() {
                any |= self.descend(
                    i,
                    |s, i| s.faults[i].intensity_permille as u64,
                    |s, i, v| s.faults[i].intensity_permille = v as u16,
                    INTENSITY_STEP_MIN_PERMILLE as u64,
                )?;
            }
        }
        // 4. Fewer random targets.
        for i in 0..self.best.faults.len() {
            while let Target::RandomKernels(n) = self.best.faults[i].target
                && n > 1
                && !self.out_of_budget()
            {
                let mut c = self.best.clone();
                c.faults[i].target = Target::RandomKernels(n / 2);
                if self.try_keep(c)? {
                    any = true;
                } else {
                    break;
                }
            }
        }
        // 5. Move starts later (to multiples of the time quantum), keeping
        //    the fault inside the window.
        for i in 0..self.best.faults.len() {
            let latest = |s: &ScenarioSpec| {
                let f = &s.faults[i];
                let end = s.duration_ns.saturating_sub(f.length_ns);
                end / TIME_STEP_MIN_NS * TIME_STEP_MIN_NS
            };
            let mut step = latest(&self.best).saturating_sub(self.best.faults[i].start_ns);
            while step >= TIME_STEP_MIN_NS && !self.out_of_budget() {
                let (v, hi) = (self.best.faults[i].start_ns, latest(&self.best));
                step = step.min(hi.saturating_sub(v));
                let target = (v + step).div_ceil(TIME_STEP_MIN_NS) * TIME_STEP_MIN_NS;
                if step < TIME_STEP_MIN_NS || target > hi || target <= v {
                    break;
                }
                let mut c = self.best.clone();
                c.faults[i].start_ns = target;
                if self.try_keep(c)? {
                    any = true;
                } else {
                    step /= 2;
                }
            }
        }
        Ok(any)
    }
}

/// Shrink `spec`, which fails as `target` (its outcome is `outcome`), trying
/// at most `steps_max` candidates, each run by `eval`. Deterministic: the
/// same inputs and evaluator give the same result.
pub fn shrink(
    spec: ScenarioSpec,
    outcome: Outcome,
    target: FailureSignature,
    steps_max: u32,
    eval: &mut dyn FnMut(&ScenarioSpec) -> Result<Outcome>,
) -> Result<Shrunk> {
    let mut s = Search {
        target,
        steps_max,
        steps: 0,
        kept: 0,
        eval,
        best: spec,
        best_outcome: outcome,
    };
    loop {
        let kept = s.round()?;
        if !kept || s.out_of_budget() {
            break;
        }
    }
    Ok(Shrunk {
        budget_exhausted: s.out_of_budget(),
        spec: s.best,
        outcome: s.best_outcome,
        steps: s.steps,
        kept: s.kept,
    })
}

/// The id of a shrunk case: `<ID>_shrunk_s<SEED>`, with `_<k>` appended for
/// the `k`-th alternative (`k > 0`), the scenario part cut so the id stays
/// within 64 characters.
pub fn shrunk_id(id: &str, seed: u64, attempt: u32) -> String {
    let suffix = if attempt == 0 {
        format!("_shrunk_s{seed}")
    } else {
        format!("_shrunk_s{seed}_{attempt}")
    };
    let keep = 64usize.saturating_sub(suffix.len()).min(id.len());
    format!("{}{suffix}", &id[..keep])
}

/// Everything [`shrink_case`] did.
#[derive(Clone, Debug)]
pub struct ShrinkCase {
    /// The configuration given (under its own id).
    pub original: ScenarioSpec,
    /// Its outcome.
    pub original_outcome: Outcome,
    /// The failure kept throughout (kind and needed safeguard).
    pub kind: FailureSignature,
    /// The smallest configuration found, under its new id.
    pub shrunk: ScenarioSpec,
    /// Its outcome, re-run from the parsed RON text.
    pub shrunk_outcome: Outcome,
    /// The RON text of the shrunk scenario.
    pub ron: String,
    /// Candidate runs tried (not counting the original, the renaming and
    /// the final re-run).
    pub steps: u32,
    /// Candidates kept.
    pub kept: u32,
    /// Whether the step budget ran out.
    pub budget_exhausted: bool,
}

/// Shrink a failing case (a scenario configuration run alone with `seed`,
/// `difficulty`, `deployed` and `start`, as `chaosim run` runs it; see
/// [`default_start`]) and produce the
/// RON text of the smallest failing configuration found, under a new id.
///
/// With `expect_digest` (a handle's `--expect-digest`), the case must first
/// reproduce that digest.
///
/// Errors: [`Error::Usage`] if the case passes (nothing to shrink);
/// [`Error::Check`] if the case's digest differs from `expect_digest`, if
/// no new id keeps the failure kind, or if the written text does not
/// reproduce the shrunk run (a bug).
#[allow(clippy::too_many_arguments)]
pub fn shrink_case(
    stack: &StackSpec,
    spec: &ScenarioSpec,
    seed: u64,
    difficulty: u8,
    deployed: SafeguardSet,
    start: SimTime,
    steps_max: u32,
    expect_digest: Option<Digest>,
) -> Result<ShrinkCase> {
    let run = |s: &ScenarioSpec| run_alone(stack, s, seed, difficulty, deployed, start);
    let original_outcome = run(spec)?;
    if let Some(want) = expect_digest {
        super::repro::check_digest(want, original_outcome.digest)?;
    }
    let Some(kind) = original_outcome.signature() else {
        return Err(Error::Usage {
            flag: "ID".into(),
            message: format!(
                "{} passes with seed {seed}: nothing to shrink (shrink needs a failing case)",
                spec.id
            ),
        });
    };
    // Rename first: the nemesis stream of random targets is named by the
    // id, so the case is shrunk under the id it will be written with.
    let mut renamed = None;
    for attempt in 0..RENAME_ATTEMPTS {
        let mut c = spec.clone();
        c.id = shrunk_id(&spec.id, seed, attempt);
        c.title = format!("Shrunk from {} (seed {seed}): {}", spec.id, spec.title);
        let o = run(&c)?;
        if o.signature() == Some(kind) {
            renamed = Some((c, o));
            break;
        }
    }
    let (renamed, renamed_outcome) = renamed.ok_or_else(|| {
        Error::Check(format!(
            "{}: under every new id tried the case no longer fails with {} (its random targets change with the id); nothing written",
            spec.id,
            kind
        ))
    })?;
    let mut eval = |s: &ScenarioSpec| run(s);
    let found = shrink(renamed, renamed_outcome, kind, steps_max, &mut eval)?;
    let ron = scenario_ron(&found.spec.to_file())?;
    let path = Path::new("<shrunk>").join(format!("{}.ron", found.spec.id));
    let parsed = parse_scenario(&ron, &path)?;
    if parsed.faults != found.spec.faults
        || parsed.duration_ns != found.spec.duration_ns
        || parsed.recovery_limit_ns != found.spec.recovery_limit_ns
        || parsed.expected_safeguards != found.spec.expected_safeguards
    {
        return Err(Error::Check(format!(
            "the RON text of {} does not read back to the same scenario",
            found.spec.id
        )));
    }
    let again = run(&parsed)?;
    if again.digest != found.outcome.digest || again.signature() != Some(kind) {
        return Err(Error::Check(format!(
            "the written {} does not reproduce the shrunk run (digest {} vs {})",
            found.spec.id, again.digest, found.outcome.digest
        )));
    }
    Ok(ShrinkCase {
        original: spec.clone(),
        original_outcome,
        kind,
        shrunk: parsed,
        shrunk_outcome: again,
        ron,
        steps: found.steps,
        kept: found.kept,
        budget_exhausted: found.budget_exhausted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrunk_ids_are_valid_and_bounded() {
        assert_eq!(shrunk_id("S02_acl_spam", 7, 0), "S02_acl_spam_shrunk_s7");
        assert_eq!(shrunk_id("S02_acl_spam", 7, 2), "S02_acl_spam_shrunk_s7_2");
        let long = "X".repeat(64);
        let id = shrunk_id(&long, u64::MAX, 7);
        assert_eq!(id.len(), 64);
        assert!(id.ends_with(&format!("_shrunk_s{}_7", u64::MAX)));
    }
}
