//! `chaosim swarm` and `chaosim shrink`: flag parsing and printing only; the
//! work is in [`chaosim::sweep::swarm`] and [`chaosim::scenario::shrink`].

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use chaosim::engine::NANOS_PER_DAY;
use chaosim::record::outfile;
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::repro::{ReproArgs, format_time_of_day, safeguards_spec, shell_quote};
use chaosim::scenario::shrink::{STEPS_MAX_DEFAULT, default_start, fault_time_ns, shrink_case};
use chaosim::sweep::swarm::{
    SwarmConfig, config_short, find_rows, fmt_secs, outcome_name, run_swarm,
};
use chaosim::{Error, Result};

use super::sim::Inputs;

/// The flags of `chaosim swarm`.
#[derive(clap::Args, Debug)]
pub struct SwarmArgs {
    /// Seeds per scenario.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Comma-separated scenario ids (default: every scenario of the catalogue).
    #[arg(long, value_name = "IDS")]
    ids: Option<String>,
    /// Deployed safeguards: default, none, all, or +name,-name edits to the default set.
    #[arg(long, default_value = "default", allow_hyphen_values = true)]
    safeguards: String,
    /// Difficulty level, 1 to 10.
    #[arg(long, default_value_t = 1)]
    difficulty: u8,
    /// Threads and shard.
    #[command(flatten)]
    workers: super::ShardArgs,
    /// Output directory.
    #[arg(long, default_value = "reports/swarm")]
    out: PathBuf,
    /// Overwrite a complete output directory.
    #[arg(long)]
    force: bool,
    /// Read scenarios from this directory instead of the built-in catalogue
    /// (as for every command; --scenario-dir is the older spelling).
    #[arg(long, value_name = "DIR", alias = "scenario-dir")]
    scenarios: Option<PathBuf>,
    /// Read the stack description from this RON file instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    stack: Option<PathBuf>,
    /// Read the recovery playbooks from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    playbooks: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// Print the summary as one JSON object (shard, rows, events, failed,
    /// and per scenario and outcome its count and first seed) instead of
    /// the text.
    #[arg(long)]
    json: bool,
    /// Do not write the report (OUT/report: outcomes per scenario and the
    /// failing seeds with their handles; `chaosim report OUT` draws it later).
    #[arg(long)]
    no_report: bool,
}

/// Run `chaosim swarm`.
pub fn swarm(args: SwarmArgs) -> Result<ExitCode> {
    // `--scenarios` once took ids here: a value that is no folder gets a
    // hint instead of a bare "not found".
    if let Some(dir) = &args.scenarios
        && !dir.is_dir()
        && !dir.exists()
    {
        return Err(Error::Usage {
            flag: "--scenarios".into(),
            message: format!(
                "{} is not a folder: --scenarios names a folder of scenario files, as for every command; scenario ids go to --ids (--ids {})",
                dir.display(),
                dir.display()
            ),
        });
    }
    let inputs = Inputs {
        scenarios: args.scenarios.clone(),
        stack: args.stack.clone(),
        playbooks: args.playbooks.clone(),
    };
    let loaded = inputs.load()?;
    let scenarios = loaded.ids_or_all(args.ids.as_deref())?;
    let deployed = SafeguardSet::from_spec(&args.safeguards, loaded.stack.default_safeguards())
        .map_err(|message| Error::Usage {
            flag: "--safeguards".into(),
            message,
        })?;
    let config = SwarmConfig {
        scenarios,
        seeds: args.seeds,
        from: args.from,
        difficulty: args.difficulty,
        deployed,
    };
    config.validate(&loaded.catalogue)?;
    loaded.check_runs(
        config
            .scenarios
            .iter()
            .map(|id| (id.as_str(), config.difficulty)),
    )?;
    let (shard, threads) = args.workers.resolve()?;
    if !args.no_report {
        super::check_report(&args.out, chaosim::report::ReportKind::Swarm, args.force)?;
    }
    let quiet = args.quiet || args.json;
    let (bar, opts) = super::batch_options(
        (shard, threads),
        config.scenarios.len() as u64 * config.seeds,
        "executions",
        &args.out,
        args.force,
        quiet,
    );
    let wall = Instant::now();
    let report = run_swarm(
        &loaded.catalogue,
        &loaded.stack,
        loaded.stack_fingerprint,
        &loaded.files,
        &config,
        &opts,
        &mut |id, a| {
            if !quiet {
                // A result (each scenario's counts): stdout.
                bar.suspend(|| {
                    let _ = writeln!(
                        std::io::stdout().lock(),
                        "{id:<32} seeds {:>7}  failed {:>7} ({:5.1}%)",
                        a.n,
                        a.failures(),
                        100.0 * a.failures() as f64 / a.n.max(1) as f64
                    );
                });
            }
        },
    )?;
    bar.finish_and_clear();
    let secs = wall.elapsed().as_secs_f64();
    let report_html = if args.no_report {
        None
    } else {
        Some(super::write_report(&args.out)?)
    };
    let failed: u64 = report.cells.iter().map(|(_, a)| a.failures()).sum();
    if args.json && !args.quiet {
        let outcomes: Vec<serde_json::Value> = report
            .summary()
            .iter()
            .map(|l| {
                serde_json::json!({
                    "scenario": l.scenario,
                    "outcome": outcome_name(l.outcome),
                    "count": l.count,
                    "of": l.of,
                    "first_seed": l.first.1,
                    "first_digest": l.first.2.to_string(),
                })
            })
            .collect();
        let v = serde_json::json!({
            "shard": format!("{}/{}", shard.index, shard.count),
            "rows": report.rows,
            "events": report.events,
            "failed": failed,
            "outcomes": outcomes,
            "out": args.out.display().to_string(),
            "report": report_html.as_ref().map(|p| p.display().to_string()),
        });
        let _ = writeln!(std::io::stdout().lock(), "{v}");
    }
    if !quiet {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "swarm: shard {}/{}, {} rows, {} events in {secs:.3} s ({:.0} rows/s on {threads} threads)",
            shard.index,
            shard.count,
            report.rows,
            report.events,
            report.rows as f64 / secs.max(1e-9),
        );
        let _ = writeln!(out, "outcomes (count, first seed):");
        for l in report.summary() {
            let _ = writeln!(
                out,
                "  {:<32} {:<18} {:>7}  first seed {}",
                l.scenario,
                outcome_name(l.outcome),
                l.count,
                l.first.1
            );
        }
        let _ = writeln!(
            out,
            "wrote {}/swarm.csv, summary.csv, shard.ron",
            args.out.display()
        );
        drop(out);
        super::print_report_line(report_html.as_deref());
    }
    // A row that failed is a failed verdict: exit 1 (its outputs stay).
    Ok(super::sim::verdict_code(failed > 0))
}

/// The flags of `chaosim shrink`: the case as `ID --seed S` with the flags
/// of a `chaosim run` handle, as a whole handle after `--`, or as a row of
/// a swarm output (`--from DIR --seed S`).
#[derive(Parser, Debug, Clone)]
#[command(name = "shrink")]
pub struct ShrinkArgs {
    /// Scenario id (as in a reproduction handle).
    id: Option<String>,
    /// Root seed of the failing run.
    #[arg(long)]
    seed: Option<u64>,
    /// The case is a swarm row: draw the fault configuration from the seed.
    #[arg(long)]
    swarm: bool,
    /// Difficulty level, 1 to 10.
    #[arg(long)]
    difficulty: Option<String>,
    /// Deployed safeguards: default, none, all, or +name,-name edits to the default set.
    #[arg(long, allow_hyphen_values = true)]
    safeguards: Option<String>,
    /// Time of day of the run (HH:MM, HH:MM:SS or HH:MM:SS.NNNNNNNNN; default 12:00).
    #[arg(long)]
    at: Option<String>,
    /// Day index of the run (default 0).
    #[arg(long)]
    day: Option<String>,
    /// A reproduction handle's checks, made before shrinking.
    #[command(flatten)]
    checks: super::sim::HandleCheck,
    /// Take the case from a swarm output directory's row with --seed.
    #[arg(long, value_name = "DIR")]
    from: Option<PathBuf>,
    /// With --from: the row's scenario (needed when several rows share the seed).
    #[arg(long, value_name = "ID")]
    scenario: Option<String>,
    /// Most candidate runs to try.
    #[arg(long, default_value_t = STEPS_MAX_DEFAULT)]
    steps_max: u32,
    /// Where to write the shrunk scenario (default: regressions/<NEW_ID>.ron).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(long)]
    force: bool,
    /// Scenarios, stack and playbooks.
    #[command(flatten)]
    inputs: Inputs,
    /// A whole handle, as printed: `-- chaosim run ID --seed S --swarm ...`;
    /// shrink's own --force, --out FILE and --steps-max N may follow it
    /// (no handle has them).
    #[arg(last = true, value_name = "HANDLE")]
    handle: Vec<String>,
}

/// Take shrink's own flags (`--force`, `--out FILE`, `--steps-max N`, which
/// no handle has) out of the words after `--`, so that `shrink -- HANDLE
/// --force` works as `shrink --force -- HANDLE` does.
fn own_flags_from_handle(args: &mut ShrinkArgs) -> Result<()> {
    let mut rest = Vec::new();
    let mut words = std::mem::take(&mut args.handle).into_iter();
    while let Some(w) = words.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f == "--out" || f == "--steps-max" => {
                (f.to_string(), Some(v.to_string()))
            }
            _ => (w.clone(), None),
        };
        match flag.as_str() {
            "--force" => args.force = true,
            "--out" | "--steps-max" => {
                let value = match inline {
                    Some(v) => v,
                    None => words
                        .next()
                        .ok_or_else(|| Error::usage(&flag, "needs a value after it"))?,
                };
                if flag == "--out" {
                    args.out = Some(PathBuf::from(value));
                } else {
                    args.steps_max = value.parse().map_err(|_| {
                        Error::usage("--steps-max", format!("'{value}' is not a number"))
                    })?;
                }
            }
            _ => rest.push(w),
        }
    }
    args.handle = rest;
    Ok(())
}

/// The case as the arguments of `chaosim run` (a handle's), from whichever
/// of the three spellings was used.
fn case_args(args: &ShrinkArgs) -> Result<ReproArgs> {
    if !args.handle.is_empty() {
        if args.id.is_some() || args.seed.is_some() || args.from.is_some() {
            return Err(Error::usage(
                "HANDLE",
                "give either ID --seed S ..., --from DIR, or a handle after --, not both",
            ));
        }
        // The parser of `Repro::parse`: every flag of a handle, nothing else.
        return ReproArgs::from_words(&args.handle);
    }
    let seed = args
        .seed
        .ok_or_else(|| Error::usage("--seed", "required (the seed of the failing run)"))?;
    // `--from DIR`: the case is a row of a swarm output, run as its handle.
    if let Some(dir) = &args.from {
        if args.id.is_some() {
            return Err(Error::usage(
                "--from",
                "give either ID or --from DIR, not both",
            ));
        }
        let (sw, rows) = find_rows(dir, seed, args.scenario.as_deref())?;
        let row = match rows.as_slice() {
            [] => {
                return Err(Error::usage(
                    "--seed",
                    format!("{} has no row with seed {seed}", dir.display()),
                ));
            }
            [row] => row.clone(),
            many => {
                let ids: Vec<&str> = many.iter().map(|r| r.scenario.as_str()).collect();
                return Err(Error::usage(
                    "--scenario",
                    format!(
                        "seed {seed} has a row for each of {}: pick one",
                        ids.join(", ")
                    ),
                ));
            }
        };
        if row.passed {
            return Err(Error::usage(
                "--seed",
                format!("{} seed {seed} passed: nothing to shrink", row.scenario),
            ));
        }
        let words = sw.handles()?.repro(&row.scenario, seed, row.digest).args();
        let mut raw = ReproArgs::from_words(&words)?;
        // The files are the ones given now (checked against the recorded
        // fingerprints), not the recorded paths.
        raw.stack = None;
        raw.scenarios = None;
        raw.playbooks = None;
        return Ok(raw);
    }
    let id = args.id.clone().ok_or_else(|| {
        Error::usage(
            "ID",
            "required: ID --seed S, --from DIR --seed S, or -- HANDLE",
        )
    })?;
    Ok(ReproArgs {
        ids: id,
        swarm: args.swarm,
        seed: Some(seed.to_string()),
        difficulty: args.difficulty.clone(),
        safeguards: args.safeguards.clone(),
        day: args.day.clone(),
        at: args.at.clone(),
        files: args.checks.files.clone(),
        expect_digest: args.checks.expect_digest.clone(),
        digest_format: args.checks.digest_format.clone(),
        ..ReproArgs::default()
    })
}

/// Run `chaosim shrink`.
pub fn shrink(mut args: ShrinkArgs) -> Result<ExitCode> {
    own_flags_from_handle(&mut args)?;
    let mut raw = case_args(&args)?;
    // Files named on the command line win over a handle's paths.
    let inputs = Inputs {
        scenarios: args.inputs.scenarios.clone().or(raw.scenarios.take()),
        stack: args.inputs.stack.clone().or(raw.stack.take()),
        playbooks: args.inputs.playbooks.clone().or(raw.playbooks.take()),
    };
    raw.scenarios = inputs.scenarios.clone();
    raw.stack = inputs.stack.clone();
    raw.playbooks = inputs.playbooks.clone();
    let loaded = inputs.load()?;
    let default = loaded.stack.default_safeguards();
    let resolved = raw.resolve(default)?;
    let repro = &resolved.repro;
    let exec = &repro.exec;
    let [item] = exec.items.as_slice() else {
        return Err(Error::usage(
            "ID",
            "shrink takes one scenario (a handle run --together is not supported)",
        ));
    };
    if exec.concurrent || exec.run != 0 || repro.item != 0 || !item.known_fixes.is_empty() {
        return Err(Error::usage(
            "HANDLE",
            "shrink takes a case run alone (no --together, --run, --item or --known-fixes)",
        ));
    }
    loaded.catalogue.require(&item.scenario)?;
    // As `chaosim run` does: a handle names its files; others are refused.
    if resolved.digest_expected.is_some() || resolved.files_recorded.is_some() {
        loaded.check_files(&resolved.files_recorded.clone().unwrap_or_default())?;
    }
    let spec = repro
        .spec_of(&loaded.catalogue, &item.scenario)?
        .into_owned();
    let (id, seed, difficulty, deployed, start) = (
        item.scenario.clone(),
        exec.seed,
        item.difficulty,
        exec.deployed,
        exec.start,
    );
    let out = args.out.clone();
    if let Some(o) = &out
        && outfile::check_output_path(o)? == outfile::Existing::File
        && !args.force
    {
        return Err(Error::usage(
            "--out",
            format!("{} exists; pass --force to overwrite it", o.display()),
        ));
    }
    let wall = Instant::now();
    let case = shrink_case(
        &loaded.stack,
        &spec,
        seed,
        difficulty,
        deployed,
        start,
        args.steps_max,
        resolved.digest_expected,
    )?;
    let secs = wall.elapsed().as_secs_f64();
    let new_id = case.shrunk.id.clone();
    let out = out.unwrap_or_else(|| PathBuf::from("regressions").join(format!("{new_id}.ron")));
    // A regular file only (a link or device is refused), replaced only
    // with --force, written to a temporary file and renamed; the folder is
    // made if missing (and removed again if the write fails).
    if outfile::check_output_path(&out)? == outfile::Existing::File && !args.force {
        return Err(Error::usage(
            "--out",
            format!("{} exists; pass --force to overwrite it", out.display()),
        ));
    }
    let created = match out.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => {
            outfile::check_parent_folder(parent, "--out")?;
            outfile::create_dirs(parent)?
        }
        None => Vec::new(),
    };
    if let Err(e) = outfile::write_atomic(&out, case.ron.as_bytes()) {
        for d in created.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
        return Err(e);
    }
    let spec_flag = safeguards_spec(deployed, default);
    let faults = |n: usize| if n == 1 { "fault" } else { "faults" };
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "shrink {id} seed {seed}{} (difficulty {difficulty}, safeguards {spec_flag}): fails with {}",
        if repro.swarm { " --swarm" } else { "" },
        case.kind
    );
    let _ = writeln!(
        o,
        "  before  {} {}, {} s of fault time: {}",
        case.original.faults.len(),
        faults(case.original.faults.len()),
        fmt_secs(fault_time_ns(&case.original)),
        config_short(&case.original)
    );
    let _ = writeln!(
        o,
        "  after   {} {}, {} s of fault time: {}",
        case.shrunk.faults.len(),
        faults(case.shrunk.faults.len()),
        fmt_secs(fault_time_ns(&case.shrunk)),
        config_short(&case.shrunk)
    );
    let _ = writeln!(
        o,
        "  steps   {} candidates tried, {} kept (budget {}{}), {secs:.2} s",
        case.steps,
        case.kept,
        args.steps_max,
        if case.budget_exhausted {
            ", exhausted"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "  wrote   {} (validated and re-run: {}, digest {})",
        out.display(),
        case.kind,
        case.shrunk_outcome.digest
    );
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or(".".to_string(), |p| p.display().to_string());
    let mut when = String::new();
    if start != default_start() {
        when.push_str(&format!(
            " --day {} --at {}",
            start.day_index(),
            format_time_of_day(start.as_nanos() % NANOS_PER_DAY)
        ));
    }
    let _ = writeln!(
        o,
        "  run it  chaosim run {new_id} --scenarios {} --seed {seed} --difficulty {difficulty} --safeguards={spec_flag}{when}",
        shell_quote(&dir)
    );
    Ok(ExitCode::SUCCESS)
}
