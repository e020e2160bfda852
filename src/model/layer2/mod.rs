//! Layer 2, orchestration: the HTM intent queue, the worker pool with
//! least-loaded dispatch, the scheduler, the trigger mesh, the event policy
//! engine, the Layer-2 watchdog, orchestrator replicas with sandbox fallback
//! and canary promotion, and the Layer-2 safeguards as mechanisms.
//!
//! # The model
//! - **Intents** arrive (background [`ArrivalProcess`], floods in 10 ms
//!   batches) into the HTM queue (one FIFO per priority level 0..=9; capacity
//!   with rejection). Invalid intents cost workers `validation_cost_ns`.
//! - The **scheduler** moves tasks to the least-loaded alive worker (ties:
//!   lowest index) whenever a worker has a free slot. Paused, it moves none.
//! - **Workers** serve one task at a time ([`ServiceDist`]); each task goes
//!   through an orchestrator **replica** chosen by traffic share and calls a
//!   downstream **dependency**. Failures are retried (up to `max_retries`).
//! - The **trigger mesh** and the **policy engine** are fluid models advanced
//!   every `tick_ns` (10 ms): one `Tick` event carries the counts of events
//!   published, deliveries made and policies evaluated in that tick. This
//!   keeps a 5,000 events/s storm (40,000 deliveries/s) at 100 events per
//!   simulated second while its dynamics (backlog, lag, drops, throttling)
//!   survive at 10 ms resolution, well below the 1 s tolerances.
//! - The **watchdog** checks every 15 s (alerts, SLO breaches); telemetry rows
//!   every 15 s and 5W1H narratives go to optional writers.
//!
//! # Safeguards: one condition, deployed or shadow
//! Every detector runs whether or not its safeguard is deployed (a
//! safeguard's periodic check is scheduled either way); not deployed, a met
//! condition is recorded as a need with its evidence and nothing acts. The
//! cause of a record is the fault that last perturbed the component the
//! signal belongs to (last column).
//!
//! | safeguard | observes (signal) | fires when | does | cause |
//! |---|---|---|---|---|
//! | htm_queue_depth_monitor | queue depth at each intake (`queue_depth`) | depth >= warning | guarded intake: invalid intents rejected at intake, valid ones through a token bucket (`monitor_intake_limit_per_s`) until depth <= `monitor_release_depth`; at critical depth it calls the load shedder | the last queue flood, scheduler pause, worker dropout or dependency failure |
//! | load_shedder | queue depth (own check every 15 s, or called by the monitor) (`queue_depth`) | depth > critical with tasks of priority < 5 waiting > 10 min | drops those tasks | as the monitor |
//! | trigger_mesh_backpressure | mesh backlog each tick (`mesh_backlog`) | backlog + this tick's deliveries > high watermark | throttles publishers (background first, then the rest) so the backlog stays under the watermark, until backlog <= low watermark | the trigger storm |
//! | scheduler_watchdog | dispatch progress every 5 s (`stalled_checks`) | no dispatch for 2 checks while work waits and workers have room | reroutes dispatch to the standby path at once and restarts the scheduler (5 s) | the scheduler pause |
//! | cascade_detector | depth of each triggered policy (`policy_depth`) | a policy would trigger beyond `recursion_limit` | cuts those evaluations | the policy cascade |
//! | worker_pool_recovery | worker heartbeats every 5 s (`worker_silence_ms`) | a worker's last heartbeat is older than 3 s | reassigns its tasks to the queue head and respawns it (10 s) | the worker dropout |
//! | circuit_breaker | dependency call outcomes, window of 20 (`dependency_failure_permille`; the window is counted deployed or not) | failure rate >= 50 % over >= 10 calls | stops dispatching (no worker waits on timeouts) for 10 s, then lets 3 trial calls through; closes when they succeed | the dependency failure |
//! | sandbox_fallback | replica consecutive failures (`replica_consecutive_failures`) | > `replicas.max_retries` | quarantine, shift traffic, rebuild, validate, canary 0-20-40-60-80-100 % at 12 s per step, rollback on errors | the replica's failure or regression |
//!
//! # Steady state
//! The default Layer-2 hypothesis ([`Layer2Probe::healthy`], tolerances in
//! `layer2.steady` of the stack file) measures what an SRE calls harm:
//!
//! | measure | default |
//! |---|---|
//! | all four components ready | yes |
//! | queue depth (`queue_depth_max`) | at most 1,000 |
//! | alive workers (`workers_alive_min_permille`) | at least 75 % |
//! | tasks stranded on dead workers (`orphaned_max`) | 0 |
//! | dispatch rate while work waits (`dispatch_min_per_s`) | at least 1/s |
//! | the oldest queued task's wait: held behind an open breaker, a stalled scheduler, a saturated pool (`task_wait_max_ns`) | at most 5 s |
//! | tasks failed after their last retry in the last second (`tasks_failed_max`) | 0 |
//! | valid intents dropped at a full queue in the last second (`tasks_dropped_max`) | 0 |
//! | mesh delivery lag (`mesh_lag_max_ns`) and drops (`mesh_drops_max`) | at most 1 s, 0 |
//! | policy-engine lag (`policy_lag_max_ns`) | at most 2 s |
//!
//! Intents the guarded intake refuses (invalid ones, valid ones over its
//! token bucket) are deliberate shedding at the edge, not counted as drops.
//!
//! Recovery actions go through [`Layer2::route_action`]: each is routed by
//! Layer-3 governance by the tier of its intent (`recovery_intents` of the
//! spec: restarting the scheduler, rebuilding a replica, restoring
//! subscriptions and restarting a component are tier 1, respawning a worker
//! tier 2, shedding load tier 3, a vote of the four components), waits its
//! delay, and does not act if denied.
//!
//! # Example: a scheduler pause, caught by scheduler_watchdog
//! ```
//! use chaosim::check::steady::RecoveryTracker;
//! use chaosim::engine::{SeedPath, SimDuration, SimTime, Simulation};
//! use chaosim::model::Solo;
//! use chaosim::model::layer2::{Layer2, Layer2Fault, Layer2Spec};
//! use chaosim::safeguard::Safeguard;
//!
//! let spec = Layer2Spec::default();
//! let l2 = Layer2::new(&spec, spec.default_safeguards, SeedPath::root(1).child("layer2"), SimTime::ZERO);
//! let mut sim = Simulation::starting_at(Solo(l2), SeedPath::root(1), SimTime::ZERO);
//! sim.with_ctx(|m, ctx| m.0.boot(ctx));
//! let at = |s| SimTime::ZERO + SimDuration::from_secs(s);
//! sim.run_until(at(60)).unwrap();
//! let pause = Layer2Fault::PauseScheduler { length_ns: None, queued_tasks: 1_000 };
//! sim.with_ctx(|m, ctx| m.0.inject(&pause, ctx));
//! let mut tracker = RecoveryTracker::new(SimDuration::from_secs(10));
//! for s in 61..=180 {
//!     sim.run_until(at(s)).unwrap();
//!     tracker.observe(sim.now(), sim.model().0.probe(sim.now()).healthy());
//! }
//! assert!(tracker.recovery().duration().unwrap() <= SimDuration::from_secs(60));
//! assert!(sim.model().0.safeguards().first_fired(Safeguard::SchedulerWatchdog).is_some());
//! ```
//!
//! Note: faults are injected between `run_until` calls through `with_ctx`.
//! The engine may have peeked past `now` by then, so nothing here schedules
//! an event at `now` from [`Layer2::inject`] (a flood's first batch is handled
//! inline; timed faults last at least one tick).

pub mod narrative;
pub mod queue;
pub mod spec;

use std::collections::VecDeque;
use std::io::Write;

pub use queue::{ArrivalProcess, Discipline, ServiceDist};
pub use spec::{DEFAULT_LAYER2_RON, Layer2Spec, RecoveryIntents, SteadySpec};

use crate::engine::{Ctx, EventInfo, RngDraws, SeedPath, SimDuration, SimRng, SimTime, mul_div};
use crate::error::FieldError;
use crate::model::Component;
use crate::model::governance::{Governance, GovernanceSpec, GovernanceStats, Routing};
use crate::safeguard::{Cause, Evidence, Safeguard, SafeguardLog, SafeguardSet, Signal};
use narrative::{Narrator, Why};

const NS_PER_S: u64 = 1_000_000_000;

/// The header of the Layer-2 telemetry ([`Layer2::attach_telemetry`]).
pub const TELEMETRY_HEADER: &str = "t_s,queue_depth,workers_alive,dispatched,completed,trigger_firings,mesh_backlog,mesh_dropped,policy_pending,slo_breaches,alerts_critical,alerts_warning\n";
const PRIORITY_LEVELS: usize = 10;
const POLICY_DEPTH_MAX: usize = 64;

/// A fault injected into Layer 2 (faults as data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer2Fault {
    /// `L2_HTM_queue_flood_stress`: `intents` intents spread evenly over
    /// `over_ns` (in `tick_ns` batches), `invalid_permille` of them invalid.
    QueueFlood {
        /// Intents in the flood.
        intents: u32,
        /// Share of invalid intents, per mille.
        invalid_permille: u16,
        /// Spread over this long, ns.
        over_ns: u64,
    },
    /// `L2_trigger_mesh_storm`: an extra publisher at `events_per_s` for `length_ns`.
    TriggerStorm {
        /// Events published per second.
        events_per_s: u32,
        /// Storm length, ns.
        length_ns: u64,
    },
    /// `L2_scheduler_pause_during_load`: pause the scheduler and add
    /// `queued_tasks` tasks to the queue.
    PauseScheduler {
        /// Pause length, ns (at least one tick); `None` = until restarted.
        length_ns: Option<u64>,
        /// Tasks added to the queue at the pause.
        queued_tasks: u32,
    },
    /// `L2_event_policy_cascade`: one policy whose firings trigger
    /// `cascade_fanout` policies per level, `depth` levels deep.
    PolicyCascade {
        /// Levels below the root policy.
        depth: u16,
    },
    /// `L2_worker_dropout_chaos`: kill this share of the alive workers, chosen at random.
    WorkerDropout {
        /// Share of alive workers killed, per mille.
        share_permille: u16,
    },
    /// Replica `replica` starts failing every call (drives sandbox_fallback).
    ReplicaFailure {
        /// Replica index.
        replica: u16,
    },
    /// The next rebuild of `replica` carries a regression that passes
    /// validation but fails `error_permille` of calls under traffic (drives
    /// the canary rollback).
    CanaryRegression {
        /// Replica index.
        replica: u16,
        /// Error rate of the regression, per mille.
        error_permille: u16,
    },
    /// The downstream dependency fails `error_permille` of calls (after the
    /// dependency timeout) for `length_ns` (drives circuit_breaker).
    DependencyErrors {
        /// Failing share, per mille.
        error_permille: u16,
        /// Length, ns.
        length_ns: u64,
    },
    /// The trigger mesh loses `count` subscriptions (watchdog warning below 5).
    LoseSubscriptions {
        /// Subscriptions removed.
        count: u16,
    },
    /// Component `component` (0 HTM intake, 1 workers, 2 scheduler, 3 mesh
    /// and policies) hangs for `length_ns` and must pass the readiness
    /// check again (30 s timeout; then the watchdog restarts it).
    HangComponent {
        /// The component.
        component: u8,
        /// How long it hangs, ns.
        length_ns: u64,
    },
}

/// Layer-2 events (kind codes 200..=216; the queue station uses 290..=291).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer2Event {
    /// One of the four components finished booting.
    ComponentReady {
        /// 0 HTM, 1 workers, 2 scheduler, 3 trigger mesh/policies.
        component: u8,
        /// Its hang generation (a stale return is ignored).
        generation: u32,
    },
    /// The watchdog's resubscription is done: the mesh has its
    /// subscriptions back.
    Resubscribed,
    /// Boot readiness poll.
    ReadinessPoll,
    /// Next background arrival.
    Arrival,
    /// One batch of a queue flood.
    FloodTick {
        /// Intents still to come.
        remaining: u32,
        /// Intents per tick.
        per_tick: u32,
        /// Invalid share, per mille.
        invalid_permille: u16,
    },
    /// Worker `worker` finishes its task (stale if `generation` differs).
    TaskDone {
        /// Worker index.
        worker: u16,
        /// Worker generation when the task started.
        generation: u32,
    },
    /// Fluid tick of the trigger mesh and the policy engine.
    Tick,
    /// Layer-2 watchdog check (15 s).
    WatchdogCheck,
    /// Telemetry row (15 s).
    Telemetry,
    /// A timed scheduler pause ends.
    SchedulerResume,
    /// scheduler_watchdog check.
    SchedulerCheck,
    /// The scheduler restart finished.
    SchedulerRestarted,
    /// worker_pool_recovery check.
    WorkerCheck,
    /// A replacement worker is up.
    WorkerRespawned {
        /// Worker index.
        worker: u16,
    },
    /// Next step of a replica's sandbox fallback (rebuild, validate, canary step).
    ReplicaStep {
        /// Replica index.
        replica: u16,
    },
    /// The circuit breaker's open wait is over.
    BreakerHalfOpen,
    /// load_shedder's own check.
    ShedCheck,
    /// Governance allowed a shedding decision: shed now.
    ShedApproved,
    /// Ask governance again to rebuild a replica (an earlier request was denied).
    RebuildRequest {
        /// Replica index.
        replica: u16,
    },
}

const _: () = assert!(std::mem::size_of::<Layer2Event>() <= 32);

impl EventInfo for Layer2Event {
    fn kind(&self) -> u16 {
        match self {
            Layer2Event::ComponentReady { .. } => 200,
            Layer2Event::ReadinessPoll => 201,
            Layer2Event::Arrival => 202,
            Layer2Event::FloodTick { .. } => 203,
            Layer2Event::TaskDone { .. } => 204,
            Layer2Event::Tick => 205,
            Layer2Event::WatchdogCheck => 206,
            Layer2Event::Telemetry => 207,
            Layer2Event::SchedulerResume => 208,
            Layer2Event::SchedulerCheck => 209,
            Layer2Event::SchedulerRestarted => 210,
            Layer2Event::WorkerCheck => 211,
            Layer2Event::WorkerRespawned { .. } => 212,
            Layer2Event::ReplicaStep { .. } => 213,
            Layer2Event::BreakerHalfOpen => 214,
            Layer2Event::ShedCheck => 215,
            Layer2Event::ShedApproved => 216,
            Layer2Event::RebuildRequest { .. } => 217,
            Layer2Event::Resubscribed => 218,
        }
    }
    fn kind_name(&self) -> &'static str {
        match self {
            Layer2Event::ComponentReady { .. } => "l2_component_ready",
            Layer2Event::ReadinessPoll => "l2_readiness_poll",
            Layer2Event::Arrival => "l2_arrival",
            Layer2Event::FloodTick { .. } => "l2_flood_tick",
            Layer2Event::TaskDone { .. } => "l2_task_done",
            Layer2Event::Tick => "l2_tick",
            Layer2Event::WatchdogCheck => "l2_watchdog_check",
            Layer2Event::Telemetry => "l2_telemetry",
            Layer2Event::SchedulerResume => "l2_scheduler_resume",
            Layer2Event::SchedulerCheck => "l2_scheduler_check",
            Layer2Event::SchedulerRestarted => "l2_scheduler_restarted",
            Layer2Event::WorkerCheck => "l2_worker_check",
            Layer2Event::WorkerRespawned { .. } => "l2_worker_respawned",
            Layer2Event::ReplicaStep { .. } => "l2_replica_step",
            Layer2Event::BreakerHalfOpen => "l2_breaker_half_open",
            Layer2Event::ShedCheck => "l2_shed_check",
            Layer2Event::ShedApproved => "l2_shed_approved",
            Layer2Event::RebuildRequest { .. } => "l2_rebuild_request",
            Layer2Event::Resubscribed => "l2_resubscribed",
        }
    }
    fn target(&self) -> u32 {
        match *self {
            Layer2Event::ComponentReady { component, .. } => component as u32,
            Layer2Event::TaskDone { worker, .. } | Layer2Event::WorkerRespawned { worker } => {
                worker as u32
            }
            Layer2Event::ReplicaStep { replica } | Layer2Event::RebuildRequest { replica } => {
                replica as u32
            }
            _ => 0,
        }
    }
}

/// A recovery action Layer 2 takes on its own components. All of them go
/// through [`Layer2::route_action`] (the governance hook).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryAction {
    /// scheduler_watchdog restarts the scheduler.
    RestartScheduler,
    /// worker_pool_recovery respawns a worker.
    RespawnWorker,
    /// sandbox_fallback quarantines and rebuilds a replica.
    RebuildReplica,
    /// load_shedder drops old low-priority tasks.
    ShedLoad,
    /// The Layer-2 watchdog restores lost mesh subscriptions.
    Resubscribe,
    /// The Layer-2 watchdog restarts a component that failed its readiness check.
    RestartComponent,
}

/// State of the circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; outcomes are counted.
    Closed,
    /// Calls are not made (dispatch held) until the open wait ends.
    Open,
    /// A few trial calls are let through.
    HalfOpen,
}

/// Where a replica is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaState {
    /// Serving its traffic share.
    Serving,
    /// Quarantined, being rebuilt in the sandbox.
    Rebuilding,
    /// Rebuilt, being validated.
    Validating,
    /// Promoted step by step.
    Canary,
    /// Rolled back after canary errors; stays out of traffic.
    RolledBack,
}

/// What an observer sees of a replica.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplicaView {
    /// Life state.
    pub state: ReplicaState,
    /// Current traffic weight, per mille of the total at boot.
    pub share_permille: u16,
    /// Health score in [0, 1]: 1 - error rate of its recent calls (counts
    /// reset at each canary step and halved at each watchdog check); 0 when
    /// out of traffic.
    pub health: f64,
    /// Current canary step index (into `canary_steps_percent`).
    pub canary_step: u8,
    /// Times quarantined.
    pub quarantines: u32,
    /// Canary rollbacks.
    pub rollbacks: u32,
    /// Canary promotions to 100 %.
    pub promotions: u32,
}

/// What an observer measures of Layer 2 at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layer2Probe {
    /// When.
    pub now: SimTime,
    /// All four components passed the boot readiness check.
    pub ready: bool,
    /// Tasks waiting in the HTM queue.
    pub queue_depth: u32,
    /// Alive workers.
    pub workers_alive: u16,
    /// Configured workers.
    pub workers_total: u16,
    /// Tasks held by dead workers (not yet reassigned).
    pub orphaned_tasks: u32,
    /// The scheduler's primary path is running (not paused).
    pub scheduler_running: bool,
    /// Dispatches per second over the last `rate_window_s`.
    pub dispatch_rate_per_s: f64,
    /// Trigger-mesh subscriptions.
    pub mesh_subscriptions: u16,
    /// Deliveries waiting in the mesh.
    pub mesh_backlog: u64,
    /// Delivery lag (backlog / delivery rate), ns.
    pub mesh_lag_ns: u64,
    /// Deliveries dropped in the last second.
    pub mesh_drops_last_s: u64,
    /// Policy evaluations waiting.
    pub policy_pending: u64,
    /// Deepest cascade level with pending evaluations.
    pub policy_depth: u16,
    /// Policy-engine lag (pending / rate), ns.
    pub policy_lag_ns: u64,
    /// How long the oldest queued task has waited, ns (0 when empty).
    pub oldest_wait_ns: u64,
    /// Tasks failed after their last retry in the last second.
    pub tasks_failed_last_s: u64,
    /// Valid intents dropped at a full queue in the last second.
    pub tasks_dropped_last_s: u64,
    /// Circuit breaker state.
    pub breaker: BreakerState,
    /// Watchdog checks that found the steady state violated.
    pub slo_breaches: u32,
    /// Critical alerts raised by the watchdog.
    pub alerts_critical: u32,
    /// Warning alerts raised by the watchdog.
    pub alerts_warning: u32,
    /// The tolerances `healthy` checks against.
    pub tolerances: SteadySpec,
}

impl Layer2Probe {
    /// The probe as integers, in a fixed order (folded into the run digest
    /// at every sample): ready, queue depth, workers alive, orphaned tasks,
    /// scheduler running, dispatch rate in milli-tasks/s, subscriptions,
    /// mesh backlog, mesh lag ns, mesh drops, policy pending, policy depth,
    /// policy lag ns, breaker state, SLO breaches, critical and warning
    /// alerts, oldest wait ns, tasks failed and dropped in the last second.
    pub fn state_values(&self) -> [u64; 20] {
        [
            self.ready.into(),
            self.queue_depth.into(),
            self.workers_alive.into(),
            self.orphaned_tasks.into(),
            self.scheduler_running.into(),
            (self.dispatch_rate_per_s * 1000.0).round() as u64,
            self.mesh_subscriptions.into(),
            self.mesh_backlog,
            self.mesh_lag_ns,
            self.mesh_drops_last_s,
            self.policy_pending,
            self.policy_depth.into(),
            self.policy_lag_ns,
            self.breaker as u64,
            self.slo_breaches.into(),
            self.alerts_critical.into(),
            self.alerts_warning.into(),
            self.oldest_wait_ns,
            self.tasks_failed_last_s,
            self.tasks_dropped_last_s,
        ]
    }

    /// The default Layer-2 steady-state hypothesis: ready; queue depth,
    /// worker share, orphans, dispatch rate (while work waits), mesh lag and
    /// drops, and policy lag within the spec's tolerances.
    pub fn healthy(&self) -> bool {
        let t = &self.tolerances;
        self.ready
            && self.queue_depth <= t.queue_depth_max
            && self.workers_alive as u64 * 1000
                >= t.workers_alive_min_permille as u64 * self.workers_total as u64
            && self.orphaned_tasks <= t.orphaned_max
            && (self.queue_depth == 0 || self.dispatch_rate_per_s >= t.dispatch_min_per_s as f64)
            && self.mesh_lag_ns <= t.mesh_lag_max_ns
            && self.mesh_drops_last_s <= t.mesh_drops_max as u64
            && self.policy_lag_ns <= t.policy_lag_max_ns
            && self.oldest_wait_ns <= t.task_wait_max_ns
            && self.mesh_subscriptions >= t.mesh_subscriptions_min
            && self.tasks_failed_last_s <= t.tasks_failed_max as u64
            && self.tasks_dropped_last_s <= t.tasks_dropped_max as u64
    }
}

/// Alerts the Layer-2 watchdog raised, by kind (counts of checks that
/// raised each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Layer2Alerts {
    /// Queue deeper than critical (5,000).
    pub queue_critical: u32,
    /// No live worker.
    pub workers_zero: u32,
    /// Fewer mesh subscriptions than the warning level (5).
    pub subscriptions_low: u32,
    /// Dispatch below 1/s while work waits.
    pub dispatch_low: u32,
    /// Readiness checks that timed out (30 s).
    pub readiness_failed: u32,
}

/// Counters of everything Layer 2 did (monotone totals).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layer2Counters {
    /// Intents offered to the intake.
    pub intents_offered: u64,
    /// Rejected because the queue was at capacity.
    pub rejected_full: u64,
    /// Invalid intents rejected at intake by the guarded mode.
    pub rejected_invalid_at_intake: u64,
    /// Valid intents refused by the guarded-mode token bucket.
    pub rate_limited: u64,
    /// Invalid intents rejected by workers after validation.
    pub rejected_invalid_by_worker: u64,
    /// Tasks dispatched.
    pub dispatched: u64,
    /// Tasks completed successfully.
    pub completed: u64,
    /// Tasks retried.
    pub retried: u64,
    /// Tasks failed after their last retry.
    pub failed: u64,
    /// Tasks shed by load_shedder.
    pub shed: u64,
    /// Tasks moved from dead workers back to the queue.
    pub rerouted_tasks: u64,
    /// Scheduler restarts.
    pub scheduler_restarts: u64,
    /// Workers killed by faults.
    pub workers_killed: u64,
    /// Workers respawned.
    pub workers_respawned: u64,
    /// Worker time spent waiting on failing dependency calls, ns.
    pub dependency_timeout_ns: u64,
    /// Times the breaker opened.
    pub breaker_opens: u64,
    /// Mesh deliveries made (trigger firings).
    pub mesh_delivered: u64,
    /// Mesh deliveries dropped (buffer full).
    pub mesh_dropped: u64,
    /// Mesh events refused at publish by backpressure.
    pub mesh_throttled: u64,
    /// Policy evaluations performed.
    pub policy_evaluations: u64,
    /// Policy evaluations cut by cascade_detector.
    pub policy_cut: u64,
    /// Deepest cascade level evaluated.
    pub policy_depth_max: u16,
}

#[derive(Clone, Copy, Debug)]
struct Task {
    enqueued: SimTime,
    id: u32,
    priority: u8,
    valid: bool,
    attempt: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Invalid,
    ReplicaError,
    DependencyError,
}

#[derive(Clone, Copy, Debug)]
struct Running {
    task: Task,
    replica: u16,
    outcome: Outcome,
}

#[derive(Debug)]
struct Worker {
    alive: bool,
    generation: u32,
    died_at: SimTime,
    respawning: bool,
    current: Option<Running>,
    local: VecDeque<Task>,
}

impl Worker {
    fn load(&self) -> usize {
        self.current.is_some() as usize + self.local.len()
    }
}

#[derive(Debug)]
struct Replica {
    state: ReplicaState,
    share: u16,
    base_share: u16,
    error_permille: u16,
    latent_regression_permille: u16,
    consecutive_failures: u16,
    calls: u32,
    errors: u32,
    canary_step: u8,
    donor: u16,
    quarantines: u32,
    rollbacks: u32,
    promotions: u32,
}

/// Counts per second over the last 8 seconds (fixed size).
#[derive(Clone, Copy, Debug, Default)]
struct RateWindow {
    counts: [u64; 8],
    seconds: [u64; 8],
}

impl RateWindow {
    fn add(&mut self, now: SimTime, n: u64) {
        let s = now.as_nanos() / NS_PER_S;
        let i = (s % 8) as usize;
        if self.seconds[i] != s + 1 {
            self.seconds[i] = s + 1;
            self.counts[i] = 0;
        }
        self.counts[i] += n;
    }
    /// Sum over the `window_s` most recent whole seconds before `now`'s
    /// second plus the current partial second, scaled to a rate.
    fn rate_per_s(&self, now: SimTime, window_s: u64) -> f64 {
        let s = now.as_nanos() / NS_PER_S;
        let mut sum = 0;
        for k in 0..=window_s.min(7) {
            let Some(sec) = s.checked_sub(k) else { break };
            let i = (sec % 8) as usize;
            if self.seconds[i] == sec + 1 {
                sum += self.counts[i];
            }
        }
        let span_ns = (window_s * NS_PER_S + now.as_nanos() % NS_PER_S).min(now.as_nanos().max(1));
        sum as f64 * 1e9 / span_ns as f64
    }
    fn last_second(&self, now: SimTime) -> u64 {
        let s = now.as_nanos() / NS_PER_S;
        let mut sum = 0;
        for k in 0..=1 {
            let Some(sec) = s.checked_sub(k) else { break };
            let i = (sec % 8) as usize;
            if self.seconds[i] == sec + 1 {
                sum += self.counts[i];
            }
        }
        sum
    }
}

/// Turns a rate per second into whole counts per tick, carrying the remainder.
#[derive(Clone, Copy, Debug, Default)]
struct Accumulator {
    /// Below one second's worth of nanoseconds.
    carry: u64,
}

impl Accumulator {
    fn take(&mut self, rate_per_s: u64, tick_ns: u64) -> u64 {
        // In 64 bits when the sum fits (always, for rates and ticks a run
        // meets): the same quotient and remainder as in 128 bits.
        if let Some(total) = rate_per_s
            .checked_mul(tick_ns)
            .and_then(|p| p.checked_add(self.carry))
        {
            self.carry = total % NS_PER_S;
            return total / NS_PER_S;
        }
        let total = self.carry as u128 + rate_per_s as u128 * tick_ns as u128;
        self.carry = (total % NS_PER_S as u128) as u64;
        (total / NS_PER_S as u128) as u64
    }
}

/// The Layer-2 model. See the [module docs](self).
pub struct Layer2 {
    spec: Layer2Spec,
    deployed: SafeguardSet,
    log: SafeguardLog,
    counters: Layer2Counters,
    boot_at: SimTime,
    // streams
    arrivals_rng: SimRng,
    service_rng: SimRng,
    routing_rng: SimRng,
    fault_rng: SimRng,
    // boot / readiness
    ready_components: u8,
    ready: bool,
    readiness_failed: bool,
    // HTM queue
    levels: Vec<VecDeque<Task>>,
    depth: u32,
    next_task_id: u32,
    guarded: bool,
    tokens_milli: u64,
    tokens_at: SimTime,
    // workers
    workers: Vec<Worker>,
    // scheduler
    paused: bool,
    rerouted: bool,
    restarting: bool,
    dispatch_window: RateWindow,
    dispatches_at_last_check: u64,
    stall_checks: u8,
    // dependency + breaker
    dependency_error_permille: u16,
    dependency_until: SimTime,
    breaker: BreakerState,
    breaker_bits: u64,
    breaker_len: u8,
    breaker_trials_left: u8,
    breaker_trial_successes: u8,
    // replicas
    replicas: Vec<Replica>,
    // mesh
    subscriptions: u16,
    mesh_backlog: u64,
    storm_rate_per_s: u64,
    storm_until: SimTime,
    mesh_acc_bg: Accumulator,
    mesh_acc_storm: Accumulator,
    mesh_acc_delivery: Accumulator,
    mesh_backpressure: bool,
    mesh_drop_window: RateWindow,
    failed_window: RateWindow,
    dropped_window: RateWindow,
    // policy
    policy_pending: [u64; POLICY_DEPTH_MAX],
    policy_bg_pending: u64,
    cascade_depth: u16,
    policy_acc_bg: Accumulator,
    policy_acc_eval: Accumulator,
    // watchdog
    slo_breaches: u32,
    alerts_critical: u32,
    alerts_warning: u32,
    // outputs
    telemetry: Option<Box<dyn Write>>,
    telemetry_origin: SimTime,
    narrator: Narrator,
    output_failed: bool,
    // causes: the fault that last perturbed each component (see the
    // safeguard table: a detector's cause is its component's)
    queue_cause: Option<Cause>,
    scheduler_cause: Option<Cause>,
    worker_cause: Option<Cause>,
    dependency_cause: Option<Cause>,
    mesh_cause: Option<Cause>,
    policy_cause: Option<Cause>,
    replica_cause: Vec<Option<Cause>>,
    /// Extra background load, permille of the spec's.
    load_permille: u16,
    /// Which of the four components are up, and their hang generations.
    components_up: [bool; 4],
    component_gen: [u32; 4],
    /// The readiness check is polling.
    polling: bool,
    /// When the readiness check (re)started.
    readiness_since: SimTime,
    /// A resubscription is under way.
    resubscribing: bool,
    /// Alerts raised by the watchdog, by kind.
    alerts: Layer2Alerts,
    /// Governance of Layer 2's recovery actions.
    governance: Governance,
    gov_rng: SimRng,
    /// A shedding decision waits for its governance routing.
    shed_pending: bool,
}

impl Layer2 {
    /// A Layer-2 model with the `deployed` safeguards and its random streams
    /// under `seed`, booting at `start`.
    ///
    /// # Panics
    /// If `spec` does not pass [`Layer2Spec::validate`]; use
    /// [`try_new`](Self::try_new) for specs from untrusted input.
    pub fn new(
        spec: &Layer2Spec,
        deployed: SafeguardSet,
        seed: SeedPath,
        start: SimTime,
    ) -> Layer2 {
        match Layer2::try_new(spec, deployed, seed, start) {
            Ok(l2) => l2,
            Err(e) => panic!("invalid Layer2Spec: {e}"),
        }
    }

    /// Like [`new`](Self::new), but returns the validation error.
    pub fn try_new(
        spec: &Layer2Spec,
        deployed: SafeguardSet,
        seed: SeedPath,
        start: SimTime,
    ) -> Result<Layer2, FieldError> {
        spec.validate()?;
        let n = spec.replicas.count;
        let base = 1000 / n;
        Ok(Layer2 {
            spec: spec.clone(),
            deployed,
            log: SafeguardLog::default(),
            counters: Layer2Counters::default(),
            boot_at: start,
            arrivals_rng: seed.child("arrivals").rng(),
            service_rng: seed.child("service").rng(),
            routing_rng: seed.child("routing").rng(),
            fault_rng: seed.child("faults").rng(),
            ready_components: 0,
            ready: false,
            readiness_failed: false,
            levels: (0..PRIORITY_LEVELS).map(|_| VecDeque::new()).collect(),
            depth: 0,
            next_task_id: 0,
            guarded: false,
            tokens_milli: spec.safeguards.monitor_intake_limit_per_s as u64 * 1000,
            tokens_at: start,
            workers: (0..spec.workers.count)
                .map(|_| Worker {
                    alive: true,
                    generation: 0,
                    died_at: start,
                    respawning: false,
                    current: None,
                    local: VecDeque::with_capacity(spec.workers.slots as usize),
                })
                .collect(),
            paused: false,
            rerouted: false,
            restarting: false,
            dispatch_window: RateWindow::default(),
            dispatches_at_last_check: 0,
            stall_checks: 0,
            dependency_error_permille: 0,
            dependency_until: start,
            breaker: BreakerState::Closed,
            breaker_bits: 0,
            breaker_len: 0,
            breaker_trials_left: 0,
            breaker_trial_successes: 0,
            replicas: (0..n)
                .map(|_| Replica {
                    state: ReplicaState::Serving,
                    share: base,
                    base_share: base,
                    error_permille: 0,
                    latent_regression_permille: 0,
                    consecutive_failures: 0,
                    calls: 0,
                    errors: 0,
                    canary_step: 0,
                    donor: 0,
                    quarantines: 0,
                    rollbacks: 0,
                    promotions: 0,
                })
                .collect(),
            subscriptions: spec.mesh.subscriptions,
            mesh_backlog: 0,
            storm_rate_per_s: 0,
            storm_until: start,
            mesh_acc_bg: Accumulator::default(),
            mesh_acc_storm: Accumulator::default(),
            mesh_acc_delivery: Accumulator::default(),
            mesh_backpressure: false,
            mesh_drop_window: RateWindow::default(),
            failed_window: RateWindow::default(),
            dropped_window: RateWindow::default(),
            policy_pending: [0; POLICY_DEPTH_MAX],
            policy_bg_pending: 0,
            cascade_depth: 0,
            policy_acc_bg: Accumulator::default(),
            policy_acc_eval: Accumulator::default(),
            slo_breaches: 0,
            alerts_critical: 0,
            alerts_warning: 0,
            telemetry: None,
            telemetry_origin: start,
            narrator: Narrator::default(),
            output_failed: false,
            queue_cause: None,
            scheduler_cause: None,
            worker_cause: None,
            dependency_cause: None,
            mesh_cause: None,
            policy_cause: None,
            replica_cause: vec![None; n as usize],
            load_permille: 0,
            components_up: [false; 4],
            component_gen: [0; 4],
            polling: true,
            readiness_since: start,
            resubscribing: false,
            alerts: Layer2Alerts::default(),
            governance: Governance::new(GovernanceSpec::default()),
            gov_rng: seed.child("governance").rng(),
            shed_pending: false,
        })
    }

    /// Stream telemetry rows (CSV with a header) every `telemetry_interval_ns`
    /// (15 s); `t_s` is seconds since `origin` (the scenario clock).
    pub fn attach_telemetry(&mut self, mut out: Box<dyn Write>, origin: SimTime) {
        if out.write_all(TELEMETRY_HEADER.as_bytes()).is_err() {
            self.output_failed = true;
        }
        self.telemetry = Some(out);
        self.telemetry_origin = origin;
    }

    /// Stream 5W1H narratives (JSONL) of dispatch, shed and reroute decisions.
    pub fn attach_narrative(&mut self, out: Box<dyn Write>) {
        self.narrator = Narrator::new(out);
    }

    /// Whether writing telemetry or narratives failed at some point.
    pub fn output_failed(&self) -> bool {
        self.output_failed || self.narrator.failed()
    }

    /// Flush the attached writers.
    pub fn flush_outputs(&mut self) -> std::io::Result<()> {
        if let Some(t) = self.telemetry.as_mut() {
            t.flush()?;
        }
        self.narrator.flush()
    }

    /// Bring the components up (each after `component_boot_ns`), start the
    /// readiness check, background load, ticks, watchdog, telemetry and the
    /// deployed safeguards' checks.
    pub fn boot<E: From<Layer2Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.boot_at = ctx.now();
        let w = &self.spec.watchdog;
        self.readiness_since = ctx.now();
        for c in 0..4u8 {
            ctx.schedule_in(
                SimDuration::from_nanos(w.component_boot_ns),
                Layer2Event::ComponentReady {
                    component: c,
                    generation: 0,
                }
                .into(),
            );
        }
        ctx.schedule_in(
            SimDuration::from_nanos(w.readiness_poll_ns),
            Layer2Event::ReadinessPoll.into(),
        );
        let gap = self.spec.htm.background.next_gap_ns(&mut self.arrivals_rng);
        ctx.schedule_in(SimDuration::from_nanos(gap), Layer2Event::Arrival.into());
        ctx.schedule_in(
            SimDuration::from_nanos(self.spec.tick_ns),
            Layer2Event::Tick.into(),
        );
        ctx.schedule_in(
            SimDuration::from_nanos(w.check_interval_ns),
            Layer2Event::WatchdogCheck.into(),
        );
        ctx.schedule_in(
            SimDuration::from_nanos(w.telemetry_interval_ns),
            Layer2Event::Telemetry.into(),
        );
        // The safeguards' checks run deployed or not: not deployed, they are
        // shadow detectors that only record when their condition was met.
        let g = &self.spec.safeguards;
        ctx.schedule_in(
            SimDuration::from_nanos(g.scheduler_check_ns),
            Layer2Event::SchedulerCheck.into(),
        );
        ctx.schedule_in(
            SimDuration::from_nanos(g.worker_check_ns),
            Layer2Event::WorkerCheck.into(),
        );
        ctx.schedule_in(
            SimDuration::from_nanos(self.spec.shedding.check_interval_ns),
            Layer2Event::ShedCheck.into(),
        );
    }

    /// Inject a fault now, as fault 0 of scenario 0 (see
    /// [`inject_caused`](Self::inject_caused)).
    pub fn inject<E: From<Layer2Event>>(&mut self, fault: &Layer2Fault, ctx: &mut Ctx<'_, E>) {
        self.inject_caused(fault, Cause::default(), ctx);
    }

    /// Inject a fault now; firings and needs it brings about are credited
    /// to `cause`. A fault that changes nothing (no intents, a zero rate,
    /// no worker killed) becomes the cause of nothing.
    pub fn inject_caused<E: From<Layer2Event>>(
        &mut self,
        fault: &Layer2Fault,
        cause: Cause,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let c = Some(cause);
        match *fault {
            Layer2Fault::QueueFlood { intents, .. } if intents > 0 => self.queue_cause = c,
            Layer2Fault::TriggerStorm { events_per_s, .. } if events_per_s > 0 => {
                self.mesh_cause = c
            }
            Layer2Fault::PauseScheduler { .. } => {
                self.scheduler_cause = c;
                self.queue_cause = c;
            }
            Layer2Fault::PolicyCascade { depth } if depth > 0 => self.policy_cause = c,
            Layer2Fault::WorkerDropout { share_permille } if share_permille > 0 => {
                self.worker_cause = c;
                self.queue_cause = c;
            }
            Layer2Fault::ReplicaFailure { replica }
            | Layer2Fault::CanaryRegression { replica, .. } => {
                if let Some(r) = self.replica_cause.get_mut(replica as usize) {
                    *r = c;
                }
            }
            Layer2Fault::DependencyErrors { error_permille, .. } if error_permille > 0 => {
                self.dependency_cause = c;
                self.queue_cause = c;
            }
            _ => {}
        }
        match *fault {
            Layer2Fault::QueueFlood {
                intents,
                invalid_permille,
                over_ns,
            } => {
                let ticks = (over_ns / self.spec.tick_ns).max(1);
                let per_tick = (intents as u64).div_ceil(ticks).max(1).min(u32::MAX as u64) as u32;
                // The first batch arrives now (handled here, not scheduled at
                // `now`: the engine may already have peeked past `now`).
                self.flood_batch(intents, per_tick, invalid_permille.min(1000), ctx);
            }
            Layer2Fault::TriggerStorm {
                events_per_s,
                length_ns,
            } => {
                self.storm_rate_per_s = events_per_s as u64;
                self.storm_until = now + SimDuration::from_nanos(length_ns);
            }
            Layer2Fault::PauseScheduler {
                length_ns,
                queued_tasks,
            } => {
                for _ in 0..queued_tasks {
                    let t = self.new_task(now, true);
                    if self.depth < self.spec.htm.queue_capacity {
                        self.push_back(t);
                    } else {
                        self.counters.rejected_full += 1;
                        self.dropped_window.add(now, 1);
                    }
                }
                self.paused = true;
                if let Some(len) = length_ns {
                    // At least one tick: a pending tick bounds how far the
                    // engine may have peeked past `now`.
                    let len = len.max(self.spec.tick_ns);
                    ctx.schedule_in(
                        SimDuration::from_nanos(len),
                        Layer2Event::SchedulerResume.into(),
                    );
                }
            }
            Layer2Fault::PolicyCascade { depth } => {
                let d = depth.min(POLICY_DEPTH_MAX as u16 - 1);
                self.cascade_depth = self.cascade_depth.max(d);
                self.policy_pending[0] += 1;
            }
            Layer2Fault::WorkerDropout { share_permille } => {
                let mut alive: Vec<u16> = (0..self.workers.len() as u16)
                    .filter(|&i| self.workers[i as usize].alive)
                    .collect();
                let kill = (alive.len() as u64 * share_permille.min(1000) as u64 / 1000) as usize;
                for k in 0..kill {
                    let j = k + self.fault_rng.below((alive.len() - k) as u64) as usize;
                    alive.swap(k, j);
                    let w = &mut self.workers[alive[k] as usize];
                    w.alive = false;
                    w.generation = w.generation.wrapping_add(1);
                    w.died_at = now;
                    self.counters.workers_killed += 1;
                }
            }
            Layer2Fault::ReplicaFailure { replica } => {
                if let Some(r) = self.replicas.get_mut(replica as usize) {
                    r.error_permille = 1000;
                }
            }
            Layer2Fault::CanaryRegression {
                replica,
                error_permille,
            } => {
                if let Some(r) = self.replicas.get_mut(replica as usize) {
                    r.latent_regression_permille = error_permille.min(1000);
                }
            }
            Layer2Fault::DependencyErrors {
                error_permille,
                length_ns,
            } => {
                self.dependency_error_permille = error_permille.min(1000);
                self.dependency_until = now + SimDuration::from_nanos(length_ns);
            }
            Layer2Fault::LoseSubscriptions { count } => {
                self.subscriptions = self.subscriptions.saturating_sub(count);
            }
            Layer2Fault::HangComponent {
                component,
                length_ns,
            } => {
                let c = usize::from(component.min(3));
                if self.components_up[c] {
                    self.components_up[c] = false;
                    self.ready_components = self.ready_components.saturating_sub(1);
                    self.ready = false;
                    self.readiness_since = now;
                    self.component_gen[c] = self.component_gen[c].wrapping_add(1);
                    ctx.schedule_in(
                        SimDuration::from_nanos(length_ns.max(self.spec.tick_ns)),
                        Layer2Event::ComponentReady {
                            component: c as u8,
                            generation: self.component_gen[c],
                        }
                        .into(),
                    );
                    if !self.polling {
                        self.polling = true;
                        ctx.schedule_in(
                            SimDuration::from_nanos(self.spec.watchdog.readiness_poll_ns),
                            Layer2Event::ReadinessPoll.into(),
                        );
                    }
                }
            }
        }
    }

    /// Raise the background load to `permille` more than the spec's
    /// (intents, mesh events, policy evaluations; never lowers it).
    pub fn raise_load(&mut self, permille: u16) {
        self.load_permille = self.load_permille.max(permille);
    }

    /// `rate` with the extra load on it.
    fn loaded(&self, rate: u64) -> u64 {
        rate + rate * u64::from(self.load_permille) / 1000
    }

    /// Fingerprints of Layer 2's whole state, by component (self-check):
    /// the queue and scheduler, the workers, the dependency and breaker,
    /// the replicas, the mesh and policies, the watchdog, its governance.
    pub fn fingerprints(&self) -> [(&'static str, u64); 7] {
        use crate::engine::Fingerprint;
        let mut q = Fingerprint::new();
        q.u64(self.depth.into())
            .u64(self.next_task_id.into())
            .bool(self.guarded)
            .u64(self.tokens_milli)
            .time(self.tokens_at)
            .bool(self.paused)
            .bool(self.rerouted)
            .bool(self.restarting)
            .u64(self.dispatches_at_last_check)
            .u64(self.stall_checks.into())
            .bool(self.shed_pending)
            .u64(self.load_permille.into());
        for level in &self.levels {
            q.u64(level.len() as u64);
            if let (Some(a), Some(b)) = (level.front(), level.back()) {
                q.u64(a.id.into()).time(a.enqueued).u64(b.id.into());
            }
        }
        let c = &self.counters;
        for v in [
            c.intents_offered,
            c.rejected_full,
            c.dispatched,
            c.completed,
            c.retried,
            c.failed,
            c.shed,
            c.rerouted_tasks,
        ] {
            q.u64(v);
        }
        let mut w = Fingerprint::new();
        for wk in &self.workers {
            w.bool(wk.alive)
                .u64(wk.generation.into())
                .time(wk.died_at)
                .bool(wk.respawning)
                .u64(wk.load() as u64)
                .opt(wk.current.map(|r| r.task.id.into()));
        }
        let mut d = Fingerprint::new();
        d.u64(self.dependency_error_permille.into())
            .time(self.dependency_until)
            .u64(self.breaker as u64)
            .u64(self.breaker_bits)
            .u64(self.breaker_len.into())
            .u64(self.breaker_trials_left.into())
            .u64(self.breaker_trial_successes.into());
        let mut r = Fingerprint::new();
        for rp in &self.replicas {
            r.u64(rp.state as u64)
                .u64(rp.share.into())
                .u64(rp.error_permille.into())
                .u64(rp.consecutive_failures.into())
                .u64(rp.calls.into())
                .u64(rp.errors.into())
                .u64(rp.canary_step.into());
        }
        let mut m = Fingerprint::new();
        m.u64(self.subscriptions.into())
            .u64(self.mesh_backlog)
            .u64(self.storm_rate_per_s)
            .time(self.storm_until)
            .bool(self.mesh_backpressure)
            .u64(self.policy_bg_pending)
            .u64(self.cascade_depth.into());
        for p in self.policy_pending {
            m.u64(p);
        }
        let mut wd = Fingerprint::new();
        wd.bool(self.ready)
            .u64(self.ready_components.into())
            .bool(self.polling)
            .bool(self.readiness_failed)
            .bool(self.resubscribing)
            .u64(self.slo_breaches.into())
            .u64(self.alerts_critical.into())
            .u64(self.alerts_warning.into());
        for i in 0..4 {
            wd.bool(self.components_up[i])
                .u64(self.component_gen[i].into());
        }
        let mut g = Fingerprint::new();
        self.governance.fingerprint(&mut g);
        [
            ("layer2.queue", q.finish()),
            ("layer2.workers", w.finish()),
            ("layer2.breaker", d.finish()),
            ("layer2.replicas", r.finish()),
            ("layer2.mesh", m.finish()),
            ("layer2.watchdog", wd.finish()),
            ("layer2.governance", g.finish()),
        ]
    }

    /// Use `spec` for the Layer-3 governance router of Layer 2's recovery
    /// actions (the stack passes Layer 1's; the default otherwise).
    pub fn set_governance(&mut self, spec: GovernanceSpec) {
        self.governance = Governance::new(spec);
    }

    /// The governance counters of Layer 2's recovery actions.
    pub fn governance_stats(&self) -> &GovernanceStats {
        self.governance.stats()
    }

    /// The governance hook: every recovery action Layer 2 takes is routed by
    /// the tier of its intent ([`spec::RecoveryIntents`]) and waits the
    /// returned delay before it starts; a denied routing (a tier-3 vote
    /// without quorum) must not act. The voters of a tier-3 vote are the four
    /// Layer-2 components; one that is down (no live worker, a paused or
    /// restarting scheduler, no mesh subscription, intake not ready) cannot
    /// vote.
    pub fn route_action(&mut self, action: RecoveryAction, now: SimTime) -> Routing {
        let i = &self.spec.recovery_intents;
        let intent = match action {
            RecoveryAction::RestartScheduler => i.restart_scheduler,
            RecoveryAction::RespawnWorker => i.respawn_worker,
            RecoveryAction::RebuildReplica => i.rebuild_replica,
            RecoveryAction::ShedLoad => i.shed_load,
            RecoveryAction::Resubscribe => i.resubscribe,
            RecoveryAction::RestartComponent => i.restart_component,
        };
        let ballots: Vec<Option<SimDuration>> = if intent.tier() == 3 {
            let vote = SimDuration::from_nanos(self.governance.spec().vote_ns);
            [
                self.ready,
                self.workers.iter().any(|w| w.alive),
                !self.paused && !self.restarting,
                self.subscriptions > 0,
            ]
            .iter()
            .map(|&up| up.then_some(vote))
            .collect()
        } else {
            Vec::new()
        };
        self.governance
            .route(intent, now, &mut self.gov_rng, &ballots)
    }

    /// What an observer measures now.
    pub fn probe(&self, now: SimTime) -> Layer2Probe {
        let alive = self.workers.iter().filter(|w| w.alive).count() as u16;
        let orphaned = self
            .workers
            .iter()
            .filter(|w| !w.alive)
            .map(|w| w.load() as u32)
            .sum();
        let rate = self.spec.mesh.delivery_rate_per_s.max(1) as u64;
        let policy_pending = self.policy_bg_pending + self.policy_pending.iter().sum::<u64>();
        let policy_depth = (0..POLICY_DEPTH_MAX)
            .rev()
            .find(|&d| self.policy_pending[d] > 0)
            .unwrap_or(0) as u16;
        Layer2Probe {
            now,
            ready: self.ready,
            queue_depth: self.depth,
            workers_alive: alive,
            workers_total: self.spec.workers.count,
            orphaned_tasks: orphaned,
            scheduler_running: !self.paused,
            dispatch_rate_per_s: self
                .dispatch_window
                .rate_per_s(now, self.spec.scheduler.rate_window_s as u64),
            mesh_subscriptions: self.subscriptions,
            mesh_backlog: self.mesh_backlog,
            mesh_lag_ns: (self.mesh_backlog as u128 * NS_PER_S as u128 / rate as u128) as u64,
            mesh_drops_last_s: self.mesh_drop_window.last_second(now),
            policy_pending,
            policy_depth,
            policy_lag_ns: (policy_pending as u128 * NS_PER_S as u128
                / self.spec.policy.eval_rate_per_s.max(1) as u128)
                as u64,
            oldest_wait_ns: self
                .levels
                .iter()
                .filter_map(|q| q.front().map(|t| t.enqueued))
                .min()
                .map_or(0, |t| now.saturating_duration_since(t).as_nanos()),
            tasks_failed_last_s: self.failed_window.last_second(now),
            tasks_dropped_last_s: self.dropped_window.last_second(now),
            breaker: self.breaker,
            slo_breaches: self.slo_breaches,
            alerts_critical: self.alerts_critical,
            alerts_warning: self.alerts_warning,
            tolerances: self.spec.steady,
        }
    }

    /// Which safeguards fired, when first, how often.
    pub fn safeguards(&self) -> &SafeguardLog {
        &self.log
    }

    /// The deployed safeguards.
    pub fn deployed(&self) -> SafeguardSet {
        self.deployed
    }

    /// Totals of what Layer 2 did.
    pub fn counters(&self) -> &Layer2Counters {
        &self.counters
    }

    /// The spec in use.
    pub fn spec(&self) -> &Layer2Spec {
        &self.spec
    }

    /// What an observer sees of replica `i` (`None` if out of range).
    pub fn replica(&self, i: usize) -> Option<ReplicaView> {
        self.replicas.get(i).map(|r| ReplicaView {
            state: r.state,
            share_permille: r.share,
            health: if r.share == 0 && r.state != ReplicaState::Serving {
                0.0
            } else if r.calls == 0 {
                1.0
            } else {
                1.0 - r.errors as f64 / r.calls as f64
            },
            canary_step: r.canary_step,
            quarantines: r.quarantines,
            rollbacks: r.rollbacks,
            promotions: r.promotions,
        })
    }

    /// Whether a readiness check timed out.
    pub fn readiness_failed(&self) -> bool {
        self.readiness_failed
    }

    /// The alerts the watchdog raised so far, by kind.
    pub fn alerts(&self) -> Layer2Alerts {
        self.alerts
    }

    /// Whether htm_queue_depth_monitor has intake in guarded mode.
    pub fn intake_guarded(&self) -> bool {
        self.guarded
    }

    /// Whether trigger_mesh_backpressure is throttling publishers.
    pub fn mesh_backpressure_engaged(&self) -> bool {
        self.mesh_backpressure
    }

    // ----- HTM queue -----

    /// One flood batch now; the rest one tick later.
    fn flood_batch<E: From<Layer2Event>>(
        &mut self,
        remaining: u32,
        per_tick: u32,
        invalid_permille: u16,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let n = remaining.min(per_tick);
        for _ in 0..n {
            let invalid = self.fault_rng.ratio(invalid_permille as u64, 1000);
            let t = self.new_task(now, !invalid);
            self.intake(t, ctx);
        }
        if remaining > n {
            ctx.schedule_in(
                SimDuration::from_nanos(self.spec.tick_ns),
                Layer2Event::FloodTick {
                    remaining: remaining - n,
                    per_tick,
                    invalid_permille,
                }
                .into(),
            );
        }
        self.try_dispatch(ctx);
    }

    fn new_task(&mut self, now: SimTime, valid: bool) -> Task {
        let id = self.next_task_id;
        self.next_task_id = self.next_task_id.wrapping_add(1);
        Task {
            enqueued: now,
            id,
            priority: self.arrivals_rng.below(PRIORITY_LEVELS as u64) as u8,
            valid,
            attempt: 0,
        }
    }

    fn push_back(&mut self, t: Task) {
        self.levels[t.priority as usize].push_back(t);
        self.depth += 1;
    }

    fn push_front(&mut self, t: Task) {
        self.levels[t.priority as usize].push_front(t);
        self.depth += 1;
    }

    fn pop(&mut self) -> Option<Task> {
        let t = match self.spec.htm.discipline {
            Discipline::Priority => self.levels.iter_mut().rev().find_map(|q| q.pop_front()),
            Discipline::Fifo => {
                let mut best: Option<(SimTime, usize)> = None;
                for (i, q) in self.levels.iter().enumerate() {
                    if let Some(t) = q.front()
                        && best.is_none_or(|(b, _)| t.enqueued < b)
                    {
                        best = Some((t.enqueued, i));
                    }
                }
                best.and_then(|(_, i)| self.levels[i].pop_front())
            }
        };
        if t.is_some() {
            self.depth -= 1;
        }
        t
    }

    /// An intent arrives at the intake.
    fn intake<E: From<Layer2Event>>(&mut self, task: Task, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        self.counters.intents_offered += 1;
        let monitor = Safeguard::HtmQueueDepthMonitor;
        if !self.guarded && self.depth >= self.spec.htm.queue_warning {
            let ev = Evidence::of(
                now,
                Signal::QueueDepth,
                self.depth.into(),
                self.spec.htm.queue_warning.into(),
                self.queue_cause,
            );
            self.guarded = self
                .log
                .detect(monitor, self.deployed.contains(monitor), ev);
        }
        {
            if self.guarded {
                if !task.valid {
                    self.counters.rejected_invalid_at_intake += 1;
                    return;
                }
                let rate = self.spec.safeguards.monitor_intake_limit_per_s as u64;
                let elapsed = (now - self.tokens_at).as_nanos();
                self.tokens_at = now;
                let refill = mul_div(elapsed, rate, 1_000_000);
                self.tokens_milli = (self.tokens_milli.saturating_add(refill)).min(rate * 1000);
                if self.tokens_milli < 1000 {
                    self.counters.rate_limited += 1;
                    return;
                }
                self.tokens_milli -= 1000;
            }
        }
        if self.depth >= self.spec.htm.queue_capacity {
            self.counters.rejected_full += 1;
            if task.valid {
                self.dropped_window.add(now, 1);
            }
            return;
        }
        self.push_back(task);
        if self.guarded && self.depth >= self.spec.htm.queue_critical {
            self.shed(now, "htm_queue_depth_monitor", ctx);
        }
    }

    /// load_shedder's condition: depth > critical with tasks to shed (priority
    /// below the cut, waiting longer than the age). Deployed, the decision
    /// is routed by governance ([`RecoveryAction::ShedLoad`], a tier-3 vote
    /// by default) and the tasks are dropped once it is allowed; not
    /// deployed, the need is recorded.
    fn shed<E: From<Layer2Event>>(
        &mut self,
        now: SimTime,
        caller: &'static str,
        ctx: &mut Ctx<'_, E>,
    ) {
        if self.depth <= self.spec.htm.queue_critical || self.shed_pending {
            return;
        }
        if self.sheddable(now) == 0 {
            return;
        }
        let ev = Evidence::of(
            now,
            Signal::QueueDepth,
            self.depth.into(),
            self.spec.htm.queue_critical.into(),
            self.queue_cause,
        );
        let sg = Safeguard::LoadShedder;
        if !self.log.detect(sg, self.deployed.contains(sg), ev) {
            return;
        }
        let r = self.route_action(RecoveryAction::ShedLoad, now);
        if r.denied {
            return; // asked again at the next check
        }
        if r.delay.is_zero() {
            self.drop_sheddable(now, caller);
        } else {
            self.shed_pending = true;
            ctx.schedule_in(r.delay, Layer2Event::ShedApproved.into());
        }
    }

    /// Tasks the shedder may drop now.
    fn sheddable(&self, now: SimTime) -> usize {
        let below = self.spec.shedding.priority_below.min(PRIORITY_LEVELS as u8) as usize;
        let age = SimDuration::from_nanos(self.spec.shedding.older_than_ns);
        self.levels[..below]
            .iter()
            .map(|q| q.iter().take_while(|t| now - t.enqueued > age).count())
            .sum()
    }

    /// Drop the tasks the shedder may drop (if the queue is still over critical).
    fn drop_sheddable(&mut self, now: SimTime, caller: &'static str) {
        if self.depth <= self.spec.htm.queue_critical {
            return;
        }
        let below = self.spec.shedding.priority_below.min(PRIORITY_LEVELS as u8) as usize;
        let age = SimDuration::from_nanos(self.spec.shedding.older_than_ns);
        let mut total = 0u64;
        for level in 0..below {
            let n = self.levels[level]
                .iter()
                .take_while(|t| now - t.enqueued > age)
                .count();
            self.levels[level].drain(..n);
            if n > 0 {
                self.narrator.shed(
                    now,
                    caller,
                    level as u8,
                    n as u64,
                    self.spec.shedding.priority_below,
                    age.as_nanos(),
                );
                total += n as u64;
            }
        }
        self.depth -= total as u32;
        self.counters.shed += total;
    }

    // ----- scheduler and workers -----

    fn dispatch_path_up(&self) -> bool {
        self.ready && (!self.paused || self.rerouted)
    }

    fn try_dispatch<E: From<Layer2Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        while self.depth > 0 && self.dispatch_path_up() {
            let breaker_on = self.deployed.contains(Safeguard::CircuitBreaker);
            if breaker_on {
                match self.breaker {
                    BreakerState::Open => break,
                    BreakerState::HalfOpen if self.breaker_trials_left == 0 => break,
                    _ => {}
                }
            }
            let slots = self.spec.workers.slots as usize;
            let mut best: Option<(usize, usize)> = None;
            for (i, w) in self.workers.iter().enumerate() {
                if w.alive && w.load() < slots && best.is_none_or(|(_, l)| w.load() < l) {
                    best = Some((i, w.load()));
                }
            }
            let Some((wi, load)) = best else { break };
            let Some(task) = self.pop() else { break };
            if breaker_on && self.breaker == BreakerState::HalfOpen && task.valid {
                self.breaker_trials_left -= 1;
            }
            self.counters.dispatched += 1;
            self.dispatch_window.add(now, 1);
            let how = if self.rerouted {
                "standby_path"
            } else {
                "primary"
            };
            self.narrator.dispatch(
                now,
                task.id,
                wi as u16,
                load as u8,
                task.priority,
                task.attempt,
                how,
            );
            if self.workers[wi].current.is_none() {
                self.start_task(wi, task, ctx);
            } else {
                self.workers[wi].local.push_back(task);
            }
        }
        if self.guarded && self.depth <= self.spec.safeguards.monitor_release_depth {
            self.guarded = false;
        }
    }

    fn pick_replica(&mut self) -> u16 {
        let total: u64 = self.replicas.iter().map(|r| r.share as u64).sum();
        if total == 0 {
            return 0;
        }
        let mut x = self.routing_rng.below(total);
        for (i, r) in self.replicas.iter().enumerate() {
            if x < r.share as u64 {
                return i as u16;
            }
            x -= r.share as u64;
        }
        0
    }

    fn start_task<E: From<Layer2Event>>(&mut self, wi: usize, task: Task, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let (d, replica, outcome) = if !task.valid {
            (self.spec.htm.validation_cost_ns, 0, Outcome::Invalid)
        } else {
            let replica = self.pick_replica();
            let dep_fails = now < self.dependency_until
                && self.dependency_error_permille > 0
                && self
                    .routing_rng
                    .ratio(self.dependency_error_permille as u64, 1000);
            if dep_fails {
                let d = self.spec.safeguards.dependency_timeout_ns;
                self.counters.dependency_timeout_ns += d;
                (d, replica, Outcome::DependencyError)
            } else {
                let d = self.spec.workers.service.sample_ns(&mut self.service_rng);
                let e = self.replicas[replica as usize].error_permille as u64;
                let fails = e > 0 && self.routing_rng.ratio(e, 1000);
                (
                    d,
                    replica,
                    if fails {
                        Outcome::ReplicaError
                    } else {
                        Outcome::Ok
                    },
                )
            }
        };
        let w = &mut self.workers[wi];
        w.current = Some(Running {
            task,
            replica,
            outcome,
        });
        ctx.schedule_in(
            SimDuration::from_nanos(d),
            Layer2Event::TaskDone {
                worker: wi as u16,
                generation: w.generation,
            }
            .into(),
        );
    }

    fn retry_or_fail(&mut self, mut task: Task, now: SimTime) {
        if task.attempt < self.spec.htm.max_retries {
            task.attempt += 1;
            self.counters.retried += 1;
            self.push_front(task);
        } else {
            self.counters.failed += 1;
            self.failed_window.add(now, 1);
        }
    }

    fn task_done<E: From<Layer2Event>>(
        &mut self,
        wi: usize,
        generation: u32,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let w = &mut self.workers[wi];
        if !w.alive || w.generation != generation {
            return; // the worker died while serving: the task is orphaned
        }
        let Some(run) = w.current.take() else { return };
        match run.outcome {
            Outcome::Ok => {
                self.counters.completed += 1;
                self.breaker_record(true, ctx);
                let r = &mut self.replicas[run.replica as usize];
                r.calls += 1;
                r.consecutive_failures = 0;
            }
            Outcome::Invalid => self.counters.rejected_invalid_by_worker += 1,
            Outcome::DependencyError => {
                self.breaker_record(false, ctx);
                self.retry_or_fail(run.task, now);
            }
            Outcome::ReplicaError => {
                self.breaker_record(true, ctx);
                let r = &mut self.replicas[run.replica as usize];
                r.calls += 1;
                r.errors += 1;
                r.consecutive_failures = r.consecutive_failures.saturating_add(1);
                let exceeded = r.consecutive_failures > self.spec.replicas.max_retries
                    && r.state == ReplicaState::Serving;
                let failures = r.consecutive_failures;
                self.retry_or_fail(run.task, now);
                if exceeded {
                    let ri = run.replica as usize;
                    let ev = Evidence::of(
                        now,
                        Signal::ReplicaConsecutiveFailures,
                        failures.into(),
                        self.spec.replicas.max_retries.into(),
                        self.replica_cause[ri],
                    );
                    let sg = Safeguard::SandboxFallback;
                    if self.log.detect(sg, self.deployed.contains(sg), ev) {
                        self.start_fallback(ri, ctx);
                    }
                }
            }
        }
        if let Some(next) = self.workers[wi].local.pop_front() {
            self.start_task(wi, next, ctx);
        }
        self.try_dispatch(ctx);
    }

    // ----- circuit breaker -----

    /// circuit_breaker's condition: a failing share of at least
    /// `breaker_failure_permille` over the last `breaker_window` calls (at
    /// least `breaker_min_calls`). The window is counted deployed or not;
    /// not deployed, the breaker stays closed and the need is recorded.
    fn breaker_record<E: From<Layer2Event>>(&mut self, ok: bool, ctx: &mut Ctx<'_, E>) {
        let deployed = self.deployed.contains(Safeguard::CircuitBreaker);
        let g = &self.spec.safeguards;
        match self.breaker {
            BreakerState::Open => {}
            BreakerState::Closed => {
                let n = g.breaker_window;
                self.breaker_bits = (self.breaker_bits << 1) | (!ok) as u64;
                if n < 64 {
                    self.breaker_bits &= (1u64 << n) - 1;
                }
                self.breaker_len = (self.breaker_len + 1).min(n);
                let fails = self.breaker_bits.count_ones() as u64;
                if self.breaker_len >= g.breaker_min_calls
                    && fails * 1000 >= g.breaker_failure_permille as u64 * self.breaker_len as u64
                {
                    let ev = Evidence::of(
                        ctx.now(),
                        Signal::DependencyFailurePermille,
                        fails * 1000 / self.breaker_len as u64,
                        g.breaker_failure_permille.into(),
                        self.dependency_cause,
                    );
                    if self.log.detect(Safeguard::CircuitBreaker, deployed, ev) {
                        self.open_breaker(ctx);
                    }
                }
            }
            BreakerState::HalfOpen => {
                if ok {
                    self.breaker_trial_successes += 1;
                    if self.breaker_trial_successes >= g.breaker_half_open_calls {
                        self.breaker = BreakerState::Closed;
                        self.breaker_bits = 0;
                        self.breaker_len = 0;
                    }
                } else {
                    // A failed trial: the condition holds again.
                    let ev = Evidence::of(
                        ctx.now(),
                        Signal::DependencyFailurePermille,
                        1000,
                        g.breaker_failure_permille.into(),
                        self.dependency_cause,
                    );
                    self.log.fire(Safeguard::CircuitBreaker, ev);
                    self.open_breaker(ctx);
                }
            }
        }
    }

    fn open_breaker<E: From<Layer2Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.breaker = BreakerState::Open;
        self.counters.breaker_opens += 1;
        ctx.schedule_in(
            SimDuration::from_nanos(self.spec.safeguards.breaker_open_ns),
            Layer2Event::BreakerHalfOpen.into(),
        );
    }

    // ----- sandbox fallback -----

    fn start_fallback<E: From<Layer2Event>>(&mut self, ri: usize, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        // (1) quarantine, (2) shift its traffic to the healthiest serving replica.
        let donor = (0..self.replicas.len())
            .filter(|&j| j != ri && self.replicas[j].state == ReplicaState::Serving)
            .min_by_key(|&j| (self.replicas[j].consecutive_failures, j))
            .unwrap_or(ri);
        let share = self.replicas[ri].share;
        self.replicas[ri].share = 0;
        if donor != ri {
            self.replicas[donor].share += share;
        }
        let r = &mut self.replicas[ri];
        r.donor = donor as u16;
        r.quarantines += 1;
        r.state = ReplicaState::Rebuilding;
        r.consecutive_failures = 0;
        self.narrator.reroute(
            now,
            "sandbox_fallback",
            "shift_traffic",
            "replica",
            ri as u16,
            donor as u16,
            share as u64,
            &[
                Why::Text("replica_exceeded_max_retries"),
                Why::Num(
                    "consecutive_failures_max",
                    self.spec.replicas.max_retries as u64,
                ),
            ],
        );
        // (3) rebuild in the sandbox, once governance allows it (denied: ask
        // again after the denial).
        self.request_rebuild(ri, ctx);
    }

    fn request_rebuild<E: From<Layer2Event>>(&mut self, ri: usize, ctx: &mut Ctx<'_, E>) {
        let r = self.route_action(RecoveryAction::RebuildReplica, ctx.now());
        let (after, ev) = if r.denied {
            (r.delay, Layer2Event::RebuildRequest { replica: ri as u16 })
        } else {
            (
                r.delay + SimDuration::from_nanos(self.spec.replicas.rebuild_ns),
                Layer2Event::ReplicaStep { replica: ri as u16 },
            )
        };
        ctx.schedule_in(after, ev.into());
    }

    fn set_canary_share(&mut self, ri: usize) {
        let pct =
            self.spec.replicas.canary_steps_percent[self.replicas[ri].canary_step as usize] as u32;
        let r = &self.replicas[ri];
        let target = (r.base_share as u32 * pct / 100) as u16;
        let donor = r.donor as usize;
        let old = r.share;
        if donor != ri {
            let d = &mut self.replicas[donor].share;
            *d = (*d + old).saturating_sub(target);
        }
        let r = &mut self.replicas[ri];
        r.share = target;
        r.calls = 0;
        r.errors = 0;
    }

    fn replica_step<E: From<Layer2Event>>(&mut self, ri: usize, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let step_ns = SimDuration::from_nanos(self.spec.replicas.canary_step_ns);
        match self.replicas[ri].state {
            ReplicaState::Rebuilding => {
                // (3) rebuilt: boot-level defects are gone; a latent regression ships with the build.
                let r = &mut self.replicas[ri];
                r.error_permille = r.latent_regression_permille;
                r.state = ReplicaState::Validating;
                ctx.schedule_in(
                    SimDuration::from_nanos(self.spec.replicas.validate_ns),
                    Layer2Event::ReplicaStep { replica: ri as u16 }.into(),
                );
            }
            ReplicaState::Validating => {
                // (4) validation: the synthetic suite checks boot health (a
                // full-failure build fails it; a load-only regression passes).
                let r = &mut self.replicas[ri];
                if r.error_permille >= 1000 {
                    r.state = ReplicaState::Rebuilding;
                    ctx.schedule_in(
                        SimDuration::from_nanos(self.spec.replicas.rebuild_ns),
                        Layer2Event::ReplicaStep { replica: ri as u16 }.into(),
                    );
                } else {
                    r.state = ReplicaState::Canary;
                    r.canary_step = 0;
                    self.set_canary_share(ri);
                    ctx.schedule_in(
                        step_ns,
                        Layer2Event::ReplicaStep { replica: ri as u16 }.into(),
                    );
                }
            }
            ReplicaState::Canary => {
                // (5) judge the step, then roll back, advance or promote.
                let r = &self.replicas[ri];
                let min = self.spec.replicas.canary_min_calls;
                let max = self.spec.replicas.canary_error_permille_max as u64;
                let bad = r.calls >= min && r.errors as u64 * 1000 > max * r.calls as u64;
                if bad {
                    let (calls, errors, share, donor) = (r.calls, r.errors, r.share, r.donor);
                    if donor as usize != ri {
                        self.replicas[donor as usize].share += share;
                    }
                    let r = &mut self.replicas[ri];
                    r.share = 0;
                    r.state = ReplicaState::RolledBack;
                    r.rollbacks += 1;
                    self.narrator.reroute(
                        now,
                        "sandbox_fallback",
                        "canary_rollback",
                        "replica",
                        ri as u16,
                        donor,
                        share as u64,
                        &[
                            Why::Num("step_calls", calls as u64),
                            Why::Num("step_errors", errors as u64),
                            Why::Num("error_permille_max", max),
                        ],
                    );
                } else if r.canary_step as usize + 1
                    >= self.spec.replicas.canary_steps_percent.len()
                {
                    let r = &mut self.replicas[ri];
                    r.state = ReplicaState::Serving;
                    r.promotions += 1;
                } else {
                    self.replicas[ri].canary_step += 1;
                    self.set_canary_share(ri);
                    ctx.schedule_in(
                        step_ns,
                        Layer2Event::ReplicaStep { replica: ri as u16 }.into(),
                    );
                }
            }
            ReplicaState::Serving | ReplicaState::RolledBack => {}
        }
    }

    // ----- trigger mesh and policy engine (fluid, per tick) -----

    fn tick(&mut self, now: SimTime) {
        let tick = self.spec.tick_ns;
        let m = &self.spec.mesh;
        let fan = self.subscriptions as u64;
        let bg_rate = self.loaded(m.background_events_per_s as u64);
        let bg = self.mesh_acc_bg.take(bg_rate, tick);
        let storm = if now <= self.storm_until && self.storm_rate_per_s > 0 {
            self.mesh_acc_storm.take(self.storm_rate_per_s, tick)
        } else {
            0
        };
        let capacity = self
            .mesh_acc_delivery
            .take(m.delivery_rate_per_s as u64, tick);
        let delivered = self.mesh_backlog.min(capacity);
        self.mesh_backlog -= delivered;
        self.counters.mesh_delivered += delivered;
        let buffer = m.buffer_capacity as u64;
        let (mut bg_adm, mut storm_adm) = (bg, storm);
        if fan > 0 {
            let high = buffer * self.spec.safeguards.backpressure_high_permille as u64 / 1000;
            let low = buffer * self.spec.safeguards.backpressure_low_permille as u64 / 1000;
            let incoming = (bg + storm) * fan;
            if !self.mesh_backpressure && self.mesh_backlog + incoming > high {
                let ev = Evidence::of(
                    now,
                    Signal::MeshBacklog,
                    self.mesh_backlog + incoming,
                    high,
                    self.mesh_cause,
                );
                let sg = Safeguard::TriggerMeshBackpressure;
                self.mesh_backpressure = self.log.detect(sg, self.deployed.contains(sg), ev);
            } else if self.mesh_backpressure && self.mesh_backlog + incoming <= low {
                self.mesh_backpressure = false;
            }
            if self.mesh_backpressure {
                let mut room = high.saturating_sub(self.mesh_backlog) / fan;
                bg_adm = bg.min(room);
                room -= bg_adm;
                storm_adm = storm.min(room);
                self.counters.mesh_throttled += (bg - bg_adm) + (storm - storm_adm);
            }
        }
        let new = (bg_adm + storm_adm) * fan;
        let accepted = new.min(buffer.saturating_sub(self.mesh_backlog));
        let dropped = new - accepted;
        self.mesh_backlog += accepted;
        if dropped > 0 {
            self.counters.mesh_dropped += dropped;
            self.mesh_drop_window.add(now, dropped);
        }
        // Policy engine.
        let p = &self.spec.policy;
        let policy_bg = self.loaded(p.background_per_s as u64);
        self.policy_bg_pending += self.policy_acc_bg.take(policy_bg, tick);
        let mut cap = self.policy_acc_eval.take(p.eval_rate_per_s as u64, tick);
        let bg_eval = self.policy_bg_pending.min(cap);
        self.policy_bg_pending -= bg_eval;
        cap -= bg_eval;
        let mut evaluated = bg_eval;
        let fanout = p.cascade_fanout as u64;
        let limit = p.recursion_limit as usize;
        let detector = self.deployed.contains(Safeguard::CascadeDetector);
        for d in 0..POLICY_DEPTH_MAX {
            if cap == 0 {
                break;
            }
            let n = self.policy_pending[d].min(cap);
            if n == 0 {
                continue;
            }
            self.policy_pending[d] -= n;
            cap -= n;
            evaluated += n;
            self.counters.policy_depth_max = self.counters.policy_depth_max.max(d as u16);
            let child = d + 1;
            if child <= self.cascade_depth as usize && child < POLICY_DEPTH_MAX {
                let cut = child > limit && {
                    let ev = Evidence::of(
                        now,
                        Signal::PolicyDepth,
                        child as u64,
                        limit as u64,
                        self.policy_cause,
                    );
                    self.log.detect(Safeguard::CascadeDetector, detector, ev)
                };
                if cut {
                    self.counters.policy_cut += n * fanout;
                } else {
                    self.policy_pending[child] += n * fanout;
                }
            }
        }
        self.counters.policy_evaluations += evaluated;
        if self.policy_pending.iter().all(|&x| x == 0) {
            self.cascade_depth = 0;
        }
    }

    // ----- watchdog, telemetry -----

    /// The Layer-2 watchdog's check (every 15 s). Its alerts act: a
    /// critical queue calls the load shedder at once, a pool with no live
    /// worker runs the worker check at once, lost subscriptions are
    /// restored (a routed recovery action); all of them are harm in the
    /// steady state (a stalled dispatch through the dispatch-rate term).
    fn watchdog_check<E: From<Layer2Event>>(&mut self, now: SimTime, ctx: &mut Ctx<'_, E>) {
        let p = self.probe(now);
        if p.queue_depth > self.spec.htm.queue_critical {
            self.alerts_critical += 1;
            self.alerts.queue_critical += 1;
            self.shed(now, "l2_watchdog", ctx);
        }
        if p.workers_alive == 0 {
            self.alerts_critical += 1;
            self.alerts.workers_zero += 1;
            self.worker_check(now, ctx);
        }
        if p.mesh_subscriptions < self.spec.mesh.subscriptions_warning {
            self.alerts_warning += 1;
            self.alerts.subscriptions_low += 1;
            if !self.resubscribing {
                let r = self.route_action(RecoveryAction::Resubscribe, now);
                if !r.denied {
                    self.resubscribing = true;
                    ctx.schedule_in(
                        r.delay + SimDuration::from_nanos(self.spec.watchdog.component_boot_ns),
                        Layer2Event::Resubscribed.into(),
                    );
                }
            }
        }
        if p.queue_depth > 0
            && p.dispatch_rate_per_s < self.spec.scheduler.dispatch_warning_per_s as f64
        {
            self.alerts_warning += 1;
            self.alerts.dispatch_low += 1;
        }
        if !p.healthy() {
            self.slo_breaches += 1;
        }
        // Health windows decay by half at each check (recent calls weigh most).
        for r in self
            .replicas
            .iter_mut()
            .filter(|r| r.state == ReplicaState::Serving)
        {
            r.calls /= 2;
            r.errors /= 2;
        }
    }

    /// scheduler_watchdog's check: progress since the last check.
    fn scheduler_check<E: From<Layer2Event>>(&mut self, now: SimTime, ctx: &mut Ctx<'_, E>) {
        let progress = self.counters.dispatched - self.dispatches_at_last_check;
        self.dispatches_at_last_check = self.counters.dispatched;
        let slots = self.spec.workers.slots as usize;
        let room = self.workers.iter().any(|w| w.alive && w.load() < slots);
        let gated = self.deployed.contains(Safeguard::CircuitBreaker)
            && self.breaker != BreakerState::Closed;
        let stalled = self.ready && self.depth > 0 && progress == 0 && room && !gated;
        if stalled {
            self.stall_checks = self.stall_checks.saturating_add(1);
        } else {
            self.stall_checks = 0;
        }
        let sg = Safeguard::SchedulerWatchdog;
        if self.stall_checks >= self.spec.safeguards.scheduler_stall_checks
            && !self.restarting
            && self.log.detect(
                sg,
                self.deployed.contains(sg),
                Evidence::of(
                    now,
                    Signal::StalledChecks,
                    self.stall_checks.into(),
                    self.spec.safeguards.scheduler_stall_checks.into(),
                    self.scheduler_cause,
                ),
            )
        {
            self.rerouted = true;
            self.restarting = true;
            self.narrator.reroute(
                now,
                "scheduler_watchdog",
                "reroute_dispatch",
                "scheduler",
                0,
                1,
                self.depth as u64,
                &[
                    Why::Num("no_dispatch_checks", self.stall_checks as u64),
                    Why::Num("queue_depth", self.depth as u64),
                ],
            );
            let r = self.route_action(RecoveryAction::RestartScheduler, now);
            if r.denied {
                // Rerouted but not restarted: the next stalled check asks again.
                self.restarting = false;
            } else {
                ctx.schedule_in(
                    r.delay + SimDuration::from_nanos(self.spec.scheduler.restart_ns),
                    Layer2Event::SchedulerRestarted.into(),
                );
            }
            self.try_dispatch(ctx);
        }
    }

    /// worker_pool_recovery's check: dead workers past the heartbeat timeout.
    fn worker_check<E: From<Layer2Event>>(&mut self, now: SimTime, ctx: &mut Ctx<'_, E>) {
        let timeout = SimDuration::from_nanos(self.spec.workers.heartbeat_timeout_ns);
        let sg = Safeguard::WorkerPoolRecovery;
        let deployed = self.deployed.contains(sg);
        let mut acted = false;
        for wi in 0..self.workers.len() {
            let w = &self.workers[wi];
            if w.alive || w.respawning || now - w.died_at < timeout {
                continue;
            }
            if !acted {
                let ev = Evidence::of(
                    now,
                    Signal::WorkerSilenceMs,
                    (now - w.died_at).as_millis(),
                    timeout.as_millis(),
                    self.worker_cause,
                );
                if !self.log.detect(sg, deployed, ev) {
                    break; // shadow: the need is recorded, nothing acts
                }
            }
            acted = true;
            let w = &mut self.workers[wi];
            w.respawning = true;
            let mut moved = 0u64;
            let current = w.current.take().map(|r| r.task);
            let mut held: [Option<Task>; 65] = [None; 65];
            let mut k = 0;
            if let Some(t) = current {
                held[k] = Some(t);
                k += 1;
            }
            while let Some(t) = w.local.pop_front() {
                held[k] = Some(t);
                k += 1;
            }
            for t in held[..k].iter().rev().flatten() {
                self.push_front(*t);
                moved += 1;
            }
            self.counters.rerouted_tasks += moved;
            self.narrator.reroute(
                now,
                "worker_pool_recovery",
                "reassign_tasks",
                "worker",
                wi as u16,
                u16::MAX,
                moved,
                &[
                    Why::Text("heartbeat_missing"),
                    Why::Num("heartbeat_timeout_ns", timeout.as_nanos()),
                ],
            );
            let r = self.route_action(RecoveryAction::RespawnWorker, now);
            if r.denied {
                // Its tasks are reassigned; the respawn is asked again at the next check.
                self.workers[wi].respawning = false;
            } else {
                ctx.schedule_in(
                    r.delay + SimDuration::from_nanos(self.spec.workers.spawn_ns),
                    Layer2Event::WorkerRespawned { worker: wi as u16 }.into(),
                );
            }
        }
        if acted {
            self.try_dispatch(ctx);
        }
    }

    /// The watchdog restarts the components that did not come up in time
    /// (a routed recovery action; denied: asked again at the next check).
    fn restart_down_components<E: From<Layer2Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let r = self.route_action(RecoveryAction::RestartComponent, ctx.now());
        if r.denied {
            return;
        }
        for c in 0..4 {
            if !self.components_up[c] {
                self.component_gen[c] = self.component_gen[c].wrapping_add(1);
                ctx.schedule_in(
                    r.delay + SimDuration::from_nanos(self.spec.watchdog.component_boot_ns),
                    Layer2Event::ComponentReady {
                        component: c as u8,
                        generation: self.component_gen[c],
                    }
                    .into(),
                );
            }
        }
    }

    fn telemetry_row(&mut self, now: SimTime) {
        let Some(out) = self.telemetry.as_mut() else {
            return;
        };
        let c = &self.counters;
        let alive = self.workers.iter().filter(|w| w.alive).count();
        let policy_pending = self.policy_bg_pending + self.policy_pending.iter().sum::<u64>();
        let r = writeln!(
            out,
            "{:.3},{},{},{},{},{},{},{},{},{},{},{}",
            (now.as_nanos() as i128 - self.telemetry_origin.as_nanos() as i128) as f64 / 1e9,
            self.depth,
            alive,
            c.dispatched,
            c.completed,
            c.mesh_delivered,
            self.mesh_backlog,
            c.mesh_dropped,
            policy_pending,
            self.slo_breaches,
            self.alerts_critical,
            self.alerts_warning
        );
        if r.is_err() {
            self.output_failed = true;
        }
    }
}

impl Component for Layer2 {
    type Event = Layer2Event;

    fn handle<E: From<Layer2Event>>(&mut self, event: Layer2Event, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        match event {
            Layer2Event::ComponentReady {
                component,
                generation,
            } => {
                let c = usize::from(component.min(3));
                if self.component_gen[c] != generation || self.components_up[c] {
                    return;
                }
                self.components_up[c] = true;
                self.ready_components = (self.ready_components + 1).min(4);
                if self.ready_components >= 4 && !self.polling && !self.ready {
                    // Came back after the readiness check gave up (restarted).
                    self.ready = true;
                    self.try_dispatch(ctx);
                }
            }
            Layer2Event::Resubscribed => {
                self.resubscribing = false;
                self.subscriptions = self.subscriptions.max(self.spec.mesh.subscriptions);
            }
            Layer2Event::ReadinessPoll => {
                if self.ready_components >= 4 {
                    self.polling = false;
                    self.ready = true;
                    self.try_dispatch(ctx);
                } else if now - self.readiness_since
                    >= SimDuration::from_nanos(self.spec.watchdog.readiness_timeout_ns)
                {
                    // The readiness check failed: a critical alert, and the
                    // watchdog restarts what did not come up.
                    self.polling = false;
                    self.readiness_failed = true;
                    self.alerts.readiness_failed += 1;
                    self.alerts_critical += 1;
                    self.restart_down_components(ctx);
                } else {
                    ctx.schedule_in(
                        SimDuration::from_nanos(self.spec.watchdog.readiness_poll_ns),
                        Layer2Event::ReadinessPoll.into(),
                    );
                }
            }
            Layer2Event::Arrival => {
                let gap = self.spec.htm.background.next_gap_ns(&mut self.arrivals_rng);
                let gap = gap * 1000 / (1000 + u64::from(self.load_permille));
                ctx.schedule_in(SimDuration::from_nanos(gap), Layer2Event::Arrival.into());
                for _ in 0..self.spec.htm.background.batch() {
                    let t = self.new_task(now, true);
                    self.intake(t, ctx);
                }
                self.try_dispatch(ctx);
            }
            Layer2Event::FloodTick {
                remaining,
                per_tick,
                invalid_permille,
            } => {
                self.flood_batch(remaining, per_tick, invalid_permille, ctx);
            }
            Layer2Event::TaskDone { worker, generation } => {
                self.task_done(worker as usize, generation, ctx)
            }
            Layer2Event::Tick => {
                self.tick(now);
                ctx.schedule_in(
                    SimDuration::from_nanos(self.spec.tick_ns),
                    Layer2Event::Tick.into(),
                );
            }
            Layer2Event::WatchdogCheck => {
                self.watchdog_check(now, ctx);
                ctx.schedule_in(
                    SimDuration::from_nanos(self.spec.watchdog.check_interval_ns),
                    Layer2Event::WatchdogCheck.into(),
                );
            }
            Layer2Event::Telemetry => {
                self.telemetry_row(now);
                ctx.schedule_in(
                    SimDuration::from_nanos(self.spec.watchdog.telemetry_interval_ns),
                    Layer2Event::Telemetry.into(),
                );
            }
            Layer2Event::SchedulerResume => {
                self.paused = false;
                self.try_dispatch(ctx);
            }
            Layer2Event::SchedulerCheck => {
                self.scheduler_check(now, ctx);
                ctx.schedule_in(
                    SimDuration::from_nanos(self.spec.safeguards.scheduler_check_ns),
                    Layer2Event::SchedulerCheck.into(),
                );
            }
            Layer2Event::SchedulerRestarted => {
                self.paused = false;
                self.rerouted = false;
                self.restarting = false;
                self.stall_checks = 0;
                self.counters.scheduler_restarts += 1;
                self.try_dispatch(ctx);
            }
            Layer2Event::WorkerCheck => {
                self.worker_check(now, ctx);
                ctx.schedule_in(
                    SimDuration::from_nanos(self.spec.safeguards.worker_check_ns),
                    Layer2Event::WorkerCheck.into(),
                );
            }
            Layer2Event::WorkerRespawned { worker } => {
                let w = &mut self.workers[worker as usize];
                w.alive = true;
                w.respawning = false;
                w.generation = w.generation.wrapping_add(1);
                self.counters.workers_respawned += 1;
                self.try_dispatch(ctx);
            }
            Layer2Event::ReplicaStep { replica } => self.replica_step(replica as usize, ctx),
            Layer2Event::BreakerHalfOpen => {
                self.breaker = BreakerState::HalfOpen;
                self.breaker_trials_left = self.spec.safeguards.breaker_half_open_calls;
                self.breaker_trial_successes = 0;
                self.try_dispatch(ctx);
            }
            Layer2Event::ShedApproved => {
                self.shed_pending = false;
                self.drop_sheddable(now, "load_shedder");
            }
            Layer2Event::RebuildRequest { replica } => self.request_rebuild(replica as usize, ctx),
            Layer2Event::ShedCheck => {
                self.shed(now, "load_shedder", ctx);
                ctx.schedule_in(
                    SimDuration::from_nanos(self.spec.shedding.check_interval_ns),
                    Layer2Event::ShedCheck.into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulator_carries_fractions_exactly() {
        let mut a = Accumulator::default();
        // 5,000 per s in 10 ms ticks: exactly 50 per tick.
        assert!((0..100).all(|_| a.take(5_000, 10_000_000) == 50));
        // 30 per s in 10 ms ticks: 0.3 per tick, 30 per 100 ticks, none lost.
        let mut b = Accumulator::default();
        let total: u64 = (0..1_000).map(|_| b.take(30, 10_000_000)).sum();
        assert_eq!(total, 300);
    }

    #[test]
    fn rate_window_forgets_old_seconds() {
        let mut w = RateWindow::default();
        let t = |ms: u64| SimTime::from_nanos(ms * 1_000_000);
        for s in 0..10 {
            w.add(t(s * 1000 + 500), 10);
        }
        // Seconds 5..=9 plus the partial second 10 (nothing yet) over 5 s.
        let r = w.rate_per_s(t(10_000), 5);
        assert!((r - 10.0).abs() < 1e-9, "{r}");
        assert_eq!(w.rate_per_s(t(30_000), 5), 0.0);
        assert_eq!(w.last_second(t(9_900)), 20);
    }

    #[test]
    fn event_kinds_are_unique_and_in_range() {
        let evs = [
            Layer2Event::ComponentReady {
                component: 0,
                generation: 0,
            },
            Layer2Event::ShedApproved,
            Layer2Event::RebuildRequest { replica: 0 },
            Layer2Event::Resubscribed,
            Layer2Event::ReadinessPoll,
            Layer2Event::Arrival,
            Layer2Event::FloodTick {
                remaining: 1,
                per_tick: 1,
                invalid_permille: 0,
            },
            Layer2Event::TaskDone {
                worker: 0,
                generation: 0,
            },
            Layer2Event::Tick,
            Layer2Event::WatchdogCheck,
            Layer2Event::Telemetry,
            Layer2Event::SchedulerResume,
            Layer2Event::SchedulerCheck,
            Layer2Event::SchedulerRestarted,
            Layer2Event::WorkerCheck,
            Layer2Event::WorkerRespawned { worker: 0 },
            Layer2Event::ReplicaStep { replica: 0 },
            Layer2Event::BreakerHalfOpen,
            Layer2Event::ShedCheck,
        ];
        let mut kinds: Vec<u16> = evs.iter().map(|e| e.kind()).collect();
        assert!(kinds.iter().all(|k| (200..=299).contains(k)));
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), evs.len());
    }
}
