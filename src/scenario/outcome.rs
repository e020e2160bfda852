//! What one scenario execution produced, and why it failed.

use serde::Serialize;

use crate::engine::Digest;
use crate::safeguard::{Safeguard, SafeguardSet, Signal};

use super::spec::FaultKind;

/// Why an execution failed, by kind (bounded: learning records count these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    /// The steady state came back, but later than the limit.
    RecoveryExceeded,
    /// The steady state did not come back by the end of the run.
    NotRecovered,
    /// An expected safeguard was needed (this scenario's fault met its
    /// condition) and is not deployed.
    SafeguardMissing,
    /// An expected safeguard was needed and is deployed, but did not act
    /// (e.g. the emergency protocol without the trigger that hands it the
    /// kernel).
    SafeguardSilent,
    /// The consistency checker found anomalies.
    Anomalies,
    /// The steady state did not hold before the faults.
    NotSteadyBefore,
}

impl FailureKind {
    /// Every kind, in a fixed order (array index of per-kind counters).
    pub const ALL: [FailureKind; 6] = [
        FailureKind::RecoveryExceeded,
        FailureKind::NotRecovered,
        FailureKind::SafeguardMissing,
        FailureKind::SafeguardSilent,
        FailureKind::Anomalies,
        FailureKind::NotSteadyBefore,
    ];

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::RecoveryExceeded => "recovery_exceeded",
            FailureKind::NotRecovered => "not_recovered",
            FailureKind::SafeguardMissing => "safeguard_missing",
            FailureKind::SafeguardSilent => "safeguard_silent",
            FailureKind::Anomalies => "anomalies",
            FailureKind::NotSteadyBefore => "not_steady_before",
        }
    }

    /// Index into [`FailureKind::ALL`].
    pub fn index(self) -> usize {
        FailureKind::ALL
            .iter()
            .position(|&k| k == self)
            .expect("listed")
    }
}

/// The fault a detection is credited to: one of the scenario's own faults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultRef {
    /// The scenario whose fault it is (the outcome's own id).
    pub scenario: String,
    /// Index in the scenario's fault list.
    pub fault: u8,
    /// Its kind.
    pub kind: FaultKind,
}

/// A safeguard's detector met its condition on one of this scenario's
/// faults: the first time, with the evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detection {
    /// The safeguard.
    pub safeguard: Safeguard,
    /// When, in seconds on the scenario's clock (0 = its clock's start).
    pub at_s: f64,
    /// The signal its condition reads.
    pub signal: Signal,
    /// The signal's value, in its unit.
    pub value: i64,
    /// The threshold it crossed.
    pub threshold: i64,
    /// The fault whose effect crossed it.
    pub cause: FaultRef,
    /// Whether the safeguard is in the scenario's expected list.
    pub expected: bool,
}

impl Detection {
    /// `"acl_violation_monitor@5.2s:acl_violations_per_s=3000>100:f0"`, the
    /// compact form of outcomes.csv.
    pub fn compact(&self) -> String {
        format!(
            "{}@{:.1}s:{}={}>{}:f{}",
            self.safeguard,
            self.at_s,
            self.signal.name(),
            self.value,
            self.threshold,
            self.cause.fault
        )
    }

    /// `"needed at 5.2 s (acl violations 3000/s > 100/s)"`.
    pub fn words(&self) -> String {
        let u = self.signal.unit();
        let op = if self.value > self.threshold {
            ">"
        } else {
            ">="
        };
        format!(
            "at {:.1} s ({} {}{u} {op} {}{u})",
            self.at_s,
            self.signal.label(),
            self.value,
            self.threshold
        )
    }
}

/// What governance did during a run (both layers' routers; shared by
/// concurrent scenarios, like the digest). Fixed size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GovernanceSummary {
    /// Human approvals waited for (tier 0).
    pub approvals: u64,
    /// Total time spent waiting for them, ms.
    pub approval_wait_ms: u64,
    /// Unified-logic votes held (tier 3).
    pub votes: u64,
    /// Votes denied for want of a quorum.
    pub votes_failed: u64,
    /// Intents executed at once and logged for human review (tier 1).
    pub logged_for_review: u64,
    /// Emergency overrides, heavily logged (tier 4).
    pub emergency_overrides: u64,
}

impl GovernanceSummary {
    /// Add a router's counters.
    pub fn add(&mut self, s: &crate::model::governance::GovernanceStats) {
        self.approvals += s.approvals_waited;
        self.approval_wait_ms += s.approval_wait_ns_total / 1_000_000;
        self.votes += s.votes;
        self.votes_failed += s.votes_failed;
        self.logged_for_review += s.review_log_entries;
        self.emergency_overrides += s.emergency_overrides;
    }
}

/// The result of one scenario execution.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// Scenario id.
    pub id: String,
    /// Difficulty level it ran at.
    pub difficulty: u8,
    /// The verdict.
    pub passed: bool,
    /// Time from the first steady-state violation to its stable restoration,
    /// in seconds (0 if never violated); `None` if not restored.
    pub recovery_s: Option<f64>,
    /// The scenario's recovery limit, seconds.
    pub recovery_limit_s: f64,
    /// The first reason of failure, in words (`None` on a pass).
    pub failure_reason: Option<String>,
    /// Every failure kind that applied (the first is the reported reason;
    /// serialized as `failure_kind`, that first kind or null).
    #[serde(rename = "failure_kind", serialize_with = "first_kind")]
    pub failure_kinds: Vec<FailureKind>,
    /// Safeguards the scenario expects to fire.
    pub safeguards_expected: SafeguardSet,
    /// Safeguards that fired on this scenario's faults (credit by cause:
    /// in a concurrent run, never on another scenario's).
    pub safeguards_fired: SafeguardSet,
    /// Expected safeguards that were needed (a fault of this scenario met
    /// their condition) and did not fire.
    pub safeguards_missing: SafeguardSet,
    /// Every safeguard a fault of this scenario needed that did not act
    /// (not deployed, or unable to), first time each, with the evidence.
    pub safeguards_needed: Vec<Detection>,
    /// The first firing of each safeguard on this scenario's faults.
    pub safeguards_firings: Vec<Detection>,
    /// Expected safeguards whose condition no fault of this scenario met
    /// (the run did not exercise them: they fail nothing).
    pub safeguards_not_exercised: SafeguardSet,
    /// Safeguards deployed for the run.
    pub safeguards_deployed: SafeguardSet,
    /// Consistency anomalies found by the checker (0 for non-Jepsen runs).
    pub anomalies: u64,
    /// The linearizability checker's verdict on the replicated log's
    /// history (`None` for runs without the log; shared by concurrent
    /// scenarios).
    pub linearizability: Option<crate::check::linearizable::LinVerdict>,
    /// What governance did in the run.
    pub governance: GovernanceSummary,
    /// The alerts the Layer-2 watchdog raised in the run, by kind (all zero
    /// without Layer 2).
    pub alerts: crate::model::layer2::Layer2Alerts,
    /// Events the simulation handled (shared by concurrent scenarios).
    pub events: u64,
    /// The run digest (shared by concurrent scenarios).
    #[serde(serialize_with = "digest_hex")]
    pub digest: Digest,
}

impl Serialize for FailureKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

fn first_kind<S: serde::Serializer>(k: &[FailureKind], s: S) -> Result<S::Ok, S::Error> {
    match k.first() {
        Some(k) => s.serialize_str(k.name()),
        None => s.serialize_none(),
    }
}

pub(crate) fn digest_hex<S: serde::Serializer>(d: &Digest, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

/// What a failure is, kept the same while shrinking: its first kind and,
/// for a safeguard failure, the safeguard that was needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureSignature {
    /// The first failure kind.
    pub kind: FailureKind,
    /// The needed safeguard (for `safeguard_missing` / `safeguard_silent`).
    pub safeguard: Option<Safeguard>,
}

/// `"safeguard_missing (acl_violation_monitor)"`, `"not_recovered"`.
impl std::fmt::Display for FailureSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.safeguard {
            Some(sg) => write!(f, "{} ({sg})", self.kind.name()),
            None => f.write_str(self.kind.name()),
        }
    }
}

impl Outcome {
    /// What this failure is (`None` on a pass): the first kind, and for a
    /// safeguard failure the first expected safeguard that was needed.
    pub fn signature(&self) -> Option<FailureSignature> {
        let kind = self.failure_kind()?;
        let safeguard = match kind {
            FailureKind::SafeguardMissing | FailureKind::SafeguardSilent => self
                .safeguards_needed
                .iter()
                .find(|d| d.expected)
                .map(|d| d.safeguard),
            _ => None,
        };
        Some(FailureSignature { kind, safeguard })
    }

    /// The first failure kind, if failed.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        self.failure_kinds.first().copied()
    }

    /// The recorded need of `sg`, if this scenario's faults needed it.
    pub fn need(&self, sg: Safeguard) -> Option<&Detection> {
        self.safeguards_needed.iter().find(|d| d.safeguard == sg)
    }

    /// `safeguards_needed` in outcomes.csv's compact form, `;`-joined.
    pub fn needed_compact(&self) -> String {
        self.safeguards_needed
            .iter()
            .map(Detection::compact)
            .collect::<Vec<_>>()
            .join(";")
    }
}
