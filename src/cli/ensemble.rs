//! `chaosim ensemble`: flag parsing and printing only; the work is in
//! [`chaosim::program::ensemble`].

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chaosim::program::Programme;
use chaosim::program::ensemble::{EnsembleOptions, EnsembleSpec, parse_seeds, run_ensemble};
use chaosim::report::ReportKind;
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::run::Runner;
use chaosim::{Error, Result};

/// The flags of `chaosim ensemble`.
#[derive(clap::Args, Debug)]
pub struct EnsembleArgs {
    /// Seeds FROM:TO, inclusive (or one seed).
    #[arg(long, value_name = "FROM:TO")]
    seeds: String,
    /// Programme years per seed.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    years: u32,
    /// Run only this many days per seed (a short programme), instead of --years.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=366_000), conflicts_with = "years")]
    days: Option<u32>,
    /// Threads and shard.
    #[command(flatten)]
    workers: super::ShardArgs,
    /// Output directory.
    #[arg(long, default_value = "reports/ensemble")]
    out: PathBuf,
    /// Overwrite a complete output directory.
    #[arg(long)]
    force: bool,
    /// Safeguards deployed at the start (default, none, all, +name,-name).
    #[arg(long, default_value = "default", allow_hyphen_values = true)]
    safeguards: String,
    /// Read the programme from this RON file instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    programme: Option<PathBuf>,
    /// Do not write the report.
    #[arg(long)]
    no_report: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// Print the summary as one JSON object (shard, seeds, runs, events,
    /// mastered and still failing: mean, p10, p50, p90; the report) instead
    /// of the text; the per-seed progress lines stay on stderr.
    #[arg(long)]
    json: bool,
    /// Stack and scenarios.
    #[command(flatten)]
    inputs: super::sim::Inputs,
}

/// Run `chaosim ensemble`.
pub fn ensemble(a: EnsembleArgs) -> Result<ExitCode> {
    let (seed_from, seed_to) = parse_seeds(&a.seeds)?;
    let loaded = a.inputs.load()?;
    loaded.check_every_level()?;
    let prog = match &a.programme {
        Some(p) => Programme::load(p)?,
        None => Programme::embedded(),
    };
    let initial_deployed =
        SafeguardSet::from_spec(&a.safeguards, loaded.stack.default_safeguards()).map_err(
            |message| Error::Usage {
                flag: "--safeguards".into(),
                message,
            },
        )?;
    let runs_total = match a.days {
        Some(d) => d as u64 * prog.slots.len() as u64,
        None => a.years as u64 * prog.runs_per_year(),
    };
    let spec = EnsembleSpec {
        seed_from,
        seed_to,
        runs_total,
        initial_deployed,
        inputs_fingerprint: prog.fingerprint
            ^ loaded.catalogue.fingerprint()
            ^ loaded.stack_fingerprint,
    };
    let (shard, threads) = a.workers.resolve()?;
    let opts = EnsembleOptions {
        threads,
        shard,
        out: a.out.clone(),
        force: a.force,
    };
    if !a.no_report {
        // The report's files count too: checked before anything is written.
        super::check_report(&a.out, ReportKind::Ensemble, a.force)?;
    }
    let runner = Runner {
        catalogue: &loaded.catalogue,
        stack: &loaded.stack,
        threads: 1,
    };
    let done = AtomicU64::new(0);
    let quiet = a.quiet;
    let wall = Instant::now();
    // The seeds this process runs (its shard's slice), for the count and
    // the time left.
    let (lo, hi) = opts.shard.range(seed_to - seed_from + 1);
    let total = hi - lo;
    // On a terminal a bar with the total and an ETA, the seed lines above
    // it; in a log (stderr redirected) the lines alone, each with its count
    // and the time left.
    let (bar, _) = super::progress_bar(total, "seeds", quiet);
    let report = run_ensemble(&spec, &prog, &loaded.catalogue, &runner, &opts, &|r| {
        let k = done.fetch_add(1, Ordering::Relaxed) + 1;
        bar.inc(1);
        if !quiet {
            let left_s = wall.elapsed().as_secs_f64() / k as f64 * total.saturating_sub(k) as f64;
            let line = format!(
                "seed {:>8} ({k} of {total} done, about {} left): mastered {:>3}, still failing {:>3}, {} executions, digest {}",
                r.seed,
                fmt_left(left_s),
                r.mastered,
                r.still_failing,
                r.executions,
                r.digest
            );
            if bar.is_hidden() {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            } else {
                bar.println(line);
            }
        }
    })?;
    bar.finish_and_clear();
    let secs = wall.elapsed().as_secs_f64();
    if a.json {
        let report_html = if a.no_report {
            None
        } else {
            Some(super::write_report(&a.out)?.display().to_string())
        };
        if !quiet {
            let agg = &report.aggregate;
            let dist = |h: &chaosim::program::ensemble::Hist| {
                serde_json::json!({
                    "mean": h.moments().0,
                    "p10": h.quantile(10, 100),
                    "p50": h.quantile(50, 100),
                    "p90": h.quantile(90, 100),
                })
            };
            let v = serde_json::json!({
                "shard": format!("{}/{}", shard.index, shard.count),
                "seeds": report.seeds,
                "runs_per_seed": runs_total,
                "events": report.events,
                "mastered": dist(&agg.mastered),
                "still_failing": dist(&agg.still_failing),
                "out": a.out.display().to_string(),
                "report": report_html,
            });
            let _ = writeln!(std::io::stdout().lock(), "{v}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !quiet {
        let agg = &report.aggregate;
        let mut out = std::io::stdout().lock();
        let q = |h: &chaosim::program::ensemble::Hist| {
            let f = |n| h.quantile(n, 100).map_or("-".into(), |v| v.to_string());
            format!("p10 {} p50 {} p90 {}", f(10), f(50), f(90))
        };
        let _ = writeln!(
            out,
            "ensemble: shard {}/{}, {} seeds x {runs_total} runs, {} events in {secs:.2} s ({:.2} seeds/s on {threads} threads)",
            shard.index,
            shard.count,
            report.seeds,
            report.events,
            report.seeds as f64 / secs.max(1e-9)
        );
        let _ = writeln!(
            out,
            "mastered at the end: mean {:.2}, {}",
            agg.mastered.moments().0,
            q(&agg.mastered)
        );
        let _ = writeln!(
            out,
            "still failing:       mean {:.2}, {}",
            agg.still_failing.moments().0,
            q(&agg.still_failing)
        );
        let _ = writeln!(
            out,
            "wrote {}/seeds.csv, summary.csv, weeks.csv, shard.ron",
            a.out.display()
        );
    }
    if !a.no_report {
        let html = super::write_report(&a.out)?;
        if !quiet {
            super::print_report_line(Some(&html));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A time left as `42 s`, `3 min 5 s` or `2 h 10 min`.
fn fmt_left(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}
