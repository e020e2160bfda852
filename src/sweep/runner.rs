//! The sweep grid, shard selection and the parallel deterministic runner.
//!
//! # Order and determinism
//! The experiments of a sweep are numbered globally:
//! `global = cell · n + experiment`, with `cell = rate_index · variants +
//! variant_index`. `experiments.csv` lists them in that order; each
//! experiment's random streams derive from
//! [`experiment_seed`] alone. Workers take
//! **chunks** (at most [`CHUNK_EXPERIMENTS`] experiments of one cell) in
//! increasing order, format their rows and fold a chunk aggregate; the
//! calling thread writes chunks strictly in order. A worker may run ahead of
//! the writer by at most a **window** of `4 · threads` chunks, so memory is
//! bounded by the window whatever `n`, and the bytes do not depend on the
//! thread count.
//!
//! # Shards
//! Shard `K/N` runs the global range `[⌊(K−1)·T/N⌋, ⌊K·T/N⌋)` of the `T`
//! experiments. See [`resolve_shard`] for the environment variables of Slurm
//! job arrays and Kubernetes Indexed Jobs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};

use super::agent::{ApiModel, ExperimentOutcome, Variant, experiment_seed, run_experiment};
use super::merge::{
    CellAggregate, CellSummary, EXPERIMENTS_FILE, SweepParams, prepare_out_dir, shard_meta,
    write_shard_meta, write_summary,
};
use super::proxy::RATE_PPM_MAX;
use crate::error::{Error, Result};
use crate::record::csv::{CsvSink, fmt_ns_as_ms};

/// Experiments per chunk of work.
pub const CHUNK_EXPERIMENTS: u64 = 1024;
/// Largest `n` (experiments per cell).
pub const N_MAX: u64 = 1_000_000_000_000;
/// Largest number of rates in a grid.
pub const RATES_MAX: usize = 10_001;
/// Largest thread count.
pub const THREADS_MAX: usize = 1024;

/// The header of `experiments.csv`.
pub const EXPERIMENTS_HEADER: &str = "rate,variant,experiment,success,partial,compensated,latency_ms,calls,retries,rejected,breaker_opens,errors_503,errors_429,timeouts,bad_requests,wait_ms,events,digest\n";
/// The header of `summary.csv`.
pub const SUMMARY_HEADER: &str = "rate,variant,n,successes,success_rate,ci_low,ci_high,partials,partial_rate,compensated,deadline_hits,latency_mean_ms,latency_sd_ms,latency_mean_ci_low_ms,latency_mean_ci_high_ms,latency_p50_ms,latency_p95_ms,latency_p99_ms,latency_max_ms,calls_mean,retries_mean,rejected,breaker_opens,experiments_with_breaker_open,errors_503,errors_429,timeouts\n";

fn usage(flag: &str, message: impl Into<String>) -> Error {
    Error::Usage {
        flag: flag.into(),
        message: message.into(),
    }
}

/// Parse a rate in `[0, 1]` with at most six decimals into parts per million.
pub fn parse_rate(text: &str, flag: &str) -> Result<u32> {
    let t = text.trim();
    let x: f64 = t
        .parse()
        .map_err(|_| usage(flag, format!("'{t}' is not a number")))?;
    if !x.is_finite() || !(0.0..=1.0).contains(&x) {
        return Err(usage(flag, format!("rate {t} is outside 0..=1")));
    }
    let ppm = (x * 1e6).round();
    if (x * 1e6 - ppm).abs() > 1e-6 {
        return Err(usage(
            flag,
            format!("rate {t} has more than six decimals (resolution 0.000001)"),
        ));
    }
    Ok(ppm as u32)
}

/// Format a rate in parts per million as a decimal (`50000` → `0.05`).
pub fn format_rate(ppm: u32) -> String {
    let whole = ppm / RATE_PPM_MAX;
    let frac = ppm % RATE_PPM_MAX;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Parse `FROM:TO:STEP` (inclusive of TO; FROM = TO gives one rate; a single
/// number is one rate) into rates in parts per million. The grid is computed
/// in integers, so `0:0.5:0.05` has exactly 11 rates.
pub fn parse_rates(text: &str) -> Result<Vec<u32>> {
    const FLAG: &str = "--rates";
    let parts: Vec<&str> = text.split(':').collect();
    let (from, to, step) = match parts.as_slice() {
        [one] => {
            let r = parse_rate(one, FLAG)?;
            return Ok(vec![r]);
        }
        [a, b, c] => (
            parse_rate(a, FLAG)?,
            parse_rate(b, FLAG)?,
            parse_rate(c, FLAG)?,
        ),
        _ => {
            return Err(usage(
                FLAG,
                format!("'{text}' is not FROM:TO:STEP (e.g. 0:0.5:0.05)"),
            ));
        }
    };
    if from > to {
        return Err(usage(
            FLAG,
            format!(
                "'{text}': FROM {} is above TO {}",
                format_rate(from),
                format_rate(to)
            ),
        ));
    }
    if step == 0 {
        if from == to {
            return Ok(vec![from]);
        }
        return Err(usage(FLAG, format!("'{text}': STEP must be above 0")));
    }
    let count = (to - from) / step + 1;
    if count as usize > RATES_MAX {
        return Err(usage(
            FLAG,
            format!("'{text}' gives {count} rates; at most {RATES_MAX}"),
        ));
    }
    Ok((0..count).map(|i| from + i * step).collect())
}

/// Parse a comma-separated list of variants; the result is in canonical
/// order (baseline, playbook) whatever the order given.
pub fn parse_variants(text: &str) -> Result<Vec<Variant>> {
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim) {
        let v = Variant::parse(name).ok_or_else(|| {
            usage(
                "--variants",
                format!("unknown variant '{name}'; known: baseline, playbook"),
            )
        })?;
        if out.contains(&v) {
            return Err(usage("--variants", format!("'{name}' is given twice")));
        }
        out.push(v);
    }
    out.sort();
    Ok(out)
}

/// One shard of a sweep: `index` of `count`, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `1..=count`.
    pub index: u32,
    /// The number of shards.
    pub count: u32,
}

impl Shard {
    /// The whole sweep as one shard.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// A checked shard.
    pub fn new(index: u32, count: u32, flag: &str) -> Result<Shard> {
        if count == 0 || index == 0 || index > count {
            return Err(usage(
                flag,
                format!("shard {index}/{count}: need 1 <= K <= N"),
            ));
        }
        Ok(Shard { index, count })
    }

    /// Parse `K/N`.
    pub fn parse(text: &str) -> Result<Shard> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| usage("--shard", format!("'{text}' is not K/N (e.g. 2/8)")))?;
        let k: u32 = k
            .trim()
            .parse()
            .map_err(|_| usage("--shard", format!("'{text}': K is not a number")))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| usage("--shard", format!("'{text}': N is not a number")))?;
        Shard::new(k, n, "--shard")
    }

    /// The global experiment range `[start, end)` of this shard among `total`.
    pub fn range(self, total: u64) -> (u64, u64) {
        let at = |k: u64| ((k as u128 * total as u128) / self.count as u128) as u64;
        (at(self.index as u64 - 1), at(self.index as u64))
    }
}

fn env_u64(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<Option<u64>> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| usage(name, format!("'{v}' is not a non-negative integer"))),
    }
}

/// Select the shard: `--shard K/N` wins; else a Slurm job array
/// (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_MIN` (default 0),
/// `SLURM_ARRAY_TASK_STEP` (default 1), `SLURM_ARRAY_TASK_COUNT`:
/// `K = (ID − MIN) / STEP`, `N = COUNT`, refused unless `ID − MIN` is a
/// multiple of STEP and `K < COUNT`); else a Kubernetes Indexed Job
/// (`JOB_COMPLETION_INDEX` = K, 0-based, with `N` from `shard_count`,
/// required); else the whole sweep. `env` reads a variable (pass
/// `|k| std::env::var(k).ok()`). Returned shards are 1-based.
pub fn resolve_shard(
    flag: Option<&str>,
    shard_count: Option<u32>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Shard> {
    if let Some(text) = flag {
        return Shard::parse(text);
    }
    if let Some(id) = env_u64(env, "SLURM_ARRAY_TASK_ID")? {
        let count = env_u64(env, "SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
            usage(
                "SLURM_ARRAY_TASK_COUNT",
                "unset while SLURM_ARRAY_TASK_ID is set; pass --shard K/N",
            )
        })?;
        let min = env_u64(env, "SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = env_u64(env, "SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
        if step == 0 {
            return Err(usage("SLURM_ARRAY_TASK_STEP", "is 0"));
        }
        if id < min || (id - min) % step != 0 {
            return Err(usage(
                "SLURM_ARRAY_TASK_ID",
                format!("{id} is not MIN {min} plus a multiple of STEP {step}"),
            ));
        }
        let k = (id - min) / step;
        if k >= count || count > u32::MAX as u64 {
            return Err(usage(
                "SLURM_ARRAY_TASK_ID",
                format!(
                    "task {id} maps to shard index {k}, not below COUNT {count}: use --array=MIN-MAX[:STEP] without gaps, or pass --shard K/N"
                ),
            ));
        }
        return Shard::new(k as u32 + 1, count as u32, "SLURM_ARRAY_TASK_ID");
    }
    if let Some(index) = env_u64(env, "JOB_COMPLETION_INDEX")? {
        let count = shard_count.ok_or_else(|| {
            usage(
                "--shard-count",
                "JOB_COMPLETION_INDEX is set: pass --shard-count N (the Job's completions)",
            )
        })?;
        if index >= count as u64 {
            return Err(usage(
                "JOB_COMPLETION_INDEX",
                format!("{index} is not below --shard-count {count}"),
            ));
        }
        return Shard::new(index as u32 + 1, count, "JOB_COMPLETION_INDEX");
    }
    if let Some(count) = shard_count {
        return Err(usage(
            "--shard-count",
            format!("{count} given but no JOB_COMPLETION_INDEX is set; pass --shard K/N"),
        ));
    }
    Ok(Shard::WHOLE)
}

/// What to sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepSpec {
    /// Root seed.
    pub seed: u64,
    /// Experiments per (rate, variant), 1..=10^12.
    pub n: u64,
    /// Failure rates in parts per million (from [`parse_rates`]).
    pub rates_ppm: Vec<u32>,
    /// Variants, canonical order (from [`parse_variants`]).
    pub variants: Vec<Variant>,
}

impl Default for SweepSpec {
    /// Seed 42, n 1000, rates 0:0.5:0.05, both variants.
    fn default() -> Self {
        SweepSpec {
            seed: 42,
            n: 1000,
            rates_ppm: parse_rates("0:0.5:0.05").expect("valid default"),
            variants: Variant::ALL.to_vec(),
        }
    }
}

impl SweepSpec {
    /// Check the spec (flags named as on the command line).
    pub fn validate(&self) -> Result<()> {
        if !(1..=N_MAX).contains(&self.n) {
            return Err(usage("--n", format!("{} is outside 1..={N_MAX}", self.n)));
        }
        if self.rates_ppm.is_empty() || self.rates_ppm.len() > RATES_MAX {
            return Err(usage("--rates", format!("need 1..={RATES_MAX} rates")));
        }
        if let Some(r) = self.rates_ppm.iter().find(|&&r| r > RATE_PPM_MAX) {
            return Err(usage(
                "--rates",
                format!("rate {} is outside 0..=1", *r as f64 / 1e6),
            ));
        }
        if self.variants.is_empty() {
            return Err(usage("--variants", "no variant"));
        }
        if self.variants.windows(2).any(|w| w[0] >= w[1]) {
            return Err(usage("--variants", "must be distinct, in canonical order"));
        }
        Ok(())
    }

    /// The parameters recorded in `shard.ron`.
    pub fn params(&self, model: &ApiModel) -> SweepParams {
        SweepParams {
            seed: self.seed,
            n: self.n,
            rates_ppm: self.rates_ppm.clone(),
            variants: self.variants.clone(),
            model_fingerprint: format!("{:016x}", model.fingerprint()),
            scenario: None,
            ensemble: None,
            swarm: None,
        }
    }
}

/// How to run a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepOptions {
    /// Worker threads, 1..=1024.
    pub threads: usize,
    /// Which slice to run.
    pub shard: Shard,
    /// The output directory.
    pub out: PathBuf,
    /// Overwrite a complete output directory.
    pub force: bool,
}

/// What a sweep produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepReport {
    /// Experiments run.
    pub experiments: u64,
    /// Simulation events handled, summed.
    pub events: u64,
    /// The summaries of the cells this shard touched, in cell order.
    pub cells: Vec<CellSummary>,
}

/// Format one `experiments.csv` row.
pub fn push_experiment_row(
    line: &mut String,
    rate_ppm: u32,
    variant: Variant,
    experiment: u64,
    o: &ExperimentOutcome,
) {
    line.push_str(&format_rate(rate_ppm));
    line.push(',');
    line.push_str(variant.name());
    let _ = write!(
        line,
        ",{},{},{},{},",
        experiment, o.success as u8, o.partial as u8, o.compensated as u8
    );
    fmt_ns_as_ms(line, o.latency_ns);
    let _ = write!(
        line,
        ",{},{},{},{},{},{},{},{},",
        o.calls,
        o.retries,
        o.rejected,
        o.breaker_opens,
        o.errors_503,
        o.errors_429,
        o.timeouts,
        o.bad_requests
    );
    fmt_ns_as_ms(line, o.wait_ns);
    let _ = writeln!(line, ",{},{:016x}", o.events, o.digest);
}

/// Run `experiments` of one cell `(rate_index, rate_ppm, variant)` sequentially and aggregate them
/// (the building block of the runner; also handy in tests).
pub fn run_cell_range(
    model: &ApiModel,
    seed: u64,
    cell: (u64, u32, Variant),
    experiments: std::ops::Range<u64>,
    mut rows: Option<&mut String>,
) -> Result<(CellAggregate, u64)> {
    let (rate_index, rate_ppm, variant) = cell;
    let mut agg = CellAggregate::default();
    let mut events = 0;
    for e in experiments {
        let o = run_experiment(
            model,
            variant,
            rate_ppm,
            experiment_seed(seed, rate_index, variant, e),
        )?;
        events += o.events;
        agg.push(&o);
        if let Some(buf) = rows.as_deref_mut() {
            push_experiment_row(buf, rate_ppm, variant, e, &o);
        }
    }
    Ok((agg, events))
}

#[derive(Clone, Copy)]
struct Chunk {
    idx: u64,
    cell: u64,
    lo: u64,
    hi: u64,
}

struct Cursor {
    next_global: u64,
    end: u64,
    n: u64,
    idx: u64,
    chunk: u64,
}

impl Cursor {
    fn next(&mut self) -> Option<Chunk> {
        if self.next_global >= self.end {
            return None;
        }
        let g = self.next_global;
        let cell = g / self.n;
        let lo = g % self.n;
        let aligned = (lo / self.chunk + 1) * self.chunk;
        let hi = aligned.min(self.n).min(lo + (self.end - g));
        self.next_global = g + (hi - lo);
        let c = Chunk {
            idx: self.idx,
            cell,
            lo,
            hi,
        };
        self.idx += 1;
        Some(c)
    }
}

struct ChunkOut<A> {
    idx: u64,
    cell: u64,
    rows: String,
    result: Result<(A, u64)>,
}

struct Gate {
    written: Mutex<(u64, bool)>,
    cv: Condvar,
}

/// An aggregate of experiments that merges exactly (integer counts and
/// sketches), so chunk aggregates fold into the cell's aggregate.
pub trait Aggregate: Default + Send {
    /// Fold in another aggregate of the same cell.
    fn merge_from(&mut self, other: &Self);
}

impl Aggregate for CellAggregate {
    fn merge_from(&mut self, other: &Self) {
        self.merge(other);
    }
}

/// Runs experiments `lo..hi` of a cell: `(cell, lo, hi, rows)` gives the
/// chunk's aggregate and event count.
pub type ChunkFn<'a, A> = dyn Fn(u64, u64, u64, &mut String) -> Result<(A, u64)> + Sync + 'a;

/// The parallel ordered engine shared by every kind of sweep: runs the
/// global experiment `range` (experiments numbered `cell · n + experiment`)
/// in chunks of at most [`CHUNK_EXPERIMENTS`] on `threads` workers,
/// `run(cell, lo, hi, rows)` runs experiments `lo..hi` of `cell`, appends
/// their rows and returns their aggregate and event count. Rows are written
/// to `sink` strictly in order; `on_cell(cell, aggregate)` is called in cell
/// order when a cell's last chunk is written. Workers run at most `4 ·
/// threads` chunks ahead of the writer. Returns the events summed.
pub fn run_ordered<A: Aggregate>(
    threads: usize,
    n: u64,
    range: (u64, u64),
    sink: &mut CsvSink,
    run: &ChunkFn<'_, A>,
    on_cell: &mut dyn FnMut(u64, A),
) -> Result<u64> {
    run_ordered_chunked(threads, n, range, CHUNK_EXPERIMENTS, sink, run, on_cell)
}

/// [`run_ordered`] with chunks of at most `chunk` experiments (at least 1),
/// for experiments that take seconds each (seed ensembles use 1). The bytes
/// written do not depend on `chunk` or on `threads`.
pub fn run_ordered_chunked<A: Aggregate>(
    threads: usize,
    n: u64,
    range: (u64, u64),
    chunk: u64,
    sink: &mut CsvSink,
    run: &ChunkFn<'_, A>,
    on_cell: &mut dyn FnMut(u64, A),
) -> Result<u64> {
    let window = 4 * threads as u64;
    let cursor = Mutex::new(Cursor {
        next_global: range.0,
        end: range.1,
        n,
        idx: 0,
        chunk: chunk.max(1),
    });
    let gate = Gate {
        written: Mutex::new((0, false)),
        cv: Condvar::new(),
    };
    let mut events_total = 0u64;

    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<ChunkOut<A>>();
        for _ in 0..threads {
            let tx = tx.clone();
            let (cursor, gate) = (&cursor, &gate);
            scope.spawn(move || {
                loop {
                    let Some(chunk) = cursor.lock().expect("cursor").next() else {
                        break;
                    };
                    {
                        let mut w = gate.written.lock().expect("gate");
                        while chunk.idx >= w.0 + window && !w.1 {
                            w = gate.cv.wait(w).expect("gate");
                        }
                        if w.1 {
                            break;
                        }
                    }
                    let mut rows = String::with_capacity(((chunk.hi - chunk.lo) * 96) as usize);
                    let result = run(chunk.cell, chunk.lo, chunk.hi, &mut rows);
                    let out = ChunkOut {
                        idx: chunk.idx,
                        cell: chunk.cell,
                        rows,
                        result,
                    };
                    if tx.send(out).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let abort = |gate: &Gate| {
            let mut w = gate.written.lock().expect("gate");
            w.1 = true;
            gate.cv.notify_all();
        };
        let mut pending: BTreeMap<u64, ChunkOut<A>> = BTreeMap::new();
        let mut next = 0u64;
        let mut current: Option<(u64, A)> = None;
        for out in rx {
            pending.insert(out.idx, out);
            while let Some(out) = pending.remove(&next) {
                let step = (|| -> Result<()> {
                    let (agg, events) = out.result?;
                    sink.write_raw(out.rows.as_bytes())?;
                    events_total += events;
                    match current.as_mut() {
                        Some((c, a)) if *c == out.cell => a.merge_from(&agg),
                        _ => {
                            if let Some((c, a)) = current.take() {
                                on_cell(c, a);
                            }
                            current = Some((out.cell, agg));
                        }
                    }
                    Ok(())
                })();
                if let Err(e) = step {
                    abort(&gate);
                    return Err(e);
                }
                next += 1;
                let mut w = gate.written.lock().expect("gate");
                w.0 = next;
                gate.cv.notify_all();
            }
        }
        if let Some((c, a)) = current.take() {
            on_cell(c, a);
        }
        Ok(())
    })?;
    Ok(events_total)
}

/// Run a sweep (or one shard of it) and write `experiments.csv`,
/// `summary.csv` and `shard.ron` into `opts.out`. `on_cell` is called, in
/// order, with the summary of each cell as soon as its last chunk is
/// written.
///
/// Everything is validated before the output directory is created; a
/// complete output directory is refused unless `opts.force`.
pub fn run_sweep(
    model: &ApiModel,
    spec: &SweepSpec,
    opts: &SweepOptions,
    on_cell: &mut dyn FnMut(&CellSummary),
) -> Result<SweepReport> {
    spec.validate()?;
    if !(1..=THREADS_MAX).contains(&opts.threads) {
        return Err(usage(
            "--threads",
            format!("{} is outside 1..={THREADS_MAX}", opts.threads),
        ));
    }
    let params = spec.params(model);
    let total = params.total();
    let range = opts.shard.range(total);
    let mut tx = prepare_out_dir(&opts.out, &params.files(), opts.force, "--out")?;

    let mut sink = tx.sink(EXPERIMENTS_FILE)?;
    sink.write_raw(EXPERIMENTS_HEADER.as_bytes())?;

    let mut cells: Vec<(u32, CellAggregate)> = Vec::new();
    let mut summaries = Vec::new();
    let events_total = run_ordered(
        opts.threads,
        spec.n,
        range,
        &mut sink,
        &|cell, lo, hi, rows: &mut String| {
            run_cell_range(model, params.seed, params.cell(cell), lo..hi, Some(rows))
        },
        &mut |c, a: CellAggregate| {
            let (_, rate, v) = params.cell(c);
            let s = a.summarize(rate, v);
            on_cell(&s);
            summaries.push(s);
            cells.push((c as u32, a));
        },
    )?;
    let bytes = sink.bytes_written();
    let fnv = sink.checksum();
    sink.finish()?;
    write_summary(&mut tx, &params, &cells)?;
    write_shard_meta(
        &mut tx,
        &shard_meta(&params, opts.shard, range, (bytes, fnv), &cells),
    )?;
    tx.commit()?;
    Ok(SweepReport {
        experiments: range.1 - range.0,
        events: events_total,
        cells: summaries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_grid_is_inclusive_and_exact() {
        let r = parse_rates("0:0.5:0.05").unwrap();
        assert_eq!(r.len(), 11);
        assert_eq!(r[10], 500_000);
        assert_eq!(parse_rates("0.3:0.3:0.1").unwrap(), vec![300_000]);
        assert_eq!(parse_rates("0.2").unwrap(), vec![200_000]);
        assert_eq!(
            parse_rates("0:1:0.3").unwrap(),
            vec![0, 300_000, 600_000, 900_000]
        );
        for bad in [
            "0.5:0.1:0.1",
            "0:1.5:0.1",
            "0:0.5:0",
            "-0.1:0.5:0.1",
            "a:b:c",
            "0:1",
            "0:0.5:0.0000001",
        ] {
            assert!(parse_rates(bad).is_err(), "{bad}");
        }
        assert_eq!(format_rate(50_000), "0.05");
        assert_eq!(format_rate(0), "0");
        assert_eq!(format_rate(1_000_000), "1");
        assert_eq!(format_rate(123_456), "0.123456");
    }

    #[test]
    fn variants_parse_to_canonical_order() {
        assert_eq!(
            parse_variants("playbook,baseline").unwrap(),
            vec![Variant::Baseline, Variant::Playbook]
        );
        assert!(parse_variants("baseline,chaos").is_err());
        assert!(parse_variants("baseline,baseline").is_err());
    }

    #[test]
    fn shard_ranges_tile_the_sweep() {
        for total in [0u64, 1, 7, 22_000, 1_000_003] {
            for count in 1..=7 {
                let mut end = 0;
                for k in 1..=count {
                    let (a, b) = Shard { index: k, count }.range(total);
                    assert_eq!(a, end);
                    end = b;
                }
                assert_eq!(end, total);
            }
        }
        assert!(Shard::parse("0/4").is_err());
        assert!(Shard::parse("5/4").is_err());
        assert!(Shard::parse("2of4").is_err());
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
    }

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn slurm_array_maps_to_shards() {
        // --array=0-6:2 gives IDs 0,2,4,6 with COUNT 4, STEP 2.
        let e = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            resolve_shard(None, None, &e).unwrap(),
            Shard { index: 3, count: 4 }
        );
        // --array=1-4: IDs 1..4.
        let e = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            resolve_shard(None, None, &e).unwrap(),
            Shard { index: 1, count: 4 }
        );
        // --array=1,5,7 (COUNT 3): task 5 maps to index 4, refused.
        let e = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert!(resolve_shard(None, None, &e).is_err());
        // ID off the step grid.
        let e = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(resolve_shard(None, None, &e).is_err());
        // --shard wins over the environment.
        assert_eq!(
            resolve_shard(Some("2/3"), None, &e).unwrap(),
            Shard { index: 2, count: 3 }
        );
    }

    #[test]
    fn kubernetes_index_needs_a_count() {
        let e = env_of(&[("JOB_COMPLETION_INDEX", "0")]);
        assert_eq!(
            resolve_shard(None, Some(4), &e).unwrap(),
            Shard { index: 1, count: 4 }
        );
        assert!(resolve_shard(None, None, &e).is_err());
        let e = env_of(&[("JOB_COMPLETION_INDEX", "4")]);
        assert!(resolve_shard(None, Some(4), &e).is_err());
        let none = env_of(&[]);
        assert_eq!(resolve_shard(None, None, &none).unwrap(), Shard::WHOLE);
        assert!(resolve_shard(None, Some(4), &none).is_err());
    }
}
