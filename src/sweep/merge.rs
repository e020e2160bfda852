//! Mergeable sweep outputs: per-cell aggregates, the summary they give, the
//! shard metadata (`shard.ron`) and the merge of shard directories.
//!
//! A **cell** is one (rate, variant) pair; cells are numbered
//! `rate_index · variants + variant_index`. Every aggregate of a cell is
//! integer (counts, exact integer moments, sketch bucket counts), so merging
//! shards in any grouping gives exactly the aggregate of the unsharded run,
//! and the summary, a pure function of the aggregate, is byte-identical.
//!
//! A sweep directory is **complete** when it holds `shard.ron`, written last
//! (temporary file, then rename). `shard.ron` records the command's
//! parameters, the shard `K/N`, its global experiment range, the size and
//! FNV-1a checksum of its `experiments.csv` and the aggregates of the cells
//! it touched.

use std::fs;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::agent::{ExperimentOutcome, Variant};
use super::runner::{Aggregate, EXPERIMENTS_HEADER, SUMMARY_HEADER, Shard, format_rate};
use super::scenario_sweep::{ScenarioCellRecord, ScenarioParams, merge_scenario};
use super::swarm::{SWARM_FILE, SwarmCellRecord, SwarmParams, merge_swarm};
use crate::error::{Error, Result};
use crate::program::ensemble::{
    EnsembleAggregate, EnsembleParams, SEEDS_FILE, ensemble_difference, merge_ensemble,
};
use crate::record::csv::{Fnv64, push_field};
use crate::record::outfile::OutDir;
use crate::record::stats::{IntMoments, Interval, LogSketch, t_interval, wilson_interval};

/// Version of the `shard.ron` format.
pub const SHARD_FORMAT: u32 = 1;
/// File names inside a sweep directory.
pub const EXPERIMENTS_FILE: &str = "experiments.csv";
/// The per-cell summary.
pub const SUMMARY_FILE: &str = "summary.csv";
/// The completion marker and metadata.
pub const SHARD_FILE: &str = "shard.ron";

/// The aggregate of a set of experiments of one cell. Fixed size; merges
/// exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CellAggregate {
    /// Experiments.
    pub n: u64,
    /// Successful workflows.
    pub successes: u64,
    /// Half-done workflows.
    pub partials: u64,
    /// Compensated workflows.
    pub compensated: u64,
    /// Workflows that hit the deadline.
    pub deadline_hits: u64,
    /// Breaker openings, summed.
    pub breaker_opens: u64,
    /// Experiments in which the breaker opened at least once.
    pub experiments_with_open: u64,
    /// Calls rejected by an open breaker, summed.
    pub rejected: u64,
    /// 503 answers, summed.
    pub errors_503: u64,
    /// 429 answers, summed.
    pub errors_429: u64,
    /// Timeouts, summed.
    pub timeouts: u64,
    /// 400 answers, summed.
    pub bad_requests: u64,
    /// Latency moments, in nanoseconds.
    pub latency_ns: IntMoments,
    /// Calls per experiment.
    pub calls: IntMoments,
    /// Retries per experiment.
    pub retries: IntMoments,
    /// Latency distribution, in nanoseconds.
    pub latency_sketch: LogSketch,
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

    /// Fold in another aggregate of the same cell (exact).
    pub fn merge(&mut self, other: &CellAggregate) {
        self.n += other.n;
        self.successes += other.successes;
        self.partials += other.partials;
        self.compensated += other.compensated;
        self.deadline_hits += other.deadline_hits;
        self.breaker_opens += other.breaker_opens;
        self.experiments_with_open += other.experiments_with_open;
        self.rejected += other.rejected;
        self.errors_503 += other.errors_503;
        self.errors_429 += other.errors_429;
        self.timeouts += other.timeouts;
        self.bad_requests += other.bad_requests;
        self.latency_ns.merge(&other.latency_ns);
        self.calls.merge(&other.calls);
        self.retries.merge(&other.retries);
        self.latency_sketch.merge(&other.latency_sketch);
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

    fn to_record(&self, cell: u32) -> CellRecord {
        CellRecord {
            cell,
            n: self.n,
            successes: self.successes,
            partials: self.partials,
            compensated: self.compensated,
            deadline_hits: self.deadline_hits,
            breaker_opens: self.breaker_opens,
            experiments_with_open: self.experiments_with_open,
            rejected: self.rejected,
            errors_503: self.errors_503,
            errors_429: self.errors_429,
            timeouts: self.timeouts,
            bad_requests: self.bad_requests,
            latency_ns: self.latency_ns,
            calls: self.calls,
            retries: self.retries,
            latency_buckets: self.latency_sketch.sparse(),
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
        Ok(CellAggregate {
            n: r.n,
            successes: r.successes,
            partials: r.partials,
            compensated: r.compensated,
            deadline_hits: r.deadline_hits,
            breaker_opens: r.breaker_opens,
            experiments_with_open: r.experiments_with_open,
            rejected: r.rejected,
            errors_503: r.errors_503,
            errors_429: r.errors_429,
            timeouts: r.timeouts,
            bad_requests: r.bad_requests,
            latency_ns: r.latency_ns,
            calls: r.calls,
            retries: r.retries,
            latency_sketch: sketch,
        })
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

/// The command parameters every shard of one sweep shares.
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
    /// [`ApiModel::fingerprint`](super::agent::ApiModel::fingerprint) in hex
    /// (for a scenario sweep: the scenario's and the stack's fingerprints).
    pub model_fingerprint: String,
    /// Set for a scenario sweep (`--scenario`): then the cells are the
    /// parameter values and `rates_ppm` and `variants` are empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<ScenarioParams>,
    /// Set for a seed ensemble of the programme (`chaosim ensemble`): one
    /// cell, `seed` is the first seed and `n` the number of seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<EnsembleParams>,
    /// Set for a swarm (`chaosim swarm`): then the cells are the scenarios,
    /// `n` the seeds per scenario and `seed` the first seed; the rows file
    /// is `swarm.csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmParams>,
}

impl SweepParams {
    /// Number of cells.
    pub fn cells(&self) -> u64 {
        if self.ensemble.is_some() {
            return 1;
        }
        if let Some(sc) = &self.scenario {
            return sc.values_micro.len() as u64;
        }
        if let Some(sw) = &self.swarm {
            return sw.scenarios.len() as u64;
        }
        self.rates_ppm.len() as u64 * self.variants.len() as u64
    }

    /// The file of one row per experiment: `experiments.csv`, `seeds.csv`
    /// for an ensemble, `swarm.csv` for a swarm.
    pub fn rows_file(&self) -> &'static str {
        if self.ensemble.is_some() {
            SEEDS_FILE
        } else if self.swarm.is_some() {
            SWARM_FILE
        } else {
            EXPERIMENTS_FILE
        }
    }

    /// Every file a sweep of these parameters writes, the completion
    /// marker last.
    pub fn files(&self) -> Vec<&'static str> {
        let mut v = vec![self.rows_file(), SUMMARY_FILE];
        if self.ensemble.is_some() {
            v.push(crate::program::ensemble::WEEKS_FILE);
        }
        v.push(SHARD_FILE);
        v
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

/// A cell's aggregate as stored in `shard.ron`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellRecord {
    /// The cell number.
    pub cell: u32,
    /// See [`CellAggregate`].
    pub n: u64,
    /// See [`CellAggregate`].
    pub successes: u64,
    /// See [`CellAggregate`].
    pub partials: u64,
    /// See [`CellAggregate`].
    pub compensated: u64,
    /// See [`CellAggregate`].
    pub deadline_hits: u64,
    /// See [`CellAggregate`].
    pub breaker_opens: u64,
    /// See [`CellAggregate`].
    pub experiments_with_open: u64,
    /// See [`CellAggregate`].
    pub rejected: u64,
    /// See [`CellAggregate`].
    pub errors_503: u64,
    /// See [`CellAggregate`].
    pub errors_429: u64,
    /// See [`CellAggregate`].
    pub timeouts: u64,
    /// See [`CellAggregate`].
    pub bad_requests: u64,
    /// See [`CellAggregate`].
    pub latency_ns: IntMoments,
    /// See [`CellAggregate`].
    pub calls: IntMoments,
    /// See [`CellAggregate`].
    pub retries: IntMoments,
    /// Non-empty sketch buckets `(index, count)`.
    pub latency_buckets: Vec<(u32, u64)>,
}

/// The content of `shard.ron`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardMeta {
    /// [`SHARD_FORMAT`].
    pub format: u32,
    /// The digest algorithm of the rows' digests
    /// ([`DIGEST_FORMAT`](crate::engine::DIGEST_FORMAT); absent: 1).
    #[serde(default = "digest_format_1")]
    pub digest_format: u32,
    /// The command parameters.
    pub params: SweepParams,
    /// This shard's number, 1-based.
    pub shard: u32,
    /// The number of shards.
    pub shards: u32,
    /// First global experiment index of this shard.
    pub range_start: u64,
    /// One past the last global experiment index.
    pub range_end: u64,
    /// Size of `experiments.csv` in bytes.
    pub experiments_bytes: u64,
    /// FNV-1a of `experiments.csv`, 16 hex digits.
    pub experiments_fnv: String,
    /// Aggregates of the cells this shard touched, by cell number.
    pub cells: Vec<CellRecord>,
    /// For a scenario sweep: aggregates of the values this shard touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenario_cells: Vec<ScenarioCellRecord>,
    /// For a seed ensemble: the aggregate of this shard's seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<EnsembleAggregate>,
    /// For a swarm: aggregates of the scenarios this shard touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swarm_cells: Vec<SwarmCellRecord>,
    /// FNV-1a (16 hex digits) of this record with this field empty, as
    /// compact RON: the aggregates are covered by a checksum like the rows,
    /// so an edited `shard.ron` is refused by `merge` instead of merged
    /// (set by [`write_shard_meta`], checked by [`ShardMeta::read`]).
    #[serde(default)]
    pub meta_fnv: String,
}

/// Limits of `shard.ron` when it is read back (its cell aggregates can be
/// long: one line per array).
pub const SHARD_LIMITS: crate::input::Limits = crate::input::Limits {
    bytes_max: 256 * 1024 * 1024,
    line_max: 256 * 1024 * 1024,
};

impl ShardMeta {
    /// The checksum of this record without its `meta_fnv` (see the field).
    pub fn checksum(&self) -> String {
        let mut bare = self.clone();
        bare.meta_fnv.clear();
        let text = ron::to_string(&bare).expect("shard metadata serializes");
        let mut fnv = Fnv64::new();
        fnv.update(text.as_bytes());
        format!("{:016x}", fnv.value())
    }

    /// Read and parse `dir/shard.ron`, refusing one whose checksum does not
    /// match (edited aggregates) or that has none (written before it).
    pub fn read(dir: &Path) -> Result<ShardMeta> {
        let path = dir.join(SHARD_FILE);
        if fs::symlink_metadata(&path).is_err() {
            return Err(Error::Usage {
                flag: dir.display().to_string(),
                message: format!(
                    "not a complete sweep output (no {SHARD_FILE}): missing, still running or interrupted"
                ),
            });
        }
        let text = crate::input::read_text_limited(&path, SHARD_LIMITS)?;
        let meta: ShardMeta = crate::input::parse_ron(&text, &path)?;
        let invalid = |field: &str, message: String| {
            crate::input::locate_error(
                Error::Invalid {
                    path: path.clone(),
                    field: field.into(),
                    message,
                },
                &text,
            )
        };
        if meta.format != SHARD_FORMAT {
            return Err(invalid(
                "format",
                format!("{} is not the supported format {SHARD_FORMAT}", meta.format),
            ));
        }
        if meta.digest_format != crate::engine::DIGEST_FORMAT {
            return Err(invalid(
                "digest_format",
                format!(
                    "{} (its digests were computed by another chaosim; this one computes format {}): run the shard again",
                    meta.digest_format,
                    crate::engine::DIGEST_FORMAT
                ),
            ));
        }
        if meta.meta_fnv.is_empty() {
            return Err(invalid(
                "meta_fnv",
                "missing: the aggregates carry no checksum (written by an older chaosim); run the shard again".into(),
            ));
        }
        if meta.checksum() != meta.meta_fnv {
            return Err(invalid(
                "meta_fnv",
                "the parameters or aggregates do not match this checksum: the file was edited or corrupted".into(),
            ));
        }
        Ok(meta)
    }
}

/// An error about `field` of `dir/shard.ron`, with its line:column (the
/// file is read again, bounded, to find it).
pub(crate) fn meta_error(dir: &Path, field: &str, message: String) -> Error {
    let path = dir.join(SHARD_FILE);
    let e = Error::Invalid {
        path: path.clone(),
        field: field.into(),
        message,
    };
    match crate::input::read_text_limited(&path, SHARD_LIMITS) {
        Ok(text) => crate::input::locate_error(e, &text),
        Err(_) => e,
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

/// Stage `shard.ron` (with its checksum): the marker that the directory is
/// complete, renamed into place last by [`OutDir::commit`].
pub fn write_shard_meta(tx: &mut OutDir, meta: &ShardMeta) -> Result<()> {
    let mut meta = meta.clone();
    meta.meta_fnv = meta.checksum();
    let text = ron::ser::to_string_pretty(
        &meta,
        ron::ser::PrettyConfig::default().compact_arrays(true),
    )
    .map_err(|e| Error::Check(format!("serializing {SHARD_FILE}: {e}")))?;
    tx.write(SHARD_FILE, (text + "\n").as_bytes())
}

fn digest_format_1() -> u32 {
    1
}

/// Build the metadata of a directory from its parts.
pub fn shard_meta(
    params: &SweepParams,
    shard: Shard,
    range: (u64, u64),
    experiments: (u64, u64),
    cells: &[(u32, CellAggregate)],
) -> ShardMeta {
    ShardMeta {
        format: SHARD_FORMAT,
        digest_format: crate::engine::DIGEST_FORMAT,
        params: params.clone(),
        shard: shard.index,
        shards: shard.count,
        range_start: range.0,
        range_end: range.1,
        experiments_bytes: experiments.0,
        experiments_fnv: format!("{:016x}", experiments.1),
        cells: cells.iter().map(|(c, a)| a.to_record(*c)).collect(),
        scenario_cells: Vec::new(),
        ensemble: None,
        swarm_cells: Vec::new(),
        meta_fnv: String::new(),
    }
}

/// Check and create the output folder of a sweep-like command that writes
/// `names` into it (see [`OutDir::prepare`]): any of them existing is
/// refused unless `force`, which replaces exactly those files when the
/// command commits.
pub fn prepare_out_dir(out: &Path, names: &[&str], force: bool, flag: &str) -> Result<OutDir> {
    OutDir::prepare(out, names, force, flag)
}

/// What a merge produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeReport {
    /// Shards merged.
    pub shards: u32,
    /// Experiments in the merged output.
    pub experiments: u64,
    /// Cells in the merged summary.
    pub cells: u64,
}

/// Merge the shard directories `inputs` (any order) into `out`, giving the
/// files an unsharded run with the same parameters writes.
///
/// Refuses, with a message naming the directory or shard, before writing
/// anything: an input without `shard.ron`, shards of different sweeps
/// (seed, n, rates, variants, model, shard count), a shard given twice, a
/// missing shard, ranges that do not match `K/N`, or an `experiments.csv`
/// whose size differs from its metadata. A checksum mismatch found while
/// copying removes the partial output and is reported.
pub fn merge(inputs: &[PathBuf], out: &Path, force: bool) -> Result<MergeReport> {
    if inputs.is_empty() {
        return Err(Error::Usage {
            flag: "DIR".into(),
            message: "no shard directory given".into(),
        });
    }
    let mut metas = Vec::with_capacity(inputs.len());
    for dir in inputs {
        metas.push((dir.clone(), ShardMeta::read(dir)?));
    }
    let (first_dir, first) = (&metas[0].0, &metas[0].1);
    let params = first.params.clone();
    let count = first.shards;
    for (dir, m) in &metas[1..] {
        if let Some(diff) = params_difference(&params, &m.params) {
            return Err(Error::Usage {
                flag: dir.display().to_string(),
                message: format!(
                    "foreign shard: its {diff} differs from that of {}",
                    first_dir.display()
                ),
            });
        }
        if m.shards != count {
            return Err(Error::Usage {
                flag: dir.display().to_string(),
                message: format!(
                    "foreign shard: it is one of {} shards, {} is one of {count}",
                    m.shards,
                    first_dir.display()
                ),
            });
        }
    }
    let mut by_index: Vec<Option<usize>> = vec![None; count as usize];
    for (i, (dir, m)) in metas.iter().enumerate() {
        let k = m.shard;
        if k == 0 || k > count {
            return Err(Error::Usage {
                flag: dir.display().to_string(),
                message: format!("shard {k}/{count} is out of range"),
            });
        }
        if let Some(j) = by_index[k as usize - 1] {
            return Err(Error::Usage {
                flag: dir.display().to_string(),
                message: format!(
                    "duplicate shard: {k}/{count} is also given as {}",
                    metas[j].0.display()
                ),
            });
        }
        by_index[k as usize - 1] = Some(i);
        let shard = Shard { index: k, count };
        let expect = shard.range(params.total());
        if (m.range_start, m.range_end) != expect {
            return Err(Error::Usage {
                flag: dir.display().to_string(),
                message: format!(
                    "shard {k}/{count} covers experiments {}..{}, expected {}..{}",
                    m.range_start, m.range_end, expect.0, expect.1
                ),
            });
        }
        let csv = dir.join(params.rows_file());
        let len = crate::input::open_input(&csv)?
            .metadata()
            .map_err(|e| Error::io(&csv, e))?
            .len();
        if len != m.experiments_bytes {
            return Err(meta_error(
                dir,
                "experiments_bytes",
                format!(
                    "{} is {len} bytes, not the {} recorded here: truncated or modified",
                    csv.display(),
                    m.experiments_bytes
                ),
            ));
        }
    }
    let missing: Vec<String> = by_index
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(k, _)| format!("{}/{count}", k + 1))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage {
            flag: "DIR".into(),
            message: format!("missing shard(s) {}", missing.join(", ")),
        });
    }
    let out_canon = out.canonicalize().ok();
    for dir in inputs {
        if out_canon.is_some() && dir.canonicalize().ok() == out_canon {
            return Err(Error::Usage {
                flag: "--out".into(),
                message: format!("{} is also an input", dir.display()),
            });
        }
    }
    if let Some(sc) = &params.scenario {
        return merge_scenario(&params, sc, &metas, &by_index, out, force);
    }
    if let Some(en) = &params.ensemble {
        return merge_ensemble(&params, en, &metas, &by_index, out, force);
    }
    if let Some(sw) = &params.swarm {
        return merge_swarm(&params, sw, &metas, &by_index, out, force);
    }
    // Parse all aggregates before writing anything.
    let cells = fold_cells(
        &metas,
        &by_index,
        params.cells() as usize,
        "cells",
        |m| &m.cells,
        |r, path| Ok((r.cell, CellAggregate::from_record(r, path)?)),
    )?;
    let (mut tx, (bytes, fnv)) = write_merged_rows(
        &metas,
        &by_index,
        out,
        force,
        EXPERIMENTS_FILE,
        EXPERIMENTS_HEADER,
    )?;
    let experiments = cells.iter().map(|(_, a)| a.n).sum();
    write_summary(&mut tx, &params, &cells)?;
    let meta = shard_meta(
        &params,
        Shard::WHOLE,
        (0, params.total()),
        (bytes, fnv),
        &cells,
    );
    write_shard_meta(&mut tx, &meta)?;
    tx.commit()?;
    Ok(MergeReport {
        shards: count,
        experiments,
        cells: cells.len() as u64,
    })
}

/// Fold the per-cell aggregates every shard recorded into one aggregate per
/// cell, in cell order (cells no shard touched are left out). `records`
/// picks a shard's records, `parse` reads one into `(cell, aggregate)`;
/// a cell number not below `cells_n` is refused, naming `field` and the
/// shard's `shard.ron`. Shared by every kind of sweep.
pub(crate) fn fold_cells<R, A: Aggregate>(
    metas: &[(PathBuf, ShardMeta)],
    by_index: &[Option<usize>],
    cells_n: usize,
    field: &str,
    records: impl Fn(&ShardMeta) -> &[R],
    parse: impl Fn(&R, &Path) -> Result<(u32, A)>,
) -> Result<Vec<(u32, A)>> {
    let mut cells: Vec<Option<A>> = (0..cells_n).map(|_| None).collect();
    for slot in by_index {
        let (dir, m) = &metas[slot.expect("checked")];
        let path = dir.join(SHARD_FILE);
        for r in records(m) {
            let (cell, agg) = parse(r, &path)?;
            match cells.get_mut(cell as usize) {
                Some(Some(a)) => a.merge_from(&agg),
                Some(c @ None) => *c = Some(agg),
                None => {
                    return Err(Error::Invalid {
                        path,
                        field: field.into(),
                        message: format!("cell {cell} out of range"),
                    });
                }
            }
        }
    }
    Ok(cells
        .into_iter()
        .enumerate()
        .filter_map(|(i, a)| a.map(|a| (i as u32, a)))
        .collect())
}

/// Prepare `out` (for every file of the shards' kind) and stage the
/// shards' rows `file` concatenated (see [`copy_rows`]). Returns the
/// transaction and the merged file's size and checksum; dropped, the
/// transaction removes what it staged and the folder if it made it.
pub(crate) fn write_merged_rows(
    metas: &[(PathBuf, ShardMeta)],
    by_index: &[Option<usize>],
    out: &Path,
    force: bool,
    file: &str,
    header: &str,
) -> Result<(OutDir, (u64, u64))> {
    let names = metas[0].1.params.files();
    let mut tx = prepare_out_dir(out, &names, force, "--out")?;
    let sums = copy_rows(metas, by_index, &mut tx, file, header)?;
    Ok((tx, sums))
}

fn params_difference(a: &SweepParams, b: &SweepParams) -> Option<String> {
    if a.ensemble.is_some() || b.ensemble.is_some() {
        return ensemble_difference(a, b);
    }
    if a.seed != b.seed {
        return Some(format!("seed ({} vs {})", b.seed, a.seed));
    }
    if a.n != b.n {
        return Some(format!("n ({} vs {})", b.n, a.n));
    }
    if a.rates_ppm != b.rates_ppm {
        return Some("rates".into());
    }
    if a.variants != b.variants {
        return Some("variants".into());
    }
    if a.model_fingerprint != b.model_fingerprint {
        return Some("model or playbook (fingerprint)".into());
    }
    if a.scenario != b.scenario {
        return Some(
            "scenario sweep (scenario, parameter, values, difficulty or safeguards)".into(),
        );
    }
    if a.swarm != b.swarm {
        return Some("swarm (scenarios, first seed, difficulty, safeguards or files)".into());
    }
    None
}

/// Concatenate the shards' `file` (after `header`) into `out/file`,
/// checking each file's header and checksum.
pub(crate) fn copy_rows(
    metas: &[(PathBuf, ShardMeta)],
    by_index: &[Option<usize>],
    tx: &mut OutDir,
    file: &str,
    expected_header: &str,
) -> Result<(u64, u64)> {
    let mut sink = tx.sink(file)?;
    sink.write_raw(expected_header.as_bytes())?;
    let mut buf = vec![0u8; 1 << 20];
    for slot in by_index {
        let (dir, m) = &metas[slot.expect("checked")];
        let path = dir.join(file);
        let file = crate::input::open_input(&path)?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut line = Vec::new();
        crate::input::read_line_limited(&mut reader, &mut line, expected_header.len(), &path, 1)?;
        let header = String::from_utf8_lossy(&line).into_owned();
        if header != expected_header {
            return Err(Error::InvalidAt {
                path: path.clone(),
                line: 1,
                column: 1,
                field: "(header)".into(),
                message: "unexpected header: not a chaosim sweep file".into(),
            });
        }
        let mut fnv = Fnv64::new();
        fnv.update(header.as_bytes());
        loop {
            let got = reader.read(&mut buf).map_err(|e| Error::io(&path, e))?;
            if got == 0 {
                break;
            }
            fnv.update(&buf[..got]);
            sink.write_raw(&buf[..got])?;
        }
        if format!("{:016x}", fnv.value()) != m.experiments_fnv {
            return Err(meta_error(
                dir,
                "experiments_fnv",
                format!(
                    "{} does not match the checksum recorded here: modified or corrupted",
                    path.display()
                ),
            ));
        }
    }
    let bytes = sink.bytes_written();
    let fnv = sink.checksum();
    sink.finish()?;
    Ok((bytes, fnv))
}
