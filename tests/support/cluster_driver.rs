//! The standalone cluster driver of the consistency tests and the cluster
//! bench: a [`Cluster`] driven by a [`NemesisSchedule`] from time zero, its
//! steady state sampled into a [`RecoveryTracker`]. Test support, not
//! library: the one driver of the product is `chaosim::scenario::run`,
//! which composes the cluster into the whole stack. Included by
//! `tests/consistency.rs` and `benches/cluster.rs` with `#[path]`.

use std::io;

use chaosim::Error;
use chaosim::check::consistency::ConsistencyReport;
use chaosim::check::steady::{Recovery, RecoveryTracker};
use chaosim::engine::{Ctx, Digest, EventInfo, Model, SeedPath, SimDuration, SimTime, Simulation};
use chaosim::model::Component;
use chaosim::model::cluster::{
    Cluster, ClusterEvent, ClusterProbe, ClusterSpec, ClusterStats, NemesisSchedule,
};
use chaosim::safeguard::{SafeguardLog, SafeguardSet};

/// Events of [`NemesisDriver`]: the cluster's, nemesis steps and probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverEvent {
    /// A cluster event.
    Cluster(ClusterEvent),
    /// Apply step `step` of the schedule (kind 398).
    Nemesis {
        /// Index into the schedule.
        step: u32,
    },
    /// Sample the steady-state probe (kind 399).
    Probe,
}

const _: () = assert!(std::mem::size_of::<DriverEvent>() <= 32);

impl From<ClusterEvent> for DriverEvent {
    fn from(e: ClusterEvent) -> Self {
        DriverEvent::Cluster(e)
    }
}

impl EventInfo for DriverEvent {
    fn kind(&self) -> u16 {
        match self {
            DriverEvent::Cluster(e) => e.kind(),
            DriverEvent::Nemesis { .. } => 398,
            DriverEvent::Probe => 399,
        }
    }
    fn kind_name(&self) -> &'static str {
        match self {
            DriverEvent::Cluster(e) => e.kind_name(),
            DriverEvent::Nemesis { .. } => "cluster_nemesis_step",
            DriverEvent::Probe => "cluster_probe",
        }
    }
    fn target(&self) -> u32 {
        match self {
            DriverEvent::Cluster(e) => e.target(),
            DriverEvent::Nemesis { step } => *step,
            DriverEvent::Probe => 0,
        }
    }
}

/// A standalone model: a [`Cluster`] driven by a [`NemesisSchedule`], its
/// steady state sampled every `probe_interval` into a [`RecoveryTracker`].
/// The scenario layer composes [`Cluster`] itself; this driver is for
/// tests, benches and quick experiments.
pub struct NemesisDriver {
    /// The cluster.
    pub cluster: Cluster,
    schedule: NemesisSchedule,
    tracker: RecoveryTracker,
    probe_interval: SimDuration,
}

impl Model for NemesisDriver {
    type Event = DriverEvent;
    fn handle(&mut self, event: DriverEvent, ctx: &mut Ctx<'_, DriverEvent>) {
        match event {
            DriverEvent::Cluster(e) => self.cluster.handle(e, ctx),
            DriverEvent::Nemesis { step } => {
                let fault = self.schedule.steps()[step as usize].fault;
                self.cluster.inject(&fault, ctx);
            }
            DriverEvent::Probe => {
                let now = ctx.now();
                self.tracker.observe(now, self.cluster.probe(now).healthy());
                ctx.schedule_in(self.probe_interval, DriverEvent::Probe);
            }
        }
    }
}

/// The result of [`run_schedule`].
#[derive(Clone, Debug)]
pub struct ClusterRun {
    /// The checker's verdict after the final heal and settle.
    pub report: ConsistencyReport,
    /// The run digest.
    pub digest: Digest,
    /// Events handled.
    pub events: u64,
    /// Safeguards that fired.
    pub safeguards: SafeguardLog,
    /// Steady-state recovery over the run (probe every second from the
    /// first fault on, 3 s of health to count as restored).
    pub recovery: Recovery,
    /// The probe at the end.
    pub final_probe: ClusterProbe,
    /// Activity counters.
    pub stats: ClusterStats,
}

/// Boot a cluster at time zero, apply `schedule` (offsets from zero), run
/// until `settle` after its last step, and check. `history` optionally
/// receives the history as JSON lines.
pub fn run_schedule(
    spec: &ClusterSpec,
    deployed: SafeguardSet,
    seed: SeedPath,
    schedule: &NemesisSchedule,
    settle: SimDuration,
    history: Option<Box<dyn io::Write>>,
) -> Result<ClusterRun, Error> {
    let mut cluster = Cluster::try_new(spec, deployed, seed.child("cluster"), SimTime::ZERO)?;
    if let Some(sink) = history {
        cluster.set_history_sink(sink);
    }
    let end = schedule
        .steps()
        .last()
        .map_or(SimDuration::ZERO, |s| s.at)
        .checked_add(settle)
        .ok_or_else(|| Error::Check("schedule end overflows".into()))?;
    let driver = NemesisDriver {
        cluster,
        schedule: schedule.clone(),
        tracker: RecoveryTracker::new(SimDuration::from_secs(3)),
        probe_interval: SimDuration::from_secs(1),
    };
    let mut sim = Simulation::starting_at(driver, seed, SimTime::ZERO);
    sim.with_ctx(|m, ctx| m.cluster.boot(ctx));
    for (i, s) in schedule.steps().iter().enumerate() {
        sim.schedule_at(
            SimTime::ZERO + s.at,
            DriverEvent::Nemesis { step: i as u32 },
        );
    }
    // The steady state is sampled from the first fault on (boot is warm-up).
    let probe_from = schedule
        .steps()
        .first()
        .map_or(SimDuration::from_secs(1), |s| {
            s.at.max(SimDuration::from_secs(1))
        });
    sim.schedule_at(SimTime::ZERO + probe_from, DriverEvent::Probe);
    sim.run_until(SimTime::ZERO + end)?;
    let now = sim.now();
    let m = sim.model();
    let report = m.cluster.check();
    m.cluster
        .finish_history()
        .map_err(|e| Error::io("<history sink>", e))?;
    Ok(ClusterRun {
        report,
        digest: sim.digest(),
        events: sim.events_handled(),
        safeguards: m.cluster.safeguards().clone(),
        recovery: m.tracker.recovery(),
        final_probe: m.cluster.probe(now),
        stats: m.cluster.stats(),
    })
}
