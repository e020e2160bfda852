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

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use statrs::distribution::{Beta, Binomial, ContinuousCDF, DiscreteCDF};

use crate::engine::SimTime;
use crate::error::{Error, Result};
use crate::model::stack::StackSpec;
use crate::record::stats::LogSketch;
use crate::safeguard::SafeguardSet;
use crate::scenario::execution::{Execution, Item};
use crate::scenario::repro::{FileIds, Repro};
use crate::scenario::run::{RunOutputs, run_execution_item};
use crate::scenario::{Catalogue, Outcome, ScenarioSpec};

/// Confidence of every interval of the report.
pub const CONFIDENCE: f64 = 0.95;

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

/// Write [`CANDIDATES_FILE`], [`SCENARIOS_FILE`] and [`REPORT_FILE`] of
/// `report` into `out` as one transaction (checked first: an existing one
/// is replaced only with `force`; on an error none is left).
pub fn write_out(report: &WhatifReport, out: &std::path::Path, force: bool) -> Result<()> {
    let mut tx = crate::shard::prepare_out_dir(
        out,
        &[CANDIDATES_FILE, SCENARIOS_FILE, REPORT_FILE],
        force,
        "--out",
    )?;
    tx.write(CANDIDATES_FILE, &candidates_csv(report))?;
    tx.write(SCENARIOS_FILE, &scenarios_csv(report))?;
    let mut json = serde_json::to_vec(report).expect("the report serializes");
    json.push(b'\n');
    tx.write(REPORT_FILE, &json)?;
    tx.commit()
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
#[derive(Clone, Debug, Serialize)]
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
#[derive(Clone, Debug, Serialize)]
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
    fn push(&mut self, diff_ns: i128) {
        match diff_ns.cmp(&0) {
            std::cmp::Ordering::Greater => self.saved.push(diff_ns as u64),
            std::cmp::Ordering::Less => self.lost.push(diff_ns.unsigned_abs() as u64),
            std::cmp::Ordering::Equal => self.zero += 1,
        }
    }

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

/// Exact two-sided McNemar p-value for `b` and `c` discordant pairs.
fn mcnemar_p(b: u64, c: u64) -> f64 {
    let d = b + c;
    if d == 0 {
        return 1.0;
    }
    let bin = Binomial::new(0.5, d).expect("p = 1/2");
    (2.0 * bin.cdf(b.min(c))).min(1.0)
}

/// Per-candidate accumulation.
#[derive(Default)]
struct Acc {
    pairs: u64,
    candidate_passed: u64,
    prevented: u64,
    introduced: u64,
    saved: SignedSketch,
    per_scenario: Vec<(u64, u64, Option<Example>, Option<Example>)>,
}

/// One (scenario, seed) unit: the baseline and every candidate's outcome.
struct Unit {
    outcomes: Vec<Outcome>,
    events: u64,
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

/// Run the what-if: the baseline (`stack` with `baseline` deployed) and
/// each candidate on every (scenario, seed) of `spec`.
pub fn run_whatif(
    stack: &StackSpec,
    catalogue: &Catalogue,
    files: &FileIds,
    baseline: SafeguardSet,
    candidates: &[Candidate],
    spec: &WhatifSpec,
) -> Result<WhatifReport> {
    if candidates.is_empty() {
        return Err(Error::usage("--candidates", "give at least one candidate"));
    }
    let (from, to) = spec.seeds;
    if to <= from {
        return Err(Error::usage(
            "--seeds",
            format!("FROM:TO needs FROM < TO (got {from}:{to})"),
        ));
    }
    let specs: Vec<&ScenarioSpec> = spec
        .ids
        .iter()
        .map(|id| catalogue.require(id))
        .collect::<Result<_>>()?;
    let seeds = to - from;
    let units = (specs.len() as u64).saturating_mul(seeds);
    if units > PAIRS_MAX {
        return Err(Error::usage(
            "--seeds",
            format!("{units} pairs per candidate is over the limit of {PAIRS_MAX}"),
        ));
    }
    let default_set = stack.default_safeguards();
    let run_one = |u: u64, side: usize| -> Result<Outcome> {
        let (s, seed) = ((u / seeds) as usize, from + u % seeds);
        let sc = specs[s];
        let (st, deployed) = match side {
            0 => (stack, baseline),
            k => {
                let c = &candidates[k - 1];
                (c.stack.as_ref().map_or(stack, |(s, _)| s), c.deployed)
            }
        };
        let exec = execution(seed, spec, &sc.id, deployed);
        run_execution_item(st, &exec, &exec.items[0], sc, 0, RunOutputs::default())
    };
    let mut accs: Vec<Acc> = candidates
        .iter()
        .map(|_| Acc {
            per_scenario: vec![(0, 0, None, None); specs.len()],
            ..Acc::default()
        })
        .collect();
    let mut baseline_passed = 0u64;
    let mut events = 0u64;
    let threads = spec.threads.max(1);
    let block = (threads as u64 * 4).max(1);
    let mut next = 0u64;
    while next < units {
        let end = (next + block).min(units);
        let results = run_block(threads, next, end, candidates.len() + 1, &run_one)?;
        for (u, unit) in (next..end).zip(results) {
            let (s, seed) = ((u / seeds) as usize, from + u % seeds);
            events += unit.events;
            let base = &unit.outcomes[0];
            baseline_passed += u64::from(base.passed);
            for (k, acc) in accs.iter_mut().enumerate() {
                let var = &unit.outcomes[k + 1];
                let c = &candidates[k];
                acc.pairs += 1;
                acc.candidate_passed += u64::from(var.passed);
                if let (Some(b), Some(v)) = (base.recovery_s, var.recovery_s) {
                    let diff = (b * 1e9).round() as i128 - (v * 1e9).round() as i128;
                    acc.saved.push(diff);
                }
                if base.passed == var.passed {
                    continue;
                }
                let changed = c
                    .deployed
                    .union(baseline)
                    .difference(c.deployed.intersection(baseline));
                let example = || Example {
                    seed,
                    baseline: side(
                        base,
                        changed,
                        &execution(seed, spec, &specs[s].id, baseline),
                        files,
                        default_set,
                    ),
                    candidate: side(
                        var,
                        changed,
                        &execution(seed, spec, &specs[s].id, c.deployed),
                        c.stack.as_ref().map_or(files, |(_, f)| f),
                        c.stack
                            .as_ref()
                            .map_or(default_set, |(s, _)| s.default_safeguards()),
                    ),
                };
                let row = &mut acc.per_scenario[s];
                if var.passed {
                    acc.prevented += 1;
                    row.0 += 1;
                    if row.2.is_none() {
                        row.2 = Some(example());
                    }
                } else {
                    acc.introduced += 1;
                    row.1 += 1;
                    if row.3.is_none() {
                        row.3 = Some(example());
                    }
                }
            }
        }
        next = end;
    }
    let mut reports: Vec<CandidateReport> = accs
        .into_iter()
        .zip(candidates)
        .map(|(acc, c)| {
            let n = acc.pairs.max(1) as f64;
            let d = acc.prevented + acc.introduced;
            let (plo, phi) = clopper_pearson(acc.prevented, d);
            let scale = d as f64 / n;
            CandidateReport {
                label: c.label.clone(),
                rank: 0,
                pairs: acc.pairs,
                baseline_passed,
                candidate_passed: acc.candidate_passed,
                prevented: acc.prevented,
                introduced: acc.introduced,
                pass_rate_change: (acc.prevented as f64 - acc.introduced as f64) / n,
                pass_rate_change_low: scale * (2.0 * plo - 1.0),
                pass_rate_change_high: scale * (2.0 * phi - 1.0),
                mcnemar_p: mcnemar_p(acc.prevented, acc.introduced),
                recovered_pairs: acc.saved.count(),
                recovery_saved_p50_s: acc.saved.quantile(0.5),
                recovery_saved_p90_s: acc.saved.quantile(0.9),
                changed: acc
                    .per_scenario
                    .into_iter()
                    .zip(&specs)
                    .filter(|(r, _)| r.0 + r.1 > 0)
                    .map(|(r, sc)| ScenarioChange {
                        id: sc.id.clone(),
                        prevented: r.0,
                        introduced: r.1,
                        prevented_example: r.2,
                        introduced_example: r.3,
                    })
                    .collect(),
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
    Ok(WhatifReport {
        scenarios: spec.ids.clone(),
        seeds: spec.seeds,
        difficulty: spec.difficulty,
        baseline,
        baseline_passed,
        pairs: units,
        candidates: reports,
        events,
    })
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

/// Units `lo..hi` on `threads` workers, results in unit order.
fn run_block(
    threads: usize,
    lo: u64,
    hi: u64,
    sides: usize,
    run_one: &(dyn Fn(u64, usize) -> Result<Outcome> + Sync),
) -> Result<Vec<Unit>> {
    let len = (hi - lo) as usize;
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<Unit>>> = (0..len).map(|_| None).collect();
    let done = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(len) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= len {
                        break;
                    }
                    let u = lo + i as u64;
                    let unit = (0..sides)
                        .map(|k| run_one(u, k))
                        .collect::<Result<Vec<Outcome>>>()
                        .map(|outcomes| Unit {
                            events: outcomes.iter().map(|o| o.events).sum(),
                            outcomes,
                        });
                    done.lock().expect("slots")[i] = Some(unit);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|s| s.expect("every unit ran"))
        .collect()
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
        let mut s = SignedSketch::default();
        for d in [-3_000_000_000i128, -1_000_000_000, 0, 0, 2_000_000_000] {
            s.push(d);
        }
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
