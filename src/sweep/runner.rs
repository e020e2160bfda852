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
//! experiments. Shards, the ordered runner and the merge are the batch
//! layer's, [`crate::shard`] (re-exported here).

use std::fmt::Write as _;
use std::path::PathBuf;

use super::agent::{ApiModel, ExperimentOutcome, Variant, experiment_seed, run_experiment_reusing};
use super::merge::{CellAggregate, CellSummary, SweepParams};
use super::proxy::RATE_PPM_MAX;
use crate::error::{Error, Result};
use crate::record::csv::fmt_ns_as_ms;
pub use crate::shard::{
    Aggregate, CHUNK_EXPERIMENTS, ChunkFn, N_MAX, Shard, THREADS_MAX, resolve_shard, run_ordered,
    run_ordered_chunked,
};

/// Largest number of rates in a grid.
pub const RATES_MAX: usize = 10_001;

/// The header of `experiments.csv`.
pub const EXPERIMENTS_HEADER: &str = "rate,variant,experiment,success,partial,compensated,latency_ms,calls,retries,rejected,breaker_opens,errors_503,errors_429,timeouts,bad_requests,wait_ms,events,digest\n";
/// The header of `summary.csv`.
pub const SUMMARY_HEADER: &str = "rate,variant,n,successes,success_rate,ci_low,ci_high,partials,partial_rate,compensated,deadline_hits,latency_mean_ms,latency_sd_ms,latency_mean_ci_low_ms,latency_mean_ci_high_ms,latency_p50_ms,latency_p95_ms,latency_p99_ms,latency_max_ms,calls_mean,retries_mean,rejected,breaker_opens,experiments_with_breaker_open,errors_503,errors_429,timeouts\n";

/// Parse a rate in `[0, 1]` with at most six decimals into parts per million.
pub fn parse_rate(text: &str, flag: &str) -> Result<u32> {
    parse_millionths(text, flag, 1.0, "rate ").map(|ppm| ppm as u32)
}

/// Format a rate in parts per million as a decimal (`50000` → `0.05`).
pub fn format_rate(ppm: u32) -> String {
    format_millionths(u64::from(ppm))
}

/// Parse a decimal in `0..=max` with at most six decimals into millionths;
/// `what` names the number in messages (`"rate "` or `""`).
pub(crate) fn parse_millionths(text: &str, flag: &str, max: f64, what: &str) -> Result<u64> {
    let t = text.trim();
    let x: f64 = t
        .parse()
        .map_err(|_| Error::usage(flag, format!("'{t}' is not a number")))?;
    if !x.is_finite() || !(0.0..=max).contains(&x) {
        return Err(Error::usage(
            flag,
            format!("{what}{t} is outside 0..={max}"),
        ));
    }
    let micro = (x * 1e6).round();
    // A positive number below the resolution would silently become 0.
    if (x * 1e6 - micro).abs() > 1e-6 * x.max(1.0) || (x > 0.0 && micro == 0.0) {
        return Err(Error::usage(
            flag,
            format!("{what}{t} has more than six decimals (resolution 0.000001)"),
        ));
    }
    Ok(micro as u64)
}

/// Format millionths as a decimal (`1500000` → `1.5`).
pub(crate) fn format_millionths(micro: u64) -> String {
    let (whole, frac) = (micro / 1_000_000, micro % 1_000_000);
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
        [a, b, c] => (parse_rate(a, FLAG)?, parse_rate(b, FLAG)?, {
            if c.trim().parse::<f64>().is_ok_and(|step| step < 0.0) {
                return Err(Error::usage(
                    FLAG,
                    format!("'{text}': STEP {} must be above 0", c.trim()),
                ));
            }
            parse_millionths(c, FLAG, 1.0, "STEP ")? as u32
        }),
        _ => {
            return Err(Error::usage(
                FLAG,
                format!("'{text}' is not FROM:TO:STEP (e.g. 0:0.5:0.05)"),
            ));
        }
    };
    if from > to {
        return Err(Error::usage(
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
        return Err(Error::usage(
            FLAG,
            format!("'{text}': STEP must be above 0"),
        ));
    }
    let count = (to - from) / step + 1;
    if count as usize > RATES_MAX {
        return Err(Error::usage(
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
            Error::usage(
                "--variants",
                format!("unknown variant '{name}'; known: baseline, playbook"),
            )
        })?;
        if out.contains(&v) {
            return Err(Error::usage(
                "--variants",
                format!("'{name}' is given twice"),
            ));
        }
        out.push(v);
    }
    out.sort();
    Ok(out)
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
            return Err(Error::usage(
                "--n",
                format!("{} is outside 1..={N_MAX}", self.n),
            ));
        }
        if self.rates_ppm.is_empty() || self.rates_ppm.len() > RATES_MAX {
            return Err(Error::usage(
                "--rates",
                format!("need 1..={RATES_MAX} rates"),
            ));
        }
        if let Some(r) = self.rates_ppm.iter().find(|&&r| r > RATE_PPM_MAX) {
            return Err(Error::usage(
                "--rates",
                format!("rate {} is outside 0..=1", *r as f64 / 1e6),
            ));
        }
        if self.variants.is_empty() {
            return Err(Error::usage("--variants", "no variant"));
        }
        if self.variants.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::usage(
                "--variants",
                "must be distinct, in canonical order",
            ));
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
    /// Told the experiments each finished chunk ran (a progress bar).
    pub progress: crate::shard::Progress,
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
    let mut queue = crate::engine::EventQueue::new();
    for e in experiments {
        let o = run_experiment_reusing(
            &mut queue,
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
        return Err(Error::usage(
            "--threads",
            format!("{} is outside 1..={THREADS_MAX}", opts.threads),
        ));
    }
    let params = spec.params(model);
    let mut files = crate::shard::ShardOut::<super::merge::ApiSweep>::open(
        &params,
        opts.shard,
        Some(&opts.out),
        opts.force,
    )?;
    let range = files.range();

    let mut cells: Vec<(u32, CellAggregate)> = Vec::new();
    let mut summaries = Vec::new();
    let events_total = run_ordered(
        opts.threads,
        spec.n,
        range,
        files.sink(),
        &|cell, lo, hi, rows: &mut String| {
            let r = run_cell_range(model, params.seed, params.cell(cell), lo..hi, Some(rows));
            opts.progress.add(hi - lo);
            r
        },
        &mut |c, a: CellAggregate| {
            let (_, rate, v) = params.cell(c);
            let s = a.summarize(rate, v);
            on_cell(&s);
            summaries.push(s);
            cells.push((c as u32, a));
        },
    )?;
    files.finish(&cells)?;
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
        let message = |text: &str| parse_rates(text).unwrap_err().to_string();
        // A negative step is named as the step, not as a rate.
        let m = message("0:0.2:-0.1");
        assert!(m.contains("STEP -0.1 must be above 0"), "{m}");
        // A positive rate below the resolution is refused, not made 0.
        for tiny in ["1e-320", "1e-13", "0.0000004"] {
            let m = message(tiny);
            assert!(m.contains("more than six decimals"), "{tiny}: {m}");
        }
        assert_eq!(parse_rates("0.000001").unwrap(), vec![1]);
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
}
