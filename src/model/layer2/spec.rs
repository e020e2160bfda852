//! The Layer-2 specification: every number of the orchestration layer, with
//! the MISSION.md defaults, in RON (`src/defaults/layer2.ron`, embedded).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::governance::Intent;

use super::queue::{ArrivalProcess, Discipline, ServiceDist};
use crate::error::{Error, FieldError};
use crate::safeguard::{Safeguard, SafeguardSet};

/// The default Layer-2 spec, as RON (embedded from `src/defaults/layer2.ron`).
pub const DEFAULT_LAYER2_RON: &str = include_str!("../../defaults/layer2.ron");

/// The whole Layer-2 specification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Layer2Spec {
    /// Safeguards deployed in the default stack. Left out by default (for the
    /// chaos programme to discover): htm_queue_depth_monitor,
    /// trigger_mesh_backpressure, cascade_detector.
    pub default_safeguards: SafeguardSet,
    /// Fluid tick of the trigger mesh and the policy engine, ns.
    pub tick_ns: u64,
    /// HTM orchestrator queue.
    pub htm: HtmSpec,
    /// Worker pool.
    pub workers: WorkerSpec,
    /// Scheduler.
    pub scheduler: SchedulerSpec,
    /// Trigger mesh.
    pub mesh: MeshSpec,
    /// Event policy engine.
    pub policy: PolicySpec,
    /// Layer-2 watchdog and telemetry.
    pub watchdog: WatchdogSpec,
    /// Load-shedding criteria.
    pub shedding: SheddingSpec,
    /// Orchestrator replicas and the sandbox fallback / canary.
    pub replicas: ReplicaSpec,
    /// Per-safeguard parameters.
    pub safeguards: SafeguardParams,
    /// Steady-state tolerances (what [`Layer2Probe::healthy`](super::Layer2Probe::healthy) checks).
    pub steady: SteadySpec,
    /// The intent (and so the governance tier) of each Layer-2 recovery
    /// action.
    pub recovery_intents: RecoveryIntents,
}

/// The intent each Layer-2 recovery action is routed as (its governance
/// tier decides how long it waits: tier 0 a human, tier 3 a vote of the
/// Layer-2 components).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryIntents {
    /// scheduler_watchdog restarts the scheduler (tier 1 by default).
    pub restart_scheduler: Intent,
    /// worker_pool_recovery respawns a worker (tier 2).
    pub respawn_worker: Intent,
    /// sandbox_fallback rebuilds a replica in the sandbox (tier 1).
    pub rebuild_replica: Intent,
    /// load_shedder drops old low-priority tasks (tier 3: a vote).
    pub shed_load: Intent,
    /// The watchdog restores lost mesh subscriptions (tier 1).
    pub resubscribe: Intent,
    /// The watchdog restarts a component that failed its readiness check (tier 1).
    pub restart_component: Intent,
}

impl Default for RecoveryIntents {
    fn default() -> Self {
        RecoveryIntents {
            restart_scheduler: Intent::ModifyConfig,
            respawn_worker: Intent::ScheduleTask,
            rebuild_replica: Intent::ExecuteSandbox,
            shed_load: Intent::OptimizeSystem,
            resubscribe: Intent::ModifyConfig,
            restart_component: Intent::ModifyConfig,
        }
    }
}

/// HTM orchestrator queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HtmSpec {
    /// Warning depth (MISSION: 1,000).
    pub queue_warning: u32,
    /// Critical depth (MISSION: 5,000).
    pub queue_critical: u32,
    /// Hard capacity: intents beyond it are rejected.
    pub queue_capacity: u32,
    /// Queue order (priority: level 9 first).
    pub discipline: Discipline,
    /// Background intent arrivals.
    pub background: ArrivalProcess,
    /// Worker time spent validating (and rejecting) an invalid intent, ns.
    pub validation_cost_ns: u64,
    /// Attempts after the first before a task is failed.
    pub max_retries: u8,
}

/// Worker pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSpec {
    /// Workers at boot.
    pub count: u16,
    /// Tasks a worker holds at once (one in service + local queue).
    pub slots: u8,
    /// Service time of a valid task.
    pub service: ServiceDist,
    /// A dead worker is noticed once its last heartbeat is this old, ns.
    pub heartbeat_timeout_ns: u64,
    /// Time to spawn a replacement worker, ns.
    pub spawn_ns: u64,
}

/// Scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSpec {
    /// Dispatch-rate warning threshold (MISSION: 1 task/s).
    pub dispatch_warning_per_s: u32,
    /// Window over which the dispatch rate is measured, s (1..=8).
    pub rate_window_s: u8,
    /// Time to restart the scheduler, ns.
    pub restart_ns: u64,
}

/// Trigger mesh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeshSpec {
    /// Subscriptions (fan-out of each event).
    pub subscriptions: u16,
    /// Fewer subscriptions than this is a warning (MISSION: 5).
    pub subscriptions_warning: u16,
    /// Background events published per second.
    pub background_events_per_s: u32,
    /// Deliveries the mesh performs per second.
    pub delivery_rate_per_s: u32,
    /// Buffered deliveries; beyond it deliveries are dropped.
    pub buffer_capacity: u32,
}

/// Event policy engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySpec {
    /// Policy evaluations per second.
    pub eval_rate_per_s: u32,
    /// Background policy evaluations per second (no follow-ups).
    pub background_per_s: u32,
    /// Policies each cascading policy triggers at the next level.
    pub cascade_fanout: u16,
    /// Recursion limit enforced by cascade_detector (levels below the root).
    pub recursion_limit: u16,
}

/// Layer-2 watchdog and telemetry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchdogSpec {
    /// Check interval (MISSION: 15 s), ns.
    pub check_interval_ns: u64,
    /// Boot readiness timeout (MISSION: 30 s), ns.
    pub readiness_timeout_ns: u64,
    /// Readiness poll interval, ns.
    pub readiness_poll_ns: u64,
    /// Time each of the four components takes to come up, ns.
    pub component_boot_ns: u64,
    /// Telemetry row interval (MISSION: 15 s), ns.
    pub telemetry_interval_ns: u64,
}

/// Load-shedding criteria (MISSION: priority < 5 and older than 10 min).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SheddingSpec {
    /// Shed tasks whose priority is below this.
    pub priority_below: u8,
    /// ... and that waited longer than this, ns.
    pub older_than_ns: u64,
    /// load_shedder's own check interval, ns.
    pub check_interval_ns: u64,
}

/// Orchestrator replicas, sandbox fallback and canary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaSpec {
    /// Replicas (traffic split evenly at boot), 1..=16.
    pub count: u16,
    /// Consecutive failures a replica may have before sandbox_fallback acts.
    pub max_retries: u16,
    /// Sandbox rebuild time, ns.
    pub rebuild_ns: u64,
    /// Validation time of a rebuild, ns.
    pub validate_ns: u64,
    /// Canary traffic steps in percent (MISSION: 0, 20, 40, 60, 80, 100).
    pub canary_steps_percent: Vec<u8>,
    /// Time per canary step (MISSION: 12 s), ns.
    pub canary_step_ns: u64,
    /// Roll back when a step's error rate exceeds this, per mille.
    pub canary_error_permille_max: u16,
    /// Calls needed in a step before its error rate is judged.
    pub canary_min_calls: u32,
}

/// Per-safeguard parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafeguardParams {
    /// htm_queue_depth_monitor: intake token rate while guarded, per s.
    pub monitor_intake_limit_per_s: u32,
    /// htm_queue_depth_monitor: leave guarded mode below this depth.
    pub monitor_release_depth: u32,
    /// trigger_mesh_backpressure: engage at this share of the buffer, per mille.
    pub backpressure_high_permille: u16,
    /// trigger_mesh_backpressure: release below this share, per mille.
    pub backpressure_low_permille: u16,
    /// scheduler_watchdog: check interval, ns.
    pub scheduler_check_ns: u64,
    /// scheduler_watchdog: consecutive no-progress checks before acting.
    pub scheduler_stall_checks: u8,
    /// worker_pool_recovery: check interval, ns.
    pub worker_check_ns: u64,
    /// circuit_breaker: outcomes in the sliding window (1..=64).
    pub breaker_window: u8,
    /// circuit_breaker: open at this failure rate, per mille.
    pub breaker_failure_permille: u16,
    /// circuit_breaker: outcomes needed before judging.
    pub breaker_min_calls: u8,
    /// circuit_breaker: time open before half-open, ns.
    pub breaker_open_ns: u64,
    /// circuit_breaker: trial calls in half-open.
    pub breaker_half_open_calls: u8,
    /// Time a worker waits for a failing downstream dependency, ns.
    pub dependency_timeout_ns: u64,
}

/// Steady-state tolerances of the default Layer-2 hypothesis.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SteadySpec {
    /// Queue depth at most this.
    pub queue_depth_max: u32,
    /// Alive workers at least this share of the configured count, per mille.
    pub workers_alive_min_permille: u16,
    /// Tasks stranded on dead workers at most this.
    pub orphaned_max: u32,
    /// While work waits, dispatches per second at least this.
    pub dispatch_min_per_s: u32,
    /// Trigger-mesh delivery lag at most this, ns.
    pub mesh_lag_max_ns: u64,
    /// Mesh drops over the last second at most this.
    pub mesh_drops_max: u32,
    /// Policy-engine lag at most this, ns.
    pub policy_lag_max_ns: u64,
    /// The oldest queued task waited at most this, ns: tasks held behind an
    /// open breaker, a stalled scheduler or a saturated pool are harm.
    pub task_wait_max_ns: u64,
    /// Tasks failed after their last retry in the last second, at most this.
    pub tasks_failed_max: u32,
    /// Valid intents dropped at a full queue in the last second, at most this.
    pub tasks_dropped_max: u32,
    /// Trigger-mesh subscriptions, at least this (events to fewer
    /// subscribers are lost work).
    pub mesh_subscriptions_min: u16,
}

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

impl Default for Layer2Spec {
    fn default() -> Self {
        Layer2Spec {
            default_safeguards: SafeguardSet::EMPTY
                .with(Safeguard::SchedulerWatchdog)
                .with(Safeguard::WorkerPoolRecovery)
                .with(Safeguard::LoadShedder)
                .with(Safeguard::CircuitBreaker)
                .with(Safeguard::SandboxFallback),
            tick_ns: 10 * MS,
            htm: HtmSpec::default(),
            workers: WorkerSpec::default(),
            scheduler: SchedulerSpec::default(),
            mesh: MeshSpec::default(),
            policy: PolicySpec::default(),
            watchdog: WatchdogSpec::default(),
            shedding: SheddingSpec::default(),
            replicas: ReplicaSpec::default(),
            safeguards: SafeguardParams::default(),
            steady: SteadySpec::default(),
            recovery_intents: RecoveryIntents::default(),
        }
    }
}

impl Default for HtmSpec {
    fn default() -> Self {
        HtmSpec {
            queue_warning: 1_000,
            queue_critical: 5_000,
            queue_capacity: 20_000,
            discipline: Discipline::Priority,
            background: ArrivalProcess::Poisson { rate_per_s: 20.0 },
            validation_cost_ns: 100 * MS,
            max_retries: 3,
        }
    }
}

impl Default for WorkerSpec {
    fn default() -> Self {
        WorkerSpec {
            count: 16,
            slots: 2,
            service: ServiceDist::LogNormal {
                mean_ns: 250e6,
                sigma: 0.5,
            },
            heartbeat_timeout_ns: 3 * S,
            spawn_ns: 10 * S,
        }
    }
}

impl Default for SchedulerSpec {
    fn default() -> Self {
        SchedulerSpec {
            dispatch_warning_per_s: 1,
            rate_window_s: 5,
            restart_ns: 5 * S,
        }
    }
}

impl Default for MeshSpec {
    fn default() -> Self {
        MeshSpec {
            subscriptions: 8,
            subscriptions_warning: 5,
            background_events_per_s: 200,
            delivery_rate_per_s: 20_000,
            buffer_capacity: 50_000,
        }
    }
}

impl Default for PolicySpec {
    fn default() -> Self {
        PolicySpec {
            eval_rate_per_s: 500,
            background_per_s: 20,
            cascade_fanout: 3,
            recursion_limit: 5,
        }
    }
}

impl Default for WatchdogSpec {
    fn default() -> Self {
        WatchdogSpec {
            check_interval_ns: 15 * S,
            readiness_timeout_ns: 30 * S,
            readiness_poll_ns: S,
            component_boot_ns: 2 * S,
            telemetry_interval_ns: 15 * S,
        }
    }
}

impl Default for SheddingSpec {
    fn default() -> Self {
        SheddingSpec {
            priority_below: 5,
            older_than_ns: 60 * S,
            check_interval_ns: 15 * S,
        }
    }
}

impl Default for ReplicaSpec {
    fn default() -> Self {
        ReplicaSpec {
            count: 3,
            max_retries: 3,
            rebuild_ns: 30 * S,
            validate_ns: 5 * S,
            canary_steps_percent: vec![0, 20, 40, 60, 80, 100],
            canary_step_ns: 12 * S,
            canary_error_permille_max: 50,
            canary_min_calls: 5,
        }
    }
}

impl Default for SafeguardParams {
    fn default() -> Self {
        SafeguardParams {
            monitor_intake_limit_per_s: 60,
            monitor_release_depth: 500,
            backpressure_high_permille: 200,
            backpressure_low_permille: 50,
            scheduler_check_ns: 5 * S,
            scheduler_stall_checks: 2,
            worker_check_ns: 5 * S,
            breaker_window: 20,
            breaker_failure_permille: 500,
            breaker_min_calls: 10,
            breaker_open_ns: 10 * S,
            breaker_half_open_calls: 3,
            dependency_timeout_ns: 5 * S,
        }
    }
}

impl Default for SteadySpec {
    fn default() -> Self {
        SteadySpec {
            queue_depth_max: 1_000,
            workers_alive_min_permille: 750,
            orphaned_max: 0,
            dispatch_min_per_s: 1,
            mesh_lag_max_ns: S,
            mesh_drops_max: 0,
            policy_lag_max_ns: 2 * S,
            task_wait_max_ns: 5 * S,
            tasks_failed_max: 0,
            tasks_dropped_max: 0,
            mesh_subscriptions_min: 5,
        }
    }
}

fn range<T: PartialOrd + std::fmt::Display>(
    field: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<(), FieldError> {
    if v < lo || v > hi {
        Err(FieldError::new(
            field,
            format!("{v} out of range (allowed {lo}..={hi})"),
        ))
    } else {
        Ok(())
    }
}

const DAY: u64 = 86_400 * S;

impl Layer2Spec {
    /// Parse a spec from RON; `path` names the file in errors.
    pub fn from_ron(text: &str, path: &str) -> Result<Layer2Spec, Error> {
        let spec: Layer2Spec = crate::input::parse_ron(text, Path::new(path))?;
        spec.validate().map_err(|e| e.in_file(path))?;
        Ok(spec)
    }

    /// The embedded default spec (equal to `Layer2Spec::default()`).
    pub fn embedded_default() -> Result<Layer2Spec, Error> {
        Layer2Spec::from_ron(DEFAULT_LAYER2_RON, "<embedded>/layer2.ron")
    }

    /// Check every parameter: `"field: message (allowed ...)"`.
    pub fn validate(&self) -> Result<(), FieldError> {
        range("tick_ns", self.tick_ns, MS, S)?;
        let h = &self.htm;
        range("htm.queue_warning", h.queue_warning, 1, 10_000_000)?;
        if h.queue_critical <= h.queue_warning {
            return Err(FieldError::new(
                "htm.queue_critical",
                format!(
                    "{} must exceed queue_warning {} (allowed > queue_warning)",
                    h.queue_critical, h.queue_warning
                ),
            ));
        }
        range(
            "htm.queue_capacity",
            h.queue_capacity,
            h.queue_critical,
            10_000_000,
        )?;
        h.background.validate("htm.background")?;
        range("htm.validation_cost_ns", h.validation_cost_ns, 1, DAY)?;
        range("htm.max_retries", h.max_retries, 0, 100)?;
        let w = &self.workers;
        range("workers.count", w.count, 1, 4096)?;
        range("workers.slots", w.slots, 1, 64)?;
        w.service.validate("workers.service")?;
        range(
            "workers.heartbeat_timeout_ns",
            w.heartbeat_timeout_ns,
            MS,
            DAY,
        )?;
        range("workers.spawn_ns", w.spawn_ns, 0, DAY)?;
        range(
            "scheduler.dispatch_warning_per_s",
            self.scheduler.dispatch_warning_per_s,
            0,
            1_000_000,
        )?;
        range(
            "scheduler.rate_window_s",
            self.scheduler.rate_window_s,
            1,
            8,
        )?;
        range("scheduler.restart_ns", self.scheduler.restart_ns, 0, DAY)?;
        let m = &self.mesh;
        range("mesh.subscriptions", m.subscriptions, 0, 10_000)?;
        range(
            "mesh.background_events_per_s",
            m.background_events_per_s,
            0,
            100_000_000,
        )?;
        range(
            "mesh.delivery_rate_per_s",
            m.delivery_rate_per_s,
            1,
            1_000_000_000,
        )?;
        range("mesh.buffer_capacity", m.buffer_capacity, 1, 1_000_000_000)?;
        let p = &self.policy;
        range("policy.eval_rate_per_s", p.eval_rate_per_s, 1, 100_000_000)?;
        range(
            "policy.background_per_s",
            p.background_per_s,
            0,
            100_000_000,
        )?;
        range("policy.cascade_fanout", p.cascade_fanout, 1, 16)?;
        range("policy.recursion_limit", p.recursion_limit, 1, 60)?;
        let d = &self.watchdog;
        range("watchdog.check_interval_ns", d.check_interval_ns, MS, DAY)?;
        range(
            "watchdog.readiness_timeout_ns",
            d.readiness_timeout_ns,
            MS,
            DAY,
        )?;
        range("watchdog.readiness_poll_ns", d.readiness_poll_ns, MS, DAY)?;
        range("watchdog.component_boot_ns", d.component_boot_ns, 0, DAY)?;
        range(
            "watchdog.telemetry_interval_ns",
            d.telemetry_interval_ns,
            MS,
            DAY,
        )?;
        range(
            "shedding.priority_below",
            self.shedding.priority_below,
            0,
            10,
        )?;
        range(
            "shedding.older_than_ns",
            self.shedding.older_than_ns,
            0,
            365 * DAY,
        )?;
        range(
            "shedding.check_interval_ns",
            self.shedding.check_interval_ns,
            MS,
            DAY,
        )?;
        let r = &self.replicas;
        range("replicas.count", r.count, 1, 16)?;
        range("replicas.max_retries", r.max_retries, 0, 1000)?;
        range("replicas.rebuild_ns", r.rebuild_ns, 0, DAY)?;
        range("replicas.validate_ns", r.validate_ns, 0, DAY)?;
        range("replicas.canary_step_ns", r.canary_step_ns, MS, DAY)?;
        range(
            "replicas.canary_error_permille_max",
            r.canary_error_permille_max,
            0,
            1000,
        )?;
        let steps = &r.canary_steps_percent;
        if steps.is_empty()
            || steps.len() > 16
            || *steps.last().unwrap_or(&0) != 100
            || steps.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(FieldError::new(
                "replicas.canary_steps_percent",
                format!("{steps:?} (allowed 1..=16 strictly increasing percentages ending at 100)"),
            ));
        }
        let g = &self.safeguards;
        range(
            "safeguards.monitor_intake_limit_per_s",
            g.monitor_intake_limit_per_s,
            1,
            100_000_000,
        )?;
        range(
            "safeguards.monitor_release_depth",
            g.monitor_release_depth,
            0,
            h.queue_warning,
        )?;
        range(
            "safeguards.backpressure_high_permille",
            g.backpressure_high_permille,
            1,
            1000,
        )?;
        range(
            "safeguards.backpressure_low_permille",
            g.backpressure_low_permille,
            0,
            g.backpressure_high_permille,
        )?;
        range(
            "safeguards.scheduler_check_ns",
            g.scheduler_check_ns,
            MS,
            DAY,
        )?;
        range(
            "safeguards.scheduler_stall_checks",
            g.scheduler_stall_checks,
            1,
            100,
        )?;
        range("safeguards.worker_check_ns", g.worker_check_ns, MS, DAY)?;
        range("safeguards.breaker_window", g.breaker_window, 1, 64)?;
        range(
            "safeguards.breaker_failure_permille",
            g.breaker_failure_permille,
            1,
            1000,
        )?;
        range(
            "safeguards.breaker_min_calls",
            g.breaker_min_calls,
            1,
            g.breaker_window,
        )?;
        range("safeguards.breaker_open_ns", g.breaker_open_ns, MS, DAY)?;
        range(
            "safeguards.breaker_half_open_calls",
            g.breaker_half_open_calls,
            1,
            64,
        )?;
        range(
            "safeguards.dependency_timeout_ns",
            g.dependency_timeout_ns,
            1,
            DAY,
        )?;
        range(
            "steady.workers_alive_min_permille",
            self.steady.workers_alive_min_permille,
            0,
            1000,
        )?;
        range(
            "steady.mesh_lag_max_ns",
            self.steady.mesh_lag_max_ns,
            0,
            DAY,
        )?;
        range(
            "steady.policy_lag_max_ns",
            self.steady.policy_lag_max_ns,
            0,
            DAY,
        )?;
        range(
            "steady.task_wait_max_ns",
            self.steady.task_wait_max_ns,
            MS,
            DAY,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses_and_equals_default() {
        let spec = Layer2Spec::embedded_default().unwrap();
        assert_eq!(spec, Layer2Spec::default());
        assert!(Layer2Spec::default().validate().is_ok());
    }

    #[test]
    fn print_default_ron() {
        if std::env::var("L2_PRINT_RON").is_ok() {
            let cfg = ron::ser::PrettyConfig::new().struct_names(true);
            println!(
                "{}",
                ron::ser::to_string_pretty(&Layer2Spec::default(), cfg).unwrap()
            );
        }
    }

    #[test]
    fn validation_names_field_and_range() {
        let mut s = Layer2Spec::default();
        s.htm.queue_critical = 500;
        let e = s.validate().unwrap_err();
        assert_eq!(e.field, "htm.queue_critical", "{e}");
        let mut s = Layer2Spec::default();
        s.workers.count = 0;
        assert!(
            s.validate()
                .unwrap_err()
                .message
                .contains("allowed 1..=4096")
        );
        let mut s = Layer2Spec::default();
        s.replicas.canary_steps_percent = vec![0, 50, 40, 100];
        assert_eq!(
            s.validate().unwrap_err().field,
            "replicas.canary_steps_percent"
        );
        let err = Layer2Spec::from_ron("(tick_ns: 10, bogus: 1)", "x.ron").unwrap_err();
        assert!(matches!(err, Error::Syntax { .. }), "{err}");
        let err = Layer2Spec::from_ron("(tick_ns: 10)", "x.ron").unwrap_err();
        assert!(
            matches!(err, Error::Invalid { ref field, .. } if field == "tick_ns"),
            "{err}"
        );
    }
}
