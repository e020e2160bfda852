//! clap commands. Every command is a thin shell over the library.

mod swarm;
mod sweep;

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use std::path::PathBuf;

use chaosim::demo::{Phold, PholdParams};
use chaosim::engine::{SimDuration, SimTime};
use chaosim::scenario::Catalogue;
use chaosim::scenario::catalogue;
use chaosim::{Error, Result};

/// `println!` that ends the process quietly (exit 0) when stdout is a closed
/// pipe (`chaosim list | head`), instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("writing to stdout: {e}");
        }
    }};
}

mod report;
mod sim;

/// Deterministic discrete-event simulator of a resilience stack and of the
/// chaos-engineering programme that tests it.
#[derive(Parser, Debug)]
#[command(name = "chaosim", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the autonomous chaos programme: a year of scheduled runs (5 a day),
    /// with learning, escalation and safeguard generation, streamed to CSV.
    ///
    /// Example: chaosim year --seed 42 --out reports/year-42
    Year(sim::YearArgs),
    /// Run one catalogue scenario and print its outcome.
    ///
    /// Example: chaosim run S02_acl_spam --safeguards=+acl_violation_monitor --json
    Run {
        /// Scenario id (see `chaosim list`).
        id: String,
        /// Root seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Difficulty level, 1 to 10.
        #[arg(long, default_value_t = 1)]
        difficulty: u8,
        /// Deployed safeguards: default, none, all, or +name,-name edits to the default set.
        #[arg(long, default_value = "default", allow_hyphen_values = true)]
        safeguards: String,
        /// Time of day the run starts (HH:MM): governance approvals are slower at night.
        #[arg(long, default_value = "12:00")]
        at: String,
        /// Day index of the run.
        #[arg(long, default_value_t = 0)]
        day: u64,
        /// Print the outcome as one JSON object.
        #[arg(long)]
        json: bool,
        /// Draw the fault configuration from the seed, exactly as `chaosim
        /// swarm` does for this seed (reproduces a swarm row alone).
        #[arg(long)]
        swarm: bool,
        /// Stream the run's timeline (one CSV row per 100 ms sample) to FILE;
        /// render it with `chaosim report FILE`.
        #[arg(long, value_name = "FILE")]
        timeline: Option<PathBuf>,
        /// Stream Layer-2 decision narratives (5W1H JSONL: who, what, when,
        /// where, why, how) to FILE; empty for scenarios without Layer 2.
        #[arg(long, value_name = "FILE")]
        narrative: Option<PathBuf>,
        /// Stack and scenarios.
        #[command(flatten)]
        inputs: sim::Inputs,
    },
    /// The Layer-1 stress test: waves of 1, 2 and 3 concurrent scenarios on one stack.
    ///
    /// Example: chaosim stress --safeguards=+acl_violation_monitor,+resource_pressure_monitor
    Stress {
        /// Root seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Deployed safeguards: default, none, all, or +name,-name edits to the default set.
        #[arg(long, default_value = "default", allow_hyphen_values = true)]
        safeguards: String,
        /// Stack and scenarios.
        #[command(flatten)]
        inputs: sim::Inputs,
    },
    /// Re-execute one run of a programme output alone and check its digests.
    ///
    /// Example: chaosim replay reports/year-42 --run 1234
    Replay {
        /// The programme's output folder.
        dir: PathBuf,
        /// Run index (0-based).
        #[arg(long)]
        run: u64,
        /// The programme file the folder was written with (default: built-in).
        #[arg(long, value_name = "FILE")]
        programme: Option<PathBuf>,
        /// Stack and scenarios.
        #[command(flatten)]
        inputs: sim::Inputs,
    },
    /// Audit-log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the built-in stack description (RON), to copy and edit for --stack.
    ///
    /// Example: chaosim stack > my-stack.ron
    Stack,
    /// List the scenario catalogue: id, family, layer, severity, expected safeguards.
    ///
    /// Example: chaosim list --scenarios ./my-scenarios
    List {
        /// Read scenarios from this directory instead of the built-in catalogue.
        #[arg(long, value_name = "DIR")]
        scenarios: Option<PathBuf>,
    },
    /// Validate scenario files or folders (default: the built-in catalogue).
    ///
    /// Example: chaosim validate scenarios/ my_scenario.ron
    Validate {
        /// Files or directories of *.ron scenarios.
        paths: Vec<PathBuf>,
    },
    /// Run the PHOLD benchmark model on the engine and print its throughput.
    ///
    /// Example: chaosim phold --lps 1000 --events 10 --seconds 1000 --seed 42
    Phold {
        /// Number of logical processes.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        lps: u32,
        /// Initial events per logical process.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        events: u32,
        /// Simulated seconds to run.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
        seconds: u64,
        /// Root seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Parametric failure-rate A/B sweep of the API agent (baseline vs.
    /// playbooks + circuit breaker); writes experiments.csv, summary.csv and
    /// shard.ron.
    ///
    /// Example: chaosim sweep --rates 0:0.5:0.05 --n 1000 --threads 2 --out reports/sweep
    Sweep(sweep::SweepArgs),
    /// Merge the output directories of the shards of one sweep into the files
    /// an unsharded run writes.
    ///
    /// Example: chaosim merge shards/1 shards/2 shards/3 --out reports/sweep
    Merge(sweep::MergeArgs),
    /// Swarm runs: for each seed, draw each scenario's fault mix (which
    /// faults, how hard, when, how long, partition shapes, clock faults) from
    /// the seed and run it; writes swarm.csv, summary.csv and shard.ron.
    ///
    /// Example: chaosim swarm --scenarios S02_acl_spam,MF01_triple_threat --seeds 500 --out reports/swarm
    Swarm(swarm::SwarmArgs),
    /// Shrink a failing case to a smaller one that fails the same way, and
    /// write it as a scenario RON file (a regression test for a catalogue).
    ///
    /// Example: chaosim shrink MF01_triple_threat --seed 7 --swarm --out regressions/mf01.ron
    Shrink(swarm::ShrinkArgs),
    /// Render plots (SVG + PNG), index.html and summary.md from a year folder,
    /// a sweep folder or a single-run timeline CSV.
    ///
    /// Example: chaosim report reports/sweep --out reports/sweep/report
    Report(report::ReportArgs),
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the hash chain of a programme's audit.jsonl; exit 1 on any edit.
    ///
    /// Example: chaosim audit verify reports/year-42
    Verify {
        /// The output folder (or the audit.jsonl file).
        dir: PathBuf,
    },
}

/// Parse arguments, run the command, map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_input() { 2 } else { 1 })
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::List { scenarios } => list(scenarios),
        Command::Validate { paths } => validate(paths),
        Command::Phold {
            lps,
            events,
            seconds,
            seed,
        } => phold(lps, events, seconds, seed),
        Command::Year(args) => sim::year(&args),
        Command::Run {
            id,
            seed,
            difficulty,
            safeguards,
            at,
            day,
            json,
            swarm,
            timeline,
            narrative,
            inputs,
        } => sim::run(
            &id,
            seed,
            difficulty,
            &safeguards,
            &at,
            day,
            json,
            swarm,
            timeline.as_deref(),
            narrative.as_deref(),
            &inputs,
        ),
        Command::Stress {
            seed,
            safeguards,
            inputs,
        } => sim::stress(seed, &safeguards, &inputs),
        Command::Replay {
            dir,
            run,
            programme,
            inputs,
        } => sim::replay(&dir, run, &inputs, programme.as_ref()),
        Command::Audit(AuditCommand::Verify { dir }) => sim::audit_verify(&dir),
        Command::Stack => {
            outln!("{}", chaosim::model::stack::StackSpec::embedded_text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep(args) => sweep::sweep(args),
        Command::Merge(args) => sweep::merge_cmd(args),
        Command::Swarm(args) => swarm::swarm(args),
        Command::Shrink(args) => swarm::shrink(args),
        Command::Report(args) => report::report_cmd(args),
    }
}

fn phold(lps: u32, events: u32, seconds: u64, seed: u64) -> Result<ExitCode> {
    let params = PholdParams {
        lps,
        events_per_lp: events,
        ..PholdParams::default()
    };
    let until = SimTime::ZERO
        .checked_add(
            SimDuration::checked_from_secs(seconds).ok_or_else(|| Error::Usage {
                flag: "--seconds".into(),
                message: "too large".into(),
            })?,
        )
        .ok_or_else(|| Error::Usage {
            flag: "--seconds".into(),
            message: "too large".into(),
        })?;
    let mut sim = Phold::simulation(params, seed);
    let wall = Instant::now();
    sim.run_until(until)?;
    let secs = wall.elapsed().as_secs_f64();
    let n = sim.events_handled();
    outln!("PHOLD: {lps} LPs x {events} events, {seconds} simulated s, seed {seed}");
    outln!("events handled : {n}");
    outln!("wall time      : {secs:.3} s");
    outln!("throughput     : {:.2} M events/s", n as f64 / secs / 1e6);
    outln!("digest         : {}", sim.digest());
    Ok(ExitCode::SUCCESS)
}

/// The catalogue from `--scenarios DIR`, or the built-in one.
pub fn load_catalogue(dir: Option<&PathBuf>) -> Result<Catalogue> {
    match dir {
        Some(d) => Catalogue::load_dir(d),
        None => Catalogue::embedded(),
    }
}

fn list(dir: Option<PathBuf>) -> Result<ExitCode> {
    let cat = load_catalogue(dir.as_ref())?;
    outln!(
        "{:<32} {:<10} {:>5} {:>8}  expected safeguards",
        "id",
        "family",
        "layer",
        "severity"
    );
    for s in cat.scenarios() {
        outln!(
            "{:<32} {:<10} {:>5} {:>8}  {}",
            s.id,
            s.family.name(),
            s.layer,
            s.severity,
            s.expected_safeguards.join(", ")
        );
    }
    outln!("{} scenarios", cat.len());
    Ok(ExitCode::SUCCESS)
}

fn validate(paths: Vec<PathBuf>) -> Result<ExitCode> {
    if paths.is_empty() {
        let cat = Catalogue::embedded()?;
        outln!("ok: {} scenarios (built-in catalogue)", cat.len());
        return Ok(ExitCode::SUCCESS);
    }
    let mut specs = Vec::new();
    let mut errors = 0usize;
    for path in &paths {
        let files = if path.is_dir() {
            catalogue::ron_files(path)?
        } else {
            vec![path.clone()]
        };
        for file in files {
            match catalogue::load_file(&file) {
                Ok(spec) => specs.push(spec),
                Err(e) => {
                    eprintln!("error: {e}");
                    errors += 1;
                }
            }
        }
    }
    if errors == 0 {
        let n = specs.len();
        Catalogue::from_specs(specs)?;
        outln!("ok: {n} scenarios");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{errors} invalid file(s)");
        Ok(ExitCode::from(2))
    }
}
