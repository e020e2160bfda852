//! What each candidate change buys the whole chaos programme: paired
//! what-if over seeds of `chaosim year` (`chaosim whatif --days N`).
//!
//! [`whatif`](super::whatif) compares single runs of a scenario list. This
//! module compares **programmes**: for every seed of a range, the whole
//! programme ([`run_programme_observed`], the state machine of `chaosim
//! year`: scheduled runs, selection, escalation, safeguard generation and
//! delayed deployment) runs once with the baseline's initial safeguards and
//! once per candidate (another initial set, or another stack). Both sides
//! of a seed share its seed path (common random numbers), so they part only
//! where the change acts, and the comparison is paired over seeds.
//!
//! **What is measured**, per seed and side, all read from the programme
//! itself ([`ProgrammeRun`]): the scenarios mastered at the end
//! ([`Summary::mastered`]); the safeguards the programme generated and
//! deployed ([`Totals::generated`], [`Totals::deployed`]) and, per
//! safeguard, the day its fix was first deployed
//! ([`RunObservation::newly_deployed`]); executions and failures (the pass
//! rate); per scenario the first day its standing became mastered
//! ([`RunDetail::newly_mastered`], the rule of [`Summary::mastered`]),
//! `None` if never; the year's digest.
//!
//! **Statistics**, per candidate, paired over the seeds against the
//! baseline (a difference is candidate minus baseline, one per seed):
//! - the change in scenarios mastered, in safeguards deployed by the
//!   programme, in safeguards generated and in pass rate: the mean of the
//!   per-seed differences with a Student-t interval at [`CONFIDENCE`]
//!   (`mean ± t(n−1) · sd / √n`, statrs' quantile, the differences' sample
//!   standard deviation), clipped to where the mean can lie (a change in
//!   mastered scenarios is within ± the catalogue, one in pass rate within
//!   ± 1). One seed, or differences that are all equal, give a zero-width
//!   interval. The interval assumes the seeds' differences are independent
//!   draws of one distribution, which they are (one seed path each); it is
//!   approximate for a handful of seeds of a non-normal difference;
//! - per scenario: the seeds where the candidate mastered it and the
//!   baseline never did (`candidate_only`), the reverse (`baseline_only`),
//!   and on the seeds where both did (`both`) the mean days saved (baseline
//!   day − candidate day) with its t interval when `both >= 2`; the first
//!   seed where the two sides' mastery day differs is kept as an example,
//!   with both sides' `--safeguards` spec and year digest: the digest
//!   `chaosim year --seed S --days N --safeguards SPEC` prints (with the
//!   same programme, scenarios and that side's stack), so either side can
//!   be expanded into the full year's files;
//! - per safeguard: the seeds where the programme deployed it on each side
//!   and, where both did, the mean days earlier on the candidate's side.
//!
//! Candidates are ranked by the change in scenarios mastered, then by the
//! change in pass rate, then by their label.
//!
//! **Invariant:** the report depends only on the inputs, never on the
//! thread count or the sharding: the work items are the seeds, each the
//! baseline's and every candidate's programme, run by the ordered runner
//! ([`run_ordered_chunked`]); the accumulators are integer sums in fixed
//! point (1e-9), so any grouping of the seeds merges to the same bits, and
//! shards of one what-if merge (`chaosim merge`) into the files of the
//! whole run ([`WhatifProgramme`], one `whatif_programme` record in
//! `shard.ron`). Pass rates are therefore reported to 1e-9.
//!
//! **Invariant:** memory is bounded by the candidates, scenarios and
//! safeguards, not by the seeds: per candidate fixed-size moments, per
//! (candidate, scenario) and (candidate, safeguard) a few counters and
//! moments and at most one example; the runner holds at most a window of
//! `4 · threads` seeds' results ahead of the fold. [`PROGRAMMES_FILE`]
//! streams one row per programme.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::whatif::{CONFIDENCE, Candidate, CandidateParams, REPORT_FILE, WhatifOut, check_run};
use crate::error::{Error, Result};
use crate::model::stack::StackSpec;
use crate::program::Programme;
use crate::program::year::{RunDetail, run_programme_observed};
use crate::record::csv::push_field;
use crate::record::outfile::OutDir;
use crate::record::stats::t_interval;
use crate::safeguard::{Safeguard, SafeguardSet};
use crate::scenario::Catalogue;
use crate::scenario::Executor;
use crate::scenario::repro::safeguards_spec;
use crate::scenario::run::Runner;
use crate::shard::{
    Aggregate, HeadParams, N_MAX, Progress, SHARD_FILE, Shard, ShardFile, ShardKind, ShardOut,
    Slot, Tagged, format1_params, prepare_out_dir, run_ordered_chunked,
};

#[cfg(doc)]
use crate::program::year::{RunObservation, Summary, Totals};

/// `--out DIR`: one row per candidate, in rank order.
pub const PROGRAMME_FILE: &str = "programme.csv";
/// `--out DIR`: one row per candidate and changed scenario.
pub const PROGRAMME_SCENARIOS_FILE: &str = "programme_scenarios.csv";
/// `--out DIR`: one row per programme (seed, side), in seed then side order.
pub const PROGRAMMES_FILE: &str = "programmes.csv";
/// Header of [`PROGRAMMES_FILE`] (with its newline): `side` 0 is the
/// baseline, `k` candidate `k` in the order given; `digest` is the year's.
pub const PROGRAMMES_HEADER: &str =
    "seed,side,candidate,mastered,deployed,generated,executions,passes,events,digest\n";
/// Every file [`write_out`] writes, in the order staged.
pub const OUT_FILES: [&str; 3] = [PROGRAMME_FILE, PROGRAMME_SCENARIOS_FILE, REPORT_FILE];

/// Header of [`PROGRAMME_FILE`].
pub const PROGRAMME_HEADER: [&str; 26] = [
    "rank",
    "candidate",
    "seeds",
    "baseline_mastered",
    "candidate_mastered",
    "mastered_change",
    "ci_low",
    "ci_high",
    "baseline_safeguards",
    "candidate_safeguards",
    "safeguards_change",
    "safeguards_ci_low",
    "safeguards_ci_high",
    "baseline_generated",
    "candidate_generated",
    "generated_change",
    "generated_ci_low",
    "generated_ci_high",
    "baseline_pass_rate",
    "candidate_pass_rate",
    "pass_rate_change",
    "pass_rate_ci_low",
    "pass_rate_ci_high",
    "changed_scenarios",
    "changed_safeguards",
    "deployed",
];

/// Header of [`PROGRAMME_SCENARIOS_FILE`].
pub const PROGRAMME_SCENARIOS_HEADER: [&str; 16] = [
    "candidate",
    "scenario",
    "candidate_only",
    "baseline_only",
    "both",
    "days_saved",
    "days_saved_ci_low",
    "days_saved_ci_high",
    "example_seed",
    "days",
    "baseline_day",
    "candidate_day",
    "baseline_safeguards",
    "baseline_digest",
    "candidate_safeguards",
    "candidate_digest",
];

/// Most (seed, side) programmes one what-if may run.
pub const PROGRAMMES_MAX: u64 = N_MAX;

/// The baseline of a programme what-if.
#[derive(Clone, Copy, Debug)]
pub struct ProgrammeBaseline<'a> {
    /// The programme (schedule, selection, escalation, fix pipeline).
    pub programme: &'a Programme,
    /// The scenarios.
    pub catalogue: &'a Catalogue,
    /// The stack (a candidate with its own stack uses that one instead).
    pub stack: &'a StackSpec,
    /// The safeguards deployed at the start.
    pub deployed: SafeguardSet,
    /// Hash of the programme, catalogue and stack (as `chaosim ensemble`
    /// records it): shards of different inputs do not merge.
    pub inputs_fingerprint: u64,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct ProgrammeWhatifSpec {
    /// Seeds `from..to` (half-open; the CLI's `--seeds FROM:TO` is
    /// inclusive).
    pub seeds: (u64, u64),
    /// Days of every programme (`days × slots` runs, as `chaosim year
    /// --days N`).
    pub days: u64,
    /// Worker threads, 1..=[`THREADS_MAX`](crate::shard::THREADS_MAX) (results do not depend on it).
    pub threads: usize,
    /// Told each programme (one seed, one side) as it finishes, in any
    /// order: a progress bar of `seeds × (1 + candidates)` items.
    pub progress: Progress,
}

/// What one programme (one seed, one side) gave, as the programme itself
/// counted it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgrammeRun {
    /// Scenarios mastered at the end ([`Summary::mastered`]).
    pub mastered: u64,
    /// Safeguards whose fix the programme generated ([`Totals::generated`]).
    pub generated: u64,
    /// Fixes the programme deployed ([`Totals::deployed`]).
    pub deployed: u64,
    /// Scenario executions.
    pub executions: u64,
    /// Passed executions.
    pub passes: u64,
    /// Per safeguard of [`Safeguard::ALL`], the day its fix was first
    /// deployed by the programme (`None`: never, or deployed from the start).
    pub deployed_day: Vec<Option<u64>>,
    /// Per catalogue scenario, the first day its standing became mastered.
    pub first_mastered_day: Vec<Option<u64>>,
    /// The year's digest, 16 hex digits (what `chaosim year` prints).
    pub digest: String,
    /// Simulation events.
    pub events: u64,
}

impl ProgrammeRun {
    /// Passes over executions (0 with no execution).
    pub fn pass_rate(&self) -> f64 {
        if self.executions == 0 {
            0.0
        } else {
            self.passes as f64 / self.executions as f64
        }
    }
}

/// Run one seed's programme of `runs_total` runs from `initial_deployed`
/// and measure it ([`ProgrammeRun`]), through [`run_programme_observed`]:
/// the same programme, summary and digest as `chaosim year` and
/// `chaosim ensemble` with these inputs.
pub fn programme_run(
    seed: u64,
    runs_total: u64,
    initial_deployed: SafeguardSet,
    prog: &Programme,
    cat: &Catalogue,
    executor: &dyn Executor,
) -> Result<ProgrammeRun> {
    let mut deployed_day = vec![None; Safeguard::ALL.len()];
    let mut first_mastered_day = vec![None; cat.len()];
    let s = run_programme_observed(
        seed,
        runs_total,
        initial_deployed,
        prog,
        cat,
        executor,
        &mut |d: &RunDetail<'_>| {
            let day = d.observation.day;
            for sg in d.observation.newly_deployed.iter() {
                if let Some(i) = Safeguard::ALL.iter().position(|&s| s == sg) {
                    deployed_day[i].get_or_insert(day);
                }
            }
            for &i in d.newly_mastered {
                if let Some(slot) = first_mastered_day.get_mut(i) {
                    slot.get_or_insert(day);
                }
            }
        },
    )?;
    Ok(ProgrammeRun {
        mastered: s.mastered as u64,
        generated: s.totals.generated,
        deployed: s.totals.deployed,
        executions: s.totals.executions,
        passes: s.totals.passes,
        deployed_day,
        first_mastered_day,
        digest: s.digest.to_string(),
        events: s.totals.events,
    })
}

/// Fixed point of [`Moments`]: values are kept in integer units of 1e-9
/// (exact for counts and days, 1e-9 for pass rates).
const FIXED: f64 = 1e9;

/// Mean and spread of a stream of values in fixed point ([`FIXED`]):
/// integer sums, so any grouping of the seeds (chunks, threads, shards)
/// merges to the same bits, and equal values give a variance of exactly
/// zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Moments {
    n: u64,
    #[serde(with = "i128_text")]
    sum: i128,
    #[serde(with = "i128_text")]
    sum_sq: i128,
}

impl Moments {
    fn push(&mut self, x: f64) {
        let v = (x * FIXED).round() as i128;
        self.n += 1;
        self.sum = self.sum.saturating_add(v);
        self.sum_sq = self.sum_sq.saturating_add(v.saturating_mul(v));
    }

    fn merge(&mut self, o: &Moments) {
        self.n += o.n;
        self.sum = self.sum.saturating_add(o.sum);
        self.sum_sq = self.sum_sq.saturating_add(o.sum_sq);
    }

    fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum as f64 / self.n as f64 / FIXED
        }
    }

    fn sd(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as i128;
        // n·Σv² − (Σv)², exact while it fits (it does for any count of
        // seeds a what-if runs); in floating point beyond.
        let spread = n
            .checked_mul(self.sum_sq)
            .zip(self.sum.checked_mul(self.sum))
            .map(|(a, b)| (a - b).max(0) as f64)
            .unwrap_or_else(|| {
                let (sum, sq) = (self.sum as f64, self.sum_sq as f64);
                (self.n as f64 * sq - sum * sum).max(0.0)
            });
        (spread / (self.n as f64 * (self.n - 1) as f64)).sqrt() / FIXED
    }

    /// The t interval of the mean, clipped to `[-bound, bound]`.
    fn interval(&self, bound: f64) -> (f64, f64) {
        let ci = t_interval(self.mean(), self.sd(), self.n, CONFIDENCE);
        (ci.low.max(-bound), ci.high.min(bound))
    }
}

/// An `i128` as decimal text (RON has no 128-bit integers).
mod i128_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &i128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A mean change with its interval.
fn change(m: &Moments, bound: f64) -> (f64, f64, f64) {
    let (lo, hi) = m.interval(bound);
    (m.mean(), lo, hi)
}

/// One side of a [`MasteryExample`]: how to replay it, and what it gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearSide {
    /// The first day the scenario was mastered on this side, if ever.
    pub first_mastered_day: Option<u64>,
    /// The side's `--safeguards` spec (against its stack's default set).
    pub safeguards: String,
    /// The year's digest: what `chaosim year --seed S --days N
    /// --safeguards SPEC` prints as its digest, given this side's inputs
    /// (the programme and scenarios of the what-if, and `--stack FILE` for
    /// a candidate with its own stack).
    pub digest: String,
}

/// The first seed where a candidate changed the day a scenario was
/// mastered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasteryExample {
    /// The seed.
    pub seed: u64,
    /// Days of the programme.
    pub days: u64,
    /// The baseline's year.
    pub baseline: YearSide,
    /// The candidate's year.
    pub candidate: YearSide,
}

/// What a candidate changed in the mastery of one scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioMasteryChange {
    /// The scenario.
    pub id: String,
    /// Seeds where the candidate mastered it and the baseline never did.
    pub candidate_only: u64,
    /// Seeds where the baseline mastered it and the candidate never did.
    pub baseline_only: u64,
    /// Seeds where both mastered it.
    pub both: u64,
    /// On those, the mean days saved (baseline day − candidate day).
    pub days_saved: Option<f64>,
    /// Its interval at [`CONFIDENCE`] (`both >= 2`).
    pub days_saved_low: Option<f64>,
    /// Upper bound.
    pub days_saved_high: Option<f64>,
    /// The first seed where the two sides' first mastery day differs.
    pub example: Option<MasteryExample>,
}

/// What a candidate changed in the deployment of one safeguard by the
/// programme.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SafeguardTimingChange {
    /// The safeguard.
    pub safeguard: String,
    /// Deployed from the start on the baseline's side.
    pub baseline_initial: bool,
    /// Deployed from the start on the candidate's side.
    pub candidate_initial: bool,
    /// Seeds where the baseline's programme deployed it.
    pub baseline_deployed: u64,
    /// Seeds where the candidate's programme deployed it.
    pub candidate_deployed: u64,
    /// Seeds where both programmes deployed it.
    pub both: u64,
    /// On those, the mean days earlier on the candidate's side (baseline
    /// day − candidate day).
    pub days_earlier: Option<f64>,
}

/// One candidate's paired comparison with the baseline over the seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProgrammeCandidateReport {
    /// The candidate as written (`candidate` in JSON).
    #[serde(rename = "candidate")]
    pub label: String,
    /// Rank (1 = the largest gain in scenarios mastered).
    pub rank: u32,
    /// Its initial safeguards.
    pub deployed: SafeguardSet,
    /// Seeds compared.
    pub seeds: u64,
    /// Mean scenarios mastered at the end, candidate's side.
    pub candidate_mastered: f64,
    /// Mean change in scenarios mastered at the end.
    pub mastered_change: f64,
    /// Its interval at [`CONFIDENCE`] (`ci_low` in JSON).
    #[serde(rename = "ci_low")]
    pub mastered_change_low: f64,
    /// Upper bound (`ci_high` in JSON).
    #[serde(rename = "ci_high")]
    pub mastered_change_high: f64,
    /// Mean safeguards deployed by the programme, candidate's side.
    pub candidate_safeguards: f64,
    /// Mean change in safeguards deployed by the programme.
    pub safeguards_change: f64,
    /// Its interval.
    pub safeguards_change_low: f64,
    /// Upper bound.
    pub safeguards_change_high: f64,
    /// Mean safeguards generated by the programme, candidate's side.
    pub candidate_generated: f64,
    /// Mean change in safeguards generated by the programme.
    pub generated_change: f64,
    /// Its interval.
    pub generated_change_low: f64,
    /// Upper bound.
    pub generated_change_high: f64,
    /// Mean pass rate of the executions, candidate's side.
    pub candidate_pass_rate: f64,
    /// Mean change in pass rate.
    pub pass_rate_change: f64,
    /// Its interval.
    pub pass_rate_change_low: f64,
    /// Upper bound.
    pub pass_rate_change_high: f64,
    /// The scenarios whose first mastery day it changed on at least one
    /// seed, in catalogue order.
    pub scenarios: Vec<ScenarioMasteryChange>,
    /// The safeguards whose deployment by the programme it changed (on which
    /// seeds, or on which day) on at least one seed, in catalogue order.
    pub safeguards: Vec<SafeguardTimingChange>,
}

/// The whole programme what-if.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProgrammeWhatifReport {
    /// Seeds `from..to`.
    pub seeds: (u64, u64),
    /// Days per programme.
    pub days: u64,
    /// Runs per programme (days × slots).
    pub runs_total: u64,
    /// Scenarios in the catalogue.
    pub catalogue_scenarios: u64,
    /// The baseline's initial safeguards.
    pub baseline: SafeguardSet,
    /// Mean scenarios mastered at the end, baseline.
    pub baseline_mastered: f64,
    /// Mean safeguards deployed by the programme, baseline.
    pub baseline_safeguards: f64,
    /// Mean safeguards generated by the programme, baseline.
    pub baseline_generated: f64,
    /// Mean pass rate, baseline.
    pub baseline_pass_rate: f64,
    /// One report per candidate, ranked.
    pub candidates: Vec<ProgrammeCandidateReport>,
    /// Programmes run (seeds × sides).
    pub programmes: u64,
    /// Simulation events, every programme.
    pub events: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct ScenarioAcc {
    candidate_only: u64,
    baseline_only: u64,
    saved: Moments,
    example: Option<MasteryExample>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct SafeguardAcc {
    baseline: u64,
    candidate: u64,
    earlier: Moments,
    differed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct CandidateAcc {
    mastered: Moments,
    safeguards: Moments,
    generated: Moments,
    pass_rate: Moments,
    candidate_mastered: Moments,
    candidate_safeguards: Moments,
    candidate_generated: Moments,
    candidate_pass_rate: Moments,
    scenarios: Vec<ScenarioAcc>,
    safeguards_by: Vec<SafeguardAcc>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct BaselineAcc {
    mastered: Moments,
    safeguards: Moments,
    generated: Moments,
    pass_rate: Moments,
}

/// The safeguards spec and digest of one side.
struct SideId {
    deployed: SafeguardSet,
    default_set: SafeguardSet,
}

impl CandidateAcc {
    fn fold(
        &mut self,
        seed: u64,
        days: u64,
        (b, c): (&ProgrammeRun, &ProgrammeRun),
        (bid, cid): (&SideId, &SideId),
    ) {
        let diff = |x: u64, y: u64| y as f64 - x as f64;
        self.mastered.push(diff(b.mastered, c.mastered));
        self.safeguards.push(diff(b.deployed, c.deployed));
        self.generated.push(diff(b.generated, c.generated));
        self.pass_rate.push(c.pass_rate() - b.pass_rate());
        self.candidate_mastered.push(c.mastered as f64);
        self.candidate_safeguards.push(c.deployed as f64);
        self.candidate_generated.push(c.generated as f64);
        self.candidate_pass_rate.push(c.pass_rate());
        for (i, acc) in self.scenarios.iter_mut().enumerate() {
            let (bd, cd) = (b.first_mastered_day[i], c.first_mastered_day[i]);
            match (bd, cd) {
                (None, None) => continue,
                (None, Some(_)) => acc.candidate_only += 1,
                (Some(_), None) => acc.baseline_only += 1,
                (Some(x), Some(y)) => acc.saved.push(diff(y, x)),
            }
            if bd != cd && acc.example.is_none() {
                let side = |r: &ProgrammeRun, id: &SideId, day| YearSide {
                    first_mastered_day: day,
                    safeguards: safeguards_spec(id.deployed, id.default_set),
                    digest: r.digest.clone(),
                };
                acc.example = Some(MasteryExample {
                    seed,
                    days,
                    baseline: side(b, bid, bd),
                    candidate: side(c, cid, cd),
                });
            }
        }
        for (i, acc) in self.safeguards_by.iter_mut().enumerate() {
            let (bd, cd) = (b.deployed_day[i], c.deployed_day[i]);
            acc.baseline += u64::from(bd.is_some());
            acc.candidate += u64::from(cd.is_some());
            acc.differed |= bd != cd;
            if let (Some(x), Some(y)) = (bd, cd) {
                acc.earlier.push(diff(y, x));
            }
        }
    }

    /// Fold in the accumulator of later seeds (exact; the earlier seeds'
    /// examples win).
    fn merge(&mut self, o: &CandidateAcc) {
        for (m, om) in [
            (&mut self.mastered, &o.mastered),
            (&mut self.safeguards, &o.safeguards),
            (&mut self.generated, &o.generated),
            (&mut self.pass_rate, &o.pass_rate),
            (&mut self.candidate_mastered, &o.candidate_mastered),
            (&mut self.candidate_safeguards, &o.candidate_safeguards),
            (&mut self.candidate_generated, &o.candidate_generated),
            (&mut self.candidate_pass_rate, &o.candidate_pass_rate),
        ] {
            m.merge(om);
        }
        for (a, b) in self.scenarios.iter_mut().zip(&o.scenarios) {
            a.candidate_only += b.candidate_only;
            a.baseline_only += b.baseline_only;
            a.saved.merge(&b.saved);
            if a.example.is_none() {
                a.example.clone_from(&b.example);
            }
        }
        for (a, b) in self.safeguards_by.iter_mut().zip(&o.safeguards_by) {
            a.baseline += b.baseline;
            a.candidate += b.candidate;
            a.earlier.merge(&b.earlier);
            a.differed |= b.differed;
        }
    }
}

/// What a range of seeds gave, every side folded: the one cell of a
/// programme what-if, in `shard.ron` as `whatif_programme: Some(...)`.
/// Its size is fixed by the candidates, scenarios and safeguards; seeds
/// fold in exactly (integer moments), so chunks, threads and shards merge
/// to the bytes of one whole run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgrammeAggregate {
    /// Seeds folded.
    seeds: u64,
    /// The first and one past the last seed folded (`(0, 0)`: none).
    seed_range: (u64, u64),
    /// Programmes run (seeds × sides).
    programmes: u64,
    /// Simulation events, every programme.
    events: u64,
    baseline: BaselineAcc,
    candidates: Vec<CandidateAcc>,
}

impl ProgrammeAggregate {
    /// No seed yet, shaped for `candidates`, `scenarios` and every
    /// safeguard.
    fn empty(candidates: usize, scenarios: usize) -> ProgrammeAggregate {
        let acc = CandidateAcc {
            scenarios: vec![ScenarioAcc::default(); scenarios],
            safeguards_by: vec![SafeguardAcc::default(); Safeguard::ALL.len()],
            ..CandidateAcc::default()
        };
        ProgrammeAggregate {
            candidates: vec![acc; candidates],
            ..ProgrammeAggregate::default()
        }
    }

    /// Fold one seed: `runs[0]` is the baseline's programme, `runs[k + 1]`
    /// candidate `k`'s.
    fn fold(&mut self, seed: u64, days: u64, runs: &[ProgrammeRun], ids: &[SideId]) {
        if self.seeds == 0 {
            self.seed_range = (seed, seed + 1);
        }
        self.seed_range.1 = seed + 1;
        self.seeds += 1;
        self.programmes += runs.len() as u64;
        self.events += runs.iter().map(|r| r.events).sum::<u64>();
        let b = &runs[0];
        self.baseline.mastered.push(b.mastered as f64);
        self.baseline.safeguards.push(b.deployed as f64);
        self.baseline.generated.push(b.generated as f64);
        self.baseline.pass_rate.push(b.pass_rate());
        for (k, acc) in self.candidates.iter_mut().enumerate() {
            acc.fold(seed, days, (b, &runs[k + 1]), (&ids[0], &ids[k + 1]));
        }
    }

    /// Whether the accumulators fit `p` (one per candidate, scenario and
    /// safeguard) and the seeds lie in its range.
    fn check(&self, p: &ProgrammeWhatifShardParams, path: &Path) -> Result<()> {
        let w = &p.whatif_programme.0;
        let shaped = self.candidates.len() == w.candidates.len()
            && self.candidates.iter().all(|c| {
                c.scenarios.len() == w.scenarios.len()
                    && c.safeguards_by.len() == Safeguard::ALL.len()
            });
        let (lo, hi) = self.seed_range;
        let in_range = hi.checked_sub(lo) == Some(self.seeds)
            && (self.seeds == 0 || (lo >= p.seed && hi <= p.seed.saturating_add(p.n)));
        // One value per seed in every per-seed statistic, at most one per
        // seed in the others: counts an edited file cannot exceed.
        let seeds = self.seeds;
        let b = &self.baseline;
        let counted = [&b.mastered, &b.safeguards, &b.generated, &b.pass_rate]
            .iter()
            .all(|m| m.n == seeds)
            && self.candidates.iter().all(|c| {
                [
                    &c.mastered,
                    &c.safeguards,
                    &c.generated,
                    &c.pass_rate,
                    &c.candidate_mastered,
                    &c.candidate_safeguards,
                    &c.candidate_generated,
                    &c.candidate_pass_rate,
                ]
                .iter()
                .all(|m| m.n == seeds)
                    && c.scenarios.iter().all(|s| {
                        s.candidate_only.saturating_add(s.baseline_only) <= seeds
                            && s.saved.n <= seeds
                    })
                    && c.safeguards_by.iter().all(|g| {
                        g.baseline <= seeds && g.candidate <= seeds && g.earlier.n <= seeds
                    })
            });
        if shaped && in_range && !counted {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                field: "whatif_programme".into(),
                message: format!(
                    "the aggregate's counts do not fit its {seeds} seeds (each statistic counts at most one value per seed)"
                ),
            });
        }
        if !shaped || !in_range {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                field: "whatif_programme".into(),
                message: format!(
                    "the aggregate does not fit the parameters ({} candidates, {} scenarios, seeds {}..{})",
                    w.candidates.len(),
                    w.scenarios.len(),
                    p.seed,
                    p.seed + p.n
                ),
            });
        }
        Ok(())
    }
}

impl Aggregate for ProgrammeAggregate {
    fn merge_from(&mut self, o: &Self) {
        if o.seeds == 0 {
            return;
        }
        if self.seeds == 0 {
            *self = o.clone();
            return;
        }
        self.seed_range = (
            self.seed_range.0.min(o.seed_range.0),
            self.seed_range.1.max(o.seed_range.1),
        );
        self.seeds += o.seeds;
        self.programmes += o.programmes;
        self.events += o.events;
        for (m, om) in [
            (&mut self.baseline.mastered, &o.baseline.mastered),
            (&mut self.baseline.safeguards, &o.baseline.safeguards),
            (&mut self.baseline.generated, &o.baseline.generated),
            (&mut self.baseline.pass_rate, &o.baseline.pass_rate),
        ] {
            m.merge(om);
        }
        for (a, b) in self.candidates.iter_mut().zip(&o.candidates) {
            a.merge(b);
        }
    }
}

/// The programme what-if's own parameters in `shard.ron`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeWhatifParams {
    /// Days per programme.
    pub days: u64,
    /// Runs per programme (days × slots).
    pub runs_total: u64,
    /// The catalogue's scenario ids, in order.
    pub scenarios: Vec<String>,
    /// The baseline's initial safeguards.
    pub baseline: SafeguardSet,
    /// The candidates, in the order given.
    pub candidates: Vec<CandidateParams>,
}

format1_params! {
    /// The parameters every shard of one programme what-if shares, as
    /// recorded in `shard.ron` (format 1: `seed` is the first seed, `n` the
    /// number of seeds, `rates_ppm` and `variants` are empty,
    /// `model_fingerprint` the inputs fingerprint of the programme,
    /// catalogue and stack, 16 hex digits).
    pub struct ProgrammeWhatifShardParams {
        /// The programme what-if.
        pub whatif_programme: ProgrammeWhatifParams,
    }
}

/// The programme what-if as a batch kind: one cell, the seeds its work
/// items, each item the baseline's and every candidate's whole programme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WhatifProgramme;

impl ShardKind for WhatifProgramme {
    const TAG: &'static str = "whatif_programme";
    const SLOT: Slot = Slot::WhatifProgramme;
    type Params = ProgrammeWhatifShardParams;
    type Record = ProgrammeAggregate;
    type Aggregate = ProgrammeAggregate;

    fn cells(_: &ProgrammeWhatifShardParams) -> u64 {
        1
    }
    fn rows_file(_: &ProgrammeWhatifShardParams) -> &'static str {
        PROGRAMMES_FILE
    }
    fn rows_header(_: &ProgrammeWhatifShardParams) -> String {
        PROGRAMMES_HEADER.into()
    }
    fn files(_: &ProgrammeWhatifShardParams) -> Vec<&'static str> {
        let mut v = vec![PROGRAMMES_FILE];
        v.extend(OUT_FILES);
        v.push(SHARD_FILE);
        v
    }
    fn difference(
        a: &ProgrammeWhatifShardParams,
        b: &ProgrammeWhatifShardParams,
    ) -> Option<String> {
        a.head().difference(&b.head()).or_else(|| {
            (a.whatif_programme != b.whatif_programme)
                .then(|| "programme what-if (days, candidates, baseline or scenarios)".into())
        })
    }
    fn to_record(_: u32, a: &ProgrammeAggregate) -> ProgrammeAggregate {
        a.clone()
    }
    fn check_records(m: &ShardFile<Self>, path: &Path) -> Result<()> {
        if m.cells.is_empty() {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                field: "whatif_programme".into(),
                message: "missing: not a programme what-if shard".into(),
            });
        }
        Ok(())
    }
    fn from_record(
        p: &ProgrammeWhatifShardParams,
        m: &ShardFile<Self>,
        a: &ProgrammeAggregate,
        path: &Path,
    ) -> Result<(u32, ProgrammeAggregate)> {
        a.check(p, path)?;
        if a.seeds != m.range_end - m.range_start {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                field: "whatif_programme.seeds".into(),
                message: format!(
                    "{} seeds aggregated, range holds {}",
                    a.seeds,
                    m.range_end - m.range_start
                ),
            });
        }
        Ok((0, a.clone()))
    }
    fn write_tables(
        tx: &mut OutDir,
        p: &ProgrammeWhatifShardParams,
        cells: &[(u32, ProgrammeAggregate)],
    ) -> Result<()> {
        let empty = ProgrammeAggregate::default();
        let agg = cells.first().map_or(&empty, |(_, a)| a);
        write_tables(tx, &report_of(p, agg))
    }
    fn items(a: &ProgrammeAggregate) -> u64 {
        a.seeds
    }
}

/// Run the programme what-if: on every seed of `spec` (of `out`'s shard,
/// if any), the baseline's programme and each candidate's, paired. With
/// `out`, the folder gets [`PROGRAMMES_FILE`], the tables, the JSON report
/// and `shard.ron`, as one transaction checked before the run.
pub fn run_programme_whatif(
    base: &ProgrammeBaseline<'_>,
    candidates: &[Candidate],
    spec: &ProgrammeWhatifSpec,
    out: Option<&WhatifOut>,
) -> Result<ProgrammeWhatifReport> {
    let (from, to) = check_run(candidates, spec.threads, spec.seeds)?;
    if spec.days == 0 {
        return Err(Error::usage("--days", "the programme has no run"));
    }
    let prog = base.programme;
    let cat = base.catalogue;
    let runs_total = spec
        .days
        .checked_mul(prog.slots.len() as u64)
        .ok_or_else(|| Error::usage("--days", format!("{} days is too many", spec.days)))?;
    let seeds = to - from;
    let sides = candidates.len() as u64 + 1;
    seeds
        .checked_mul(sides)
        .filter(|&p| p <= PROGRAMMES_MAX)
        .ok_or_else(|| {
            Error::usage(
                "--seeds",
                format!(
                    "{seeds} seeds x {sides} sides is over the limit of {PROGRAMMES_MAX} programmes"
                ),
            )
        })?;
    let params = ProgrammeWhatifShardParams {
        seed: from,
        n: seeds,
        rates_ppm: Vec::new(),
        variants: Vec::new(),
        model_fingerprint: format!("{:016x}", base.inputs_fingerprint),
        whatif_programme: Tagged(ProgrammeWhatifParams {
            days: spec.days,
            runs_total,
            scenarios: cat.scenarios().iter().map(|s| s.id.clone()).collect(),
            baseline: base.deployed,
            candidates: candidates
                .iter()
                .map(|c| CandidateParams {
                    label: c.label.clone(),
                    deployed: c.deployed,
                    stack: c.stack.as_ref().map(|(_, f)| f.spec()).unwrap_or_default(),
                })
                .collect(),
        }),
    };
    let mut files = ShardOut::<WhatifProgramme>::open(
        &params,
        out.map_or(Shard::WHOLE, |o| o.shard),
        out.map(|o| o.dir.as_path()),
        out.is_some_and(|o| o.force),
    )?;
    // One executor per side (its stack); the seeds are the parallelism.
    let runner = |stack| Runner {
        catalogue: cat,
        stack,
        threads: 1,
    };
    let mut executors = vec![runner(base.stack)];
    let mut ids = vec![SideId {
        deployed: base.deployed,
        default_set: base.stack.default_safeguards(),
    }];
    let mut labels = vec!["baseline"];
    for c in candidates {
        let stack = c.stack.as_ref().map_or(base.stack, |(s, _)| s);
        executors.push(runner(stack));
        ids.push(SideId {
            deployed: c.deployed,
            default_set: stack.default_safeguards(),
        });
        labels.push(&c.label);
    }
    let empty = ProgrammeAggregate::empty(candidates.len(), cat.len());
    let run = |_cell: u64, lo: u64, hi: u64, rows: &mut String| {
        let mut agg = empty.clone();
        let mut events = 0;
        for i in lo..hi {
            let seed = from + i;
            let mut runs = Vec::with_capacity(ids.len());
            for (k, id) in ids.iter().enumerate() {
                let r = programme_run(seed, runs_total, id.deployed, prog, cat, &executors[k])?;
                push_programme_row(rows, seed, k, labels[k], &r);
                events += r.events;
                spec.progress.add(1);
                runs.push(r);
            }
            agg.fold(seed, spec.days, &runs, &ids);
        }
        Ok((agg, events))
    };
    let mut total = ProgrammeAggregate::default();
    let range = files.range();
    run_ordered_chunked(
        spec.threads,
        seeds,
        range,
        1,
        files.sink(),
        &run,
        &mut |_, a| total = a,
    )?;
    let report = report_of(&params, &total);
    files.finish(&[(0, total)])?;
    Ok(report)
}

/// Append the row of one programme to `rows` ([`PROGRAMMES_HEADER`]).
fn push_programme_row(rows: &mut String, seed: u64, side: usize, label: &str, r: &ProgrammeRun) {
    let _ = write!(rows, "{seed},{side},");
    push_field(rows, label);
    let _ = writeln!(
        rows,
        ",{},{},{},{},{},{},{}",
        r.mastered, r.deployed, r.generated, r.executions, r.passes, r.events, r.digest
    );
}

/// The report of the seeds folded in `agg` of a programme what-if with
/// parameters `p`: per candidate the paired changes with their intervals,
/// the scenarios and safeguards it changed, and the ranking.
pub fn report_of(
    p: &ProgrammeWhatifShardParams,
    agg: &ProgrammeAggregate,
) -> ProgrammeWhatifReport {
    let w = &p.whatif_programme.0;
    let n_scen = w.scenarios.len() as f64;
    let n_sg = Safeguard::ALL.len() as f64;
    let day_bound = w.days.saturating_sub(1) as f64;
    let mut reports: Vec<ProgrammeCandidateReport> = w
        .candidates
        .iter()
        .zip(&agg.candidates)
        .map(|(c, a)| {
            let (mastered_change, mastered_change_low, mastered_change_high) =
                change(&a.mastered, n_scen);
            let (safeguards_change, safeguards_change_low, safeguards_change_high) =
                change(&a.safeguards, n_sg);
            let (generated_change, generated_change_low, generated_change_high) =
                change(&a.generated, n_sg);
            let (pass_rate_change, pass_rate_change_low, pass_rate_change_high) =
                change(&a.pass_rate, 1.0);
            let scenarios = w
                .scenarios
                .iter()
                .zip(&a.scenarios)
                .filter(|(_, s)| s.example.is_some())
                .map(|(id, s)| {
                    let m = &s.saved;
                    let ci = (m.n >= 2).then(|| m.interval(day_bound));
                    ScenarioMasteryChange {
                        id: id.clone(),
                        candidate_only: s.candidate_only,
                        baseline_only: s.baseline_only,
                        both: m.n,
                        days_saved: (m.n >= 1).then(|| m.mean()),
                        days_saved_low: ci.map(|c| c.0),
                        days_saved_high: ci.map(|c| c.1),
                        example: s.example.clone(),
                    }
                })
                .collect();
            let safeguards = Safeguard::ALL
                .iter()
                .zip(&a.safeguards_by)
                .filter(|(_, s)| s.differed)
                .map(|(sg, s)| SafeguardTimingChange {
                    safeguard: sg.name().to_string(),
                    baseline_initial: w.baseline.contains(*sg),
                    candidate_initial: c.deployed.contains(*sg),
                    baseline_deployed: s.baseline,
                    candidate_deployed: s.candidate,
                    both: s.earlier.n,
                    days_earlier: (s.earlier.n >= 1).then(|| s.earlier.mean()),
                })
                .collect();
            ProgrammeCandidateReport {
                label: c.label.clone(),
                rank: 0,
                deployed: c.deployed,
                seeds: agg.seeds,
                candidate_mastered: a.candidate_mastered.mean(),
                mastered_change,
                mastered_change_low,
                mastered_change_high,
                candidate_safeguards: a.candidate_safeguards.mean(),
                safeguards_change,
                safeguards_change_low,
                safeguards_change_high,
                candidate_generated: a.candidate_generated.mean(),
                generated_change,
                generated_change_low,
                generated_change_high,
                candidate_pass_rate: a.candidate_pass_rate.mean(),
                pass_rate_change,
                pass_rate_change_low,
                pass_rate_change_high,
                scenarios,
                safeguards,
            }
        })
        .collect();
    reports.sort_by(|a, b| {
        b.mastered_change
            .total_cmp(&a.mastered_change)
            .then(b.pass_rate_change.total_cmp(&a.pass_rate_change))
            .then(a.label.cmp(&b.label))
    });
    for (i, r) in reports.iter_mut().enumerate() {
        r.rank = i as u32 + 1;
    }
    ProgrammeWhatifReport {
        seeds: agg.seed_range,
        days: w.days,
        runs_total: w.runs_total,
        catalogue_scenarios: w.scenarios.len() as u64,
        baseline: w.baseline,
        baseline_mastered: agg.baseline.mastered.mean(),
        baseline_safeguards: agg.baseline.safeguards.mean(),
        baseline_generated: agg.baseline.generated.mean(),
        baseline_pass_rate: agg.baseline.pass_rate.mean(),
        candidates: reports,
        programmes: agg.programmes,
        events: agg.events,
    }
}

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect("writes to memory");
    for r in rows {
        w.write_record(&r).expect("writes to memory");
    }
    w.into_inner().expect("writes to memory")
}

fn f6(x: f64) -> String {
    format!("{x:.6}")
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// [`PROGRAMME_FILE`]'s bytes: one row per candidate, in rank order.
pub fn programme_csv(report: &ProgrammeWhatifReport) -> Vec<u8> {
    csv_bytes(
        &PROGRAMME_HEADER,
        report.candidates.iter().map(|c| {
            vec![
                c.rank.to_string(),
                c.label.clone(),
                c.seeds.to_string(),
                f6(report.baseline_mastered),
                f6(c.candidate_mastered),
                f6(c.mastered_change),
                f6(c.mastered_change_low),
                f6(c.mastered_change_high),
                f6(report.baseline_safeguards),
                f6(c.candidate_safeguards),
                f6(c.safeguards_change),
                f6(c.safeguards_change_low),
                f6(c.safeguards_change_high),
                f6(report.baseline_generated),
                f6(c.candidate_generated),
                f6(c.generated_change),
                f6(c.generated_change_low),
                f6(c.generated_change_high),
                f6(report.baseline_pass_rate),
                f6(c.candidate_pass_rate),
                f6(c.pass_rate_change),
                f6(c.pass_rate_change_low),
                f6(c.pass_rate_change_high),
                c.scenarios.len().to_string(),
                c.safeguards.len().to_string(),
                c.deployed.join(";"),
            ]
        }),
    )
}

/// [`PROGRAMME_SCENARIOS_FILE`]'s bytes: one row per candidate (in rank
/// order) and changed scenario (in catalogue order).
pub fn programme_scenarios_csv(report: &ProgrammeWhatifReport) -> Vec<u8> {
    let mut rows = Vec::new();
    for c in &report.candidates {
        for s in &c.scenarios {
            let mut r = vec![
                c.label.clone(),
                s.id.clone(),
                s.candidate_only.to_string(),
                s.baseline_only.to_string(),
                s.both.to_string(),
                opt(s.days_saved.map(f6)),
                opt(s.days_saved_low.map(f6)),
                opt(s.days_saved_high.map(f6)),
            ];
            match &s.example {
                Some(ex) => r.extend([
                    ex.seed.to_string(),
                    ex.days.to_string(),
                    opt(ex.baseline.first_mastered_day),
                    opt(ex.candidate.first_mastered_day),
                    ex.baseline.safeguards.clone(),
                    ex.baseline.digest.clone(),
                    ex.candidate.safeguards.clone(),
                    ex.candidate.digest.clone(),
                ]),
                None => r.extend(std::iter::repeat_n(String::new(), 8)),
            }
            rows.push(r);
        }
    }
    csv_bytes(&PROGRAMME_SCENARIOS_HEADER, rows.into_iter())
}

/// Stage [`PROGRAMME_FILE`], [`PROGRAMME_SCENARIOS_FILE`] and
/// [`REPORT_FILE`] (the report as one JSON object, with a newline) of
/// `report` in `tx`, a transaction prepared for (at least) [`OUT_FILES`].
pub fn write_tables(tx: &mut OutDir, report: &ProgrammeWhatifReport) -> Result<()> {
    tx.write(PROGRAMME_FILE, &programme_csv(report))?;
    tx.write(PROGRAMME_SCENARIOS_FILE, &programme_scenarios_csv(report))?;
    let mut json = serde_json::to_vec(report).expect("the report serializes");
    json.push(b'\n');
    tx.write(REPORT_FILE, &json)
}

/// Write [`OUT_FILES`] of `report` into `dir` as one transaction (any of
/// them already there is refused unless `force`, which replaces exactly
/// those; other files are left alone).
pub fn write_out(report: &ProgrammeWhatifReport, dir: &std::path::Path, force: bool) -> Result<()> {
    let mut tx = prepare_out_dir(dir, &OUT_FILES, force, "--out")?;
    write_tables(&mut tx, report)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_of_equal_values_have_no_spread() {
        let mut m = Moments::default();
        for _ in 0..5 {
            m.push(-2.0);
        }
        assert_eq!((m.n, m.mean(), m.sd()), (5, -2.0, 0.0));
        assert_eq!(m.interval(10.0), (-2.0, -2.0));
    }

    #[test]
    fn moments_give_the_student_t_interval_clipped_to_the_bound() {
        let mut m = Moments::default();
        for x in [0.0, 1.0, 2.0, 3.0] {
            m.push(x);
        }
        assert!((m.mean() - 1.5).abs() < 1e-12);
        // sd = 1.290994, t(3, 0.975) = 3.182446: half-width 2.054260.
        let (lo, hi) = m.interval(100.0);
        assert!((lo - (1.5 - 2.054_260)).abs() < 1e-5, "{lo}");
        assert!((hi - (1.5 + 2.054_260)).abs() < 1e-5, "{hi}");
        assert_eq!(m.interval(3.0), (lo, 3.0));
        let one = {
            let mut m = Moments::default();
            m.push(4.0);
            m
        };
        assert_eq!(one.interval(10.0), (4.0, 4.0));
    }
}
