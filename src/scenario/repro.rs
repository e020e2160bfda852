//! Reproduction handles: the one-line `chaosim run ...` command that
//! re-executes a recorded outcome alone and checks its digest.
//!
//! An outcome depends on its whole [`Execution`] (seed, run index, start
//! time, whether the items shared one stack, every item's scenario,
//! difficulty and known fixes, the deployed safeguards) and on the input
//! files (stack, scenarios, playbooks). A [`Repro`] carries all of it and
//! prints it as a shell-safe command line:
//!
//! ```text
//! chaosim run S02_acl_spam --seed 42 --run 117 --item 1 --difficulty 3 --safeguards=-acl_violation_monitor --day 23 --at 12:00 --expect-digest 85bb0c1d2e3f4a5b
//! chaosim run S02_acl_spam,L2_trigger_mesh_storm --together --seed 42 --run 119 --item 1 --difficulty 3,4 --known-fixes kernel_watchdog,- --day 23 --at 20:00 --expect-digest 0123456789abcdef
//! ```
//!
//! - Items of a *sequential* execution are independent runs, each on its own
//!   stack: the handle keeps only the failed one and its position (`--item`,
//!   which fixes its seed path). Items of a *concurrent* execution (a Mixed
//!   slot) share one stack and one digest: the handle keeps them all
//!   (`--together`) and `--item` names the failed one.
//! - `--safeguards` is printed relative to the stack's default set (the
//!   [`SafeguardSet::from_spec`] syntax), so it rebuilds exactly the
//!   deployed set.
//! - `--files stack=HEX,scenarios=HEX,playbooks=HEX` names the fingerprints
//!   of non-default input files (the defaults need none); a handle run
//!   against other files says so instead of silently running something else.
//! - `--expect-digest` makes the run compare its digest with the recorded
//!   one.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::engine::DIGEST_FORMAT;
use crate::engine::{
    Digest, NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_MINUTE, NANOS_PER_SEC, SimTime,
};
use crate::error::{Error, Result};
use crate::model::stack::StackSpec;
use crate::safeguard::{Safeguard, SafeguardSet};

use super::catalogue::Catalogue;
use super::execution::{Execution, Item};
use super::outcome::Outcome;
use super::run::{RunOutputs, run_execution_item, run_execution_together};
use super::spec::ScenarioSpec;

/// The fingerprint of one input file or folder, and the path it was read
/// from (printed in the handle so it can be run as is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileId {
    /// The path given on the command line, if known.
    pub path: Option<PathBuf>,
    /// A 48-bit content hash, printed as 12 hex digits.
    pub fingerprint: u64,
}

/// Fingerprints of the non-default input files an outcome was produced
/// with (`None` = the built-in default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileIds {
    /// `--stack FILE`.
    pub stack: Option<FileId>,
    /// `--scenarios DIR`.
    pub scenarios: Option<FileId>,
    /// `--playbooks DIR`.
    pub playbooks: Option<FileId>,
}

/// Shorten a 64-bit content hash to the 48 bits a handle prints.
pub const fn short_fingerprint(hash: u64) -> u64 {
    hash >> 16
}

fn hash_debug(tag: u8, v: &impl fmt::Debug) -> u64 {
    short_fingerprint(crate::engine::rng::fnv1a64(
        tag,
        format!("{v:?}").as_bytes(),
    ))
}

/// The content hash of a stack description (its parsed values, so a file
/// that only spells out the defaults hashes like the built-in stack; the
/// playbooks are hashed apart).
pub fn stack_fingerprint(stack: &StackSpec) -> u64 {
    let mut s = stack.clone();
    s.playbooks = None;
    hash_debug(0x05, &s)
}

/// The content hash of a scenario catalogue.
pub fn scenarios_fingerprint(cat: &Catalogue) -> u64 {
    short_fingerprint(cat.fingerprint())
}

/// The content hash of a stack's playbooks (the built-in ones if it loaded
/// none).
pub fn playbooks_fingerprint(stack: &StackSpec) -> u64 {
    match &stack.playbooks {
        Some(p) => hash_debug(0x06, p),
        None => hash_debug(0x06, &crate::playbook::PlaybookSet::embedded()),
    }
}

/// The [`FileIds`] of the inputs in use: an entry (with its path, if given)
/// for each whose content differs from the built-in default.
pub fn file_ids(
    stack: &StackSpec,
    catalogue: &Catalogue,
    stack_path: Option<&Path>,
    scenarios_path: Option<&Path>,
    playbooks_path: Option<&Path>,
) -> Result<FileIds> {
    let builtin = StackSpec::embedded();
    let id = |now: u64, default: u64, path: Option<&Path>| {
        (now != default).then(|| FileId {
            path: path.map(Path::to_path_buf),
            fingerprint: now,
        })
    };
    let stack_id = id(
        stack_fingerprint(stack),
        stack_fingerprint(&builtin),
        stack_path,
    );
    let scenarios_id = if scenarios_path.is_some() {
        id(
            scenarios_fingerprint(catalogue),
            scenarios_fingerprint(&Catalogue::embedded()?),
            scenarios_path,
        )
    } else {
        None
    };
    Ok(FileIds {
        stack: stack_id,
        scenarios: scenarios_id,
        playbooks: id(
            playbooks_fingerprint(stack),
            playbooks_fingerprint(&builtin),
            playbooks_path,
        ),
    })
}

impl FileIds {
    /// Whether every input is the built-in default.
    pub fn is_default(&self) -> bool {
        self.stack.is_none() && self.scenarios.is_none() && self.playbooks.is_none()
    }

    /// The `--files` value: `stack=HEX,scenarios=HEX,playbooks=HEX`, only
    /// the non-default ones; empty if all are default.
    pub fn spec(&self) -> String {
        let mut parts = Vec::new();
        for (name, id) in self.named() {
            if let Some(id) = id {
                parts.push(format!("{name}={:012x}", id.fingerprint));
            }
        }
        parts.join(",")
    }

    fn named(&self) -> [(&'static str, &Option<FileId>); 3] {
        [
            ("stack", &self.stack),
            ("scenarios", &self.scenarios),
            ("playbooks", &self.playbooks),
        ]
    }

    /// Parse a `--files` value (without paths).
    pub fn parse_spec(spec: &str) -> Result<FileIds> {
        let bad = |m: String| Error::Usage {
            flag: "--files".into(),
            message: m,
        };
        let mut ids = FileIds::default();
        for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, hex) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("'{part}' is not NAME=HEX")))?;
            let fingerprint = u64::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 12)
                .ok_or_else(|| bad(format!("'{hex}' is not 12 hex digits")))?;
            let id = Some(FileId {
                path: None,
                fingerprint,
            });
            match name {
                "stack" => ids.stack = id,
                "scenarios" => ids.scenarios = id,
                "playbooks" => ids.playbooks = id,
                _ => {
                    return Err(bad(format!(
                        "unknown file '{name}' (allowed: stack, scenarios, playbooks)"
                    )));
                }
            }
        }
        Ok(ids)
    }

    /// Compare the recorded fingerprints (`self`) with those of the files
    /// in use now (`now`, from [`file_ids`]); `None` means the built-in
    /// default on both sides. Names the first file that differs.
    pub fn check_against(&self, now: &FileIds) -> std::result::Result<(), String> {
        for ((name, rec), (_, cur)) in self.named().into_iter().zip(now.named()) {
            let (r, c) = (
                rec.as_ref().map(|i| i.fingerprint),
                cur.as_ref().map(|i| i.fingerprint),
            );
            if r != c {
                let show = |v: Option<u64>| match v {
                    Some(v) => format!("{v:012x}"),
                    None => "built-in".to_string(),
                };
                let what = match name {
                    "stack" => "the stack file",
                    "scenarios" => "the scenarios folder",
                    _ => "the playbooks folder",
                };
                return Err(format!(
                    "{what} differs from the one the handle was recorded with (fingerprint {}, now {})",
                    show(r),
                    show(c)
                ));
            }
        }
        Ok(())
    }
}

/// What a recorder of outcomes (the programme, a sweep) needs to print
/// handles: the non-default input files and the stack's default safeguards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandleContext {
    /// Non-default input files (from [`file_ids`]).
    pub files: FileIds,
    /// The stack's default safeguards ([`StackSpec::default_safeguards`]).
    pub baseline: SafeguardSet,
}

impl Default for HandleContext {
    /// The built-in stack and catalogue.
    fn default() -> Self {
        HandleContext {
            files: FileIds::default(),
            baseline: StackSpec::embedded().default_safeguards(),
        }
    }
}

/// The shortest `--safeguards` spec that rebuilds `deployed` from the
/// stack's default set `baseline` with [`SafeguardSet::from_spec`]:
/// `default`, `none`, `all`, or `+a,-b` edits.
pub fn safeguards_spec(deployed: SafeguardSet, baseline: SafeguardSet) -> String {
    if deployed == baseline {
        return "default".into();
    }
    if deployed.is_empty() {
        return "none".into();
    }
    if deployed == SafeguardSet::all() {
        return "all".into();
    }
    let mut edits: Vec<String> = Vec::new();
    for s in Safeguard::ALL {
        match (deployed.contains(*s), baseline.contains(*s)) {
            (true, false) => edits.push(format!("+{}", s.name())),
            (false, true) => edits.push(format!("-{}", s.name())),
            _ => {}
        }
    }
    edits.join(",")
}

/// A known-fixes set as one handle token: names joined by `+`, `-` if empty.
fn fixes_token(set: SafeguardSet) -> String {
    if set.is_empty() {
        "-".into()
    } else {
        set.join("+")
    }
}

/// Parse one known-fixes token (`a+b`, `-`, or `;`-separated names as in
/// `outcomes.csv`).
pub fn parse_fixes(token: &str) -> std::result::Result<SafeguardSet, String> {
    let token = token.trim();
    if token.is_empty() || token == "-" || token == "none" {
        return Ok(SafeguardSet::EMPTY);
    }
    token
        .split(['+', ';'])
        .filter(|s| !s.is_empty())
        .map(|n| {
            Safeguard::from_name(n).ok_or_else(|| {
                format!(
                    "unknown safeguard '{n}' (allowed: {})",
                    SafeguardSet::all().join(", ")
                )
            })
        })
        .collect()
}

/// Build an [`Item`] from recorded fields (a handle's or an `outcomes.csv`
/// row's): scenario id, difficulty text, known fixes (`a+b`, `a;b`, `-`).
pub fn item_from_fields(
    scenario: &str,
    difficulty: &str,
    known_fixes: &str,
) -> std::result::Result<Item, String> {
    let level: u8 = difficulty
        .trim()
        .parse()
        .ok()
        .filter(|l| (1..=10).contains(l))
        .ok_or_else(|| format!("difficulty '{difficulty}' is out of range (allowed: 1 to 10)"))?;
    Ok(Item {
        scenario: scenario.to_string(),
        difficulty: level,
        known_fixes: parse_fixes(known_fixes)?,
    })
}

/// Parse a start time of day: `HH:MM`, `HH:MM:SS` or `HH:MM:SS.NNNNNNNNN`;
/// nanoseconds since midnight.
pub fn parse_time_of_day(at: &str) -> std::result::Result<u64, String> {
    let bad = || format!("'{at}' is not a time (allowed: HH:MM, HH:MM:SS or HH:MM:SS.NNNNNNNNN)");
    // Digits only (`str::parse` would take `+5`); a `.` needs its 9 digits.
    let num = |p: &str| {
        (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u64>().ok())
            .flatten()
    };
    let mut parts = at.split(':');
    let h: u64 = parts.next().and_then(num).ok_or_else(bad)?;
    let m: u64 = parts.next().and_then(num).ok_or_else(bad)?;
    let (s, ns) = match parts.next() {
        None => (0, 0),
        Some(sec) => {
            let (s, frac) = match sec.split_once('.') {
                Some((s, frac)) => (s, Some(frac)),
                None => (sec, None),
            };
            let s: u64 = num(s).ok_or_else(bad)?;
            let ns = if let Some(frac) = frac
                && frac.len() == 9
                && frac.bytes().all(|b| b.is_ascii_digit())
            {
                frac.parse::<u64>().map_err(|_| bad())?
            } else if frac.is_none() {
                0
            } else {
                return Err(bad());
            };
            (s, ns)
        }
    };
    if parts.next().is_some() || h >= 24 || m >= 60 || s >= 60 {
        return Err(bad());
    }
    Ok(h * NANOS_PER_HOUR + m * NANOS_PER_MINUTE + s * NANOS_PER_SEC + ns)
}

/// Format nanoseconds since midnight the shortest exact way
/// ([`parse_time_of_day`] reads it back).
pub fn format_time_of_day(ns: u64) -> String {
    let (h, m) = (ns / NANOS_PER_HOUR, ns % NANOS_PER_HOUR / NANOS_PER_MINUTE);
    let (s, sub) = (ns % NANOS_PER_MINUTE / NANOS_PER_SEC, ns % NANOS_PER_SEC);
    match (s, sub) {
        (0, 0) => format!("{h:02}:{m:02}"),
        (s, 0) => format!("{h:02}:{m:02}:{s:02}"),
        (s, sub) => format!("{h:02}:{m:02}:{s:02}.{sub:09}"),
    }
}

/// Quote a token for a POSIX shell if it needs it.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-+=,.:/@%".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A reproduction handle: everything one recorded outcome depended on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repro {
    /// What ran. For a sequential execution only the failed item (the
    /// others are independent); for a concurrent one every item.
    pub exec: Execution,
    /// Position of the failed item in the recorded execution (fixes a
    /// sequential item's seed path; names the failed item of a concurrent
    /// run).
    pub item: usize,
    /// Fingerprints (and paths) of non-default input files.
    pub files: FileIds,
    /// The digest the outcome recorded.
    pub digest: Digest,
    /// The fault configuration was drawn from the seed (swarm testing);
    /// carried and printed as `--swarm`.
    pub swarm: bool,
    /// The stack's default safeguards: `--safeguards` is printed relative to
    /// it (not printed itself; it comes with the stack).
    pub baseline: SafeguardSet,
}

impl Repro {
    /// The handle of outcome `item` (position in `exec.items`) of a recorded
    /// execution.
    pub fn for_outcome(
        exec: &Execution,
        item: usize,
        files: FileIds,
        baseline: SafeguardSet,
        digest: Digest,
    ) -> Repro {
        assert!(item < exec.items.len(), "item {item} out of range");
        let mut exec = exec.clone();
        if !exec.concurrent {
            exec.items = vec![exec.items[item].clone()];
        }
        Repro {
            exec,
            item,
            files,
            digest,
            swarm: false,
            baseline,
        }
    }

    /// The failed item.
    pub fn failed_item(&self) -> &Item {
        if self.exec.concurrent {
            &self.exec.items[self.item]
        } else {
            &self.exec.items[0]
        }
    }

    /// The scenario an item runs: the catalogue's, or with `--swarm` the
    /// fault configuration drawn from the seed as `chaosim swarm` draws it.
    pub fn spec_of<'c>(
        &self,
        catalogue: &'c Catalogue,
        id: &str,
    ) -> Result<std::borrow::Cow<'c, ScenarioSpec>> {
        let spec = catalogue.require(id)?;
        Ok(if self.swarm {
            std::borrow::Cow::Owned(super::draw::draw(spec, self.exec.seed))
        } else {
            std::borrow::Cow::Borrowed(spec)
        })
    }

    /// Execute the handle: one outcome per item of [`exec`](Self::exec),
    /// in order (the same seed paths as [`Runner`](super::run::Runner), so digests agree with
    /// the recorded rows). `outputs` streams a timeline/narrative.
    pub fn execute(
        &self,
        catalogue: &Catalogue,
        stack: &StackSpec,
        outputs: RunOutputs,
    ) -> Result<Vec<Outcome>> {
        let exec = &self.exec;
        let specs = exec
            .items
            .iter()
            .map(|it| self.spec_of(catalogue, &it.scenario))
            .collect::<Result<Vec<_>>>()?;
        if exec.concurrent {
            let refs: Vec<&ScenarioSpec> = specs.iter().map(|s| s.as_ref()).collect();
            return run_execution_together(stack, exec, &refs, outputs);
        }
        // Sequential: each item alone at its recorded position.
        let mut outputs = Some(outputs);
        exec.items
            .iter()
            .enumerate()
            .map(|(k, it)| {
                let position = (self.item + k) as u64;
                let o = outputs.take().unwrap_or_default();
                run_execution_item(stack, exec, it, &specs[k], position, o)
            })
            .collect()
    }

    /// The outcome the handle is about, from [`execute`](Self::execute)'s
    /// result.
    pub fn pick<'o>(&self, outcomes: &'o [Outcome]) -> Option<&'o Outcome> {
        outcomes.get(if self.exec.concurrent { self.item } else { 0 })
    }

    /// The handle as command-line arguments (without `chaosim run`).
    pub fn args(&self) -> Vec<String> {
        let e = &self.exec;
        let mut a: Vec<String> = Vec::new();
        let ids: Vec<&str> = e.items.iter().map(|i| i.scenario.as_str()).collect();
        a.push(ids.join(","));
        if e.concurrent {
            a.push("--together".into());
        }
        a.extend(["--seed".into(), e.seed.to_string()]);
        if e.run != 0 {
            a.extend(["--run".into(), e.run.to_string()]);
        }
        if self.item != 0 {
            a.extend(["--item".into(), self.item.to_string()]);
        }
        // One level for all items when they agree (`--difficulty 3`).
        let levels: Vec<String> = if e
            .items
            .iter()
            .all(|i| i.difficulty == e.items[0].difficulty)
        {
            vec![e.items[0].difficulty.to_string()]
        } else {
            e.items.iter().map(|i| i.difficulty.to_string()).collect()
        };
        a.extend(["--difficulty".into(), levels.join(",")]);
        if e.items.iter().any(|i| !i.known_fixes.is_empty()) {
            let f: Vec<String> = e.items.iter().map(|i| fixes_token(i.known_fixes)).collect();
            a.extend(["--known-fixes".into(), f.join(",")]);
        }
        let sg = safeguards_spec(e.deployed, self.baseline);
        if sg != "default" {
            a.push(format!("--safeguards={sg}"));
        }
        a.extend([
            "--day".into(),
            e.start.day_index().to_string(),
            "--at".into(),
            format_time_of_day(e.start.as_nanos() % NANOS_PER_DAY),
        ]);
        if self.swarm {
            a.push("--swarm".into());
        }
        for (flag, id) in [
            ("--stack", &self.files.stack),
            ("--scenarios", &self.files.scenarios),
            ("--playbooks", &self.files.playbooks),
        ] {
            if let Some(p) = id.as_ref().and_then(|i| i.path.as_ref()) {
                a.extend([flag.into(), p.display().to_string()]);
            }
        }
        if !self.files.is_default() {
            a.extend(["--files".into(), self.files.spec()]);
        }
        a.extend([
            "--digest-format".into(),
            DIGEST_FORMAT.to_string(),
            "--expect-digest".into(),
            self.digest.to_string(),
        ]);
        a
    }

    /// Parse a handle's arguments (optionally starting with `chaosim run`
    /// or `run`). `baseline` is the default safeguard set of the stack the
    /// handle names (the built-in stack's unless `--stack` is given), used
    /// to resolve `--safeguards`.
    pub fn parse<S: AsRef<str>>(args: &[S], baseline: SafeguardSet) -> Result<Repro> {
        let r = ReproArgs::from_words(args)?.resolve(baseline)?;
        if r.digest_expected.is_none() {
            return Err(Error::Usage {
                flag: "--expect-digest".into(),
                message: "a handle records its digest".into(),
            });
        }
        Ok(r.repro)
    }
}

impl fmt::Display for Repro {
    /// `chaosim run ...`, shell-safe.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("chaosim run")?;
        for a in self.args() {
            write!(f, " {}", shell_quote(&a))?;
        }
        Ok(())
    }
}

/// The arguments of `chaosim run` as typed (strings), before they are
/// resolved against the stack's default safeguards: shared by the CLI and
/// [`Repro::parse`].
#[derive(Clone, Debug, Default)]
pub struct ReproArgs {
    /// Comma-separated scenario ids.
    pub ids: String,
    /// `--together`: the items share one stack.
    pub together: bool,
    /// `--swarm`.
    pub swarm: bool,
    /// `--seed` (default 42).
    pub seed: Option<String>,
    /// `--run` (default 0).
    pub run: Option<String>,
    /// `--item` (default 0).
    pub item: Option<String>,
    /// `--difficulty`: one level for all, or one per id (default 1).
    pub difficulty: Option<String>,
    /// `--known-fixes`: one token per id (`a+b`, `-`).
    pub known_fixes: Option<String>,
    /// `--safeguards` (default `default`).
    pub safeguards: Option<String>,
    /// `--day` (default 0).
    pub day: Option<String>,
    /// `--at` (default 12:00).
    pub at: Option<String>,
    /// `--files`.
    pub files: Option<String>,
    /// `--expect-digest`.
    pub expect_digest: Option<String>,
    /// `--digest-format` (absent: format 1, the events-only digest of older
    /// handles).
    pub digest_format: Option<String>,
    /// `--stack`.
    pub stack: Option<PathBuf>,
    /// `--scenarios`.
    pub scenarios: Option<PathBuf>,
    /// `--playbooks`.
    pub playbooks: Option<PathBuf>,
}

/// [`ReproArgs`] resolved.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The handle (its `digest` is the expected one, or [`Digest::EMPTY`]).
    pub repro: Repro,
    /// `--expect-digest`, if given.
    pub digest_expected: Option<Digest>,
    /// `--files`, if given (paths filled in from `--stack` etc.).
    pub files_recorded: Option<FileIds>,
}

impl Resolved {
    /// Refuse `--expect-digest` for items run in turn: a digest names one
    /// simulation (one scenario, or several `--together`).
    pub fn check_one_digest(&self) -> Result<()> {
        if self.digest_expected.is_some()
            && !self.repro.exec.concurrent
            && self.repro.exec.items.len() > 1
        {
            return Err(Error::usage(
                "--expect-digest",
                "needs one scenario, or several with --together",
            ));
        }
        Ok(())
    }
}

impl ReproArgs {
    /// Read a handle's words (optionally starting with `chaosim run` or
    /// `run`) into the arguments of `chaosim run`, unresolved (the
    /// parser of [`Repro::parse`]; `--expect-digest` is optional here).
    pub fn from_words<S: AsRef<str>>(args: &[S]) -> Result<ReproArgs> {
        let mut args: Vec<&str> = args.iter().map(|s| s.as_ref()).collect();
        if args
            .first()
            .is_some_and(|a| *a == "chaosim" || a.ends_with("/chaosim"))
        {
            args.remove(0);
        }
        if args.first() == Some(&"run") {
            args.remove(0);
        }
        let usage = |flag: &str, m: String| Error::usage(flag, m);
        let mut ids: Option<&str> = None;
        let mut raw = ReproArgs::default();
        let mut i = 0;
        while i < args.len() {
            let a = args[i];
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v)),
                _ => (a, None),
            };
            let mut value = || -> Result<&str> {
                if let Some(v) = inline {
                    return Ok(v);
                }
                i += 1;
                args.get(i)
                    .copied()
                    .ok_or_else(|| usage(flag, "needs a value".into()))
            };
            match flag {
                "--together" => raw.together = true,
                "--swarm" => raw.swarm = true,
                "--seed" => raw.seed = Some(value()?.to_string()),
                "--run" => raw.run = Some(value()?.to_string()),
                "--item" => raw.item = Some(value()?.to_string()),
                "--difficulty" => raw.difficulty = Some(value()?.to_string()),
                "--known-fixes" => raw.known_fixes = Some(value()?.to_string()),
                "--safeguards" => raw.safeguards = Some(value()?.to_string()),
                "--day" => raw.day = Some(value()?.to_string()),
                "--at" => raw.at = Some(value()?.to_string()),
                "--files" => raw.files = Some(value()?.to_string()),
                "--expect-digest" => raw.expect_digest = Some(value()?.to_string()),
                "--digest-format" => raw.digest_format = Some(value()?.to_string()),
                "--stack" => raw.stack = Some(PathBuf::from(value()?)),
                "--scenarios" => raw.scenarios = Some(PathBuf::from(value()?)),
                "--playbooks" => raw.playbooks = Some(PathBuf::from(value()?)),
                f if f.starts_with('-') => {
                    return Err(usage(f, "not a flag of a reproduction handle".into()));
                }
                id => {
                    if ids.replace(id).is_some() {
                        return Err(usage(id, "one scenario list expected".into()));
                    }
                }
            }
            i += 1;
        }
        let ids = ids.ok_or_else(|| usage("ID", "missing scenario id".into()))?;
        raw.ids = ids.to_string();
        Ok(raw)
    }

    /// Check and resolve the arguments. `baseline`: the default safeguards
    /// of the stack in use.
    pub fn resolve(&self, baseline: SafeguardSet) -> Result<Resolved> {
        let usage = |flag: &str, m: String| Error::usage(flag, m);
        let num = |flag: &str, v: &Option<String>, default: u64| -> Result<u64> {
            match v {
                None => Ok(default),
                Some(s) => s
                    .trim()
                    .parse()
                    .map_err(|_| usage(flag, format!("'{s}' is not a whole number"))),
            }
        };
        let ids: Vec<&str> = self.ids.split(',').map(str::trim).collect();
        if ids.iter().any(|s| s.is_empty()) {
            return Err(usage(
                "ID",
                format!("'{}' is not a comma list of ids", self.ids),
            ));
        }
        let n = ids.len();
        let per_item = |flag: &str, text: &str| -> Result<Vec<String>> {
            let v: Vec<String> = text.split(',').map(|s| s.trim().to_string()).collect();
            match v.len() {
                1 => Ok(vec![v[0].clone(); n]),
                k if k == n => Ok(v),
                k => Err(usage(
                    flag,
                    format!("{k} values for {n} scenarios (give one, or one per scenario)"),
                )),
            }
        };
        let levels = per_item("--difficulty", self.difficulty.as_deref().unwrap_or("1"))?;
        let fixes = per_item("--known-fixes", self.known_fixes.as_deref().unwrap_or("-"))?;
        let mut items = Vec::with_capacity(n);
        for k in 0..n {
            let it = item_from_fields(ids[k], &levels[k], &fixes[k]).map_err(|m| {
                let flag = if m.starts_with("difficulty") {
                    "--difficulty"
                } else {
                    "--known-fixes"
                };
                usage(flag, m)
            })?;
            items.push(it);
        }
        let deployed =
            SafeguardSet::from_spec(self.safeguards.as_deref().unwrap_or("default"), baseline)
                .map_err(|m| usage("--safeguards", m))?;
        let day = num("--day", &self.day, 0)?;
        let tod = parse_time_of_day(self.at.as_deref().unwrap_or("12:00"))
            .map_err(|m| usage("--at", m))?;
        let start = day
            .checked_mul(NANOS_PER_DAY)
            .and_then(|d| d.checked_add(tod))
            .map(SimTime::from_nanos)
            .ok_or_else(|| usage("--day", "too large".into()))?;
        let item = num("--item", &self.item, 0)? as usize;
        if self.together && item >= n {
            return Err(usage(
                "--item",
                format!("{item} is out of range for {n} scenarios run together"),
            ));
        }
        let digest_expected =
            expected_digest(self.expect_digest.as_deref(), self.digest_format.as_deref())?;
        let files_recorded = match &self.files {
            None => None,
            Some(spec) => {
                let mut f = FileIds::parse_spec(spec)?;
                for (id, p) in [
                    (&mut f.stack, &self.stack),
                    (&mut f.scenarios, &self.scenarios),
                    (&mut f.playbooks, &self.playbooks),
                ] {
                    if let Some(id) = id.as_mut() {
                        id.path = p.clone();
                    }
                }
                Some(f)
            }
        };
        let exec = Execution {
            seed: num("--seed", &self.seed, 42)?,
            run: num("--run", &self.run, 0)?,
            start,
            concurrent: self.together,
            items,
            deployed,
        };
        Ok(Resolved {
            repro: Repro {
                exec,
                item,
                files: files_recorded.clone().unwrap_or_default(),
                digest: digest_expected.unwrap_or(Digest::EMPTY),
                swarm: self.swarm,
                baseline,
            },
            digest_expected,
            files_recorded,
        })
    }
}

/// Compare the digest a run gave (`got`) with the one a handle recorded
/// (`want`): [`Error::Check`] (exit 1) naming both if they differ.
pub fn check_digest(want: Digest, got: Digest) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::Check(format!(
            "digest mismatch: the handle recorded {want}, this run gave {got} (the handle does not reproduce with this build)"
        )))
    }
}

/// The reproduction handle of a stress test (`chaosim stress`): its waves
/// share one stack, damage carrying over, so a failed row reproduces only
/// with the whole run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StressRepro {
    /// Root seed.
    pub seed: u64,
    /// Deployed safeguards.
    pub deployed: SafeguardSet,
    /// The stack's default safeguards.
    pub baseline: SafeguardSet,
    /// Non-default input files.
    pub files: FileIds,
    /// The stress run's digest.
    pub digest: Digest,
}

impl fmt::Display for StressRepro {
    /// `chaosim stress --seed S [--safeguards=...] [files] --expect-digest D`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chaosim stress --seed {}", self.seed)?;
        let sg = safeguards_spec(self.deployed, self.baseline);
        if sg != "default" {
            write!(f, " {}", shell_quote(&format!("--safeguards={sg}")))?;
        }
        for (flag, id) in [
            ("--stack", &self.files.stack),
            ("--scenarios", &self.files.scenarios),
            ("--playbooks", &self.files.playbooks),
        ] {
            if let Some(p) = id.as_ref().and_then(|i| i.path.as_ref()) {
                write!(f, " {flag} {}", shell_quote(&p.display().to_string()))?;
            }
        }
        if !self.files.is_default() {
            write!(f, " --files {}", self.files.spec())?;
        }
        write!(
            f,
            " --digest-format {DIGEST_FORMAT} --expect-digest {}",
            self.digest
        )
    }
}

/// The digest a handle expects (`--expect-digest HEX`), checked against the
/// digest algorithm it was recorded with (`--digest-format N`; absent means
/// 1, the events-only digest of handles written before formats existed). A
/// handle of another format is refused (exit 2) instead of failing as a
/// mismatch: its digest cannot match this build's.
pub fn expected_digest(expect: Option<&str>, format: Option<&str>) -> Result<Option<Digest>> {
    let usage = |flag: &str, m: String| Error::usage(flag, m);
    let recorded = match format {
        None => 1,
        Some(f) => f.trim().parse::<u32>().map_err(|_| {
            usage(
                "--digest-format",
                format!("'{f}' is not a number (this chaosim computes format {DIGEST_FORMAT})"),
            )
        })?,
    };
    let Some(s) = expect else {
        return Ok(None);
    };
    if recorded != DIGEST_FORMAT {
        return Err(usage(
            "--expect-digest",
            format!(
                "the handle was recorded with digest format {recorded}{}; this chaosim computes format {DIGEST_FORMAT} (events, the state at every sample and the verdicts), so its digest cannot match: run the case without --expect-digest and --digest-format for a new handle",
                if recorded == 1 {
                    " (events only, an older chaosim)"
                } else {
                    ""
                }
            ),
        ));
    }
    u64::from_str_radix(s.trim(), 16)
        .ok()
        .filter(|_| s.trim().len() == 16)
        .map(|v| Some(Digest::from_value(v)))
        .ok_or_else(|| usage("--expect-digest", format!("'{s}' is not 16 hex digits")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline() -> SafeguardSet {
        StackSpec::embedded().default_safeguards()
    }

    #[test]
    fn safeguards_spec_rebuilds_the_deployed_set() {
        let b = baseline();
        let all: Vec<Safeguard> = Safeguard::ALL.to_vec();
        let mut sets = vec![SafeguardSet::EMPTY, SafeguardSet::all(), b];
        for (i, s) in all.iter().enumerate() {
            sets.push(b.with(*s));
            sets.push(b.without(*s));
            sets.push(
                SafeguardSet::EMPTY
                    .with(*s)
                    .with(all[(i * 7 + 3) % all.len()]),
            );
        }
        for set in sets {
            let spec = safeguards_spec(set, b);
            assert_eq!(SafeguardSet::from_spec(&spec, b).unwrap(), set, "{spec}");
        }
    }

    #[test]
    fn time_of_day_round_trips_to_the_nanosecond() {
        for ns in [
            0,
            12 * NANOS_PER_HOUR,
            7 * NANOS_PER_HOUR + 5 * NANOS_PER_SEC,
            NANOS_PER_DAY - 1,
        ] {
            assert_eq!(parse_time_of_day(&format_time_of_day(ns)).unwrap(), ns);
        }
        assert!(parse_time_of_day("24:00").is_err());
        assert!(parse_time_of_day("12:00:00.5").is_err());
    }

    #[test]
    fn a_concurrent_handle_round_trips_through_its_text() {
        let b = baseline();
        let first = *Safeguard::ALL.first().unwrap();
        let exec = Execution {
            seed: 7,
            run: 119,
            start: SimTime::from_nanos(23 * NANOS_PER_DAY + 20 * NANOS_PER_HOUR + 1),
            concurrent: true,
            items: vec![
                Item {
                    scenario: "S02_acl_spam".into(),
                    difficulty: 3,
                    known_fixes: SafeguardSet::EMPTY.with(first),
                },
                Item {
                    scenario: "S03_cpu_spike".into(),
                    difficulty: 4,
                    known_fixes: SafeguardSet::EMPTY,
                },
            ],
            deployed: b.with(first),
        };
        let files = FileIds {
            stack: Some(FileId {
                path: Some("my stack.ron".into()),
                fingerprint: 0xabc_def0_1234,
            }),
            ..FileIds::default()
        };
        let r = Repro::for_outcome(&exec, 1, files, b, Digest::from_value(0x85bb));
        let text = r.to_string();
        assert!(text.contains("--together"), "{text}");
        assert!(text.contains("'my stack.ron'"), "{text}");
        assert!(text.contains("--files stack=0abcdef01234"), "{text}");
        let back = Repro::parse(&r.args(), b).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn a_sequential_handle_keeps_only_its_item_and_position() {
        let b = baseline();
        let item = |s: &str| Item {
            scenario: s.into(),
            difficulty: 2,
            known_fixes: SafeguardSet::EMPTY,
        };
        let exec = Execution {
            seed: 42,
            run: 3,
            start: SimTime::from_nanos(12 * NANOS_PER_HOUR),
            concurrent: false,
            items: vec![item("S01_heartbeat_pause"), item("S02_acl_spam")],
            deployed: SafeguardSet::EMPTY,
        };
        let r = Repro::for_outcome(&exec, 1, FileIds::default(), b, Digest::from_value(1));
        assert_eq!(r.exec.items, vec![item("S02_acl_spam")]);
        let text = r.to_string();
        assert!(
            text.starts_with("chaosim run S02_acl_spam --seed 42 --run 3 --item 1"),
            "{text}"
        );
        assert!(text.contains("--safeguards=none"), "{text}");
        assert_eq!(Repro::parse(&r.args(), b).unwrap(), r);
    }

    #[test]
    fn changed_files_are_named() {
        let rec = FileIds::parse_spec("stack=0123456789ab").unwrap();
        let err = rec.check_against(&FileIds::default()).unwrap_err();
        assert_eq!(
            err,
            "the stack file differs from the one the handle was recorded with (fingerprint 0123456789ab, now built-in)"
        );
        assert!(
            FileIds::default()
                .check_against(&FileIds::default())
                .is_ok()
        );
        assert!(rec.check_against(&rec).is_ok());
    }
}
