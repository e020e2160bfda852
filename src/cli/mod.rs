//! clap commands. Every command is a thin shell over the library.

mod ensemble;
mod swarm;
mod sweep;

use std::process::ExitCode;
use std::time::Instant;

use clap::{CommandFactory, Parser, Subcommand};

use std::path::PathBuf;

use chaosim::demo::{Phold, PholdParams};
use chaosim::engine::{SimDuration, SimTime};
use chaosim::scenario::Catalogue;
use chaosim::scenario::{catalogue, difficulty, preflight};
use chaosim::{Error, Result};

/// The machine's cores: the default worker count.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The worker and shard flags every batch command shares (`sweep`,
/// `swarm`, `ensemble`, `whatif`), flattened into each.
#[derive(clap::Args, Clone, Debug, Default)]
pub(crate) struct ShardArgs {
    /// Worker threads (default: available cores). Outputs do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run the K-th of N contiguous slices of the work (K in 1..=N). Without
    /// it, SLURM_ARRAY_TASK_* or JOB_COMPLETION_INDEX (with --shard-count)
    /// select the shard.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Number of shards when the shard index comes from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "N")]
    pub shard_count: Option<u32>,
}

impl ShardArgs {
    /// The shard (`--shard`, else the scheduler's environment, see
    /// [`resolve_shard`](chaosim::shard::resolve_shard)) and the worker
    /// count (`--threads`, else the machine's cores).
    pub(crate) fn resolve(&self) -> Result<(chaosim::shard::Shard, usize)> {
        let shard = chaosim::shard::resolve_shard(self.shard.as_deref(), self.shard_count, &|k| {
            std::env::var(k).ok()
        })?;
        Ok((shard, self.threads.unwrap_or_else(cores)))
    }
}

/// Before a batch writes into `out`: the report files it will write into
/// `out/report` are checked too (a folder in their place is refused, an
/// existing file only replaced with `force`), so that a refused report
/// leaves nothing half-written.
pub(crate) fn check_report(
    out: &std::path::Path,
    kind: chaosim::report::ReportKind,
    force: bool,
) -> Result<()> {
    let files: Vec<String> = chaosim::report::planned_files(kind)
        .into_iter()
        .map(|f| format!("report/{f}"))
        .collect();
    chaosim::record::outfile::check_folder(out, "--out")?;
    chaosim::record::outfile::check_files(out, &files, force, "--out")
}

/// After a batch wrote `out`: its report in `out/report` (checked before
/// the batch by [`check_report`]); returns the page's path.
pub(crate) fn write_report(out: &std::path::Path) -> Result<PathBuf> {
    Ok(chaosim::report::render_to(out, None, true)?.html)
}

/// The `report: PATH` line after a batch wrote its report (a closed stdout
/// is not an error of the batch).
pub(crate) fn print_report_line(html: Option<&std::path::Path>) {
    use std::io::Write as _;
    if let Some(html) = html {
        let _ = writeln!(std::io::stdout().lock(), "report: {}", html.display());
    }
}

/// The options of a sharded batch over `total` work items called `unit`:
/// the threads, the shard, the output folder, and a progress bar over the
/// items this shard runs ([`progress_bar`]).
pub(crate) fn batch_options(
    (shard, threads): (chaosim::shard::Shard, usize),
    total: u64,
    unit: &str,
    out: &std::path::Path,
    force: bool,
    quiet: bool,
) -> (indicatif::ProgressBar, chaosim::sweep::runner::SweepOptions) {
    let (lo, hi) = shard.range(total);
    let (bar, progress) = progress_bar(hi - lo, unit, quiet);
    let opts = chaosim::sweep::runner::SweepOptions {
        threads,
        shard,
        out: out.to_path_buf(),
        force,
        progress,
    };
    (bar, opts)
}

/// A progress bar on stderr for `total` work items called `unit`, hidden
/// when `quiet` or when stderr is not a terminal, and the
/// [`Progress`](chaosim::shard::Progress) that moves it.
pub(crate) fn progress_bar(
    total: u64,
    unit: &str,
    quiet: bool,
) -> (indicatif::ProgressBar, chaosim::shard::Progress) {
    use std::io::IsTerminal as _;
    if quiet || !std::io::stderr().is_terminal() {
        return (
            indicatif::ProgressBar::hidden(),
            chaosim::shard::Progress::none(),
        );
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{rate}}, eta {{eta}})"
        ))
        .expect("template")
        // Three significant digits: 2.27/s, 43.1/s, 3210/s.
        .with_key(
            "rate",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let r = s.per_sec();
                let _ = match r {
                    r if r >= 100.0 => write!(w, "{r:.0}/s"),
                    r if r >= 10.0 => write!(w, "{r:.1}/s"),
                    r => write!(w, "{r:.2}/s"),
                };
            },
        )
        .progress_chars("=> "),
    );
    let b = bar.clone();
    (bar, chaosim::shard::Progress::new(move |n| b.inc(n)))
}

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

mod check;
mod report;
mod selfcheck;
mod sim;
mod whatif;

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
    /// Run catalogue scenarios and print their outcomes; a failed outcome
    /// prints its reproduction handle (this command with every flag it
    /// depended on).
    ///
    /// Exit codes: 0 every outcome passed, or a handle replayed with
    /// --expect-digest reproduced its digest (a failing handle too); 1 an
    /// outcome failed (its outputs are written all the same) or the digest
    /// differs; 2 bad input or usage.
    ///
    /// Example: chaosim run S02_acl_spam --safeguards=+acl_violation_monitor --json
    Run(sim::RunArgs),
    /// The Layer-1 stress test: waves of 1, 2 and 3 concurrent scenarios on one stack.
    ///
    /// Exit codes: 0 every wave passed, or a handle replayed with
    /// --expect-digest reproduced its digest; 1 a wave's scenario failed or
    /// the digest differs; 2 bad input or usage.
    ///
    /// Example: chaosim stress --safeguards=+acl_violation_monitor,+resource_pressure_monitor
    Stress(sim::StressArgs),
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
        /// One JSON object per replayed row (run, scenario, matches, digest;
        /// for a mismatch the column, recorded and replayed values).
        #[arg(long)]
        json: bool,
        /// Stack and scenarios.
        #[command(flatten)]
        inputs: sim::Inputs,
    },
    /// Determinism self-check: run the work twice (a sweep with 1 and with
    /// N threads) and compare; on a difference name the first divergent
    /// event (index, simulated time, kind, target) and exit 1.
    ///
    /// Example: chaosim selfcheck run S02_acl_spam --difficulty 3
    #[command(subcommand)]
    Selfcheck(selfcheck::SelfcheckCommand),
    /// Audit-log tools: check the hash chain of a programme's audit.jsonl.
    ///
    /// Example: chaosim audit verify reports/year-42
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
        /// One JSON object per scenario (id, title, family, layer,
        /// severity, duration_s, recovery_limit_s, faults,
        /// expected_safeguards), one per line.
        #[arg(long)]
        json: bool,
    },
    /// Validate scenario files or folders (default: the built-in catalogue).
    ///
    /// Example: chaosim validate scenarios/ my_scenario.ron
    Validate {
        /// Files or directories of *.ron scenarios.
        paths: Vec<PathBuf>,
        /// Check the scenarios against this stack (RON) instead of the
        /// built-in one: their targets must exist in it, and their runs fit
        /// the memory bound at every difficulty.
        #[arg(long, value_name = "FILE")]
        stack: Option<PathBuf>,
        /// Use the recovery playbooks of this directory with the stack.
        #[arg(long, value_name = "DIR")]
        playbooks: Option<PathBuf>,
        /// Print the verdict as one JSON object: ok, scenarios, errors
        /// (file and message each); the error lines still go to stderr.
        #[arg(long)]
        json: bool,
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
    /// playbooks + circuit breaker), or with --scenario a sweep of one
    /// parameter of a catalogue scenario; writes experiments.csv,
    /// summary.csv and shard.ron.
    ///
    /// Exit codes: 0 done; 1 with --scenario and --fail-under RATE, a swept
    /// value's pass rate is below RATE (or a failure while running); 2 bad
    /// input or usage.
    ///
    /// Example: chaosim sweep --rates 0:0.5:0.05 --n 1000 --threads 2 --out reports/sweep
    ///
    /// Example: chaosim sweep --scenario S02_acl_spam --param intensity --values 0.2:1:0.2 --n 200 --fail-under 0.9 --out reports/sweep-s02
    Sweep(sweep::SweepArgs),
    /// Seed ensemble of the programme: the year once per seed, one row per
    /// seed (seeds.csv), the distribution of each quantity (summary.csv,
    /// weeks.csv) and shard.ron for merge.
    ///
    /// Example: chaosim ensemble --seeds 0:199 --days 30 --threads 2 --out reports/ensemble
    Ensemble(ensemble::EnsembleArgs),
    /// Merge the output directories of the shards of one batch (API or
    /// scenario sweep, swarm, ensemble, what-if) into the files an unsharded
    /// run writes.
    ///
    /// Example: chaosim merge shards/1 shards/2 shards/3 --out reports/sweep
    Merge(sweep::MergeArgs),
    /// Swarm runs: for each seed, draw each scenario's fault mix (which
    /// faults, how hard, when, how long, partition shapes, clock faults) from
    /// the seed and run it; writes swarm.csv, summary.csv and shard.ron.
    ///
    /// Exit codes: 0 every row passed; 1 a row failed (the files are
    /// written all the same); 2 bad input or usage.
    ///
    /// Example: chaosim swarm --ids S02_acl_spam,MF01_triple_threat --seeds 500 --out reports/swarm
    Swarm(swarm::SwarmArgs),
    /// What each safeguard buys: every candidate change (+name, -name,
    /// stack=FILE) run against the baseline on the same seeds (common random
    /// numbers), paired: failures prevented and introduced, the change in
    /// pass rate with an exact interval and McNemar p, recovery time saved
    /// (p50, p90), and per scenario the evidence and handles of both sides.
    /// With --days N, whole programmes instead: scenarios mastered,
    /// safeguards deployed and generated, days until mastered.
    ///
    /// Example: chaosim whatif --candidates +acl_violation_monitor,+resource_pressure_monitor,-circuit_breaker --seeds 0:19
    ///
    /// Example: chaosim whatif --candidates +cascade_detector,+rate_limiter --days 120 --seeds 0:3 --out reports/whatif-programme
    Whatif(whatif::WhatifArgs),
    /// Shrink a failing case to a smaller one that fails the same way, and
    /// write it as a scenario RON file (a regression test for a catalogue).
    ///
    /// Example: chaosim shrink MF01_triple_threat --seed 7 --swarm --out regressions/mf01.ron
    Shrink(swarm::ShrinkArgs),
    /// Check a history for linearizability: the JSON lines `run --history`
    /// writes, or a Jepsen / Knossos EDN register history (read, write, cas).
    /// Prints the verdict per key and the first operation that cannot be
    /// linearized; exit 0 linearizable, 1 not linearizable or unknown (the
    /// search budget ran out), 2 bad input.
    ///
    /// Example: chaosim check history.edn --initial 0
    Check(check::CheckArgs),
    /// Render a report (index.html, summary.md and SVG + PNG plots) from
    /// what chaosim wrote: a year, API sweep, scenario-sweep, swarm,
    /// ensemble or what-if folder (over scenarios or over programmes), a
    /// run's timeline CSV, trace or history.
    ///
    /// Example: chaosim report reports/swarm --out reports/swarm-report
    Report(report::ReportArgs),
    /// Print a shell completion script for chaosim (its commands, flags and
    /// values) on stdout.
    ///
    /// Example: chaosim completions bash > ~/.local/share/bash-completion/completions/chaosim
    ///
    /// Example: chaosim completions zsh > ~/.zfunc/_chaosim
    ///
    /// Example: chaosim completions fish > ~/.config/fish/completions/chaosim.fish
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) on stdout: chaosim(1), or with a command the
    /// page of that command, chaosim-COMMAND(1).
    ///
    /// Example: chaosim man > chaosim.1 && man ./chaosim.1
    ///
    /// Example: chaosim man run > chaosim-run.1
    Man {
        /// A command (e.g. run, sweep): its own page.
        command: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the hash chain of a programme's audit.jsonl; exit 1 on any edit.
    ///
    /// Example: chaosim audit verify reports/year-42
    Verify {
        /// The output folder (or the audit.jsonl file).
        dir: PathBuf,
        /// Print the verdict as one JSON object: ok, entries and head, or
        /// ok false and the error (the exit code is the same).
        #[arg(long)]
        json: bool,
    },
}

/// Parse arguments, run the command, map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help, --version.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // A usage error on one line, like every other error: clap's
            // first paragraph joined (the rest is its usage and a pointer
            // to --help).
            let text = e.render().to_string();
            let line = text
                .lines()
                .skip_while(|l| l.trim().is_empty())
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            if line.starts_with("error:") {
                eprintln!("{line}");
            } else {
                eprintln!("error: {line}");
            }
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::from(if e.is_input() { 2 } else { 1 })
        }
    }
}

/// An error message on one line: line ends and other control characters
/// that a message quoted from an input file may carry are escaped.
pub(crate) fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::List { scenarios, json } => list(scenarios, json),
        Command::Validate {
            paths,
            stack,
            playbooks,
            json,
        } => validate(paths, stack, playbooks, json),
        Command::Phold {
            lps,
            events,
            seconds,
            seed,
        } => phold(lps, events, seconds, seed),
        Command::Year(args) => sim::year(&args),
        Command::Run(a) => sim::run(
            &a.handle(),
            a.json,
            a.timeline.as_deref(),
            a.narrative.as_deref(),
            a.dump.as_deref(),
            &a.inputs,
            &a.seeing,
        ),
        Command::Stress(a) => sim::stress(&a),
        Command::Replay {
            dir,
            run,
            programme,
            json,
            inputs,
        } => sim::replay(&dir, run, &inputs, programme.as_ref(), json),
        Command::Audit(AuditCommand::Verify { dir, json }) => {
            let verdict = sim::audit_verify(&dir);
            if json {
                // The verdict on stdout either way; the error line (and
                // exit code) as without --json.
                let v = match &verdict {
                    Ok((entries, head)) => {
                        serde_json::json!({"ok": true, "entries": entries, "head": head})
                    }
                    Err(e) => {
                        serde_json::json!({"ok": false, "error": one_line(&e.to_string())})
                    }
                };
                outln!("{v}");
            } else if let Ok((entries, head)) = &verdict {
                outln!("ok: {entries} entries, chain head {head}");
            }
            verdict.map(|_| ExitCode::SUCCESS)
        }
        Command::Selfcheck(cmd) => selfcheck::selfcheck(cmd),
        Command::Stack => {
            outln!("{}", chaosim::model::stack::StackSpec::embedded_text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep(args) => sweep::sweep(args),
        Command::Ensemble(args) => ensemble::ensemble(args),
        Command::Merge(args) => sweep::merge_cmd(args),
        Command::Swarm(args) => swarm::swarm(args),
        Command::Whatif(args) => whatif::whatif(args),
        Command::Shrink(args) => swarm::shrink(args),
        Command::Report(args) => report::report_cmd(args),
        Command::Check(args) => check::check_cmd(args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "chaosim", &mut script);
            write_stdout(&script)
        }
        Command::Man { command } => man(command.as_deref()),
    }
}

/// `chaosim man [COMMAND]`: the roff page of chaosim or of one command.
fn man(command: Option<&str>) -> Result<ExitCode> {
    let cli = Cli::command();
    let page = match command {
        None => cli,
        Some(name) => {
            let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
            let Some(sub) = cli.find_subcommand(name) else {
                return Err(Error::Usage {
                    flag: "COMMAND".into(),
                    message: format!("no command '{name}' (one of {})", names.join(", ")),
                });
            };
            sub.clone()
                .version(env!("CARGO_PKG_VERSION"))
                .display_name(format!("chaosim-{name}"))
                .bin_name(format!("chaosim {name}"))
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .expect("rendering into memory cannot fail");
    write_stdout(&roff)
}

/// Write `bytes` to stdout; a closed pipe ends the process quietly (exit 0).
fn write_stdout(bytes: &[u8]) -> Result<ExitCode> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Error::io("stdout", e)),
    }
}

/// Most pending events PHOLD may start with (`--lps` x `--events`): about
/// 500 MB of queue.
pub const PHOLD_PENDING_MAX: u64 = 10_000_000;

fn phold(lps: u32, events: u32, seconds: u64, seed: u64) -> Result<ExitCode> {
    let pending = lps as u64 * events as u64;
    if pending > PHOLD_PENDING_MAX {
        return Err(Error::Usage {
            flag: "--lps x --events".into(),
            message: format!(
                "{lps} x {events} = {pending} pending events; at most {PHOLD_PENDING_MAX} (the queue holds them all)"
            ),
        });
    }
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

/// A printed list: "none" when it is empty.
pub(crate) fn or_none(list: String) -> String {
    if list.is_empty() { "none".into() } else { list }
}

/// The catalogue from `--scenarios DIR`, or the built-in one.
pub fn load_catalogue(dir: Option<&PathBuf>) -> Result<Catalogue> {
    match dir {
        Some(d) => Catalogue::load_dir(d),
        None => Catalogue::embedded(),
    }
}

fn list(dir: Option<PathBuf>, json: bool) -> Result<ExitCode> {
    let cat = load_catalogue(dir.as_ref())?;
    if json {
        for s in cat.scenarios() {
            let v = serde_json::json!({
                "id": s.id,
                "title": s.title,
                "family": s.family.name(),
                "layer": s.layer,
                "severity": s.severity,
                "duration_s": s.duration_ns as f64 / 1e9,
                "recovery_limit_s": s.recovery_limit_ns as f64 / 1e9,
                "faults": s.faults.len(),
                "expected_safeguards": s.expected_safeguards,
            });
            outln!("{v}");
        }
        return Ok(ExitCode::SUCCESS);
    }
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
            or_none(s.expected_safeguards.join(", "))
        );
    }
    outln!("{} scenarios", cat.len());
    Ok(ExitCode::SUCCESS)
}

fn validate(
    paths: Vec<PathBuf>,
    stack: Option<PathBuf>,
    playbooks: Option<PathBuf>,
    json: bool,
) -> Result<ExitCode> {
    // The stack (and playbooks) first, with the built-in catalogue checked
    // against it.
    let loaded = sim::Inputs {
        scenarios: None,
        stack,
        playbooks,
    }
    .load()?;
    if paths.is_empty() {
        loaded.check_every_level()?;
        let warnings: Vec<String> = loaded
            .catalogue
            .scenarios()
            .iter()
            .flat_map(|spec| {
                spec.faults_cut_by_window()
                    .into_iter()
                    .map(move |w| format!("{}: {w}", spec.id))
            })
            .collect();
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        if json {
            let v = serde_json::json!({
                "ok": true, "scenarios": loaded.catalogue.len(), "catalogue": "built-in", "errors": [],
                "warnings": warnings,
            });
            outln!("{v}");
        } else {
            outln!(
                "ok: {} scenarios (built-in catalogue)",
                loaded.catalogue.len()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut specs = Vec::new();
    let mut errors = 0usize;
    let mut found = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for path in &paths {
        let files = if path.is_dir() {
            let files = catalogue::ron_files(path)?;
            if files.is_empty() {
                // As `--scenarios DIR` refuses it: nothing to validate is
                // not a pass.
                return Err(Error::Invalid {
                    path: path.clone(),
                    field: "(directory)".into(),
                    message: "no *.ron scenario files".into(),
                });
            }
            files
        } else {
            vec![path.clone()]
        };
        for file in files {
            let checked = catalogue::load_file(&file).and_then(|spec| {
                preflight::check_spec_targets(&spec, &loaded.stack)?;
                preflight::check_bounds(&spec, &loaded.stack, difficulty::LEVEL_MAX)?;
                Ok(spec)
            });
            match checked {
                Ok(spec) => {
                    for w in spec.faults_cut_by_window() {
                        let w = format!("{}: {w}", file.display());
                        eprintln!("warning: {w}");
                        warnings.push(w);
                    }
                    specs.push(spec)
                }
                Err(e) => {
                    eprintln!("error: {}", one_line(&e.to_string()));
                    found.push(serde_json::json!({
                        "file": file.display().to_string(),
                        "message": one_line(&e.to_string()),
                    }));
                    errors += 1;
                }
            }
        }
    }
    if errors == 0 {
        let n = specs.len();
        Catalogue::from_specs(specs)?;
        if json {
            outln!(
                "{}",
                serde_json::json!({"ok": true, "scenarios": n, "errors": [], "warnings": warnings})
            );
        } else {
            outln!("ok: {n} scenario{}", if n == 1 { "" } else { "s" });
        }
        Ok(ExitCode::SUCCESS)
    } else {
        if errors > 1 {
            eprintln!("{errors} invalid files");
        }
        if json {
            outln!(
                "{}",
                serde_json::json!({"ok": false, "scenarios": specs.len(), "errors": found, "warnings": warnings})
            );
        }
        Ok(ExitCode::from(2))
    }
}
