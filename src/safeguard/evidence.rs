//! What a safeguard's detector saw: the signal its condition reads, the
//! value against the threshold, when, and which fault caused it.
//!
//! Every safeguard's detector runs whether or not the safeguard is deployed
//! (a *shadow* detector when it is not): one condition, evaluated at the
//! same instants on the same signal. Deployed, a met condition is a
//! *firing* and the safeguard acts; not deployed, it is a *need*, recorded
//! with its evidence and acted on by nothing. A verdict reads these
//! records only ([`SafeguardLog`](super::SafeguardLog)).
//!
//! A record also names its **cause**: the fault (scenario of the run, fault
//! of that scenario) whose effect crossed the threshold, traced through the
//! component the signal belongs to (see each model's safeguard table). A
//! condition met with no fault behind it (background load, ordinary client
//! concurrency) has no cause and is credited to no scenario.

use std::fmt;

use serde::Serialize;

use crate::engine::SimTime;

/// A fault of a run: the scenario (its index among the run's scenarios) and
/// the fault (its index in that scenario's scaled fault list).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Cause {
    /// Index of the scenario among the run's scenarios.
    pub scenario: u8,
    /// Index of the fault in that scenario's (scaled) fault list.
    pub fault: u8,
}

impl Cause {
    /// A cause for scenario `scenario`, fault `fault`.
    pub const fn new(scenario: u8, fault: u8) -> Cause {
        Cause { scenario, fault }
    }
}

/// The most scenarios one run can credit (a [`Cause`] names them by index).
pub const SCENARIOS_PER_RUN_MAX: usize = 16;

macro_rules! signals {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $label:literal, $unit:literal; )*) => {
        /// The signal a safeguard's condition reads (with its unit: values and
        /// thresholds of [`Evidence`] are integers in that unit).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Signal {
            $( $(#[$doc])* $variant, )*
        }

        impl Signal {
            /// Every signal.
            pub const ALL: &'static [Signal] = &[ $( Signal::$variant, )* ];

            /// The stable snake_case name (`"acl_violations_per_s"`).
            pub const fn name(self) -> &'static str {
                match self { $( Signal::$variant => $name, )* }
            }

            /// Words for humans (`"acl violations"`).
            pub const fn label(self) -> &'static str {
                match self { $( Signal::$variant => $label, )* }
            }

            /// The unit of values and thresholds (`"/s"`, `" ms"`, `""`).
            pub const fn unit(self) -> &'static str {
                match self { $( Signal::$variant => $unit, )* }
            }
        }
    };
}

signals! {
    /// Time since a kernel's last heartbeat arrived, against the heartbeat watchdog's window.
    HeartbeatSilenceMs = "heartbeat_silence_ms", "heartbeat silence", " ms";
    /// Time since a kernel's process exited, against the exit-detection delay.
    ProcessExitedMs = "process_exited_ms", "process exited", " ms ago";
    /// Restarts of a kernel within the restart window, against the budget.
    RestartsInWindow = "restarts_in_window", "restarts in window", "";
    /// Heartbeat silence of a critical kernel, against the critical trigger's limit.
    CriticalSilenceMs = "critical_silence_ms", "critical kernel silent", " ms";
    /// ACL violations per second of one publisher.
    AclViolationsPerS = "acl_violations_per_s", "acl violations", "/s";
    /// CPU utilisation, sustained over the monitor's ticks.
    CpuPermille = "cpu_permille", "cpu", " permille";
    /// Memory utilisation, sustained.
    MemoryPermille = "memory_permille", "memory", " permille";
    /// Disk utilisation, sustained.
    DiskPermille = "disk_permille", "disk", " permille";
    /// Network utilisation, sustained.
    NetworkPermille = "network_permille", "network", " permille";
    /// Corrupt snapshots newer than the one a restore would use.
    CorruptSnapshots = "corrupt_snapshots", "corrupt snapshots at restore", "";
    /// Requests per second of the API's flooding client, against the per-client rate.
    ApiClientRps = "api_client_rps", "api requests of one client", "/s";
    /// HTM queue depth, against the warning (monitor) or critical (shedder) threshold.
    QueueDepth = "queue_depth", "queue depth", "";
    /// Trigger-mesh backlog plus this tick's deliveries, against the high watermark.
    MeshBacklog = "mesh_backlog", "mesh backlog", "";
    /// Scheduler checks in a row without a dispatch while work waits.
    StalledChecks = "stalled_checks", "scheduler checks without dispatch", "";
    /// Cascade level a policy would trigger, against the recursion limit.
    PolicyDepth = "policy_depth", "policy cascade depth", "";
    /// Time since a dead worker's last heartbeat, against the heartbeat timeout.
    WorkerSilenceMs = "worker_silence_ms", "worker heartbeat missing", " ms";
    /// Failing share of the recent dependency calls, against the breaker's threshold.
    DependencyFailurePermille = "dependency_failure_permille", "dependency calls failing", " permille";
    /// Consecutive failures of a serving replica, against its retry budget.
    ReplicaConsecutiveFailures = "replica_consecutive_failures", "replica consecutive failures", "";
    /// Appends beyond the commit index of a leader superseded by a newer one.
    UncommittedAtSupersede = "uncommitted_at_supersede", "uncommitted appends of a superseded leader", "";
    /// Epochs by which an append or reply differs from the receiver's (a deposed leader).
    StaleEpoch = "stale_epoch", "epochs behind", "";
    /// Wall-clock skew between a leader and a follower.
    ClockSkewMs = "clock_skew_ms", "clock skew", " ms";
    /// How far an entry timestamp would go backwards.
    TimestampRegressionMs = "timestamp_regression_ms", "timestamp going backwards", " ms";
    /// Entries between a writer's expected log length and the real one (a
    /// race with another writer), or after its earlier attempt already in
    /// the log (a retry that would duplicate it).
    AppendConflict = "append_conflict", "entries the writer did not expect", "";
    /// Log entries a snapshot restore would drop (the log moving backwards).
    RollbackEntries = "rollback_entries", "entries a restore would drop", "";
}

/// One met condition: when, which signal, its value against the threshold,
/// and the fault that caused it (`None`: no fault of the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// When the condition was met.
    pub at: SimTime,
    /// The signal.
    pub signal: Signal,
    /// Its value, in the signal's unit.
    pub value: i64,
    /// The threshold it crossed, in the same unit.
    pub threshold: i64,
    /// The fault whose effect crossed it.
    pub cause: Option<Cause>,
}

impl Evidence {
    /// Evidence at `at`: `signal` at `value` against `threshold`, caused by `cause`.
    pub fn new(
        at: SimTime,
        signal: Signal,
        value: i64,
        threshold: i64,
        cause: Option<Cause>,
    ) -> Self {
        Evidence {
            at,
            signal,
            value,
            threshold,
            cause,
        }
    }

    /// Convert an unsigned measurement (saturating).
    pub fn of(
        at: SimTime,
        signal: Signal,
        value: u64,
        threshold: u64,
        cause: Option<Cause>,
    ) -> Self {
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Evidence::new(at, signal, i(value), i(threshold), cause)
    }
}

/// `"acl violations 3000/s > 100/s"`.
impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = self.signal.unit();
        let op = if self.value > self.threshold {
            ">"
        } else {
            ">="
        };
        write!(
            f,
            "{} {}{u} {op} {}{u}",
            self.signal.label(),
            self.value,
            self.threshold
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_are_unique() {
        let mut names: Vec<_> = Signal::ALL.iter().map(|s| s.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Signal::ALL.len());
    }

    #[test]
    fn evidence_reads_as_a_comparison() {
        let e = Evidence::of(SimTime::ZERO, Signal::AclViolationsPerS, 3000, 100, None);
        assert_eq!(e.to_string(), "acl violations 3000/s > 100/s");
        let e = Evidence::of(SimTime::ZERO, Signal::QueueDepth, 1000, 1000, None);
        assert_eq!(e.to_string(), "queue depth 1000 >= 1000");
    }
}
