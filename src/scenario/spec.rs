//! The scenario file format (RON) and its validation.
//!
//! A scenario file is read in two stages (ripgrep's low/high args): serde
//! turns RON into [`ScenarioFile`] (syntax, unknown fields, wrong types are
//! located errors), then [`ScenarioFile::validate`] checks every value and
//! yields a [`ScenarioSpec`] whose invariants the runner relies on.
//!
//! ```ron
//! (
//!     id: "S02_acl_spam",
//!     title: "ACL violation flood on the message bus",
//!     family: Stress,
//!     layer: 1,
//!     severity: 3,
//!     duration_s: 60,
//!     recovery_limit_s: 90,
//!     faults: [
//!         (kind: AclFlood, target: Kernel("coding_agent"), start_s: 5, length_s: 60, intensity: 0.6),
//!     ],
//!     steady_state: [
//!         (probe: KernelsRunning, min: Some(18)),
//!         (probe: BusLatencyMs, max: Some(250)),
//!     ],
//!     expected_safeguards: ["acl_violation_monitor"],
//! )
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::safeguard::{Safeguard, SafeguardSet};

pub use crate::fault::{
    FaultKind, FaultSpec, NodeSelection, PartitionShapeSpec, Target, responders_of,
};

/// Scenario families, after the source's catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Family {
    /// Google DiRT: Layer-1 infrastructure disasters.
    DiRT,
    /// Netflix FIT: load plus injected failures.
    FIT,
    /// Jepsen: consistency under partitions, clock faults, rollbacks.
    Jepsen,
    /// Layer-2 orchestration faults.
    Layer2,
    /// Layer-3 governance storms.
    Layer3,
    /// The stress waves of the source's Layer-1 stress test.
    Stress,
    /// Several faults across layers at once.
    MultiFault,
}

impl Family {
    /// The name as written in files.
    pub fn name(self) -> &'static str {
        match self {
            Family::DiRT => "DiRT",
            Family::FIT => "FIT",
            Family::Jepsen => "Jepsen",
            Family::Layer2 => "Layer2",
            Family::Layer3 => "Layer3",
            Family::Stress => "Stress",
            Family::MultiFault => "MultiFault",
        }
    }
}

/// One fault of a scenario, as written in the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    /// What the fault does.
    pub kind: FaultKind,
    /// Where it lands.
    #[serde(default = "default_target")]
    pub target: Target,
    /// Seconds after the scenario starts (after boot).
    pub start_s: f64,
    /// How long it lasts, in seconds (0 for instantaneous faults).
    #[serde(default)]
    pub length_s: f64,
    /// How hard, in 0..=1 (see [`FaultKind`] for the scale).
    #[serde(default = "default_intensity")]
    pub intensity: f64,
}

fn default_target() -> Target {
    Target::Platform
}
fn default_intensity() -> f64 {
    0.5
}

/// Quantities the steady-state probes measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProbeKind {
    /// Kernels in the running state.
    KernelsRunning,
    /// Critical kernels running (all must be, by default).
    CriticalKernelsDown,
    /// API success rate over the recent window, 0..=1.
    ApiSuccessRate,
    /// Heartbeat latency through the bus, in ms.
    BusLatencyMs,
    /// CPU utilisation, 0..=1.
    CpuUtilisation,
    /// Memory utilisation, 0..=1.
    MemoryUtilisation,
    /// HTM queue depth.
    QueueDepth,
    /// Live workers.
    WorkersAlive,
    /// Scheduler dispatches per second.
    DispatchRatePerS,
    /// Trigger-mesh backlog.
    TriggerBacklog,
    /// Active policy recursion depth.
    PolicyDepth,
    /// Log client success rate over the recent window, 0..=1.
    ClientSuccessRate,
    /// Whether the log has a leader (1) or not (0).
    LeaderPresent,
    /// How long a tier-0 approval would queue behind a governance storm, s.
    ApprovalBacklogS,
}

/// One probe of the steady-state hypothesis with its tolerance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeFile {
    /// What is measured.
    pub probe: ProbeKind,
    /// Lowest healthy value, if bounded below.
    #[serde(default)]
    pub min: Option<f64>,
    /// Highest healthy value, if bounded above.
    #[serde(default)]
    pub max: Option<f64>,
}

/// A scenario file as written (before validation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Unique id, e.g. `"S02_acl_spam"`: letters, digits and `_`.
    pub id: String,
    /// One line for humans.
    #[serde(default)]
    pub title: String,
    /// The family.
    pub family: Family,
    /// The stack layer it aims at: 1, 2 or 3 (Jepsen and governance are 3).
    pub layer: u8,
    /// Base severity, 1..=5.
    pub severity: u8,
    /// Observation window at difficulty 1, in seconds (> 0).
    pub duration_s: f64,
    /// The steady state must be restored within this many seconds.
    pub recovery_limit_s: f64,
    /// The faults (none: a control scenario, which runs the stack as it is).
    pub faults: Vec<FaultFile>,
    /// The steady-state hypothesis; empty = the layers' default hypotheses.
    #[serde(default)]
    pub steady_state: Vec<ProbeFile>,
    /// Safeguards that must fire for a pass.
    #[serde(default)]
    pub expected_safeguards: Vec<String>,
    /// Ranges for swarm runs (`chaosim swarm`); absent = [`SwarmSpec::default`].
    #[serde(default, skip_serializing_if = "SwarmFile::is_default")]
    pub swarm: SwarmFile,
}

/// The optional `swarm: (...)` section of a scenario: the ranges a swarm run
/// draws each fault's configuration from. Every field is optional; absent
/// fields take the defaults of [`SwarmSpec::default`]. Probabilities are
/// integer ratios and multipliers integer percentages, so draws stay exact.
///
/// ```ron
/// swarm: (
///     on: (3, 4),                 // each fault is on with probability 3/4
///     intensity_pct: (50, 200),   // declared intensity x 50 %..200 % (capped at 1)
///     start_pct: (0, 200),        // declared start x 0 %..200 %
///     length_pct: (50, 200),      // declared length x 50 %..200 %
///     partition_shapes: [Bisect, RandomHalves, IsolateOne, Bridge, MajoritiesRing],
///     clock_faults: [ClockSkew, ClockStrobe],
/// ),
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SwarmFile {
    /// Chance that a fault is on, `(numerator, denominator)`.
    pub on: (u32, u32),
    /// Intensity multiplier range, percent of the declared intensity.
    pub intensity_pct: (u32, u32),
    /// Start multiplier range, percent of the declared start.
    pub start_pct: (u32, u32),
    /// Length multiplier range, percent of the declared length.
    pub length_pct: (u32, u32),
    /// Shapes a `Partition` fault draws from.
    pub partition_shapes: Vec<PartitionShapeSpec>,
    /// Kinds a clock fault (`ClockSkew` / `ClockStrobe`) draws from.
    pub clock_faults: Vec<FaultKind>,
}

impl Default for SwarmFile {
    /// The values of [`SwarmSpec::default`].
    fn default() -> Self {
        let d = SwarmSpec::default();
        SwarmFile {
            on: d.on,
            intensity_pct: d.intensity_pct,
            start_pct: d.start_pct,
            length_pct: d.length_pct,
            partition_shapes: d.partition_shapes,
            clock_faults: d.clock_faults,
        }
    }
}

impl SwarmFile {
    /// Whether every field has its default (then the section is not written).
    pub fn is_default(&self) -> bool {
        *self == SwarmFile::default()
    }
}

/// Validated swarm ranges of a scenario (see [`SwarmFile`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmSpec {
    /// A fault is on with probability `on.0 / on.1`.
    pub on: (u32, u32),
    /// Inclusive range of the intensity multiplier, percent.
    pub intensity_pct: (u32, u32),
    /// Inclusive range of the start multiplier, percent.
    pub start_pct: (u32, u32),
    /// Inclusive range of the length multiplier, percent.
    pub length_pct: (u32, u32),
    /// Shapes a partition draws from (non-empty, file order).
    pub partition_shapes: Vec<PartitionShapeSpec>,
    /// Clock-fault kinds a clock fault draws from (non-empty; only
    /// `ClockSkew` and `ClockStrobe`).
    pub clock_faults: Vec<FaultKind>,
}

/// Largest multiplier of a swarm range, percent (10x).
pub const SWARM_PCT_MAX: u32 = 1000;
/// Largest denominator of the swarm `on` ratio.
pub const SWARM_DEN_MAX: u32 = 1_000_000;

impl Default for SwarmSpec {
    /// Each fault on with probability 3/4; intensity 1/2..2x, start 0..2x,
    /// length 1/2..2x of the declared values; every partition shape; skew
    /// and strobe.
    fn default() -> Self {
        SwarmSpec {
            on: (3, 4),
            intensity_pct: (50, 200),
            start_pct: (0, 200),
            length_pct: (50, 200),
            partition_shapes: PartitionShapeSpec::ALL.to_vec(),
            clock_faults: vec![FaultKind::ClockSkew, FaultKind::ClockStrobe],
        }
    }
}

impl SwarmFile {
    /// Check the ranges; `path` names the source.
    pub fn validate(self, path: &Path) -> Result<SwarmSpec> {
        let on = self.on;
        if on.1 == 0 || on.1 > SWARM_DEN_MAX || on.0 > on.1 {
            return Err(invalid(
                path,
                "swarm.on",
                format!(
                    "({}, {}) is out of range (allowed: (num, den) with 1 <= den <= {SWARM_DEN_MAX} and num <= den)",
                    on.0, on.1
                ),
            ));
        }
        let range = |field: &str, r: (u32, u32), lo_min: u32| {
            if r.0 < lo_min || r.0 > r.1 || r.1 > SWARM_PCT_MAX {
                return Err(invalid(
                    path,
                    format!("swarm.{field}"),
                    format!(
                        "({}, {}) is out of range (allowed: (lo, hi) with {lo_min} <= lo <= hi <= {SWARM_PCT_MAX} percent)",
                        r.0, r.1
                    ),
                ));
            }
            Ok(r)
        };
        let intensity_pct = range("intensity_pct", self.intensity_pct, 1)?;
        let start_pct = range("start_pct", self.start_pct, 0)?;
        let length_pct = range("length_pct", self.length_pct, 1)?;
        let partition_shapes = self.partition_shapes;
        if partition_shapes.is_empty() {
            return Err(invalid(
                path,
                "swarm.partition_shapes",
                "empty (allowed: one or more of Bisect, RandomHalves, IsolateOne, Bridge, MajoritiesRing)",
            ));
        }
        let clock_faults = self.clock_faults;
        if clock_faults.is_empty() {
            return Err(invalid(
                path,
                "swarm.clock_faults",
                "empty (allowed: ClockSkew, ClockStrobe)",
            ));
        }
        for (i, k) in clock_faults.iter().enumerate() {
            if !matches!(k, FaultKind::ClockSkew | FaultKind::ClockStrobe) {
                return Err(invalid(
                    path,
                    format!("swarm.clock_faults[{i}]"),
                    format!("{k:?} is not a clock fault (allowed: ClockSkew, ClockStrobe)"),
                ));
            }
        }
        Ok(SwarmSpec {
            on,
            intensity_pct,
            start_pct,
            length_pct,
            partition_shapes,
            clock_faults,
        })
    }
}

/// A validated probe tolerance.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeSpec {
    /// What is measured.
    pub probe: ProbeKind,
    /// Lowest healthy value.
    pub min: Option<f64>,
    /// Highest healthy value.
    pub max: Option<f64>,
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioSpec {
    /// Unique id.
    pub id: String,
    /// One line for humans.
    pub title: String,
    /// The family.
    pub family: Family,
    /// 1, 2 or 3.
    pub layer: u8,
    /// 1..=5.
    pub severity: u8,
    /// Observation window at difficulty 1.
    pub duration_ns: u64,
    /// Recovery limit.
    pub recovery_limit_ns: u64,
    /// Faults, in file order.
    pub faults: Vec<FaultSpec>,
    /// Steady-state hypothesis (empty = layer defaults).
    pub steady_state: Vec<ProbeSpec>,
    /// Safeguards expected to fire.
    pub expected_safeguards: SafeguardSet,
    /// Where it was read from (`<embedded>/ID.ron` for the built-in catalogue).
    pub source: PathBuf,
    /// FNV-1a hash of the file's text (identifies the exact scenario in
    /// reproduction handles and checkpoints).
    pub fingerprint: u64,
    /// The ranges swarm runs draw from (defaults when the file has no
    /// `swarm` section).
    pub swarm: SwarmSpec,
}

impl ScenarioSpec {
    /// Faults that run past the observation window at difficulty 1 and are
    /// cut to end inside it (the runner, [`difficulty::scale_with`](super::difficulty::scale_with),
    /// keeps every fault inside the window): one line each, with the index,
    /// kind, the written start and length and the length kept. `chaosim
    /// validate` prints them as warnings.
    pub fn faults_cut_by_window(&self) -> Vec<String> {
        let w = self.duration_ns;
        self.faults
            .iter()
            .enumerate()
            .filter(|(_, f)| f.kind.uses_length() && f.start_ns.saturating_add(f.length_ns) > w)
            .map(|(i, f)| {
                let kept = f.length_ns.min(w - f.start_ns.min(w));
                format!(
                    "faults[{i}] ({:?}) runs from {} s for {} s, past the {} s window: it runs {} s",
                    f.kind,
                    secs(f.start_ns),
                    secs(f.length_ns),
                    secs(w),
                    secs(kept)
                )
            })
            .collect()
    }

    /// Keep only the expected safeguards that respond to a fault still on
    /// ([`responders_of`]): after a swarm draw or a shrink step switched
    /// faults off, a safeguard that responds to none of the remaining ones
    /// has nothing to fire on, and its silence is no failure. Declared
    /// expectations are never added to.
    pub fn restrict_expected_to_faults(&mut self) {
        self.expected_safeguards = self
            .expected_safeguards
            .intersection(responders_of(&self.faults));
    }
}

/// Longest allowed scenario window or fault time: one simulated day.
pub const SCENARIO_SECONDS_MAX: f64 = 86_400.0;

fn invalid(path: &Path, field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        field: field.into(),
        message: message.into(),
    }
}

fn seconds(path: &Path, field: &str, v: f64, allow_zero: bool) -> Result<u64> {
    let ok =
        v.is_finite() && v <= SCENARIO_SECONDS_MAX && if allow_zero { v >= 0.0 } else { v > 0.0 };
    if !ok {
        let lo = if allow_zero { "0" } else { "more than 0" };
        return Err(invalid(
            path,
            field,
            format!("{v} s is out of range (allowed: {lo} to {SCENARIO_SECONDS_MAX} s)"),
        ));
    }
    let ns = (v * 1e9).round() as u64;
    if ns == 0 && !allow_zero {
        return Err(invalid(
            path,
            field,
            format!(
                "{v} s is below the resolution of 1 ns (allowed: more than 0 to {SCENARIO_SECONDS_MAX} s)"
            ),
        ));
    }
    Ok(ns)
}

impl ScenarioFile {
    /// Check every value and produce a [`ScenarioSpec`]; `path` names the
    /// source in errors.
    pub fn validate(self, path: &Path) -> Result<ScenarioSpec> {
        let p = path;
        if self.id.is_empty()
            || self.id.len() > 64
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid(
                p,
                "id",
                format!(
                    "'{}' is not allowed (1-64 characters: letters, digits, _)",
                    self.id
                ),
            ));
        }
        if !(1..=3).contains(&self.layer) {
            return Err(invalid(
                p,
                "layer",
                format!("{} is out of range (allowed: 1, 2 or 3)", self.layer),
            ));
        }
        if !(1..=5).contains(&self.severity) {
            return Err(invalid(
                p,
                "severity",
                format!("{} is out of range (allowed: 1 to 5)", self.severity),
            ));
        }
        let duration_ns = seconds(p, "duration_s", self.duration_s, false)?;
        let recovery_limit_ns = seconds(p, "recovery_limit_s", self.recovery_limit_s, false)?;
        if self.faults.len() > 64 {
            return Err(invalid(
                p,
                "faults",
                format!("{} faults (at most 64 allowed)", self.faults.len()),
            ));
        }
        let mut faults = Vec::with_capacity(self.faults.len());
        for (i, f) in self.faults.into_iter().enumerate() {
            let field = |name: &str| format!("faults[{i}].{name}");
            let start_ns = seconds(p, &field("start_s"), f.start_s, true)?;
            let length_ns = seconds(p, &field("length_s"), f.length_s, true)?;
            if !(f.intensity.is_finite() && (0.0..=1.0).contains(&f.intensity)) {
                return Err(invalid(
                    p,
                    field("intensity"),
                    format!("{} is out of range (allowed: 0 to 1)", f.intensity),
                ));
            }
            if let Target::RandomKernels(n) = f.target
                && !(1..=20).contains(&n)
            {
                return Err(invalid(
                    p,
                    field("target"),
                    format!("RandomKernels({n}) is out of range (allowed: 1 to 20)"),
                ));
            }
            faults.push(FaultSpec {
                kind: f.kind,
                target: f.target,
                start_ns,
                length_ns,
                intensity_permille: (f.intensity * 1000.0).round() as u16,
                extra_targets: 0,
            });
        }
        let mut steady_state = Vec::with_capacity(self.steady_state.len());
        for (i, pr) in self.steady_state.into_iter().enumerate() {
            let field = format!("steady_state[{i}]");
            if pr.min.is_none() && pr.max.is_none() {
                return Err(invalid(p, field, "a probe needs a min, a max or both"));
            }
            for v in [pr.min, pr.max].into_iter().flatten() {
                if !v.is_finite() {
                    return Err(invalid(p, &field, format!("{v} is not a finite number")));
                }
            }
            if let (Some(lo), Some(hi)) = (pr.min, pr.max)
                && lo > hi
            {
                return Err(invalid(p, field, format!("min {lo} is above max {hi}")));
            }
            steady_state.push(ProbeSpec {
                probe: pr.probe,
                min: pr.min,
                max: pr.max,
            });
        }
        let swarm = self.swarm.validate(p)?;
        let mut expected = SafeguardSet::EMPTY;
        for (i, name) in self.expected_safeguards.iter().enumerate() {
            let s = Safeguard::from_name(name).ok_or_else(|| {
                invalid(
                    p,
                    format!("expected_safeguards[{i}]"),
                    format!(
                        "unknown safeguard '{name}' (allowed: {})",
                        SafeguardSet::all().join(", ")
                    ),
                )
            })?;
            expected.insert(s);
        }
        Ok(ScenarioSpec {
            id: self.id,
            title: self.title,
            family: self.family,
            layer: self.layer,
            severity: self.severity,
            duration_ns,
            recovery_limit_ns,
            faults,
            steady_state,
            expected_safeguards: expected,
            source: path.to_path_buf(),
            fingerprint: 0,
            swarm,
        })
    }
}

/// Parse and validate one scenario from its text.
pub fn parse_scenario(text: &str, path: &Path) -> Result<ScenarioSpec> {
    let file: ScenarioFile = crate::input::parse_ron(text, path)?;
    let mut spec = file.validate(path)?;
    spec.fingerprint = crate::engine::rng::fnv1a64(0x04, text.as_bytes());
    Ok(spec)
}

impl ScenarioSpec {
    /// The file form of this scenario (times in seconds, intensities in
    /// 0..=1, no `swarm` section): validating it gives back the same faults,
    /// probes, limits and expected safeguards. `extra_targets` is not part of
    /// the file format and must be 0 (it is, for every validated spec).
    pub fn to_file(&self) -> ScenarioFile {
        debug_assert!(self.faults.iter().all(|f| f.extra_targets == 0));
        let secs = |ns: u64| ns as f64 / 1e9;
        ScenarioFile {
            id: self.id.clone(),
            title: self.title.clone(),
            family: self.family,
            layer: self.layer,
            severity: self.severity,
            duration_s: secs(self.duration_ns),
            recovery_limit_s: secs(self.recovery_limit_ns),
            faults: self
                .faults
                .iter()
                .map(|f| FaultFile {
                    kind: f.kind,
                    target: f.target.clone(),
                    start_s: secs(f.start_ns),
                    length_s: secs(f.length_ns),
                    intensity: f.intensity_permille as f64 / 1000.0,
                })
                .collect(),
            steady_state: self
                .steady_state
                .iter()
                .map(|p| ProbeFile {
                    probe: p.probe,
                    min: p.min,
                    max: p.max,
                })
                .collect(),
            expected_safeguards: self
                .expected_safeguards
                .iter()
                .map(|s| s.name().to_string())
                .collect(),
            swarm: SwarmFile::default(),
        }
    }
}

/// A scenario file as RON text, one fault and one probe per line, in the
/// form `chaosim validate` and the catalogue loader read.
pub fn scenario_ron(file: &ScenarioFile) -> Result<String> {
    let config = ron::ser::PrettyConfig::default().depth_limit(2);
    let text = ron::ser::to_string_pretty(file, config)
        .map_err(|e| Error::Check(format!("serializing scenario {}: {e}", file.id)))?;
    Ok(text + "\n")
}

/// Nanoseconds as seconds for messages (`60`, `0.5`).
fn secs(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    format!("{}", (s * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Catalogue;

    #[test]
    fn every_declared_expected_safeguard_responds_to_one_of_its_scenarios_faults() {
        let cat = Catalogue::embedded().unwrap();
        for s in cat.scenarios() {
            let uncovered = s.expected_safeguards.difference(responders_of(&s.faults));
            assert!(
                uncovered.is_empty(),
                "{}: expects {} but none of its faults ({:?}) has it as a responder",
                s.id,
                uncovered.join(", "),
                s.faults.iter().map(|f| f.kind).collect::<Vec<_>>()
            );
            // So restricting a catalogue scenario to its own faults keeps it.
            let mut r = s.clone();
            r.restrict_expected_to_faults();
            assert_eq!(r.expected_safeguards, s.expected_safeguards, "{}", s.id);
        }
    }

    #[test]
    fn restricting_to_the_faults_still_on_drops_only_their_responders() {
        let cat = Catalogue::embedded().unwrap();
        let mut s = cat.require("MF01_triple_threat").unwrap().clone();
        let acl = s
            .faults
            .iter()
            .position(|f| f.kind == FaultKind::AclFlood)
            .unwrap();
        s.faults.remove(acl);
        s.restrict_expected_to_faults();
        assert!(
            !s.expected_safeguards
                .contains(Safeguard::AclViolationMonitor)
        );
        assert!(s.expected_safeguards.contains(Safeguard::KernelWatchdog));
        assert!(
            s.expected_safeguards
                .contains(Safeguard::ResourcePressureMonitor)
        );
        // Never adds: a declared set without the CPU monitor stays without it.
        let mut t = cat.require("S02_acl_spam").unwrap().clone();
        t.faults[0].kind = FaultKind::CpuSpike;
        t.restrict_expected_to_faults();
        assert!(t.expected_safeguards.is_empty());
        // Corrupt snapshots are met only at a restore: DIRT02 without its
        // kernel kill has no recovery, so nothing for the hygiene manager.
        let d = cat.require("DIRT02_snapshot_apocalypse").unwrap();
        let mut only_corrupt = d.clone();
        only_corrupt
            .faults
            .retain(|f| f.kind == FaultKind::CorruptSnapshots);
        assert_eq!(only_corrupt.faults.len(), 1);
        only_corrupt.restrict_expected_to_faults();
        assert!(only_corrupt.expected_safeguards.is_empty());
        let mut with_a_pause = only_corrupt.clone();
        with_a_pause.faults[0].kind = FaultKind::PauseHeartbeat;
        with_a_pause.faults.push(only_corrupt.faults[0].clone());
        assert!(responders_of(&with_a_pause.faults).contains(Safeguard::SnapshotHygieneManager));
        // The cluster's hygiene manager answers a rollback by itself.
        let j = cat.require("JEP03_snapshot_rollback").unwrap();
        assert!(responders_of(&j.faults).contains(Safeguard::SnapshotHygieneManager));
    }
}
