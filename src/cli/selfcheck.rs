//! `chaosim selfcheck`: run the work twice and prove it deterministic, or
//! name the first event where the two runs parted.
//!
//! - `run`: both copies run in lockstep on two threads (every simulation
//!   they create is observed, [`chaosim::engine::trace::lockstep_scoped`]);
//!   the first event whose time, kind or target differ is the answer.
//! - `year`: the programme runs twice into two folders; `runs.csv`,
//!   `outcomes.csv` and `safeguards.csv` are compared row by row (streamed);
//!   the first divergent run is rebuilt from both folders and, if both copies
//!   executed the same thing, rerun in lockstep to locate the event.
//! - `sweep`: the sweep runs as a child process with 1 and with N threads;
//!   every output file is compared byte by byte (the first divergent row is
//!   named).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use chaosim::engine::trace::{Divergence, Lockstep, lockstep_scoped};
use chaosim::program::{Programme, YearConfig, run_programme};
use chaosim::scenario::run::{RunOutputs, Runner};
use chaosim::scenario::{Catalogue, Execution, Outcome, Repro};
use chaosim::{Error, Result};

use super::sim::{self, RecordedRun, recorded_run};

/// Agreeing events kept for context before a divergence.
const TRAIL_LEN: usize = 8;

/// What `chaosim selfcheck` checks.
#[derive(Subcommand, Debug)]
pub enum SelfcheckCommand {
    /// Run scenarios twice in lockstep (the flags of `chaosim run`, a
    /// handle's --expect-digest included; those that write a file or run a
    /// control group are refused; with --json one object: deterministic,
    /// the outcomes' two digests, the divergence).
    ///
    /// Example: chaosim selfcheck run S02_acl_spam --difficulty 3
    Run(Box<sim::RunArgs>),
    /// Run a programme twice and compare its files row by row (same flags
    /// as `chaosim year`; --out is where the two copies go, default a
    /// temporary folder removed on success; --json one object: deterministic,
    /// each file, both digests, the first differing row).
    ///
    /// Example: chaosim selfcheck year --days 2
    #[command(
        mut_arg("out", |a| a.help("Where the two copies go, in DIR/a and DIR/b (default: a temporary folder, removed on success); copies already there are replaced only with --force")),
        mut_arg("json", |a| a.help("Print one JSON object: deterministic, each file identical or its first differing row, both digests")),
        mut_arg("resume", |a| a.help("Not available for selfcheck (refused): both copies run from the start")),
    )]
    Year(sim::YearArgs),
    /// Run a sweep with 1 and with N threads and compare every output file
    /// (all other flags as `chaosim sweep`; --json one object).
    ///
    /// Example: chaosim selfcheck sweep --rates 0:0.2:0.1 --n 100 --threads 2
    Sweep(SweepCheckArgs),
}

/// `chaosim selfcheck sweep` flags.
#[derive(Args, Debug)]
pub struct SweepCheckArgs {
    /// Threads of the second run (default: the machine's cores, at least 2).
    #[arg(long)]
    threads: Option<usize>,
    /// Where the two copies go (default: a temporary folder removed on
    /// success).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print one JSON object: deterministic, the thread counts, each file
    /// identical (with its lines) or its first differing line in both
    /// copies.
    #[arg(long)]
    json: bool,
    /// The `chaosim sweep` flags.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "SWEEP FLAGS"
    )]
    args: Vec<String>,
}

/// Run a self-check.
pub fn selfcheck(cmd: SelfcheckCommand) -> Result<ExitCode> {
    match cmd {
        SelfcheckCommand::Run(a) => check_run(&a),
        SelfcheckCommand::Year(a) => check_year(&a),
        SelfcheckCommand::Sweep(a) => check_sweep(&a),
    }
}

/// Run `exec` twice in lockstep (one thread per copy, items in turn).
fn lockstep_exec(
    repro: &Repro,
    catalogue: &Catalogue,
    stack: &chaosim::model::stack::StackSpec,
) -> (Lockstep, Result<Vec<Outcome>>, Result<Vec<Outcome>>) {
    let copy = || repro.execute(catalogue, stack, RunOutputs::default());
    let r = lockstep_scoped(copy, copy, TRAIL_LEN);
    (r.result, r.a, r.b)
}

fn print_divergence(d: &Divergence, exec: &Execution) {
    let what = if exec.concurrent {
        "the run's one simulation (items together)".to_string()
    } else {
        let k = d.simulation as usize;
        match exec.items.get(k) {
            Some(it) => format!("the simulation of item {k} ({})", it.scenario),
            None => format!("simulation {k}"),
        }
    };
    outln!("DIVERGED in {what}");
    outln!("{d}");
}

/// Refuse the `chaosim run` flags that write a file or run a control group:
/// the self-check compares two copies in memory and writes nothing, so
/// such a flag would change nothing (and a user would look for its file).
fn refuse_output_flags(a: &sim::RunArgs) -> Result<()> {
    let given = [
        ("--timeline", a.timeline.is_some()),
        ("--narrative", a.narrative.is_some()),
        ("--dump", a.dump.is_some()),
        ("--trace", a.seeing.trace.is_some()),
        ("--history", a.seeing.history.is_some()),
        ("--control", a.seeing.control),
    ];
    match given.iter().find(|(_, on)| *on) {
        Some((flag, _)) => Err(Error::Usage {
            flag: (*flag).into(),
            message: "not available for selfcheck, which compares two copies in memory and writes nothing; use it with `chaosim run`".into(),
        }),
        None => Ok(()),
    }
}

fn check_run(a: &sim::RunArgs) -> Result<ExitCode> {
    refuse_output_flags(a)?;
    let loaded = a.inputs.load()?;
    let resolved = a.handle().resolve(loaded.stack.default_safeguards())?;
    for it in &resolved.repro.exec.items {
        loaded.catalogue.require(&it.scenario)?;
    }
    resolved.check_one_digest()?;
    if resolved.files_recorded.is_some() {
        loaded.check_files(&resolved.files_recorded.clone().unwrap_or_default())?;
    }
    let repro = &resolved.repro;
    let wall = std::time::Instant::now();
    let (result, oa, ob) = lockstep_exec(repro, &loaded.catalogue, &loaded.stack);
    let secs = wall.elapsed().as_secs_f64();
    match result {
        Lockstep::Diverged(d) => {
            if a.json {
                // One object: the verdict and the divergence as printed.
                let v = serde_json::json!({
                    "deterministic": false,
                    "divergence": d.to_string(),
                    "simulation": d.simulation,
                });
                outln!("{v}");
                return Ok(ExitCode::from(1));
            }
            outln!("selfcheck run: 2 copies in lockstep");
            print_divergence(&d, &repro.exec);
            Ok(ExitCode::from(1))
        }
        Lockstep::Agree {
            events,
            simulations,
            ..
        } => {
            let (oa, ob) = (oa?, ob?);
            if !a.json {
                outln!(
                    "selfcheck run: 2 copies in lockstep, {simulations} simulation(s), {events} events each, every event identical ({secs:.2} s)"
                );
            }
            let mut same = true;
            let mut rows = Vec::new();
            for (x, y) in oa.iter().zip(&ob) {
                let ok = x == y;
                same &= ok;
                rows.push(serde_json::json!({
                    "id": x.id,
                    "digest_a": x.digest.to_string(),
                    "digest_b": y.digest.to_string(),
                    "same": ok,
                }));
                if !a.json {
                    outln!(
                        "  {:<32} digest {} {} {}{}",
                        x.id,
                        x.digest,
                        if ok { "=" } else { "vs" },
                        y.digest,
                        if ok { "" } else { "  OUTCOMES DIFFER" }
                    );
                }
            }
            let deterministic = same && oa.len() == ob.len();
            // A handle's digest: both copies agree, and must give it.
            let mismatch = resolved
                .digest_expected
                .filter(|_| deterministic)
                .and_then(|want| {
                    let got = repro.pick(&oa).expect("one outcome per item").digest;
                    (got != want).then_some((want, got))
                });
            if let Some((want, got)) = mismatch {
                return Err(Error::Check(format!(
                    "digest mismatch: the handle recorded {want}, both copies gave {got} (deterministic, but the handle does not reproduce with this build)"
                )));
            }
            if a.json {
                let v = serde_json::json!({
                    "deterministic": deterministic,
                    "simulations": simulations,
                    "events": events,
                    "outcomes": rows,
                    "divergence": null,
                });
                outln!("{v}");
            } else if !deterministic {
                outln!(
                    "the events agree but the outcomes differ: the verdict is not deterministic"
                );
            } else {
                outln!("ok: deterministic");
            }
            Ok(if deterministic {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Where two text files differ.
type Difference = (u64, String, String);

/// Compare two text files line by line, streaming both (constant memory):
/// `Ok(lines)` if identical, else the first differing line (1-based) and
/// its text in each.
fn first_difference(a: &Path, b: &Path) -> Result<std::result::Result<u64, Difference>> {
    let open = |p: &Path| -> Result<std::io::BufReader<std::fs::File>> {
        Ok(std::io::BufReader::new(
            std::fs::File::open(p).map_err(|e| Error::io(p, e))?,
        ))
    };
    let (mut ra, mut rb) = (open(a)?, open(b)?);
    let (mut la, mut lb) = (String::new(), String::new());
    let mut line = 0u64;
    loop {
        la.clear();
        lb.clear();
        let na = ra.read_line(&mut la).map_err(|e| Error::io(a, e))?;
        let nb = rb.read_line(&mut lb).map_err(|e| Error::io(b, e))?;
        if na == 0 && nb == 0 {
            return Ok(Ok(line));
        }
        line += 1;
        if la != lb {
            return Ok(Err((
                line,
                la.trim_end().to_string(),
                lb.trim_end().to_string(),
            )));
        }
    }
}

/// A scratch folder: the user's, or a temporary one removed on success.
fn scratch(out: Option<&PathBuf>, what: &str) -> (PathBuf, bool) {
    match out {
        Some(p) => (p.clone(), false),
        None => (
            std::env::temp_dir().join(format!("chaosim-selfcheck-{what}-{}", std::process::id())),
            true,
        ),
    }
}

fn check_year(a: &sim::YearArgs) -> Result<ExitCode> {
    if a.resume {
        return Err(Error::Usage {
            flag: "--resume".into(),
            message: "not available for selfcheck: both copies run from the start".into(),
        });
    }
    let text = !a.json;
    let loaded = a.inputs.load()?;
    let prog = match &a.programme {
        Some(p) => Programme::load(p)?,
        None => Programme::embedded(),
    };
    let deployed = chaosim::safeguard::SafeguardSet::from_spec(
        &a.safeguards,
        loaded.stack.default_safeguards(),
    )
    .map_err(|message| Error::Usage {
        flag: "--safeguards".into(),
        message,
    })?;
    let runs_total = match a.days {
        Some(d) => d as u64 * prog.slots.len() as u64,
        None => a.years as u64 * prog.runs_per_year(),
    };
    let (base, temporary) = scratch(a.out.as_ref(), "year");
    let runner = Runner {
        catalogue: &loaded.catalogue,
        stack: &loaded.stack,
        threads: a.threads.map(usize::from).unwrap_or_else(super::cores),
    };
    let wall = std::time::Instant::now();
    let mut summaries = Vec::new();
    for copy in ["a", "b"] {
        let cfg = YearConfig {
            seed: a.seed,
            runs_total,
            out: base.join(copy),
            resume: false,
            // A temporary folder is this process's own; a folder the user
            // named keeps what it holds unless --force.
            force: temporary || a.force,
            initial_deployed: deployed,
            inputs_fingerprint: prog.fingerprint
                ^ loaded.catalogue.fingerprint()
                ^ loaded.stack_fingerprint,
            handles: loaded.handles(),
        };
        summaries.push(run_programme(
            &cfg,
            &prog,
            &loaded.catalogue,
            &runner,
            &mut |_, _| {},
        )?);
    }
    let secs = wall.elapsed().as_secs_f64();
    let (sa, sb) = (&summaries[0], &summaries[1]);
    if text {
        outln!(
            "selfcheck year: 2 copies of {runs_total} runs (seed {}) in {} ({secs:.1} s)",
            a.seed,
            base.display()
        );
    }
    let mut first: Option<(String, u64, String, String)> = None;
    let mut files = Vec::new();
    for file in ["runs.csv", "outcomes.csv", "safeguards.csv"] {
        let d = first_difference(&base.join("a").join(file), &base.join("b").join(file))?;
        files.push(file_json(file, &d));
        match d {
            Err((line, la, lb)) => {
                if text {
                    outln!("  {file:<15} differs at line {line}");
                }
                if first.is_none() {
                    first = Some((file.to_string(), line, la, lb));
                }
            }
            Ok(lines) if text => outln!("  {file:<15} identical ({lines} lines)"),
            Ok(_) => {}
        }
    }
    if text {
        outln!(
            "  executions      {} = {}, events {} = {}",
            sa.totals.executions,
            sb.totals.executions,
            sa.totals.events,
            sb.totals.events
        );
        outln!(
            "  digest of year  {} {} {}",
            sa.digest,
            if sa.digest == sb.digest { "=" } else { "vs" },
            sb.digest
        );
    }
    let deterministic = first.is_none() && sa.digest == sb.digest;
    if !text {
        // One object; a divergence names the first differing row (rerun
        // without --json to locate the event in lockstep).
        let v = serde_json::json!({
            "deterministic": deterministic,
            "seed": a.seed,
            "runs": runs_total,
            "wall_s": secs,
            "out": (!temporary || !deterministic).then(|| base.display().to_string()),
            "files": files,
            "executions": [sa.totals.executions, sb.totals.executions],
            "events": [sa.totals.events, sb.totals.events],
            "digests": [sa.digest.to_string(), sb.digest.to_string()],
            "first_difference": first.as_ref().map(|(file, line, la, lb)| serde_json::json!({
                "file": file, "line": line, "a": la, "b": lb,
            })),
        });
        if deterministic && temporary {
            let _ = std::fs::remove_dir_all(&base);
        }
        outln!("{v}");
        return Ok(sim::verdict_code(!deterministic));
    }
    let Some((file, line, la, lb)) = first else {
        if sa.digest != sb.digest {
            outln!("the files agree but the programme digests differ");
            return Ok(ExitCode::from(1));
        }
        if temporary {
            let _ = std::fs::remove_dir_all(&base);
        }
        outln!("ok: deterministic");
        return Ok(ExitCode::SUCCESS);
    };
    outln!("first difference: {file} line {line}");
    outln!("  copy A  {la}");
    outln!("  copy B  {lb}");
    // The run of that row (its first field), rebuilt from both folders.
    let run: u64 = la
        .split(',')
        .next()
        .or_else(|| lb.split(',').next())
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| Error::Check(format!("{file} line {line}: no run index")))?;
    let ra = recorded_run(&base.join("a"), run, &prog)?;
    let rb = recorded_run(&base.join("b"), run, &prog)?;
    if ra.exec != rb.exec {
        outln!(
            "run {run}: the programme chose different executions (selection, learning or deployment diverged before it):"
        );
        outln!("  copy A  {:?}", ra.exec);
        outln!("  copy B  {:?}", rb.exec);
        return Ok(ExitCode::from(1));
    }
    locate_in_run(run, &ra, &rb, &loaded)
}

/// One compared file in `--json`: identical with its line count, or the
/// first differing line of both copies.
fn file_json(name: &str, d: &std::result::Result<u64, (u64, String, String)>) -> serde_json::Value {
    match d {
        Ok(lines) => serde_json::json!({"file": name, "identical": true, "lines": lines}),
        Err((line, a, b)) => serde_json::json!({
            "file": name, "identical": false, "line": line, "a": a, "b": b,
        }),
    }
}

/// Rerun the execution of a divergent run in lockstep to find the event.
fn locate_in_run(
    run: u64,
    ra: &RecordedRun,
    rb: &RecordedRun,
    loaded: &sim::Loaded,
) -> Result<ExitCode> {
    outln!(
        "run {run}: same execution in both copies, recorded digests {} vs {}",
        ra.digests.join(";"),
        rb.digests.join(";")
    );
    let handles = loaded.handles();
    // One lockstep per divergent item (a sequential run's items are
    // independent; a concurrent run is one simulation).
    for (k, (da, db)) in ra.digests.iter().zip(&rb.digests).enumerate() {
        if da == db {
            continue;
        }
        let repro = Repro::for_outcome(
            &ra.exec,
            k,
            handles.files.clone(),
            handles.baseline,
            chaosim::engine::Digest::EMPTY,
        );
        outln!("rerunning in lockstep: {repro}");
        let (result, _, _) = lockstep_exec(&repro, &loaded.catalogue, &loaded.stack);
        match result {
            Lockstep::Diverged(d) => {
                print_divergence(&d, &repro.exec);
            }
            Lockstep::Agree { events, .. } => outln!(
                "  the rerun agreed on all {events} events: the divergence depends on state the year run carried (process-global state, thread count)"
            ),
        }
        return Ok(ExitCode::from(1));
    }
    outln!("the recorded digests agree; the difference lies in the programme's own records");
    Ok(ExitCode::from(1))
}

fn check_sweep(a: &SweepCheckArgs) -> Result<ExitCode> {
    // --threads and --out belong to the self-check wherever they are
    // written; --quiet, --force and --no-report are set for the child runs;
    // --fail-under is dropped.
    let mut threads = a.threads;
    let mut out = a.out.clone();
    let mut json = a.json;
    let mut args = Vec::new();
    let mut it = a.args.iter();
    while let Some(f) = it.next() {
        let (flag, inline) = match f.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (f.as_str(), None),
        };
        match flag {
            "--threads" | "--out" => {
                let v = inline
                    .or_else(|| it.next().cloned())
                    .ok_or_else(|| Error::Usage {
                        flag: flag.into(),
                        message: "needs a value".into(),
                    })?;
                if flag == "--out" {
                    out = Some(PathBuf::from(v));
                } else {
                    threads = Some(v.parse().map_err(|_| Error::Usage {
                        flag: flag.into(),
                        message: format!("'{v}' is not a whole number"),
                    })?);
                }
            }
            "--quiet" | "-q" | "--force" | "--no-report" => {}
            "--json" => json = true,
            // A verdict gate is not the self-check's question (its exit 1
            // would read as a divergence): dropped with its value.
            "--fail-under" => {
                if inline.is_none() {
                    it.next();
                }
            }
            _ => args.push(f.clone()),
        }
    }
    if let Some(t) = threads
        && !(2..=chaosim::sweep::runner::THREADS_MAX).contains(&t)
    {
        return Err(Error::Usage {
            flag: "--threads".into(),
            message: format!(
                "{t}: the self-check compares 1 thread with N, so N must be 2 to {}",
                chaosim::sweep::runner::THREADS_MAX
            ),
        });
    }
    let n = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(2);
    let (base, temporary) = scratch(out.as_ref(), "sweep");
    let exe = std::env::current_exe().map_err(|e| Error::io("chaosim", e))?;
    let wall = std::time::Instant::now();
    let mut dirs = Vec::new();
    for threads in [1, n] {
        let dir = base.join(format!("threads-{threads}"));
        let out = std::process::Command::new(&exe)
            .arg("sweep")
            .args(&args)
            .args([
                "--threads",
                &threads.to_string(),
                "--quiet",
                "--force",
                // The report is drawn from the compared files.
                "--no-report",
                "--out",
            ])
            .arg(&dir)
            .output()
            .map_err(|e| Error::io(&exe, e))?;
        if !out.status.success() {
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            return Ok(ExitCode::from(
                out.status.code().unwrap_or(1).clamp(1, 255) as u8
            ));
        }
        dirs.push(dir);
    }
    let secs = wall.elapsed().as_secs_f64();
    let text = !json;
    if text {
        outln!(
            "selfcheck sweep: 1 thread vs {n} threads in {} ({secs:.1} s)",
            base.display()
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(&dirs[0])
        .map_err(|e| Error::io(&dirs[0], e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut diverged = false;
    let mut files = Vec::new();
    for name in &names {
        let (pa, pb) = (dirs[0].join(name), dirs[1].join(name));
        if !pb.exists() {
            if text {
                outln!("  {name:<16} missing with {n} threads");
            }
            files.push(
                serde_json::json!({"file": name, "identical": false, "missing_with_threads": n}),
            );
            diverged = true;
            continue;
        }
        let d = first_difference(&pa, &pb)?;
        files.push(file_json(name, &d));
        match d {
            Ok(lines) if text => outln!("  {name:<16} identical ({lines} lines)"),
            Ok(_) => {}
            Err((line, la, lb)) => {
                diverged = true;
                if text {
                    outln!("  {name:<16} differs at line {line}");
                    outln!("    1 thread   {la}");
                    outln!("    {n} threads  {lb}");
                }
            }
        }
    }
    if !text {
        let v = serde_json::json!({
            "deterministic": !diverged,
            "threads": [1, n],
            "wall_s": secs,
            "out": (!temporary || diverged).then(|| base.display().to_string()),
            "files": files,
        });
        if !diverged && temporary {
            let _ = std::fs::remove_dir_all(&base);
        }
        outln!("{v}");
        return Ok(sim::verdict_code(diverged));
    }
    if diverged {
        outln!(
            "the sweep's output depends on the thread count (the row names the experiment and its digest)"
        );
        return Ok(ExitCode::from(1));
    }
    if temporary {
        let _ = std::fs::remove_dir_all(&base);
    }
    outln!("ok: deterministic");
    Ok(ExitCode::SUCCESS)
}
