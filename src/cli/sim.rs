//! The simulation commands: run, stress, year, replay, audit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use chaosim::model::stack::StackSpec;
use chaosim::program::speculate::with_speculation;
use chaosim::program::{Programme, YearConfig, audit, run_programme};
use chaosim::record::outfile::{self, OutFile};
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::control::{ControlReport, run_with_control};
use chaosim::scenario::repro::{FileIds, HandleContext, Repro, ReproArgs, StressRepro, file_ids};
use chaosim::scenario::run::{Planned, RunOutputs, Runner};
use chaosim::scenario::stress::{CompareRow, StressReport, compare, run_stress};
use chaosim::scenario::{Catalogue, Execution, Executor, Outcome};
use chaosim::scenario::{difficulty, preflight};
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
    /// Fingerprints (and paths) of the non-default inputs, for handles.
    pub files: FileIds,
}

impl Loaded {
    /// Scenario ids from a comma list (`--ids`), or every scenario of the
    /// catalogue in its order. The list is checked by
    /// [`Catalogue::require_list`](chaosim::scenario::Catalogue::require_list):
    /// empty, doubled or unknown ids are refused, naming `--ids`.
    pub fn ids_or_all(&self, list: Option<&str>) -> Result<Vec<String>> {
        let Some(list) = list else {
            return Ok(self
                .catalogue
                .scenarios()
                .iter()
                .map(|s| s.id.clone())
                .collect());
        };
        let ids: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        self.catalogue.require_list(&ids, "--ids")?;
        Ok(ids)
    }

    /// What handles printed for outcomes of these inputs need.
    pub fn handles(&self) -> HandleContext {
        HandleContext {
            files: self.files.clone(),
            baseline: self.stack.default_safeguards(),
        }
    }

    /// Refuse to run a handle against other files than it was recorded
    /// with.
    pub fn check_files(&self, recorded: &FileIds) -> Result<()> {
        recorded
            .check_against(&self.files)
            .map_err(|message| Error::Usage {
                flag: "--files".into(),
                message,
            })
    }
}

impl Inputs {
    /// Refuse an output that would replace one of these inputs: the stack
    /// file itself, or a `*.ron` file of the scenario or playbook folder
    /// (what the loaders read). Paths are compared as the files they name
    /// (links and `..` resolved); an output that does not exist yet is no
    /// input.
    pub fn refuse_as_output(&self, outputs: &[(&Path, &str)]) -> Result<()> {
        let canon = |p: &Path| std::fs::canonicalize(p).ok();
        let stack = self.stack.as_deref().and_then(canon);
        let folders: Vec<PathBuf> = [&self.scenarios, &self.playbooks]
            .into_iter()
            .flatten()
            .filter_map(|d| canon(d))
            .collect();
        for (out, flag) in outputs {
            let Some(o) = canon(out) else { continue };
            let in_folder = o.extension().is_some_and(|e| e == "ron")
                && o.parent().is_some_and(|p| folders.iter().any(|d| d == p));
            if stack.as_ref() == Some(&o) || in_folder {
                return Err(Error::Usage {
                    flag: (*flag).into(),
                    message: format!(
                        "{} is one of this command's inputs; refusing to overwrite it",
                        out.display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Load and validate the inputs: every file, and every scenario's
    /// targets against the stack and its runs at difficulty 1 against the
    /// memory bound ([`preflight`]).
    pub fn load(&self) -> Result<Loaded> {
        require_folder(self.scenarios.as_deref(), "--scenarios")?;
        require_folder(self.playbooks.as_deref(), "--playbooks")?;
        let catalogue = super::load_catalogue(self.scenarios.as_ref())?;
        let (stack, text) = match &self.stack {
            Some(p) => {
                let text = chaosim::input::read_text(p)?;
                let stack = StackSpec::parse(&text, p)
                    .map_err(|e| chaosim::input::locate_error_in(e, &text, p))?;
                (stack, text)
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
        preflight::check_targets(&catalogue, &stack)?;
        preflight::check_all_bounds(&catalogue, &stack, difficulty::LEVEL_MIN)?;
        let files = file_ids(
            &stack,
            &catalogue,
            self.stack.as_deref(),
            self.scenarios.as_deref(),
            self.playbooks.as_deref(),
        )?;
        Ok(Loaded {
            catalogue,
            stack,
            stack_fingerprint,
            files,
        })
    }
}

/// An input folder flag must name a folder (exit code 2 otherwise).
pub fn require_folder(dir: Option<&Path>, flag: &str) -> Result<()> {
    let Some(dir) = dir else {
        return Ok(());
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::Usage {
            flag: flag.into(),
            message: format!("{} is a file, not a folder", dir.display()),
        }),
        Err(e) => Err(chaosim::input::not_found_is_input(dir, e)),
    }
}

impl Loaded {
    /// Refuse runs of these scenarios at these levels that would not fit
    /// the memory bound ([`preflight::check_bounds`]).
    pub fn check_runs<'a>(&self, runs: impl IntoIterator<Item = (&'a str, u8)>) -> Result<()> {
        for (id, level) in runs {
            let spec = self.catalogue.require(id)?;
            preflight::check_bounds(spec, &self.stack, level)?;
        }
        Ok(())
    }

    /// [`check_runs`](Self::check_runs) for every scenario at every level
    /// (a programme escalates up to difficulty 10).
    pub fn check_every_level(&self) -> Result<()> {
        preflight::check_all_bounds(&self.catalogue, &self.stack, difficulty::LEVEL_MAX)
    }
}

fn safeguards_from(spec: &str, default: SafeguardSet) -> Result<SafeguardSet> {
    SafeguardSet::from_spec(spec, default).map_err(|message| Error::Usage {
        flag: "--safeguards".into(),
        message,
    })
}

fn threads(flag: Option<u16>) -> usize {
    flag.map(usize::from).unwrap_or_else(super::cores)
}

/// The flags a reproduction handle carries to check what it reruns: its
/// digest, the digest format, the fingerprints of its input files (`run`,
/// `stress` and `shrink` take them).
#[derive(Args, Debug, Clone, Default)]
pub struct HandleCheck {
    /// The digest the handle recorded: the rerun must give it (exit 0 on a
    /// match, 1 otherwise).
    #[arg(long, value_name = "HEX")]
    pub expect_digest: Option<String>,
    /// The digest algorithm the handle was recorded with (this chaosim
    /// computes format 2; a handle without it is format 1 and is refused,
    /// exit 2).
    #[arg(long, value_name = "N")]
    pub digest_format: Option<String>,
    /// Fingerprints of the non-default files the handle was recorded with
    /// (stack=HEX,scenarios=HEX,playbooks=HEX); other files are refused
    /// (exit 2).
    #[arg(long, value_name = "LIST")]
    pub files: Option<String>,
}

/// Options of `chaosim run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Scenario id (see `chaosim list`), or several, comma-separated.
    pub id: String,
    /// Run the scenarios concurrently on one stack (as a Mixed slot of the
    /// programme does) instead of each alone.
    #[arg(long)]
    pub together: bool,
    /// Root seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Run index within a programme (part of the seed path; 0 for a lone run).
    #[arg(long, default_value_t = 0)]
    pub run: u64,
    /// Position of the (first) scenario in the recorded run (part of the
    /// seed path of a sequential item; names the failed one with --together).
    #[arg(long, default_value_t = 0)]
    pub item: u64,
    /// Difficulty level 1 to 10: one for all scenarios, or one per scenario (3,4,2).
    #[arg(long, default_value = "1")]
    pub difficulty: String,
    /// Safeguards the knowledge base knows fix each scenario (pre-approved
    /// playbooks): one token per scenario, names joined by '+', '-' for none.
    #[arg(long, value_name = "LIST")]
    pub known_fixes: Option<String>,
    /// Deployed safeguards: default, none, all, or +name,-name edits to the default set.
    #[arg(long, default_value = "default", allow_hyphen_values = true)]
    pub safeguards: String,
    /// Time of day the run starts (HH:MM, HH:MM:SS or HH:MM:SS.NNNNNNNNN):
    /// governance approvals are slower at night.
    #[arg(long, default_value = "12:00")]
    pub at: String,
    /// Day index of the run.
    #[arg(long, default_value_t = 0)]
    pub day: u64,
    /// A reproduction handle's checks.
    #[command(flatten)]
    pub handle: HandleCheck,
    /// Print each outcome as one JSON object (with a `repro` field: the
    /// handle of a failed outcome, null for a pass).
    #[arg(long)]
    pub json: bool,
    /// Stream the run's timeline (one CSV row per 100 ms sample) to FILE,
    /// and its outcomes (scenario, verdict, recovery and limit, seed,
    /// digest, handle: one JSON line each) beside it, its extension
    /// replaced (`s02.csv`: `s02.outcomes.jsonl`); render both with
    /// `chaosim report FILE`.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,
    /// Stream Layer-2 decision narratives (5W1H JSONL: who, what, when,
    /// where, why, how) to FILE; empty for scenarios without Layer 2.
    #[arg(long, value_name = "FILE")]
    pub narrative: Option<PathBuf>,
    /// Stream the control-plane dump to FILE (CSV, every 5 s, one row per
    /// kernel: state, restarts, heartbeat age, resource use) and the Layer-2
    /// telemetry (every 15 s: queue, workers, dispatches, mesh, alerts) to
    /// FILE with `.layer2.csv` for `.csv`; times on the scenario clock.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Draw the fault configuration from the seed, exactly as `chaosim
    /// swarm` does for this seed (reproduces a swarm row alone).
    #[arg(long)]
    pub swarm: bool,
    /// Control run, trace export, operation history.
    #[command(flatten)]
    pub seeing: SeeingArgs,
    /// Stack and scenarios.
    #[command(flatten)]
    pub inputs: Inputs,
}

impl RunArgs {
    /// The flags as a handle's arguments (resolved against the stack later).
    pub fn handle(&self) -> ReproArgs {
        ReproArgs {
            ids: self.id.clone(),
            together: self.together,
            swarm: self.swarm,
            seed: Some(self.seed.to_string()),
            run: Some(self.run.to_string()),
            item: Some(self.item.to_string()),
            difficulty: Some(self.difficulty.clone()),
            known_fixes: self.known_fixes.clone(),
            safeguards: Some(self.safeguards.clone()),
            day: Some(self.day.to_string()),
            at: Some(self.at.clone()),
            files: self.handle.files.clone(),
            expect_digest: self.handle.expect_digest.clone(),
            digest_format: self.handle.digest_format.clone(),
            stack: self.inputs.stack.clone(),
            scenarios: self.inputs.scenarios.clone(),
            playbooks: self.inputs.playbooks.clone(),
        }
    }
}

/// `chaosim run`: one or several scenarios (sequentially, each alone, or
/// `--together` on one stack), optionally checking a handle's digest.
pub fn run(
    args: &ReproArgs,
    json: bool,
    timeline: Option<&Path>,
    narrative: Option<&Path>,
    dump: Option<&Path>,
    inputs: &Inputs,
    seeing: &SeeingArgs,
) -> Result<ExitCode> {
    let loaded = inputs.load()?;
    let resolved = args.resolve(loaded.stack.default_safeguards())?;
    let repro = &resolved.repro;
    for it in &repro.exec.items {
        loaded.catalogue.require(&it.scenario)?;
    }
    loaded.check_runs(
        repro
            .exec
            .items
            .iter()
            .map(|it| (it.scenario.as_str(), it.difficulty)),
    )?;
    resolved.check_one_digest()?;
    // A handle names the files it was recorded with: refuse others.
    if resolved.digest_expected.is_some() || resolved.files_recorded.is_some() {
        loaded.check_files(&resolved.files_recorded.clone().unwrap_or_default())?;
    }
    // Each output is written under a temporary name beside it and renamed
    // over it only when the run succeeded; on an error nothing but those
    // temporary files (this process's own) is removed.
    let control_file = timeline
        .filter(|_| seeing.control)
        .map(chaosim::report::timeline::control_path);
    let telemetry_path = dump.map(layer2_path);
    let outcomes_file = timeline.map(chaosim::report::timeline::outcomes_path);
    let planned = [
        (timeline, "--timeline"),
        (narrative, "--narrative"),
        (seeing.trace.as_deref(), "--trace"),
        (seeing.history.as_deref(), "--history"),
        (control_file.as_deref(), "--timeline"),
        (dump, "--dump"),
        (telemetry_path.as_deref(), "--dump"),
        (outcomes_file.as_deref(), "--timeline"),
    ];
    let given: Vec<&Path> = planned.iter().filter_map(|(p, _)| *p).collect();
    outfile::check_distinct(&given)?;
    let named: Vec<(&Path, &str)> = planned
        .iter()
        .filter_map(|(p, flag)| p.map(|p| (p, *flag)))
        .collect();
    inputs.refuse_as_output(&named)?;
    let mut files: Vec<Option<OutFile>> = Vec::new();
    for (p, flag) in planned {
        if let Some(p) = p {
            require_parent(p, flag)?;
        }
        files.push(p.map(|p| OutFile::create(p, true, flag)).transpose()?);
    }
    let writer = |k: usize| -> Option<Box<dyn std::io::Write>> {
        files[k]
            .as_ref()
            .map(|f| f.writer() as Box<dyn std::io::Write>)
    };
    // With --json, the checker's counts by anomaly kind are read from the
    // history's trailer lines as they stream past (nothing else is kept;
    // writing the history does not change the run).
    let tap = AnomalyTap::default();
    let history = match (json, writer(3)) {
        (false, w) => w,
        (true, None) => Some(Box::new(tap.clone()) as Box<dyn std::io::Write>),
        (true, Some(w)) => Some(Box::new(Tee(w, tap.clone())) as Box<dyn std::io::Write>),
    };
    let outputs = RunOutputs {
        timeline: writer(0),
        narrative: writer(1),
        trace: writer(2),
        history,
        dump: writer(5),
        telemetry: writer(6),
    };
    let control_timeline = writer(4);
    let executed = if seeing.control {
        // The experiment and its fault-free control, sample by sample, on
        // the seed path `repro.execute` would use.
        let [it] = repro.exec.items.as_slice() else {
            return Err(Error::Usage {
                flag: "--control".into(),
                message: "needs exactly one scenario".into(),
            });
        };
        let spec = repro.spec_of(&loaded.catalogue, &it.scenario)?;
        let planned = Planned {
            spec: &spec,
            scaled: difficulty::scale_with(&spec, it.difficulty, &loaded.stack.difficulty),
            offset_ns: 0,
            restore_first: false,
        };
        let path = if repro.exec.concurrent {
            repro.exec.seed_path()
        } else {
            repro.exec.item_seed_path(repro.item as u64)
        };
        run_with_control(
            &loaded.stack,
            &[planned],
            repro.exec.deployed,
            it.known_fixes,
            path,
            repro.exec.start,
            outputs,
            control_timeline,
        )
        .map(|(r, c)| (r.outcomes, Some(c)))
    } else {
        repro
            .execute(&loaded.catalogue, &loaded.stack, outputs)
            .map(|o| (o, None))
    };
    // On an error the outputs are dropped: their temporary files go, the
    // paths given keep what they held.
    let (outcomes, control) = executed?;
    let handles = loaded.handles();
    let mut outcome_lines = writer(7);
    for (k, o) in outcomes.iter().enumerate() {
        let handle = (!o.passed).then(|| handle_of(repro, k, o, &handles));
        if let Some(w) = outcome_lines.as_mut() {
            // Beside the timeline: what its report states about the run.
            let v = serde_json::json!({
                "scenario": o.id,
                "difficulty": o.difficulty,
                "seed": repro.exec.seed,
                "passed": o.passed,
                "failure_kind": o.failure_kind().map(|k| k.name()),
                "failure_reason": o.failure_reason,
                "recovery_s": o.recovery_s,
                "recovery_limit_s": o.recovery_limit_s,
                "digest": o.digest.to_string(),
                "repro": handle.as_ref().map(|h| h.to_string()),
            });
            let path = outcomes_file.as_deref().expect("written with the timeline");
            writeln!(w, "{v}").map_err(|e| Error::io(path, e))?;
        }
        // Faults this level stretched past the window run shorter: say so.
        let spec = repro.spec_of(&loaded.catalogue, &o.id)?;
        let scaled = difficulty::scale_with(&spec, o.difficulty, &loaded.stack.difficulty);
        let secs = |ns: u64| ns as f64 / 1e9;
        if json {
            let mut v = serde_json::to_value(o).expect("outcome serializes");
            v["seed"] = serde_json::json!(repro.exec.seed);
            v["faults_cut"] = scaled
                .cut
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "fault": c.index,
                        "kind": format!("{:?}", spec.faults[c.index].kind),
                        "start_s": secs(c.start_ns),
                        "length_s": secs(c.length_ns),
                        "kept_s": secs(c.kept_ns),
                        "window_s": secs(scaled.window_ns),
                    })
                })
                .collect();
            v["anomalies_by_kind"] = tap.counts(o.linearizability.is_some());
            v["repro"] = match &handle {
                Some(h) => serde_json::Value::String(h.to_string()),
                None => serde_json::Value::Null,
            };
            if let Some(c) = &control {
                v["control"] = serde_json::to_value(c).expect("control report serializes");
            }
            outln!("{}", serde_json::to_string(&v).expect("json"));
        } else {
            print_outcome(o, repro.exec.seed);
            for c in &scaled.cut {
                outln!(
                    "  cut by window   faults[{}] ({:?}) from {} s: {} s at this level, runs {} s (the {} s window ends first)",
                    c.index,
                    spec.faults[c.index].kind,
                    secs(c.start_ns),
                    secs(c.length_ns),
                    secs(c.kept_ns),
                    secs(scaled.window_ns)
                );
            }
            if repro.swarm {
                let spec = repro.spec_of(&loaded.catalogue, &o.id)?;
                outln!(
                    "  swarm config    {}",
                    chaosim::sweep::swarm::config_short(&spec)
                );
            }
            if let Some(h) = &handle {
                outln!("  repro           {h}");
            }
            if let Some(c) = &control {
                print_control(c);
            }
        }
    }
    let replayed = resolved.digest_expected.is_some();
    if let Some(want) = resolved.digest_expected {
        let got = repro.pick(&outcomes).expect("one outcome per item").digest;
        if got != want {
            return Err(Error::Check(format!(
                "digest mismatch: the handle recorded {want}, this run gave {got} (the handle does not reproduce with this build)"
            )));
        }
        eprintln!("reproduced: digest {got} matches the handle");
    }
    drop(outcome_lines);
    // Only a command that succeeds (its digest check included) leaves its
    // outputs; a failed verdict is a result, so its outputs stay.
    outfile::commit_all(files.into_iter().flatten().collect())?;
    // A failed verdict exits 1 (a CI gate), unless the run replayed a
    // handle: then the question was "does it reproduce", and it did.
    Ok(verdict_code(
        !replayed && outcomes.iter().any(|o| !o.passed),
    ))
}

/// The exit code of a command whose verdict can fail: 1 when it did
/// (`chaosim run` of a failing scenario, a `stress` wave with a failure, a
/// swarm row that failed, a scenario sweep under `--fail-under`), else 0.
pub(crate) fn verdict_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Keeps the `{"anomaly":KIND,"count":N,...}` trailer lines of a history
/// stream (the checker's counts by kind) and drops every other line.
#[derive(Clone, Default)]
struct AnomalyTap(std::rc::Rc<std::cell::RefCell<TapState>>);

/// The line being read, and the (kind, count) trailer lines seen.
type TapState = (Vec<u8>, Vec<(String, u64)>);

impl std::io::Write for AnomalyTap {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = self.0.borrow_mut();
        let (partial, counts) = &mut *state;
        for &b in buf {
            if b != b'\n' {
                // Only a line that may be a trailer line is kept whole.
                if partial.len() < 12 || partial.starts_with(b"{\"anomaly\":") {
                    partial.push(b);
                }
                continue;
            }
            if partial.starts_with(b"{\"anomaly\":")
                && let Ok(v) = serde_json::from_slice::<serde_json::Value>(partial)
                && let (Some(kind), Some(n)) = (v["anomaly"].as_str(), v["count"].as_u64())
            {
                counts.push((kind.to_string(), n));
            }
            partial.clear();
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl AnomalyTap {
    /// Every anomaly kind with its count (0 when absent); `null` for a run
    /// without the replicated log.
    fn counts(&self, has_log: bool) -> serde_json::Value {
        if !has_log {
            return serde_json::Value::Null;
        }
        let state = self.0.borrow();
        let mut m = serde_json::Map::new();
        for k in chaosim::check::consistency::AnomalyKind::ALL {
            let n = state
                .1
                .iter()
                .filter(|(name, _)| name == k.name())
                .map(|(_, n)| n)
                .sum::<u64>();
            m.insert(k.name().into(), n.into());
        }
        serde_json::Value::Object(m)
    }
}

/// Writes to both: the history file and the tap.
struct Tee(Box<dyn std::io::Write>, AnomalyTap);

impl std::io::Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        self.1.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// An output file's folder must exist: a missing one is a usage error of
/// the flag that named the file (exit 2), before anything runs.
fn require_parent(path: &Path, flag: &str) -> Result<()> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::symlink_metadata(parent) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Usage {
            flag: flag.into(),
            message: format!(
                "{}: the folder {} does not exist (create it first)",
                path.display(),
                parent.display()
            ),
        }),
        _ => Ok(()),
    }
}

/// The handle of outcome `k` of the execution `repro` describes.
fn handle_of(repro: &Repro, k: usize, o: &Outcome, handles: &HandleContext) -> Repro {
    let exec = &repro.exec;
    let (exec, position) = if exec.concurrent {
        (exec.clone(), k)
    } else {
        (
            Execution {
                items: vec![exec.items[k].clone()],
                ..exec.clone()
            },
            repro.item + k,
        )
    };
    let mut h = Repro::for_outcome(
        &exec,
        if exec.concurrent { position } else { 0 },
        handles.files.clone(),
        handles.baseline,
        o.digest,
    );
    h.item = position;
    h.swarm = repro.swarm;
    h
}

/// `dump.csv` -> `dump.layer2.csv` (any other name gets `.layer2.csv` added).
fn layer2_path(p: &Path) -> PathBuf {
    match p.extension() {
        Some(e) if e == "csv" => p.with_extension("layer2.csv"),
        _ => {
            let mut s = p.as_os_str().to_owned();
            s.push(".layer2.csv");
            PathBuf::from(s)
        }
    }
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
    let list = |s: chaosim::safeguard::SafeguardSet| {
        if s.is_empty() {
            "none".to_string()
        } else {
            s.join(", ")
        }
    };
    outln!("  expected        {}", list(o.safeguards_expected));
    outln!("  fired           {}", list(o.safeguards_fired));
    for d in &o.safeguards_firings {
        outln!(
            "    {:<34}{} (fault {} {:?})",
            d.safeguard.name(),
            d.words(),
            d.cause.fault,
            d.cause.kind
        );
    }
    outln!("  missing         {}", list(o.safeguards_missing));
    if o.safeguards_needed.is_empty() {
        outln!("  needed          none");
    } else {
        outln!("  needed          (condition met, nothing acted)");
    }
    for d in &o.safeguards_needed {
        outln!(
            "    {:<34}{} (fault {} {:?}){}",
            d.safeguard.name(),
            d.words(),
            d.cause.fault,
            d.cause.kind,
            if d.expected { ", expected" } else { "" }
        );
    }
    outln!("  not exercised   {}", list(o.safeguards_not_exercised));
    outln!("  deployed        {}", list(o.safeguards_deployed));
    outln!("  anomalies       {}", o.anomalies);
    outln!("  events          {}", o.events);
    outln!("  digest          {}", o.digest);
}

/// Options of `chaosim run` for seeing one run: a control group, a trace,
/// the operation history.
#[derive(Args, Debug, Clone, Default)]
pub struct SeeingArgs {
    /// Also run the same seed and stack without the scenario's faults (the
    /// control group) and compare the probes sample by sample; with
    /// --timeline FILE, the control's timeline goes beside it, its
    /// extension replaced (`s02.csv`: `s02.control.csv`), and `chaosim
    /// report FILE` plots experiment against control.
    #[arg(long)]
    pub control: bool,
    /// Write the run as a Chrome trace (JSON; open in ui.perfetto.dev or
    /// chrome://tracing): kernel and component states, faults, playbooks,
    /// approvals, safeguard firings, counters. Times are simulated µs.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Stream the replicated log's operation history (JSONL, Jepsen style);
    /// render it with `chaosim report FILE` as a timeline.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

fn print_control(c: &ControlReport) {
    let verdict = if c.within_tolerance() {
        "within tolerance of the control"
    } else {
        "deviated from the control"
    };
    outln!(
        "  control         {verdict} ({} samples, {:.1} s compared; times in s on the scenario clock)",
        c.samples,
        c.compared_s
    );
    outln!(
        "    {:<18} {:>10} {:>9} {:>11} {:>12} {:>10}",
        "probe",
        "max dev",
        "at (s)",
        "outside (s)",
        "first out (s)",
        "return (s)"
    );
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
    for p in &c.probes {
        let back = match (p.first_outside_s, p.time_to_return_s, p.returned) {
            (None, _, _) => "-".to_string(),
            (_, Some(d), _) => format!("{d:.1}"),
            (_, None, false) => "not back".to_string(),
            (_, None, true) => "-".to_string(),
        };
        outln!(
            "    {:<18} {:>10} {:>9} {:>11.1} {:>12} {:>10}",
            p.probe.name(),
            format!("{:.3}", p.max_deviation),
            opt(p.max_at_s),
            p.outside_s,
            opt(p.first_outside_s),
            back
        );
    }
    outln!("  control digest  {}", c.control_digest);
}

/// Options of `chaosim stress`.
#[derive(Args, Debug, Clone)]
pub struct StressArgs {
    /// Root seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Deployed safeguards: default, none, all, or +name,-name edits to the default set.
    #[arg(long, default_value = "default", allow_hyphen_values = true)]
    pub safeguards: String,
    /// A reproduction handle's checks.
    #[command(flatten)]
    pub handle: HandleCheck,
    /// Print the source's stress table beside the simulated figures,
    /// with a mark per row ("ok" or "DIFFERS").
    #[arg(long)]
    pub compare: bool,
    /// Print the report (and the source comparison) as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Stack and scenarios.
    #[command(flatten)]
    pub inputs: Inputs,
}

/// `chaosim stress`, optionally checking a handle's digest.
pub fn stress(a: &StressArgs) -> Result<ExitCode> {
    let loaded = a.inputs.load()?;
    let deployed = safeguards_from(&a.safeguards, loaded.stack.default_safeguards())?;
    let want = chaosim::scenario::repro::expected_digest(
        a.handle.expect_digest.as_deref(),
        a.handle.digest_format.as_deref(),
    )?;
    let seed = a.seed;
    if want.is_some() || a.handle.files.is_some() {
        loaded.check_files(
            &a.handle
                .files
                .as_deref()
                .map(FileIds::parse_spec)
                .transpose()?
                .unwrap_or_default(),
        )?;
    }
    let report = run_stress(&loaded.stack, &loaded.catalogue, seed, deployed)?;
    let handle = StressRepro {
        seed,
        deployed,
        baseline: loaded.stack.default_safeguards(),
        files: loaded.files.clone(),
        digest: report.digest,
    };
    let rows = compare(&report);
    if a.json {
        let v = serde_json::json!({
            "report": report,
            "safeguards_deployed": deployed,
            "repro": (report.failed > 0).then(|| handle.to_string()),
            "compare": rows,
        });
        outln!("{}", serde_json::to_string(&v).expect("json"));
    } else {
        print_stress(&report, deployed, &handle);
        if a.compare {
            print_stress_compare(&rows);
        }
    }
    if let Some(want) = want {
        if report.digest != want {
            return Err(Error::Check(format!(
                "digest mismatch: the handle recorded {want}, this run gave {} (the handle does not reproduce with this build)",
                report.digest
            )));
        }
        eprintln!("reproduced: digest {} matches the handle", report.digest);
        return Ok(ExitCode::SUCCESS);
    }
    Ok(verdict_code(report.failed > 0))
}

fn print_stress(r: &StressReport, deployed: SafeguardSet, handle: &StressRepro) {
    outln!(
        "Layer-1 stress test (seed {}), safeguards: {}",
        r.seed,
        super::or_none(deployed.join(", "))
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
    let mut handle_printed = false;
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
            if !o.passed && !handle_printed {
                // The waves share one stack (damage carries over): every
                // failed row reproduces with the whole stress run, so the
                // one handle is printed once, under the first.
                outln!("       repro: {handle}");
                handle_printed = true;
            }
        }
    }
    let e = &r.end;
    let pct = |permille: u16| f64::from(permille) / 10.0;
    outln!("");
    outln!("waves              {}", r.waves.len());
    outln!("passed             {}", r.passed);
    outln!("failed             {}", r.failed);
    outln!("success rate       {:.1} %", r.success_rate * 100.0);
    outln!("kernels booted     {}", r.kernels_booted);
    outln!(
        "final kernels      {}/{} running, {} failed",
        e.kernels_running,
        e.kernels_total,
        e.kernels_failed
    );
    outln!(
        "API at the end     {}: {:.1} % success (floor {:.1} %), {} kernels failed behind it",
        if e.api_degraded() {
            "degraded"
        } else {
            "healthy"
        },
        pct(e.api_success_permille),
        pct(e.api_success_permille_min),
        e.kernels_failed
    );
    outln!(
        "CPU at the end     {:.1} % ({}, limit {:.1} %)",
        pct(e.cpu_permille),
        if e.cpu_ok() { "OK" } else { "over the limit" },
        pct(e.cpu_permille_max)
    );
    outln!(
        "memory at the end  {:.1} % ({}, pressure at {:.1} %)",
        pct(e.memory_permille),
        if e.memory_ok() {
            "OK"
        } else {
            "under pressure"
        },
        pct(e.memory_permille_max)
    );
    outln!(
        "restarts           {} (restart budget exceeded {} times)",
        r.restarts,
        r.restart_budget_exceeded
    );
    let restored: Vec<String> = r
        .waves
        .iter()
        .enumerate()
        .skip(1)
        .map(|(w, wave)| format!("wave {}: {}", w + 1, wave.restored_kernels))
        .collect();
    outln!(
        "restored           {} kernels (by the harness, before the wave)",
        restored.join(", ")
    );
    outln!(
        "escalated          {}{}",
        r.escalated.len(),
        if r.escalated.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.escalated.join(", "))
        }
    );
    outln!("emergency firings  {}", r.emergency_firings);
    outln!("events             {}", r.events);
    outln!("digest             {}", r.digest);
}

/// `stress --compare`: the source's table beside the simulated one.
fn print_stress_compare(rows: &[CompareRow]) {
    outln!("");
    outln!("the source's stress table beside this run");
    outln!("{:<34} {:<34} {:<36} mark", "figure", "source", "simulated");
    for row in rows {
        outln!(
            "{:<34} {:<34} {:<36} {}{}",
            row.figure,
            row.source,
            row.simulated,
            if row.agrees { "ok" } else { "DIFFERS" },
            row.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
    }
    outln!(
        "{} of {} rows agree",
        rows.iter().filter(|r| r.agrees).count(),
        rows.len()
    );
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
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the learning summary as one JSON object (the fields of the
    /// text summary, wall time included) instead of the text.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: the machine's cores). With 2 or more, idle
    /// workers run the executions the programme will most likely need next
    /// (planned ahead on a copy of the state; wrong guesses are discarded).
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
    loaded.check_every_level()?;
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
        handles: loaded.handles(),
    };
    let workers = threads(a.threads);
    let runner = Runner {
        catalogue: &loaded.catalogue,
        stack: &loaded.stack,
        threads: 1,
    };
    let (bar, _) = super::progress_bar(runs_total, "runs", a.quiet);
    let wall = std::time::Instant::now();
    let mut progress = |done, _| bar.set_position(done);
    let (s, ahead) = if workers < 2 {
        let s = run_programme(&cfg, &prog, &loaded.catalogue, &runner, &mut progress)?;
        (s, None)
    } else {
        // A pool that also runs the likely next executions (outputs are
        // those of a sequential run whatever the thread count).
        with_speculation(&runner, workers, |ex| {
            run_programme(&cfg, &prog, &loaded.catalogue, ex, &mut progress)
                .map(|s| (s, Some(ex.stats())))
        })?
    };
    bar.finish_and_clear();
    let secs = wall.elapsed().as_secs_f64();
    if a.json {
        let report = if a.no_report {
            None
        } else {
            let index = chaosim::report::render_to(&out, Some(&out.join("report")), true)?;
            Some(index.html.display().to_string())
        };
        let v = serde_json::json!({
            "runs": s.lifetime_runs,
            "seed": a.seed,
            "out": out.display().to_string(),
            "scenarios": loaded.catalogue.len(),
            "scenarios_tested": s.tested,
            "mastered": s.mastered,
            "still_failing": s.still_failing,
            "climbing": s.climbing,
            "average_difficulty": s.average_difficulty,
            "executions": s.totals.executions,
            "passed": s.totals.passes,
            "failed": s.totals.failures,
            "escalations": s.totals.escalations,
            "safeguards_generated": s.totals.generated,
            "safeguards_deployed": s.totals.deployed,
            "validation_failures": s.totals.validation_failures,
            "deployed_at_the_end": s.deployed,
            "next_run": s.next_run.to_string(),
            "digest": s.digest.to_string(),
            "events": s.totals.events,
            "wall_s": secs,
            "report": report,
        });
        outln!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
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
    outln!(
        "mastered              {} (at the top level, passing it under the escalation rule)",
        s.mastered
    );
    outln!(
        "climbing              {} (passing at their level, not yet mastered)",
        s.climbing
    );
    outln!(
        "still failing         {} (pass rate at their level below the escalation rule's)",
        s.still_failing
    );
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
    outln!(
        "deployed at the end   {}",
        super::or_none(s.deployed.join(", "))
    );
    outln!("next run              {}", s.next_run);
    // A programme of whole years is "the year"; a --days one "the run".
    if a.days.is_some() {
        outln!("digest of the run     {}", s.digest);
    } else {
        outln!("digest of the year    {}", s.digest);
    }
    outln!(
        "wall time             {secs:.2} s ({:.0} runs/s, {:.2} M events/s)",
        s.lifetime_runs as f64 / secs,
        s.totals.events as f64 / secs / 1e6
    );
    if let Some(st) = ahead {
        outln!(
            "planned ahead         {workers} workers; {} of {} units started before their run, {} guesses discarded",
            st.guessed_right,
            st.wanted,
            st.dropped
        );
    }
    if !a.no_report {
        // The folder's own report (its files were checked with the
        // programme's): replaced as one transaction.
        let index = chaosim::report::render_to(&out, Some(&out.join("report")), true)?;
        outln!("report: {}", index.html.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub use chaosim::program::recorded::{RecordedRun, recorded_run};

/// `chaosim replay DIR --run N`.
pub fn replay(
    dir: &Path,
    run: u64,
    inputs: &Inputs,
    programme: Option<&PathBuf>,
    json: bool,
) -> Result<ExitCode> {
    let loaded = inputs.load()?;
    let prog = match programme {
        Some(p) => Programme::load(p)?,
        None => Programme::embedded(),
    };
    let outcomes_path = dir.join("outcomes.csv");
    let RecordedRun {
        exec,
        lines,
        rows,
        header,
        run_row,
        ..
    } = recorded_run(dir, run, &prog)?;
    loaded.check_runs(
        exec.items
            .iter()
            .map(|it| (it.scenario.as_str(), it.difficulty)),
    )?;
    let runner = Runner {
        catalogue: &loaded.catalogue,
        stack: &loaded.stack,
        threads: threads(None),
    };
    let outcomes = runner.execute(&exec)?;
    // Every column the run produced, compared with what was recorded; the
    // first difference of each row is printed.
    let mut mismatches = 0;
    let mut first = None;
    for ((o, rec), &(line, _)) in outcomes.iter().zip(&rows).zip(&lines) {
        let diff = chaosim::program::year::outcome_columns(o)
            .into_iter()
            .find_map(|(name, got)| {
                let k = header.iter().position(|h| h == name)?;
                let want = rec.get(k).unwrap_or("");
                (want != got).then(|| (name, k, want.to_string(), got))
            });
        if json {
            let mut v = serde_json::json!({
                "run": run,
                "scenario": o.id,
                "matches": diff.is_none(),
                "digest": o.digest.to_string(),
            });
            if let Some((name, _, want, got)) = &diff {
                v["column"] = serde_json::json!(name);
                v["recorded"] = serde_json::json!(want);
                v["replayed"] = serde_json::json!(got);
            }
            outln!("{v}");
        }
        match diff {
            None if json => {}
            None => outln!(
                "run {run} {:<32} every column matches (digest {})",
                o.id,
                o.digest
            ),
            Some((name, k, want, got)) => {
                mismatches += 1;
                let column = 1
                    + (0..k)
                        .map(|i| rec.get(i).map_or(0, |f| f.chars().count() + 1))
                        .sum::<usize>();
                first.get_or_insert((line, column));
                if !json {
                    outln!(
                        "run {run} {:<32} MISMATCH in {name}: recorded '{want}', replayed '{got}'",
                        o.id
                    );
                }
            }
        }
    }
    // The run's own row: its slot (day, time, severity, perspective), what
    // ran, the tallies, the run digest, the seed.
    let (rec, run_header) = &run_row;
    let replayed = chaosim::program::year::run_row(&prog, &exec, &outcomes);
    let column_of = |name: &str| run_header.iter().position(|h| h == name);
    let run_diff = chaosim::program::year::RUNS_HEADER
        .trim_end()
        .split(',')
        .zip(replayed.split(','))
        .find_map(|(name, got)| {
            let k = column_of(name);
            let want = k.and_then(|k| rec.get(k)).unwrap_or("");
            (want != got).then(|| {
                (
                    k.unwrap_or(0),
                    name.to_string(),
                    want.to_string(),
                    got.to_string(),
                )
            })
        });
    let runs_path = dir.join("runs.csv");
    if let Some((k, name, want, got)) = &run_diff {
        let line = rec.position().map_or(1, |p| p.line());
        let column = 1
            + (0..*k)
                .map(|i| rec.get(i).map_or(0, |f| f.chars().count() + 1))
                .sum::<usize>();
        // What the run produced (its tallies and digest) is a replay
        // verdict, exit 1; the rest (its slot, what ran, the seed) is fixed
        // by the programme and the outcome rows, so a row that says
        // otherwise is bad input, exit 2.
        if !matches!(name.as_str(), "passed" | "failed" | "events" | "digest") {
            return Err(Error::InvalidAt {
                path: runs_path,
                line: line as usize,
                column,
                field: name.clone(),
                message: format!(
                    "recorded '{want}', but run {run} of the programme and its outcome rows give '{got}'"
                ),
            });
        }
        if json {
            outln!(
                "{}",
                serde_json::json!({"run": run, "file": "runs.csv", "matches": false,
                    "column": name, "recorded": want, "replayed": got})
            );
        } else {
            outln!(
                "run {run} runs.csv row MISMATCH in {name}: recorded '{want}', replayed '{got}'"
            );
        }
        if mismatches == 0 {
            return Err(Error::Check(format!(
                "{}:{line}:{column}: replay mismatch of run {run}: the runs.csv row's {name} differs from the replayed run's",
                runs_path.display()
            )));
        }
    } else if !json {
        let digest = column_of("digest").and_then(|k| rec.get(k)).unwrap_or("");
        outln!("run {run} runs.csv row matches (run digest {digest})");
    }
    if let Ok(Some(cp)) = chaosim::program::year::read_checkpoint(dir) {
        let fp = prog.fingerprint ^ loaded.catalogue.fingerprint() ^ loaded.stack_fingerprint;
        if cp.checkpoint.inputs_fingerprint != fp {
            eprintln!(
                "note: the stack, scenario or programme files differ from those the folder was written with"
            );
        }
    }
    if mismatches > 0 {
        let (line, column) = first.unwrap_or((1, 1));
        return Err(Error::Check(format!(
            "{}:{line}:{column}: replay of run {run}: {mismatches} row(s) differ from the recorded ones",
            outcomes_path.display()
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// `chaosim audit verify DIR`: the chain line by line (exact bytes), then
/// its length and head against what the folder recorded: `audit.head`
/// (written at every checkpoint) and `checkpoint.ron`. A cut tail shows
/// through either; with neither, a cut tail cannot be ruled out and the
/// check fails too. Returns the entries and the chain head.
pub fn audit_verify(dir: &Path) -> Result<(u64, String)> {
    let path = if dir.is_dir() {
        dir.join("audit.jsonl")
    } else {
        dir.to_path_buf()
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let head_path = folder.join(chaosim::program::year::AUDIT_HEAD_FILE);
    let head = audit::read_head(&head_path)?;
    let cp = chaosim::program::year::read_checkpoint(&folder)?;
    let mut counts = Vec::new();
    if let Some((n, _)) = &head {
        counts.push(*n);
    }
    if let Some(c) = &cp {
        counts.push(c.checkpoint.audit_seq);
    }
    let (v, at) = audit::verify_heads(&path, &counts)?;
    let end = v.entries + 1;
    let broken = |why: String| {
        Err(Error::Check(format!(
            "{}:{end}:1: audit chain broken: {why}",
            path.display()
        )))
    };
    let mut at = at.into_iter();
    if let Some((n, h)) = &head {
        match at.next().flatten() {
            None => {
                return broken(format!(
                    "the file ends after {} entries, but {} records {n} ending {} (entries were cut)",
                    v.entries,
                    head_path.display(),
                    audit::short(h)
                ));
            }
            Some(got) if &got != h => {
                return broken(format!(
                    "entry {n} ends {}, but {} records {} there (entries were replaced)",
                    audit::short(&got),
                    head_path.display(),
                    audit::short(h)
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(c) = &cp {
        let (n, h) = (c.checkpoint.audit_seq, &c.checkpoint.audit_head);
        let recorded = format!(
            "{} records {n} ending {}",
            c.path.display(),
            audit::short(h)
        );
        match at.next().flatten() {
            None => {
                return broken(format!(
                    "the file ends after {} entries, but {recorded} (entries were cut)",
                    v.entries
                ));
            }
            Some(got) if &got != h => {
                return broken(format!(
                    "entry {n} ends {}, but {recorded} (entries were cut or replaced)",
                    audit::short(&got)
                ));
            }
            Some(_) if c.checkpoint.complete && v.entries != n => {
                return broken(format!(
                    "{} entries, but the programme is complete and {recorded} (entries were added)",
                    v.entries
                ));
            }
            Some(_) => {}
        }
    }
    if head.is_none() && cp.is_none() {
        return broken(format!(
            "{} entries ending {}, but neither audit.head nor checkpoint.ron is beside it: a cut tail cannot be ruled out",
            v.entries,
            audit::short(&v.head)
        ));
    }
    Ok((v.entries, v.head))
}
