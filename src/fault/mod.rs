//! Faults: every kind the nemesis can inject and everything the simulator
//! knows about each kind, in one place.
//!
//! Each per-kind fact is an exhaustive `match` on [`FaultKind`] (no `_ =>`
//! arm), so adding a kind is one enum variant and the compiler lists every
//! fact it needs:
//!
//! | fact | where |
//! |---|---|
//! | the layer it needs ([`FaultLayer`]) | [`FaultKind::layer`] |
//! | whether its length and intensity change what it does | [`FaultKind::uses_length`], [`FaultKind::uses_intensity`] |
//! | its short name (swarm configurations) | [`FaultKind::short`] |
//! | the safeguards that respond to it | [`FaultKind::responder_list`] |
//! | its natural parameters at intensity 1 (data, [`FaultParams`]) | `scenario::resolve` maps them to layer actions |
//! | how difficulty scales it (more targets; repeats; the level table, [`DifficultyTable`]) | [`FaultKind::widens`] |
//! | what a swarm draw varies | [`FaultKind::swarm`] |
//!
//! The magnitudes (flood rates, invalid shares, periods, skews) and the
//! difficulty levels are data: the `faults` and `difficulty` sections of
//! the stack file ([`FaultParams`], `src/defaults/faults.ron`;
//! [`DifficultyTable`], `src/defaults/difficulty.ron`).
//!
//! **Invariant:** `fault` is plain data and facts: it knows no layer's
//! model; `scenario::resolve` turns a fault into layer actions.

pub mod difficulty;
pub mod params;

use serde::{Deserialize, Serialize};

use crate::safeguard::{Safeguard, SafeguardSet};

pub use difficulty::{DifficultyTable, Level, SeverityLabel};
pub use params::FaultParams;

macro_rules! fault_kinds {
    ($( $(#[$doc:meta])* $variant:ident, )*) => {
        /// What a fault does. Each kind acts on one component of the stack;
        /// its `intensity` (0..=1) scales the kind's natural parameter
        /// ([`FaultParams`], defaults as documented on each variant).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum FaultKind {
            $( $(#[$doc])* $variant, )*
        }

        impl FaultKind {
            /// Every kind, in declaration order (generated with the enum, so
            /// it cannot miss one).
            pub const ALL: &'static [FaultKind] = &[ $( FaultKind::$variant, )* ];
        }
    };
}

fault_kinds! {
    /// Kill kernels (SIGKILL); intensity unused.
    KillKernel,
    /// Stop a kernel's heartbeats for the fault's length (SIGSTOP-like).
    PauseHeartbeat,
    /// A publisher floods the bus with ACL-violating messages; intensity x 30,000 msg/s.
    AclFlood,
    /// A hog saturates CPU; intensity x 4 = the cores it wants, as a share of all cores.
    CpuSpike,
    /// A kernel leaks memory; intensity x 500 MiB/s.
    MemoryLeak,
    /// A kernel fills the disk; intensity x 3,000 MiB/s.
    DiskFill,
    /// A kernel saturates the network; intensity x 4 = its demand as a share of the link.
    NetworkSaturation,
    /// An API request flood; intensity x 40,000 requests/s.
    ApiFlood,
    /// Snapshots are corrupted; intensity x 10 snapshots.
    CorruptSnapshots,
    /// A downstream dependency fails calls; intensity = error share.
    DependencyFailure,
    /// A flood of intents into the HTM queue (half invalid by default);
    /// intensity x 20,000 intents over the fault's length.
    QueueFlood,
    /// A trigger-mesh event storm; intensity x 10,000 events/s.
    TriggerStorm,
    /// The scheduler is paused with work queued; intensity x 2,000 tasks queued.
    PauseScheduler,
    /// Policies triggering policies; intensity x 20 levels deep.
    PolicyCascade,
    /// Workers killed at random; intensity = share of the pool.
    WorkerDropout,
    /// A serving replica fails (drives the sandbox fallback).
    ReplicaFailure,
    /// A network partition of the replicated log (shape from the target).
    Partition,
    /// Clock skew: a node's clock is bumped by up to intensity x 60 s.
    ClockSkew,
    /// Clock strobe: a node's clock oscillates by up to intensity x 10 s.
    ClockStrobe,
    /// A log node is killed for the fault's length.
    KillNode,
    /// A log node is paused for the fault's length.
    PauseNode,
    /// A log node restores an older snapshot.
    SnapshotRollback,
    /// Several clients write the same keys at once; intensity x 10 writers.
    ConcurrentWrites,
    /// A storm of governance intents needing approval; intensity x 1,000 intents.
    GovernanceStorm,
    /// The trigger mesh loses subscriptions; intensity = share of them lost
    /// (the watchdog warns below 5 and restores them).
    LoseSubscriptions,
    /// A Layer-2 component (drawn at random) hangs for the fault's length and
    /// must pass the readiness check again (30 s timeout, then the watchdog
    /// restarts it).
    HangComponent,
}

/// The part of the stack a fault acts on (the runner builds the layers the
/// faults of a run need).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultLayer {
    /// Kernels, bus, resources, API, governance (always running).
    Layer1,
    /// Orchestration: queue, workers, scheduler, mesh, policies, replicas.
    Layer2,
    /// The replicated log.
    Cluster,
}

/// What a swarm draw varies for a kind (start times always vary).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwarmDraw {
    /// The intensity is drawn (when it changes what the fault does).
    pub intensity: bool,
    /// The length is drawn (when it changes what the fault does).
    pub length: bool,
    /// A partition shape is drawn.
    pub partition_shape: bool,
    /// The clock-fault kind (skew or strobe) is drawn.
    pub clock_kind: bool,
}

/// How difficulty widens a kind beyond intensity and window (see
/// `scenario::difficulty`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Widening {
    /// Higher levels hit more targets (kernels or log nodes) at once.
    pub more_targets: bool,
    /// Higher levels repeat the fault window (every kind: a repeated kill
    /// kills again, a repeated flood floods again).
    pub repeats: bool,
}

impl FaultKind {
    /// The layer the kind acts on.
    pub const fn layer(self) -> FaultLayer {
        use FaultKind as K;
        match self {
            K::KillKernel
            | K::PauseHeartbeat
            | K::AclFlood
            | K::CpuSpike
            | K::MemoryLeak
            | K::DiskFill
            | K::NetworkSaturation
            | K::ApiFlood
            | K::CorruptSnapshots
            | K::GovernanceStorm => FaultLayer::Layer1,
            K::DependencyFailure
            | K::QueueFlood
            | K::TriggerStorm
            | K::PauseScheduler
            | K::PolicyCascade
            | K::WorkerDropout
            | K::ReplicaFailure
            | K::LoseSubscriptions
            | K::HangComponent => FaultLayer::Layer2,
            K::Partition
            | K::ClockSkew
            | K::ClockStrobe
            | K::KillNode
            | K::PauseNode
            | K::SnapshotRollback
            | K::ConcurrentWrites => FaultLayer::Cluster,
        }
    }

    /// Whether the fault's `length_s` changes what it does (instantaneous
    /// kinds ignore it: a kill, a corruption, a one-off storm of intents).
    pub const fn uses_length(self) -> bool {
        use FaultKind as K;
        match self {
            K::KillKernel
            | K::CorruptSnapshots
            | K::GovernanceStorm
            | K::PolicyCascade
            | K::WorkerDropout
            | K::ReplicaFailure
            | K::SnapshotRollback
            | K::LoseSubscriptions => false,
            K::PauseHeartbeat
            | K::AclFlood
            | K::CpuSpike
            | K::MemoryLeak
            | K::DiskFill
            | K::NetworkSaturation
            | K::ApiFlood
            | K::DependencyFailure
            | K::QueueFlood
            | K::TriggerStorm
            | K::PauseScheduler
            | K::Partition
            | K::ClockSkew
            | K::ClockStrobe
            | K::KillNode
            | K::PauseNode
            | K::ConcurrentWrites
            | K::HangComponent => true,
        }
    }

    /// Whether the fault's `intensity` changes what it does.
    pub const fn uses_intensity(self) -> bool {
        use FaultKind as K;
        match self {
            K::KillKernel
            | K::PauseHeartbeat
            | K::ReplicaFailure
            | K::Partition
            | K::KillNode
            | K::PauseNode
            | K::SnapshotRollback
            | K::HangComponent => false,
            K::AclFlood
            | K::CpuSpike
            | K::MemoryLeak
            | K::DiskFill
            | K::NetworkSaturation
            | K::ApiFlood
            | K::CorruptSnapshots
            | K::DependencyFailure
            | K::QueueFlood
            | K::TriggerStorm
            | K::PauseScheduler
            | K::PolicyCascade
            | K::WorkerDropout
            | K::ClockSkew
            | K::ClockStrobe
            | K::ConcurrentWrites
            | K::GovernanceStorm
            | K::LoseSubscriptions => true,
        }
    }

    /// The short name used in swarm configuration strings (`"acl_flood"`).
    pub const fn short(self) -> &'static str {
        match self {
            FaultKind::KillKernel => "kill",
            FaultKind::PauseHeartbeat => "pause_hb",
            FaultKind::AclFlood => "acl_flood",
            FaultKind::CpuSpike => "cpu_spike",
            FaultKind::MemoryLeak => "mem_leak",
            FaultKind::DiskFill => "disk_fill",
            FaultKind::NetworkSaturation => "net_sat",
            FaultKind::ApiFlood => "api_flood",
            FaultKind::CorruptSnapshots => "corrupt_snap",
            FaultKind::DependencyFailure => "dep_fail",
            FaultKind::QueueFlood => "queue_flood",
            FaultKind::TriggerStorm => "trigger_storm",
            FaultKind::PauseScheduler => "pause_sched",
            FaultKind::PolicyCascade => "policy_cascade",
            FaultKind::WorkerDropout => "worker_dropout",
            FaultKind::ReplicaFailure => "replica_fail",
            FaultKind::Partition => "partition",
            FaultKind::ClockSkew => "skew",
            FaultKind::ClockStrobe => "strobe",
            FaultKind::KillNode => "kill_node",
            FaultKind::PauseNode => "pause_node",
            FaultKind::SnapshotRollback => "rollback",
            FaultKind::ConcurrentWrites => "conc_writes",
            FaultKind::GovernanceStorm => "gov_storm",
            FaultKind::LoseSubscriptions => "lose_subs",
            FaultKind::HangComponent => "hang",
        }
    }

    /// How difficulty widens the kind (more targets at once: faults aimed at
    /// kernels or log nodes; repeated windows: every kind).
    pub const fn widens(self) -> Widening {
        use FaultKind as K;
        let more_targets = match self {
            K::KillKernel
            | K::PauseHeartbeat
            | K::AclFlood
            | K::CpuSpike
            | K::MemoryLeak
            | K::DiskFill
            | K::NetworkSaturation
            | K::ClockSkew
            | K::ClockStrobe
            | K::KillNode
            | K::PauseNode
            | K::SnapshotRollback => true,
            K::ApiFlood
            | K::CorruptSnapshots
            | K::GovernanceStorm
            | K::DependencyFailure
            | K::QueueFlood
            | K::TriggerStorm
            | K::PauseScheduler
            | K::PolicyCascade
            | K::WorkerDropout
            | K::ReplicaFailure
            | K::Partition
            | K::ConcurrentWrites
            | K::LoseSubscriptions
            | K::HangComponent => false,
        };
        Widening {
            more_targets,
            repeats: true,
        }
    }

    /// What a swarm draw varies for the kind.
    pub const fn swarm(self) -> SwarmDraw {
        SwarmDraw {
            intensity: self.uses_intensity(),
            length: self.uses_length(),
            partition_shape: matches!(self, FaultKind::Partition),
            clock_kind: matches!(self, FaultKind::ClockSkew | FaultKind::ClockStrobe),
        }
    }
}

/// The layer-1 safeguards that respond to a dead kernel (SIGKILL, or an
/// OOM kill): its exit is detected and its restarts supervised
/// (`kernel_watchdog`, `ExitDetected` in `model::layer1`), its heartbeats
/// stop (`heartbeat_watchdog`, the deadline may lose the race to the exit
/// detection), and a critical kernel silent for 30 s is detected
/// (`critical_kernel_heartbeat_trigger`, `CriticalCheck`), which starts the
/// emergency playbook (`emergency_protocol`).
const DEAD_KERNEL: &[Safeguard] = &[
    Safeguard::HeartbeatWatchdog,
    Safeguard::KernelWatchdog,
    Safeguard::CriticalKernelHeartbeatTrigger,
    Safeguard::EmergencyProtocol,
];

impl FaultKind {
    /// The safeguards that respond to this kind of fault: those whose
    /// observed condition, in the model code, this fault can bring about
    /// (directly, or through a consequence the model produces: an OOM kill
    /// from a leak, starved heartbeats under a CPU hog, a queue backing up
    /// behind failing calls). A safeguard that responds to none of the
    /// faults of a run has nothing to fire on, so a drawn or shrunk
    /// scenario expects only declared safeguards that respond to a fault
    /// still on (`ScenarioSpec::restrict_expected_to_faults` in `scenario::spec`, which uses
    /// [`responders_of`]).
    ///
    /// Derived from where each safeguard fires (`log.fire` / `fire` in
    /// `model::layer1`, `model::layer2`, `model::cluster`):
    ///
    /// | fault | responders | what they observe |
    /// |---|---|---|
    /// | `KillKernel` | dead-kernel set (see below) | process exit, silent heartbeats, critical silence 30 s |
    /// | `PauseHeartbeat` | `heartbeat_watchdog`, `critical_kernel_heartbeat_trigger`, `emergency_protocol` | missing heartbeats (a paused critical kernel is silent) |
    /// | `AclFlood` | `acl_violation_monitor` | violations per second of a publisher on the bus |
    /// | `CpuSpike` | `resource_pressure_monitor`, `heartbeat_watchdog` | sustained CPU utilisation with a hog; starved kernels' heartbeats arrive late |
    /// | `MemoryLeak` | `resource_pressure_monitor`, dead-kernel set | sustained memory utilisation; the OOM killer kills the biggest kernel |
    /// | `DiskFill`, `NetworkSaturation` | `resource_pressure_monitor` | sustained disk / network utilisation with a hog |
    /// | `ApiFlood` | `rate_limiter` | per-client token bucket rejects at the API ingress |
    /// | `CorruptSnapshots` | `snapshot_hygiene_manager` | corrupt snapshots met when a restore chooses one (only with a fault that starts a kernel recovery, see [`responders_of`]) |
    /// | `DependencyFailure` | `circuit_breaker`, `htm_queue_depth_monitor`, `load_shedder` | failure share of calls; retried tasks back the HTM queue up |
    /// | `QueueFlood` | `htm_queue_depth_monitor`, `load_shedder` | HTM queue depth past warning / critical |
    /// | `TriggerStorm` | `trigger_mesh_backpressure` | mesh backlog past the high mark |
    /// | `PauseScheduler` | `scheduler_watchdog`, `htm_queue_depth_monitor`, `load_shedder` | no dispatch progress with work queued; the queue grows meanwhile |
    /// | `PolicyCascade` | `cascade_detector` | policy recursion past the limit |
    /// | `WorkerDropout` | `worker_pool_recovery` | workers whose heartbeats are missing |
    /// | `ReplicaFailure` | `sandbox_fallback` | consecutive failures of a serving replica |
    /// | `Partition` | `quorum_ack`, `fencing_tokens`, `compare_and_set` | appends withheld at a step-down; appends / replies from another epoch; retried appends already in the log or at another length |
    /// | `ClockSkew`, `ClockStrobe` | `lease_skew_bound` | wall-clock skew between leader and follower; entry timestamps going backwards |
    /// | `KillNode` | `quorum_ack`, `fencing_tokens`, `compare_and_set` | appends withheld by the killed node; a new epoch; client retries |
    /// | `PauseNode` | `quorum_ack`, `fencing_tokens`, `compare_and_set` | a paused leader deposed meanwhile; client retries |
    /// | `SnapshotRollback` | `snapshot_hygiene_manager`, `compare_and_set` | a restore below the last log index; writers' lengths now stale |
    /// | `ConcurrentWrites` | `compare_and_set` | appends at a stale expected length |
    /// | `GovernanceStorm` | none | approvals queue in the governance model; no safeguard observes it |
    ///
    /// The dead-kernel set is `heartbeat_watchdog`, `kernel_watchdog`,
    /// `critical_kernel_heartbeat_trigger`, `emergency_protocol`. With
    /// several clients the cluster's `compare_and_set` also fires without
    /// any fault (stale lengths of concurrent clients); it is listed only
    /// where the fault makes it act.
    pub const fn responder_list(self) -> &'static [Safeguard] {
        use Safeguard as S;
        match self {
            FaultKind::KillKernel => DEAD_KERNEL,
            FaultKind::PauseHeartbeat => &[
                S::HeartbeatWatchdog,
                S::CriticalKernelHeartbeatTrigger,
                S::EmergencyProtocol,
            ],
            FaultKind::AclFlood => &[S::AclViolationMonitor],
            FaultKind::CpuSpike => &[S::ResourcePressureMonitor, S::HeartbeatWatchdog],
            FaultKind::MemoryLeak => &[
                S::ResourcePressureMonitor,
                S::HeartbeatWatchdog,
                S::KernelWatchdog,
                S::CriticalKernelHeartbeatTrigger,
                S::EmergencyProtocol,
            ],
            FaultKind::DiskFill | FaultKind::NetworkSaturation => &[S::ResourcePressureMonitor],
            FaultKind::ApiFlood => &[S::RateLimiter],
            FaultKind::CorruptSnapshots => &[S::SnapshotHygieneManager],
            FaultKind::DependencyFailure => {
                &[S::CircuitBreaker, S::HtmQueueDepthMonitor, S::LoadShedder]
            }
            FaultKind::QueueFlood => &[S::HtmQueueDepthMonitor, S::LoadShedder],
            FaultKind::TriggerStorm => &[S::TriggerMeshBackpressure],
            FaultKind::PauseScheduler => &[
                S::SchedulerWatchdog,
                S::HtmQueueDepthMonitor,
                S::LoadShedder,
            ],
            FaultKind::PolicyCascade => &[S::CascadeDetector],
            FaultKind::WorkerDropout => &[S::WorkerPoolRecovery],
            FaultKind::ReplicaFailure => &[S::SandboxFallback],
            FaultKind::Partition | FaultKind::KillNode | FaultKind::PauseNode => {
                &[S::QuorumAck, S::FencingTokens, S::CompareAndSet]
            }
            FaultKind::ClockSkew | FaultKind::ClockStrobe => &[S::LeaseSkewBound],
            FaultKind::SnapshotRollback => &[S::SnapshotHygieneManager, S::CompareAndSet],
            FaultKind::ConcurrentWrites => &[S::CompareAndSet],
            FaultKind::GovernanceStorm
            | FaultKind::LoseSubscriptions
            | FaultKind::HangComponent => &[],
        }
    }

    /// [`responder_list`](Self::responder_list) as a set.
    pub fn responders(self) -> SafeguardSet {
        self.responder_list().iter().copied().collect()
    }
}

/// The safeguards that start a layer-1 kernel recovery, whose playbook
/// restores a snapshot (`start_recovery` in `model::layer1`: on a missed
/// heartbeat deadline, a detected exit, a silent critical kernel).
const RECOVERY_STARTERS: &[Safeguard] = &[
    Safeguard::HeartbeatWatchdog,
    Safeguard::KernelWatchdog,
    Safeguard::CriticalKernelHeartbeatTrigger,
];

impl FaultKind {
    /// Whether this fault only sets a stage that the stack meets when
    /// another fault makes it act: corrupt snapshots are seen only when a
    /// kernel recovery restores one (`choose_snapshot` in `model::layer1`),
    /// so `CorruptSnapshots` alone has nothing for its responder to fire on.
    pub const fn needs_a_kernel_recovery(self) -> bool {
        matches!(self, FaultKind::CorruptSnapshots)
    }

    /// Whether this fault can start a layer-1 kernel recovery: one of its
    /// responders is a watchdog or trigger that starts one.
    pub fn starts_a_kernel_recovery(self) -> bool {
        self.responder_list()
            .iter()
            .any(|s| RECOVERY_STARTERS.contains(s))
    }
}

/// The safeguards that respond to at least one of `faults`: the union of
/// their [`FaultKind::responders`], where a fault that
/// [needs a kernel recovery](FaultKind::needs_a_kernel_recovery) counts
/// only if another fault on can
/// [start one](FaultKind::starts_a_kernel_recovery).
pub fn responders_of(faults: &[FaultSpec]) -> SafeguardSet {
    let recovery = faults.iter().any(|f| f.kind.starts_a_kernel_recovery());
    faults
        .iter()
        .filter(|f| recovery || !f.kind.needs_a_kernel_recovery())
        .fold(SafeguardSet::EMPTY, |acc, f| acc.union(f.kind.responders()))
}

/// Where a fault lands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// The whole platform / the fault's natural component.
    Platform,
    /// One kernel by name.
    Kernel(String),
    /// `n` kernels drawn at random (non-critical first is *not* implied).
    RandomKernels(u16),
    /// One critical kernel drawn at random.
    CriticalKernel,
    /// One log node by index.
    Node(u16),
    /// Log nodes by selection mode (Jepsen's target specs).
    Nodes(NodeSelection),
    /// A partition shape of the log cluster.
    Partition(PartitionShapeSpec),
}

/// Jepsen's node target specs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeSelection {
    /// One random node.
    One,
    /// floor((n - 1) / 3) nodes.
    MinorityThird,
    /// A minority.
    Minority,
    /// A majority.
    Majority,
    /// Every node.
    All,
    /// The current leader.
    Primary,
}

/// Partition shapes (Jepsen's nemesis).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionShapeSpec {
    /// Halves, smaller first.
    Bisect,
    /// Shuffle, then bisect.
    RandomHalves,
    /// Isolate one random node.
    IsolateOne,
    /// Bisect; one node of the second half keeps links to both sides.
    Bridge,
    /// Every node sees a majority, no two the same.
    MajoritiesRing,
}

impl PartitionShapeSpec {
    /// Every shape, in declaration order.
    pub const ALL: [PartitionShapeSpec; 5] = [
        PartitionShapeSpec::Bisect,
        PartitionShapeSpec::RandomHalves,
        PartitionShapeSpec::IsolateOne,
        PartitionShapeSpec::Bridge,
        PartitionShapeSpec::MajoritiesRing,
    ];
}

/// A validated fault, in integer nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    /// What the fault does.
    pub kind: FaultKind,
    /// Where it lands.
    pub target: Target,
    /// Offset from the scenario start.
    pub start_ns: u64,
    /// Length (0 = instantaneous).
    pub length_ns: u64,
    /// Intensity in permille (0..=1000), so scaling stays integer.
    pub intensity_permille: u16,
    /// More targets of the same kind drawn at random besides `target`
    /// (set by difficulty scaling; 0 in files).
    pub extra_targets: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_unique() {
        let mut names: Vec<_> = FaultKind::ALL.iter().map(|k| k.short()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FaultKind::ALL.len());
    }

    #[test]
    fn a_kind_without_length_or_intensity_is_widened_by_repeats() {
        for &k in FaultKind::ALL {
            assert!(k.widens().repeats, "{k:?}");
            let d = k.swarm();
            assert_eq!(d.intensity, k.uses_intensity());
            assert_eq!(d.length, k.uses_length());
        }
    }
}
