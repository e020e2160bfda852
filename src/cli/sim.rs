//! The simulation commands: run, stress, year, replay, audit.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use chaosim::engine::SimTime;
use chaosim::model::stack::StackSpec;
use chaosim::program::year::{Checkpoint, run_start};
use chaosim::program::{Programme, YearConfig, audit, run_programme};
use chaosim::safeguard::{Safeguard, SafeguardSet};
use chaosim::scenario::difficulty;
use chaosim::scenario::run::{Planned, RunOutputs, Runner, run_together};
use chaosim::scenario::stress::{StressReport, run_stress};
use chaosim::scenario::{Catalogue, Execution, Executor, Item, Outcome};
use chaosim::{Error, Result};

/// Options shared by commands that load the stack and the catalogue.
#[derive(Args, Debug, Clone)]
pub struct Inputs {
    /// Read scenarios from this directory instead of the built-in catalogue.
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// Read the stack description from this RON file instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub stack: Option<PathBuf>,
    /// Read the recovery playbooks from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub playbooks: Option<PathBuf>,
}

/// Everything loaded and validated, before any output is written.
pub struct Loaded {
    /// The catalogue.
    pub catalogue: Catalogue,
    /// The stack.
    pub stack: StackSpec,
    /// Hash of the stack text.
    pub stack_fingerprint: u64,
}

impl Inputs {
    /// Load and validate the inputs.
    pub fn load(&self) -> Result<Loaded> {
        let catalogue = super::load_catalogue(self.scenarios.as_ref())?;
        let (stack, text) = match &self.stack {
            Some(p) => {
                let text = chaosim::input::read_text(p)?;
                (StackSpec::parse(&text, p)?, text)
            }
            None => (StackSpec::embedded(), StackSpec::embedded_text()),
        };
        let mut stack = stack;
        let mut stack_fingerprint = chaosim::engine::rng::fnv1a64(0x05, text.as_bytes());
        if let Some(dir) = &self.playbooks {
            stack.load_playbooks(dir)?;
            let listing = format!("{:?}", stack.playbooks);
            stack_fingerprint ^= chaosim::engine::rng::fnv1a64(0x06, listing.as_bytes());
        }
        Ok(Loaded {
            catalogue,
            stack,
            stack_fingerprint,
        })
    }
}

fn safeguards_from(spec: &str, default: SafeguardSet) -> Result<SafeguardSet> {
    SafeguardSet::from_spec(spec, default).map_err(|message| Error::Usage {
        flag: "--safeguards".into(),
        message,
    })
}

fn level(difficulty: u8) -> Result<u8> {
    if (1..=10).contains(&difficulty) {
        Ok(difficulty)
    } else {
        Err(Error::Usage {
            flag: "--difficulty".into(),
            message: format!("{difficulty} is out of range (allowed: 1 to 10)"),
        })
    }
}

fn threads(flag: Option<u16>) -> usize {
    flag.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// `chaosim run`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    id: &str,
    seed: u64,
    difficulty: u8,
    safeguards: &str,
    at: &str,
    day: u64,
    json: bool,
    swarm: bool,
    timeline: Option<&Path>,
    narrative: Option<&Path>,
    inputs: &Inputs,
) -> Result<ExitCode> {
    let loaded = inputs.load()?;
    let base = loaded.catalogue.require(id)?;
    let drawn = swarm.then(|| chaosim::sweep::swarm::draw(base, seed));
    let spec = drawn.as_ref().unwrap_or(base);
    let difficulty = level(difficulty)?;
    let deployed = safeguards_from(safeguards, loaded.stack.default_safeguards())?;
    let (h, m) = at
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<u64>().ok()?, m.parse::<u64>().ok()?)))
        .filter(|&(h, m)| h < 24 && m < 60)
        .ok_or_else(|| Error::Usage {
            flag: "--at".into(),
            message: format!("'{at}' is not a time (allowed: HH:MM)"),
        })?;
    let start = SimTime::from_day_time(day, h, m, 0).ok_or_else(|| Error::Usage {
        flag: "--day".into(),
        message: "too large".into(),
    })?;
    let exec = Execution {
        seed,
        run: 0,
        start,
        concurrent: false,
        items: vec![Item {
            scenario: spec.id.clone(),
            difficulty,
            known_fixes: SafeguardSet::EMPTY,
        }],
        deployed,
    };
    // The runner's execution of one sequential item (same seed path as
    // `Runner`, so digests agree with `year` rows), with optional streams.
    let open = |p: Option<&Path>| -> Result<Option<Box<dyn std::io::Write>>> {
        match p {
            None => Ok(None),
            Some(p) => {
                let f = std::fs::File::create(p).map_err(|e| Error::io(p, e))?;
                Ok(Some(Box::new(std::io::BufWriter::new(f))))
            }
        }
    };
    let outputs = RunOutputs {
        timeline: open(timeline)?,
        narrative: open(narrative)?,
    };
    let planned = Planned {
        spec,
        scaled: difficulty::scale(spec, difficulty),
        offset_ns: 0,
    };
    let path = exec.seed_path().child("item").child_u64(0);
    let r = run_together(
        &loaded.stack,
        &[planned],
        deployed,
        SafeguardSet::EMPTY,
        path,
        start,
        outputs,
    );
    let o = match r {
        Ok(mut r) => r.outcomes.remove(0),
        Err(e) => {
            for p in [timeline, narrative].into_iter().flatten() {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
    };
    if json {
        let v = serde_json::to_value(&o).expect("outcome serializes");
        outln!("{}", serde_json::to_string(&v).expect("json"));
    } else {
        print_outcome(&o, seed);
        if swarm {
            outln!(
                "  swarm config    {}",
                chaosim::sweep::swarm::config_short(spec)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_outcome(o: &Outcome, seed: u64) {
    let verdict = if o.passed { "PASSED" } else { "FAILED" };
    outln!(
        "{} at difficulty {} (seed {seed}): {verdict}",
        o.id,
        o.difficulty
    );
    match o.recovery_s {
        Some(r) => outln!(
            "  recovery        {r:.3} s (limit {:.0} s)",
            o.recovery_limit_s
        ),
        None => outln!(
            "  recovery        not restored (limit {:.0} s)",
            o.recovery_limit_s
        ),
    }
    if let Some(reason) = &o.failure_reason {
        outln!("  failure         {reason}");
    }
    outln!("  expected        {}", o.safeguards_expected.join(", "));
    outln!("  fired           {}", o.safeguards_fired.join(", "));
    outln!("  missing         {}", o.safeguards_missing.join(", "));
    outln!("  deployed        {}", o.safeguards_deployed.join(", "));
    outln!("  anomalies       {}", o.anomalies);
    outln!("  events          {}", o.events);
    outln!("  digest          {}", o.digest);
}

/// `chaosim stress`.
pub fn stress(seed: u64, safeguards: &str, inputs: &Inputs) -> Result<ExitCode> {
    let loaded = inputs.load()?;
    let deployed = safeguards_from(safeguards, loaded.stack.default_safeguards())?;
    let report = run_stress(&loaded.stack, &loaded.catalogue, seed, deployed)?;
    print_stress(&report, deployed);
    Ok(ExitCode::SUCCESS)
}

fn print_stress(r: &StressReport, deployed: SafeguardSet) {
    outln!(
        "Layer-1 stress test (seed {}), safeguards: {}",
        r.seed,
        deployed.join(", ")
    );
    outln!("");
    outln!(
        "{:<6} {:<22} {:>10} {:>8}  {:<7} result",
        "wave",
        "scenario",
        "difficulty",
        "recovery",
        "steady"
    );
    for (w, wave) in r.waves.iter().enumerate() {
        for o in &wave.outcomes {
            let rec = o
                .recovery_s
                .map(|s| format!("{s:.1} s"))
                .unwrap_or_else(|| "-".into());
            let res = if o.passed {
                "passed".to_string()
            } else {
                format!("FAILED: {}", o.failure_reason.as_deref().unwrap_or(""))
            };
            outln!(
                "{:<6} {:<22} {:>10} {:>8}  {:<7} {res}",
                w + 1,
                o.id,
                o.difficulty,
                rec,
                if wave.steady_before { "yes" } else { "no" }
            );
        }
    }
    outln!("");
    outln!("waves            {}", r.waves.len());
    outln!("passed           {}", r.passed);
    outln!("failed           {}", r.failed);
    outln!("success rate     {:.1} %", r.success_rate * 100.0);
    outln!("kernels booted   {}", r.kernels_booted);
    outln!(
        "final kernels    {}/{} running",
        r.final_kernels_running,
        r.kernels_booted
    );
    outln!("escalations      {}", r.escalations);
    outln!("events           {}", r.events);
    outln!("digest           {}", r.digest);
}

/// Options of `chaosim year`.
#[derive(Args, Debug, Clone)]
pub struct YearArgs {
    /// Root seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of programme years.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub years: u32,
    /// Run only this many days (a short programme), instead of --years.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=366_000), conflicts_with = "years")]
    pub days: Option<u32>,
    /// Output folder (default reports/year-<seed>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Read the programme from this RON file instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub programme: Option<PathBuf>,
    /// Continue an interrupted programme in --out.
    #[arg(long)]
    pub resume: bool,
    /// Overwrite a complete or interrupted programme in --out.
    #[arg(long)]
    pub force: bool,
    /// Safeguards deployed at the start (default, none, all, +name,-name).
    #[arg(long, default_value = "default")]
    pub safeguards: String,
    /// Do not write the report.
    #[arg(long)]
    pub no_report: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Threads for the scenarios of one run (default: the machine's cores).
    /// Output bytes do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Stack and scenarios.
    #[command(flatten)]
    pub inputs: Inputs,
}

/// `chaosim year`.
pub fn year(a: &YearArgs) -> Result<ExitCode> {
    // Everything is loaded and validated before the folder is touched.
    let loaded = a.inputs.load()?;
    let prog = match &a.programme {
        Some(p) => Programme::load(p)?,
        None => Programme::embedded(),
    };
    let deployed = safeguards_from(&a.safeguards, loaded.stack.default_safeguards())?;
    let runs_total = match a.days {
        Some(d) => d as u64 * prog.slots.len() as u64,
        None => a.years as u64 * prog.runs_per_year(),
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("reports/year-{}", a.seed)));
    let cfg = YearConfig {
        seed: a.seed,
        runs_total,
        out: out.clone(),
        resume: a.resume,
        force: a.force,
        initial_deployed: deployed,
        inputs_fingerprint: prog.fingerprint
            ^ loaded.catalogue.fingerprint()
            ^ loaded.stack_fingerprint,
    };
    let runner = Runner {
        catalogue: &loaded.catalogue,
        stack: &loaded.stack,
        threads: threads(a.threads),
    };
    let bar = if a.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(runs_total);
        b.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} runs ({per_sec}, eta {eta})",
            )
            .expect("template")
            .progress_chars("=> "),
        );
        b
    };
    let wall = std::time::Instant::now();
    let s = run_programme(&cfg, &prog, &loaded.catalogue, &runner, &mut |done, _| {
        bar.set_position(done)
    })?;
    bar.finish_and_clear();
    let secs = wall.elapsed().as_secs_f64();
    outln!(
        "chaos programme: {} runs, seed {}, output {}",
        s.lifetime_runs,
        a.seed,
        out.display()
    );
    outln!("");
    outln!(
        "scenarios tested      {}/{}",
        s.tested,
        loaded.catalogue.len()
    );
    outln!("mastered              {}", s.mastered);
    outln!("still failing         {}", s.still_failing);
    outln!("average difficulty    {:.1}/10", s.average_difficulty);
    outln!("lifetime runs         {}", s.lifetime_runs);
    outln!(
        "executions            {} ({} passed, {} failed)",
        s.totals.executions,
        s.totals.passes,
        s.totals.failures
    );
    outln!("escalations           {}", s.totals.escalations);
    outln!(
        "safeguards            {} generated, {} deployed, {} validation failures",
        s.totals.generated,
        s.totals.deployed,
        s.totals.validation_failures
    );
    outln!("deployed at the end   {}", s.deployed.join(", "));
    outln!("next run              {}", s.next_run);
    outln!("digest of the year    {}", s.digest);
    outln!(
        "wall time             {secs:.2} s ({:.0} runs/s, {:.2} M events/s)",
        s.lifetime_runs as f64 / secs,
        s.totals.events as f64 / secs / 1e6
    );
    if !a.no_report {
        let index = chaosim::report::year::render(&out, &out.join("report"))?;
        outln!("report: {}", index.html.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `chaosim replay DIR --run N`.
pub fn replay(
    dir: &Path,
    run: u64,
    inputs: &Inputs,
    programme: Option<&PathBuf>,
) -> Result<ExitCode> {
    let loaded = inputs.load()?;
    let prog = match programme {
        Some(p) => Programme::load(p)?,
        None => Programme::embedded(),
    };
    let runs_path = dir.join("runs.csv");
    let outcomes_path = dir.join("outcomes.csv");
    let mut rdr = csv::Reader::from_path(&runs_path).map_err(|e| csv_err(&runs_path, e))?;
    let headers = rdr.headers().map_err(|e| csv_err(&runs_path, e))?.clone();
    let col = |h: &csv::StringRecord, n: &str, p: &Path| {
        h.iter().position(|x| x == n).ok_or_else(|| Error::Invalid {
            path: p.to_path_buf(),
            field: n.into(),
            message: "column missing".into(),
        })
    };
    let mut row = None;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_err(&runs_path, e))?;
        if rec.get(col(&headers, "run", &runs_path)?) == Some(&run.to_string()) {
            row = Some(rec);
            break;
        }
    }
    let row = row.ok_or_else(|| Error::Usage {
        flag: "--run".into(),
        message: format!("run {run} is not in {}", runs_path.display()),
    })?;
    let get = |n: &str| -> Result<String> {
        Ok(row
            .get(col(&headers, n, &runs_path)?)
            .unwrap_or("")
            .to_string())
    };
    let seed: u64 = get("seed")?.parse().map_err(|_| Error::Invalid {
        path: runs_path.clone(),
        field: "seed".into(),
        message: "not a number".into(),
    })?;
    let deployed =
        SafeguardSet::from_spec(&get("deployed")?.replace(';', ","), SafeguardSet::EMPTY).map_err(
            |m| Error::Invalid {
                path: runs_path.clone(),
                field: "deployed".into(),
                message: m,
            },
        )?;
    let perspective = get("perspective")?;
    // The outcome rows of this run: scenario, difficulty, known fixes, digest.
    let mut ordr =
        csv::Reader::from_path(&outcomes_path).map_err(|e| csv_err(&outcomes_path, e))?;
    let oh = ordr
        .headers()
        .map_err(|e| csv_err(&outcomes_path, e))?
        .clone();
    let (c_run, c_sc, c_lv, c_kf, c_dg) = (
        col(&oh, "run", &outcomes_path)?,
        col(&oh, "scenario", &outcomes_path)?,
        col(&oh, "difficulty", &outcomes_path)?,
        col(&oh, "known_fixes", &outcomes_path)?,
        col(&oh, "digest", &outcomes_path)?,
    );
    let mut items = Vec::new();
    let mut recorded = Vec::new();
    for rec in ordr.records() {
        let rec = rec.map_err(|e| csv_err(&outcomes_path, e))?;
        if rec.get(c_run) != Some(&run.to_string()) {
            continue;
        }
        let known = SafeguardSet::from_spec(&rec[c_kf].replace(';', ","), SafeguardSet::EMPTY)
            .map_err(|m| Error::Invalid {
                path: outcomes_path.clone(),
                field: "known_fixes".into(),
                message: m,
            })?;
        items.push(Item {
            scenario: rec[c_sc].to_string(),
            difficulty: rec[c_lv].parse().unwrap_or(1),
            known_fixes: known,
        });
        recorded.push(rec[c_dg].to_string());
    }
    let exec = Execution {
        seed,
        run,
        start: run_start(&prog, run),
        concurrent: perspective == "Mixed",
        items,
        deployed,
    };
    let runner = Runner {
        catalogue: &loaded.catalogue,
        stack: &loaded.stack,
        threads: threads(None),
    };
    let outcomes = runner.execute(&exec)?;
    let mut mismatches = 0;
    for (o, want) in outcomes.iter().zip(&recorded) {
        let got = o.digest.to_string();
        if &got == want {
            outln!("run {run} {:<32} digest {got} matches", o.id);
        } else {
            mismatches += 1;
            outln!(
                "run {run} {:<32} digest {got} MISMATCH (recorded {want})",
                o.id
            );
        }
    }
    if let Ok(cp) = std::fs::read_to_string(dir.join("checkpoint.ron"))
        && let Ok(cp) = ron::from_str::<Checkpoint>(&cp)
    {
        let fp = prog.fingerprint ^ loaded.catalogue.fingerprint() ^ loaded.stack_fingerprint;
        if cp.inputs_fingerprint != fp {
            eprintln!(
                "note: the stack, scenario or programme files differ from those the folder was written with"
            );
        }
    }
    if mismatches > 0 {
        return Err(Error::Check(format!(
            "replay of run {run}: {mismatches} digest mismatch(es) in {}",
            outcomes_path.display()
        )));
    }
    Ok(ExitCode::SUCCESS)
}

fn csv_err(path: &Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => chaosim::input::not_found_is_input(path, io),
        other => Error::Invalid {
            path: path.to_path_buf(),
            field: "(csv)".into(),
            message: format!("{other:?}"),
        },
    }
}

/// `chaosim audit verify DIR`.
pub fn audit_verify(dir: &Path) -> Result<ExitCode> {
    let path = if dir.is_dir() {
        dir.join("audit.jsonl")
    } else {
        dir.to_path_buf()
    };
    let v = audit::verify(&path)?;
    // The checkpoint knows how long the chain should be: a cut tail shows.
    let cp_path = path.with_file_name("checkpoint.ron");
    if let Ok(text) = std::fs::read_to_string(&cp_path)
        && let Ok(cp) = ron::from_str::<Checkpoint>(&text)
        && cp.complete
        && (cp.audit_seq != v.entries || cp.audit_head != v.head)
    {
        return Err(Error::Check(format!(
            "{}: audit chain has {} entries ending {}, but the checkpoint recorded {} ending {} (entries were cut or replaced)",
            path.display(),
            v.entries,
            &v.head[..16],
            cp.audit_seq,
            &cp.audit_head[..16.min(cp.audit_head.len())]
        )));
    }
    outln!("ok: {} entries, chain head {}", v.entries, v.head);
    let _ = Safeguard::ALL;
    Ok(ExitCode::SUCCESS)
}
