//! Layer 1, the core of the stack under test: 20 kernels with heartbeats, the
//! control plane that watches and restarts them, the message bus the
//! heartbeats travel on, CPU/memory/disk/network, the API ingress, the
//! Layer-1 safeguards, and the playbook executor whose every step is routed
//! through Layer-3 [`governance`](crate::model::governance).
//!
//! Outcomes emerge from these mechanisms; nothing draws pass/fail.
//!
//! # Mechanisms
//! - **Kernels** ([`KernelState`]): booting, running, paused, dead
//!   (killed, not yet noticed), unresponsive (the control plane noticed),
//!   restarting, failed. A running kernel emits a heartbeat every
//!   `heartbeat_interval_ns` of *CPU-scaled* time: when CPU demand exceeds
//!   capacity every kernel slows by `demand / capacity` (heartbeats and boots
//!   included; pending ones are rescaled when the load changes).
//! - **Bus** ([`bus`]): a fluid FIFO with a capacity in messages/s and a
//!   bounded buffer. Heartbeats wait behind the backlog; an ACL-violation
//!   flood fills it, so heartbeats arrive late or are dropped.
//! - **Control plane**: per kernel a movable deadline `last heartbeat
//!   arrival + missed x interval` (heartbeat_watchdog); exit detection
//!   (kernel_watchdog); restarts through playbooks; restart backoff and the
//!   restart budget (kernel_watchdog): the request beyond `restarts_max`
//!   within the window marks the kernel **failed** (degraded platform).
//! - **Critical kernels**: the generic path for an unresponsive critical
//!   kernel is `critical_kernel_escalation` (a tier-0 human approval, slower
//!   at night). The critical_kernel_heartbeat_trigger polls critical kernels'
//!   heartbeat silence and hands dead ones to the emergency_protocol
//!   (`emergency_critical_kernel_recovery`, tier 4, one incident at a time),
//!   which pre-empts any pending escalation.
//! - **Resources** ([`ResourcesSpec`]): CPU by demand (hogs from faults),
//!   memory (leaks; the OOM killer kills the largest consumer), disk (fills;
//!   a full disk blocks disk-writer kernels), network (saturation shrinks
//!   the bus capacity).
//! - **API** ([`api`]): per-tick fluid ingress served by `api_server`.
//! - **Snapshots**: a ring of platform snapshots; an emergency restore uses
//!   the newest; a corrupt one makes the restored kernel crash after boot
//!   unless snapshot_hygiene_manager skips it.
//!
//! Floods and storms are rates (fluid), never one event per message: the
//! events per simulated second stay about 50 whatever the flood.
//!
//! # Safeguards: one condition, deployed or shadow
//!
//! Every detector below runs whether or not its safeguard is deployed.
//! Deployed, a met condition is a firing and the safeguard acts; not
//! deployed, the same condition (same signal, same threshold, same
//! instants) is recorded as a *need* with its evidence
//! ([`SafeguardLog::detect`]) and nothing acts. Each record names its cause:
//! the fault that brought the condition about, traced as in the last
//! column (a fault that changed nothing is the cause of nothing).
//!
//! | safeguard | observes (signal) | fires when | does | cause |
//! |---|---|---|---|---|
//! | heartbeat_watchdog | heartbeat arrivals per kernel, a movable deadline (`heartbeat_silence_ms`) | no arrival for `missed_heartbeats_before_restart` x interval (3 s) | marks the kernel unresponsive; non-critical: `critical_kernel_restart` (tier 1); critical: `critical_kernel_escalation` (tier-0 approval) | the kernel's silence: a kernel killed, paused, OOM-killed or restored from a corrupt snapshot blames that fault; a running one is blocked by a disk fill (disk writers), delayed behind a bus flood or network hog, or starved by a CPU hog |
//! | kernel_watchdog | process exits (`process_exited_ms`); restart requests (`restarts_in_window`) | an exit is noticed (`exit_detect_ns`, 1 s); a restart request beyond `restarts_max` (3) in the window | starts the same recovery as above; applies restart backoff (0, 1 s, 2 s, ...); marks the kernel failed over budget. Absent: no exit detection, restarts immediate and unbounded | the fault that harmed the kernel (as above) |
//! | critical_kernel_heartbeat_trigger | heartbeat silence of critical kernels, every `critical_check_interval_ns` (5 s) (`critical_silence_ms`) | silence >= `critical_silence_ns` (10 s): detection within 15 s | declares the kernel dead; hands it to the emergency protocol (or the escalation path if that is absent) | the kernel's silence |
//! | emergency_protocol | the trigger's detections (same signal) | on each detection; without the trigger, its shadow detection (needed, and silent if deployed) | pre-empts generic recoveries of the kernel and runs `emergency_critical_kernel_recovery` (tier 4, no approval), one incident at a time | the kernel's silence |
//! | acl_violation_monitor | ACL violations per publisher, every `acl_check_interval_ns` (1 s) (`acl_violations_per_s`) | a publisher's violation rate > `acl_violations_per_s_max` (100/s) | `acl_flood_quarantine` (tier 1): the publisher is quarantined at the bus edge for `acl_quarantine_ns` | that publisher's flood |
//! | resource_pressure_monitor | CPU, memory, disk, network utilisation every resource tick (1 s) (`cpu_permille`, ...) | one over `pressure_utilisation_permille_max` (90 %) for `pressure_sustained_ticks` (2) ticks, with a hog to blame | `resource_pressure_isolation` (tier 3, a 2 s vote): CPU hog capped at 50 % of cores, leaker restarted, disk filler purged, network hog capped at 50 % | the hog's fault |
//! | snapshot_hygiene_manager | snapshots at restore time (`corrupt_snapshots`) | the newest snapshot is corrupt | skips corrupt snapshots (restores the newest valid one, or boots cold); absent: restores the corrupt one and the kernel crashes after boot | the corrupting fault |
//! | rate_limiter | API requests per client, every API tick (100 ms) (`api_client_rps`) | a client exceeds its token bucket (200/s, burst 400; the bucket runs deployed or not) | rejects the excess (429) at the ingress | the API flood |
//!
//! # Steady state
//! The default Layer-1 hypothesis ([`Layer1Probe::healthy`], tolerances in
//! `layer1.steady_state` of the stack file):
//!
//! | measure | default |
//! |---|---|
//! | kernels running with heartbeats on time (`kernels_running_min`) | 20 of 20 |
//! | every critical kernel running with fresh heartbeats (`critical_kernels_all`) | yes |
//! | API success rate of legitimate requests over the window (`api_success_permille_min`) | 99 % |
//! | bus delivery latency (`bus_latency_ms_max`) | 500 ms |
//! | CPU utilisation (`cpu_permille_max`) | 90 % |
//! | human approvals queued behind a governance storm (`approval_backlog_s_max`) | 120 s |

pub mod api;
pub mod bus;
mod control_plane;
mod events;
mod monitors;
mod playbook_exec;
pub mod spec;

use std::collections::VecDeque;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::engine::{Ctx, EventInfo, EventKey, RngDraws, SeedPath, SimDuration, SimRng, SimTime};
use crate::error::FieldError;
use crate::model::Component;
use crate::model::governance::{Governance, GovernanceStats};
use crate::playbook::{Action, Playbook, PlaybookSet};
use crate::safeguard::{Cause, Evidence, Safeguard, SafeguardLog, SafeguardSet, Signal};

pub use spec::{
    ApiSpec, BusSpec, ControlPlaneSpec, CpuContention, DEFAULT_RON, ExecutorSpec, KernelSpec,
    Layer1Spec, PlaybookBindings, ResourcesSpec, SafeguardParams, SteadyStateSpec, TopicAcl,
};

pub use events::{Layer1Event, Layer1Fault};

/// A kernel's state as the model knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelState {
    /// Booting (first boot of the run).
    Booting,
    /// Running.
    Running,
    /// Paused (SIGSTOP): alive, no heartbeats, not yet noticed.
    Paused,
    /// Dead (killed), not yet noticed.
    Dead,
    /// The control plane noticed missing heartbeats or an exit; recovery pending.
    Unresponsive,
    /// Restarting (backoff or boot).
    Restarting,
    /// Failed: over its restart budget; the platform is degraded.
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Process {
    Booting,
    Running,
    Paused,
    Dead,
    Down,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Booting,
    Running,
    Unresponsive,
    Restarting,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Restore {
    None,
    Valid,
    Corrupt,
    Cold,
}

#[derive(Clone, Debug)]
struct Kernel {
    process: Process,
    status: Status,
    inc: u32,
    last_hb: SimTime,
    hb_key: Option<EventKey>,
    hb_due: SimTime,
    boot_key: Option<EventKey>,
    boot_due: SimTime,
    deadline_key: Option<EventKey>,
    restarts_total: u32,
    restarts_in_window: u32,
    last_restart: Option<SimTime>,
    recovery_pending: bool,
    emergency: bool,
    restore: Restore,
    cpu_hog_mc: u64,
    cpu_cap_mc: Option<u64>,
    leak_mib_per_s: u64,
    leaked_kib: u64,
    fill_mib_per_s: u64,
    net_hog_mbps: u64,
    net_cap_mbps: Option<u64>,
    /// The control plane paused it (a playbook's `PauseKernel`).
    held: bool,
    /// The fault that last harmed the process itself (kill, pause, OOM
    /// kill, corrupt restore) or whose effect had it restarted.
    harm: Option<Cause>,
    /// Every scenario whose fault contributed to the harm that took the
    /// process down (bit `scenario`), recorded when the control plane acted.
    harm_mask: u16,
    /// When the process last exited (for the exit-detection evidence).
    exited_at: SimTime,
    /// The fault behind this publisher's ACL flood.
    acl_cause: Option<Cause>,
    /// The faults behind this kernel's CPU hog, leak, disk fill, network hog.
    cpu_cause: Option<Cause>,
    leak_cause: Option<Cause>,
    fill_cause: Option<Cause>,
    net_cause: Option<Cause>,
}

const LANES: usize = 4;
const LANE_RESTART: usize = 0;
const LANE_ESCALATION: usize = 1;
const LANE_EMERGENCY: usize = 2;
const LANE_MONITOR: usize = 3;

/// Binding indices (see [`PlaybookBindings::pairs`]).
const PB_KERNEL: u8 = 0;
const PB_CRIT_ESCALATE: u8 = 1;
const PB_EMERGENCY: u8 = 2;
const PB_ACL: u8 = 3;
const PB_PRESSURE: u8 = 4;

const fn lane_of(pb: u8) -> usize {
    match pb {
        PB_KERNEL => LANE_RESTART,
        PB_CRIT_ESCALATE => LANE_ESCALATION,
        PB_EMERGENCY => LANE_EMERGENCY,
        _ => LANE_MONITOR,
    }
}

/// Resources watched by the pressure monitor (index in arrays).
const RES_CPU: u8 = 0;
const RES_MEM: u8 = 1;
const RES_DISK: u8 = 2;
const RES_NET: u8 = 3;

#[derive(Clone, Copy, Debug)]
struct Exec {
    pb: u8,
    target: u16,
    arg: u8,
    step: u8,
    acting: bool,
    /// The current step's tier-3 vote failed: the step must not act.
    denied: bool,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    lane: u8,
    gen_: u32,
    exec: Option<Exec>,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    pb: u8,
    target: u16,
    arg: u8,
}

/// What an observer sees of one busy playbook-executor slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaybookSlotView<'a> {
    /// The playbook's name.
    pub playbook: &'a str,
    /// Its target (a kernel index for kernel playbooks).
    pub target: u16,
    /// Current step index (0-based).
    pub step: u8,
    /// Steps in the playbook.
    pub steps: u8,
    /// `false`: the step waits for its governance routing (approval, vote);
    /// `true`: the step's action is running.
    pub acting: bool,
    /// The current step's action.
    pub action: crate::playbook::Action,
    /// The current step's intent (its governance tier).
    pub intent: crate::model::governance::Intent,
}

/// Runs of one playbook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaybookRuns {
    /// Playbook name.
    pub name: String,
    /// Executions started.
    pub started: u32,
    /// Executions that ran every step.
    pub completed: u32,
    /// Executions stopped early (target healthy again, failed, or pre-empted).
    pub aborted: u32,
}

/// Counters of a Layer-1 run (fixed size).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layer1Stats {
    /// Restarts started by the control plane.
    pub restarts: u64,
    /// Restarts of kernels whose process was running fine (the heartbeat
    /// loss was not the kernel's fault: bus delay, CPU starvation).
    pub false_restarts: u64,
    /// Kernels marked failed (over the restart budget).
    pub kernels_failed: u64,
    /// Heartbeat-watchdog deadline expiries.
    pub watchdog_timeouts: u64,
    /// Exited processes noticed by the kernel watchdog.
    pub exits_detected: u64,
    /// Heartbeats sent on the bus.
    pub heartbeats_sent: u64,
    /// Heartbeats dropped by a full bus buffer.
    pub heartbeats_dropped: u64,
    /// Critical kernels declared dead by the critical trigger.
    pub critical_detections: u64,
    /// Emergency recoveries started.
    pub emergency_recoveries: u64,
    /// Publishers quarantined.
    pub quarantines: u64,
    /// Resource hogs isolated (CPU cap, network cap, disk purge, memory restart).
    pub isolations: u64,
    /// Kernels killed by the OOM killer.
    pub oom_kills: u64,
    /// Corrupt snapshots skipped by the hygiene manager.
    pub snapshots_discarded: u64,
    /// Restores from a corrupt snapshot (followed by a crash).
    pub corrupt_restores: u64,
    /// Cold boots for lack of a valid snapshot.
    pub cold_boots: u64,
    /// Kernels paused by the control plane (a playbook's `PauseKernel`).
    pub holds: u64,
}

/// What an observer measures of Layer 1 at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer1Probe {
    /// Kernels running with fresh heartbeats (seen by the control plane).
    pub kernels_running: u16,
    /// Kernels in the stack.
    pub kernels_total: u16,
    /// Kernels failed (over the restart budget).
    pub kernels_failed: u16,
    /// Critical kernels running with fresh heartbeats.
    pub critical_running: u16,
    /// Critical kernels in the stack.
    pub critical_total: u16,
    /// API success rate of legitimate requests over the window, permille.
    pub api_success_permille: u16,
    /// API queueing delay, ms.
    pub api_latency_ms: u64,
    /// Bus delivery latency, ms.
    pub bus_latency_ms: u64,
    /// CPU utilisation, permille.
    pub cpu_permille: u16,
    /// Memory utilisation, permille.
    pub memory_permille: u16,
    /// Disk utilisation, permille.
    pub disk_permille: u16,
    /// How long a human approval requested now would queue behind a
    /// governance storm, seconds.
    pub approval_backlog_s: u64,
    /// Network utilisation, permille (demand / capacity, capped at 1000).
    pub network_permille: u16,
    /// The tolerances [`healthy`](Self::healthy) applies.
    pub tolerances: SteadyStateSpec,
}

impl Layer1Probe {
    /// The probe as integers, in a fixed order (folded into the run digest
    /// at every sample): kernels running, failed, critical running, API
    /// success permille, API latency ms, bus latency ms, CPU, memory, disk,
    /// network permille, approval backlog s.
    pub fn state_values(&self) -> [u64; 11] {
        [
            self.kernels_running.into(),
            self.kernels_failed.into(),
            self.critical_running.into(),
            self.api_success_permille.into(),
            self.api_latency_ms,
            self.bus_latency_ms,
            self.cpu_permille.into(),
            self.memory_permille.into(),
            self.disk_permille.into(),
            self.network_permille.into(),
            self.approval_backlog_s,
        ]
    }

    /// The default Layer-1 steady-state hypothesis, with the spec's
    /// tolerances: all critical kernels running (if required), at least
    /// `kernels_running_min` running, API success, bus latency and CPU within
    /// bounds.
    pub fn healthy(&self) -> bool {
        let t = &self.tolerances;
        (!t.critical_kernels_all || self.critical_running == self.critical_total)
            && self.kernels_running >= t.kernels_running_min
            && self.api_success_permille >= t.api_success_permille_min
            && self.bus_latency_ms <= t.bus_latency_ms_max
            && self.cpu_permille <= t.cpu_permille_max
            && self.approval_backlog_s <= t.approval_backlog_s_max
    }
}

/// The bit of a cause's scenario in a harm mask (0 for no cause).
fn cause_bit(c: Option<Cause>) -> u16 {
    c.map_or(0, |c| 1u16 << c.scenario.min(15))
}

/// The Layer-1 model. Build with [`Layer1::new`], call [`boot`](Self::boot)
/// at the start of the run, [`inject`](Self::inject) faults, read
/// [`probe`](Self::probe) and [`safeguards`](Self::safeguards).
pub struct Layer1 {
    spec: Layer1Spec,
    deployed: SafeguardSet,
    kernels: Vec<Kernel>,
    api_server: Option<u16>,
    bus: bus::Bus,
    api: api::Api,
    governance: Governance,
    gov_rng: SimRng,
    boot_rng: SimRng,
    log: SafeguardLog,
    stats: Layer1Stats,
    playbooks: Vec<Playbook>,
    /// Safeguards whose fixes the knowledge base already knows for the
    /// scenario at hand: their playbooks skip governance waits (pre-approved).
    known_fixes: SafeguardSet,
    pb_started: [u32; 5],
    pb_completed: [u32; 5],
    pb_aborted: [u32; 5],
    slots: Vec<Slot>,
    queues: [VecDeque<Pending>; LANES],
    slowdown_permille: u64,
    disk_used_kib: u64,
    last_resource_tick: SimTime,
    pressure_over: [u32; 4],
    pressure_pending: [bool; 4],
    acl_seen: Vec<u64>,
    acl_pending: Vec<bool>,
    limiter_active: bool,
    limiter_episodes: u64,
    snap_corrupt_mask: u8,
    dump: Option<Box<dyn Write>>,
    dump_error: Option<std::io::Error>,
    dump_origin: SimTime,
    /// The fault that last congested the bus (ACL flood, network hog).
    bus_cause: Option<Cause>,
    /// The fault behind the API flood.
    api_cause: Option<Cause>,
    /// The unified-logic voters (kernel indices).
    voters: Vec<u16>,
    /// Extra background load, permille of the spec's.
    load_permille: u16,
    /// The fault that corrupted the snapshots.
    corrupt_cause: Option<Cause>,
}

const KIB_PER_MIB: u64 = 1024;

/// The header of the control-plane dump ([`Layer1::attach_dump`]).
pub const DUMP_HEADER: &str = "t_s,kernel,state,restarts,heartbeat_age_ms,cpu_millicores,memory_mib,\
cpu_permille,memory_permille,disk_permille,network_permille,bus_latency_ms,api_success_permille\n";

impl Layer1 {
    /// A Layer-1 instance of `spec` with the `deployed` safeguards (only the
    /// Layer-1 ones matter here), random streams under `seed`, clock at
    /// `start`. The spec must be valid ([`Layer1Spec::validate`]).
    ///
    /// # Panics
    /// If the spec's playbook bindings name no embedded playbook (rejected
    /// by `validate`).
    pub fn new(
        spec: &Layer1Spec,
        deployed: SafeguardSet,
        seed: SeedPath,
        start: SimTime,
    ) -> Layer1 {
        Layer1::with_playbooks(spec, deployed, seed, start, &PlaybookSet::embedded())
            .expect("spec validated against the embedded playbooks")
    }

    /// Like [`new`](Self::new) with playbooks from `set` (e.g. a user's
    /// directory); an unbound or mismatched playbook is an error about the
    /// field `playbooks`.
    pub fn with_playbooks(
        spec: &Layer1Spec,
        deployed: SafeguardSet,
        seed: SeedPath,
        start: SimTime,
        set: &PlaybookSet,
    ) -> Result<Layer1, FieldError> {
        let mut playbooks = Vec::with_capacity(5);
        for (trigger, name) in spec.playbooks.pairs() {
            let pb = set.get(name).ok_or_else(|| {
                FieldError::new("playbooks", format!("unknown playbook '{name}'"))
            })?;
            if pb.trigger != trigger {
                return Err(FieldError::new(
                    "playbooks",
                    format!(
                        "'{name}' has trigger {:?}, expected {trigger:?}",
                        pb.trigger
                    ),
                ));
            }
            playbooks.push(pb.clone());
        }
        let n = spec.kernels.len();
        let flood_topic = spec
            .bus
            .topics
            .iter()
            .find(|t| t.topic == spec.bus.flood_topic);
        let flood_violates = spec
            .kernels
            .iter()
            .map(|k| {
                !flood_topic.is_some_and(|t| t.publishers.iter().any(|p| p == "*" || *p == k.name))
            })
            .collect();
        let kernels = vec![
            Kernel {
                process: Process::Down,
                status: Status::Booting,
                inc: 0,
                last_hb: start,
                hb_key: None,
                hb_due: start,
                boot_key: None,
                boot_due: start,
                deadline_key: None,
                restarts_total: 0,
                restarts_in_window: 0,
                last_restart: None,
                recovery_pending: false,
                emergency: false,
                restore: Restore::None,
                cpu_hog_mc: 0,
                cpu_cap_mc: None,
                leak_mib_per_s: 0,
                leaked_kib: 0,
                fill_mib_per_s: 0,
                net_hog_mbps: 0,
                net_cap_mbps: None,
                held: false,
                harm: None,
                harm_mask: 0,
                exited_at: start,
                acl_cause: None,
                cpu_cause: None,
                leak_cause: None,
                fill_cause: None,
                net_cause: None,
            };
            n
        ];
        let e = &spec.executor;
        let mut slots = Vec::new();
        for (lane, count) in [
            e.restart_concurrency_max,
            e.escalation_concurrency_max,
            e.emergency_concurrency_max,
            e.monitor_concurrency_max,
        ]
        .into_iter()
        .enumerate()
        {
            for _ in 0..count {
                slots.push(Slot {
                    lane: lane as u8,
                    gen_: 0,
                    exec: None,
                });
            }
        }
        let a = &spec.api;
        Ok(Layer1 {
            deployed,
            kernels,
            api_server: spec.kernel_index("api_server"),
            bus: bus::Bus::new(
                spec.bus.capacity_msgs_per_s,
                spec.bus.background_msgs_per_s,
                spec.bus.buffer_msgs_max,
                spec.bus.base_latency_ns,
                flood_violates,
                start,
            ),
            api: api::Api::new(
                a.capacity_rps,
                a.background_rps,
                a.queue_max,
                a.timeout_ns,
                a.tick_ns,
                a.window_ticks,
                spec.safeguards.rate_limit_burst,
            ),
            governance: Governance::new(spec.governance.clone()),
            gov_rng: seed.child("governance").rng(),
            boot_rng: seed.child("kernels").rng(),
            log: SafeguardLog::default(),
            stats: Layer1Stats::default(),
            playbooks,
            known_fixes: SafeguardSet::EMPTY,
            pb_started: [0; 5],
            pb_completed: [0; 5],
            pb_aborted: [0; 5],
            slots,
            queues: Default::default(),
            slowdown_permille: 1000,
            disk_used_kib: spec.resources.disk_used_base_mib * KIB_PER_MIB,
            last_resource_tick: start,
            pressure_over: [0; 4],
            pressure_pending: [false; 4],
            acl_seen: vec![0; n],
            acl_pending: vec![false; n],
            limiter_active: false,
            limiter_episodes: 0,
            snap_corrupt_mask: 0,
            dump: None,
            dump_error: None,
            dump_origin: start,
            bus_cause: None,
            api_cause: None,
            voters: spec
                .governance
                .voters
                .iter()
                .filter_map(|v| spec.kernel_index(v))
                .collect(),
            load_permille: 0,
            corrupt_cause: None,
            spec: spec.clone(),
        })
    }

    /// Stream the control-plane dump to `sink` every `dump_interval_ns`
    /// (5 s) of simulated time: one CSV row per kernel, with its state as
    /// the control plane sees it, its restarts, the age of its last
    /// heartbeat and its resource use, and the platform's utilisation.
    /// `t_s` is seconds since `origin` (the scenario clock: negative during
    /// the boot). Writes the header now; call before [`boot`](Self::boot).
    /// Rows are written as produced, never kept. Off (and free) unless
    /// attached.
    pub fn attach_dump(&mut self, mut sink: Box<dyn Write>, origin: SimTime) {
        if let Err(e) = sink.write_all(DUMP_HEADER.as_bytes()) {
            self.dump_error = Some(e);
        }
        self.dump = Some(sink);
        self.dump_origin = origin;
    }

    /// Fingerprints of Layer 1's whole state, by component (self-check:
    /// [`Ctx::report_state`](crate::engine::Ctx::report_state)): the kernels
    /// and control plane, the bus, the API ingress, the playbook executor
    /// and resources, governance.
    pub fn fingerprints(&self) -> [(&'static str, u64); 5] {
        use crate::engine::Fingerprint;
        let mut k = Fingerprint::new();
        for kern in &self.kernels {
            k.u64(kern.process as u64)
                .u64(kern.status as u64)
                .u64(kern.inc.into())
                .time(kern.last_hb)
                .u64(kern.restarts_total.into())
                .u64(kern.restarts_in_window.into())
                .opt(kern.last_restart.map(|t| t.as_nanos()))
                .bool(kern.recovery_pending)
                .bool(kern.emergency)
                .u64(kern.restore as u64)
                .u64(kern.cpu_hog_mc)
                .opt(kern.cpu_cap_mc)
                .u64(kern.leak_mib_per_s)
                .u64(kern.leaked_kib)
                .u64(kern.fill_mib_per_s)
                .u64(kern.net_hog_mbps)
                .opt(kern.net_cap_mbps)
                .bool(kern.held);
        }
        let s = &self.stats;
        for c in [
            s.restarts,
            s.false_restarts,
            s.kernels_failed,
            s.watchdog_timeouts,
            s.exits_detected,
            s.heartbeats_sent,
            s.heartbeats_dropped,
            s.critical_detections,
            s.emergency_recoveries,
        ] {
            k.u64(c);
        }
        let mut b = Fingerprint::new();
        self.bus.fingerprint(&mut b);
        let mut a = Fingerprint::new();
        self.api.fingerprint(&mut a);
        a.bool(self.limiter_active).u64(self.limiter_episodes);
        let mut e = Fingerprint::new();
        for slot in &self.slots {
            e.u64(slot.gen_.into());
            match slot.exec {
                Some(x) => e
                    .u64(1)
                    .u64(x.pb.into())
                    .u64(x.target.into())
                    .u64(x.step.into())
                    .bool(x.acting)
                    .bool(x.denied),
                None => e.u64(0),
            };
        }
        for q in &self.queues {
            e.u64(q.len() as u64);
            for p in q {
                e.u64(p.pb.into()).u64(p.target.into());
            }
        }
        e.u64(self.slowdown_permille)
            .u64(self.disk_used_kib)
            .u64(self.snap_corrupt_mask.into())
            .u64(self.load_permille.into());
        for i in 0..4 {
            e.u64(self.pressure_over[i].into())
                .bool(self.pressure_pending[i]);
        }
        for (i, &seen) in self.acl_seen.iter().enumerate() {
            e.u64(seen).bool(self.acl_pending[i]);
        }
        let mut g = Fingerprint::new();
        self.governance.fingerprint(&mut g);
        [
            ("layer1.kernels", k.finish()),
            ("layer1.bus", b.finish()),
            ("layer1.api", a.finish()),
            ("layer1.executor", e.finish()),
            ("layer1.governance", g.finish()),
        ]
    }

    /// Flush the dump sink; its first write error, if any.
    pub fn finish_dump(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.dump_error.take() {
            return Err(e);
        }
        match self.dump.as_mut() {
            Some(d) => d.flush(),
            None => Ok(()),
        }
    }

    /// The first write error of the dump sink, if any (the dump stops at it).
    pub fn dump_error(&self) -> Option<&std::io::Error> {
        self.dump_error.as_ref()
    }

    /// The spec this instance runs.
    pub fn spec(&self) -> &Layer1Spec {
        &self.spec
    }

    /// The deployed safeguards.
    pub fn deployed(&self) -> SafeguardSet {
        self.deployed
    }

    fn on(&self, s: Safeguard) -> bool {
        self.deployed.contains(s)
    }

    /// Index of the kernel named `name`.
    pub fn kernel_index(&self, name: &str) -> Option<u16> {
        self.spec.kernel_index(name)
    }

    /// Name of kernel `k`.
    pub fn kernel_name(&self, k: u16) -> &str {
        &self.spec.kernels[k as usize].name
    }

    /// Number of kernels.
    pub fn kernel_count(&self) -> usize {
        self.kernels.len()
    }

    /// The state of kernel `k`.
    pub fn kernel_state(&self, k: u16) -> KernelState {
        let kern = &self.kernels[k as usize];
        match kern.status {
            Status::Failed => KernelState::Failed,
            Status::Restarting => KernelState::Restarting,
            Status::Booting => KernelState::Booting,
            Status::Unresponsive => KernelState::Unresponsive,
            Status::Running => match kern.process {
                Process::Paused => KernelState::Paused,
                Process::Dead | Process::Down => KernelState::Dead,
                Process::Booting | Process::Running => KernelState::Running,
            },
        }
    }

    /// What kernel `k`'s process is doing, as the machine sees it (not the
    /// control plane): `"booting"`, `"running"`, `"paused"`, `"dead"` or
    /// `"down"`. For observers (the trace export); no allocation.
    pub fn kernel_process_name(&self, k: u16) -> &'static str {
        match self.kernels[k as usize].process {
            Process::Booting => "booting",
            Process::Running => "running",
            Process::Paused => "paused",
            Process::Dead => "dead",
            Process::Down => "down",
        }
    }

    /// Messages waiting in the bus buffer (as of the bus's last update).
    pub fn bus_backlog(&self) -> u64 {
        self.bus.backlog()
    }

    /// Number of playbook-executor slots.
    pub fn playbook_slot_count(&self) -> usize {
        self.slots.len()
    }

    /// What executor slot `i` is doing (`None` if idle or out of range).
    pub fn playbook_slot(&self, i: usize) -> Option<PlaybookSlotView<'_>> {
        let e = self.slots.get(i)?.exec?;
        let pb = &self.playbooks[e.pb as usize];
        let step = pb.steps[e.step as usize];
        Some(PlaybookSlotView {
            playbook: &pb.name,
            target: e.target,
            step: e.step,
            steps: pb.steps.len() as u8,
            acting: e.acting,
            action: step.action,
            intent: step.intent,
        })
    }

    /// Restarts of kernel `k` so far.
    pub fn kernel_restarts(&self, k: u16) -> u32 {
        self.kernels[k as usize].restarts_total
    }

    /// What fired, when first, how often.
    pub fn safeguards(&self) -> &SafeguardLog {
        &self.log
    }

    /// Run counters.
    pub fn stats(&self) -> &Layer1Stats {
        &self.stats
    }

    /// Governance counters (approvals waited, votes, overrides).
    pub fn governance_stats(&self) -> &GovernanceStats {
        self.governance.stats()
    }

    /// How long a tier-0 approval requested now would queue behind a storm.
    pub fn approval_backlog(&self, now: SimTime) -> SimDuration {
        self.governance.backlog(now)
    }

    /// Raise the background load to `permille` more than the spec's (API
    /// requests and bus traffic; never lowers it).
    pub fn raise_load(&mut self, now: SimTime, permille: u16) {
        if permille <= self.load_permille {
            return;
        }
        self.load_permille = permille;
        let more = |base: u64| base + base * u64::from(permille) / 1000;
        self.api
            .set_background_rps(more(self.spec.api.background_rps));
        self.bus
            .set_background(now, more(self.spec.bus.background_msgs_per_s));
    }

    /// Tell the stack which fixes the knowledge base knows for the scenario
    /// at hand: playbooks started by those safeguards run pre-approved (no
    /// human approval, no vote), which is how a known fix replays faster.
    pub fn set_known_fixes(&mut self, known: SafeguardSet) {
        self.known_fixes = known;
    }

    /// Whether kernel `k` is critical.
    pub fn is_critical(&self, k: u16) -> bool {
        self.spec
            .kernels
            .get(k as usize)
            .is_some_and(|s| s.critical)
    }

    /// The kernels' names, in index order.
    pub fn kernel_names(&self) -> Vec<&str> {
        self.spec.kernels.iter().map(|k| k.name.as_str()).collect()
    }

    /// Runs per bound playbook, in binding order.
    pub fn playbook_runs(&self) -> Vec<PlaybookRuns> {
        self.playbooks
            .iter()
            .enumerate()
            .map(|(i, p)| PlaybookRuns {
                name: p.name.clone(),
                started: self.pb_started[i],
                completed: self.pb_completed[i],
                aborted: self.pb_aborted[i],
            })
            .collect()
    }

    /// Executions of the playbook named `name` that ran every step.
    pub fn playbook_completed(&self, name: &str) -> u32 {
        self.playbooks
            .iter()
            .position(|p| p.name == name)
            .map_or(0, |i| self.pb_completed[i])
    }

    /// Executions of the playbook named `name` started.
    pub fn playbook_started(&self, name: &str) -> u32 {
        self.playbooks
            .iter()
            .position(|p| p.name == name)
            .map_or(0, |i| self.pb_started[i])
    }

    /// ACL violations counted on the bus so far.
    pub fn acl_violations(&self) -> u64 {
        self.bus.violations_total()
    }

    /// Requests the rate limiter rejected so far.
    pub fn api_rejected_by_limiter(&self) -> u64 {
        self.api.limiter_rejected_milli / 1000
    }

    /// Episodes in which the rate limiter rejected requests.
    pub fn rate_limiter_episodes(&self) -> u64 {
        self.limiter_episodes
    }

    /// Whether `publisher` is quarantined on the bus.
    pub fn is_quarantined(&self, publisher: u16) -> bool {
        self.bus.is_quarantined(publisher as usize)
    }

    /// The CPU cap put on kernel `k`'s hog by isolation, millicores.
    pub fn cpu_cap_millicores(&self, k: u16) -> Option<u64> {
        self.kernels[k as usize].cpu_cap_mc
    }

    fn fresh_window(&self, k: usize) -> SimDuration {
        SimDuration::from_nanos(self.spec.kernels[k].heartbeat_interval_ns).saturating_mul(
            u64::from(self.spec.control_plane.missed_heartbeats_before_restart),
        )
    }

    fn is_fresh(&self, k: usize, now: SimTime) -> bool {
        let kern = &self.kernels[k];
        kern.status == Status::Running
            && kern.process != Process::Down
            && now.saturating_duration_since(kern.last_hb) <= self.fresh_window(k)
    }

    /// Healthy in the control plane's eyes and actually alive.
    fn is_healthy(&self, k: usize, now: SimTime) -> bool {
        self.is_fresh(k, now) && self.kernels[k].process == Process::Running
    }

    fn cpu_demand_mc(&self) -> u64 {
        let mut d = 0u64;
        for (i, k) in self.kernels.iter().enumerate() {
            if matches!(k.process, Process::Booting | Process::Running) {
                d += u64::from(self.spec.kernels[i].cpu_millicores);
                // A hog burns CPU only while its process runs.
                let hog = k.cpu_cap_mc.map_or(k.cpu_hog_mc, |c| k.cpu_hog_mc.min(c));
                d += hog;
            }
        }
        d
    }

    /// The CPU the hogs of running processes burn (after isolation caps).
    fn cpu_hog_demand_mc(&self) -> u64 {
        self.kernels
            .iter()
            .filter(|k| matches!(k.process, Process::Booting | Process::Running))
            .map(|k| k.cpu_cap_mc.map_or(k.cpu_hog_mc, |c| k.cpu_hog_mc.min(c)))
            .sum()
    }

    fn memory_used_kib(&self) -> u64 {
        let mut m = 0;
        for (i, k) in self.kernels.iter().enumerate() {
            if matches!(
                k.process,
                Process::Booting | Process::Running | Process::Paused
            ) {
                m += u64::from(self.spec.kernels[i].memory_mib) * KIB_PER_MIB + k.leaked_kib;
            }
        }
        m
    }

    fn network_demand_mbps(&self) -> u64 {
        let mut d = self.spec.resources.network_base_mbps;
        for k in &self.kernels {
            if k.process == Process::Running {
                d += k
                    .net_cap_mbps
                    .map_or(k.net_hog_mbps, |c| k.net_hog_mbps.min(c));
            }
        }
        d
    }

    fn disk_full(&self) -> bool {
        self.disk_used_kib >= self.spec.resources.disk_mib * KIB_PER_MIB
    }

    /// The Layer-1 probe at `now`.
    pub fn probe(&self, now: SimTime) -> Layer1Probe {
        let mut running = 0u16;
        let mut crit_running = 0u16;
        let mut crit_total = 0u16;
        let mut failed = 0u16;
        for (i, k) in self.kernels.iter().enumerate() {
            let fresh = self.is_fresh(i, now);
            if fresh {
                running += 1;
            }
            if self.spec.kernels[i].critical {
                crit_total += 1;
                if fresh {
                    crit_running += 1;
                }
            }
            if k.status == Status::Failed {
                failed += 1;
            }
        }
        let r = &self.spec.resources;
        let permille =
            |used: u64, cap: u64| (used.saturating_mul(1000) / cap.max(1)).min(1000) as u16;
        Layer1Probe {
            kernels_running: running,
            kernels_total: self.kernels.len() as u16,
            kernels_failed: failed,
            critical_running: crit_running,
            critical_total: crit_total,
            api_success_permille: self.api.success_permille(),
            api_latency_ms: self.api.latency_ms(),
            bus_latency_ms: self.bus.latency_at(now).as_millis(),
            cpu_permille: permille(self.cpu_demand_mc(), u64::from(r.cpu_millicores)),
            memory_permille: permille(self.memory_used_kib(), r.memory_mib * KIB_PER_MIB),
            disk_permille: permille(self.disk_used_kib, r.disk_mib * KIB_PER_MIB),
            approval_backlog_s: self.governance.backlog(now).as_secs_f64() as u64,
            network_permille: permille(self.network_demand_mbps(), r.network_mbps),
            tolerances: self.spec.steady_state,
        }
    }

    /// The probe as scenario `scenario` of a concurrent run sees it: harm
    /// whose traced cause is *another* scenario's fault is left out, so each
    /// scenario is judged on what its own faults did (MISSION section 2: in a
    /// run of several scenarios, credit goes to the scenario whose fault
    /// caused it). A kernel silenced, killed or failed by another scenario's
    /// fault counts as running; another scenario's CPU hog is not counted;
    /// the bus reads its base latency while another scenario's flood is what
    /// congests it; API failures behind another scenario's API flood or its
    /// harm to the API server are not counted. Harm with no traced cause
    /// counts against every scenario. With one scenario this is
    /// [`probe`](Self::probe).
    pub fn probe_for(&self, now: SimTime, scenario: u8) -> Layer1Probe {
        let mut p = self.probe(now);
        let foreign = |c: Option<Cause>| c.is_some_and(|c| c.scenario != scenario);
        let mut running = 0u16;
        let mut crit_running = 0u16;
        let own = 1u16 << scenario.min(15);
        for i in 0..self.kernels.len() {
            let mask = if self.is_fresh(i, now) {
                0
            } else {
                self.live_harm_mask(i) | cause_bit(self.silence_cause(i))
            };
            // Counted as running: fresh, or down only through other
            // scenarios' faults.
            let ok = self.is_fresh(i, now) || (mask != 0 && mask & own == 0);
            if ok {
                running += 1;
                if self.spec.kernels[i].critical {
                    crit_running += 1;
                }
            }
        }
        p.kernels_running = running;
        p.critical_running = crit_running;
        if foreign(self.bus_cause) {
            p.bus_latency_ms = p
                .bus_latency_ms
                .min(self.spec.bus.base_latency_ns / 1_000_000);
        }
        let mut foreign_hog = 0u64;
        for k in &self.kernels {
            if matches!(k.process, Process::Booting | Process::Running) && foreign(k.cpu_cause) {
                foreign_hog += k.cpu_cap_mc.map_or(k.cpu_hog_mc, |c| k.cpu_hog_mc.min(c));
            }
        }
        if foreign_hog > 0 {
            let cap = u64::from(self.spec.resources.cpu_millicores).max(1);
            let demand = self.cpu_demand_mc().saturating_sub(foreign_hog);
            p.cpu_permille = (demand.saturating_mul(1000) / cap).min(1000) as u16;
        }
        let own_api_flood = self.api_cause.is_some_and(|c| c.scenario == scenario);
        let api_server_harmed_by_other = self
            .api_server
            .is_some_and(|a| foreign(self.kernels[usize::from(a)].harm));
        if foreign(self.api_cause) || (api_server_harmed_by_other && !own_api_flood) {
            p.api_success_permille = p.api_success_permille.max(1000);
        }
        p
    }

    /// An operator restores the platform (a test harness between stress
    /// waves): every failed kernel is restarted at once and every kernel's
    /// restart budget is cleared. Returns the number of kernels restarted.
    pub fn operator_restore<E: From<Layer1Event>>(&mut self, ctx: &mut Ctx<'_, E>) -> u32 {
        let mut restored = 0;
        for k in 0..self.kernels.len() {
            self.kernels[k].restarts_in_window = 0;
            if self.kernels[k].status != Status::Failed {
                continue;
            }
            restored += 1;
            self.cancel_timers(k, ctx);
            let kern = &mut self.kernels[k];
            kern.process = Process::Down;
            kern.status = Status::Restarting;
            kern.recovery_pending = false;
            kern.emergency = false;
            kern.harm = None;
            kern.harm_mask = 0;
            kern.inc += 1;
            let inc = kern.inc;
            ctx.schedule_in(
                SimDuration::ZERO,
                Layer1Event::RestartBegin {
                    kernel: k as u16,
                    inc,
                }
                .into(),
            );
        }
        self.recompute_cpu(ctx);
        restored
    }

    /// The boot phase of a run: every kernel boots (boot time x U[0.9, 1.1]
    /// from the `kernels` stream), periodic ticks start. Call once.
    pub fn boot<E: From<Layer1Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        for k in 0..self.kernels.len() {
            self.kernels[k].status = Status::Booting;
            self.kernels[k].process = Process::Booting;
            self.schedule_boot(k, ctx);
        }
        self.recompute_cpu(ctx);
        let s = &self.spec;
        ctx.schedule_in(
            SimDuration::from_nanos(s.api.tick_ns),
            Layer1Event::ApiTick.into(),
        );
        ctx.schedule_in(
            SimDuration::from_nanos(s.resources.tick_ns),
            Layer1Event::ResourceTick.into(),
        );
        ctx.schedule_in(
            SimDuration::from_nanos(s.safeguards.snapshot_interval_ns),
            Layer1Event::SnapshotTake.into(),
        );
        // The monitors' checks run deployed or not: not deployed, they are
        // shadow detectors that record when their condition was met.
        ctx.schedule_in(
            SimDuration::from_nanos(s.safeguards.acl_check_interval_ns),
            Layer1Event::AclCheck.into(),
        );
        ctx.schedule_in(
            SimDuration::from_nanos(s.control_plane.critical_check_interval_ns),
            Layer1Event::CriticalCheck.into(),
        );
        // The dump's tick runs whether or not a dump is attached, so
        // attaching one never changes the run (its events and digest).
        ctx.schedule_in(
            SimDuration::from_nanos(s.dump_interval_ns),
            Layer1Event::Dump.into(),
        );
    }

    /// Inject `fault` now, as fault 0 of scenario 0 (see
    /// [`inject_caused`](Self::inject_caused)).
    pub fn inject<E: From<Layer1Event>>(&mut self, fault: &Layer1Fault, ctx: &mut Ctx<'_, E>) {
        self.inject_caused(fault, Cause::default(), ctx);
    }

    /// Inject `fault` now; firings and needs it brings about are credited
    /// to `cause`. A fault that changes nothing (a zero rate, a kernel that
    /// is already down) becomes the cause of nothing. A fault naming a
    /// kernel index out of range does nothing (check faults with
    /// [`Layer1Fault::validate`] when reading them).
    pub fn inject_caused<E: From<Layer1Event>>(
        &mut self,
        fault: &Layer1Fault,
        cause: Cause,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let n = self.kernels.len();
        let valid = |k: u16| (k as usize) < n;
        match *fault {
            Layer1Fault::KillKernel { kernel } if valid(kernel) => {
                let k = kernel as usize;
                if matches!(
                    self.kernels[k].process,
                    Process::Running | Process::Paused | Process::Booting
                ) {
                    self.kernels[k].harm = Some(cause);
                }
                self.kill(k, ctx);
            }
            Layer1Fault::PauseHeartbeat { kernel, length_ns } if valid(kernel) => {
                let k = kernel as usize;
                if self.kernels[k].process == Process::Running {
                    self.kernels[k].harm = Some(cause);
                    self.kernels[k].process = Process::Paused;
                    if let Some(key) = self.kernels[k].hb_key.take() {
                        ctx.cancel(key);
                    }
                    let inc = self.kernels[k].inc;
                    ctx.schedule_in(
                        SimDuration::from_nanos(length_ns),
                        Layer1Event::Resume { kernel, inc }.into(),
                    );
                    self.recompute_cpu(ctx);
                }
            }
            Layer1Fault::AclFlood {
                publisher,
                rate_per_s,
                length_ns,
            } if valid(publisher) => {
                if rate_per_s > 0 {
                    self.kernels[publisher as usize].acl_cause = Some(cause);
                    self.bus_cause = Some(cause);
                }
                let max = self.spec.safeguards.acl_violations_per_s_max;
                if self.deployed.contains(Safeguard::AclViolationMonitor)
                    && self.bus.is_quarantined(publisher as usize)
                    && u64::from(rate_per_s) > max
                {
                    // The monitor's earlier quarantine is still in force: it
                    // blocks this flood at the bus edge from the first message.
                    let ev = Evidence::of(
                        now,
                        Signal::AclViolationsPerS,
                        rate_per_s.into(),
                        max,
                        Some(cause),
                    );
                    self.log.fire(Safeguard::AclViolationMonitor, ev);
                }
                self.bus
                    .add_flood(now, publisher as usize, rate_per_s.into(), true);
                ctx.schedule_in(
                    SimDuration::from_nanos(length_ns),
                    Layer1Event::AclFloodEnd {
                        publisher,
                        rate_per_s,
                    }
                    .into(),
                );
            }
            Layer1Fault::CpuSpike {
                kernel,
                share_permille,
                length_ns,
            } if valid(kernel) => {
                let mc = u64::from(self.spec.resources.cpu_millicores) * u64::from(share_permille)
                    / 1000;
                let mc32 = u32::try_from(mc).unwrap_or(u32::MAX);
                if mc32 > 0 {
                    self.kernels[kernel as usize].cpu_cause = Some(cause);
                }
                self.kernels[kernel as usize].cpu_hog_mc += u64::from(mc32);
                ctx.schedule_in(
                    SimDuration::from_nanos(length_ns),
                    Layer1Event::CpuSpikeEnd {
                        kernel,
                        millicores: mc32,
                    }
                    .into(),
                );
                self.recompute_cpu(ctx);
            }
            Layer1Fault::MemoryLeak {
                kernel,
                mib_per_s,
                length_ns,
            } if valid(kernel) => {
                self.account_resources(now);
                if mib_per_s > 0 {
                    self.kernels[kernel as usize].leak_cause = Some(cause);
                }
                self.kernels[kernel as usize].leak_mib_per_s += u64::from(mib_per_s);
                ctx.schedule_in(
                    SimDuration::from_nanos(length_ns),
                    Layer1Event::MemoryLeakEnd { kernel, mib_per_s }.into(),
                );
            }
            Layer1Fault::DiskFill {
                kernel,
                mib_per_s,
                length_ns,
            } if valid(kernel) => {
                self.account_resources(now);
                if mib_per_s > 0 {
                    self.kernels[kernel as usize].fill_cause = Some(cause);
                }
                self.kernels[kernel as usize].fill_mib_per_s += u64::from(mib_per_s);
                ctx.schedule_in(
                    SimDuration::from_nanos(length_ns),
                    Layer1Event::DiskFillEnd { kernel, mib_per_s }.into(),
                );
            }
            Layer1Fault::NetworkSaturation {
                kernel,
                share_permille,
                length_ns,
            } if valid(kernel) => {
                let mbps = self.spec.resources.network_mbps * u64::from(share_permille) / 1000;
                let mbps32 = u32::try_from(mbps).unwrap_or(u32::MAX);
                if mbps32 > 0 {
                    self.kernels[kernel as usize].net_cause = Some(cause);
                    // A saturated link shrinks the bus's capacity.
                    self.bus_cause = Some(cause);
                }
                self.kernels[kernel as usize].net_hog_mbps += u64::from(mbps32);
                ctx.schedule_in(
                    SimDuration::from_nanos(length_ns),
                    Layer1Event::NetworkSaturationEnd {
                        kernel,
                        mbps: mbps32,
                    }
                    .into(),
                );
                self.recompute_network(now);
            }
            Layer1Fault::ApiFlood {
                rate_per_s,
                length_ns,
            } => {
                if rate_per_s > 0 {
                    self.api_cause = Some(cause);
                }
                self.api.flood_rps += u64::from(rate_per_s);
                ctx.schedule_in(
                    SimDuration::from_nanos(length_ns),
                    Layer1Event::ApiFloodEnd { rate_per_s }.into(),
                );
            }
            Layer1Fault::CorruptSnapshots { count } => {
                let kept = self.spec.safeguards.snapshots_kept.min(8);
                let c = u32::from(count).min(u32::from(kept));
                let mask = if c >= 8 { 0xFF } else { (1u16 << c) as u8 - 1 };
                if mask != 0 {
                    self.corrupt_cause = Some(cause);
                }
                self.snap_corrupt_mask |= mask;
            }
            Layer1Fault::GovernanceStorm { intents } => self.governance.storm(intents, now),
            // An out-of-range kernel index: nothing to inject into.
            _ => {}
        }
    }

    /// The fault behind kernel `k`'s missing heartbeats, traced through
    /// what stops them: a process that is not running was harmed itself
    /// (killed, paused, OOM-killed, restored from a corrupt snapshot); a
    /// running one is blocked by a full disk (disk writers), delayed behind
    /// a congested bus, or starved by a CPU hog.
    fn silence_cause(&self, k: usize) -> Option<Cause> {
        let kern = &self.kernels[k];
        if kern.process != Process::Running {
            return kern.harm.or(self.bus_cause);
        }
        if self.spec.kernels[k].disk_writer && self.disk_full() {
            let filler = self.top_cause(|k| k.fill_mib_per_s, |k| k.fill_cause);
            if filler.is_some() {
                return filler;
            }
        }
        if self.bus.backlog() > 0 && self.bus_cause.is_some() {
            return self.bus_cause;
        }
        if self.slowdown_permille > 1000 {
            let hog = self.top_cause(|k| k.cpu_hog_mc, |k| k.cpu_cause);
            if hog.is_some() {
                return hog;
            }
        }
        kern.harm.or(self.bus_cause)
    }

    /// Every scenario whose fault contributes to kernel `k`'s silence now
    /// (bit `scenario`): its own harm and, for a running process, a disk
    /// filler blocking it, a flood congesting the bus, every CPU hog while
    /// the CPU is overloaded. [`silence_cause`](Self::silence_cause) names
    /// the first of these; this names them all.
    fn live_harm_mask(&self, k: usize) -> u16 {
        let kern = &self.kernels[k];
        if kern.process != Process::Running {
            // The process itself is down or paused: what harmed it, and what
            // the control plane recorded when it acted in this episode.
            return cause_bit(kern.harm) | kern.harm_mask;
        }
        let mut m = 0;
        if self.spec.kernels[k].disk_writer && self.disk_full() {
            for o in &self.kernels {
                if o.fill_mib_per_s > 0 {
                    m |= cause_bit(o.fill_cause);
                }
            }
        }
        if self.bus.backlog() > 0 {
            m |= cause_bit(self.bus_cause);
        }
        if self.slowdown_permille > 1000 {
            for o in &self.kernels {
                if o.cpu_hog_mc > 0 {
                    m |= cause_bit(o.cpu_cause);
                }
            }
        }
        m
    }

    /// The cause of the kernel with the largest `amount` (ties: lowest index).
    fn top_cause(
        &self,
        amount: impl Fn(&Kernel) -> u64,
        cause: impl Fn(&Kernel) -> Option<Cause>,
    ) -> Option<Cause> {
        self.kernels
            .iter()
            .filter(|k| amount(k) > 0)
            .max_by_key(|k| amount(k))
            .and_then(cause)
    }
}

impl Component for Layer1 {
    type Event = Layer1Event;

    fn handle<E: From<Layer1Event>>(&mut self, event: Layer1Event, ctx: &mut Ctx<'_, E>) {
        use Layer1Event::*;
        let now = ctx.now();
        match event {
            BootDone { kernel, inc } => {
                let k = kernel as usize;
                if self.kernels[k].inc != inc || self.kernels[k].process != Process::Booting {
                    return;
                }
                self.kernels[k].boot_key = None;
                let kern = &mut self.kernels[k];
                kern.process = Process::Running;
                kern.status = Status::Running;
                kern.last_hb = now;
                // A fresh process: earlier harm no longer explains it.
                kern.harm_mask = 0;
                kern.leaked_kib = 0;
                kern.recovery_pending = false;
                kern.emergency = false;
                let corrupt = kern.restore == Restore::Corrupt;
                kern.restore = Restore::None;
                if corrupt {
                    ctx.schedule_in(
                        SimDuration::from_nanos(self.spec.safeguards.corrupt_crash_after_ns),
                        CorruptCrash { kernel, inc }.into(),
                    );
                }
                self.arm_deadline(k, ctx);
                self.emit_heartbeat(k, ctx);
            }
            HeartbeatEmit { kernel, inc } => {
                let k = kernel as usize;
                if self.kernels[k].inc != inc || self.kernels[k].process != Process::Running {
                    return;
                }
                self.kernels[k].hb_key = None;
                self.emit_heartbeat(k, ctx);
            }
            HeartbeatArrive { kernel, inc } => {
                let k = kernel as usize;
                let kern = &mut self.kernels[k];
                if kern.inc != inc || matches!(kern.status, Status::Failed | Status::Restarting) {
                    return;
                }
                kern.last_hb = now;
                if kern.status == Status::Unresponsive
                    && !kern.emergency
                    && kern.process == Process::Running
                {
                    // Suspicion cleared: the kernel is alive after all (a
                    // heartbeat that was in flight when it died does not count).
                    kern.status = Status::Running;
                }
                if kern.status == Status::Running {
                    self.arm_deadline(k, ctx);
                }
            }
            WatchdogDeadline { kernel, inc } => {
                let k = kernel as usize;
                if self.kernels[k].inc != inc || self.kernels[k].status != Status::Running {
                    return;
                }
                self.kernels[k].deadline_key = None;
                let silence = now.saturating_duration_since(self.kernels[k].last_hb);
                let cause = self.silence_cause(k);
                let ev = Evidence::of(
                    now,
                    Signal::HeartbeatSilenceMs,
                    silence.as_millis(),
                    self.fresh_window(k).as_millis(),
                    cause,
                );
                if !self.log.detect(
                    Safeguard::HeartbeatWatchdog,
                    self.on(Safeguard::HeartbeatWatchdog),
                    ev,
                ) {
                    return; // shadow: re-armed by the next heartbeat
                }
                self.stats.watchdog_timeouts += 1;
                self.kernels[k].harm_mask |= self.live_harm_mask(k) | cause_bit(cause);
                self.kernels[k].status = Status::Unresponsive;
                self.kernels[k].harm = cause.or(self.kernels[k].harm);
                self.start_recovery(k, ctx);
            }
            ExitDetected { kernel, inc } => {
                let k = kernel as usize;
                let kern = &self.kernels[k];
                if kern.inc != inc || kern.process != Process::Dead || kern.status == Status::Failed
                {
                    return;
                }
                let ev = Evidence::of(
                    now,
                    Signal::ProcessExitedMs,
                    now.saturating_duration_since(kern.exited_at).as_millis(),
                    self.spec.control_plane.exit_detect_ns / 1_000_000,
                    kern.harm,
                );
                if !self.log.detect(
                    Safeguard::KernelWatchdog,
                    self.on(Safeguard::KernelWatchdog),
                    ev,
                ) {
                    return;
                }
                self.stats.exits_detected += 1;
                if let Some(key) = self.kernels[k].deadline_key.take() {
                    ctx.cancel(key);
                }
                if !self.kernels[k].emergency {
                    self.kernels[k].status = Status::Unresponsive;
                    self.start_recovery(k, ctx);
                }
            }
            RestartBegin { kernel, inc } => {
                let k = kernel as usize;
                if self.kernels[k].inc != inc || self.kernels[k].status != Status::Restarting {
                    return;
                }
                self.kernels[k].process = Process::Booting;
                self.schedule_boot(k, ctx);
                self.recompute_cpu(ctx);
            }
            Resume { kernel, inc } => {
                let k = kernel as usize;
                if self.kernels[k].inc != inc || self.kernels[k].process != Process::Paused {
                    return;
                }
                self.kernels[k].process = Process::Running;
                self.recompute_cpu(ctx);
                self.emit_heartbeat(k, ctx);
            }
            AclFloodEnd {
                publisher,
                rate_per_s,
            } => {
                self.bus
                    .add_flood(now, publisher as usize, rate_per_s.into(), false);
            }
            AclCheck => self.on_acl_check(ctx),
            CpuSpikeEnd { kernel, millicores } => {
                let kern = &mut self.kernels[kernel as usize];
                kern.cpu_hog_mc = kern.cpu_hog_mc.saturating_sub(millicores.into());
                if kern.cpu_hog_mc == 0 {
                    kern.cpu_cap_mc = None;
                }
                self.recompute_cpu(ctx);
            }
            ResourceTick => self.on_resource_tick(ctx),
            CriticalCheck => self.on_critical_check(ctx),
            PlaybookStep { slot, gen_ } => self.on_playbook_step(slot as usize, gen_, ctx),
            ApiTick => self.on_api_tick(ctx),
            ApiFloodEnd { rate_per_s } => {
                self.api.flood_rps = self.api.flood_rps.saturating_sub(rate_per_s.into());
            }
            SnapshotTake => {
                let kept = self.spec.safeguards.snapshots_kept.min(8);
                let mask = if kept >= 8 {
                    0xFF
                } else {
                    (1u16 << kept) as u8 - 1
                };
                self.snap_corrupt_mask = (self.snap_corrupt_mask << 1) & mask;
                ctx.schedule_in(
                    SimDuration::from_nanos(self.spec.safeguards.snapshot_interval_ns),
                    SnapshotTake.into(),
                );
            }
            Dump => self.on_dump(ctx),
            MemoryLeakEnd { kernel, mib_per_s } => {
                self.account_resources(now);
                let kern = &mut self.kernels[kernel as usize];
                kern.leak_mib_per_s = kern.leak_mib_per_s.saturating_sub(mib_per_s.into());
            }
            DiskFillEnd { kernel, mib_per_s } => {
                self.account_resources(now);
                let kern = &mut self.kernels[kernel as usize];
                kern.fill_mib_per_s = kern.fill_mib_per_s.saturating_sub(mib_per_s.into());
            }
            NetworkSaturationEnd { kernel, mbps } => {
                let kern = &mut self.kernels[kernel as usize];
                kern.net_hog_mbps = kern.net_hog_mbps.saturating_sub(mbps.into());
                if kern.net_hog_mbps == 0 {
                    kern.net_cap_mbps = None;
                }
                self.recompute_network(now);
            }
            QuarantineEnd { publisher } => {
                self.bus.set_quarantined(now, publisher as usize, false);
            }
            CorruptCrash { kernel, inc } => {
                let k = kernel as usize;
                if self.kernels[k].inc == inc {
                    self.kernels[k].harm = self.corrupt_cause.or(self.kernels[k].harm);
                    self.kill(k, ctx);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_ron_equals_default_and_validates() {
        let parsed = Layer1Spec::embedded();
        assert_eq!(parsed, Layer1Spec::default());
        parsed.validate().unwrap();
        assert_eq!(parsed.kernels.len(), 20);
        assert_eq!(parsed.control_plane.restarts_max, 3);
        assert!(!parsed.default_safeguards.contains(Safeguard::RateLimiter));
    }
}
