//! `chaosim whatif`: flag parsing and printing only; the work is in
//! [`chaosim::sweep::whatif`].

use std::path::PathBuf;
use std::process::ExitCode;

use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::repro::parse_time_of_day;
use chaosim::sweep::whatif::{
    Baseline, CONFIDENCE, Candidate, CandidateReport, QuantileCi, WhatifOut, WhatifReport,
    WhatifSpec, run_whatif,
};
use chaosim::{Error, Result};

use super::sim::Inputs;

/// The flags of `chaosim whatif`.
#[derive(clap::Args, Debug)]
pub struct WhatifArgs {
    /// Candidate changes, comma-separated, each one change: `+name` (deploy
    /// a safeguard), `-name` (remove one) or `stack=FILE` (another stack).
    #[arg(long, value_name = "LIST", allow_hyphen_values = true)]
    candidates: Option<String>,
    /// One candidate made of several changes (`+a,+b`, or `stack=FILE`);
    /// repeat for more.
    #[arg(long, value_name = "SPEC", allow_hyphen_values = true)]
    candidate: Vec<String>,
    /// Comma-separated scenario ids (default: every scenario of the catalogue).
    #[arg(long, value_name = "IDS")]
    ids: Option<String>,
    /// Seeds FROM:TO, inclusive as in `chaosim ensemble` (0:19 is 20 seeds), or one seed.
    #[arg(long, default_value = "0:19", value_name = "FROM:TO")]
    seeds: String,
    /// Programme mode: run the whole chaos programme for N days per seed
    /// (baseline and each candidate's initial safeguards) and compare
    /// scenarios mastered, safeguards deployed and generated, pass rate and
    /// days until each scenario is mastered, paired over seeds.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=36_600), conflicts_with_all = ["ids", "difficulty", "at"])]
    days: Option<u64>,
    /// With --days: read the programme from this RON file instead of the
    /// built-in one.
    #[arg(long, value_name = "FILE", requires = "days")]
    programme: Option<PathBuf>,
    /// Difficulty level of every run, 1 to 10.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=10))]
    difficulty: u8,
    /// Time of day every run starts at (governance is slower at night).
    #[arg(long, default_value = "12:00", value_name = "HH:MM")]
    at: String,
    /// The baseline's safeguards: default, none, all, or +name,-name edits
    /// to the stack's default set.
    #[arg(long, default_value = "default", allow_hyphen_values = true)]
    safeguards: String,
    /// Threads and shard (a shard needs --out; `chaosim merge` joins them).
    #[command(flatten)]
    workers: super::ShardArgs,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Also write pairs.csv (every run of every pair), candidates.csv,
    /// scenarios.csv, whatif.json and shard.ron into DIR, and the report
    /// (DIR/report: the ranked candidates with their intervals, the changed
    /// scenarios with both handles). With --days: programmes.csv (every
    /// programme), programme.csv, programme_scenarios.csv, whatif.json and
    /// shard.ron.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace this what-if's files in --out (other files are left alone).
    #[arg(long, requires = "out")]
    force: bool,
    /// With --out, do not write the report.
    #[arg(long, requires = "out")]
    no_report: bool,
    /// Stack and scenarios of the baseline.
    #[command(flatten)]
    inputs: Inputs,
}

/// Run `chaosim whatif`.
pub fn whatif(args: WhatifArgs) -> Result<ExitCode> {
    let loaded = args.inputs.load()?;
    let default_set = loaded.stack.default_safeguards();
    let baseline = SafeguardSet::from_spec(&args.safeguards, default_set)
        .map_err(|m| Error::usage("--safeguards", m))?;
    let mut specs: Vec<(String, &str)> = Vec::new();
    if let Some(list) = &args.candidates {
        for c in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            specs.push((c.to_string(), "--candidates"));
        }
    }
    for c in &args.candidate {
        specs.push((c.trim().to_string(), "--candidate"));
    }
    if specs.is_empty() {
        return Err(Error::usage(
            "--candidates",
            "give at least one candidate (+name, -name or stack=FILE)",
        ));
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    for (label, flag) in specs {
        let c = candidate(&label, flag, baseline, &args.inputs)?;
        // The same change twice would be ranked twice, as if two.
        if let Some(same) = candidates
            .iter()
            .find(|o| o.deployed == c.deployed && o.stack.is_none() && c.stack.is_none())
        {
            return Err(Error::usage(
                flag,
                format!(
                    "{label} deploys the same safeguards as {}: give each change once",
                    same.label
                ),
            ));
        }
        candidates.push(c);
    }
    let seeds = parse_seeds(&args.seeds)?;
    if let Some(days) = args.days {
        return programme_whatif(&args, &loaded, baseline, &candidates, seeds, days);
    }
    // clap drops `requires = "days"` when --days conflicts with a flag given
    // (--ids): a programme file nothing would read is refused here.
    if args.programme.is_some() {
        return Err(Error::usage(
            "--programme",
            "applies to the programme mode (--days N); a what-if over scenarios runs no programme",
        ));
    }
    let ids = loaded.ids_or_all(args.ids.as_deref())?;
    let at_ns = parse_time_of_day(&args.at).map_err(|m| Error::usage("--at", m))?;
    let (shard, threads) = args.workers.resolve()?;
    if shard.count > 1 && args.out.is_none() {
        return Err(Error::usage(
            "--shard",
            format!(
                "shard {}/{} needs --out DIR: a shard's pairs are merged from its folder",
                shard.index, shard.count
            ),
        ));
    }
    let units = ids.len() as u64 * seeds.1.saturating_sub(seeds.0);
    let (lo, hi) = shard.range(units);
    let (bar, progress) = super::progress_bar(hi - lo, "pairs", args.quiet || args.json);
    let spec = WhatifSpec {
        ids,
        seeds,
        difficulty: args.difficulty,
        start: chaosim::engine::SimTime::from_nanos(at_ns),
        threads,
        progress,
    };
    let out = out_of(&args, shard)?;
    let base = Baseline {
        stack: &loaded.stack,
        stack_fingerprint: loaded.stack_fingerprint,
        catalogue: &loaded.catalogue,
        files: &loaded.files,
        deployed: baseline,
    };
    let report = run_whatif(&base, &candidates, &spec, out.as_ref())?;
    bar.finish_and_clear();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(&report).expect("the report serializes")
        );
    } else {
        print(&report);
    }
    finish_out(
        &args,
        "pairs.csv, candidates.csv, scenarios.csv, whatif.json",
        shard,
    )
}

/// After a run with `--out`: say what was written (`files`, then
/// `shard.ron`) unless `--json`, and render the report unless
/// `--no-report`.
fn finish_out(args: &WhatifArgs, files: &str, shard: chaosim::shard::Shard) -> Result<ExitCode> {
    let Some(out) = &args.out else {
        return Ok(ExitCode::SUCCESS);
    };
    if !args.json {
        outln!(
            "wrote {}/{files}, shard.ron (shard {}/{})",
            out.display(),
            shard.index,
            shard.count
        );
    }
    if !args.no_report {
        let html = super::write_report(out)?;
        if !args.json {
            super::print_report_line(Some(&html));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--out DIR` for shard `shard`, with the report's folder checked before
/// the run (the batch's own files are checked when the run opens them).
fn out_of(args: &WhatifArgs, shard: chaosim::shard::Shard) -> Result<Option<WhatifOut>> {
    let Some(dir) = &args.out else {
        return Ok(None);
    };
    if !args.no_report {
        super::check_report(dir, chaosim::report::ReportKind::Whatif, args.force)?;
    }
    Ok(Some(WhatifOut {
        dir: dir.clone(),
        force: args.force,
        shard,
    }))
}

/// `chaosim whatif --days N`: whole programmes paired over seeds.
fn programme_whatif(
    args: &WhatifArgs,
    loaded: &super::sim::Loaded,
    baseline: SafeguardSet,
    candidates: &[Candidate],
    seeds: (u64, u64),
    days: u64,
) -> Result<ExitCode> {
    use chaosim::sweep::whatif_programme::{
        self as wp, ProgrammeBaseline, ProgrammeWhatifSpec, run_programme_whatif,
    };
    loaded.check_every_level()?;
    let prog = match &args.programme {
        Some(p) => chaosim::program::spec::Programme::load(p)?,
        None => chaosim::program::spec::Programme::embedded(),
    };
    let (shard, threads) = args.workers.resolve()?;
    if shard.count > 1 && args.out.is_none() {
        return Err(Error::usage(
            "--shard",
            format!(
                "shard {}/{} needs --out DIR: a shard's programmes are merged from its folder",
                shard.index, shard.count
            ),
        ));
    }
    let (lo, hi) = shard.range(seeds.1.saturating_sub(seeds.0));
    let programmes = (hi - lo) * (candidates.len() as u64 + 1);
    let (bar, progress) = super::progress_bar(programmes, "programmes", args.quiet || args.json);
    let base = ProgrammeBaseline {
        programme: &prog,
        catalogue: &loaded.catalogue,
        stack: &loaded.stack,
        deployed: baseline,
        inputs_fingerprint: prog.fingerprint
            ^ loaded.catalogue.fingerprint()
            ^ loaded.stack_fingerprint,
    };
    let spec = ProgrammeWhatifSpec {
        seeds,
        days,
        threads,
        progress,
    };
    let out = out_of(args, shard)?;
    let r = run_programme_whatif(&base, candidates, &spec, out.as_ref())?;
    bar.finish_and_clear();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(&r).expect("the report serializes")
        );
    } else {
        outln!(
            "what-if over whole programmes: seeds {}:{} x {} days ({} runs each), {} programmes",
            r.seeds.0,
            r.seeds.1 - 1,
            r.days,
            r.runs_total,
            r.programmes
        );
        outln!(
            "baseline: {:.2} of {} scenarios mastered, {:.2} safeguards deployed ({:.2} generated), pass rate {:.3}",
            r.baseline_mastered,
            r.catalogue_scenarios,
            r.baseline_safeguards,
            r.baseline_generated,
            r.baseline_pass_rate
        );
        outln!(
            "changes are candidate - baseline, mean over seeds with the {:.0} % Student-t interval",
            CONFIDENCE * 100.0
        );
        outln!("");
        outln!(
            "{:<4} {:<36} {:>24} {:>24} {:>24} {:>26}",
            "rank",
            "candidate",
            "mastered",
            "safeguards deployed",
            "safeguards generated",
            "pass rate"
        );
        let ci = |v: f64, lo: f64, hi: f64, d: usize| {
            format!("{:+.d$} [{:+.d$}, {:+.d$}]", v + 0.0, lo + 0.0, hi + 0.0)
        };
        for c in &r.candidates {
            outln!(
                "{:<4} {:<36} {:>24} {:>24} {:>24} {:>26}",
                c.rank,
                c.label,
                ci(
                    c.mastered_change,
                    c.mastered_change_low,
                    c.mastered_change_high,
                    2
                ),
                ci(
                    c.safeguards_change,
                    c.safeguards_change_low,
                    c.safeguards_change_high,
                    2
                ),
                ci(
                    c.generated_change,
                    c.generated_change_low,
                    c.generated_change_high,
                    2
                ),
                ci(
                    c.pass_rate_change,
                    c.pass_rate_change_low,
                    c.pass_rate_change_high,
                    3
                )
            );
        }
        for c in &r.candidates {
            if c.scenarios.is_empty() {
                continue;
            }
            outln!("");
            let n = c.scenarios.len();
            outln!(
                "{}: mastery changed in {n} scenario{}",
                c.label,
                if n == 1 { "" } else { "s" }
            );
            for sc in &c.scenarios {
                let saved = match sc.days_saved {
                    Some(d) => format!("{d:+.1} days"),
                    None => "-".into(),
                };
                outln!(
                    "  {:<34} candidate only {:>3}  baseline only {:>3}  both {:>3}  days saved {saved}",
                    sc.id,
                    sc.candidate_only,
                    sc.baseline_only,
                    sc.both
                );
            }
        }
    }
    let files = [
        wp::PROGRAMMES_FILE,
        wp::PROGRAMME_FILE,
        wp::PROGRAMME_SCENARIOS_FILE,
        chaosim::sweep::whatif::REPORT_FILE,
    ];
    finish_out(args, &files.join(", "), shard)
}

/// One candidate from its spec: safeguard edits to the baseline, or a stack
/// file (its default set with the baseline's edits).
fn candidate(label: &str, flag: &str, baseline: SafeguardSet, base: &Inputs) -> Result<Candidate> {
    if let Some(path) = label.strip_prefix("stack=") {
        let inputs = Inputs {
            scenarios: base.scenarios.clone(),
            stack: Some(PathBuf::from(path)),
            playbooks: base.playbooks.clone(),
        };
        let loaded = inputs.load()?;
        return Ok(Candidate {
            label: label.to_string(),
            deployed: baseline,
            stack: Some((loaded.stack, loaded.files)),
        });
    }
    if !label
        .split(',')
        .all(|c| c.starts_with('+') || c.starts_with('-'))
    {
        return Err(Error::usage(
            flag,
            format!("'{label}': a candidate is +name, -name or stack=FILE"),
        ));
    }
    let deployed = SafeguardSet::from_spec(label, baseline)
        .map_err(|m| Error::usage(flag, format!("'{label}': {m}")))?;
    if deployed == baseline {
        return Err(Error::usage(
            flag,
            format!(
                "'{label}' changes nothing: the baseline already {}",
                if label.starts_with('-') {
                    "goes without it"
                } else {
                    "deploys it"
                }
            ),
        ));
    }
    Ok(Candidate {
        label: label.to_string(),
        deployed,
        stack: None,
    })
}

/// `--seeds FROM:TO`, inclusive as in `chaosim ensemble` (or one seed),
/// as the half-open range `from..to + 1`.
fn parse_seeds(text: &str) -> Result<(u64, u64)> {
    let bad = || {
        Error::usage(
            "--seeds",
            format!("'{text}' is not FROM:TO (whole numbers, FROM <= TO, inclusive) or one seed"),
        )
    };
    let (a, b) = text.split_once(':').unwrap_or((text, text));
    let from: u64 = a.trim().parse().map_err(|_| bad())?;
    let to: u64 = b.trim().parse().map_err(|_| bad())?;
    if from > to || to == u64::MAX {
        return Err(bad());
    }
    Ok((from, to + 1))
}

/// Percent, with -0.0 printed as +0.0.
fn pct(share: f64) -> f64 {
    share * 100.0 + 0.0
}

fn q(ci: Option<QuantileCi>) -> String {
    match ci {
        None => "-".into(),
        Some(c) => {
            let b = |v: Option<f64>| v.map_or("?".into(), |v| format!("{:.1}", v + 0.0));
            format!("{:.1} [{}, {}]", c.value + 0.0, b(c.low), b(c.high))
        }
    }
}

fn print(r: &WhatifReport) {
    outln!(
        "what-if: {} scenario{} x seeds {}:{} at difficulty {}, {} pairs per candidate",
        r.scenarios.len(),
        if r.scenarios.len() == 1 { "" } else { "s" },
        r.seeds.0,
        r.seeds.1 - 1,
        r.difficulty,
        r.pairs
    );
    outln!(
        "baseline: {} passed of {} ({})",
        r.baseline_passed,
        r.pairs,
        if r.baseline.is_empty() {
            "no safeguards".to_string()
        } else {
            r.baseline.join(", ")
        }
    );
    outln!(
        "intervals at {:.0} % (? where too few pairs bound a side); recovery saved = baseline - candidate, s, on pairs where both recovered",
        CONFIDENCE * 100.0
    );
    outln!("");
    outln!(
        "{:<4} {:<40} {:>9} {:>10} {:>25} {:>9} {:>20} {:>20}",
        "rank",
        "candidate",
        "prevented",
        "introduced",
        "pass rate change",
        "McNemar p",
        "saved p50 s",
        "saved p90 s"
    );
    for c in &r.candidates {
        outln!(
            "{:<4} {:<40} {:>9} {:>10} {:>25} {:>9} {:>20} {:>20}",
            c.rank,
            c.label,
            c.prevented,
            c.introduced,
            format!(
                "{:+.1} % [{:+.1}, {:+.1}]",
                pct(c.pass_rate_change),
                pct(c.pass_rate_change_low),
                pct(c.pass_rate_change_high)
            ),
            format!("{:.3}", c.mcnemar_p),
            q(c.recovery_saved_p50_s),
            q(c.recovery_saved_p90_s)
        );
    }
    for c in &r.candidates {
        print_changes(c);
    }
}

fn print_changes(c: &CandidateReport) {
    outln!("");
    if c.changed.is_empty() {
        outln!("{}: changed no verdict", c.label);
        return;
    }
    let n = c.changed.len();
    outln!(
        "{}: changed {n} scenario{}",
        c.label,
        if n == 1 { "" } else { "s" }
    );
    for s in &c.changed {
        outln!(
            "  {:<34} prevented {:>4}  introduced {:>4}",
            s.id,
            s.prevented,
            s.introduced
        );
        for (what, ex) in [
            ("prevented", &s.prevented_example),
            ("introduced", &s.introduced_example),
        ] {
            let Some(ex) = ex else { continue };
            outln!("    first {what} pair, seed {}:", ex.seed);
            for (name, side) in [("baseline", &ex.baseline), ("candidate", &ex.candidate)] {
                let verdict = if side.passed {
                    "passed".to_string()
                } else {
                    format!("FAILED: {}", side.failure_reason.as_deref().unwrap_or(""))
                };
                outln!("      {name:<9} {verdict}");
                for e in &side.evidence {
                    outln!("                {e}");
                }
                outln!("                repro: {}", side.repro);
            }
        }
    }
}
