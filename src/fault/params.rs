//! [`FaultParams`]: the natural magnitude of every fault kind at intensity 1
//! (a fault's `intensity` in 0..=1 scales it), with the defaults of
//! `src/defaults/faults.ron`. They are the `faults` section of the stack
//! file (`chaosim stack` prints them).

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// The embedded default (`src/defaults/faults.ron`).
pub const DEFAULT_RON: &str = include_str!("../defaults/faults.ron");

/// Natural parameters of the fault kinds. A fault of intensity `i` gets
/// `i x` the value (rounded down); kinds whose intensity is unused ignore it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultParams {
    /// `AclFlood`: ACL-violating messages per second (the bus carries 10,000/s).
    pub acl_flood_msgs_per_s: u64,
    /// `CpuSpike`: the hog's demand, permille of all cores (4,000 = 4x the machine).
    pub cpu_spike_permille: u64,
    /// `MemoryLeak`: MiB leaked per second.
    pub memory_leak_mib_per_s: u64,
    /// `DiskFill`: MiB written per second.
    pub disk_fill_mib_per_s: u64,
    /// `NetworkSaturation`: the hog's demand, permille of the link.
    pub network_permille: u64,
    /// `ApiFlood`: requests per second of the flooding client (ingress serves 2,000/s).
    pub api_flood_rps: u64,
    /// `CorruptSnapshots`: snapshots corrupted (at least 1).
    pub corrupt_snapshots: u64,
    /// `GovernanceStorm`: intents needing approval (at least 1).
    pub governance_storm_intents: u64,
    /// `QueueFlood`: intents, spread over the fault's length.
    pub queue_flood_intents: u64,
    /// `QueueFlood`: share of invalid intents, per mille (not scaled).
    pub queue_flood_invalid_permille: u16,
    /// `TriggerStorm`: events per second of the extra publisher.
    pub trigger_storm_events_per_s: u64,
    /// `PauseScheduler`: tasks queued at the pause.
    pub pause_scheduler_queued_tasks: u64,
    /// `PolicyCascade`: levels of policies triggering policies (at least 1).
    pub policy_cascade_depth: u64,
    /// `WorkerDropout`: share of alive workers killed, per mille.
    pub worker_dropout_permille: u64,
    /// `DependencyFailure`: share of dependency calls failing, per mille.
    pub dependency_failure_permille: u64,
    /// `ClockSkew`: the clock bump, ns.
    pub clock_skew_ns: u64,
    /// `ClockStrobe`: the oscillation's amplitude, ns.
    pub clock_strobe_delta_ns: u64,
    /// `ClockStrobe`: the oscillation's half-period, ns (not scaled).
    pub clock_strobe_period_ns: u64,
    /// `ConcurrentWrites`: extra writers (at least 2).
    pub concurrent_writers: u64,
    /// `LoseSubscriptions`: share of the mesh's subscriptions lost, per mille.
    pub lose_subscriptions_permille: u64,
}

impl Default for FaultParams {
    fn default() -> Self {
        FaultParams {
            acl_flood_msgs_per_s: 30_000,
            cpu_spike_permille: 4_000,
            memory_leak_mib_per_s: 500,
            disk_fill_mib_per_s: 3_000,
            network_permille: 4_000,
            api_flood_rps: 40_000,
            corrupt_snapshots: 10,
            governance_storm_intents: 1_000,
            queue_flood_intents: 20_000,
            queue_flood_invalid_permille: 500,
            trigger_storm_events_per_s: 10_000,
            pause_scheduler_queued_tasks: 2_000,
            policy_cascade_depth: 20,
            worker_dropout_permille: 1_000,
            dependency_failure_permille: 1_000,
            clock_skew_ns: 60_000_000_000,
            clock_strobe_delta_ns: 10_000_000_000,
            clock_strobe_period_ns: 1_000_000_000,
            concurrent_writers: 10,
            lose_subscriptions_permille: 1000,
        }
    }
}

const SEC: u64 = 1_000_000_000;

impl FaultParams {
    /// The embedded defaults, parsed (tested equal to [`Default`]).
    pub fn embedded() -> FaultParams {
        crate::input::parse_ron(
            DEFAULT_RON,
            std::path::Path::new("<embedded>/defaults/faults.ron"),
        )
        .expect("the embedded faults.ron parses (tested)")
    }

    /// Check every value; the error reads `field: message (allowed ...)`.
    pub fn validate(&self) -> Result<(), FieldError> {
        fn range(field: &str, v: u64, lo: u64, hi: u64) -> Result<(), FieldError> {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(FieldError::new(
                    field,
                    format!("{v} is out of range (allowed: {lo} to {hi})"),
                ))
            }
        }
        range(
            "acl_flood_msgs_per_s",
            self.acl_flood_msgs_per_s,
            0,
            100_000_000,
        )?;
        range("cpu_spike_permille", self.cpu_spike_permille, 0, 100_000)?;
        range(
            "memory_leak_mib_per_s",
            self.memory_leak_mib_per_s,
            0,
            1_000_000,
        )?;
        range(
            "disk_fill_mib_per_s",
            self.disk_fill_mib_per_s,
            0,
            1_000_000,
        )?;
        range("network_permille", self.network_permille, 0, 100_000)?;
        range("api_flood_rps", self.api_flood_rps, 0, 100_000_000)?;
        range("corrupt_snapshots", self.corrupt_snapshots, 1, 8 * 1000)?;
        range(
            "governance_storm_intents",
            self.governance_storm_intents,
            1,
            10_000_000,
        )?;
        range(
            "queue_flood_intents",
            self.queue_flood_intents,
            0,
            100_000_000,
        )?;
        range(
            "queue_flood_invalid_permille",
            self.queue_flood_invalid_permille.into(),
            0,
            1000,
        )?;
        range(
            "trigger_storm_events_per_s",
            self.trigger_storm_events_per_s,
            0,
            10_000_000,
        )?;
        range(
            "pause_scheduler_queued_tasks",
            self.pause_scheduler_queued_tasks,
            0,
            10_000_000,
        )?;
        range("policy_cascade_depth", self.policy_cascade_depth, 1, 1000)?;
        range(
            "worker_dropout_permille",
            self.worker_dropout_permille,
            0,
            1000,
        )?;
        range(
            "dependency_failure_permille",
            self.dependency_failure_permille,
            0,
            1000,
        )?;
        range("clock_skew_ns", self.clock_skew_ns, 0, 86_400 * SEC)?;
        range(
            "clock_strobe_delta_ns",
            self.clock_strobe_delta_ns,
            0,
            86_400 * SEC,
        )?;
        range(
            "clock_strobe_period_ns",
            self.clock_strobe_period_ns,
            1_000_000,
            3_600 * SEC,
        )?;
        range("concurrent_writers", self.concurrent_writers, 2, 1000)?;
        range(
            "lose_subscriptions_permille",
            self.lose_subscriptions_permille,
            0,
            1000,
        )?;
        Ok(())
    }

    /// `full x permille / 1000`: a natural parameter at intensity `permille`.
    pub fn scaled(full: u64, permille: u16) -> u64 {
        (full as u128 * permille as u128 / 1000) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse_validate_and_equal_default() {
        let p = FaultParams::embedded();
        assert_eq!(p, FaultParams::default());
        p.validate().unwrap();
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let p = FaultParams {
            concurrent_writers: 1,
            ..FaultParams::default()
        };
        let e = p.validate().unwrap_err();
        assert!(
            e.to_string()
                .starts_with("concurrent_writers: 1 is out of range"),
            "{e}"
        );
    }
}
