//! The source's Layer-1 stress test as a programme: boot once, then waves of
//! 1, 2 and 3 concurrent scenarios, each as written (difficulty 1, as the
//! source ran them), on the *same* stack
//! instance (damage carries over from wave to wave), with a steady-state
//! check before each wave.

use crate::engine::{Digest, SeedPath, SimTime};
use crate::error::Result;
use crate::model::stack::StackSpec;
use crate::safeguard::{Safeguard, SafeguardSet};

use super::catalogue::Catalogue;
use super::difficulty;
use super::outcome::{FailureKind, Outcome};
use super::run::{Planned, RunOutputs, STABLE_FOR_NS, run_together};

/// The waves: scenario ids and the difficulty they run at.
pub const WAVES: [(&[&str], u8); 3] = [
    (&["S01_heartbeat_pause"], 1),
    (&["S02_acl_spam", "S03_cpu_spike"], 1),
    (&["S01_heartbeat_pause", "S02_acl_spam", "S03_cpu_spike"], 1),
];

/// One wave's results.
#[derive(Clone, Debug)]
pub struct WaveReport {
    /// Whether the steady state held just before the wave's faults.
    pub steady_before: bool,
    /// One outcome per scenario of the wave.
    pub outcomes: Vec<Outcome>,
}

/// The statistics table of a stress test.
#[derive(Clone, Debug)]
pub struct StressReport {
    /// Root seed.
    pub seed: u64,
    /// The waves in order.
    pub waves: Vec<WaveReport>,
    /// Scenario executions that passed.
    pub passed: u32,
    /// Scenario executions that failed.
    pub failed: u32,
    /// passed / (passed + failed).
    pub success_rate: f64,
    /// Kernels booted at the start.
    pub kernels_booted: u32,
    /// Kernels running at the end.
    pub final_kernels_running: u32,
    /// Emergency escalations (emergency protocol and critical-kernel trigger firings).
    pub escalations: u32,
    /// Events handled.
    pub events: u64,
    /// Run digest.
    pub digest: Digest,
}

/// Run the stress test.
pub fn run_stress(
    stack: &StackSpec,
    cat: &Catalogue,
    seed: u64,
    deployed: SafeguardSet,
) -> Result<StressReport> {
    let mut planned = Vec::new();
    let mut wave_of = Vec::new();
    let mut offset_ns = 0u64;
    for (w, (ids, level)) in WAVES.iter().enumerate() {
        let mut wave_len = 0u64;
        for id in *ids {
            let spec = cat.require(id)?;
            let scaled = difficulty::scale_with(spec, *level, &stack.difficulty);
            let last_end = scaled
                .faults
                .iter()
                .map(|f| f.start_ns + f.length_ns)
                .max()
                .unwrap_or(0);
            wave_len = wave_len
                .max(scaled.window_ns.max(last_end) + scaled.recovery_limit_ns + STABLE_FOR_NS);
            planned.push(Planned {
                spec,
                scaled,
                offset_ns,
            });
            wave_of.push(w);
        }
        offset_ns += wave_len;
    }
    let r = run_together(
        stack,
        &planned,
        deployed,
        SafeguardSet::EMPTY,
        SeedPath::root(seed).child("stress"),
        SimTime::ZERO,
        RunOutputs::default(),
    )?;
    let mut waves: Vec<WaveReport> = (0..WAVES.len())
        .map(|_| WaveReport {
            steady_before: true,
            outcomes: Vec::new(),
        })
        .collect();
    for (o, &w) in r.outcomes.into_iter().zip(&wave_of) {
        if o.failure_kinds.contains(&FailureKind::NotSteadyBefore) {
            waves[w].steady_before = false;
        }
        waves[w].outcomes.push(o);
    }
    let passed = waves
        .iter()
        .flat_map(|w| &w.outcomes)
        .filter(|o| o.passed)
        .count() as u32;
    let failed = waves
        .iter()
        .flat_map(|w| &w.outcomes)
        .filter(|o| !o.passed)
        .count() as u32;
    Ok(StressReport {
        seed,
        waves,
        passed,
        failed,
        success_rate: passed as f64 / (passed + failed).max(1) as f64,
        kernels_booted: r.kernels_total,
        final_kernels_running: r.kernels_running_end,
        escalations: r.safeguards.count(Safeguard::EmergencyProtocol)
            + r.safeguards
                .count(Safeguard::CriticalKernelHeartbeatTrigger),
        events: r.events,
        digest: r.digest,
    })
}
