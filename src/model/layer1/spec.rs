//! The Layer-1 stack description: kernels, control plane, bus, resources,
//! API ingress, safeguard parameters, steady-state tolerances. Serde (RON),
//! `deny_unknown_fields`, defaults = the numbers of MISSION.md section 1.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::model::governance::GovernanceSpec;
use crate::playbook::{PlaybookSet, Trigger};
use crate::safeguard::{Safeguard, SafeguardSet};

/// The default Layer-1 spec as RON text (embedded; equals [`Layer1Spec::default`]).
pub const DEFAULT_RON: &str = include_str!("../../defaults/layer1.ron");

/// One kernel of the stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelSpec {
    /// Unique name (`"message_bus"`).
    pub name: String,
    /// Time between two heartbeats at full CPU speed, ns.
    pub heartbeat_interval_ns: u64,
    /// Time to boot at full CPU speed, ns.
    pub boot_ns: u64,
    /// Whether the kernel is critical (watched by the critical trigger,
    /// recovered by the emergency protocol, needed by the steady state).
    pub critical: bool,
    /// CPU demand while booting or running, millicores.
    pub cpu_millicores: u32,
    /// Memory held while booting or running, MiB.
    pub memory_mib: u32,
    /// Whether it writes to disk (blocks when the disk is full).
    pub disk_writer: bool,
}

/// The control plane: heartbeat watching, restarts, critical trigger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneSpec {
    /// Heartbeat intervals missed before the heartbeat watchdog declares a
    /// kernel unresponsive (deadline = last arrival + n x interval).
    pub missed_heartbeats_before_restart: u32,
    /// Backoff before the 2nd restart in a window, ns (the 1st is immediate);
    /// doubles for each further restart (kernel_watchdog).
    pub restart_backoff_initial_ns: u64,
    /// Cap of the restart backoff, ns.
    pub restart_backoff_max_ns: u64,
    /// Restarts allowed within `restart_window_ns`; one more request marks
    /// the kernel failed (kernel_watchdog). MISSION: 3.
    pub restarts_max: u32,
    /// Clean running time after which the restart count resets, ns.
    pub restart_window_ns: u64,
    /// How long the kernel_watchdog takes to notice an exited process, ns.
    pub exit_detect_ns: u64,
    /// Period of the critical-kernel heartbeat trigger's check, ns.
    pub critical_check_interval_ns: u64,
    /// Heartbeat silence after which the trigger declares a critical kernel
    /// dead, ns. Detection time <= silence + check interval (default 15 s,
    /// within MISSION's 30 s).
    pub critical_silence_ns: u64,
}

/// A topic and the kernels allowed to publish on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicAcl {
    /// Topic name.
    pub topic: String,
    /// Kernel names allowed to publish; `"*"` allows every kernel.
    pub publishers: Vec<String>,
}

/// The message bus: one FIFO with a capacity, modelled as a fluid queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSpec {
    /// Messages the bus checks and delivers per second.
    pub capacity_msgs_per_s: u64,
    /// Legitimate background traffic besides heartbeats, messages/s.
    pub background_msgs_per_s: u64,
    /// Queue bound; messages (heartbeats included) are dropped beyond it.
    pub buffer_msgs_max: u64,
    /// Delivery latency of an empty bus, ns.
    pub base_latency_ns: u64,
    /// Topic ACLs. Heartbeats go to `heartbeats`.
    pub topics: Vec<TopicAcl>,
    /// The topic an ACL flood publishes to (a violation unless the
    /// publisher is allowed there).
    pub flood_topic: String,
}

/// Resource capacities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSpec {
    /// CPU capacity, millicores (16 cores = 16000).
    pub cpu_millicores: u32,
    /// Memory capacity, MiB.
    pub memory_mib: u64,
    /// Disk capacity, MiB.
    pub disk_mib: u64,
    /// Disk used at boot, MiB.
    pub disk_used_base_mib: u64,
    /// Network capacity, Mbit/s.
    pub network_mbps: u64,
    /// Network used by normal operation, Mbit/s.
    pub network_base_mbps: u64,
    /// Period of the resource accounting tick (memory, disk, OOM), ns.
    pub tick_ns: u64,
    /// How an overloaded CPU is shared (absent: `Proportional`).
    #[serde(default)]
    pub cpu_contention: CpuContention,
}

/// How the CPU is shared when demand exceeds capacity. Every kernel's
/// timers (heartbeats, boots) stretch by the same slowdown factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CpuContention {
    /// Fair shares: slowdown = total demand / capacity.
    #[default]
    Proportional,
    /// A runaway process (a CPU hog, many busy threads) takes its cycles
    /// first; the kernels' own work shares what is left: slowdown = kernel
    /// demand / (capacity - hog), with at least 1 % of capacity left. This
    /// is the lock-up the source saw in its CPU spike, and what isolation
    /// (capping the hog) prevents.
    HogFirst,
}

/// The API ingress, served by the kernel named `api_server` (down while that
/// kernel's process is not running; always up if the stack has no such kernel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSpec {
    /// Requests served per second while `api_server` runs.
    pub capacity_rps: u64,
    /// Legitimate traffic, requests/s (many clients, each under the limit).
    pub background_rps: u64,
    /// Queue bound, requests; excess is dropped (failed).
    pub queue_max: u64,
    /// A request waiting longer than this fails, ns.
    pub timeout_ns: u64,
    /// Accounting tick, ns.
    pub tick_ns: u64,
    /// Success-rate window, in ticks (1..=64).
    pub window_ticks: u32,
}

/// Parameters of the Layer-1 safeguards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafeguardParams {
    /// acl_violation_monitor: check period, ns.
    pub acl_check_interval_ns: u64,
    /// acl_violation_monitor: violations/s of one publisher that count as a flood.
    pub acl_violations_per_s_max: u64,
    /// acl_violation_monitor: how long a quarantine lasts, ns.
    pub acl_quarantine_ns: u64,
    /// resource_pressure_monitor: utilisation that counts as pressure, permille.
    pub pressure_utilisation_permille_max: u16,
    /// resource_pressure_monitor: consecutive resource ticks over the
    /// threshold before it fires.
    pub pressure_sustained_ticks: u32,
    /// resource_pressure_monitor: CPU cap of an isolated hog, permille of
    /// the cores (MISSION: <= 50 %).
    pub isolate_cpu_share_permille: u16,
    /// resource_pressure_monitor: network cap of an isolated hog, permille.
    pub isolate_network_share_permille: u16,
    /// rate_limiter: admitted requests/s per client (token refill).
    pub rate_limit_per_client_rps: u64,
    /// rate_limiter: bucket size per client, requests.
    pub rate_limit_burst: u64,
    /// snapshot_hygiene_manager / snapshots: period of platform snapshots, ns.
    pub snapshot_interval_ns: u64,
    /// Snapshots kept (1..=8).
    pub snapshots_kept: u8,
    /// Extra boot time when no valid snapshot exists (log replay), ns.
    pub cold_boot_extra_ns: u64,
    /// A kernel restored from a corrupt snapshot crashes this long after boot, ns.
    pub corrupt_crash_after_ns: u64,
}

/// Concurrency of the playbook executor, by lane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorSpec {
    /// Kernel restarts run at once (`critical_kernel_restart`).
    pub restart_concurrency_max: u8,
    /// Escalations waiting for humans at once.
    pub escalation_concurrency_max: u8,
    /// Emergency recoveries at once (the emergency protocol is one incident
    /// commander: 1).
    pub emergency_concurrency_max: u8,
    /// Monitor responses (quarantine, isolation) at once.
    pub monitor_concurrency_max: u8,
}

/// Which playbook (by name) answers each Layer-1 trigger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookBindings {
    /// For [`Trigger::KernelUnresponsive`].
    pub kernel_unresponsive: String,
    /// For [`Trigger::CriticalKernelUnresponsive`].
    pub critical_kernel_unresponsive: String,
    /// For [`Trigger::CriticalKernelDead`].
    pub critical_kernel_dead: String,
    /// For [`Trigger::AclFlood`].
    pub acl_flood: String,
    /// For [`Trigger::ResourcePressure`].
    pub resource_pressure: String,
}

impl PlaybookBindings {
    /// `(trigger, playbook name)` pairs, in lane order.
    pub fn pairs(&self) -> [(Trigger, &str); 5] {
        [
            (Trigger::KernelUnresponsive, &self.kernel_unresponsive),
            (
                Trigger::CriticalKernelUnresponsive,
                &self.critical_kernel_unresponsive,
            ),
            (Trigger::CriticalKernelDead, &self.critical_kernel_dead),
            (Trigger::AclFlood, &self.acl_flood),
            (Trigger::ResourcePressure, &self.resource_pressure),
        ]
    }
}

/// The default steady-state hypothesis of Layer 1 (probe tolerances).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteadyStateSpec {
    /// At least this many kernels running with fresh heartbeats.
    pub kernels_running_min: u16,
    /// Every critical kernel running with fresh heartbeats.
    pub critical_kernels_all: bool,
    /// API success rate over the window, permille, at least.
    pub api_success_permille_min: u16,
    /// Bus delivery latency, ms, at most.
    pub bus_latency_ms_max: u64,
    /// CPU utilisation, permille, at most.
    pub cpu_permille_max: u16,
    /// How long a human approval requested now would queue behind a
    /// governance storm, seconds, at most (approvals stuck are harm).
    #[serde(default = "default_approval_backlog_s_max")]
    pub approval_backlog_s_max: u64,
}

fn default_approval_backlog_s_max() -> u64 {
    120
}

/// The whole Layer-1 description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Layer1Spec {
    /// The kernels (MISSION: 20), by index.
    pub kernels: Vec<KernelSpec>,
    /// Control-plane parameters.
    pub control_plane: ControlPlaneSpec,
    /// Message bus.
    pub bus: BusSpec,
    /// Resource capacities.
    pub resources: ResourcesSpec,
    /// API ingress.
    pub api: ApiSpec,
    /// Safeguard parameters.
    pub safeguards: SafeguardParams,
    /// Playbook executor.
    pub executor: ExecutorSpec,
    /// Playbook per trigger.
    pub playbooks: PlaybookBindings,
    /// Layer-3 governance (routing of every playbook step).
    pub governance: GovernanceSpec,
    /// Steady-state tolerances.
    pub steady_state: SteadyStateSpec,
    /// The Layer-1 safeguards the default stack deploys. MISSION section 2:
    /// without acl_violation_monitor, resource_pressure_monitor and
    /// rate_limiter.
    pub default_safeguards: SafeguardSet,
    /// Period of the optional control-plane dump, ns (MISSION: 5 s).
    pub dump_interval_ns: u64,
}

struct K<'a>(&'a str, u64, u64, bool, u32, u32, bool);

const SEC: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

impl Default for Layer1Spec {
    fn default() -> Self {
        // name, heartbeat interval, boot, critical, cpu mc, mem MiB, disk writer
        let ks = [
            K("message_bus", SEC, 1_500 * MS, true, 400, 1024, false),
            K("immutable_log", SEC, 1_200 * MS, true, 300, 1024, true),
            K("self_healing", SEC, 800 * MS, false, 200, 512, false),
            K("coding_agent", SEC, 200 * MS, false, 400, 1024, false),
            K("clarity_framework", SEC, 600 * MS, false, 150, 512, false),
            K(
                "verification_framework",
                SEC,
                700 * MS,
                false,
                200,
                512,
                false,
            ),
            K("secret_manager", SEC, 500 * MS, false, 100, 256, false),
            K("governance", SEC, 1_000 * MS, true, 200, 512, false),
            K(
                "infrastructure_manager",
                SEC,
                800 * MS,
                false,
                200,
                512,
                false,
            ),
            K("memory_fusion", SEC, 1_500 * MS, false, 300, 2048, true),
            K("librarian", SEC, 700 * MS, false, 150, 1024, true),
            K("sandbox", SEC, 900 * MS, false, 300, 1024, false),
            K("agentic_spine", SEC, 800 * MS, false, 250, 512, false),
            K("voice_conversation", SEC, 600 * MS, false, 200, 512, false),
            K("meta_loop", SEC, 600 * MS, false, 150, 256, false),
            K(
                "learning_integration",
                SEC,
                700 * MS,
                false,
                200,
                512,
                false,
            ),
            K("health_monitor", SEC, 400 * MS, false, 100, 256, false),
            K("trigger_mesh", SEC, 700 * MS, false, 250, 512, false),
            K("scheduler", SEC, 800 * MS, true, 200, 512, false),
            K("api_server", SEC, 900 * MS, true, 300, 1024, false),
        ];
        let kernels = ks
            .iter()
            .map(|k| KernelSpec {
                name: k.0.to_string(),
                heartbeat_interval_ns: k.1,
                boot_ns: k.2,
                critical: k.3,
                cpu_millicores: k.4,
                memory_mib: k.5,
                disk_writer: k.6,
            })
            .collect();
        let default_safeguards = [
            Safeguard::HeartbeatWatchdog,
            Safeguard::KernelWatchdog,
            Safeguard::CriticalKernelHeartbeatTrigger,
            Safeguard::SnapshotHygieneManager,
            Safeguard::EmergencyProtocol,
        ]
        .into_iter()
        .collect();
        Layer1Spec {
            kernels,
            control_plane: ControlPlaneSpec {
                missed_heartbeats_before_restart: 3,
                restart_backoff_initial_ns: SEC,
                restart_backoff_max_ns: 30 * SEC,
                restarts_max: 3,
                restart_window_ns: 600 * SEC,
                exit_detect_ns: SEC,
                critical_check_interval_ns: 5 * SEC,
                critical_silence_ns: 10 * SEC,
            },
            bus: BusSpec {
                capacity_msgs_per_s: 10_000,
                background_msgs_per_s: 3_000,
                buffer_msgs_max: 100_000,
                base_latency_ns: 2 * MS,
                topics: vec![
                    TopicAcl {
                        topic: "heartbeats".into(),
                        publishers: vec!["*".into()],
                    },
                    TopicAcl {
                        topic: "events".into(),
                        publishers: vec!["*".into()],
                    },
                    TopicAcl {
                        topic: "governance.commands".into(),
                        publishers: vec!["governance".into(), "self_healing".into()],
                    },
                    TopicAcl {
                        topic: "secrets".into(),
                        publishers: vec!["secret_manager".into()],
                    },
                ],
                flood_topic: "governance.commands".into(),
            },
            resources: ResourcesSpec {
                cpu_millicores: 16_000,
                memory_mib: 32_768,
                disk_mib: 100_000,
                disk_used_base_mib: 40_000,
                network_mbps: 10_000,
                network_base_mbps: 2_000,
                tick_ns: SEC,
                cpu_contention: CpuContention::Proportional,
            },
            api: ApiSpec {
                capacity_rps: 2_000,
                background_rps: 500,
                queue_max: 10_000,
                timeout_ns: SEC,
                tick_ns: 100 * MS,
                window_ticks: 50,
            },
            safeguards: SafeguardParams {
                acl_check_interval_ns: SEC,
                acl_violations_per_s_max: 100,
                acl_quarantine_ns: 600 * SEC,
                pressure_utilisation_permille_max: 900,
                pressure_sustained_ticks: 2,
                isolate_cpu_share_permille: 500,
                isolate_network_share_permille: 500,
                rate_limit_per_client_rps: 200,
                rate_limit_burst: 400,
                snapshot_interval_ns: 60 * SEC,
                snapshots_kept: 5,
                cold_boot_extra_ns: 20 * SEC,
                corrupt_crash_after_ns: 2 * SEC,
            },
            executor: ExecutorSpec {
                restart_concurrency_max: 2,
                escalation_concurrency_max: 8,
                emergency_concurrency_max: 1,
                monitor_concurrency_max: 2,
            },
            playbooks: PlaybookBindings {
                kernel_unresponsive: "critical_kernel_restart".into(),
                critical_kernel_unresponsive: "critical_kernel_escalation".into(),
                critical_kernel_dead: "emergency_critical_kernel_recovery".into(),
                acl_flood: "acl_flood_quarantine".into(),
                resource_pressure: "resource_pressure_isolation".into(),
            },
            governance: GovernanceSpec::default(),
            steady_state: SteadyStateSpec {
                kernels_running_min: 20,
                critical_kernels_all: true,
                api_success_permille_min: 990,
                bus_latency_ms_max: 500,
                cpu_permille_max: 900,
                approval_backlog_s_max: default_approval_backlog_s_max(),
            },
            default_safeguards,
            dump_interval_ns: 5 * SEC,
        }
    }
}

fn range(field: &str, v: u64, lo: u64, hi: u64) -> Result<(), FieldError> {
    if v < lo || v > hi {
        Err(FieldError::new(field, format!("{v} (allowed {lo}..={hi})")))
    } else {
        Ok(())
    }
}

const HOUR: u64 = 3_600 * SEC;

impl Layer1Spec {
    /// The embedded default, parsed (equal to [`Default`]).
    /// Panics only if the embedded file is broken, which the tests rule out.
    pub fn embedded() -> Layer1Spec {
        Layer1Spec::from_ron(DEFAULT_RON, Path::new("<embedded>/defaults/layer1.ron"))
            .expect("embedded layer1.ron is valid")
    }

    /// Parse and validate a spec from RON text; `path` names it in errors.
    pub fn from_ron(text: &str, path: &Path) -> Result<Layer1Spec> {
        let spec: Layer1Spec = crate::input::parse_ron(text, path)?;
        spec.validate().map_err(|e| e.in_file(path))?;
        Ok(spec)
    }

    /// Read, parse and validate a spec file.
    pub fn load(path: &Path) -> Result<Layer1Spec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Layer1Spec::from_ron(&text, path)
    }

    /// Index of the kernel named `name`.
    pub fn kernel_index(&self, name: &str) -> Option<u16> {
        self.kernels
            .iter()
            .position(|k| k.name == name)
            .map(|i| i as u16)
    }

    /// Check every parameter; the error reads `field: message (allowed ...)`.
    pub fn validate(&self) -> Result<(), FieldError> {
        let n = self.kernels.len();
        if n == 0 || n > 1024 {
            return Err(FieldError::new(
                "kernels",
                format!("{n} kernels (allowed 1..=1024)"),
            ));
        }
        for (i, k) in self.kernels.iter().enumerate() {
            let f = |x: &str| format!("kernels[{i}].{x}");
            if k.name.is_empty() || self.kernels[..i].iter().any(|o| o.name == k.name) {
                return Err(FieldError::new(
                    f("name"),
                    format!("'{}' (allowed a non-empty, unique name)", k.name),
                ));
            }
            range(
                &f("heartbeat_interval_ns"),
                k.heartbeat_interval_ns,
                MS,
                HOUR,
            )?;
            range(&f("boot_ns"), k.boot_ns, 0, HOUR)?;
            range(&f("cpu_millicores"), k.cpu_millicores.into(), 0, 1_000_000)?;
            range(&f("memory_mib"), k.memory_mib.into(), 0, 1 << 24)?;
        }
        if self.kernels.iter().all(|k| !k.critical) && self.steady_state.critical_kernels_all {
            // allowed, vacuous
        }
        let cp = &self.control_plane;
        range(
            "control_plane.missed_heartbeats_before_restart",
            cp.missed_heartbeats_before_restart.into(),
            1,
            1000,
        )?;
        range(
            "control_plane.restart_backoff_initial_ns",
            cp.restart_backoff_initial_ns,
            0,
            HOUR,
        )?;
        range(
            "control_plane.restart_backoff_max_ns",
            cp.restart_backoff_max_ns,
            cp.restart_backoff_initial_ns,
            24 * HOUR,
        )?;
        range(
            "control_plane.restarts_max",
            cp.restarts_max.into(),
            0,
            1000,
        )?;
        range(
            "control_plane.restart_window_ns",
            cp.restart_window_ns,
            0,
            24 * HOUR,
        )?;
        range("control_plane.exit_detect_ns", cp.exit_detect_ns, 0, HOUR)?;
        range(
            "control_plane.critical_check_interval_ns",
            cp.critical_check_interval_ns,
            MS,
            HOUR,
        )?;
        range(
            "control_plane.critical_silence_ns",
            cp.critical_silence_ns,
            MS,
            HOUR,
        )?;
        let b = &self.bus;
        range(
            "bus.capacity_msgs_per_s",
            b.capacity_msgs_per_s,
            1,
            1_000_000_000,
        )?;
        range(
            "bus.background_msgs_per_s",
            b.background_msgs_per_s,
            0,
            b.capacity_msgs_per_s.saturating_sub(1),
        )?;
        range("bus.buffer_msgs_max", b.buffer_msgs_max, 1, 1_000_000_000)?;
        range("bus.base_latency_ns", b.base_latency_ns, 0, HOUR)?;
        for (i, t) in b.topics.iter().enumerate() {
            for p in &t.publishers {
                if p != "*" && self.kernel_index(p).is_none() {
                    return Err(FieldError::new(
                        format!("bus.topics[{i}].publishers"),
                        format!("unknown kernel '{p}' (allowed a kernel name or \"*\")"),
                    ));
                }
            }
        }
        if !b.topics.iter().any(|t| t.topic == b.flood_topic) {
            return Err(FieldError::new(
                "bus.flood_topic",
                format!("'{}' (allowed one of the topics)", b.flood_topic),
            ));
        }
        let r = &self.resources;
        range(
            "resources.cpu_millicores",
            r.cpu_millicores.into(),
            1,
            100_000_000,
        )?;
        range("resources.memory_mib", r.memory_mib, 1, 1 << 40)?;
        range("resources.disk_mib", r.disk_mib, 1, 1 << 40)?;
        range(
            "resources.disk_used_base_mib",
            r.disk_used_base_mib,
            0,
            r.disk_mib,
        )?;
        range("resources.network_mbps", r.network_mbps, 1, 1 << 40)?;
        range(
            "resources.network_base_mbps",
            r.network_base_mbps,
            0,
            r.network_mbps,
        )?;
        range("resources.tick_ns", r.tick_ns, MS, HOUR)?;
        let a = &self.api;
        range("api.capacity_rps", a.capacity_rps, 1, 1_000_000_000)?;
        range("api.background_rps", a.background_rps, 0, 1_000_000_000)?;
        range("api.queue_max", a.queue_max, 1, 1_000_000_000)?;
        range("api.timeout_ns", a.timeout_ns, MS, HOUR)?;
        range("api.tick_ns", a.tick_ns, MS, 60 * SEC)?;
        range("api.window_ticks", a.window_ticks.into(), 1, 64)?;
        let s = &self.safeguards;
        range(
            "safeguards.acl_check_interval_ns",
            s.acl_check_interval_ns,
            MS,
            HOUR,
        )?;
        range(
            "safeguards.acl_violations_per_s_max",
            s.acl_violations_per_s_max,
            0,
            1_000_000_000,
        )?;
        range(
            "safeguards.acl_quarantine_ns",
            s.acl_quarantine_ns,
            0,
            24 * HOUR,
        )?;
        range(
            "safeguards.pressure_utilisation_permille_max",
            s.pressure_utilisation_permille_max.into(),
            1,
            1000,
        )?;
        range(
            "safeguards.pressure_sustained_ticks",
            s.pressure_sustained_ticks.into(),
            1,
            1000,
        )?;
        range(
            "safeguards.isolate_cpu_share_permille",
            s.isolate_cpu_share_permille.into(),
            0,
            1000,
        )?;
        range(
            "safeguards.isolate_network_share_permille",
            s.isolate_network_share_permille.into(),
            0,
            1000,
        )?;
        range(
            "safeguards.rate_limit_per_client_rps",
            s.rate_limit_per_client_rps,
            0,
            1_000_000_000,
        )?;
        range(
            "safeguards.rate_limit_burst",
            s.rate_limit_burst,
            0,
            1_000_000_000,
        )?;
        range(
            "safeguards.snapshot_interval_ns",
            s.snapshot_interval_ns,
            SEC,
            24 * HOUR,
        )?;
        range("safeguards.snapshots_kept", s.snapshots_kept.into(), 1, 8)?;
        range(
            "safeguards.cold_boot_extra_ns",
            s.cold_boot_extra_ns,
            0,
            HOUR,
        )?;
        range(
            "safeguards.corrupt_crash_after_ns",
            s.corrupt_crash_after_ns,
            0,
            HOUR,
        )?;
        let e = &self.executor;
        range(
            "executor.restart_concurrency_max",
            e.restart_concurrency_max.into(),
            1,
            64,
        )?;
        range(
            "executor.escalation_concurrency_max",
            e.escalation_concurrency_max.into(),
            1,
            64,
        )?;
        range(
            "executor.emergency_concurrency_max",
            e.emergency_concurrency_max.into(),
            1,
            64,
        )?;
        range(
            "executor.monitor_concurrency_max",
            e.monitor_concurrency_max.into(),
            1,
            64,
        )?;
        let set = PlaybookSet::embedded();
        for (trigger, name) in self.playbooks.pairs() {
            match set.get(name) {
                None => {
                    return Err(FieldError::new(
                        "playbooks",
                        format!(
                            "unknown playbook '{name}' (allowed one of the embedded playbooks)"
                        ),
                    ));
                }
                Some(pb) if pb.trigger != trigger => {
                    return Err(FieldError::new(
                        "playbooks",
                        format!(
                            "'{name}' has trigger {:?} (allowed a playbook with trigger {trigger:?})",
                            pb.trigger
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        self.governance
            .validate()
            .map_err(|e| e.within("governance"))?;
        for (i, v) in self.governance.voters.iter().enumerate() {
            if self.kernel_index(v).is_none() {
                return Err(FieldError::new(
                    format!("governance.voters[{i}]"),
                    format!("unknown kernel '{v}' (allowed: the kernels' names)"),
                ));
            }
        }
        let st = &self.steady_state;
        range(
            "steady_state.kernels_running_min",
            st.kernels_running_min.into(),
            0,
            n as u64,
        )?;
        range(
            "steady_state.api_success_permille_min",
            st.api_success_permille_min.into(),
            0,
            1000,
        )?;
        range(
            "steady_state.bus_latency_ms_max",
            st.bus_latency_ms_max,
            0,
            3_600_000,
        )?;
        range(
            "steady_state.cpu_permille_max",
            st.cpu_permille_max.into(),
            0,
            1000,
        )?;
        range("dump_interval_ns", self.dump_interval_ns, MS, HOUR)?;
        Ok(())
    }
}
