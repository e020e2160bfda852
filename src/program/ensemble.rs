//! Seed ensembles of the programme: the same year run once per seed, one
//! row per seed, and the distribution of each quantity across seeds.
//!
//! Each seed runs [`run_programme_quiet`]: the whole programme in memory,
//! with exactly the state machine of `chaosim year`, so a seed's `digest`
//! equals the digest `chaosim year --seed S` prints for the same days,
//! inputs and initial safeguards, and any row can be expanded into the full
//! year's files.
//!
//! Outputs (in `--out`):
//! - `seeds.csv`: one row per seed, in seed order ([`seeds_header`]);
//! - `summary.csv`: per quantity, n, mean with a Student-t 95 % interval
//!   (clipped to where the quantity can lie: a count is never negative),
//!   min, p10, p25, p50, p75, p90, max ([`ENSEMBLE_SUMMARY_HEADER`]);
//! - `weeks.csv`: per programme week, the pass rate across seeds (mean,
//!   p10, p50, p90) ([`WEEKS_HEADER`]);
//! - `shard.ron`: the sweep metadata with the ensemble's aggregate, so
//!   [`merge`](crate::shard::merge) recombines shards exactly.
//!
//! **Aggregates.** Every quantity of a seed is an integer (scenario counts,
//! the sum of difficulty levels, execution counts, the day a safeguard was
//! first deployed, a week's pass rate in whole percent), folded into an
//! exact sparse count histogram ([`Hist`]). Quantiles are nearest-rank and
//! exact; merging adds counts, so any sharding gives the same bytes. A
//! histogram holds at most one entry per distinct value, so memory is bounded
//! by the value ranges (scenarios, runs, days, 101 pass-rate bins per week),
//! never by the number of seeds.
//!
//! **Order.** Seeds are the experiments of one cell of the ordered engine
//! ([`run_ordered_chunked`]) with chunks of one seed (a year takes seconds),
//! so `seeds.csv` is written in seed order whatever the thread count.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::spec::Programme;
use super::year::{RunObservation, run_programme_quiet};
use crate::error::{Error, Result};
use crate::record::csv::push_field;
use crate::record::outfile::OutDir;
use crate::record::stats::{t_interval, wilson_interval};
use crate::safeguard::{Safeguard, SafeguardSet};
use crate::scenario::Catalogue;
use crate::scenario::Executor;
use crate::shard::{
    Aggregate, N_MAX, SHARD_FILE, SUMMARY_FILE, Shard, ShardFile, ShardKind, ShardOut, Slot,
    THREADS_MAX, Tagged, format1_params, run_ordered_chunked,
};

/// One row per seed.
pub const SEEDS_FILE: &str = "seeds.csv";
/// The pass rate per week across seeds.
pub const WEEKS_FILE: &str = "weeks.csv";
/// The header of an ensemble's `summary.csv`.
pub const ENSEMBLE_SUMMARY_HEADER: &str =
    "quantity,n,mean,ci_low,ci_high,min,p10,p25,p50,p75,p90,max\n";
/// The header of `weeks.csv`.
pub const WEEKS_HEADER: &str =
    "week,seeds,pass_rate_mean,pass_rate_p10,pass_rate_p50,pass_rate_p90\n";
/// Seeds per chunk of work: one (a year takes seconds, so finer chunks
/// balance the threads and bound the rows held in memory).
pub const SEEDS_PER_CHUNK: u64 = 1;
/// Days in a programme week.
pub const DAYS_PER_WEEK: u64 = 7;

/// Parse `FROM:TO` (inclusive) or one seed into `(from, to)`.
pub fn parse_seeds(text: &str) -> Result<(u64, u64)> {
    const FLAG: &str = "--seeds";
    let num = |t: &str| -> Result<u64> {
        t.trim().parse().map_err(|_| {
            Error::usage(
                FLAG,
                format!("'{t}' is not a seed (a non-negative integer)"),
            )
        })
    };
    let (from, to) = match text.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let s = num(text)?;
            (s, s)
        }
    };
    if from > to {
        return Err(Error::usage(
            FLAG,
            format!("'{text}': FROM {from} is above TO {to}"),
        ));
    }
    if to - from >= N_MAX {
        return Err(Error::usage(
            FLAG,
            format!("'{text}' has more than {N_MAX} seeds"),
        ));
    }
    Ok((from, to))
}

/// An exact, sparse count histogram of `u64` values: exactly mergeable,
/// one entry per distinct value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hist(BTreeMap<u64, u64>);

impl Hist {
    /// Add one value.
    pub fn push(&mut self, x: u64) {
        *self.0.entry(x).or_insert(0) += 1;
    }

    /// Fold in another histogram (exact).
    pub fn merge(&mut self, other: &Hist) {
        for (&v, &c) in &other.0 {
            *self.0.entry(v).or_insert(0) += c;
        }
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// `(value, count)` in value order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0.iter().map(|(&v, &c)| (v, c))
    }

    /// Mean and standard deviation (sample, n − 1), from exact integer sums.
    pub fn moments(&self) -> (f64, f64) {
        let (mut n, mut s, mut s2) = (0u128, 0u128, 0u128);
        for (v, c) in self.iter() {
            n += c as u128;
            s += v as u128 * c as u128;
            s2 += v as u128 * v as u128 * c as u128;
        }
        if n == 0 {
            return (0.0, 0.0);
        }
        let mean = s as f64 / n as f64;
        if n < 2 {
            return (mean, 0.0);
        }
        // n·s2 − s² is exact in integers (non-negative).
        let num = (n * s2).saturating_sub(s * s);
        let var = num as f64 / (n as f64 * (n - 1) as f64);
        (mean, var.sqrt())
    }

    /// The nearest-rank quantile `num / den`: the value of rank
    /// `ceil(num·n/den)` (at least 1); `None` when empty.
    pub fn quantile(&self, num: u64, den: u64) -> Option<u64> {
        let n = self.count();
        if n == 0 || den == 0 {
            return None;
        }
        let rank = ((num as u128 * n as u128).div_ceil(den as u128)).max(1) as u64;
        let mut seen = 0;
        for (v, c) in self.iter() {
            seen += c;
            if seen >= rank {
                return Some(v);
            }
        }
        self.0.keys().next_back().copied()
    }
}

/// The ensemble parameters recorded in `shard.ron` (besides the seeds,
/// which are [`EnsembleShardParams::seed`] = FROM and
/// [`EnsembleShardParams::n`] = count).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleParams {
    /// Runs per seed (days × slots, or years × runs per year).
    pub runs_total: u64,
    /// Runs per day (the programme's slots).
    pub runs_per_day: u64,
    /// Scenarios in the catalogue (the divisor of the average difficulty).
    pub scenarios: u32,
    /// Safeguards deployed at the start, comma-separated.
    pub initial_deployed: String,
    /// The safeguards with a deployment column, in catalogue order (every
    /// safeguard not deployed at the start).
    pub tracked: Vec<String>,
    /// Hash of the programme, catalogue and stack, 16 hex digits.
    pub inputs_fingerprint: String,
}

impl EnsembleParams {
    /// Days per seed (the last one may be partial).
    pub fn days(&self) -> u64 {
        self.runs_total.div_ceil(self.runs_per_day.max(1))
    }

    /// Programme weeks per seed (the last one may be partial).
    pub fn weeks(&self) -> u64 {
        self.days().div_ceil(DAYS_PER_WEEK)
    }
}

/// The header of `seeds.csv` for these parameters: `seed, mastered,
/// still_failing, average_difficulty, executions, failures`, one
/// `deployed_run:NAME` per tracked safeguard (the run at whose start its fix
/// was deployed, empty if never), `digest`.
pub fn seeds_header(p: &EnsembleParams) -> String {
    let mut h = String::from("seed,mastered,still_failing,average_difficulty,executions,failures");
    for name in &p.tracked {
        h.push_str(",deployed_run:");
        h.push_str(name);
    }
    h.push_str(",digest\n");
    h
}

/// What an ensemble runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnsembleSpec {
    /// First seed.
    pub seed_from: u64,
    /// Last seed (inclusive).
    pub seed_to: u64,
    /// Runs per seed.
    pub runs_total: u64,
    /// Safeguards deployed at the start.
    pub initial_deployed: SafeguardSet,
    /// Hash of the programme, catalogue and stack.
    pub inputs_fingerprint: u64,
}

impl EnsembleSpec {
    /// The parameters recorded in `shard.ron`.
    pub fn params(&self, prog: &Programme, cat: &Catalogue) -> EnsembleShardParams {
        let tracked = SafeguardSet::all()
            .difference(self.initial_deployed)
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        EnsembleShardParams {
            seed: self.seed_from,
            n: self.seed_to - self.seed_from + 1,
            rates_ppm: Vec::new(),
            variants: Vec::new(),
            model_fingerprint: format!("{:016x}", self.inputs_fingerprint),
            ensemble: Tagged(EnsembleParams {
                runs_total: self.runs_total,
                runs_per_day: prog.slots.len() as u64,
                scenarios: cat.len() as u32,
                initial_deployed: self.initial_deployed.join(","),
                tracked,
                inputs_fingerprint: format!("{:016x}", self.inputs_fingerprint),
            }),
        }
    }
}

/// What one seed's year gave (the content of its `seeds.csv` row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// Scenarios mastered at the end.
    pub mastered: u64,
    /// Scenarios whose last execution failed.
    pub still_failing: u64,
    /// Sum of the difficulty levels over the catalogue.
    pub difficulty_sum: u64,
    /// Scenario executions.
    pub executions: u64,
    /// Failed executions.
    pub failures: u64,
    /// Per tracked safeguard, the run at whose start it was first deployed.
    pub deployed_run: Vec<Option<u64>>,
    /// Per week: (passed, executed).
    pub weeks: Vec<(u64, u64)>,
    /// The year's digest, 16 hex digits.
    pub digest: String,
    /// Simulation events.
    pub events: u64,
}

/// Run one seed's programme in memory.
pub fn run_seed(
    seed: u64,
    p: &EnsembleParams,
    initial_deployed: SafeguardSet,
    prog: &Programme,
    cat: &Catalogue,
    executor: &dyn Executor,
) -> Result<SeedResult> {
    let tracked: Vec<Safeguard> = p
        .tracked
        .iter()
        .map(|n| {
            Safeguard::from_name(n).ok_or_else(|| Error::Check(format!("unknown safeguard {n}")))
        })
        .collect::<Result<_>>()?;
    let mut deployed_run = vec![None; tracked.len()];
    let mut weeks = vec![(0u64, 0u64); p.weeks() as usize];
    let s = run_programme_quiet(
        seed,
        p.runs_total,
        initial_deployed,
        prog,
        cat,
        executor,
        &mut |o: &RunObservation| {
            let w = &mut weeks[(o.day / DAYS_PER_WEEK) as usize];
            w.0 += o.passed;
            w.1 += o.passed + o.failed;
            for sg in o.newly_deployed.iter() {
                if let Some(i) = tracked.iter().position(|&t| t == sg) {
                    deployed_run[i].get_or_insert(o.run);
                }
            }
        },
    )?;
    let difficulty_sum = (s.average_difficulty * cat.len() as f64).round() as u64;
    Ok(SeedResult {
        seed,
        mastered: s.mastered as u64,
        still_failing: s.still_failing as u64,
        difficulty_sum,
        executions: s.totals.executions,
        failures: s.totals.failures,
        deployed_run,
        weeks,
        digest: s.digest.to_string(),
        events: s.totals.events,
    })
}

fn avg_difficulty(sum: u64, scenarios: u32) -> f64 {
    if scenarios == 0 {
        0.0
    } else {
        sum as f64 / scenarios as f64
    }
}

/// Format one `seeds.csv` row.
pub fn push_seed_row(line: &mut String, r: &SeedResult, p: &EnsembleParams) {
    let _ = write!(
        line,
        "{},{},{},{:.4},{},{}",
        r.seed,
        r.mastered,
        r.still_failing,
        avg_difficulty(r.difficulty_sum, p.scenarios),
        r.executions,
        r.failures
    );
    for d in &r.deployed_run {
        line.push(',');
        if let Some(run) = d {
            let _ = write!(line, "{run}");
        }
    }
    let _ = writeln!(line, ",{}", r.digest);
}

/// The aggregate of a set of seeds: exact histograms, merges exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleAggregate {
    /// Seeds.
    pub n: u64,
    /// Scenarios mastered at the end.
    pub mastered: Hist,
    /// Scenarios still failing at the end.
    pub still_failing: Hist,
    /// Sum of difficulty levels over the catalogue.
    pub difficulty_sum: Hist,
    /// Executions.
    pub executions: Hist,
    /// Failed executions.
    pub failures: Hist,
    /// Safeguards deployed by the programme, per seed.
    pub safeguards_deployed: Hist,
    /// Per tracked safeguard: the day of its first deployment (seeds that
    /// never deployed it are not counted).
    pub deployed_day: Vec<Hist>,
    /// Per week: the pass rate of each seed that executed something that
    /// week, in whole percent (rounded half up).
    pub week_pass_pct: Vec<Hist>,
}

impl Aggregate for EnsembleAggregate {
    fn merge_from(&mut self, other: &Self) {
        self.merge(other);
    }
}

impl EnsembleAggregate {
    /// Fold in one seed.
    pub fn push(&mut self, r: &SeedResult, p: &EnsembleParams) {
        self.n += 1;
        self.mastered.push(r.mastered);
        self.still_failing.push(r.still_failing);
        self.difficulty_sum.push(r.difficulty_sum);
        self.executions.push(r.executions);
        self.failures.push(r.failures);
        self.safeguards_deployed
            .push(r.deployed_run.iter().filter(|d| d.is_some()).count() as u64);
        self.deployed_day
            .resize(r.deployed_run.len(), Hist::default());
        for (h, d) in self.deployed_day.iter_mut().zip(&r.deployed_run) {
            if let Some(run) = d {
                h.push(run / p.runs_per_day.max(1));
            }
        }
        self.week_pass_pct.resize(r.weeks.len(), Hist::default());
        for (h, &(passed, executed)) in self.week_pass_pct.iter_mut().zip(&r.weeks) {
            if let Some(pct) = (passed * 100 + executed / 2).checked_div(executed) {
                h.push(pct);
            }
        }
    }

    /// Fold in another aggregate (exact).
    pub fn merge(&mut self, o: &EnsembleAggregate) {
        self.n += o.n;
        self.mastered.merge(&o.mastered);
        self.still_failing.merge(&o.still_failing);
        self.difficulty_sum.merge(&o.difficulty_sum);
        self.executions.merge(&o.executions);
        self.failures.merge(&o.failures);
        self.safeguards_deployed.merge(&o.safeguards_deployed);
        for (dst, src) in [
            (&mut self.deployed_day, &o.deployed_day),
            (&mut self.week_pass_pct, &o.week_pass_pct),
        ] {
            if dst.len() < src.len() {
                dst.resize(src.len(), Hist::default());
            }
            for (a, b) in dst.iter_mut().zip(src) {
                a.merge(b);
            }
        }
    }

    /// Check an aggregate read from `path` against the parameters.
    pub fn check(&self, p: &EnsembleParams, path: &Path) -> Result<()> {
        let bad = |field: &str, message: &str| Error::Invalid {
            path: path.to_path_buf(),
            field: format!("ensemble.{field}"),
            message: message.into(),
        };
        for (name, h) in [
            ("mastered", &self.mastered),
            ("still_failing", &self.still_failing),
            ("difficulty_sum", &self.difficulty_sum),
            ("executions", &self.executions),
            ("failures", &self.failures),
            ("safeguards_deployed", &self.safeguards_deployed),
        ] {
            if h.count() != self.n {
                return Err(bad(name, "counts disagree with n (corrupted file?)"));
            }
        }
        if self.n > 0 && self.deployed_day.len() != p.tracked.len() {
            return Err(bad("deployed_day", "one histogram per tracked safeguard"));
        }
        if self.n > 0 && self.week_pass_pct.len() as u64 != p.weeks() {
            return Err(bad("week_pass_pct", "one histogram per week"));
        }
        if self
            .deployed_day
            .iter()
            .chain(&self.week_pass_pct)
            .any(|h| h.count() > self.n)
        {
            return Err(bad("deployed_day", "more values than seeds"));
        }
        Ok(())
    }
}

fn fmt6(x: f64) -> String {
    format!("{x:.6}")
}

/// One `summary.csv` row: `scale` divides the integer values (the
/// difficulty sum by the number of scenarios).
/// One quantity's row. `range` is where the quantity can lie (in its
/// scaled unit: a count is never negative, mastered scenarios never exceed
/// the catalogue); the Student-t interval of its mean is clipped to it, as
/// the mean cannot lie outside (two seeds of 0 and 1 give [0, 1.378], not
/// [-0.378, 1.378]).
fn dist_row(name: &str, h: &Hist, scale: f64, range: (f64, f64)) -> String {
    let (mean, sd) = h.moments();
    let n = h.count();
    let ci = t_interval(mean, sd, n, 0.95);
    let ci = crate::record::stats::Interval {
        low: ci.low.max(range.0 * scale),
        high: ci.high.min(range.1 * scale),
    };
    let q = |num| {
        h.quantile(num, 100)
            .map(|v| fmt6(v as f64 / scale))
            .unwrap_or_default()
    };
    let mut fields = vec![name.to_string(), n.to_string()];
    if n == 0 {
        fields.extend(std::iter::repeat_n(String::new(), 10));
    } else {
        fields.extend([
            fmt6(mean / scale),
            fmt6(ci.low / scale),
            fmt6(ci.high / scale),
            q(0),
            q(10),
            q(25),
            q(50),
            q(75),
            q(90),
            q(100),
        ]);
    }
    csv_line(&fields)
}

fn csv_line(fields: &[String]) -> String {
    let mut line = String::new();
    for (i, x) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_field(&mut line, x);
    }
    line.push('\n');
    line
}

/// The rows of `summary.csv` (after [`ENSEMBLE_SUMMARY_HEADER`]): the
/// distributions of mastered, still_failing, average_difficulty,
/// executions, failures and safeguards_deployed across seeds; per tracked
/// safeguard `deployed_share:NAME` (share of seeds that deployed it, Wilson
/// 95 % interval, no quantiles) and `deployed_day:NAME` (the day of its
/// first deployment over the seeds that deployed it).
pub fn summary_rows(a: &EnsembleAggregate, p: &EnsembleParams) -> String {
    let mut out = String::new();
    let count = (0.0, f64::INFINITY);
    let scenarios = (0.0, p.scenarios as f64);
    out.push_str(&dist_row("mastered", &a.mastered, 1.0, scenarios));
    out.push_str(&dist_row("still_failing", &a.still_failing, 1.0, scenarios));
    out.push_str(&dist_row(
        "average_difficulty",
        &a.difficulty_sum,
        p.scenarios.max(1) as f64,
        (
            crate::fault::difficulty::LEVEL_MIN as f64,
            crate::fault::difficulty::LEVEL_MAX as f64,
        ),
    ));
    out.push_str(&dist_row("executions", &a.executions, 1.0, count));
    out.push_str(&dist_row("failures", &a.failures, 1.0, count));
    out.push_str(&dist_row(
        "safeguards_deployed",
        &a.safeguards_deployed,
        1.0,
        count,
    ));
    let days = (0.0, p.days().saturating_sub(1) as f64);
    let empty = Hist::default();
    for (i, name) in p.tracked.iter().enumerate() {
        let h = a.deployed_day.get(i).unwrap_or(&empty);
        let k = h.count();
        let ci = wilson_interval(k, a.n, 0.95);
        let share = if a.n == 0 { 0.0 } else { k as f64 / a.n as f64 };
        let mut fields = vec![
            format!("deployed_share:{name}"),
            a.n.to_string(),
            fmt6(share),
            fmt6(ci.low),
            fmt6(ci.high),
        ];
        fields.extend(std::iter::repeat_n(String::new(), 7));
        out.push_str(&csv_line(&fields));
        out.push_str(&dist_row(&format!("deployed_day:{name}"), h, 1.0, days));
    }
    out
}

/// The rows of `weeks.csv` (after [`WEEKS_HEADER`]): one per week, pass rate
/// in 0..=1 (from whole percents).
pub fn week_rows(a: &EnsembleAggregate, p: &EnsembleParams) -> String {
    let mut out = String::new();
    let empty = Hist::default();
    for w in 0..p.weeks() {
        let h = a.week_pass_pct.get(w as usize).unwrap_or(&empty);
        let n = h.count();
        let q = |num| {
            h.quantile(num, 100)
                .map(|v| fmt6(v as f64 / 100.0))
                .unwrap_or_default()
        };
        let mean = if n == 0 {
            String::new()
        } else {
            fmt6(h.moments().0 / 100.0)
        };
        let _ = writeln!(out, "{w},{n},{mean},{},{},{}", q(10), q(50), q(90));
    }
    out
}

fn write_tables(tx: &mut OutDir, a: &EnsembleAggregate, p: &EnsembleParams) -> Result<()> {
    let mut sink = tx.sink(SUMMARY_FILE)?;
    sink.write_raw(ENSEMBLE_SUMMARY_HEADER.as_bytes())?;
    sink.write_raw(summary_rows(a, p).as_bytes())?;
    sink.finish()?;
    let mut sink = tx.sink(WEEKS_FILE)?;
    sink.write_raw(WEEKS_HEADER.as_bytes())?;
    sink.write_raw(week_rows(a, p).as_bytes())?;
    sink.finish()?;
    Ok(())
}

/// How to run an ensemble.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnsembleOptions {
    /// Worker threads (seeds run in parallel), 1..=1024.
    pub threads: usize,
    /// Which slice of the seeds to run.
    pub shard: Shard,
    /// Output directory.
    pub out: PathBuf,
    /// Overwrite a complete output directory.
    pub force: bool,
}

/// What an ensemble produced.
#[derive(Clone, Debug, PartialEq)]
pub struct EnsembleReport {
    /// Seeds run.
    pub seeds: u64,
    /// Simulation events, summed.
    pub events: u64,
    /// The aggregate of this shard's seeds.
    pub aggregate: EnsembleAggregate,
}

/// Run an ensemble (or one shard of its seeds) and write `seeds.csv`,
/// `summary.csv`, `weeks.csv` and `shard.ron` into `opts.out`.
/// `executor` runs the scenarios of each run (give it one thread: the seeds
/// are the parallelism). `on_seed` is called by the workers as seeds finish,
/// in any order (for progress only; the files are written in seed order).
pub fn run_ensemble(
    spec: &EnsembleSpec,
    prog: &Programme,
    cat: &Catalogue,
    executor: &(dyn Executor + Sync),
    opts: &EnsembleOptions,
    on_seed: &(dyn Fn(&SeedResult) + Sync),
) -> Result<EnsembleReport> {
    if spec.seed_from > spec.seed_to || spec.seed_to - spec.seed_from >= N_MAX {
        return Err(Error::usage(
            "--seeds",
            "need FROM <= TO and at most 10^12 seeds",
        ));
    }
    if spec.runs_total == 0 {
        return Err(Error::usage("--days", "the programme has no run"));
    }
    if !(1..=THREADS_MAX).contains(&opts.threads) {
        return Err(Error::usage(
            "--threads",
            format!("{} is outside 1..={THREADS_MAX}", opts.threads),
        ));
    }
    let params = spec.params(prog, cat);
    let p = params.ensemble.0.clone();
    let mut files = ShardOut::<Ensemble>::open(&params, opts.shard, Some(&opts.out), opts.force)?;
    let range = files.range();
    let run =
        |_cell: u64, lo: u64, hi: u64, rows: &mut String| -> Result<(EnsembleAggregate, u64)> {
            let mut agg = EnsembleAggregate::default();
            let mut events = 0;
            for e in lo..hi {
                let r = run_seed(
                    spec.seed_from + e,
                    &p,
                    spec.initial_deployed,
                    prog,
                    cat,
                    executor,
                )?;
                events += r.events;
                agg.push(&r, &p);
                push_seed_row(rows, &r, &p);
                on_seed(&r);
            }
            Ok((agg, events))
        };
    let mut agg = EnsembleAggregate::default();
    let events = run_ordered_chunked(
        opts.threads,
        params.n,
        range,
        SEEDS_PER_CHUNK,
        files.sink(),
        &run,
        &mut |_, a| agg.merge(&a),
    )?;
    files.finish(&[(0, agg.clone())])?;
    Ok(EnsembleReport {
        seeds: range.1 - range.0,
        events,
        aggregate: agg,
    })
}

format1_params! {
    /// The parameters every shard of one ensemble shares, as recorded in
    /// `shard.ron` (format 1: `seed` is the first seed, `n` the number of
    /// seeds, `rates_ppm` and `variants` are empty, `model_fingerprint` the
    /// inputs fingerprint, 16 hex digits).
    pub struct EnsembleShardParams {
        /// The ensemble.
        pub ensemble: EnsembleParams,
    }
}

/// The seed ensemble as a batch kind: one cell, the seeds its items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ensemble;

impl ShardKind for Ensemble {
    const TAG: &'static str = "ensemble";
    const SLOT: Slot = Slot::Ensemble;
    type Params = EnsembleShardParams;
    type Record = EnsembleAggregate;
    type Aggregate = EnsembleAggregate;

    fn cells(_: &EnsembleShardParams) -> u64 {
        1
    }
    fn rows_file(_: &EnsembleShardParams) -> &'static str {
        SEEDS_FILE
    }
    fn rows_header(p: &EnsembleShardParams) -> String {
        seeds_header(&p.ensemble.0)
    }
    fn files(_: &EnsembleShardParams) -> Vec<&'static str> {
        vec![SEEDS_FILE, SUMMARY_FILE, WEEKS_FILE, SHARD_FILE]
    }
    fn difference(a: &EnsembleShardParams, b: &EnsembleShardParams) -> Option<String> {
        let (ea, eb) = (&a.ensemble.0, &b.ensemble.0);
        let seeds =
            |p: &EnsembleShardParams| format!("{}:{}", p.seed, p.seed + p.n.saturating_sub(1));
        if a.seed != b.seed || a.n != b.n {
            return Some(format!("seeds ({} vs {})", seeds(b), seeds(a)));
        }
        if ea.runs_total != eb.runs_total || ea.runs_per_day != eb.runs_per_day {
            return Some(format!(
                "programme length ({} vs {} runs)",
                eb.runs_total, ea.runs_total
            ));
        }
        if ea.initial_deployed != eb.initial_deployed || ea.tracked != eb.tracked {
            return Some("initial safeguards".into());
        }
        if ea.inputs_fingerprint != eb.inputs_fingerprint
            || ea.scenarios != eb.scenarios
            || a.model_fingerprint != b.model_fingerprint
        {
            return Some("programme, scenarios or stack (inputs fingerprint)".into());
        }
        None
    }
    fn to_record(_: u32, a: &EnsembleAggregate) -> EnsembleAggregate {
        a.clone()
    }
    fn check_records(m: &ShardFile<Self>, path: &Path) -> Result<()> {
        if m.cells.is_empty() {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                field: "ensemble".into(),
                message: "missing: not an ensemble shard".into(),
            });
        }
        Ok(())
    }
    fn from_record(
        p: &EnsembleShardParams,
        m: &ShardFile<Self>,
        a: &EnsembleAggregate,
        path: &Path,
    ) -> Result<(u32, EnsembleAggregate)> {
        a.check(&p.ensemble.0, path)?;
        if a.n != m.range_end - m.range_start {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                field: "ensemble.n".into(),
                message: format!(
                    "{} seeds aggregated, range holds {}",
                    a.n,
                    m.range_end - m.range_start
                ),
            });
        }
        Ok((0, a.clone()))
    }
    fn write_tables(
        tx: &mut OutDir,
        p: &EnsembleShardParams,
        cells: &[(u32, EnsembleAggregate)],
    ) -> Result<()> {
        let empty = EnsembleAggregate::default();
        let agg = cells.first().map_or(&empty, |(_, a)| a);
        write_tables(tx, agg, &p.ensemble.0)
    }
    fn items(a: &EnsembleAggregate) -> u64 {
        a.n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse() {
        assert_eq!(parse_seeds("0:199").unwrap(), (0, 199));
        assert_eq!(parse_seeds("7").unwrap(), (7, 7));
        for bad in ["5:4", "a:3", "1:2:3", "-1:3", ""] {
            assert!(parse_seeds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hist_quantiles_are_nearest_rank_and_merge_exactly() {
        let mut a = Hist::default();
        let mut b = Hist::default();
        let mut all = Hist::default();
        for x in 1..=10u64 {
            if x % 3 == 0 { &mut a } else { &mut b }.push(x);
            all.push(x);
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(all.quantile(10, 100), Some(1));
        assert_eq!(all.quantile(50, 100), Some(5));
        assert_eq!(all.quantile(90, 100), Some(9));
        assert_eq!(all.quantile(100, 100), Some(10));
        assert_eq!(all.quantile(0, 100), Some(1));
        let (mean, sd) = all.moments();
        assert!((mean - 5.5).abs() < 1e-12);
        assert!((sd - 3.0276503540974917).abs() < 1e-9);
        assert_eq!(Hist::default().quantile(50, 100), None);
    }
}
