//! The programme description (RON): schedule, selection weights,
//! escalation rule, fix pipeline, knowledge base.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::{NANOS_PER_HOUR, NANOS_PER_MINUTE, NANOS_PER_SEC};
use crate::error::{Error, Result};

/// The embedded default programme.
pub const DEFAULT_PROGRAMME_RON: &str = include_str!("../defaults/programme.ron");

/// Which part of the stack a slot exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Perspective {
    /// Layer 1: warm-up, basic infrastructure.
    Layer1,
    /// Layer 2: HTM, orchestration.
    Layer2,
    /// Layer 3: governance and consistency (Jepsen).
    Layer3,
    /// All layers at once: the selected scenarios run concurrently on one stack.
    Mixed,
    /// The hardest scenarios from all layers.
    Maximum,
}

impl Perspective {
    /// The name as written in files and CSVs.
    pub fn name(self) -> &'static str {
        match self {
            Perspective::Layer1 => "Layer1",
            Perspective::Layer2 => "Layer2",
            Perspective::Layer3 => "Layer3",
            Perspective::Mixed => "Mixed",
            Perspective::Maximum => "Maximum",
        }
    }
}

/// A slot as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotFile {
    /// Time of day, `HH:MM`.
    pub time: String,
    /// Severity of the slot, 1..=5.
    pub severity: u8,
    /// What the slot exercises.
    pub perspective: Perspective,
}

/// Selection weights as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectionFile {
    /// Scenarios per run (top N by score).
    pub per_run: u8,
    /// "Not tested recently" means not executed within this many seconds.
    pub not_tested_within_s: u64,
    /// Score for not tested recently.
    pub not_tested_bonus: u32,
    /// Score for having failed at its current level.
    pub has_failures_bonus: u32,
    /// Score for a base severity equal to the slot's severity.
    pub matches_difficulty_bonus: u32,
}

/// Escalation rule as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationFile {
    /// Passes needed at the current level.
    pub passes_min: u32,
    /// Pass rate needed at the current level, 0..=1.
    pub pass_rate_min: f64,
    /// Highest level, 1..=10.
    pub level_max: u8,
}

/// The fix pipeline as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixesFile {
    /// A generated fix is deployed after a delay uniform in
    /// [delay_min_h, delay_max_h] hours of simulated time.
    pub delay_min_h: u64,
    /// Upper bound of the delay, hours.
    pub delay_max_h: u64,
    /// Share of fixes that fail validation at deployment and are retried
    /// after a new delay, 0..=1.
    pub validation_failure_rate: f64,
}

/// Knowledge-base switch as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeFile {
    /// Whether known fixes are replayed (pre-approved playbooks) on later runs.
    pub enabled: bool,
}

/// The programme file as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeFile {
    /// The daily slots, in time order.
    pub slots: Vec<SlotFile>,
    /// Days in a programme year.
    pub days_per_year: u32,
    /// Selection weights.
    pub selection: SelectionFile,
    /// Escalation rule.
    pub escalation: EscalationFile,
    /// Fix pipeline.
    pub fixes: FixesFile,
    /// Knowledge base.
    pub knowledge: KnowledgeFile,
}

/// A validated slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Offset from midnight, ns.
    pub time_of_day_ns: u64,
    /// Severity 1..=5.
    pub severity: u8,
    /// Perspective.
    pub perspective: Perspective,
}

impl Slot {
    /// `HH:MM`.
    pub fn hhmm(&self) -> String {
        let m = self.time_of_day_ns / NANOS_PER_MINUTE;
        format!("{:02}:{:02}", m / 60, m % 60)
    }
}

/// A validated programme.
#[derive(Clone, Debug, PartialEq)]
pub struct Programme {
    /// Daily slots, strictly increasing in time.
    pub slots: Vec<Slot>,
    /// Days per year, 1..=366.
    pub days_per_year: u32,
    /// Scenarios per run, 1..=10.
    pub per_run: usize,
    /// Window for "not tested recently", ns.
    pub not_tested_within_ns: u64,
    /// Selection bonuses.
    pub not_tested_bonus: u32,
    /// Selection bonuses.
    pub has_failures_bonus: u32,
    /// Selection bonuses.
    pub matches_difficulty_bonus: u32,
    /// Escalation: passes needed at the level.
    pub passes_min: u32,
    /// Escalation: pass rate needed, permille.
    pub pass_rate_min_permille: u32,
    /// Escalation: level cap.
    pub level_max: u8,
    /// Fix delay bounds, ns.
    pub fix_delay_min_ns: u64,
    /// Fix delay bounds, ns.
    pub fix_delay_max_ns: u64,
    /// Fix validation failure rate, permille.
    pub fix_validation_failure_permille: u32,
    /// Knowledge base on/off.
    pub knowledge: bool,
    /// A content hash of the programme, for reproduction handles.
    pub fingerprint: u64,
}

fn invalid(path: &Path, field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        field: field.into(),
        message: message.into(),
    }
}

fn parse_hhmm(s: &str) -> Option<u64> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * NANOS_PER_HOUR + m * NANOS_PER_MINUTE)
}

fn ratio_permille(path: &Path, field: &str, v: f64) -> Result<u32> {
    if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
        return Err(invalid(
            path,
            field,
            format!("{v} is out of range (allowed: 0 to 1)"),
        ));
    }
    Ok((v * 1000.0).round() as u32)
}

impl ProgrammeFile {
    /// Validate into a [`Programme`].
    pub fn validate(self, path: &Path, text: &str) -> Result<Programme> {
        let p = path;
        if self.slots.is_empty() || self.slots.len() > 48 {
            return Err(invalid(
                p,
                "slots",
                format!("{} slots (allowed: 1 to 48)", self.slots.len()),
            ));
        }
        let mut slots = Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            let t = parse_hhmm(&s.time).ok_or_else(|| {
                invalid(
                    p,
                    format!("slots[{i}].time"),
                    format!(
                        "'{}' is not a time (allowed: HH:MM, 00:00 to 23:59)",
                        s.time
                    ),
                )
            })?;
            if !(1..=5).contains(&s.severity) {
                return Err(invalid(
                    p,
                    format!("slots[{i}].severity"),
                    format!("{} is out of range (allowed: 1 to 5)", s.severity),
                ));
            }
            if let Some(prev) = slots.last().map(|x: &Slot| x.time_of_day_ns)
                && t <= prev
            {
                return Err(invalid(
                    p,
                    format!("slots[{i}].time"),
                    "slots must be in strictly increasing time order",
                ));
            }
            slots.push(Slot {
                time_of_day_ns: t,
                severity: s.severity,
                perspective: s.perspective,
            });
        }
        if !(1..=366).contains(&self.days_per_year) {
            return Err(invalid(
                p,
                "days_per_year",
                format!("{} is out of range (allowed: 1 to 366)", self.days_per_year),
            ));
        }
        let sel = &self.selection;
        if !(1..=10).contains(&sel.per_run) {
            return Err(invalid(
                p,
                "selection.per_run",
                format!("{} is out of range (allowed: 1 to 10)", sel.per_run),
            ));
        }
        if sel.not_tested_within_s > 366 * 86_400 {
            return Err(invalid(
                p,
                "selection.not_tested_within_s",
                "out of range (allowed: 0 to 31622400)",
            ));
        }
        for (f, v) in [
            ("selection.not_tested_bonus", sel.not_tested_bonus),
            ("selection.has_failures_bonus", sel.has_failures_bonus),
            (
                "selection.matches_difficulty_bonus",
                sel.matches_difficulty_bonus,
            ),
        ] {
            if v > 1_000_000 {
                return Err(invalid(
                    p,
                    f,
                    format!("{v} is out of range (allowed: 0 to 1000000)"),
                ));
            }
        }
        let esc = &self.escalation;
        if !(1..=1000).contains(&esc.passes_min) {
            return Err(invalid(
                p,
                "escalation.passes_min",
                format!("{} is out of range (allowed: 1 to 1000)", esc.passes_min),
            ));
        }
        let pass_rate_min_permille =
            ratio_permille(p, "escalation.pass_rate_min", esc.pass_rate_min)?;
        if !(1..=10).contains(&esc.level_max) {
            return Err(invalid(
                p,
                "escalation.level_max",
                format!("{} is out of range (allowed: 1 to 10)", esc.level_max),
            ));
        }
        let fx = &self.fixes;
        if fx.delay_min_h > fx.delay_max_h || fx.delay_max_h > 24 * 366 {
            return Err(invalid(
                p,
                "fixes.delay_max_h",
                "need delay_min_h <= delay_max_h <= 8784",
            ));
        }
        let fix_validation_failure_permille = ratio_permille(
            p,
            "fixes.validation_failure_rate",
            fx.validation_failure_rate,
        )?;
        if fix_validation_failure_permille >= 1000 {
            return Err(invalid(
                p,
                "fixes.validation_failure_rate",
                "1 would retry for ever (allowed: 0 to below 1)",
            ));
        }
        Ok(Programme {
            slots,
            days_per_year: self.days_per_year,
            per_run: sel.per_run as usize,
            not_tested_within_ns: sel.not_tested_within_s * NANOS_PER_SEC,
            not_tested_bonus: sel.not_tested_bonus,
            has_failures_bonus: sel.has_failures_bonus,
            matches_difficulty_bonus: sel.matches_difficulty_bonus,
            passes_min: esc.passes_min,
            pass_rate_min_permille,
            level_max: esc.level_max,
            fix_delay_min_ns: fx.delay_min_h * NANOS_PER_HOUR,
            fix_delay_max_ns: fx.delay_max_h * NANOS_PER_HOUR,
            fix_validation_failure_permille,
            knowledge: self.knowledge.enabled,
            fingerprint: crate::engine::rng::fnv1a64(0x03, text.as_bytes()),
        })
    }
}

impl Programme {
    /// Parse and validate programme text read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Programme> {
        let file: ProgrammeFile = crate::input::parse_ron(text, path)?;
        file.validate(path, text)
    }

    /// The embedded default programme.
    pub fn embedded() -> Programme {
        Programme::parse(DEFAULT_PROGRAMME_RON, Path::new("<embedded>/programme.ron"))
            .expect("the embedded programme is valid (tested)")
    }

    /// A programme file from disk.
    pub fn load(path: &Path) -> Result<Programme> {
        crate::input::load_with(path, Programme::parse)
    }

    /// Runs in one year.
    pub fn runs_per_year(&self) -> u64 {
        self.slots.len() as u64 * self.days_per_year as u64
    }
}
