//! Recovery playbooks as data: a trigger and ordered steps, each step an
//! [`Intent`] (routed by governance) with an action and a duration.
//!
//! # Format (`playbooks/*.ron`)
//! ```ron
//! Playbook(
//!     name: "critical_kernel_restart",
//!     trigger: KernelUnresponsive,
//!     description: "Restart one unresponsive non-critical kernel.",
//!     steps: [
//!         (action: Drain, intent: modify_config, duration_ms: 200),
//!         (action: RestartKernel, intent: modify_config, duration_ms: 0),
//!     ],
//! )
//! ```
//! Unknown fields are errors. A syntax error becomes [`Error::Syntax`] with
//! line:column; a bad value (empty name, no steps, a duration over one day)
//! becomes [`Error::Invalid`] with the field.
//!
//! The default set is embedded in the binary ([`PlaybookSet::embedded`]); a
//! directory can override it ([`PlaybookSet::load_dir`]). Lookup by name or
//! by trigger; several playbooks may share a trigger and are then listed in
//! name order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
pub use intent::Intent;

pub mod intent;

/// The signal (or error type) that starts a playbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Trigger {
    /// A critical kernel is silent past the critical trigger's threshold.
    CriticalKernelDead,
    /// A critical kernel missed its heartbeats (generic watchdog path: escalate).
    CriticalKernelUnresponsive,
    /// A non-critical kernel missed its heartbeats or its process exited.
    KernelUnresponsive,
    /// An ACL-violation flood from one publisher.
    AclFlood,
    /// CPU, memory, disk or network saturation.
    ResourcePressure,
    /// API ingress overload.
    ApiOverload,
    /// A dependency (downstream API) failing (for agent playbooks).
    DependencyFailure,
    /// HTTP 503 from a tool/API (for agent playbooks).
    Http503,
    /// HTTP 429 from a tool/API (for agent playbooks).
    Http429,
    /// A call timed out (for agent playbooks).
    Timeout,
}

impl Trigger {
    /// The safeguard whose mechanism starts playbooks with this trigger: the
    /// knowledge base records fixes by safeguard, and a playbook whose
    /// safeguard is a known fix for the scenario runs pre-approved.
    pub fn safeguard(self) -> Option<crate::safeguard::Safeguard> {
        use crate::safeguard::Safeguard as S;
        Some(match self {
            Trigger::CriticalKernelDead => S::EmergencyProtocol,
            Trigger::CriticalKernelUnresponsive | Trigger::KernelUnresponsive => {
                S::HeartbeatWatchdog
            }
            Trigger::AclFlood => S::AclViolationMonitor,
            Trigger::ResourcePressure => S::ResourcePressureMonitor,
            Trigger::ApiOverload => S::RateLimiter,
            Trigger::DependencyFailure | Trigger::Http503 | Trigger::Http429 | Trigger::Timeout => {
                return None;
            }
        })
    }
}

/// What a step does to the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Restart the target kernel (through the control plane).
    RestartKernel,
    /// Restore the target's state from the newest snapshot before restarting.
    RestoreSnapshot,
    /// Drain the target's in-flight work (a timed pause; no effect besides time).
    Drain,
    /// Quarantine the target publisher on the bus.
    QuarantinePublisher,
    /// Throttle the target (publisher or resource hog).
    Throttle,
    /// Isolate the target resource hog (cap its share).
    Isolate,
    /// Shed load at the ingress.
    ShedLoad,
    /// Shift traffic away from the target.
    ShiftTraffic,
    /// Escalate to humans (the step's intent decides the wait).
    Escalate,
    /// Wait for the step's duration.
    Wait,
    /// Retry the failed call (agent playbooks).
    Retry,
    /// Pause the target kernel through the control plane (SIGSTOP: it stops
    /// consuming CPU, memory growth and network at once; the control plane
    /// suspends its heartbeat deadline).
    PauseKernel,
    /// Resume a kernel the control plane paused (its heartbeats restart).
    ResumeKernel,
}

/// One step of a playbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What it does.
    pub action: Action,
    /// The intent it is routed as (its governance tier).
    pub intent: Intent,
    /// How long the action takes once allowed, milliseconds.
    pub duration_ms: u64,
}

/// A playbook: a name, a trigger and ordered steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// Unique name (the file stem by convention).
    pub name: String,
    /// What starts it.
    pub trigger: Trigger,
    /// A human description.
    #[serde(default)]
    pub description: String,
    /// Ordered steps (at least one, at most [`STEPS_MAX`]).
    pub steps: Vec<Step>,
}

/// The most steps a playbook may have.
pub const STEPS_MAX: usize = 32;
/// The longest a single step may take, milliseconds (one day).
pub const STEP_DURATION_MS_MAX: u64 = 86_400_000;

impl Playbook {
    /// Parse one playbook from RON text; `path` names it in errors.
    pub fn from_ron(text: &str, path: &Path) -> Result<Playbook> {
        // An empty file says what ron says, as it always has.
        let pb: Playbook = crate::input::parse_ron_without_empty_check(text, path)?;
        pb.validate().map_err(|e| e.in_file(path))?;
        Ok(pb)
    }

    /// Check the values.
    pub fn validate(&self) -> std::result::Result<(), FieldError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(FieldError::new(
                "name",
                format!(
                    "'{}' (allowed 1-64 characters of a-z, 0-9 and _)",
                    self.name
                ),
            ));
        }
        if self.steps.is_empty() || self.steps.len() > STEPS_MAX {
            return Err(FieldError::new(
                "steps",
                format!("{} steps (allowed 1..={STEPS_MAX})", self.steps.len()),
            ));
        }
        for (i, s) in self.steps.iter().enumerate() {
            if s.duration_ms > STEP_DURATION_MS_MAX {
                return Err(FieldError::new(
                    format!("steps[{i}].duration_ms"),
                    format!("{} (allowed 0..={STEP_DURATION_MS_MAX})", s.duration_ms),
                ));
            }
        }
        Ok(())
    }
}

/// The embedded default playbooks: `(file name, text)`.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "emergency_critical_kernel_recovery.ron",
        include_str!("../../playbooks/emergency_critical_kernel_recovery.ron"),
    ),
    (
        "critical_kernel_restart.ron",
        include_str!("../../playbooks/critical_kernel_restart.ron"),
    ),
    (
        "critical_kernel_escalation.ron",
        include_str!("../../playbooks/critical_kernel_escalation.ron"),
    ),
    (
        "acl_flood_quarantine.ron",
        include_str!("../../playbooks/acl_flood_quarantine.ron"),
    ),
    (
        "resource_pressure_isolation.ron",
        include_str!("../../playbooks/resource_pressure_isolation.ron"),
    ),
];

/// A set of playbooks by unique name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlaybookSet {
    by_name: BTreeMap<String, Playbook>,
}

impl PlaybookSet {
    /// The playbooks embedded in the binary (the files of `playbooks/` that
    /// the stack uses). Panics only if an embedded file is broken, which the
    /// tests rule out.
    pub fn embedded() -> PlaybookSet {
        let mut set = PlaybookSet::default();
        for (file, text) in EMBEDDED {
            let path = PathBuf::from(format!("<embedded>/playbooks/{file}"));
            let pb = Playbook::from_ron(text, &path).expect("embedded playbook is valid");
            set.insert(pb, &path)
                .expect("embedded playbook names are unique");
        }
        set
    }

    /// Load every `*.ron` file of `dir` (in file-name order).
    pub fn load_dir(dir: &Path) -> Result<PlaybookSet> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| crate::input::not_found_is_input(dir, e))?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let p = entry.path();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // `api_*.ron` are API-agent playbooks (sweeps, another schema);
            // `auto_generated_*.ron` are the programme's generation records.
            if name.starts_with("api_") || name.starts_with("auto_generated_") {
                continue;
            }
            if p.extension().is_some_and(|x| x == "ron") {
                paths.push(p);
            }
        }
        paths.sort();
        let mut set = PlaybookSet::default();
        for p in paths {
            let text = crate::input::read_text(&p)?;
            Playbook::from_ron(&text, &p)
                .and_then(|pb| set.insert(pb, &p))
                .map_err(|e| crate::input::locate_error_in(e, &text, &p))?;
        }
        Ok(set)
    }

    /// Add a playbook; a duplicate name is an [`Error::Invalid`] on `path`.
    pub fn insert(&mut self, pb: Playbook, path: &Path) -> Result<()> {
        if self.by_name.contains_key(&pb.name) {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                field: "name".into(),
                message: format!(
                    "duplicate playbook name '{}' (names must be unique)",
                    pb.name
                ),
            });
        }
        self.by_name.insert(pb.name.clone(), pb);
        Ok(())
    }

    /// The playbook named `name`.
    pub fn get(&self, name: &str) -> Option<&Playbook> {
        self.by_name.get(name)
    }

    /// The playbooks started by `trigger`, in name order.
    pub fn for_trigger(&self, trigger: Trigger) -> impl Iterator<Item = &Playbook> {
        self.by_name.values().filter(move |p| p.trigger == trigger)
    }

    /// All playbooks in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Playbook> {
        self.by_name.values()
    }

    /// Number of playbooks.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_playbooks_parse_and_are_found_by_trigger() {
        let set = PlaybookSet::embedded();
        assert_eq!(set.len(), EMBEDDED.len());
        let e = set.get("emergency_critical_kernel_recovery").unwrap();
        assert_eq!(e.trigger, Trigger::CriticalKernelDead);
        assert!(e.steps.iter().all(|s| s.intent.tier() == 4));
        let r = set.for_trigger(Trigger::KernelUnresponsive).next().unwrap();
        assert_eq!(r.name, "critical_kernel_restart");
    }

    #[test]
    fn syntax_errors_are_located_and_bad_values_name_the_field() {
        let p = Path::new("x.ron");
        let err =
            Playbook::from_ron("Playbook(\n  name: \"a\",\n  trigger: Nope,\n)", p).unwrap_err();
        match err {
            Error::Syntax { line, .. } => assert_eq!(line, 3),
            other => panic!("{other}"),
        }
        let err = Playbook::from_ron(
            "Playbook(name: \"a\", trigger: AclFlood, steps: [], extra: 1)",
            p,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Syntax { .. }), "{err}");
        // An empty playbook has always had ron's message.
        let err = Playbook::from_ron("", p).unwrap_err().to_string();
        assert_eq!(err, "x.ron:1:1: Expected opening `(` for struct `Playbook`");
        let err = Playbook::from_ron("Playbook(name: \"a\", trigger: AclFlood, steps: [])", p)
            .unwrap_err();
        match err {
            Error::Invalid { field, .. } => assert_eq!(field, "steps"),
            other => panic!("{other}"),
        }
        let err = Playbook::from_ron(
            "Playbook(name: \"a\", trigger: AclFlood, steps: [(action: Wait, intent: schedule_task, duration_ms: 999999999999)])",
            p,
        )
        .unwrap_err();
        match err {
            Error::Invalid { field, .. } => assert_eq!(field, "steps[0].duration_ms"),
            other => panic!("{other}"),
        }
    }
}
