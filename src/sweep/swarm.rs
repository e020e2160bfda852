//! Swarm runs: the fault mix itself drawn from the seed, over many seeds.
//!
//! For each (scenario, seed), [`draw`] turns the catalogue scenario into a
//! new [`ScenarioSpec`] from its own stream, `root(seed) / "swarm" / id`:
//! which faults are on (each with the scenario's `swarm.on` ratio, at least
//! one), their intensities, start times and lengths (integer percentages of
//! the declared values, in the scenario's `swarm` ranges), partition shapes
//! and clock-fault kinds (from the scenario's sets). Every fault consumes
//! the same number of draws whatever is on, so the draws of one fault never
//! shift another's. The drawn scenario expects only the declared safeguards
//! that respond to a fault still on
//! ([`ScenarioSpec::restrict_expected_to_faults`]): a draw that switches the
//! ACL flood off no longer expects the ACL-violation monitor to fire. The
//! drawn scenario is then run by the normal runner
//! exactly as `chaosim run ID --seed S` runs a scenario
//! ([`run_alone`]), so `chaosim run ID --seed S --swarm` reproduces a row
//! alone, and its outcome comes from the mechanisms, not from the draw.
//!
//! `chaosim swarm` streams one row per (scenario, seed) to `swarm.csv`
//! ([`SWARM_HEADER`]) and writes `summary.csv` ([`SWARM_SUMMARY_HEADER`]):
//! per scenario and over all, each outcome (passed, then every
//! [`FailureKind`]) with its count and its first seed, with that seed's
//! reproduction handle.
//!
//! Cells are the scenarios and experiments the seeds (`global = scenario
//! index · seeds + seed − from`), on the ordered engine of every sweep
//! ([`run_ordered_chunked`]), with the same shards and [`merge`](super::merge::merge):
//! `swarm.csv` lists rows in that order whatever the thread count, and the
//! summary comes from exactly mergeable aggregates, so merged shards are
//! byte-identical to one run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::merge::SUMMARY_FILE;
use super::runner::{RATES_MAX, SweepOptions};
use crate::engine::Digest;
use crate::error::{Error, Result};
use crate::model::stack::StackSpec;
use crate::record::csv::push_field;
use crate::record::outfile::OutDir;
use crate::safeguard::SafeguardSet;
use crate::scenario::execution::{Execution, Item};
use crate::scenario::repro::safeguards_spec;
use crate::scenario::repro::{FileIds, HandleContext, Repro};
use crate::scenario::shrink::{default_start, run_alone};
use crate::scenario::spec::{FaultSpec, PartitionShapeSpec, Target};
use crate::scenario::{Catalogue, FailureKind, FaultKind, Outcome, ScenarioSpec};
use crate::shard::{
    Aggregate, HeadParams, N_MAX, SCENARIO_CHUNK, SHARD_FILE, ShardFile, ShardKind, ShardOut, Slot,
    THREADS_MAX, Tagged, format1_params, run_ordered_chunked,
};

/// The rows file of a swarm directory.
pub const SWARM_FILE: &str = "swarm.csv";
/// The header of `swarm.csv`.
pub const SWARM_HEADER: &str =
    "seed,scenario,config,passed,failure_reason,anomalies,events,digest,repro\n";
/// The header of a swarm's `summary.csv`.
pub const SWARM_SUMMARY_HEADER: &str =
    "scenario,outcome,count,share,first_seed,first_digest,first_repro\n";
/// Outcome slots of a [`SwarmAggregate`]: `passed`, then
/// [`FailureKind::ALL`] in order.
pub const OUTCOMES: usize = 1 + FailureKind::ALL.len();

/// The name of outcome slot `i` (`passed` or a failure kind's name).
pub fn outcome_name(i: usize) -> &'static str {
    if i == 0 {
        "passed"
    } else {
        FailureKind::ALL[i - 1].name()
    }
}

/// The outcome slot of an outcome.
pub fn outcome_slot(o: &Outcome) -> usize {
    o.failure_kind().map_or(0, |k| 1 + k.index())
}

pub use crate::scenario::draw::draw;

fn shape_short(s: PartitionShapeSpec) -> &'static str {
    match s {
        PartitionShapeSpec::Bisect => "bisect",
        PartitionShapeSpec::RandomHalves => "halves",
        PartitionShapeSpec::IsolateOne => "isolate",
        PartitionShapeSpec::Bridge => "bridge",
        PartitionShapeSpec::MajoritiesRing => "ring",
    }
}

/// Seconds with up to three decimals, trailing zeros trimmed (`12.5`).
pub fn fmt_secs(ns: u64) -> String {
    let ms = (ns + 500_000) / 1_000_000;
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return s.to_string();
    }
    let digits = format!("{frac:03}");
    format!("{s}.{}", digits.trim_end_matches('0'))
}

/// One fault in short form: `kind[(shape)][:intensity]@start[/length]`, e.g.
/// `acl_flood:0.9@7.5s/45s`, `partition(halves)@30s/20s`, `kill@12s`.
/// Intensity and length appear only for kinds that use them.
pub fn fault_short(f: &FaultSpec) -> String {
    let mut s = f.kind.short().to_string();
    if let (FaultKind::Partition, Target::Partition(shape)) = (f.kind, &f.target) {
        let _ = write!(s, "({})", shape_short(*shape));
    }
    if f.kind.uses_intensity() {
        let _ = write!(s, ":{}", fmt_secs(f.intensity_permille as u64 * 1_000_000));
    }
    let _ = write!(s, "@{}s", fmt_secs(f.start_ns));
    if f.kind.uses_length() {
        let _ = write!(s, "/{}s", fmt_secs(f.length_ns));
    }
    s
}

/// A configuration in short form: its faults joined by `;`.
pub fn config_short(spec: &ScenarioSpec) -> String {
    spec.faults
        .iter()
        .map(fault_short)
        .collect::<Vec<_>>()
        .join(";")
}

/// The reproduction handle of a swarm row, as a [`Repro`]: scenario `id`
/// run alone (run 0, item 0, at [`default_start`], no known fixes) with
/// `seed`, `difficulty` and `deployed`, the configuration drawn from the
/// seed (`swarm: true`), the non-default input files and the stack's
/// default safeguards of `ctx` (see [`file_ids`](crate::scenario::repro::file_ids)),
/// and the recorded `digest`. Its Display is the `chaosim run ... --swarm
/// ... --expect-digest HEX` command that reproduces the row.
pub fn swarm_repro(
    id: &str,
    seed: u64,
    difficulty: u8,
    deployed: SafeguardSet,
    ctx: &HandleContext,
    digest: Digest,
) -> Repro {
    let exec = Execution {
        seed,
        run: 0,
        start: default_start(),
        concurrent: false,
        items: vec![Item {
            scenario: id.to_string(),
            difficulty,
            known_fixes: SafeguardSet::EMPTY,
        }],
        deployed,
    };
    let mut r = Repro::for_outcome(&exec, 0, ctx.files.clone(), ctx.baseline, digest);
    r.swarm = true;
    r
}

/// The reproduction handle of a swarm row as text (the Display of
/// [`swarm_repro`]).
pub fn swarm_handle(
    id: &str,
    seed: u64,
    difficulty: u8,
    deployed: SafeguardSet,
    ctx: &HandleContext,
    digest: Digest,
) -> String {
    swarm_repro(id, seed, difficulty, deployed, ctx, digest).to_string()
}

/// What to swarm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmConfig {
    /// Scenario ids, in output order (distinct).
    pub scenarios: Vec<String>,
    /// Seeds per scenario, 1..=10^12.
    pub seeds: u64,
    /// First seed.
    pub from: u64,
    /// Difficulty level 1..=10.
    pub difficulty: u8,
    /// Safeguards deployed.
    pub deployed: SafeguardSet,
}

impl SwarmConfig {
    /// Check the configuration against the catalogue (flags named as on the
    /// command line).
    pub fn validate(&self, catalogue: &Catalogue) -> Result<()> {
        if !(1..=N_MAX).contains(&self.seeds) {
            return Err(Error::usage(
                "--seeds",
                format!("{} is outside 1..={N_MAX}", self.seeds),
            ));
        }
        if self.from.checked_add(self.seeds - 1).is_none() {
            return Err(Error::usage(
                "--from",
                format!(
                    "{} + {} seeds passes the largest seed",
                    self.from, self.seeds
                ),
            ));
        }
        if !(1..=10).contains(&self.difficulty) {
            return Err(Error::usage(
                "--difficulty",
                format!("{} is out of range (allowed: 1 to 10)", self.difficulty),
            ));
        }
        if self.scenarios.len() > RATES_MAX {
            return Err(Error::usage(
                "--ids",
                format!("need 1..={RATES_MAX} scenarios"),
            ));
        }
        catalogue.require_list(&self.scenarios, "--ids")?;
        Ok(())
    }
}

/// The swarm parameters recorded in `shard.ron`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmParams {
    /// Scenario ids (the cells).
    pub scenarios: Vec<String>,
    /// First seed.
    pub from: u64,
    /// Difficulty level.
    pub difficulty: u8,
    /// Deployed safeguards as a `--safeguards` spec (see [`safeguards_spec`]).
    pub safeguards: String,
    /// The stack's default safeguards (names joined by `,`, `none` if
    /// empty): the baseline `--safeguards` is printed relative to.
    pub baseline: String,
    /// Fingerprints of the non-default input files, as a `--files` value
    /// (see [`FileIds::spec`]); empty for the built-in files.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub files: String,
    /// The paths those files were read from, as `(stack|scenarios|playbooks,
    /// path)`, printed in handles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_paths: Vec<(String, PathBuf)>,
}

impl SwarmParams {
    /// The parameters of a swarm over `config`, with the handle context
    /// `ctx` of the inputs in use.
    pub fn new(config: &SwarmConfig, ctx: &HandleContext) -> SwarmParams {
        let mut file_paths = Vec::new();
        for (name, id) in [
            ("stack", &ctx.files.stack),
            ("scenarios", &ctx.files.scenarios),
            ("playbooks", &ctx.files.playbooks),
        ] {
            if let Some(p) = id.as_ref().and_then(|i| i.path.as_ref()) {
                file_paths.push((name.to_string(), p.clone()));
            }
        }
        SwarmParams {
            scenarios: config.scenarios.clone(),
            from: config.from,
            difficulty: config.difficulty,
            safeguards: safeguards_spec(config.deployed, ctx.baseline),
            baseline: if ctx.baseline.is_empty() {
                "none".into()
            } else {
                ctx.baseline.join(",")
            },
            files: ctx.files.spec(),
            file_paths,
        }
    }

    /// What the handles of this swarm's rows need, read back from the
    /// recorded fields.
    pub fn handles(&self) -> Result<SwarmHandles> {
        let bad = |field: &str, message: String| Error::Invalid {
            path: PathBuf::from(SHARD_FILE),
            field: format!("swarm.{field}"),
            message,
        };
        let baseline = SafeguardSet::from_spec(&self.baseline, SafeguardSet::EMPTY)
            .map_err(|m| bad("baseline", m))?;
        let deployed = SafeguardSet::from_spec(&self.safeguards, baseline)
            .map_err(|m| bad("safeguards", m))?;
        let mut files =
            FileIds::parse_spec(&self.files).map_err(|e| bad("files", e.to_string()))?;
        for (name, path) in &self.file_paths {
            let slot = match name.as_str() {
                "stack" => &mut files.stack,
                "scenarios" => &mut files.scenarios,
                "playbooks" => &mut files.playbooks,
                _ => return Err(bad("file_paths", format!("unknown file '{name}'"))),
            };
            if let Some(id) = slot.as_mut() {
                id.path = Some(path.clone());
            }
        }
        Ok(SwarmHandles {
            difficulty: self.difficulty,
            deployed,
            ctx: HandleContext { files, baseline },
        })
    }
}

/// What every handle of one swarm shares (see [`swarm_repro`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmHandles {
    /// Difficulty level.
    pub difficulty: u8,
    /// Deployed safeguards.
    pub deployed: SafeguardSet,
    /// Non-default input files and the stack's default safeguards.
    pub ctx: HandleContext,
}

impl SwarmHandles {
    /// The handle of `seed` of scenario `id` with `digest`.
    pub fn repro(&self, id: &str, seed: u64, digest: Digest) -> Repro {
        swarm_repro(id, seed, self.difficulty, self.deployed, &self.ctx, digest)
    }

    /// The same as text.
    pub fn handle(&self, id: &str, seed: u64, digest: Digest) -> String {
        self.repro(id, seed, digest).to_string()
    }
}

/// The aggregate of the seeds of one scenario. Fixed size; merges exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwarmAggregate {
    /// Rows.
    pub n: u64,
    /// Events, summed.
    pub events: u64,
    /// Consistency anomalies, summed.
    pub anomalies: u64,
    /// Rows per outcome slot (`passed`, then [`FailureKind::ALL`]).
    pub counts: [u64; OUTCOMES],
    /// The lowest seed of each outcome slot, with its digest.
    pub first: [Option<(u64, Digest)>; OUTCOMES],
}

impl Aggregate for SwarmAggregate {
    fn merge_from(&mut self, other: &Self) {
        self.merge(other);
    }
}

impl SwarmAggregate {
    /// Fold in one row.
    pub fn push(&mut self, seed: u64, o: &Outcome) {
        self.n += 1;
        self.events += o.events;
        self.anomalies += o.anomalies;
        let i = outcome_slot(o);
        self.counts[i] += 1;
        if self.first[i].is_none_or(|(s, _)| seed < s) {
            self.first[i] = Some((seed, o.digest));
        }
    }

    /// Fold in another aggregate of the same scenario (exact).
    pub fn merge(&mut self, other: &SwarmAggregate) {
        self.n += other.n;
        self.events += other.events;
        self.anomalies += other.anomalies;
        for i in 0..OUTCOMES {
            self.counts[i] += other.counts[i];
            if let Some((s, d)) = other.first[i]
                && self.first[i].is_none_or(|(t, _)| s < t)
            {
                self.first[i] = Some((s, d));
            }
        }
    }

    /// Failed rows.
    pub fn failures(&self) -> u64 {
        self.n - self.counts[0]
    }

    fn to_record(&self, cell: u32) -> SwarmCellRecord {
        SwarmCellRecord {
            cell,
            n: self.n,
            events: self.events,
            anomalies: self.anomalies,
            counts: self.counts.to_vec(),
            firsts: (0..OUTCOMES)
                .filter_map(|i| self.first[i].map(|(s, d)| (i as u32, s, d.to_string())))
                .collect(),
        }
    }

    fn from_record(r: &SwarmCellRecord, path: &Path) -> Result<SwarmAggregate> {
        let bad = |message: &str| Error::Invalid {
            path: path.to_path_buf(),
            field: format!("swarm_cells[{}]", r.cell),
            message: message.into(),
        };
        let counts: [u64; OUTCOMES] = r
            .counts
            .as_slice()
            .try_into()
            .map_err(|_| bad("counts must have 7 entries"))?;
        if counts.iter().try_fold(0u64, |a, &c| a.checked_add(c)) != Some(r.n) {
            return Err(bad("counts disagree (corrupted file?)"));
        }
        let mut first = [None; OUTCOMES];
        for (i, seed, digest) in &r.firsts {
            let i = *i as usize;
            let d = u64::from_str_radix(digest, 16).map_err(|_| bad("digest is not hex"))?;
            if i >= OUTCOMES || counts[i] == 0 {
                return Err(bad("first seed of an empty outcome"));
            }
            first[i] = Some((*seed, Digest::from_value(d)));
        }
        Ok(SwarmAggregate {
            n: r.n,
            events: r.events,
            anomalies: r.anomalies,
            counts,
            first,
        })
    }
}

/// A scenario's aggregate as stored in `shard.ron`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmCellRecord {
    /// The scenario index.
    pub cell: u32,
    /// See [`SwarmAggregate`].
    pub n: u64,
    /// See [`SwarmAggregate`].
    pub events: u64,
    /// See [`SwarmAggregate`].
    pub anomalies: u64,
    /// See [`SwarmAggregate`].
    pub counts: Vec<u64>,
    /// `(outcome slot, first seed, digest hex)` of the non-empty slots.
    pub firsts: Vec<(u32, u64, String)>,
}

/// Format one `swarm.csv` row.
pub fn push_swarm_row(
    line: &mut String,
    seed: u64,
    drawn: &ScenarioSpec,
    o: &Outcome,
    handles: &SwarmHandles,
) {
    let _ = write!(line, "{seed},");
    push_field(line, &drawn.id);
    line.push(',');
    push_field(line, &config_short(drawn));
    let _ = write!(line, ",{},", o.passed as u8);
    if let Some(k) = o.failure_kind() {
        line.push_str(k.name());
    }
    let _ = write!(line, ",{},{},{},", o.anomalies, o.events, o.digest);
    if !o.passed {
        push_field(line, &handles.handle(&drawn.id, seed, o.digest));
    }
    line.push('\n');
}

/// One line of a swarm summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryLine {
    /// Scenario id, or `all`.
    pub scenario: String,
    /// Outcome slot (see [`outcome_name`]).
    pub outcome: usize,
    /// Rows with this outcome.
    pub count: u64,
    /// Rows of the scenario (or of all).
    pub of: u64,
    /// The first such row: scenario, seed, digest.
    pub first: (String, u64, Digest),
}

/// The summary lines of `cells` (scenario index, aggregate), in cell order:
/// per scenario, each non-empty outcome; then the same over all scenarios
/// (`all`, first = lowest seed, earlier scenario on ties).
pub fn summary_lines(params: &SwarmParams, cells: &[(u32, SwarmAggregate)]) -> Vec<SummaryLine> {
    let mut lines = Vec::new();
    let mut total_n = 0;
    let mut totals = [0u64; OUTCOMES];
    let mut firsts: [Option<(String, u64, Digest)>; OUTCOMES] = Default::default();
    for (c, a) in cells {
        let id = &params.scenarios[*c as usize];
        total_n += a.n;
        for i in 0..OUTCOMES {
            let Some((seed, d)) = a.first[i] else {
                continue;
            };
            lines.push(SummaryLine {
                scenario: id.clone(),
                outcome: i,
                count: a.counts[i],
                of: a.n,
                first: (id.clone(), seed, d),
            });
            totals[i] += a.counts[i];
            if firsts[i].as_ref().is_none_or(|(_, s, _)| seed < *s) {
                firsts[i] = Some((id.clone(), seed, d));
            }
        }
    }
    if cells.len() > 1 {
        for i in 0..OUTCOMES {
            if let Some(first) = firsts[i].take() {
                lines.push(SummaryLine {
                    scenario: "all".into(),
                    outcome: i,
                    count: totals[i],
                    of: total_n,
                    first,
                });
            }
        }
    }
    lines
}

fn write_swarm_summary(
    tx: &mut OutDir,
    params: &SwarmParams,
    handles: &SwarmHandles,
    cells: &[(u32, SwarmAggregate)],
) -> Result<()> {
    let mut sink = tx.sink(SUMMARY_FILE)?;
    sink.write_raw(SWARM_SUMMARY_HEADER.as_bytes())?;
    for l in summary_lines(params, cells) {
        let share = if l.of == 0 {
            0.0
        } else {
            l.count as f64 / l.of as f64
        };
        let (id, seed, d) = &l.first;
        let repro = if l.outcome == 0 {
            String::new()
        } else {
            handles.handle(id, *seed, *d)
        };
        sink.write_record(&[
            l.scenario.as_str(),
            outcome_name(l.outcome),
            &l.count.to_string(),
            &format!("{share:.6}"),
            &seed.to_string(),
            &d.to_string(),
            &repro,
        ])?;
    }
    sink.finish()?;
    Ok(())
}

/// What a swarm produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmReport {
    /// Rows written.
    pub rows: u64,
    /// Simulation events handled, summed.
    pub events: u64,
    /// The parameters (as in `shard.ron`).
    pub params: SwarmParams,
    /// The aggregates of the scenarios this shard touched, in order.
    pub cells: Vec<(u32, SwarmAggregate)>,
}

impl SwarmReport {
    /// The summary lines (as in `summary.csv`).
    pub fn summary(&self) -> Vec<SummaryLine> {
        summary_lines(&self.params, &self.cells)
    }
}

/// Run a swarm (or one shard of it) and write `swarm.csv`, `summary.csv`
/// and `shard.ron` into `opts.out`. `stack_fingerprint` identifies the
/// stack for merging (as the input loader computes it); `files` are the
/// non-default inputs named by the handles (from
/// [`file_ids`](crate::scenario::repro::file_ids), as `chaosim run` computes
/// them). `on_cell(id, aggregate)`
/// is called in order as each scenario completes.
pub fn run_swarm(
    catalogue: &Catalogue,
    stack: &StackSpec,
    stack_fingerprint: u64,
    files: &FileIds,
    config: &SwarmConfig,
    opts: &SweepOptions,
    on_cell: &mut dyn FnMut(&str, &SwarmAggregate),
) -> Result<SwarmReport> {
    config.validate(catalogue)?;
    if !(1..=THREADS_MAX).contains(&opts.threads) {
        return Err(Error::usage(
            "--threads",
            format!("{} is outside 1..={THREADS_MAX}", opts.threads),
        ));
    }
    let bases: Vec<&ScenarioSpec> = config
        .scenarios
        .iter()
        .map(|id| catalogue.require(id))
        .collect::<Result<_>>()?;
    let ctx = HandleContext {
        files: files.clone(),
        baseline: stack.default_safeguards(),
    };
    let sw = SwarmParams::new(config, &ctx);
    let handles = sw.handles()?;
    let params = SwarmShardParams {
        seed: config.from,
        n: config.seeds,
        rates_ppm: Vec::new(),
        variants: Vec::new(),
        model_fingerprint: format!("{:016x}:{stack_fingerprint:016x}", catalogue.fingerprint()),
        swarm: Tagged(sw.clone()),
    };
    let start = default_start();
    let mut files = ShardOut::<Swarm>::open(&params, opts.shard, Some(&opts.out), opts.force)?;
    let range = files.range();
    let run = |cell: u64, lo: u64, hi: u64, rows: &mut String| -> Result<(SwarmAggregate, u64)> {
        let base = bases[cell as usize];
        let mut agg = SwarmAggregate::default();
        for e in lo..hi {
            let seed = config.from + e;
            let drawn = draw(base, seed);
            let o = run_alone(
                stack,
                &drawn,
                seed,
                config.difficulty,
                config.deployed,
                start,
            )?;
            agg.push(seed, &o);
            push_swarm_row(rows, seed, &drawn, &o, &handles);
        }
        opts.progress.add(hi - lo);
        let events = agg.events;
        Ok((agg, events))
    };
    let mut cells: Vec<(u32, SwarmAggregate)> = Vec::new();
    let events = run_ordered_chunked(
        opts.threads,
        config.seeds,
        range,
        SCENARIO_CHUNK,
        files.sink(),
        &run,
        &mut |c, a| {
            on_cell(&config.scenarios[c as usize], &a);
            cells.push((c as u32, a));
        },
    )?;
    files.finish(&cells)?;
    Ok(SwarmReport {
        rows: range.1 - range.0,
        events,
        params: sw,
        cells,
    })
}

format1_params! {
    /// The parameters every shard of one swarm shares, as recorded in
    /// `shard.ron` (format 1: `seed` is the first seed, `n` the seeds per
    /// scenario, `rates_ppm` and `variants` are empty, `model_fingerprint`
    /// holds the catalogue's and the stack's fingerprints).
    pub struct SwarmShardParams {
        /// The swarm.
        pub swarm: SwarmParams,
    }
}

/// The swarm as a batch kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Swarm;

impl Swarm {
    /// What differs between a swarm's shards beyond the common parameters.
    pub const DIFFERENCE: &'static str =
        "swarm (scenarios, first seed, difficulty, safeguards or files)";
}

impl ShardKind for Swarm {
    const TAG: &'static str = "swarm";
    const SLOT: Slot = Slot::SwarmCells;
    type Params = SwarmShardParams;
    type Record = SwarmCellRecord;
    type Aggregate = SwarmAggregate;

    fn cells(p: &SwarmShardParams) -> u64 {
        p.swarm.0.scenarios.len() as u64
    }
    fn rows_file(_: &SwarmShardParams) -> &'static str {
        SWARM_FILE
    }
    fn rows_header(_: &SwarmShardParams) -> String {
        SWARM_HEADER.into()
    }
    fn files(_: &SwarmShardParams) -> Vec<&'static str> {
        vec![SWARM_FILE, SUMMARY_FILE, SHARD_FILE]
    }
    fn difference(a: &SwarmShardParams, b: &SwarmShardParams) -> Option<String> {
        a.head()
            .difference(&b.head())
            .or_else(|| (a.swarm != b.swarm).then(|| Self::DIFFERENCE.into()))
    }
    fn to_record(cell: u32, a: &SwarmAggregate) -> SwarmCellRecord {
        a.to_record(cell)
    }
    fn from_record(
        _: &SwarmShardParams,
        _: &ShardFile<Self>,
        r: &SwarmCellRecord,
        path: &Path,
    ) -> Result<(u32, SwarmAggregate)> {
        Ok((r.cell, SwarmAggregate::from_record(r, path)?))
    }
    fn write_tables(
        tx: &mut OutDir,
        p: &SwarmShardParams,
        cells: &[(u32, SwarmAggregate)],
    ) -> Result<()> {
        let sw = &p.swarm.0;
        write_swarm_summary(tx, sw, &sw.handles()?, cells)
    }
    fn items(a: &SwarmAggregate) -> u64 {
        a.n
    }
}

/// One row of a `swarm.csv`, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmRow {
    /// The seed.
    pub seed: u64,
    /// The scenario id.
    pub scenario: String,
    /// The configuration, short form.
    pub config: String,
    /// The verdict.
    pub passed: bool,
    /// The failure kind's name (empty for passes).
    pub failure_reason: String,
    /// The digest.
    pub digest: Digest,
}

/// Read a swarm output directory: its parameters (`shard.ron`) and the rows
/// of `swarm.csv` with seed `seed` (and scenario `scenario`, if given), in
/// file order. One streaming pass over the file.
pub fn find_rows(
    dir: &Path,
    seed: u64,
    scenario: Option<&str>,
) -> Result<(SwarmParams, Vec<SwarmRow>)> {
    if super::merge::kind_of(dir)? != Swarm::TAG {
        // Read as the kind it is, so that a broken file reports its error.
        super::merge::read_any(dir)?;
        return Err(Error::usage(
            "--from",
            format!("{} is a sweep output, not a swarm output", dir.display()),
        ));
    }
    let sw = ShardFile::<Swarm>::read(dir)?.params.swarm.0;
    let path = dir.join(SWARM_FILE);
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut reader = csv::Reader::from_reader(std::io::BufReader::new(file));
    // A CSV file, not RON: located here by its row, not by input::parse_ron.
    let bad = |line: u64, message: String| Error::Syntax {
        path: path.clone(),
        line: line as usize,
        column: 1,
        message,
    };
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| bad(line, e.to_string()))?;
        if rec.len() != 9 {
            return Err(bad(line, format!("{} fields, expected 9", rec.len())));
        }
        let s: u64 = rec[0]
            .parse()
            .map_err(|_| bad(line, format!("seed '{}' is not a number", &rec[0])))?;
        if s != seed || scenario.is_some_and(|id| id != &rec[1]) {
            continue;
        }
        let d = u64::from_str_radix(&rec[7], 16)
            .map_err(|_| bad(line, format!("digest '{}' is not hex", &rec[7])))?;
        rows.push(SwarmRow {
            seed: s,
            scenario: rec[1].to_string(),
            config: rec[2].to_string(),
            passed: &rec[3] == "1",
            failure_reason: rec[4].to_string(),
            digest: Digest::from_value(d),
        });
    }
    Ok((sw, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_is_deterministic_and_keeps_a_fault() {
        let cat = Catalogue::embedded().unwrap();
        for spec in cat.scenarios() {
            for seed in 0..20 {
                let a = draw(spec, seed);
                assert_eq!(a, draw(spec, seed));
                assert!(!a.faults.is_empty(), "{} seed {seed}", spec.id);
                assert!(a.faults.len() <= spec.faults.len());
                let kept = spec
                    .expected_safeguards
                    .intersection(crate::scenario::spec::responders_of(&a.faults));
                assert_eq!(a.expected_safeguards, kept, "{} seed {seed}", spec.id);
                for f in &a.faults {
                    assert!((1..=1000).contains(&f.intensity_permille) || !f.kind.uses_intensity());
                }
            }
        }
    }

    #[test]
    fn draws_cover_the_ranges() {
        let cat = Catalogue::embedded().unwrap();
        let s = cat.require("MF01_triple_threat").unwrap();
        let n = s.faults.len();
        let mut sizes = vec![0u32; n + 1];
        for seed in 0..400 {
            sizes[draw(s, seed).faults.len()] += 1;
        }
        // 3/4 each: every size from 1 to all appears.
        assert!(sizes[1..].iter().all(|&c| c > 0), "{sizes:?}");
        let p = cat.require("JEP01_log_partition").unwrap();
        let shapes: std::collections::BTreeSet<String> = (0..200)
            .map(|seed| config_short(&draw(p, seed)))
            .map(|c| c.split(')').next().unwrap().to_string())
            .collect();
        assert_eq!(shapes.len(), 5, "{shapes:?}");
    }

    #[test]
    fn short_forms_and_specs() {
        assert_eq!(fmt_secs(12_500_000_000), "12.5");
        assert_eq!(fmt_secs(30_000_000_000), "30");
        assert_eq!(fmt_secs(1_234_000_000), "1.234");
        let ctx = HandleContext::default();
        let h = swarm_handle(
            "S02_acl_spam",
            7,
            2,
            ctx.baseline,
            &ctx,
            Digest::from_value(0xab),
        );
        assert_eq!(
            h,
            "chaosim run S02_acl_spam --seed 7 --difficulty 2 --day 0 --at 12:00 --swarm --digest-format 2 --expect-digest 00000000000000ab"
        );
        let r = Repro::parse(&h.split(' ').collect::<Vec<_>>(), ctx.baseline).unwrap();
        assert_eq!(
            r,
            swarm_repro(
                "S02_acl_spam",
                7,
                2,
                ctx.baseline,
                &ctx,
                Digest::from_value(0xab)
            )
        );
        // The recorded parameters give back the same handles.
        let config = SwarmConfig {
            scenarios: vec!["S02_acl_spam".into()],
            seeds: 1,
            from: 7,
            difficulty: 2,
            deployed: SafeguardSet::EMPTY,
        };
        let mut ctx = ctx;
        ctx.files = FileIds::parse_spec("scenarios=0123456789ab").unwrap();
        ctx.files.scenarios.as_mut().unwrap().path = Some("my dir".into());
        let params = SwarmParams::new(&config, &ctx);
        let back = params.handles().unwrap();
        assert_eq!(back.ctx, ctx);
        assert_eq!(back.deployed, SafeguardSet::EMPTY);
        let h = back.handle("S02_acl_spam", 7, Digest::from_value(1));
        assert!(
            h.contains(" --safeguards=none ")
                && h.contains(" --scenarios 'my dir' --files scenarios=0123456789ab "),
            "{h}"
        );
    }
}
