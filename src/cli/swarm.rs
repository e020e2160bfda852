//! `chaosim swarm` and `chaosim shrink`: flag parsing and printing only; the
//! work is in [`chaosim::sweep::swarm`] and [`chaosim::scenario::shrink`].

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use chaosim::engine::{Digest, SimTime};
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::shrink::{STEPS_MAX_DEFAULT, fault_time_ns, shrink_case};
use chaosim::sweep::runner::{SweepOptions, resolve_shard};
use chaosim::sweep::swarm::{
    HandleFiles, SwarmConfig, config_short, draw, find_rows, fmt_secs, outcome_name, run_swarm,
    safeguards_spec,
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
    scenarios: Option<String>,
    /// Deployed safeguards: default, none, all, or +name,-name edits to the default set.
    #[arg(long, default_value = "default", allow_hyphen_values = true)]
    safeguards: String,
    /// Difficulty level, 1 to 10.
    #[arg(long, default_value_t = 1)]
    difficulty: u8,
    /// Worker threads (default: available cores). Outputs do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Run the K-th of N contiguous slices (K in 1..=N). Without it,
    /// SLURM_ARRAY_TASK_* or JOB_COMPLETION_INDEX (with --shard-count) select
    /// the shard.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Number of shards when the shard index comes from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "N")]
    shard_count: Option<u32>,
    /// Output directory.
    #[arg(long, default_value = "reports/swarm")]
    out: PathBuf,
    /// Overwrite a complete output directory.
    #[arg(long)]
    force: bool,
    /// Read scenarios from this directory instead of the built-in catalogue.
    #[arg(long, value_name = "DIR")]
    scenario_dir: Option<PathBuf>,
    /// Read the stack description from this RON file instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    stack: Option<PathBuf>,
    /// Read the recovery playbooks from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    playbooks: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
}

/// Run `chaosim swarm`.
pub fn swarm(args: SwarmArgs) -> Result<ExitCode> {
    let inputs = Inputs {
        scenarios: args.scenario_dir.clone(),
        stack: args.stack.clone(),
        playbooks: args.playbooks.clone(),
    };
    let loaded = inputs.load()?;
    let scenarios: Vec<String> = match &args.scenarios {
        Some(ids) => ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        None => loaded
            .catalogue
            .scenarios()
            .iter()
            .map(|s| s.id.clone())
            .collect(),
    };
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
    let shard = resolve_shard(args.shard.as_deref(), args.shard_count, &|k| {
        std::env::var(k).ok()
    })?;
    let threads = match args.threads {
        Some(t) => t,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let opts = SweepOptions {
        threads,
        shard,
        out: args.out.clone(),
        force: args.force,
    };
    let files = HandleFiles::detect(&loaded.catalogue, loaded.stack_fingerprint)?;
    let quiet = args.quiet;
    let wall = Instant::now();
    let report = run_swarm(
        &loaded.catalogue,
        &loaded.stack,
        loaded.stack_fingerprint,
        files,
        &config,
        &opts,
        &mut |id, a| {
            if !quiet {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "{id:<32} seeds {:>7}  failed {:>7} ({:5.1}%)",
                    a.n,
                    a.failures(),
                    100.0 * a.failures() as f64 / a.n.max(1) as f64
                );
            }
        },
    )?;
    let secs = wall.elapsed().as_secs_f64();
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
    }
    Ok(ExitCode::SUCCESS)
}

/// The flags of `chaosim shrink` (also the flags of a `chaosim run`
/// handle given after `--`).
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
    difficulty: Option<u8>,
    /// Deployed safeguards: default, none, all, or +name,-name edits to the default set.
    #[arg(long, allow_hyphen_values = true)]
    safeguards: Option<String>,
    /// Time of day of the run (HH:MM; default 12:00).
    #[arg(long)]
    at: Option<String>,
    /// Day index of the run (default 0).
    #[arg(long)]
    day: Option<u64>,
    /// The digest the handle recorded: checked before shrinking.
    #[arg(long, value_name = "HEX")]
    expect_digest: Option<String>,
    /// The catalogue fingerprint the handle recorded: checked.
    #[arg(long, value_name = "HEX")]
    scenarios_fp: Option<String>,
    /// The stack fingerprint the handle recorded: checked.
    #[arg(long, value_name = "HEX")]
    stack_fp: Option<String>,
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
    /// A whole handle: `-- chaosim run ID --seed S --swarm ...`.
    #[arg(last = true, value_name = "HANDLE")]
    handle: Vec<String>,
}

fn usage(flag: &str, message: impl Into<String>) -> Error {
    Error::Usage {
        flag: flag.into(),
        message: message.into(),
    }
}

/// Fold a handle given after `--` into the flags given before it.
fn with_handle(outer: ShrinkArgs) -> Result<ShrinkArgs> {
    if outer.handle.is_empty() {
        return Ok(outer);
    }
    let mut words: &[String] = &outer.handle;
    if words
        .first()
        .is_some_and(|w| w == "chaosim" || w.ends_with("/chaosim"))
    {
        words = &words[1..];
    }
    if words.first().is_some_and(|w| w == "run") {
        words = &words[1..];
    }
    let argv = std::iter::once("shrink".to_string()).chain(words.iter().cloned());
    let inner = ShrinkArgs::try_parse_from(argv).map_err(|e| {
        let first = e.to_string();
        let first = first
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        usage("HANDLE", format!("not a `chaosim run` handle: {first}"))
    })?;
    if outer.id.is_some() || outer.seed.is_some() || outer.from.is_some() {
        return Err(usage(
            "HANDLE",
            "give either ID --seed S ..., --from DIR, or a handle after --, not both",
        ));
    }
    Ok(ShrinkArgs {
        steps_max: outer.steps_max,
        out: outer.out.or(inner.out.clone()),
        force: outer.force || inner.force,
        inputs: Inputs {
            scenarios: outer.inputs.scenarios.or(inner.inputs.scenarios.clone()),
            stack: outer.inputs.stack.or(inner.inputs.stack.clone()),
            playbooks: outer.inputs.playbooks.or(inner.inputs.playbooks.clone()),
        },
        handle: Vec::new(),
        ..inner
    })
}

fn parse_hex(flag: &str, text: &str) -> Result<u64> {
    u64::from_str_radix(text.trim(), 16)
        .map_err(|_| usage(flag, format!("'{text}' is not a hex number")))
}

fn start_of(at: Option<&str>, day: Option<u64>) -> Result<SimTime> {
    let at = at.unwrap_or("12:00");
    let (h, m) = at
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<u64>().ok()?, m.parse::<u64>().ok()?)))
        .filter(|&(h, m)| h < 24 && m < 60)
        .ok_or_else(|| usage("--at", format!("'{at}' is not a time (allowed: HH:MM)")))?;
    SimTime::from_day_time(day.unwrap_or(0), h, m, 0).ok_or_else(|| usage("--day", "too large"))
}

/// Run `chaosim shrink`.
pub fn shrink(args: ShrinkArgs) -> Result<ExitCode> {
    let mut args = with_handle(args)?;
    let loaded = args.inputs.load()?;
    let files = HandleFiles::detect(&loaded.catalogue, loaded.stack_fingerprint)?;
    let seed = args
        .seed
        .ok_or_else(|| usage("--seed", "required (the seed of the failing run)"))?;
    // `--from DIR`: the case is a row of a swarm output.
    if let Some(dir) = &args.from {
        if args.id.is_some() {
            return Err(usage("--from", "give either ID or --from DIR, not both"));
        }
        let (sw, rows) = find_rows(dir, seed, args.scenario.as_deref())?;
        let row = match rows.as_slice() {
            [] => {
                return Err(usage(
                    "--seed",
                    format!("{} has no row with seed {seed}", dir.display()),
                ));
            }
            [row] => row.clone(),
            many => {
                let ids: Vec<&str> = many.iter().map(|r| r.scenario.as_str()).collect();
                return Err(usage(
                    "--scenario",
                    format!(
                        "seed {seed} has a row for each of {}: pick one",
                        ids.join(", ")
                    ),
                ));
            }
        };
        if row.passed {
            return Err(usage(
                "--seed",
                format!("{} seed {seed} passed: nothing to shrink", row.scenario),
            ));
        }
        args.id = Some(row.scenario.clone());
        args.swarm = true;
        args.difficulty = Some(sw.difficulty);
        args.safeguards = Some(sw.safeguards.clone());
        args.expect_digest = Some(row.digest.to_string());
        args.scenarios_fp = sw.scenarios_fp.clone();
        args.stack_fp = sw.stack_fp.clone();
    }
    let id = args.id.clone().ok_or_else(|| {
        usage(
            "ID",
            "required: ID --seed S, --from DIR --seed S, or -- HANDLE",
        )
    })?;
    let want = |flag: &str, given: &Option<String>, have: Option<u64>| -> Result<()> {
        let given = given.as_deref().map(|h| parse_hex(flag, h)).transpose()?;
        if given != have {
            let show = |x: Option<u64>| {
                x.map_or("the built-in files".to_string(), |f| format!("{f:016x}"))
            };
            return Err(usage(
                flag,
                format!(
                    "the case was recorded with {} but these inputs are {}: pass the same --scenarios/--stack/--playbooks",
                    show(given),
                    show(have)
                ),
            ));
        }
        Ok(())
    };
    want("--scenarios-fp", &args.scenarios_fp, files.scenarios_fp)?;
    want("--stack-fp", &args.stack_fp, files.stack_fp)?;
    let difficulty = args.difficulty.unwrap_or(1);
    if !(1..=10).contains(&difficulty) {
        return Err(usage(
            "--difficulty",
            format!("{difficulty} is out of range (allowed: 1 to 10)"),
        ));
    }
    let default = loaded.stack.default_safeguards();
    let safeguards = args.safeguards.clone().unwrap_or_else(|| "default".into());
    let deployed = SafeguardSet::from_spec(&safeguards, default)
        .map_err(|message| usage("--safeguards", message))?;
    let start = start_of(args.at.as_deref(), args.day)?;
    let base = loaded.catalogue.require(&id)?;
    let spec = if args.swarm {
        draw(base, seed)
    } else {
        base.clone()
    };
    let expect = args
        .expect_digest
        .as_deref()
        .map(|h| parse_hex("--expect-digest", h).map(Digest::from_value))
        .transpose()?;
    let wall = Instant::now();
    let case = shrink_case(
        &loaded.stack,
        &spec,
        seed,
        difficulty,
        deployed,
        start,
        args.steps_max,
        expect,
    )?;
    let secs = wall.elapsed().as_secs_f64();
    let new_id = case.shrunk.id.clone();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("regressions").join(format!("{new_id}.ron")));
    if out.exists() && !args.force {
        return Err(usage(
            "--out",
            format!("{} exists; pass --force to overwrite it", out.display()),
        ));
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(&out, &case.ron).map_err(|e| Error::io(&out, e))?;
    let spec_flag = safeguards_spec(deployed, default);
    let faults = |n: usize| if n == 1 { "fault" } else { "faults" };
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "shrink {id} seed {seed}{} (difficulty {difficulty}, safeguards {spec_flag}): fails with {}",
        if args.swarm { " --swarm" } else { "" },
        case.kind.name()
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
        case.kind.name(),
        case.shrunk_outcome.digest
    );
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or(".".to_string(), |p| p.display().to_string());
    let mut when = String::new();
    if let Some(at) = &args.at {
        when.push_str(&format!(" --at {at}"));
    }
    if let Some(day) = args.day {
        when.push_str(&format!(" --day {day}"));
    }
    let _ = writeln!(
        o,
        "  run it  chaosim run {new_id} --scenarios {dir} --seed {seed} --difficulty {difficulty} --safeguards={spec_flag}{when}"
    );
    Ok(ExitCode::SUCCESS)
}
