//! Layer-1 events (kind codes 100..=199) and faults as data.
use super::*;

/// Layer-1 events (kind codes 100..=199, stable: they are folded into digests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer1Event {
    /// A kernel finished booting (incarnation `inc`).
    BootDone {
        /// Kernel index.
        kernel: u16,
        /// Incarnation.
        inc: u32,
    },
    /// A kernel emits its next heartbeat.
    HeartbeatEmit {
        /// Kernel index.
        kernel: u16,
        /// Incarnation.
        inc: u32,
    },
    /// A heartbeat reaches the control plane.
    HeartbeatArrive {
        /// Kernel index.
        kernel: u16,
        /// Incarnation.
        inc: u32,
    },
    /// The heartbeat watchdog's deadline for a kernel expired.
    WatchdogDeadline {
        /// Kernel index.
        kernel: u16,
        /// Incarnation.
        inc: u32,
    },
    /// The kernel watchdog notices an exited process.
    ExitDetected {
        /// Kernel index.
        kernel: u16,
        /// Incarnation.
        inc: u32,
    },
    /// A restart's backoff ended: the kernel starts booting.
    RestartBegin {
        /// Kernel index.
        kernel: u16,
        /// Incarnation.
        inc: u32,
    },
    /// A paused kernel resumes.
    Resume {
        /// Kernel index.
        kernel: u16,
        /// Incarnation.
        inc: u32,
    },
    /// An ACL flood ends.
    AclFloodEnd {
        /// Publisher (kernel index).
        publisher: u16,
        /// Rate to remove, msgs/s.
        rate_per_s: u32,
    },
    /// The ACL-violation monitor's periodic check.
    AclCheck,
    /// A CPU hog ends.
    CpuSpikeEnd {
        /// Kernel index.
        kernel: u16,
        /// Demand to remove, millicores.
        millicores: u32,
    },
    /// Resource accounting and the resource-pressure monitor.
    ResourceTick,
    /// The critical-kernel heartbeat trigger's periodic check.
    CriticalCheck,
    /// A playbook execution's next phase.
    PlaybookStep {
        /// Executor slot.
        slot: u16,
        /// Slot generation (stale events are ignored).
        gen_: u32,
    },
    /// API accounting tick.
    ApiTick,
    /// An API flood ends.
    ApiFloodEnd {
        /// Rate to remove, requests/s.
        rate_per_s: u32,
    },
    /// A platform snapshot is taken.
    SnapshotTake,
    /// The 5 s control-plane dump.
    Dump,
    /// A memory leak ends.
    MemoryLeakEnd {
        /// Kernel index.
        kernel: u16,
        /// Rate to remove, MiB/s.
        mib_per_s: u32,
    },
    /// A disk fill ends.
    DiskFillEnd {
        /// Kernel index.
        kernel: u16,
        /// Rate to remove, MiB/s.
        mib_per_s: u32,
    },
    /// A network saturation ends.
    NetworkSaturationEnd {
        /// Kernel index.
        kernel: u16,
        /// Demand to remove, Mbit/s.
        mbps: u32,
    },
    /// A quarantine expires.
    QuarantineEnd {
        /// Publisher (kernel index).
        publisher: u16,
    },
    /// A kernel restored from a corrupt snapshot crashes.
    CorruptCrash {
        /// Kernel index.
        kernel: u16,
        /// Incarnation.
        inc: u32,
    },
}

const _: () = assert!(std::mem::size_of::<Layer1Event>() <= 32);

impl EventInfo for Layer1Event {
    fn kind(&self) -> u16 {
        use Layer1Event::*;
        match self {
            BootDone { .. } => 100,
            HeartbeatEmit { .. } => 101,
            HeartbeatArrive { .. } => 102,
            WatchdogDeadline { .. } => 103,
            ExitDetected { .. } => 104,
            RestartBegin { .. } => 105,
            Resume { .. } => 106,
            AclFloodEnd { .. } => 107,
            AclCheck => 108,
            CpuSpikeEnd { .. } => 109,
            ResourceTick => 110,
            CriticalCheck => 111,
            PlaybookStep { .. } => 112,
            ApiTick => 113,
            ApiFloodEnd { .. } => 114,
            SnapshotTake => 115,
            Dump => 116,
            MemoryLeakEnd { .. } => 117,
            DiskFillEnd { .. } => 118,
            NetworkSaturationEnd { .. } => 119,
            QuarantineEnd { .. } => 120,
            CorruptCrash { .. } => 121,
        }
    }

    fn kind_name(&self) -> &'static str {
        use Layer1Event::*;
        match self {
            BootDone { .. } => "l1_boot_done",
            HeartbeatEmit { .. } => "l1_heartbeat_emit",
            HeartbeatArrive { .. } => "l1_heartbeat_arrive",
            WatchdogDeadline { .. } => "l1_watchdog_deadline",
            ExitDetected { .. } => "l1_exit_detected",
            RestartBegin { .. } => "l1_restart_begin",
            Resume { .. } => "l1_resume",
            AclFloodEnd { .. } => "l1_acl_flood_end",
            AclCheck => "l1_acl_check",
            CpuSpikeEnd { .. } => "l1_cpu_spike_end",
            ResourceTick => "l1_resource_tick",
            CriticalCheck => "l1_critical_check",
            PlaybookStep { .. } => "l1_playbook_step",
            ApiTick => "l1_api_tick",
            ApiFloodEnd { .. } => "l1_api_flood_end",
            SnapshotTake => "l1_snapshot_take",
            Dump => "l1_dump",
            MemoryLeakEnd { .. } => "l1_memory_leak_end",
            DiskFillEnd { .. } => "l1_disk_fill_end",
            NetworkSaturationEnd { .. } => "l1_network_saturation_end",
            QuarantineEnd { .. } => "l1_quarantine_end",
            CorruptCrash { .. } => "l1_corrupt_crash",
        }
    }

    fn target(&self) -> u32 {
        use Layer1Event::*;
        match *self {
            BootDone { kernel, .. }
            | HeartbeatEmit { kernel, .. }
            | HeartbeatArrive { kernel, .. }
            | WatchdogDeadline { kernel, .. }
            | ExitDetected { kernel, .. }
            | RestartBegin { kernel, .. }
            | Resume { kernel, .. }
            | CpuSpikeEnd { kernel, .. }
            | MemoryLeakEnd { kernel, .. }
            | DiskFillEnd { kernel, .. }
            | NetworkSaturationEnd { kernel, .. }
            | CorruptCrash { kernel, .. } => kernel.into(),
            AclFloodEnd { publisher, .. } | QuarantineEnd { publisher } => publisher.into(),
            PlaybookStep { slot, .. } => slot.into(),
            _ => 0,
        }
    }
}

/// A Layer-1 fault, as data. Lengths are simulated nanoseconds from the
/// injection; kernel indices come from [`Layer1::kernel_index`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Layer1Fault {
    /// SIGKILL a kernel's process (DIRT01, MF01). Its heartbeats stop.
    KillKernel {
        /// Kernel index.
        kernel: u16,
    },
    /// SIGSTOP a kernel for `length_ns`, then SIGCONT (S01: 5 s). No
    /// effect unless the kernel is running; a restart in between makes the
    /// SIGCONT moot (the new process is not paused).
    PauseHeartbeat {
        /// Kernel index.
        kernel: u16,
        /// Pause length, ns.
        length_ns: u64,
    },
    /// `publisher` floods the bus's flood topic (a violation of its ACL
    /// unless allowed there) at `rate_per_s` for `length_ns` (S02).
    AclFlood {
        /// Publisher (kernel index).
        publisher: u16,
        /// Messages/s.
        rate_per_s: u32,
        /// Flood length, ns.
        length_ns: u64,
    },
    /// A hog in `kernel`'s cgroup demands `share_permille` of all cores (may
    /// exceed 1000: oversubscription) for `length_ns` (S03). The hog is not
    /// the kernel's main process: restarting the kernel does not stop it.
    CpuSpike {
        /// Kernel index (the cgroup the hog runs in).
        kernel: u16,
        /// Demand, permille of the CPU capacity.
        share_permille: u16,
        /// Spike length, ns.
        length_ns: u64,
    },
    /// `kernel` leaks memory at `mib_per_s` for `length_ns`; a restart frees
    /// what it leaked. Past capacity the OOM killer kills the largest
    /// consumer.
    MemoryLeak {
        /// Kernel index.
        kernel: u16,
        /// Leak rate, MiB/s.
        mib_per_s: u32,
        /// Leak length, ns.
        length_ns: u64,
    },
    /// `kernel` writes `mib_per_s` to disk for `length_ns` (DIRT03 resource
    /// siege). A full disk blocks disk-writer kernels (no heartbeats).
    DiskFill {
        /// Kernel index.
        kernel: u16,
        /// Fill rate, MiB/s.
        mib_per_s: u32,
        /// Fill length, ns.
        length_ns: u64,
    },
    /// `kernel` sends `share_permille` of the network capacity for
    /// `length_ns` (DIRT03). Past capacity the bus slows proportionally.
    NetworkSaturation {
        /// Kernel index.
        kernel: u16,
        /// Demand, permille of the network capacity.
        share_permille: u16,
        /// Length, ns.
        length_ns: u64,
    },
    /// One client floods the API at `rate_per_s` for `length_ns` (FIT01).
    ApiFlood {
        /// Requests/s.
        rate_per_s: u32,
        /// Flood length, ns.
        length_ns: u64,
    },
    /// Corrupt the newest `count` platform snapshots (DIRT02).
    CorruptSnapshots {
        /// Snapshots to corrupt (capped at the number kept).
        count: u16,
    },
    /// A governance storm (Layer 3): `intents` tier-0 requests flood the
    /// approval queue; human approvals for recoveries wait behind the
    /// on-call human's triage of the storm.
    GovernanceStorm {
        /// Intents in the storm.
        intents: u32,
    },
}

impl Layer1Fault {
    /// Check the fault against `spec`: kernel indices in range, lengths at
    /// most one day, rates and shares non-zero. The error reads
    /// `field: message (allowed ...)`.
    pub fn validate(&self, spec: &Layer1Spec) -> Result<(), FieldError> {
        const DAY_NS: u64 = 86_400_000_000_000;
        let n = spec.kernels.len();
        let kernel = |field: &str, k: u16| {
            if (k as usize) < n {
                Ok(())
            } else {
                Err(FieldError::new(
                    field,
                    format!("{k} (allowed 0..={})", n - 1),
                ))
            }
        };
        let length = |l: u64| {
            if l <= DAY_NS {
                Ok(())
            } else {
                Err(FieldError::new(
                    "length_ns",
                    format!("{l} (allowed 0..={DAY_NS})"),
                ))
            }
        };
        let positive = |field: &str, v: u64| {
            if v > 0 {
                Ok(())
            } else {
                Err(FieldError::new(field, "0 (allowed >= 1)"))
            }
        };
        match *self {
            Layer1Fault::KillKernel { kernel: k } => kernel("kernel", k),
            Layer1Fault::PauseHeartbeat {
                kernel: k,
                length_ns,
            } => kernel("kernel", k).and(length(length_ns)),
            Layer1Fault::AclFlood {
                publisher,
                rate_per_s,
                length_ns,
            } => kernel("publisher", publisher)
                .and(positive("rate_per_s", rate_per_s.into()))
                .and(length(length_ns)),
            Layer1Fault::CpuSpike {
                kernel: k,
                share_permille,
                length_ns,
            }
            | Layer1Fault::NetworkSaturation {
                kernel: k,
                share_permille,
                length_ns,
            } => kernel("kernel", k)
                .and(positive("share_permille", share_permille.into()))
                .and(length(length_ns)),
            Layer1Fault::MemoryLeak {
                kernel: k,
                mib_per_s,
                length_ns,
            }
            | Layer1Fault::DiskFill {
                kernel: k,
                mib_per_s,
                length_ns,
            } => kernel("kernel", k)
                .and(positive("mib_per_s", mib_per_s.into()))
                .and(length(length_ns)),
            Layer1Fault::ApiFlood {
                rate_per_s,
                length_ns,
            } => positive("rate_per_s", rate_per_s.into()).and(length(length_ns)),
            Layer1Fault::CorruptSnapshots { count } => positive("count", count.into()),
            Layer1Fault::GovernanceStorm { intents } => positive("intents", intents.into()),
        }
    }
}
