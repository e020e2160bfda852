//! `chaosim sweep` and `chaosim merge`: flag parsing and printing only; the
//! work is in [`chaosim::sweep`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use chaosim::safeguard::SafeguardSet;
use chaosim::sweep::agent::{ApiModel, ApiModelConfig};
use chaosim::sweep::merge::merge;
use chaosim::sweep::playbook::ApiPlaybook;
use chaosim::sweep::runner::{SweepSpec, format_rate, parse_rates, parse_variants, run_sweep};
use chaosim::sweep::scenario_sweep::{
    Param, ScenarioSweepSpec, format_value, parse_values, run_scenario_sweep,
};
use chaosim::{Error, Result};

/// The flags of `chaosim sweep`, as typed: the API mode's and the
/// scenario mode's under their own headings in `--help`.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// Sweep a catalogue scenario instead of the API agent: vary --param
    /// over --values, --n seeds per value.
    #[arg(help_heading = "Scenario sweep (--scenario ID)", long, value_name = "ID", requires_all = ["param", "values"],
          conflicts_with_all = ["rates", "variants", "playbook", "model"])]
    scenario: Option<String>,
    /// Scenario parameter: intensity (all faults, 0..=1), fault[i].intensity,
    /// fault[i].length_s, fault[i].start_s, recovery_limit_s.
    #[arg(
        help_heading = "Scenario sweep (--scenario ID)",
        long,
        value_name = "NAME",
        requires = "scenario"
    )]
    param: Option<String>,
    /// Parameter values FROM:TO:STEP, inclusive of TO (or one value).
    #[arg(
        help_heading = "Scenario sweep (--scenario ID)",
        long,
        value_name = "FROM:TO:STEP",
        requires = "scenario"
    )]
    values: Option<String>,
    /// Scenario sweep: deployed safeguards (default, none, all, or
    /// +name,-name edits to the default set).
    #[arg(
        help_heading = "Scenario sweep (--scenario ID)",
        long,
        default_value = "default",
        allow_hyphen_values = true,
        requires = "scenario"
    )]
    safeguards: String,
    /// Scenario sweep: difficulty level, 1 to 10.
    #[arg(
        help_heading = "Scenario sweep (--scenario ID)",
        long,
        default_value_t = 1,
        requires = "scenario"
    )]
    difficulty: u8,
    /// Scenario sweep: exit 1 when the pass rate of any swept value is
    /// below RATE (0 to 1, e.g. 0.9), a gate for CI; without it the sweep
    /// exits 0 whatever the pass rates. A shard judges the values it ran.
    #[arg(help_heading = "Scenario sweep (--scenario ID)", long, value_name = "RATE", requires = "scenario", allow_negative_numbers = true,
          value_parser = parse_fail_under)]
    fail_under: Option<f64>,
    /// Scenario sweep: scenarios, stack and playbooks.
    #[command(flatten, next_help_heading = "Scenario sweep (--scenario ID)")]
    inputs: super::sim::Inputs,
    /// Failure rates FROM:TO:STEP, inclusive of TO (or one rate).
    #[arg(
        help_heading = "API sweep (without --scenario)",
        long,
        default_value = "0:0.5:0.05"
    )]
    rates: String,
    /// Experiments per rate and variant (API sweep) or per value
    /// (scenario sweep).
    #[arg(help_heading = "Both modes", long, default_value_t = 1000)]
    n: u64,
    /// Comma-separated variants: baseline, playbook.
    #[arg(
        help_heading = "API sweep (without --scenario)",
        long,
        default_value = "baseline,playbook"
    )]
    variants: String,
    /// Root seed.
    #[arg(help_heading = "Both modes", long, default_value_t = 42)]
    seed: u64,
    /// Threads and shard.
    #[command(flatten, next_help_heading = "Both modes")]
    workers: super::ShardArgs,
    /// Output directory.
    #[arg(help_heading = "Both modes", long, default_value = "reports/sweep")]
    out: PathBuf,
    /// Overwrite a complete output directory.
    #[arg(help_heading = "Both modes", long)]
    force: bool,
    /// Playbook file (RON) for the playbook variant (default: the embedded
    /// playbooks/api_pet_store.ron).
    #[arg(
        help_heading = "API sweep (without --scenario)",
        long,
        value_name = "FILE"
    )]
    playbook: Option<PathBuf>,
    /// API model parameters (RON `ApiModelConfig`; default: built in).
    #[arg(
        help_heading = "API sweep (without --scenario)",
        long,
        value_name = "FILE"
    )]
    model: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(help_heading = "Both modes", short, long)]
    quiet: bool,
    /// Print the results as one JSON object (shard, experiments, events,
    /// and a row per rate and variant, or per value with the --fail-under
    /// verdict) instead of the text.
    #[arg(help_heading = "Both modes", long)]
    json: bool,
    /// Do not write the report (OUT/report: index.html, summary.md and the
    /// plots; `chaosim report OUT` draws it later).
    #[arg(help_heading = "Both modes", long)]
    no_report: bool,
}

/// The flags of `chaosim merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Shard output directories (any order).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Output directory for the merged files.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite a complete output directory.
    #[arg(long)]
    force: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

/// `--fail-under`: a pass rate in 0..=1.
fn parse_fail_under(text: &str) -> std::result::Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number (a pass rate, 0 to 1)"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0..=1 (a pass rate, e.g. 0.9)"))
    }
}

fn load_model(model: Option<&Path>, playbook: Option<&Path>) -> Result<ApiModel> {
    let config = match model {
        None => ApiModelConfig::default(),
        Some(path) => chaosim::input::load_with(path, |text, path| {
            let cfg: ApiModelConfig = chaosim::input::parse_ron_without_empty_check(text, path)?;
            cfg.validate().map_err(|e| e.in_file(path))?;
            Ok(cfg)
        })?,
    };
    let playbook = match playbook {
        None => ApiPlaybook::default(),
        Some(path) => ApiPlaybook::load(path)?,
    };
    Ok(ApiModel { config, playbook })
}

/// Run `chaosim sweep`.
pub fn sweep(args: SweepArgs) -> Result<ExitCode> {
    if args.scenario.is_some() {
        return scenario_sweep(args);
    }
    // The scenario mode's inputs would be read by nothing here.
    let i = &args.inputs;
    for (flag, given) in [
        ("--scenarios", i.scenarios.is_some()),
        ("--stack", i.stack.is_some()),
        ("--playbooks", i.playbooks.is_some()),
    ] {
        if given {
            return Err(Error::Usage {
                flag: flag.into(),
                message: "applies to scenario sweeps (--scenario ID); the API sweep reads --model and --playbook".into(),
            });
        }
    }
    let spec = SweepSpec {
        seed: args.seed,
        n: args.n,
        rates_ppm: parse_rates(&args.rates)?,
        variants: parse_variants(&args.variants)?,
    };
    spec.validate()?;
    let (shard, threads) = args.workers.resolve()?;
    let model = load_model(args.model.as_deref(), args.playbook.as_deref())?;
    if !args.no_report {
        super::check_report(&args.out, chaosim::report::ReportKind::Sweep, args.force)?;
    }
    let quiet = args.quiet || args.json;
    let total = spec.rates_ppm.len() as u64 * spec.variants.len() as u64 * spec.n;
    let (bar, opts) = super::batch_options(
        (shard, threads),
        total,
        "experiments",
        &args.out,
        args.force,
        quiet,
    );
    let mut rows = Vec::new();
    let wall = Instant::now();
    let report = run_sweep(&model, &spec, &opts, &mut |c| {
        if args.json {
            rows.push(serde_json::json!({
                "rate": format_rate(c.rate_ppm),
                "variant": c.variant.name(),
                "n": c.n,
                "success_rate": c.success_rate,
                "ci_low": c.success_ci.low,
                "ci_high": c.success_ci.high,
                "partial_rate": c.partial_rate,
                "latency_p99_ms": c.latency_p99_ms,
                "retries_mean": c.retries_mean,
                "breaker_opens": c.breaker_opens,
            }));
        }
        if !quiet {
            // A result: stdout (a closed stdout, e.g. `| head`, must not
            // abort the sweep: write errors are ignored).
            bar.suspend(|| {
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "rate {:<8} {:<8} n {:>8}  success {:6.2}% [{:6.2}, {:6.2}]  partial {:6.2}%  p99 {:9.1} ms  retries {:5.2}  breaker opens {}",
                    format_rate(c.rate_ppm),
                    c.variant.name(),
                    c.n,
                    100.0 * c.success_rate,
                    100.0 * c.success_ci.low,
                    100.0 * c.success_ci.high,
                    100.0 * c.partial_rate,
                    c.latency_p99_ms,
                    c.retries_mean,
                    c.breaker_opens
                );
            });
        }
    })?;
    bar.finish_and_clear();
    let secs = wall.elapsed().as_secs_f64();
    let report_html = report_after(&args)?;
    if args.json && !args.quiet {
        let v = serde_json::json!({
            "shard": format!("{}/{}", shard.index, shard.count),
            "experiments": report.experiments,
            "events": report.events,
            "cells": rows,
            "out": args.out.display().to_string(),
            "report": report_html.as_ref().map(|p| p.display().to_string()),
        });
        let _ = writeln!(std::io::stdout().lock(), "{v}");
    }
    if !quiet {
        print_done(
            "sweep:",
            shard,
            report.experiments,
            report.events,
            secs,
            threads,
            &args.out,
        );
        super::print_report_line(report_html.as_deref());
    }
    Ok(ExitCode::SUCCESS)
}

/// The sweep's report, unless `--no-report` (its files were checked before
/// the sweep ran).
fn report_after(args: &SweepArgs) -> Result<Option<PathBuf>> {
    if args.no_report {
        return Ok(None);
    }
    super::write_report(&args.out).map(Some)
}

/// Run `chaosim merge`.
pub fn merge_cmd(args: MergeArgs) -> Result<ExitCode> {
    let report = merge(&args.dirs, &args.out, args.force)?;
    if !args.quiet {
        let _ = writeln!(
            std::io::stdout().lock(),
            "merged {} shards: {} experiments, {} cells into {}",
            report.shards,
            report.experiments,
            report.cells,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `chaosim sweep --scenario ID --param NAME --values FROM:TO:STEP`.
fn scenario_sweep(args: SweepArgs) -> Result<ExitCode> {
    let id = args.scenario.clone().unwrap_or_default();
    let loaded = args.inputs.load()?;
    let base = loaded.catalogue.require(&id)?;
    let param = Param::parse(args.param.as_deref().unwrap_or_default(), base)?;
    let values_micro = parse_values(args.values.as_deref().unwrap_or_default(), param)?;
    // Each value makes another scenario: each must fit the memory bound.
    for &v in &values_micro {
        let spec = chaosim::sweep::scenario_sweep::apply(base, param, v)?;
        chaosim::scenario::preflight::check_bounds(&spec, &loaded.stack, args.difficulty)?;
    }
    let deployed = SafeguardSet::from_spec(&args.safeguards, loaded.stack.default_safeguards())
        .map_err(|message| Error::Usage {
            flag: "--safeguards".into(),
            message,
        })?;
    let spec = ScenarioSweepSpec {
        scenario: id,
        param,
        values_micro,
        n: args.n,
        seed: args.seed,
        difficulty: args.difficulty,
        deployed,
    };
    spec.validate(base)?;
    let (shard, threads) = args.workers.resolve()?;
    if !args.no_report {
        super::check_report(
            &args.out,
            chaosim::report::ReportKind::ScenarioSweep,
            args.force,
        )?;
    }
    let quiet = args.quiet || args.json;
    let (bar, opts) = super::batch_options(
        (shard, threads),
        spec.values_micro.len() as u64 * spec.n,
        "executions",
        &args.out,
        args.force,
        quiet,
    );
    let name = param.name();
    let wall = Instant::now();
    let report = run_scenario_sweep(
        &loaded.catalogue,
        &loaded.stack,
        loaded.stack_fingerprint,
        &spec,
        &opts,
        &mut |s| {
            if !quiet {
                let p = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
                // A result: stdout.
                bar.suspend(|| { let _ = writeln!(
                    std::io::stdout().lock(),
                    "{name} {:<10} n {:>7}  pass {:6.2}% [{:6.2}, {:6.2}]  recovery p50 {} p90 {} p99 {} s  anomalies {:.2}",
                    format_value(s.value_micro),
                    s.n,
                    100.0 * s.pass_rate,
                    100.0 * s.pass_ci.low,
                    100.0 * s.pass_ci.high,
                    p(s.recovery_p50_s),
                    p(s.recovery_p90_s),
                    p(s.recovery_p99_s),
                    s.anomalies_mean
                ); });
            }
        },
    )?;
    bar.finish_and_clear();
    let secs = wall.elapsed().as_secs_f64();
    let report_html = report_after(&args)?;
    if !quiet {
        let label = format!("sweep {} {}:", spec.scenario, name);
        print_done(
            &label,
            shard,
            report.experiments,
            report.events,
            secs,
            threads,
            &args.out,
        );
        super::print_report_line(report_html.as_deref());
    }
    let rate = args.fail_under.unwrap_or(0.0);
    let below: Vec<_> = report
        .values
        .iter()
        .filter(|s| s.pass_rate < rate)
        .collect();
    if args.json && !args.quiet {
        let values: Vec<serde_json::Value> = report
            .values
            .iter()
            .map(|s| {
                serde_json::json!({
                    "value": format_value(s.value_micro),
                    "n": s.n,
                    "passes": s.passes,
                    "pass_rate": s.pass_rate,
                    "ci_low": s.pass_ci.low,
                    "ci_high": s.pass_ci.high,
                    "recovered": s.recovered,
                    "recovery_p50_s": s.recovery_p50_s,
                    "recovery_p90_s": s.recovery_p90_s,
                    "recovery_p99_s": s.recovery_p99_s,
                    "anomalies_mean": s.anomalies_mean,
                })
            })
            .collect();
        let v = serde_json::json!({
            "scenario": spec.scenario,
            "param": name,
            "shard": format!("{}/{}", shard.index, shard.count),
            "experiments": report.experiments,
            "events": report.events,
            "values": values,
            "fail_under": args.fail_under,
            "below": below.iter().map(|s| format_value(s.value_micro)).collect::<Vec<_>>(),
            "out": args.out.display().to_string(),
            "report": report_html.as_ref().map(|p| p.display().to_string()),
        });
        let _ = writeln!(std::io::stdout().lock(), "{v}");
    }
    if args.fail_under.is_none() {
        return Ok(ExitCode::SUCCESS);
    }
    if !quiet {
        let _ = writeln!(
            std::io::stdout().lock(),
            "fail-under {:.2} %: {} of {} values below{}{}",
            100.0 * rate,
            below.len(),
            report.values.len(),
            if below.is_empty() { "" } else { ": " },
            below
                .iter()
                .map(|s| format!(
                    "{} ({:.2} %)",
                    format_value(s.value_micro),
                    100.0 * s.pass_rate
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(super::sim::verdict_code(!below.is_empty()))
}

/// The closing lines of a sweep (a closed stdout, e.g. `| head`, is not an
/// error of the sweep).
fn print_done(
    label: &str,
    shard: chaosim::sweep::runner::Shard,
    experiments: u64,
    events: u64,
    secs: f64,
    threads: usize,
    out_dir: &std::path::Path,
) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{label} shard {}/{}, {experiments} experiments, {events} events in {secs:.3} s ({:.0} experiments/s on {threads} threads)",
        shard.index,
        shard.count,
        experiments as f64 / secs.max(1e-9),
    );
    let _ = writeln!(
        out,
        "wrote {}/experiments.csv, summary.csv, shard.ron",
        out_dir.display()
    );
}
