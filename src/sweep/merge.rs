//! The API sweep as a batch kind ([`ApiSweep`]): per-cell aggregates, the
//! summary they give, its `shard.ron` parameters and records; and
//! [`merge`], which reads the shard directories of any batch kind and
//! hands them to the one generic [`shard::merge`](crate::shard::merge).
//!
//! A **cell** is one (rate, variant) pair; cells are numbered
//! `rate_index · variants + variant_index`. Every aggregate of a cell is
//! integer (counts, exact integer moments, sketch bucket counts), so merging
//! shards in any grouping gives exactly the aggregate of the unsharded run,
//! and the summary, a pure function of the aggregate, is byte-identical.
//! The `shard.ron` format and its checks are [`crate::shard::file`]'s.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::agent::{ExperimentOutcome, Variant};
use super::runner::{EXPERIMENTS_HEADER, SUMMARY_HEADER, format_rate};
use super::scenario_sweep::ScenarioSweep;
use super::swarm::Swarm;
use super::whatif::Whatif;
use super::whatif_programme::WhatifProgramme;
use crate::error::{Error, Result};
use crate::program::ensemble::Ensemble;
use crate::record::csv::push_field;
use crate::record::outfile::OutDir;
use crate::record::stats::{IntMoments, Interval, LogSketch, t_interval, wilson_interval};
use crate::shard::{Aggregate, Head, HeadParams, ShardFile, ShardKind, Slot};
pub use crate::shard::{
    MergeReport, SHARD_FILE, SHARD_FORMAT, SHARD_LIMITS, SUMMARY_FILE, prepare_out_dir,
};

/// File names inside a sweep directory.
pub const EXPERIMENTS_FILE: &str = "experiments.csv";

/// Declare [`CellAggregate`] and its `shard.ron` form [`CellRecord`] from
/// one list of exactly mergeable fields (counters and integer moments), so
/// the two cannot drift apart: the record is `cell`, the same fields in the
/// same order (format 1), then the latency sketch's non-empty buckets.
macro_rules! cell_fields {
    ($($(#[$doc:meta])* $field:ident: $ty:ty,)*) => {
        /// The aggregate of a set of experiments of one cell. Fixed size;
        /// merges exactly.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct CellAggregate {
            $($(#[$doc])* pub $field: $ty,)*
            /// Latency distribution, in nanoseconds.
            pub latency_sketch: LogSketch,
        }

        /// A cell's aggregate as stored in `shard.ron`.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct CellRecord {
            /// The cell number.
            pub cell: u32,
            $(#[doc = "See [`CellAggregate`]."] pub $field: $ty,)*
            /// Non-empty sketch buckets `(index, count)`.
            pub latency_buckets: Vec<(u32, u64)>,
        }

        impl CellAggregate {
            /// Fold in another aggregate of the same cell (exact).
            pub fn merge(&mut self, other: &CellAggregate) {
                $(Exact::add(&mut self.$field, &other.$field);)*
                self.latency_sketch.merge(&other.latency_sketch);
            }

            fn to_record(&self, cell: u32) -> CellRecord {
                CellRecord {
                    cell,
                    $($field: self.$field,)*
                    latency_buckets: self.latency_sketch.sparse(),
                }
            }

            /// The aggregate of a record, with `latency_sketch` rebuilt by
            /// the caller.
            fn from_fields(r: &CellRecord, latency_sketch: LogSketch) -> CellAggregate {
                CellAggregate {
                    $($field: r.$field,)*
                    latency_sketch,
                }
            }
        }
    };
}

/// A field of [`CellAggregate`]: summed exactly.
trait Exact {
    fn add(&mut self, other: &Self);
}

impl Exact for u64 {
    fn add(&mut self, other: &u64) {
        *self += other;
    }
}

impl Exact for IntMoments {
    fn add(&mut self, other: &IntMoments) {
        self.merge(other);
    }
}

cell_fields! {
    /// Experiments.
    n: u64,
    /// Successful workflows.
    successes: u64,
    /// Half-done workflows.
    partials: u64,
    /// Compensated workflows.
    compensated: u64,
    /// Workflows that hit the deadline.
    deadline_hits: u64,
    /// Breaker openings, summed.
    breaker_opens: u64,
    /// Experiments in which the breaker opened at least once.
    experiments_with_open: u64,
    /// Calls rejected by an open breaker, summed.
    rejected: u64,
    /// 503 answers, summed.
    errors_503: u64,
    /// 429 answers, summed.
    errors_429: u64,
    /// Timeouts, summed.
    timeouts: u64,
    /// 400 answers, summed.
    bad_requests: u64,
    /// Latency moments, in nanoseconds.
    latency_ns: IntMoments,
    /// Calls per experiment.
    calls: IntMoments,
    /// Retries per experiment.
    retries: IntMoments,
}

impl CellAggregate {
    /// Fold in one experiment.
    pub fn push(&mut self, o: &ExperimentOutcome) {
        self.n += 1;
        self.successes += u64::from(o.success);
        self.partials += u64::from(o.partial);
        self.compensated += u64::from(o.compensated);
        self.deadline_hits += u64::from(o.deadline_hit);
        self.breaker_opens += o.breaker_opens as u64;
        self.experiments_with_open += u64::from(o.breaker_opens > 0);
        self.rejected += o.rejected as u64;
        self.errors_503 += o.errors_503 as u64;
        self.errors_429 += o.errors_429 as u64;
        self.timeouts += o.timeouts as u64;
        self.bad_requests += o.bad_requests as u64;
        self.latency_ns.push(o.latency_ns);
        self.calls.push(o.calls as u64);
        self.retries.push(o.retries as u64);
        self.latency_sketch.push(o.latency_ns);
    }

    /// The statistics of this cell.
    pub fn summarize(&self, rate_ppm: u32, variant: Variant) -> CellSummary {
        let ms = |ns: f64| ns / 1e6;
        let q = |num| {
            self.latency_sketch
                .quantile_ratio(num, 1000)
                .map_or(0.0, ms)
        };
        let mean_ns = self.latency_ns.mean();
        let sd_ns = self.latency_ns.std_dev();
        let t = t_interval(mean_ns, sd_ns, self.n, 0.95);
        CellSummary {
            rate_ppm,
            variant,
            n: self.n,
            successes: self.successes,
            success_rate: ratio(self.successes, self.n),
            success_ci: wilson_interval(self.successes, self.n, 0.95),
            partials: self.partials,
            partial_rate: ratio(self.partials, self.n),
            compensated: self.compensated,
            deadline_hits: self.deadline_hits,
            latency_mean_ms: ms(mean_ns),
            latency_sd_ms: ms(sd_ns),
            latency_mean_ci_ms: Interval {
                low: ms(t.low),
                high: ms(t.high),
            },
            latency_p50_ms: q(500),
            latency_p95_ms: q(950),
            latency_p99_ms: q(990),
            latency_max_ms: ms(self.latency_ns.max as f64),
            calls_mean: self.calls.mean(),
            retries_mean: self.retries.mean(),
            rejected: self.rejected,
            breaker_opens: self.breaker_opens,
            experiments_with_open: self.experiments_with_open,
            errors_503: self.errors_503,
            errors_429: self.errors_429,
            timeouts: self.timeouts,
        }
    }

    fn from_record(r: &CellRecord, path: &Path) -> Result<CellAggregate> {
        let mut sketch = LogSketch::new();
        for &(i, c) in &r.latency_buckets {
            if !sketch.add_bucket(i as usize, c) {
                return Err(Error::Invalid {
                    path: path.to_path_buf(),
                    field: format!("cells[{}].latency_buckets", r.cell),
                    message: format!("bucket {i} out of range"),
                });
            }
        }
        if sketch.count() != r.n || r.latency_ns.n != r.n {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                field: format!("cells[{}]", r.cell),
                message: "counts disagree (corrupted file?)".into(),
            });
        }
        Ok(CellAggregate::from_fields(r, sketch))
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The statistics of one cell, as written to `summary.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct CellSummary {
    /// Failure rate in parts per million.
    pub rate_ppm: u32,
    /// The variant.
    pub variant: Variant,
    /// Experiments.
    pub n: u64,
    /// Successful workflows.
    pub successes: u64,
    /// successes / n.
    pub success_rate: f64,
    /// Wilson 95 % interval of the success rate.
    pub success_ci: Interval,
    /// Half-done workflows.
    pub partials: u64,
    /// partials / n.
    pub partial_rate: f64,
    /// Compensated workflows.
    pub compensated: u64,
    /// Workflows that hit the deadline.
    pub deadline_hits: u64,
    /// Mean latency.
    pub latency_mean_ms: f64,
    /// Standard deviation of the latency.
    pub latency_sd_ms: f64,
    /// Student-t 95 % interval of the mean latency.
    pub latency_mean_ci_ms: Interval,
    /// Median latency (sketch, relative error <= 1/256).
    pub latency_p50_ms: f64,
    /// 95th percentile latency (sketch).
    pub latency_p95_ms: f64,
    /// 99th percentile latency (sketch).
    pub latency_p99_ms: f64,
    /// Largest latency (exact).
    pub latency_max_ms: f64,
    /// Mean calls per experiment.
    pub calls_mean: f64,
    /// Mean retries per experiment.
    pub retries_mean: f64,
    /// Calls rejected by an open breaker.
    pub rejected: u64,
    /// Breaker openings.
    pub breaker_opens: u64,
    /// Experiments in which the breaker opened.
    pub experiments_with_open: u64,
    /// 503 answers.
    pub errors_503: u64,
    /// 429 answers.
    pub errors_429: u64,
    /// Timeouts.
    pub timeouts: u64,
}

impl CellSummary {
    /// The `summary.csv` row (fields as in [`SUMMARY_HEADER`]), with a
    /// trailing newline. Floats have six decimals.
    pub fn csv_row(&self) -> String {
        let f = |x: f64| format!("{x:.6}");
        let fields = [
            format_rate(self.rate_ppm),
            self.variant.name().to_string(),
            self.n.to_string(),
            self.successes.to_string(),
            f(self.success_rate),
            f(self.success_ci.low),
            f(self.success_ci.high),
            self.partials.to_string(),
            f(self.partial_rate),
            self.compensated.to_string(),
            self.deadline_hits.to_string(),
            f(self.latency_mean_ms),
            f(self.latency_sd_ms),
            f(self.latency_mean_ci_ms.low),
            f(self.latency_mean_ci_ms.high),
            f(self.latency_p50_ms),
            f(self.latency_p95_ms),
            f(self.latency_p99_ms),
            f(self.latency_max_ms),
            f(self.calls_mean),
            f(self.retries_mean),
            self.rejected.to_string(),
            self.breaker_opens.to_string(),
            self.experiments_with_open.to_string(),
            self.errors_503.to_string(),
            self.errors_429.to_string(),
            self.timeouts.to_string(),
        ];
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

/// The command parameters every shard of one API sweep shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepParams {
    /// Root seed.
    pub seed: u64,
    /// Experiments per cell.
    pub n: u64,
    /// Failure rates, parts per million, ascending.
    pub rates_ppm: Vec<u32>,
    /// Variants, in output order.
    pub variants: Vec<Variant>,
    /// [`ApiModel::fingerprint`](super::agent::ApiModel::fingerprint) in hex.
    pub model_fingerprint: String,
}

impl HeadParams for SweepParams {
    fn head(&self) -> Head {
        Head {
            seed: self.seed,
            n: self.n,
            rates_ppm: self.rates_ppm.clone(),
            variants: self.variants.iter().map(|v| format!("{v:?}")).collect(),
            model_fingerprint: self.model_fingerprint.clone(),
        }
    }
}

impl SweepParams {
    /// Number of cells.
    pub fn cells(&self) -> u64 {
        self.rates_ppm.len() as u64 * self.variants.len() as u64
    }

    /// Every file a sweep writes, the completion marker last.
    pub fn files(&self) -> Vec<&'static str> {
        vec![EXPERIMENTS_FILE, SUMMARY_FILE, SHARD_FILE]
    }

    /// Total experiments of the whole sweep.
    pub fn total(&self) -> u64 {
        self.cells() * self.n
    }

    /// `(rate_index, rate_ppm, variant)` of a cell.
    pub fn cell(&self, cell: u64) -> (u64, u32, Variant) {
        let v = self.variants.len() as u64;
        let r = cell / v;
        (
            r,
            self.rates_ppm[r as usize],
            self.variants[(cell % v) as usize],
        )
    }
}

impl Aggregate for CellAggregate {
    fn merge_from(&mut self, other: &Self) {
        self.merge(other);
    }
}

/// The API sweep as a batch kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiSweep;

/// The content of an API sweep's `shard.ron`.
pub type ShardMeta = ShardFile<ApiSweep>;

impl ShardKind for ApiSweep {
    const TAG: &'static str = "sweep";
    const SLOT: Slot = Slot::Cells;
    type Params = SweepParams;
    type Record = CellRecord;
    type Aggregate = CellAggregate;

    fn cells(p: &SweepParams) -> u64 {
        p.cells()
    }
    fn rows_file(_: &SweepParams) -> &'static str {
        EXPERIMENTS_FILE
    }
    fn rows_header(_: &SweepParams) -> String {
        EXPERIMENTS_HEADER.into()
    }
    fn files(p: &SweepParams) -> Vec<&'static str> {
        p.files()
    }
    fn difference(a: &SweepParams, b: &SweepParams) -> Option<String> {
        a.head().difference(&b.head())
    }
    fn to_record(cell: u32, a: &CellAggregate) -> CellRecord {
        a.to_record(cell)
    }
    fn from_record(
        _: &SweepParams,
        _: &ShardMeta,
        r: &CellRecord,
        path: &Path,
    ) -> Result<(u32, CellAggregate)> {
        Ok((r.cell, CellAggregate::from_record(r, path)?))
    }
    fn write_tables(
        tx: &mut OutDir,
        p: &SweepParams,
        cells: &[(u32, CellAggregate)],
    ) -> Result<()> {
        write_summary(tx, p, cells)
    }
    fn items(a: &CellAggregate) -> u64 {
        a.n
    }
}

/// Stage `summary.csv` for `cells` (cell number, aggregate), in cell order.
pub fn write_summary(
    tx: &mut OutDir,
    params: &SweepParams,
    cells: &[(u32, CellAggregate)],
) -> Result<()> {
    let mut sink = tx.sink(SUMMARY_FILE)?;
    sink.write_raw(SUMMARY_HEADER.as_bytes())?;
    for (cell, agg) in cells {
        let (_, rate_ppm, variant) = params.cell(*cell as u64);
        sink.write_raw(agg.summarize(rate_ppm, variant).csv_row().as_bytes())?;
    }
    sink.finish()?;
    Ok(())
}

/// The shards of one batch, read, by kind.
enum Shards {
    Sweep(Vec<(PathBuf, ShardFile<ApiSweep>)>),
    Scenario(Vec<(PathBuf, ShardFile<ScenarioSweep>)>),
    Swarm(Vec<(PathBuf, ShardFile<Swarm>)>),
    Whatif(Vec<(PathBuf, ShardFile<Whatif>)>),
    WhatifProgramme(Vec<(PathBuf, ShardFile<WhatifProgramme>)>),
    Ensemble(Vec<(PathBuf, ShardFile<Ensemble>)>),
}

/// One shard read by the kind its `params` name.
enum AnyShard {
    Sweep(ShardFile<ApiSweep>),
    Scenario(ShardFile<ScenarioSweep>),
    Swarm(ShardFile<Swarm>),
    Whatif(ShardFile<Whatif>),
    WhatifProgramme(ShardFile<WhatifProgramme>),
    Ensemble(ShardFile<Ensemble>),
}

/// The kind tag of the batch in `dir` ([`ShardKind::TAG`]): format 1 names
/// it by the field its parameters carry (`scenario`, `ensemble`, `swarm`,
/// `whatif`, `whatif_programme`; none: an API sweep). A file that does not parse is read as an API sweep,
/// whose reader then reports the error.
pub fn kind_of(dir: &Path) -> Result<&'static str> {
    #[derive(Deserialize)]
    struct Peek {
        params: PeekParams,
    }
    #[derive(Deserialize)]
    struct PeekParams {
        #[serde(default)]
        scenario: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        ensemble: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        swarm: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        whatif: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        whatif_programme: Option<serde::de::IgnoredAny>,
    }
    let (path, text) = crate::shard::read_shard_text(dir)?;
    Ok(match crate::input::parse_ron::<Peek>(&text, &path) {
        Ok(Peek { params: p }) if p.scenario.is_some() => ScenarioSweep::TAG,
        Ok(Peek { params: p }) if p.ensemble.is_some() => Ensemble::TAG,
        Ok(Peek { params: p }) if p.swarm.is_some() => Swarm::TAG,
        Ok(Peek { params: p }) if p.whatif.is_some() => Whatif::TAG,
        Ok(Peek { params: p }) if p.whatif_programme.is_some() => WhatifProgramme::TAG,
        _ => ApiSweep::TAG,
    })
}

/// Read `dir/shard.ron` as the kind it names, with every check of
/// [`ShardFile::read`].
pub(crate) fn read_any(dir: &Path) -> Result<()> {
    AnyShard::read(dir).map(|_| ())
}

impl AnyShard {
    fn read(dir: &Path) -> Result<AnyShard> {
        Ok(match kind_of(dir)? {
            ScenarioSweep::TAG => AnyShard::Scenario(ShardFile::read(dir)?),
            Ensemble::TAG => AnyShard::Ensemble(ShardFile::read(dir)?),
            Swarm::TAG => AnyShard::Swarm(ShardFile::read(dir)?),
            Whatif::TAG => AnyShard::Whatif(ShardFile::read(dir)?),
            WhatifProgramme::TAG => AnyShard::WhatifProgramme(ShardFile::read(dir)?),
            _ => AnyShard::Sweep(ShardFile::read(dir)?),
        })
    }

    fn tag(&self) -> &'static str {
        match self {
            AnyShard::Sweep(_) => ApiSweep::TAG,
            AnyShard::Scenario(_) => ScenarioSweep::TAG,
            AnyShard::Swarm(_) => Swarm::TAG,
            AnyShard::Whatif(_) => Whatif::TAG,
            AnyShard::WhatifProgramme(_) => WhatifProgramme::TAG,
            AnyShard::Ensemble(_) => Ensemble::TAG,
        }
    }

    fn head(&self) -> Head {
        match self {
            AnyShard::Sweep(m) => m.params.head(),
            AnyShard::Scenario(m) => m.params.head(),
            AnyShard::Swarm(m) => m.params.head(),
            AnyShard::Ensemble(m) => m.params.head(),
            AnyShard::Whatif(m) => m.params.head(),
            AnyShard::WhatifProgramme(m) => m.params.head(),
        }
    }

    /// The kind of batch that wrote the shard, for messages.
    fn kind_name(&self) -> &'static str {
        match self {
            AnyShard::Sweep(_) => "an API sweep",
            AnyShard::Scenario(_) => "a scenario sweep",
            AnyShard::Swarm(_) => "a swarm",
            AnyShard::Whatif(_) => "a what-if over scenarios",
            AnyShard::WhatifProgramme(_) => "a what-if over programmes",
            AnyShard::Ensemble(_) => "an ensemble",
        }
    }

    /// Why shards of two different kinds do not merge (`b` the later).
    /// Ensembles and what-ifs are named as such; sweeps and swarms, which
    /// share their parameters' head, name the first parameter that differs.
    fn kind_difference(a: &AnyShard, b: &AnyShard) -> String {
        let named = [a, b].iter().any(|s| {
            matches!(
                s,
                AnyShard::Ensemble(_) | AnyShard::Whatif(_) | AnyShard::WhatifProgramme(_)
            )
        });
        if named {
            return format!(
                "kind (this one is {}, the other {})",
                b.kind_name(),
                a.kind_name()
            );
        }
        if let Some(diff) = a.head().difference(&b.head()) {
            return diff;
        }
        if [a, b].iter().any(|s| s.tag() == ScenarioSweep::TAG) {
            return ScenarioSweep::DIFFERENCE.into();
        }
        Swarm::DIFFERENCE.into()
    }
}

impl Shards {
    fn push(&mut self, dir: PathBuf, shard: AnyShard) {
        match (self, shard) {
            (Shards::Sweep(v), AnyShard::Sweep(m)) => v.push((dir, m)),
            (Shards::Scenario(v), AnyShard::Scenario(m)) => v.push((dir, m)),
            (Shards::Swarm(v), AnyShard::Swarm(m)) => v.push((dir, m)),
            (Shards::Whatif(v), AnyShard::Whatif(m)) => v.push((dir, m)),
            (Shards::WhatifProgramme(v), AnyShard::WhatifProgramme(m)) => v.push((dir, m)),
            (Shards::Ensemble(v), AnyShard::Ensemble(m)) => v.push((dir, m)),
            _ => unreachable!("kinds checked before"),
        }
    }
}

/// Merge the shard directories `inputs` (any order) of one batch of any
/// kind (API sweep, scenario sweep, swarm, ensemble, what-if over scenarios or programmes) into `out`, giving the
/// files an unsharded run with the same parameters writes: each shard is
/// read by its kind tag ([`kind_of`]) and the shards go to the one generic
/// [`shard::merge`](crate::shard::merge), which says what it refuses.
/// Shards of different kinds are refused as foreign, naming the first
/// parameter that differs.
pub fn merge(inputs: &[PathBuf], out: &Path, force: bool) -> Result<MergeReport> {
    if inputs.is_empty() {
        return Err(Error::Usage {
            flag: "DIR".into(),
            message: "no shard directory given".into(),
        });
    }
    let mut read = Vec::with_capacity(inputs.len());
    for dir in inputs {
        read.push((dir.clone(), AnyShard::read(dir)?));
    }
    let (first_dir, first) = (&read[0].0, &read[0].1);
    for (dir, m) in &read[1..] {
        if m.tag() != first.tag() {
            return Err(Error::folder(
                dir,
                format!(
                    "foreign shard: its {} differs from that of {}",
                    AnyShard::kind_difference(first, m),
                    first_dir.display()
                ),
            ));
        }
    }
    let mut shards = match first {
        AnyShard::Sweep(_) => Shards::Sweep(Vec::new()),
        AnyShard::Scenario(_) => Shards::Scenario(Vec::new()),
        AnyShard::Swarm(_) => Shards::Swarm(Vec::new()),
        AnyShard::Whatif(_) => Shards::Whatif(Vec::new()),
        AnyShard::WhatifProgramme(_) => Shards::WhatifProgramme(Vec::new()),
        AnyShard::Ensemble(_) => Shards::Ensemble(Vec::new()),
    };
    for (dir, m) in read {
        shards.push(dir, m);
    }
    match shards {
        Shards::Sweep(v) => crate::shard::merge(&v, out, force),
        Shards::Scenario(v) => crate::shard::merge(&v, out, force),
        Shards::Swarm(v) => crate::shard::merge(&v, out, force),
        Shards::Whatif(v) => crate::shard::merge(&v, out, force),
        Shards::WhatifProgramme(v) => crate::shard::merge(&v, out, force),
        Shards::Ensemble(v) => crate::shard::merge(&v, out, force),
    }
}
