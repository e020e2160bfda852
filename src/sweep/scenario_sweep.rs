//! Sweeps over the stack model: one numeric parameter of a catalogue
//! scenario varied over a grid of values, `n` seeded executions per value.
//!
//! Each experiment is one [`Execution`] of one item (the modified scenario,
//! at the given difficulty and safeguards, day 0 12:00 like `chaosim run`)
//! run by [`Runner`]; its root seed is [`scenario_experiment_seed`]`(seed,
//! value index, experiment)`. The modified [`ScenarioSpec`] is a clone of the
//! catalogue's with one field changed ([`apply`]).
//!
//! Parameters ([`Param`]):
//! - `intensity`: every fault's intensity, 0..=1 (resolution 0.001);
//! - `fault[i].intensity`: fault `i`'s intensity, 0..=1 (resolution 0.001);
//! - `fault[i].length_s`, `fault[i].start_s`: 0..=86400 s;
//! - `recovery_limit_s`: more than 0 to 86400 s.
//!
//! Values are kept in millionths (`value_micro`) so the grid is exact.
//!
//! Cells are the values; the experiments are numbered `value_index · n +
//! experiment`, and the ordered engine, shards and merge are those of the
//! API sweeps ([`run_ordered_chunked`], [`merge`](super::merge::merge)), so the same
//! guarantees hold: `experiments.csv` in index order whatever the thread
//! count, summaries from exactly mergeable aggregates, merged shards
//! byte-identical to one run.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::merge::{EXPERIMENTS_FILE, SUMMARY_FILE};
use super::runner::{RATES_MAX, SweepOptions, format_millionths, parse_millionths};
use crate::engine::rng::RngDraws as _;
use crate::engine::{SeedPath, SimTime};
use crate::error::{Error, Result};
use crate::model::stack::StackSpec;
use crate::record::csv::push_field;
use crate::record::outfile::OutDir;
use crate::record::stats::{IntMoments, Interval, LogSketch, wilson_interval};
use crate::safeguard::SafeguardSet;
use crate::scenario::run::Runner;
use crate::scenario::spec::SCENARIO_SECONDS_MAX;
use crate::scenario::{Catalogue, Execution, Executor, Item, Outcome, ScenarioSpec};
use crate::shard::{
    Aggregate, HeadParams, N_MAX, SCENARIO_CHUNK, SHARD_FILE, ShardFile, ShardKind, ShardOut, Slot,
    THREADS_MAX, Tagged, format1_params, run_ordered_chunked,
};

/// The header of `experiments.csv` of a scenario sweep.
pub const SCENARIO_EXPERIMENTS_HEADER: &str =
    "value,experiment,seed,passed,recovery_s,failure_kind,anomalies,events,digest\n";
/// The header of `summary.csv` of a scenario sweep.
pub const SCENARIO_SUMMARY_HEADER: &str = "value,n,passes,pass_rate,ci_low,ci_high,recovered,recovery_p50_s,recovery_p90_s,recovery_p99_s,anomalies_mean,events_mean,fail_recovery_exceeded,fail_not_recovered,fail_safeguard_missing,fail_safeguard_silent,fail_anomalies,fail_not_steady_before\n";

const MICRO: u64 = 1_000_000;
const SECONDS_MAX_MICRO: u64 = SCENARIO_SECONDS_MAX as u64 * MICRO;

/// The scenario parameter a sweep varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// Every fault's intensity, 0..=1.
    Intensity,
    /// One fault's intensity, 0..=1.
    FaultIntensity(usize),
    /// One fault's length, seconds.
    FaultLengthS(usize),
    /// One fault's start, seconds after the scenario start.
    FaultStartS(usize),
    /// The recovery limit, seconds.
    RecoveryLimitS,
}

/// The accepted parameter names, for error messages.
pub const PARAM_NAMES: &str =
    "intensity, fault[i].intensity, fault[i].length_s, fault[i].start_s, recovery_limit_s";

impl Param {
    /// Parse a name (`intensity`, `fault[0].length_s`, ...) against the
    /// scenario (fault indices must exist).
    pub fn parse(name: &str, spec: &ScenarioSpec) -> Result<Param> {
        const FLAG: &str = "--param";
        match name {
            "intensity" => return Ok(Param::Intensity),
            "recovery_limit_s" => return Ok(Param::RecoveryLimitS),
            _ => {}
        }
        let unknown = || {
            Error::usage(
                FLAG,
                format!("unknown parameter '{name}' (allowed: {PARAM_NAMES})"),
            )
        };
        let rest = name.strip_prefix("fault[").ok_or_else(unknown)?;
        let (idx, field) = rest.split_once("].").ok_or_else(unknown)?;
        let i: usize = idx.parse().map_err(|_| unknown())?;
        if i >= spec.faults.len() {
            return Err(Error::usage(
                FLAG,
                format!(
                    "'{name}': {} has {} fault(s) (allowed: fault[0] to fault[{}])",
                    spec.id,
                    spec.faults.len(),
                    spec.faults.len() - 1
                ),
            ));
        }
        match field {
            "intensity" => Ok(Param::FaultIntensity(i)),
            "length_s" => Ok(Param::FaultLengthS(i)),
            "start_s" => Ok(Param::FaultStartS(i)),
            _ => Err(unknown()),
        }
    }

    /// The canonical name.
    pub fn name(self) -> String {
        match self {
            Param::Intensity => "intensity".into(),
            Param::FaultIntensity(i) => format!("fault[{i}].intensity"),
            Param::FaultLengthS(i) => format!("fault[{i}].length_s"),
            Param::FaultStartS(i) => format!("fault[{i}].start_s"),
            Param::RecoveryLimitS => "recovery_limit_s".into(),
        }
    }

    /// Check one value (millionths) against the parameter's range.
    pub fn check(self, value_micro: u64) -> Result<()> {
        const FLAG: &str = "--values";
        let v = format_value(value_micro);
        match self {
            Param::Intensity | Param::FaultIntensity(_) => {
                if value_micro > MICRO {
                    return Err(Error::usage(
                        FLAG,
                        format!("{} = {v} is out of range (allowed: 0 to 1)", self.name()),
                    ));
                }
                if !value_micro.is_multiple_of(1000) {
                    return Err(Error::usage(
                        FLAG,
                        format!("{} = {v}: intensity resolution is 0.001", self.name()),
                    ));
                }
            }
            Param::FaultLengthS(_) | Param::FaultStartS(_) | Param::RecoveryLimitS => {
                let zero_ok = self != Param::RecoveryLimitS;
                if value_micro > SECONDS_MAX_MICRO || (!zero_ok && value_micro == 0) {
                    let lo = if zero_ok { "0" } else { "more than 0" };
                    return Err(Error::usage(
                        FLAG,
                        format!(
                            "{} = {v} is out of range (allowed: {lo} to {SCENARIO_SECONDS_MAX} s)",
                            self.name()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Parse a non-negative decimal with at most six decimals into millionths.
pub fn parse_value(text: &str, flag: &str) -> Result<u64> {
    parse_millionths(text, flag, SCENARIO_SECONDS_MAX, "")
}

/// Format millionths as a decimal (`1500000` → `1.5`).
pub fn format_value(micro: u64) -> String {
    format_millionths(micro)
}

/// Parse `FROM:TO:STEP` (inclusive of TO; a single number is one value) and
/// check every value against `param`.
pub fn parse_values(text: &str, param: Param) -> Result<Vec<u64>> {
    const FLAG: &str = "--values";
    let parts: Vec<&str> = text.split(':').collect();
    let values = match parts.as_slice() {
        [one] => vec![parse_value(one, FLAG)?],
        [a, b, c] => {
            let (from, to, step) = (
                parse_value(a, FLAG)?,
                parse_value(b, FLAG)?,
                parse_value(c, FLAG)?,
            );
            if from > to {
                return Err(Error::usage(FLAG, format!("'{text}': FROM is above TO")));
            }
            if step == 0 {
                return Err(Error::usage(
                    FLAG,
                    format!("'{text}': STEP must be more than 0"),
                ));
            }
            let count = (to - from) / step + 1;
            if count > RATES_MAX as u64 {
                return Err(Error::usage(
                    FLAG,
                    format!("'{text}' gives {count} values (at most {RATES_MAX})"),
                ));
            }
            (0..count).map(|k| from + k * step).collect()
        }
        _ => {
            return Err(Error::usage(
                FLAG,
                format!("'{text}' is not FROM:TO:STEP (e.g. 0.2:1:0.2)"),
            ));
        }
    };
    for &v in &values {
        param.check(v)?;
    }
    Ok(values)
}

/// The scenario with `param` set to `value_micro` (checked).
pub fn apply(spec: &ScenarioSpec, param: Param, value_micro: u64) -> Result<ScenarioSpec> {
    param.check(value_micro)?;
    let mut s = spec.clone();
    let ns = value_micro * 1000;
    let permille = (value_micro / 1000) as u16;
    let fault = |s: &mut ScenarioSpec, i: usize| -> Result<usize> {
        if i < s.faults.len() {
            Ok(i)
        } else {
            Err(Error::usage(
                "--param",
                format!("{} has no fault[{i}]", s.id),
            ))
        }
    };
    match param {
        Param::Intensity => s
            .faults
            .iter_mut()
            .for_each(|f| f.intensity_permille = permille),
        Param::FaultIntensity(i) => {
            let i = fault(&mut s, i)?;
            s.faults[i].intensity_permille = permille;
        }
        Param::FaultLengthS(i) => {
            let i = fault(&mut s, i)?;
            s.faults[i].length_ns = ns;
        }
        Param::FaultStartS(i) => {
            let i = fault(&mut s, i)?;
            s.faults[i].start_ns = ns;
        }
        Param::RecoveryLimitS => s.recovery_limit_ns = ns,
    }
    Ok(s)
}

/// The root seed of experiment `experiment` at value index `value_index`.
pub fn scenario_experiment_seed(seed: u64, value_index: u64, experiment: u64) -> u64 {
    SeedPath::root(seed)
        .child("scenario_sweep")
        .child_u64(value_index)
        .child_u64(experiment)
        .rng()
        .draw_u64()
}

/// What to sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioSweepSpec {
    /// Catalogue scenario id.
    pub scenario: String,
    /// The parameter varied.
    pub param: Param,
    /// Its values, millionths (from [`parse_values`]).
    pub values_micro: Vec<u64>,
    /// Experiments (seeds) per value, 1..=10^12.
    pub n: u64,
    /// Root seed.
    pub seed: u64,
    /// Difficulty level 1..=10.
    pub difficulty: u8,
    /// Safeguards deployed.
    pub deployed: SafeguardSet,
}

impl ScenarioSweepSpec {
    /// Check the spec against the scenario (flags named as on the command line).
    pub fn validate(&self, spec: &ScenarioSpec) -> Result<()> {
        if !(1..=N_MAX).contains(&self.n) {
            return Err(Error::usage(
                "--n",
                format!("{} is outside 1..={N_MAX}", self.n),
            ));
        }
        if !(1..=10).contains(&self.difficulty) {
            return Err(Error::usage(
                "--difficulty",
                format!("{} is out of range (allowed: 1 to 10)", self.difficulty),
            ));
        }
        if self.values_micro.is_empty() || self.values_micro.len() > RATES_MAX {
            return Err(Error::usage(
                "--values",
                format!("need 1..={RATES_MAX} values"),
            ));
        }
        // Re-parse the name against this scenario (fault index in range).
        Param::parse(&self.param.name(), spec)?;
        for &v in &self.values_micro {
            self.param.check(v)?;
        }
        Ok(())
    }
}

/// The scenario-sweep parameters recorded in `shard.ron`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioParams {
    /// Scenario id.
    pub scenario: String,
    /// Parameter name.
    pub param: String,
    /// Values, millionths.
    pub values_micro: Vec<u64>,
    /// Difficulty level.
    pub difficulty: u8,
    /// Deployed safeguards, comma-separated.
    pub deployed: String,
}

/// The aggregate of the experiments of one value. Fixed size; merges exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScenarioAggregate {
    /// Experiments.
    pub n: u64,
    /// Passed executions.
    pub passes: u64,
    /// Executions with a recovery time (violated, then recovered).
    pub recovered: u64,
    /// Recovery times, nanoseconds.
    pub recovery_sketch: LogSketch,
    /// Anomalies per execution.
    pub anomalies: IntMoments,
    /// Events per execution.
    pub events: IntMoments,
    /// Failures by first [`FailureKind`](crate::scenario::FailureKind), in [`FailureKind::ALL`](crate::scenario::FailureKind::ALL) order.
    pub failures: [u64; 6],
}

impl Aggregate for ScenarioAggregate {
    fn merge_from(&mut self, other: &Self) {
        self.merge(other);
    }
}

impl ScenarioAggregate {
    /// Fold in one outcome.
    pub fn push(&mut self, o: &Outcome) {
        self.n += 1;
        self.passes += u64::from(o.passed);
        if let Some(r) = o.recovery_s {
            self.recovered += 1;
            self.recovery_sketch.push((r * 1e9).round() as u64);
        }
        self.anomalies.push(o.anomalies);
        self.events.push(o.events);
        if let Some(k) = o.failure_kind() {
            self.failures[k.index()] += 1;
        }
    }

    /// Fold in another aggregate of the same value (exact).
    pub fn merge(&mut self, other: &ScenarioAggregate) {
        self.n += other.n;
        self.passes += other.passes;
        self.recovered += other.recovered;
        self.recovery_sketch.merge(&other.recovery_sketch);
        self.anomalies.merge(&other.anomalies);
        self.events.merge(&other.events);
        for (a, b) in self.failures.iter_mut().zip(other.failures) {
            *a += b;
        }
    }

    /// The statistics of this value.
    pub fn summarize(&self, value_micro: u64) -> ScenarioSummary {
        let q = |num| {
            self.recovery_sketch
                .quantile_ratio(num, 1000)
                .map(|ns| ns / 1e9)
        };
        ScenarioSummary {
            value_micro,
            n: self.n,
            passes: self.passes,
            pass_rate: if self.n == 0 {
                0.0
            } else {
                self.passes as f64 / self.n as f64
            },
            pass_ci: wilson_interval(self.passes, self.n, 0.95),
            recovered: self.recovered,
            recovery_p50_s: q(500),
            recovery_p90_s: q(900),
            recovery_p99_s: q(990),
            anomalies_mean: self.anomalies.mean(),
            events_mean: self.events.mean(),
            failures: self.failures,
        }
    }

    fn to_record(&self, cell: u32) -> ScenarioCellRecord {
        ScenarioCellRecord {
            cell,
            n: self.n,
            passes: self.passes,
            recovered: self.recovered,
            anomalies: self.anomalies,
            events: self.events,
            failures: self.failures.to_vec(),
            recovery_buckets: self.recovery_sketch.sparse(),
        }
    }

    fn from_record(r: &ScenarioCellRecord, path: &Path) -> Result<ScenarioAggregate> {
        let bad = |message: &str| Error::Invalid {
            path: path.to_path_buf(),
            field: format!("scenario_cells[{}]", r.cell),
            message: message.into(),
        };
        let mut sketch = LogSketch::new();
        for &(i, c) in &r.recovery_buckets {
            if !sketch.add_bucket(i as usize, c) {
                return Err(bad("recovery bucket out of range"));
            }
        }
        let failures: [u64; 6] = r
            .failures
            .as_slice()
            .try_into()
            .map_err(|_| bad("failures must have 6 counts"))?;
        if sketch.count() != r.recovered || r.anomalies.n != r.n || r.events.n != r.n {
            return Err(bad("counts disagree (corrupted file?)"));
        }
        Ok(ScenarioAggregate {
            n: r.n,
            passes: r.passes,
            recovered: r.recovered,
            recovery_sketch: sketch,
            anomalies: r.anomalies,
            events: r.events,
            failures,
        })
    }
}

/// A value's aggregate as stored in `shard.ron`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioCellRecord {
    /// The value index.
    pub cell: u32,
    /// See [`ScenarioAggregate`].
    pub n: u64,
    /// See [`ScenarioAggregate`].
    pub passes: u64,
    /// See [`ScenarioAggregate`].
    pub recovered: u64,
    /// See [`ScenarioAggregate`].
    pub anomalies: IntMoments,
    /// See [`ScenarioAggregate`].
    pub events: IntMoments,
    /// See [`ScenarioAggregate`].
    pub failures: Vec<u64>,
    /// Non-empty recovery sketch buckets `(index, count)`.
    pub recovery_buckets: Vec<(u32, u64)>,
}

/// The statistics of one value, as written to `summary.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioSummary {
    /// The value, millionths.
    pub value_micro: u64,
    /// Experiments.
    pub n: u64,
    /// Passed executions.
    pub passes: u64,
    /// passes / n.
    pub pass_rate: f64,
    /// Wilson 95 % interval of the pass rate.
    pub pass_ci: Interval,
    /// Executions with a recovery time.
    pub recovered: u64,
    /// Median recovery time of the recovered executions (sketch, relative
    /// error <= 1/256); `None` when none recovered.
    pub recovery_p50_s: Option<f64>,
    /// 90th percentile recovery time.
    pub recovery_p90_s: Option<f64>,
    /// 99th percentile recovery time.
    pub recovery_p99_s: Option<f64>,
    /// Mean anomalies per execution.
    pub anomalies_mean: f64,
    /// Mean events per execution.
    pub events_mean: f64,
    /// Failures by first kind, in [`FailureKind::ALL`](crate::scenario::FailureKind::ALL) order.
    pub failures: [u64; 6],
}

impl ScenarioSummary {
    /// The `summary.csv` row (fields as in [`SCENARIO_SUMMARY_HEADER`]),
    /// with a trailing newline; floats have six decimals, a missing
    /// percentile is an empty field.
    pub fn csv_row(&self) -> String {
        let f = |x: f64| format!("{x:.6}");
        let o = |x: Option<f64>| x.map(f).unwrap_or_default();
        let mut fields = vec![
            format_value(self.value_micro),
            self.n.to_string(),
            self.passes.to_string(),
            f(self.pass_rate),
            f(self.pass_ci.low),
            f(self.pass_ci.high),
            self.recovered.to_string(),
            o(self.recovery_p50_s),
            o(self.recovery_p90_s),
            o(self.recovery_p99_s),
            f(self.anomalies_mean),
            f(self.events_mean),
        ];
        fields.extend(self.failures.iter().map(|c| c.to_string()));
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
}

/// What a scenario sweep produced.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioSweepReport {
    /// Experiments run.
    pub experiments: u64,
    /// Simulation events handled, summed.
    pub events: u64,
    /// The summaries of the values this shard touched, in order.
    pub values: Vec<ScenarioSummary>,
}

/// Format one `experiments.csv` row.
pub fn push_scenario_row(
    line: &mut String,
    value_micro: u64,
    experiment: u64,
    seed: u64,
    o: &Outcome,
) {
    line.push_str(&format_value(value_micro));
    let _ = write!(line, ",{experiment},{seed},{},", o.passed as u8);
    if let Some(r) = o.recovery_s {
        let _ = write!(line, "{r}");
    }
    line.push(',');
    if let Some(k) = o.failure_kind() {
        line.push_str(k.name());
    }
    let _ = writeln!(line, ",{},{},{}", o.anomalies, o.events, o.digest);
}

fn write_scenario_summary(
    tx: &mut OutDir,
    sc: &ScenarioParams,
    cells: &[(u32, ScenarioAggregate)],
) -> Result<()> {
    let mut sink = tx.sink(SUMMARY_FILE)?;
    sink.write_raw(SCENARIO_SUMMARY_HEADER.as_bytes())?;
    for (cell, agg) in cells {
        let v = sc.values_micro[*cell as usize];
        sink.write_raw(agg.summarize(v).csv_row().as_bytes())?;
    }
    sink.finish()?;
    Ok(())
}

/// Run a scenario sweep (or one shard of it) and write `experiments.csv`,
/// `summary.csv` and `shard.ron` into `opts.out`; `stack_fingerprint`
/// identifies the stack (recorded so that shards of different stacks are
/// not merged). `on_value` is called in order with each value's summary.
pub fn run_scenario_sweep(
    catalogue: &Catalogue,
    stack: &StackSpec,
    stack_fingerprint: u64,
    spec: &ScenarioSweepSpec,
    opts: &SweepOptions,
    on_value: &mut dyn FnMut(&ScenarioSummary),
) -> Result<ScenarioSweepReport> {
    let base = catalogue.require(&spec.scenario)?;
    spec.validate(base)?;
    if !(1..=THREADS_MAX).contains(&opts.threads) {
        return Err(Error::usage(
            "--threads",
            format!("{} is outside 1..={THREADS_MAX}", opts.threads),
        ));
    }
    let catalogues = spec
        .values_micro
        .iter()
        .map(|&v| Catalogue::from_specs(vec![apply(base, spec.param, v)?]))
        .collect::<Result<Vec<_>>>()?;
    let sc = ScenarioParams {
        scenario: spec.scenario.clone(),
        param: spec.param.name(),
        values_micro: spec.values_micro.clone(),
        difficulty: spec.difficulty,
        deployed: spec.deployed.join(","),
    };
    let params = ScenarioSweepParams {
        seed: spec.seed,
        n: spec.n,
        rates_ppm: Vec::new(),
        variants: Vec::new(),
        model_fingerprint: format!("{:016x}:{:016x}", base.fingerprint, stack_fingerprint),
        scenario: Tagged(sc.clone()),
    };
    let start = SimTime::from_day_time(0, 12, 0, 0).expect("valid time");
    let mut files =
        ShardOut::<ScenarioSweep>::open(&params, opts.shard, Some(&opts.out), opts.force)?;
    let range = files.range();
    let run =
        |cell: u64, lo: u64, hi: u64, rows: &mut String| -> Result<(ScenarioAggregate, u64)> {
            let runner = Runner {
                catalogue: &catalogues[cell as usize],
                stack,
                threads: 1,
            };
            let value = spec.values_micro[cell as usize];
            let mut agg = ScenarioAggregate::default();
            let mut events = 0;
            for e in lo..hi {
                let seed = scenario_experiment_seed(spec.seed, cell, e);
                let exec = Execution {
                    seed,
                    run: 0,
                    start,
                    concurrent: false,
                    items: vec![Item {
                        scenario: spec.scenario.clone(),
                        difficulty: spec.difficulty,
                        known_fixes: SafeguardSet::EMPTY,
                    }],
                    deployed: spec.deployed,
                };
                let outcomes = runner.execute(&exec)?;
                let o = &outcomes[0];
                events += o.events;
                agg.push(o);
                push_scenario_row(rows, value, e, seed, o);
            }
            opts.progress.add(hi - lo);
            Ok((agg, events))
        };
    let mut cells: Vec<(u32, ScenarioAggregate)> = Vec::new();
    let mut summaries = Vec::new();
    let events = run_ordered_chunked(
        opts.threads,
        spec.n,
        range,
        SCENARIO_CHUNK,
        files.sink(),
        &run,
        &mut |c, a| {
            let s = a.summarize(spec.values_micro[c as usize]);
            on_value(&s);
            summaries.push(s);
            cells.push((c as u32, a));
        },
    )?;
    files.finish(&cells)?;
    Ok(ScenarioSweepReport {
        experiments: range.1 - range.0,
        events,
        values: summaries,
    })
}

format1_params! {
    /// The parameters every shard of one scenario sweep shares, as recorded in
    /// `shard.ron` (format 1: `seed` is the root seed, `n` the experiments
    /// per value, `rates_ppm` and `variants` are empty, `model_fingerprint`
    /// holds the scenario's and the stack's fingerprints).
    pub struct ScenarioSweepParams {
        /// What is swept.
        pub scenario: ScenarioParams,
    }
}

/// The scenario sweep as a batch kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScenarioSweep;

impl ScenarioSweep {
    /// What differs between a scenario sweep's shards beyond the common
    /// parameters.
    pub const DIFFERENCE: &'static str =
        "scenario sweep (scenario, parameter, values, difficulty or safeguards)";
}

impl ShardKind for ScenarioSweep {
    const TAG: &'static str = "scenario";
    const SLOT: Slot = Slot::ScenarioCells;
    type Params = ScenarioSweepParams;
    type Record = ScenarioCellRecord;
    type Aggregate = ScenarioAggregate;

    fn cells(p: &ScenarioSweepParams) -> u64 {
        p.scenario.0.values_micro.len() as u64
    }
    fn rows_file(_: &ScenarioSweepParams) -> &'static str {
        EXPERIMENTS_FILE
    }
    fn rows_header(_: &ScenarioSweepParams) -> String {
        SCENARIO_EXPERIMENTS_HEADER.into()
    }
    fn files(_: &ScenarioSweepParams) -> Vec<&'static str> {
        vec![EXPERIMENTS_FILE, SUMMARY_FILE, SHARD_FILE]
    }
    fn difference(a: &ScenarioSweepParams, b: &ScenarioSweepParams) -> Option<String> {
        a.head()
            .difference(&b.head())
            .or_else(|| (a.scenario != b.scenario).then(|| Self::DIFFERENCE.into()))
    }
    fn to_record(cell: u32, a: &ScenarioAggregate) -> ScenarioCellRecord {
        a.to_record(cell)
    }
    fn from_record(
        _: &ScenarioSweepParams,
        _: &ShardFile<Self>,
        r: &ScenarioCellRecord,
        path: &Path,
    ) -> Result<(u32, ScenarioAggregate)> {
        Ok((r.cell, ScenarioAggregate::from_record(r, path)?))
    }
    fn write_tables(
        tx: &mut OutDir,
        p: &ScenarioSweepParams,
        cells: &[(u32, ScenarioAggregate)],
    ) -> Result<()> {
        write_scenario_summary(tx, &p.scenario.0, cells)
    }
    fn items(a: &ScenarioAggregate) -> u64 {
        a.n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_and_apply() {
        let cat = Catalogue::embedded().unwrap();
        let s = cat.require("S02_acl_spam").unwrap();
        assert_eq!(Param::parse("intensity", s).unwrap(), Param::Intensity);
        assert_eq!(
            Param::parse("fault[0].length_s", s).unwrap(),
            Param::FaultLengthS(0)
        );
        for bad in [
            "fault[1].intensity",
            "fault[0].colour",
            "speed",
            "fault[x].start_s",
        ] {
            assert!(Param::parse(bad, s).is_err(), "{bad}");
        }
        let m = apply(s, Param::Intensity, 250_000).unwrap();
        assert_eq!(m.faults[0].intensity_permille, 250);
        let m = apply(s, Param::FaultStartS(0), 1_500_000).unwrap();
        assert_eq!(m.faults[0].start_ns, 1_500_000_000);
        let m = apply(s, Param::RecoveryLimitS, 30 * MICRO).unwrap();
        assert_eq!(m.recovery_limit_ns, 30_000_000_000);
        assert_eq!(
            parse_values("0.2:1:0.4", Param::Intensity).unwrap(),
            vec![200_000, 600_000, 1_000_000]
        );
        for bad in ["0:1.5:0.5", "0.0005", "1:0:0.1", "0:1:0", "a", "0:1"] {
            assert!(parse_values(bad, Param::Intensity).is_err(), "{bad}");
        }
        assert!(parse_values("0", Param::RecoveryLimitS).is_err());
        assert!(parse_values("0:600:300", Param::FaultLengthS(0)).is_ok());
        assert_eq!(format_value(1_500_000), "1.5");
    }
}
