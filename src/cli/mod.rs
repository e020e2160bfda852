//! clap commands. Every command is a thin shell over the library.

mod sweep;

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use chaosim::demo::{Phold, PholdParams};
use chaosim::engine::{SimDuration, SimTime};
use chaosim::{Error, Result};

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
        Command::Phold {
            lps,
            events,
            seconds,
            seed,
        } => phold(lps, events, seconds, seed),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Merge(args) => sweep::merge_cmd(args),
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
    println!("PHOLD: {lps} LPs x {events} events, {seconds} simulated s, seed {seed}");
    println!("events handled : {n}");
    println!("wall time      : {secs:.3} s");
    println!("throughput     : {:.2} M events/s", n as f64 / secs / 1e6);
    println!("digest         : {}", sim.digest());
    Ok(ExitCode::SUCCESS)
}
