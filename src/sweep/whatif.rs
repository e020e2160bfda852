//! What each safeguard buys: paired what-if analysis over seeds
//! (`chaosim whatif`).
//!
//! For a set of candidate changes to the stack (deploy a safeguard, remove
//! one, or another stack file), every scenario of a list runs on every seed
//! of a range twice or more: once on the baseline and once per candidate,
//! with the same seed path. Every random stream of a run derives from that
//! path, so the two runs of a pair see the same traffic, the same fault
//! instants and the same draws (common random numbers); they part only
//! where the change acts. Comparing pairs instead of two independent
//! samples removes the noise both sides share.
//!
//! Per candidate, paired against the baseline:
//! - **discordant pairs**: `prevented` (baseline failed, candidate passed)
//!   and `introduced` (the reverse); the change in pass rate is
//!   `(prevented - introduced) / pairs`, with an exact interval conditional
//!   on the discordant count (Clopper-Pearson for the share of prevented
//!   among discordant pairs) and the exact McNemar p-value (two-sided
//!   binomial test of that share against 1/2);
//! - **recovery time saved** on the pairs where both sides recovered
//!   (baseline minus candidate, seconds): p50 and p90 with distribution-free
//!   intervals (order statistics: the ranks of a binomial(n, q) interval),
//!   read from bounded log-bucket sketches (a value is the midpoint of its
//!   bucket, within 1/16 of it);
//! - **evidence** per scenario: how many pairs it changed each way and the
//!   first such pair (lowest seed), with the baseline's failure reason, the
//!   candidate safeguard's need on the failing side ("needed at t (signal
//!   value > threshold)") and its firing on the other, and a reproduction
//!   handle for both sides.
//!
//! Candidates are ranked by net failures prevented, then by median
//! recovery saved, then by their label.
//!
//! **Invariant:** the report depends only on the inputs, never on the
//! thread count: pairs are folded in (scenario, seed) order.
//!
//! **Invariant:** memory is bounded by the candidates and scenarios, not
//! by the seeds: per candidate fixed-size counters and sketches, per
//! (candidate, scenario) two counters and at most two example pairs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, Binomial, ContinuousCDF, DiscreteCDF};

use crate::engine::SimTime;
use crate::error::{Error, Result};
use crate::model::stack::StackSpec;
use crate::record::csv::push_field;
use crate::record::outfile::OutDir;
use crate::record::stats::LogSketch;
use crate::safeguard::SafeguardSet;
use crate::scenario::execution::{Execution, Item};
use crate::scenario::repro::{FileIds, Repro};
use crate::scenario::run::{RunOutputs, run_execution_item};
use crate::scenario::{Catalogue, Outcome, ScenarioSpec};
use crate::shard::{
    Aggregate, HeadParams, Progress, SHARD_FILE, Shard, ShardFile, ShardKind, ShardOut, Slot,
    THREADS_MAX, Tagged, format1_params, run_ordered_chunked,
};

/// Confidence of every interval of the report.
pub const CONFIDENCE: f64 = 0.95;

/// `--out DIR`: one row per (scenario, seed, side): the baseline's and each
/// candidate's verdict, failure kind, recovery, events and digest.
pub const PAIRS_FILE: &str = "pairs.csv";
/// Header of [`PAIRS_FILE`] (with its newline).
pub const PAIRS_HEADER: &str = "scenario,seed,side,passed,failure_kind,recovery_s,events,digest\n";
/// `--out DIR`: one row per candidate, in rank order.
pub const CANDIDATES_FILE: &str = "candidates.csv";
/// `--out DIR`: one row per candidate, changed scenario and direction
/// (prevented, introduced), with the first such pair and both handles.
pub const SCENARIOS_FILE: &str = "scenarios.csv";
/// `--out DIR`: the whole report as one JSON object (as `--json` prints).
pub const REPORT_FILE: &str = "whatif.json";

/// Header of [`CANDIDATES_FILE`].
pub const CANDIDATES_HEADER: [&str; 18] = [
    "rank",
    "candidate",
    "pairs",
    "baseline_passed",
    "candidate_passed",
    "prevented",
    "introduced",
    "pass_rate_change",
    "ci_low",
    "ci_high",
    "mcnemar_p",
    "recovered_pairs",
    "saved_p50_s",
    "saved_p50_low_s",
    "saved_p50_high_s",
    "saved_p90_s",
    "saved_p90_low_s",
    "saved_p90_high_s",
];

/// Header of [`SCENARIOS_FILE`].
pub const SCENARIOS_HEADER: [&str; 11] = [
    "candidate",
    "scenario",
    "prevented",
    "introduced",
    "example",
    "seed",
    "baseline_failure",
    "baseline_evidence",
    "candidate_evidence",
    "baseline_repro",
    "candidate_repro",
];

/// Stage [`CANDIDATES_FILE`], [`SCENARIOS_FILE`] and [`REPORT_FILE`] of
/// `report` in `tx` (the transaction of a what-if's `--out` folder or of
/// `chaosim merge`).
pub fn write_tables(tx: &mut OutDir, report: &WhatifReport) -> Result<()> {
    tx.write(CANDIDATES_FILE, &candidates_csv(report))?;
    tx.write(SCENARIOS_FILE, &scenarios_csv(report))?;
    let mut json = serde_json::to_vec(report).expect("the report serializes");
    json.push(b'\n');
    tx.write(REPORT_FILE, &json)
}

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect("writes to memory");
    for r in rows {
        w.write_record(&r).expect("writes to memory");
    }
    w.into_inner().expect("writes to memory")
}

/// [`CANDIDATES_FILE`]'s bytes.
pub fn candidates_csv(report: &WhatifReport) -> Vec<u8> {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
    let q = |c: &Option<QuantileCi>| match c {
        Some(c) => [format!("{:.3}", c.value), opt(c.low), opt(c.high)],
        None => Default::default(),
    };
    csv_bytes(
        &CANDIDATES_HEADER,
        report.candidates.iter().map(|c| {
            let mut r = vec![
                c.rank.to_string(),
                c.label.clone(),
                c.pairs.to_string(),
                c.baseline_passed.to_string(),
                c.candidate_passed.to_string(),
                c.prevented.to_string(),
                c.introduced.to_string(),
                format!("{:.6}", c.pass_rate_change),
                format!("{:.6}", c.pass_rate_change_low),
                format!("{:.6}", c.pass_rate_change_high),
                format!("{:.6}", c.mcnemar_p),
                c.recovered_pairs.to_string(),
            ];
            r.extend(q(&c.recovery_saved_p50_s));
            r.extend(q(&c.recovery_saved_p90_s));
            r
        }),
    )
}

/// [`SCENARIOS_FILE`]'s bytes.
pub fn scenarios_csv(report: &WhatifReport) -> Vec<u8> {
    let mut rows = Vec::new();
    for c in &report.candidates {
        for sc in &c.changed {
            for (kind, ex) in [
                ("prevented", &sc.prevented_example),
                ("introduced", &sc.introduced_example),
            ] {
                let Some(ex) = ex else { continue };
                rows.push(vec![
                    c.label.clone(),
                    sc.id.clone(),
                    sc.prevented.to_string(),
                    sc.introduced.to_string(),
                    kind.to_string(),
                    ex.seed.to_string(),
                    ex.baseline.failure_reason.clone().unwrap_or_default(),
                    ex.baseline.evidence.join("; "),
                    ex.candidate.evidence.join("; "),
                    ex.baseline.repro.clone(),
                    ex.candidate.repro.clone(),
                ]);
            }
        }
    }
    csv_bytes(&SCENARIOS_HEADER, rows.into_iter())
}

/// Most pairs one what-if may run (scenarios x seeds), a limit on the
/// command's running time, not on its memory.
pub const PAIRS_MAX: u64 = 10_000_000;

/// One candidate change to the baseline stack.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// How the user wrote it (`+acl_violation_monitor`, `stack=FILE`).
    pub label: String,
    /// The safeguards deployed with the change.
    pub deployed: SafeguardSet,
    /// Another stack, when the change is a stack file (with its file ids
    /// for the handles).
    pub stack: Option<(StackSpec, FileIds)>,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct WhatifSpec {
    /// Scenario ids, in the order reported.
    pub ids: Vec<String>,
    /// Seeds `from..to` (half-open; the CLI's `--seeds FROM:TO` is
    /// inclusive).
    pub seeds: (u64, u64),
    /// Difficulty level of every run.
    pub difficulty: u8,
    /// Simulated start instant (time of day matters to governance).
    pub start: SimTime,
    /// Worker threads (results do not depend on it).
    pub threads: usize,
    /// Told the pairs each finished chunk ran (a progress bar).
    pub progress: Progress,
}

/// A quantile with its interval, seconds.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct QuantileCi {
    /// The quantile's estimate.
    pub value: f64,
    /// Lower bound of its interval (`None` when too few pairs).
    pub low: Option<f64>,
    /// Upper bound.
    pub high: Option<f64>,
}

/// One side of an example pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    /// Passed or failed.
    pub passed: bool,
    /// The failure reason, if it failed.
    pub failure_reason: Option<String>,
    /// What the changed safeguards did on this side: "needed at ...",
    /// "fired at ...".
    pub evidence: Vec<String>,
    /// The reproduction handle of this side's run.
    pub repro: String,
}

/// A discordant pair kept as evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The seed.
    pub seed: u64,
    /// The baseline's run.
    pub baseline: Side,
    /// The candidate's run.
    pub candidate: Side,
}

/// What a candidate changed in one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioChange {
    /// The scenario.
    pub id: String,
    /// Pairs where the baseline failed and the candidate passed.
    pub prevented: u64,
    /// Pairs where the baseline passed and the candidate failed.
    pub introduced: u64,
    /// The first prevented pair (lowest seed).
    pub prevented_example: Option<Example>,
    /// The first introduced pair.
    pub introduced_example: Option<Example>,
}

/// One candidate's paired comparison with the baseline.
#[derive(Clone, Debug, Serialize)]
pub struct CandidateReport {
    /// The candidate as written (`candidate` in JSON).
    #[serde(rename = "candidate")]
    pub label: String,
    /// Rank (1 = most net failures prevented).
    pub rank: u32,
    /// Pairs run.
    pub pairs: u64,
    /// Baseline passes.
    pub baseline_passed: u64,
    /// Candidate passes.
    pub candidate_passed: u64,
    /// Failures prevented (baseline failed, candidate passed).
    pub prevented: u64,
    /// Failures introduced (baseline passed, candidate failed).
    pub introduced: u64,
    /// Change in pass rate, `(prevented - introduced) / pairs`.
    pub pass_rate_change: f64,
    /// Its interval at [`CONFIDENCE`], conditional on the discordant count
    /// (`ci_low` in JSON).
    #[serde(rename = "ci_low")]
    pub pass_rate_change_low: f64,
    /// Upper bound (`ci_high` in JSON).
    #[serde(rename = "ci_high")]
    pub pass_rate_change_high: f64,
    /// Exact McNemar p-value (two-sided), 1 when no pair is discordant.
    pub mcnemar_p: f64,
    /// Pairs where both sides recovered (the recovery comparison's base).
    pub recovered_pairs: u64,
    /// Median recovery saved (baseline - candidate), seconds.
    pub recovery_saved_p50_s: Option<QuantileCi>,
    /// 90th percentile of recovery saved, seconds.
    pub recovery_saved_p90_s: Option<QuantileCi>,
    /// The scenarios it changed (at least one discordant pair), in list order.
    pub changed: Vec<ScenarioChange>,
}

/// The whole what-if.
#[derive(Clone, Debug, Serialize)]
pub struct WhatifReport {
    /// Scenarios compared.
    pub scenarios: Vec<String>,
    /// Seeds `from..to`.
    pub seeds: (u64, u64),
    /// Difficulty of every run.
    pub difficulty: u8,
    /// Baseline safeguards.
    pub baseline: SafeguardSet,
    /// Baseline passes over every (scenario, seed).
    pub baseline_passed: u64,
    /// Pairs per candidate.
    pub pairs: u64,
    /// One report per candidate, ranked.
    pub candidates: Vec<CandidateReport>,
    /// Simulation events handled, every run.
    pub events: u64,
}

/// Signed recovery differences in bounded memory: magnitudes of savings
/// and losses in two log-bucket sketches (nanoseconds), ties counted.
#[derive(Default)]
struct SignedSketch {
    saved: LogSketch,
    lost: LogSketch,
    zero: u64,
}

impl SignedSketch {
    fn count(&self) -> u64 {
        self.saved.count() + self.lost.count() + self.zero
    }

    /// The value of rank `r` (1-based) of the signed distribution, ns.
    fn at_rank(&self, r: u64) -> Option<f64> {
        let (nl, nz) = (self.lost.count(), self.zero);
        if r == 0 || r > self.count() {
            return None;
        }
        if r <= nl {
            // Ranks 1..=nl are the losses, largest magnitude first.
            self.lost.at_rank(nl - r + 1).map(|v| -v)
        } else if r <= nl + nz {
            Some(0.0)
        } else {
            self.saved.at_rank(r - nl - nz)
        }
    }

    /// Quantile `q` with its order-statistic interval, seconds.
    fn quantile(&self, q: f64) -> Option<QuantileCi> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let value = self.at_rank(rank)? / 1e9;
        let (low, high) = order_statistic_ranks(n, q);
        Some(QuantileCi {
            value,
            low: low.and_then(|r| self.at_rank(r)).map(|v| v / 1e9),
            high: high.and_then(|r| self.at_rank(r)).map(|v| v / 1e9),
        })
    }
}

/// Ranks `(l, u)` (1-based) such that the l-th and u-th order statistics
/// of `n` values bracket the q-quantile with probability at least
/// [`CONFIDENCE`] (binomial(n, q) tails), `None` on a side with too few
/// values.
fn order_statistic_ranks(n: u64, q: f64) -> (Option<u64>, Option<u64>) {
    let Ok(b) = Binomial::new(q, n) else {
        return (None, None);
    };
    let alpha = (1.0 - CONFIDENCE) / 2.0;
    // P(X < l) <= alpha: the largest l with cdf(l - 1) <= alpha.
    let mut low = None;
    for l in (1..=n).rev() {
        if b.cdf(l - 1) <= alpha {
            low = Some(l);
            break;
        }
    }
    // P(X >= u) <= alpha: the smallest u with 1 - cdf(u - 1) <= alpha.
    let mut high = None;
    for u in 1..=n {
        if 1.0 - b.cdf(u - 1) <= alpha {
            high = Some(u);
            break;
        }
    }
    (low, high)
}

/// Clopper-Pearson interval for `k` successes of `n`.
fn clopper_pearson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let alpha = 1.0 - CONFIDENCE;
    let low = if k == 0 {
        0.0
    } else {
        Beta::new(k as f64, (n - k + 1) as f64)
            .map(|b| b.inverse_cdf(alpha / 2.0))
            .unwrap_or(0.0)
    };
    let high = if k == n {
        1.0
    } else {
        Beta::new((k + 1) as f64, (n - k) as f64)
            .map(|b| b.inverse_cdf(1.0 - alpha / 2.0))
            .unwrap_or(1.0)
    };
    (low, high)
}

/// Exact two-sided McNemar p-value for `b` and `c` discordant pairs (the
/// pairs that changed one way and the other); 1 when none changed.
pub fn mcnemar_p(b: u64, c: u64) -> f64 {
    let d = b + c;
    if d == 0 {
        return 1.0;
    }
    let bin = Binomial::new(0.5, d).expect("p = 1/2");
    (2.0 * bin.cdf(b.min(c))).min(1.0)
}

/// A (candidate, scenario) recovery comparison in sparse form: the
/// log-bucket counts of savings and losses (see [`LogSketch::bucket_of`])
/// and the ties. Bounded by the bucket count whatever the seeds; the
/// report's signed sketch is built from it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryDiffs {
    /// Bucket of the saving (ns) -> pairs.
    pub saved: BTreeMap<u32, u64>,
    /// Bucket of the loss (ns, magnitude) -> pairs.
    pub lost: BTreeMap<u32, u64>,
    /// Pairs that recovered in exactly the same time.
    pub zero: u64,
}

impl RecoveryDiffs {
    fn push(&mut self, diff_ns: i128) {
        let bucket = |x: u128| LogSketch::bucket_of(x.min(u64::MAX as u128) as u64) as u32;
        match diff_ns.cmp(&0) {
            std::cmp::Ordering::Greater => {
                *self.saved.entry(bucket(diff_ns as u128)).or_default() += 1
            }
            std::cmp::Ordering::Less => {
                *self.lost.entry(bucket(diff_ns.unsigned_abs())).or_default() += 1
            }
            std::cmp::Ordering::Equal => self.zero += 1,
        }
    }

    fn merge_from(&mut self, other: &RecoveryDiffs) {
        for (b, n) in &other.saved {
            *self.saved.entry(*b).or_default() += n;
        }
        for (b, n) in &other.lost {
            *self.lost.entry(*b).or_default() += n;
        }
        self.zero += other.zero;
    }

    /// Pairs counted (saturating: an edited file cannot wrap it below `n`).
    fn count(&self) -> u64 {
        self.saved
            .values()
            .chain(self.lost.values())
            .fold(self.zero, |a, &c| a.saturating_add(c))
    }

    /// Fold into `sketch`; `false` when a bucket is out of range.
    fn add_to(&self, sketch: &mut SignedSketch) -> bool {
        let ok = self
            .saved
            .iter()
            .all(|(b, n)| sketch.saved.add_bucket(*b as usize, *n))
            && self
                .lost
                .iter()
                .all(|(b, n)| sketch.lost.add_bucket(*b as usize, *n));
        sketch.zero += self.zero;
        ok
    }
}

/// What one candidate did on one scenario's pairs (part of a
/// [`WhatifAggregate`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateCell {
    /// Candidate passes.
    pub passed: u64,
    /// Pairs where the baseline failed and the candidate passed.
    pub prevented: u64,
    /// Pairs where the baseline passed and the candidate failed.
    pub introduced: u64,
    /// Recovery saved on the pairs where both sides recovered.
    pub recovery: RecoveryDiffs,
    /// The prevented pair with the lowest seed.
    pub prevented_example: Option<Example>,
    /// The introduced pair with the lowest seed.
    pub introduced_example: Option<Example>,
}

/// Keep the example with the lower seed.
fn earliest(mine: &mut Option<Example>, other: &Option<Example>) {
    if let Some(o) = other
        && mine.as_ref().is_none_or(|m| o.seed < m.seed)
    {
        *mine = Some(o.clone());
    }
}

impl CandidateCell {
    fn merge_from(&mut self, o: &CandidateCell) {
        self.passed += o.passed;
        self.prevented += o.prevented;
        self.introduced += o.introduced;
        self.recovery.merge_from(&o.recovery);
        earliest(&mut self.prevented_example, &o.prevented_example);
        earliest(&mut self.introduced_example, &o.introduced_example);
    }
}

/// One scenario's pairs (a cell of the batch): the baseline's passes and,
/// per candidate in the order given, its [`CandidateCell`]. Merges exactly
/// (counts, bucket counts, the lowest-seed examples), so shards and chunks
/// fold into the same cell whatever their order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatifAggregate {
    /// Pairs (seeds) folded in.
    pub n: u64,
    /// Baseline passes.
    pub baseline_passed: u64,
    /// Simulation events, every side.
    pub events: u64,
    /// Per candidate.
    pub candidates: Vec<CandidateCell>,
}

impl Aggregate for WhatifAggregate {
    fn merge_from(&mut self, o: &WhatifAggregate) {
        self.n += o.n;
        self.baseline_passed += o.baseline_passed;
        self.events += o.events;
        if self.candidates.len() < o.candidates.len() {
            self.candidates
                .resize_with(o.candidates.len(), CandidateCell::default);
        }
        for (a, b) in self.candidates.iter_mut().zip(&o.candidates) {
            a.merge_from(b);
        }
    }
}

/// One cell's aggregate as `shard.ron` stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatifCellRecord {
    /// The scenario's index in the list.
    pub cell: u32,
    /// Its aggregate.
    pub aggregate: WhatifAggregate,
}

/// One candidate as `shard.ron` records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateParams {
    /// As the user wrote it.
    pub label: String,
    /// The safeguards it deploys.
    pub deployed: SafeguardSet,
    /// The fingerprints of its other stack (a `--files` value), if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stack: String,
}

/// The what-if parameters recorded in `shard.ron`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatifParams {
    /// Scenario ids (the cells).
    pub scenarios: Vec<String>,
    /// Difficulty of every run.
    pub difficulty: u8,
    /// Simulated start instant of every run, ns.
    pub start_ns: u64,
    /// The baseline's safeguards.
    pub baseline: SafeguardSet,
    /// The candidates, in the order given.
    pub candidates: Vec<CandidateParams>,
    /// Fingerprints of the baseline's non-default input files.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub files: String,
}

format1_params! {
    /// The parameters every shard of one what-if shares, as recorded in
    /// `shard.ron` (format 1: `seed` is the first seed, `n` the seeds per
    /// scenario, `rates_ppm` and `variants` are empty, `model_fingerprint`
    /// holds the catalogue's and the baseline stack's fingerprints).
    pub struct WhatifShardParams {
        /// The what-if.
        pub whatif: WhatifParams,
    }
}

/// The what-if as a batch kind: cells are the scenarios, work items the
/// seeds, each item the baseline's and every candidate's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Whatif;

impl Whatif {
    /// What differs between a what-if's shards beyond the common parameters.
    pub const DIFFERENCE: &'static str =
        "what-if (scenarios, candidates, baseline, difficulty, start or files)";
}

impl ShardKind for Whatif {
    const TAG: &'static str = "whatif";
    const SLOT: Slot = Slot::WhatifCells;
    type Params = WhatifShardParams;
    type Record = WhatifCellRecord;
    type Aggregate = WhatifAggregate;

    fn cells(p: &WhatifShardParams) -> u64 {
        p.whatif.0.scenarios.len() as u64
    }
    fn rows_file(_: &WhatifShardParams) -> &'static str {
        PAIRS_FILE
    }
    fn rows_header(_: &WhatifShardParams) -> String {
        PAIRS_HEADER.into()
    }
    fn files(_: &WhatifShardParams) -> Vec<&'static str> {
        vec![
            PAIRS_FILE,
            CANDIDATES_FILE,
            SCENARIOS_FILE,
            REPORT_FILE,
            SHARD_FILE,
        ]
    }
    fn difference(a: &WhatifShardParams, b: &WhatifShardParams) -> Option<String> {
        a.head()
            .difference(&b.head())
            .or_else(|| (a.whatif != b.whatif).then(|| Self::DIFFERENCE.into()))
    }
    fn to_record(cell: u32, a: &WhatifAggregate) -> WhatifCellRecord {
        WhatifCellRecord {
            cell,
            aggregate: a.clone(),
        }
    }
    fn from_record(
        p: &WhatifShardParams,
        _: &ShardFile<Self>,
        r: &WhatifCellRecord,
        path: &Path,
    ) -> Result<(u32, WhatifAggregate)> {
        let bad = |message: String| Error::Invalid {
            path: path.to_path_buf(),
            field: format!("whatif_cells[{}]", r.cell),
            message,
        };
        let a = &r.aggregate;
        let k = p.whatif.0.candidates.len();
        if a.candidates.len() != k {
            return Err(bad(format!(
                "{} candidate records, the parameters name {k}",
                a.candidates.len()
            )));
        }
        if a.baseline_passed > a.n {
            return Err(bad(format!(
                "baseline_passed {} > n {}",
                a.baseline_passed, a.n
            )));
        }
        for (i, c) in a.candidates.iter().enumerate() {
            // The candidate's passes are the baseline's, less those it
            // introduced a failure in, plus those it prevented one in.
            let consistent = c.introduced <= a.baseline_passed
                && c.prevented <= a.n - a.baseline_passed
                && c.passed.checked_add(c.introduced) == a.baseline_passed.checked_add(c.prevented);
            if c.passed > a.n || !consistent || c.recovery.count() > a.n {
                return Err(bad(format!(
                    "candidates[{i}]: counts do not fit n = {} (passed = baseline_passed - introduced + prevented, each at most n)",
                    a.n
                )));
            }
            if !c.recovery.add_to(&mut SignedSketch::default()) {
                return Err(bad(format!(
                    "candidates[{i}].recovery: a bucket is out of range"
                )));
            }
        }
        Ok((r.cell, a.clone()))
    }
    fn write_tables(
        tx: &mut OutDir,
        p: &WhatifShardParams,
        cells: &[(u32, WhatifAggregate)],
    ) -> Result<()> {
        write_tables(tx, &report_of(p, cells))
    }
    fn items(a: &WhatifAggregate) -> u64 {
        a.n
    }
}

/// Where the files of a what-if go (`--out`), and which shard it runs.
#[derive(Clone, Debug)]
pub struct WhatifOut {
    /// The output folder.
    pub dir: PathBuf,
    /// Replace this what-if's files in it.
    pub force: bool,
    /// The slice of the (scenario, seed) pairs to run.
    pub shard: Shard,
}

/// The baseline of a what-if: its inputs and safeguards.
#[derive(Clone, Copy, Debug)]
pub struct Baseline<'a> {
    /// The stack.
    pub stack: &'a StackSpec,
    /// Hash of the stack text (for merging shards).
    pub stack_fingerprint: u64,
    /// The scenarios.
    pub catalogue: &'a Catalogue,
    /// The non-default input files (for the handles).
    pub files: &'a FileIds,
    /// The safeguards deployed.
    pub deployed: SafeguardSet,
}

fn execution(seed: u64, spec: &WhatifSpec, id: &str, deployed: SafeguardSet) -> Execution {
    Execution {
        seed,
        run: 0,
        start: spec.start,
        concurrent: false,
        items: vec![Item {
            scenario: id.to_string(),
            difficulty: spec.difficulty,
            known_fixes: SafeguardSet::EMPTY,
        }],
        deployed,
    }
}

/// Pairs per chunk of the ordered runner: a pair is one run per side, a few
/// milliseconds each, so small chunks keep both cores busy on a short list.
const PAIR_CHUNK: u64 = 4;

/// The checks every what-if makes of its candidates, threads and seeds
/// (`from..to`), which it returns.
pub(crate) fn check_run(
    candidates: &[Candidate],
    threads: usize,
    seeds: (u64, u64),
) -> Result<(u64, u64)> {
    if candidates.is_empty() {
        return Err(Error::usage("--candidates", "give at least one candidate"));
    }
    if !(1..=THREADS_MAX).contains(&threads) {
        return Err(Error::usage(
            "--threads",
            format!("{threads} is outside 1..={THREADS_MAX}"),
        ));
    }
    let (from, to) = seeds;
    if to <= from {
        return Err(Error::usage(
            "--seeds",
            format!("FROM:TO needs FROM < TO (got {from}:{to})"),
        ));
    }
    Ok(seeds)
}

/// Run the what-if: the baseline and each candidate on every (scenario,
/// seed) of `spec`, or on one shard of them. With `out`, the rows
/// ([`PAIRS_FILE`]), the tables and `shard.ron` are written into its folder
/// as one transaction, ready for `chaosim merge`; the report returned is
/// this shard's.
pub fn run_whatif(
    base: &Baseline<'_>,
    candidates: &[Candidate],
    spec: &WhatifSpec,
    out: Option<&WhatifOut>,
) -> Result<WhatifReport> {
    let (from, to) = check_run(candidates, spec.threads, spec.seeds)?;
    let specs: Vec<&ScenarioSpec> = base.catalogue.require_list(&spec.ids, "--ids")?;
    let seeds = to - from;
    let units = (specs.len() as u64).saturating_mul(seeds);
    if units > PAIRS_MAX {
        return Err(Error::usage(
            "--seeds",
            format!("{units} pairs per candidate is over the limit of {PAIRS_MAX}"),
        ));
    }
    let params = WhatifShardParams {
        seed: from,
        n: seeds,
        rates_ppm: Vec::new(),
        variants: Vec::new(),
        model_fingerprint: format!(
            "{:016x}:{:016x}",
            base.catalogue.fingerprint(),
            base.stack_fingerprint
        ),
        whatif: Tagged(WhatifParams {
            scenarios: spec.ids.clone(),
            difficulty: spec.difficulty,
            start_ns: spec.start.as_nanos(),
            baseline: base.deployed,
            candidates: candidates
                .iter()
                .map(|c| CandidateParams {
                    label: c.label.clone(),
                    deployed: c.deployed,
                    stack: c.stack.as_ref().map(|(_, f)| f.spec()).unwrap_or_default(),
                })
                .collect(),
            files: base.files.spec(),
        }),
    };
    let mut files = ShardOut::<Whatif>::open(
        &params,
        out.map_or(Shard::WHOLE, |o| o.shard),
        out.map(|o| o.dir.as_path()),
        out.is_some_and(|o| o.force),
    )?;
    let range = files.range();
    let default_set = base.stack.default_safeguards();
    let sides: Vec<(&StackSpec, SafeguardSet, &FileIds, SafeguardSet)> =
        std::iter::once((base.stack, base.deployed, base.files, default_set))
            .chain(candidates.iter().map(|c| match &c.stack {
                Some((st, f)) => (st, c.deployed, f, st.default_safeguards()),
                None => (base.stack, c.deployed, base.files, default_set),
            }))
            .collect();
    let run = |cell: u64, lo: u64, hi: u64, rows: &mut String| -> Result<(WhatifAggregate, u64)> {
        let sc = specs[cell as usize];
        let mut agg = WhatifAggregate {
            candidates: vec![CandidateCell::default(); candidates.len()],
            ..WhatifAggregate::default()
        };
        for e in lo..hi {
            let seed = from + e;
            let outcomes: Vec<Outcome> = sides
                .iter()
                .map(|(st, deployed, _, _)| {
                    let exec = execution(seed, spec, &sc.id, *deployed);
                    run_execution_item(st, &exec, &exec.items[0], sc, 0, RunOutputs::default())
                })
                .collect::<Result<_>>()?;
            for (k, o) in outcomes.iter().enumerate() {
                let label = if k == 0 {
                    "baseline"
                } else {
                    &candidates[k - 1].label
                };
                push_pair_row(rows, &sc.id, seed, label, o);
            }
            // The evidence of candidate k's discordant pair: what the
            // changed safeguards did on each side, and both handles.
            let example = |k: usize| {
                let c = &candidates[k];
                let changed = c
                    .deployed
                    .union(base.deployed)
                    .difference(c.deployed.intersection(base.deployed));
                let side_of = |i: usize| {
                    let (_, deployed, files, default_set) = sides[i];
                    let exec = execution(seed, spec, &sc.id, deployed);
                    side(&outcomes[i], changed, &exec, files, default_set)
                };
                Example {
                    seed,
                    baseline: side_of(0),
                    candidate: side_of(k + 1),
                }
            };
            agg.fold(&outcomes, &example);
        }
        spec.progress.add(hi - lo);
        let events = agg.events;
        Ok((agg, events))
    };
    let mut cells: Vec<(u32, WhatifAggregate)> = Vec::new();
    run_ordered_chunked(
        spec.threads,
        seeds,
        range,
        PAIR_CHUNK,
        files.sink(),
        &run,
        &mut |c, a| cells.push((c as u32, a)),
    )?;
    files.finish(&cells)?;
    Ok(report_of(&params, &cells))
}

/// Append the rows of one pair's side to `rows` ([`PAIRS_HEADER`]).
fn push_pair_row(rows: &mut String, scenario: &str, seed: u64, side: &str, o: &Outcome) {
    push_field(rows, scenario);
    let _ = write!(rows, ",{seed},");
    push_field(rows, side);
    let _ = write!(rows, ",{},", o.passed as u8);
    if let Some(k) = o.failure_kind() {
        rows.push_str(k.name());
    }
    rows.push(',');
    if let Some(r) = o.recovery_s {
        let _ = write!(rows, "{r:.3}");
    }
    let _ = writeln!(rows, ",{},{}", o.events, o.digest);
}

impl WhatifAggregate {
    /// Fold one pair: `outcomes[0]` is the baseline's, `outcomes[k + 1]`
    /// candidate `k`'s; `example(k)` is the evidence of candidate `k`'s
    /// pair, asked for only when the pair is discordant and the first of
    /// its direction here.
    fn fold(&mut self, outcomes: &[Outcome], example: &dyn Fn(usize) -> Example) {
        self.n += 1;
        self.events += outcomes.iter().map(|o| o.events).sum::<u64>();
        let base = &outcomes[0];
        self.baseline_passed += u64::from(base.passed);
        for (k, cell) in self.candidates.iter_mut().enumerate() {
            let var = &outcomes[k + 1];
            cell.passed += u64::from(var.passed);
            if let (Some(b), Some(v)) = (base.recovery_s, var.recovery_s) {
                cell.recovery
                    .push((b * 1e9).round() as i128 - (v * 1e9).round() as i128);
            }
            if base.passed == var.passed {
                continue;
            }
            if var.passed {
                cell.prevented += 1;
                if cell.prevented_example.is_none() {
                    cell.prevented_example = Some(example(k));
                }
            } else {
                cell.introduced += 1;
                if cell.introduced_example.is_none() {
                    cell.introduced_example = Some(example(k));
                }
            }
        }
    }
}

/// The report of the cells `cells` (in cell order) of a what-if with
/// parameters `p`: per candidate the sums over its cells, the intervals,
/// the changed scenarios in list order, and the ranking.
pub fn report_of(p: &WhatifShardParams, cells: &[(u32, WhatifAggregate)]) -> WhatifReport {
    let w = &p.whatif.0;
    let pairs: u64 = cells.iter().map(|(_, a)| a.n).sum();
    let baseline_passed: u64 = cells.iter().map(|(_, a)| a.baseline_passed).sum();
    let mut reports: Vec<CandidateReport> = w
        .candidates
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let mut total = CandidateCell::default();
            let mut sketch = SignedSketch::default();
            let mut changed = Vec::new();
            for (cell, a) in cells {
                let Some(cc) = a.candidates.get(k) else {
                    continue;
                };
                total.merge_from(cc);
                cc.recovery.add_to(&mut sketch);
                if cc.prevented + cc.introduced > 0 {
                    changed.push(ScenarioChange {
                        id: w.scenarios.get(*cell as usize).cloned().unwrap_or_default(),
                        prevented: cc.prevented,
                        introduced: cc.introduced,
                        prevented_example: cc.prevented_example.clone(),
                        introduced_example: cc.introduced_example.clone(),
                    });
                }
            }
            let n = pairs.max(1) as f64;
            let d = total.prevented + total.introduced;
            let (plo, phi) = clopper_pearson(total.prevented, d);
            let scale = d as f64 / n;
            CandidateReport {
                label: c.label.clone(),
                rank: 0,
                pairs,
                baseline_passed,
                candidate_passed: total.passed,
                prevented: total.prevented,
                introduced: total.introduced,
                pass_rate_change: (total.prevented as f64 - total.introduced as f64) / n,
                pass_rate_change_low: scale * (2.0 * plo - 1.0),
                pass_rate_change_high: scale * (2.0 * phi - 1.0),
                mcnemar_p: mcnemar_p(total.prevented, total.introduced),
                recovered_pairs: sketch.count(),
                recovery_saved_p50_s: sketch.quantile(0.5),
                recovery_saved_p90_s: sketch.quantile(0.9),
                changed,
            }
        })
        .collect();
    reports.sort_by(|a, b| {
        let net = |r: &CandidateReport| r.prevented as i64 - r.introduced as i64;
        let p50 = |r: &CandidateReport| r.recovery_saved_p50_s.map_or(0.0, |q| q.value);
        net(b)
            .cmp(&net(a))
            .then(p50(b).total_cmp(&p50(a)))
            .then(a.label.cmp(&b.label))
    });
    for (i, r) in reports.iter_mut().enumerate() {
        r.rank = i as u32 + 1;
    }
    WhatifReport {
        scenarios: w.scenarios.clone(),
        seeds: (p.seed, p.seed + p.n),
        difficulty: w.difficulty,
        baseline: w.baseline,
        baseline_passed,
        pairs,
        candidates: reports,
        events: cells.iter().map(|(_, a)| a.events).sum(),
    }
}

/// What the changed safeguards did on one side, and its handle.
fn side(
    o: &Outcome,
    changed: SafeguardSet,
    exec: &Execution,
    files: &FileIds,
    default_set: SafeguardSet,
) -> Side {
    let mut evidence = Vec::new();
    for d in o
        .safeguards_needed
        .iter()
        .filter(|d| changed.contains(d.safeguard))
    {
        evidence.push(format!("{} needed {}", d.safeguard, d.words()));
    }
    for d in o
        .safeguards_firings
        .iter()
        .filter(|d| changed.contains(d.safeguard))
    {
        evidence.push(format!("{} fired {}", d.safeguard, d.words()));
    }
    Side {
        passed: o.passed,
        failure_reason: o.failure_reason.clone(),
        evidence,
        repro: Repro::for_outcome(exec, 0, files.clone(), default_set, o.digest).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_is_exact_and_symmetric() {
        assert_eq!(mcnemar_p(0, 0), 1.0);
        // 5 of 5 discordant one way: 2 * 0.5^5.
        assert!((mcnemar_p(5, 0) - 0.0625).abs() < 1e-12);
        assert_eq!(mcnemar_p(3, 7), mcnemar_p(7, 3));
        assert_eq!(mcnemar_p(4, 4), 1.0);
    }

    #[test]
    fn clopper_pearson_brackets_the_share() {
        let (lo, hi) = clopper_pearson(5, 5);
        assert_eq!(hi, 1.0);
        assert!((lo - 0.478_2).abs() < 1e-3, "{lo}");
        let (lo, hi) = clopper_pearson(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.308_5).abs() < 1e-3, "{hi}");
    }

    #[test]
    fn signed_quantiles_read_losses_ties_and_savings_in_order() {
        let mut diffs = RecoveryDiffs::default();
        for d in [-3_000_000_000i128, -1_000_000_000, 0, 0, 2_000_000_000] {
            diffs.push(d);
        }
        let mut s = SignedSketch::default();
        assert!(diffs.add_to(&mut s));
        assert_eq!(s.count(), 5);
        let at = |r| s.at_rank(r).unwrap() / 1e9;
        assert!(at(1) < at(2) && at(2) < 0.0);
        assert_eq!(at(3), 0.0);
        assert_eq!(at(4), 0.0);
        assert!((at(5) - 2.0).abs() < 2.0 / 16.0);
        assert_eq!(s.quantile(0.5).unwrap().value, 0.0);
    }

    #[test]
    fn order_statistic_ranks_bracket_the_median() {
        // n = 20, median: ranks 6 and 15 (the textbook table).
        assert_eq!(order_statistic_ranks(20, 0.5), (Some(6), Some(15)));
        // Too few values for a 95 % interval on both sides.
        assert_eq!(order_statistic_ranks(3, 0.5), (None, None));
    }
}
