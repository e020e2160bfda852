//! What one scenario execution produced, and why it failed.

use serde::Serialize;

use crate::engine::Digest;
use crate::safeguard::SafeguardSet;

/// Why an execution failed, by kind (bounded: learning records count these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The steady state came back, but later than the limit.
    RecoveryExceeded,
    /// The steady state did not come back by the end of the run.
    NotRecovered,
    /// An expected safeguard is not deployed, so it could not fire.
    SafeguardMissing,
    /// An expected safeguard is deployed but did not fire.
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
    /// Every failure kind that applied (the first is the reported reason).
    #[serde(skip)]
    pub failure_kinds: Vec<FailureKind>,
    /// Safeguards the scenario expects to fire.
    pub safeguards_expected: SafeguardSet,
    /// Safeguards that fired during the run.
    pub safeguards_fired: SafeguardSet,
    /// Expected safeguards that did not fire.
    pub safeguards_missing: SafeguardSet,
    /// Safeguards deployed for the run.
    pub safeguards_deployed: SafeguardSet,
    /// Consistency anomalies found by the checker (0 for non-Jepsen runs).
    pub anomalies: u64,
    /// Events the simulation handled (shared by concurrent scenarios).
    pub events: u64,
    /// The run digest (shared by concurrent scenarios).
    #[serde(serialize_with = "digest_hex")]
    pub digest: Digest,
}

fn digest_hex<S: serde::Serializer>(d: &Digest, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

impl Outcome {
    /// The first failure kind, if failed.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        self.failure_kinds.first().copied()
    }
}
