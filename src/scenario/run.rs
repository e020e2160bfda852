//! The scenario runner: executes one or several scenarios on a stack
//! instance and measures their outcomes.
//!
//! For each scenario: its faults (scaled to its difficulty) are resolved to
//! concrete targets from its own nemesis stream and injected at their times;
//! its steady-state hypothesis is sampled every [`SAMPLE_EVERY_NS`] into a
//! [`RecoveryTracker`]; at the end the verdict combines recovery, expected
//! safeguards and (for runs with the replicated log) the consistency check.
//!
//! Timeline of a run: the stack boots at the slot time; the scenario clock
//! starts [`BOOT_SETTLE_NS`] later; faults start at their offsets; the run
//! ends when every scenario's window, its last fault and its recovery limit
//! (plus the stability window) have passed.

use crate::check::steady::{Recovery, RecoveryTracker};
use crate::engine::{Ctx, Digest, EventInfo, Model, SeedPath, SimDuration, SimTime, Simulation};
use crate::error::{Error, Result};
use crate::fault::FaultLayer;
use crate::model::layer1::Layer1Fault;
use crate::model::stack::{Layers, Stack, StackEvent, StackSpec};
use crate::safeguard::{Cause, SCENARIOS_PER_RUN_MAX, SafeguardLog, SafeguardSet};

use std::io::Write;

use crate::record::timeline::{TimelineRow, TimelineWriter};
use crate::record::trace::{self, StackTracer, TraceWriter};

use super::catalogue::Catalogue;
use super::difficulty::{self, Scaled};
use super::execution::{Execution, Executor, Item};
use super::outcome::{Detection, FailureKind, FaultRef, GovernanceSummary, Outcome};
pub use super::resolve::{Action, resolve};
use super::spec::{ProbeKind, ProbeSpec, ScenarioSpec};

/// Steady-state samples are taken this often.
pub const SAMPLE_EVERY_NS: u64 = 100_000_000;
/// The scenario clock starts this long after boot begins.
pub const BOOT_SETTLE_NS: u64 = 10_000_000_000;
/// After the last fault (and the final heal of the replicated log), the run
/// may end early once every scenario is restored and stable, but not before
/// this settling time has passed.
pub const SETTLE_AFTER_FAULTS_NS: u64 = 10_000_000_000;
/// Health must hold this long to count as restored.
pub const STABLE_FOR_NS: u64 = 5_000_000_000;

/// Events of the runner itself (kind codes 400..=499).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverEvent {
    /// Inject resolved fault `0`.
    Fault(u16),
    /// Sample the steady state of every scenario.
    Sample,
    /// Scenario `0`'s faults begin: its level's extra background load
    /// starts (held until the run ends).
    Load(u16),
    /// Before scenario `0`'s wave, the harness restores the platform
    /// ([`Layer1::operator_restore`](crate::model::layer1::Layer1::operator_restore)).
    Restore(u16),
}

impl EventInfo for DriverEvent {
    fn kind(&self) -> u16 {
        match self {
            DriverEvent::Fault(_) => 400,
            DriverEvent::Sample => 401,
            DriverEvent::Load(_) => 402,
            DriverEvent::Restore(_) => 403,
        }
    }
    fn kind_name(&self) -> &'static str {
        match self {
            DriverEvent::Fault(_) => "fault",
            DriverEvent::Sample => "sample",
            DriverEvent::Load(_) => "load",
            DriverEvent::Restore(_) => "restore",
        }
    }
    fn target(&self) -> u32 {
        match *self {
            DriverEvent::Fault(i) | DriverEvent::Load(i) | DriverEvent::Restore(i) => i as u32,
            DriverEvent::Sample => 0,
        }
    }
}

type Ev = StackEvent<DriverEvent>;

/// Per-scenario bookkeeping during a run.
struct Tracking {
    probes: Vec<ProbeSpec>,
    tracker: RecoveryTracker,
    /// The scenario clock's zero (its offset included).
    clock_ns: u64,
    faults_at_ns: u64,
    ends_at_ns: u64,
    healthy_before: bool,
}

/// The model the runner simulates: the stack plus the driver's bookkeeping.
pub struct RunModel {
    /// The stack.
    pub stack: Stack,
    /// Resolved fault actions with the fault they come from (`None`: the
    /// nemesis's own final heal, nobody's fault).
    actions: Vec<(Option<Cause>, Action)>,
    tracking: Vec<Tracking>,
    end_ns: u64,
    /// Each scenario's extra background load (its level's), permille.
    loads: Vec<u16>,
    /// Kernels the harness restored before each scenario's wave.
    restored: Vec<u32>,
    /// After this instant (every fault over, plus a settling time) the run
    /// may stop early once every scenario is healthy and stable.
    quiet_after_ns: u64,
    /// Optional streamed timeline: one row per sample.
    timeline: Option<TimelineWriter<Box<dyn Write>>>,
    /// Fault windows `(start_ns, end_ns, kind)` for the timeline.
    windows: Vec<(u64, u64, String)>,
    /// The first timeline write error, reported at the end of the run.
    timeline_error: Option<std::io::Error>,
    /// The scenario clock's zero (boot + settle): timeline times are
    /// relative to it, negative during the boot lead-in.
    clock0_ns: u64,
    /// Optional trace export (`record::trace`): observes every event.
    trace: Option<Box<StackTracer>>,
}

impl RunModel {
    fn write_timeline(&mut self, now: SimTime, healthy: bool) {
        let Some(w) = self.timeline.as_mut() else {
            return;
        };
        let t = now.as_nanos();
        let active: Vec<&str> = self
            .windows
            .iter()
            .filter(|(a, b, _)| *a <= t && t < (*b).max(*a + SAMPLE_EVERY_NS))
            .map(|(_, _, k)| k.as_str())
            .collect();
        let l1 = self.stack.l1.probe(now);
        let row = TimelineRow {
            t_s: (now.as_nanos() as f64 - self.clock0_ns as f64) / 1e9,
            kernels_running: l1.kernels_running as u32,
            kernels_total: l1.kernels_total as u32,
            queue_depth: self
                .stack
                .l2
                .as_ref()
                .map(|l| l.probe(now).queue_depth as u64)
                .unwrap_or(0),
            cpu_utilisation: l1.cpu_permille as f64 / 1000.0,
            memory_utilisation: l1.memory_permille as f64 / 1000.0,
            bus_latency_ms: l1.bus_latency_ms as f64,
            api_success_rate: l1.api_success_permille as f64 / 1000.0,
            healthy,
            faults_active: active.join(";"),
        };
        if let Err(e) = w.write(&row) {
            self.timeline_error.get_or_insert(e);
            self.timeline = None;
        }
    }
}

impl Model for RunModel {
    type Event = Ev;
    fn handle(&mut self, ev: Ev, ctx: &mut Ctx<'_, Ev>) {
        if let Some(d) = self.stack.handle(ev, ctx) {
            self.drive(d, ctx);
        }
        if let Some(tr) = self.trace.as_mut() {
            tr.observe(&self.stack, ctx.now());
        }
    }
}

impl RunModel {
    fn drive(&mut self, d: DriverEvent, ctx: &mut Ctx<'_, Ev>) {
        if let (DriverEvent::Fault(i), Some(tr)) = (d, self.trace.as_mut()) {
            let a = &self.actions[i as usize].1;
            if let Action::L1(f) = a {
                let (k, name, len) = match *f {
                    Layer1Fault::KillKernel { kernel } => (kernel, "KillKernel", 0),
                    Layer1Fault::PauseHeartbeat { kernel, length_ns } => {
                        (kernel, "PauseHeartbeat", length_ns)
                    }
                    Layer1Fault::AclFlood {
                        publisher,
                        length_ns,
                        ..
                    } => (publisher, "AclFlood", length_ns),
                    Layer1Fault::CpuSpike {
                        kernel, length_ns, ..
                    } => (kernel, "CpuSpike", length_ns),
                    Layer1Fault::MemoryLeak {
                        kernel, length_ns, ..
                    } => (kernel, "MemoryLeak", length_ns),
                    Layer1Fault::DiskFill {
                        kernel, length_ns, ..
                    } => (kernel, "DiskFill", length_ns),
                    Layer1Fault::NetworkSaturation {
                        kernel, length_ns, ..
                    } => (kernel, "NetworkSaturation", length_ns),
                    _ => (u16::MAX, "", 0),
                };
                tr.kernel_fault(k, name, ctx.now(), len);
            }
            let what = format!("{a:?}");
            tr.writer().instant(
                trace::pid::NEMESIS,
                0,
                "inject",
                "fault",
                ctx.now().as_nanos(),
                &[("action", trace::Arg::Str(&what))],
            );
        }
        if let (DriverEvent::Sample, Some(tr)) = (d, self.trace.as_mut()) {
            tr.sample(&self.stack, ctx.now());
        }
        match d {
            DriverEvent::Fault(i) => match self.actions[i as usize] {
                (Some(cause), Action::L1(ref f)) => self.stack.l1.inject_caused(f, cause, ctx),
                (Some(cause), Action::L2(ref f)) => {
                    if let Some(l2) = &mut self.stack.l2 {
                        l2.inject_caused(f, cause, ctx)
                    }
                }
                (cause, Action::Cluster(ref f)) => {
                    if let Some(c) = &mut self.stack.cluster {
                        // The final heal (no cause) is credited to nobody.
                        c.inject_caused(f, cause.unwrap_or_default(), ctx)
                    }
                }
                (None, _) => unreachable!("only the final heal has no cause"),
            },
            DriverEvent::Load(j) => {
                let l = self.loads[j as usize];
                self.stack.raise_load(ctx.now(), l);
            }
            DriverEvent::Restore(j) => {
                let n = self.stack.l1.operator_restore(ctx);
                self.restored[j as usize] = n;
            }
            DriverEvent::Sample => {
                let now = ctx.now();
                // Every layer's probe once per sample: folded into the run
                // digest (the state, not only the events), then judged.
                let probes = StackProbes::of(&self.stack, now);
                probes.fold_into(ctx);
                if ctx.observed() {
                    for (component, fp) in self.stack.fingerprints(now) {
                        ctx.report_state(component, fp);
                    }
                }
                if self.timeline.is_some() {
                    let healthy = self
                        .tracking
                        .iter()
                        .all(|t| probes.steady(&self.stack, &t.probes, now));
                    self.write_timeline(now, healthy);
                }
                let mut verdicts = crate::engine::Fingerprint::new();
                // Several scenarios: each is judged on the harm its own
                // faults caused (Layer1::probe_for); one: on the whole stack.
                let attributed = self.tracking.len() > 1;
                for (j, t) in self.tracking.iter_mut().enumerate() {
                    if now.as_nanos() > t.ends_at_ns {
                        verdicts.u64(2);
                        continue;
                    }
                    let healthy = if attributed && t.probes.is_empty() {
                        probes.steady_with_l1(&self.stack.l1.probe_for(now, j as u8))
                    } else {
                        probes.steady(&self.stack, &t.probes, now)
                    };
                    verdicts.bool(healthy);
                    if now.as_nanos() < t.faults_at_ns {
                        t.healthy_before = healthy;
                    } else {
                        t.tracker.observe(now, healthy);
                    }
                }
                ctx.fold_state(verdicts.finish());
                if ctx.observed() {
                    ctx.report_state("scenario.steady_state", verdicts.finish());
                }
                let settled = now.as_nanos() >= self.quiet_after_ns
                    && self.tracking.iter().all(|t| {
                        t.tracker.healthy_now()
                            && !matches!(t.tracker.recovery(), Recovery::NotRecovered { .. })
                    });
                if settled {
                    // Every scenario is restored and stable after its faults:
                    // the rest of the recovery window cannot change a verdict
                    // that has already been reached, so stop here.
                    ctx.stop();
                } else if now.as_nanos() + SAMPLE_EVERY_NS <= self.end_ns {
                    ctx.schedule_in(
                        SimDuration::from_nanos(SAMPLE_EVERY_NS),
                        StackEvent::Driver(DriverEvent::Sample),
                    );
                }
            }
        }
    }
}

/// The value of a probe on the stack now (`None` if its layer is not running).
pub fn probe_value(stack: &Stack, probe: ProbeKind, now: SimTime) -> Option<f64> {
    let l1 = || stack.l1.probe(now);
    let l2 = || stack.l2.as_ref().map(|l| l.probe(now));
    let cl = || stack.cluster.as_ref().map(|c| c.probe(now));
    Some(match probe {
        ProbeKind::KernelsRunning => l1().kernels_running as f64,
        ProbeKind::CriticalKernelsDown => {
            let p = l1();
            p.critical_total.saturating_sub(p.critical_running) as f64
        }
        ProbeKind::ApiSuccessRate => l1().api_success_permille as f64 / 1000.0,
        ProbeKind::BusLatencyMs => l1().bus_latency_ms as f64,
        ProbeKind::CpuUtilisation => l1().cpu_permille as f64 / 1000.0,
        ProbeKind::MemoryUtilisation => l1().memory_permille as f64 / 1000.0,
        ProbeKind::ApprovalBacklogS => stack.l1.approval_backlog(now).as_secs_f64(),
        ProbeKind::QueueDepth => l2()?.queue_depth as f64,
        ProbeKind::WorkersAlive => l2()?.workers_alive as f64,
        ProbeKind::DispatchRatePerS => l2()?.dispatch_rate_per_s,
        ProbeKind::TriggerBacklog => l2()?.mesh_backlog as f64,
        ProbeKind::PolicyDepth => l2()?.policy_depth as f64,
        ProbeKind::ClientSuccessRate => cl()?.success_rate(),
        ProbeKind::LeaderPresent => cl()?.leader.is_some() as u8 as f64,
    })
}

/// Every running layer's probe at one instant.
struct StackProbes {
    l1: crate::model::layer1::Layer1Probe,
    l2: Option<crate::model::layer2::Layer2Probe>,
    cluster: Option<crate::model::cluster::ClusterProbe>,
}

impl StackProbes {
    fn of(stack: &Stack, now: SimTime) -> StackProbes {
        StackProbes {
            l1: stack.l1.probe(now),
            l2: stack.l2.as_ref().map(|l| l.probe(now)),
            cluster: stack.cluster.as_ref().map(|c| c.probe(now)),
        }
    }

    /// Fold the probes into the run digest, in the documented order:
    /// Layer 1's [`state_values`](crate::model::layer1::Layer1Probe::state_values),
    /// then a 0/1 marker and Layer 2's, then a marker and the cluster's.
    fn fold_into<E>(&self, ctx: &mut Ctx<'_, E>) {
        for v in self.l1.state_values() {
            ctx.fold_state(v);
        }
        match &self.l2 {
            Some(p) => {
                ctx.fold_state(1);
                for v in p.state_values() {
                    ctx.fold_state(v);
                }
            }
            None => ctx.fold_state(0),
        }
        match &self.cluster {
            Some(p) => {
                ctx.fold_state(1);
                for v in p.state_values() {
                    ctx.fold_state(v);
                }
            }
            None => ctx.fold_state(0),
        }
    }

    /// The default hypothesis with Layer 1 read from `l1` (a scenario's
    /// attributed view) and the other layers from these probes.
    fn steady_with_l1(&self, l1: &crate::model::layer1::Layer1Probe) -> bool {
        l1.healthy()
            && self.l2.as_ref().is_none_or(|p| p.healthy())
            && self.cluster.as_ref().is_none_or(|p| p.healthy())
    }

    /// [`steady`] with the default hypothesis read from these probes.
    fn steady(&self, stack: &Stack, probes: &[ProbeSpec], now: SimTime) -> bool {
        if probes.is_empty() {
            return self.l1.healthy()
                && self.l2.as_ref().is_none_or(|p| p.healthy())
                && self.cluster.as_ref().is_none_or(|p| p.healthy());
        }
        steady(stack, probes, now)
    }
}

/// Whether the steady-state hypothesis holds: the listed probes within their
/// tolerances, or (none listed) every running layer's default hypothesis.
pub fn steady(stack: &Stack, probes: &[ProbeSpec], now: SimTime) -> bool {
    if probes.is_empty() {
        return stack.l1.probe(now).healthy()
            && stack.l2.as_ref().is_none_or(|l2| l2.probe(now).healthy())
            && stack
                .cluster
                .as_ref()
                .is_none_or(|c| c.probe(now).healthy());
    }
    probes
        .iter()
        .all(|p| match probe_value(stack, p.probe, now) {
            Some(v) => p.min.is_none_or(|lo| v >= lo) && p.max.is_none_or(|hi| v <= hi),
            None => true,
        })
}

/// The layers a set of scenarios needs.
pub fn layers_for(specs: &[&ScenarioSpec]) -> Layers {
    let mut layers = Layers {
        layer2: false,
        cluster: false,
    };
    for s in specs {
        // The scenario's declared layer runs even without a fault on it (a
        // control scenario of the family still exercises its layer).
        layers.layer2 |= s.layer == 2;
        layers.cluster |= s.family == super::spec::Family::Jepsen;
        for f in &s.faults {
            match f.kind.layer() {
                FaultLayer::Layer1 => {}
                FaultLayer::Layer2 => layers.layer2 = true,
                FaultLayer::Cluster => layers.cluster = true,
            }
        }
        for p in &s.steady_state {
            match p.probe {
                ProbeKind::QueueDepth
                | ProbeKind::WorkersAlive
                | ProbeKind::DispatchRatePerS
                | ProbeKind::TriggerBacklog
                | ProbeKind::PolicyDepth => layers.layer2 = true,
                ProbeKind::ClientSuccessRate | ProbeKind::LeaderPresent => layers.cluster = true,
                ProbeKind::KernelsRunning
                | ProbeKind::CriticalKernelsDown
                | ProbeKind::ApiSuccessRate
                | ProbeKind::BusLatencyMs
                | ProbeKind::CpuUtilisation
                | ProbeKind::MemoryUtilisation
                | ProbeKind::ApprovalBacklogS => {}
            }
        }
    }
    layers
}

/// One scenario of a run, resolved.
pub struct Planned<'a> {
    /// The scenario.
    pub spec: &'a ScenarioSpec,
    /// Its level and scaled faults.
    pub scaled: Scaled,
    /// When its clock starts, after the scenario clock of the run (0 for
    /// concurrent scenarios; later waves of a stress test start later).
    pub offset_ns: u64,
    /// The harness restores the platform when this scenario's clock starts
    /// (failed kernels restarted, restart budgets cleared): a stress wave
    /// after the first.
    pub restore_first: bool,
}

/// Optional streamed outputs of a run (all off by default: zero cost).
#[derive(Default)]
pub struct RunOutputs {
    /// One CSV row per sample (`report::timeline` format).
    pub timeline: Option<Box<dyn Write>>,
    /// Layer-2 5W1H decision narratives, JSONL (empty if the run has no Layer 2).
    pub narrative: Option<Box<dyn Write>>,
    /// The run in the Chrome Trace Event format (`record::trace`).
    pub trace: Option<Box<dyn Write>>,
    /// The replicated log's operation history, JSONL (`check::history`
    /// lines between a header line and trailer lines with the fault windows
    /// and the checker's anomalies; see `report::history`). Only the header
    /// and trailer for runs without the replicated log.
    pub history: Option<Box<dyn Write>>,
    /// The control-plane dump: a CSV row per kernel every 5 s
    /// (`model::layer1::DUMP_HEADER`), scenario clock.
    pub dump: Option<Box<dyn Write>>,
    /// The Layer-2 telemetry: a CSV row every 15 s
    /// (`model::layer2::TELEMETRY_HEADER`), scenario clock; only the header
    /// for runs without Layer 2.
    pub telemetry: Option<Box<dyn Write>>,
}

/// What a run produced: one outcome per scenario and the final state of
/// the platform.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// One outcome per planned scenario, in order.
    pub outcomes: Vec<Outcome>,
    /// Kernels running at the end.
    pub kernels_running_end: u32,
    /// Kernels the harness restored before each planned scenario (see
    /// [`Planned::restore_first`]; 0 where it did not).
    pub restored_kernels: Vec<u32>,
    /// The Layer-1 probe at the end of the run.
    pub end_probe: crate::model::layer1::Layer1Probe,
    /// The Layer-1 counters at the end (restarts, kernels over their
    /// restart budget, watchdog timeouts...).
    pub l1_stats: crate::model::layer1::Layer1Stats,
    /// Kernels in the stack.
    pub kernels_total: u32,
    /// Events handled.
    pub events: u64,
    /// The run digest.
    pub digest: Digest,
    /// Every safeguard firing of the run.
    pub safeguards: SafeguardLog,
}

/// Run the planned scenarios together on one stack instance starting at
/// `start`; returns one outcome per scenario, in order.
pub fn run_together(
    stack_spec: &StackSpec,
    planned: &[Planned<'_>],
    deployed: SafeguardSet,
    known_fixes: SafeguardSet,
    seed: SeedPath,
    start: SimTime,
    outputs: RunOutputs,
) -> Result<RunResult> {
    let mut b = build(
        stack_spec,
        planned,
        deployed,
        known_fixes,
        seed,
        start,
        outputs,
        Faults::Injected,
    )?;
    b.sim.run_until(SimTime::from_nanos(b.end_ns))?;
    finish(b, planned, deployed)
}

/// Whether a built run injects its scenarios' faults (the experiment) or
/// not (the control group of [`super::control`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Faults {
    /// Inject every resolved fault action (and the final heal).
    Injected,
    /// Resolve the faults exactly as the experiment does (same nemesis
    /// stream, same run length and layers) but inject none of them, and
    /// never stop early.
    Withheld,
}

/// A run ready to be advanced: the simulation and its planned end.
pub(crate) struct Built {
    /// The simulation (stack + driver), booted, faults scheduled.
    pub(crate) sim: Simulation<RunModel>,
    /// The latest end of the run.
    pub(crate) end_ns: u64,
    /// The scenario clock's zero (boot + settle).
    pub(crate) t0_ns: u64,
    /// Fault windows `(start_ns, end_ns, kind)`.
    pub(crate) windows: Vec<(u64, u64, String)>,
    /// Where to write the history trailer, if a history is streamed.
    history: Option<SharedSink>,
}

/// A writer shared between the cluster's history recorder and the runner
/// (which writes the history file's header and trailer lines).
#[derive(Clone)]
struct SharedSink(std::rc::Rc<std::cell::RefCell<Box<dyn Write>>>);

impl Write for SharedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// Build one run (see [`run_together`]); `faults` says whether the fault
/// actions are scheduled.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    stack_spec: &StackSpec,
    planned: &[Planned<'_>],
    deployed: SafeguardSet,
    known_fixes: SafeguardSet,
    seed: SeedPath,
    start: SimTime,
    outputs: RunOutputs,
    faults: Faults,
) -> Result<Built> {
    let specs: Vec<&ScenarioSpec> = planned.iter().map(|p| p.spec).collect();
    let layers = layers_for(&specs);
    let mut stack = Stack::new(stack_spec, layers, deployed, seed, start);
    stack.l1.set_known_fixes(known_fixes);
    if let (Some(w), Some(l2)) = (outputs.narrative, stack.l2.as_mut()) {
        l2.attach_narrative(w);
    }
    let timeline = outputs.timeline;
    let t0 = start.as_nanos() + BOOT_SETTLE_NS;
    if let Some(w) = outputs.dump {
        stack.l1.attach_dump(w, SimTime::from_nanos(t0));
    }
    if let Some(mut w) = outputs.telemetry {
        match stack.l2.as_mut() {
            Some(l2) => l2.attach_telemetry(w, SimTime::from_nanos(t0)),
            None => w
                .write_all(crate::model::layer2::TELEMETRY_HEADER.as_bytes())
                .and_then(|_| w.flush())
                .map_err(|e| Error::io("telemetry", e))?,
        }
    }
    let mut actions = Vec::new();
    let mut at = Vec::new();
    let mut tracking = Vec::new();
    let mut end_ns = t0;
    let mut faults_over_ns = t0;
    let mut windows = Vec::new();
    if planned.len() > SCENARIOS_PER_RUN_MAX {
        return Err(Error::Usage {
            flag: "scenarios".into(),
            message: format!(
                "{} scenarios in one run (at most {SCENARIOS_PER_RUN_MAX} run together)",
                planned.len()
            ),
        });
    }
    let mut load_at = Vec::with_capacity(planned.len());
    for (j, p) in planned.iter().enumerate() {
        let resolved = resolve(
            &stack,
            &p.spec.id,
            &p.spec.source,
            &p.scaled.faults,
            &stack_spec.faults,
            seed,
        )?;
        let t0 = t0 + p.offset_ns;
        let first = resolved.iter().map(|(o, _, _)| *o).min().unwrap_or(0);
        let last_end = p
            .scaled
            .faults
            .iter()
            .map(|f| f.start_ns + f.length_ns)
            .max()
            .unwrap_or(0);
        let ends =
            t0 + p.scaled.window_ns.max(last_end) + p.scaled.recovery_limit_ns + STABLE_FOR_NS;
        end_ns = end_ns.max(ends);
        faults_over_ns = faults_over_ns.max(t0 + p.scaled.window_ns.max(last_end));
        load_at.push((t0 + first, p.scaled.load_permille));
        for (offset, fault, a) in resolved {
            at.push(t0 + offset);
            actions.push((Some(Cause::new(j as u8, fault)), a));
        }
        for f in &p.scaled.faults {
            windows.push((
                t0 + f.start_ns,
                t0 + f.start_ns + f.length_ns,
                format!("{:?}", f.kind),
            ));
        }
        tracking.push(Tracking {
            probes: p.spec.steady_state.clone(),
            tracker: RecoveryTracker::new(SimDuration::from_nanos(STABLE_FOR_NS)),
            clock_ns: t0,
            faults_at_ns: t0 + first,
            ends_at_ns: ends,
            healthy_before: true,
        });
    }
    // Concurrent scenarios (same offset) share one experiment: the steady
    // state is checked before the first fault of any of them, and recovery is
    // observed from there on.
    for i in 0..tracking.len() {
        let wave_start = planned
            .iter()
            .zip(&tracking)
            .filter(|(p, _)| p.offset_ns == planned[i].offset_ns)
            .map(|(_, t)| t.faults_at_ns)
            .min()
            .expect("the scenario itself");
        tracking[i].faults_at_ns = wave_start;
    }
    assert!(actions.len() < u16::MAX as usize, "too many fault actions");
    let quiet_after_ns = match faults {
        Faults::Injected => faults_over_ns + SETTLE_AFTER_FAULTS_NS,
        // The control group runs as long as its experiment is driven.
        Faults::Withheld => u64::MAX,
    };
    let timeline = match timeline {
        Some(w) => Some(TimelineWriter::new(w).map_err(|e| Error::io("timeline", e))?),
        None => None,
    };
    let history = match outputs.history {
        Some(w) => {
            let mut sink = SharedSink(std::rc::Rc::new(std::cell::RefCell::new(w)));
            let ids: Vec<&str> = planned.iter().map(|p| p.spec.id.as_str()).collect();
            writeln!(
                sink,
                "{{\"chaosim_history\":1,\"scenarios\":{},\"start_ns\":{},\"t0_ns\":{}}}",
                serde_json::to_string(&ids).expect("strings serialize"),
                start.as_nanos(),
                t0
            )
            .map_err(|e| Error::io("history", e))?;
            if let Some(c) = stack.cluster.as_mut() {
                c.set_history_sink(Box::new(sink.clone()));
            }
            Some(sink)
        }
        None => None,
    };
    let trace = match outputs.trace {
        Some(w) => {
            let mut tr = StackTracer::new(
                TraceWriter::new(w).map_err(|e| Error::io("trace", e))?,
                &stack,
            );
            let tw = tr.writer();
            // One clock: the trace, the timeline CSV, the history and the
            // scenario file all count from the scenario clock's zero.
            tw.set_origin(t0);
            for (j, (a, b, kind)) in windows.iter().enumerate() {
                let tid = j as u32 + 1;
                tw.thread_name(trace::pid::NEMESIS, tid, &format!("fault {j}: {kind}"));
                tw.slice(
                    trace::pid::NEMESIS,
                    tid,
                    kind,
                    "fault",
                    *a,
                    b - a,
                    &[("fault", trace::Arg::U64(j as u64))],
                );
            }
            Some(Box::new(tr))
        }
        None => None,
    };
    let model = RunModel {
        stack,
        actions,
        tracking,
        end_ns,
        quiet_after_ns,
        loads: load_at.iter().map(|&(_, l)| l).collect(),
        restored: vec![0; planned.len()],
        timeline,
        windows: windows.clone(),
        timeline_error: None,
        clock0_ns: t0,
        trace,
    };
    let mut sim = Simulation::starting_at(model, seed, start);
    sim.with_ctx(|m, ctx| m.stack.boot(ctx));
    if faults == Faults::Injected {
        for (i, t) in at.iter().enumerate() {
            sim.schedule_at(
                SimTime::from_nanos(*t),
                StackEvent::Driver(DriverEvent::Fault(i as u16)),
            );
        }
        for (j, p) in planned.iter().enumerate() {
            if p.restore_first {
                sim.schedule_at(
                    SimTime::from_nanos(t0 + p.offset_ns),
                    StackEvent::Driver(DriverEvent::Restore(j as u16)),
                );
            }
        }
        for (j, &(t, permille)) in load_at.iter().enumerate() {
            if permille > 0 {
                sim.schedule_at(
                    SimTime::from_nanos(t),
                    StackEvent::Driver(DriverEvent::Load(j as u16)),
                );
            }
        }
    }
    sim.schedule_at(
        SimTime::from_nanos(t0 - SAMPLE_EVERY_NS),
        StackEvent::Driver(DriverEvent::Sample),
    );
    if layers.cluster && faults == Faults::Injected && !at.is_empty() {
        // Jepsen's final phase: heal everything before the last stretch
        // (part of the nemesis: withheld from the control group, and
        // nothing to heal when no fault was resolved).
        let heal_at = faults_over_ns;
        let idx = sim.model().actions.len();
        sim.model_mut().actions.push((
            None,
            Action::Cluster(crate::model::cluster::ClusterFault::Heal),
        ));
        sim.schedule_at(
            SimTime::from_nanos(heal_at),
            StackEvent::Driver(DriverEvent::Fault(idx as u16)),
        );
    }
    Ok(Built {
        sim,
        end_ns,
        t0_ns: t0,
        windows,
        history,
    })
}

/// Finish a run that was advanced to its end: flush the streams, check, and
/// give the verdicts.
pub(crate) fn finish(
    b: Built,
    planned: &[Planned<'_>],
    deployed: SafeguardSet,
) -> Result<RunResult> {
    let Built {
        sim,
        windows,
        history,
        ..
    } = b;
    let events = sim.events_handled();
    let digest = sim.digest();
    let end = sim.now();
    let mut model = sim.into_model();
    if let Some(e) = model.timeline_error.take() {
        return Err(Error::io("timeline", e));
    }
    if let Some(w) = model.timeline.take() {
        w.finish().map_err(|e| Error::io("timeline", e))?;
    }
    if let Some(l2) = model.stack.l2.as_mut() {
        l2.flush_outputs().map_err(|e| Error::io("narrative", e))?;
    }
    model
        .stack
        .l1
        .finish_dump()
        .map_err(|e| Error::io("dump", e))?;
    if let Some(tr) = model.trace.take() {
        tr.finish(end).map_err(|e| Error::io("trace", e))?;
    }
    let log = model.stack.safeguards();
    let report = model.stack.cluster.as_ref().map(|c| c.check());
    let lin = model.stack.cluster.as_ref().map(|c| {
        crate::check::linearizable::check_log(
            c.history(),
            crate::check::linearizable::LOG_STEPS_MAX_DEFAULT,
        )
    });
    let anomalies = report.as_ref().map(|r| r.anomalies()).unwrap_or(0);
    if let Some(mut sink) = history {
        if let Some(c) = model.stack.cluster.as_ref() {
            c.finish_history().map_err(|e| Error::io("history", e))?;
        }
        let final_log = match (model.stack.cluster.as_ref(), report.as_ref()) {
            (Some(c), Some(r)) => r.reference_node.map(|n| (n, c.log_of(n))),
            _ => None,
        };
        write_history_trailer(&mut sink, &windows, report.as_ref(), final_log, end)
            .map_err(|e| Error::io("history", e))?;
    }
    let mut governance = GovernanceSummary::default();
    governance.add(model.stack.l1.governance_stats());
    if let Some(l2) = model.stack.l2.as_ref() {
        governance.add(l2.governance_stats());
    }
    let alerts = model
        .stack
        .l2
        .as_ref()
        .map(|l| l.alerts())
        .unwrap_or_default();
    let outcomes = planned
        .iter()
        .zip(&model.tracking)
        .enumerate()
        .map(|(j, (p, t))| {
            let mut o = verdict(p, j as u8, t, &log, deployed, anomalies, events, digest);
            o.linearizability = lin;
            if let Some(v) = &lin
                && v.valid == crate::check::consistency::Validity::False
                && p.spec.layer == 3
                && !o.failure_kinds.contains(&FailureKind::Anomalies)
            {
                // The linearizability checker found what the consistency
                // checker did not: an invariant violated all the same.
                o.passed = false;
                o.failure_kinds.push(FailureKind::Anomalies);
                o.failure_reason.get_or_insert_with(|| {
                    format!(
                        "history not linearizable at {} log positions",
                        v.positions_not_linearizable
                    )
                });
            }
            o.governance = governance;
            o.alerts = alerts;
            o
        })
        .collect::<Vec<Outcome>>();
    // The outcomes close the digest: the same events and states with
    // another verdict are another run.
    let digest = outcomes.iter().fold(digest, fold_outcome);
    let mut outcomes = outcomes;
    for o in &mut outcomes {
        o.digest = digest;
    }
    let l1 = model.stack.l1.probe(end);
    Ok(RunResult {
        outcomes,
        kernels_running_end: l1.kernels_running as u32,
        restored_kernels: model.restored.clone(),
        end_probe: l1,
        l1_stats: *model.stack.l1.stats(),
        kernels_total: model.stack.l1.kernel_count() as u32,
        events,
        digest,
        safeguards: log,
    })
}

/// Fold an outcome into a digest (digest format 2): passed, recovery ns
/// (`u64::MAX` if not restored), the first failure kind (`index + 1`, 0 for
/// a pass), the fired, needed and missing safeguards (bitsets) and the
/// anomalies.
pub fn fold_outcome(d: Digest, o: &Outcome) -> Digest {
    let recovery = o.recovery_s.map_or(u64::MAX, |s| (s * 1e9).round() as u64);
    let needed: SafeguardSet = o.safeguards_needed.iter().map(|n| n.safeguard).collect();
    [
        o.passed as u64,
        recovery,
        o.failure_kind().map_or(0, |k| k.index() as u64 + 1),
        o.safeguards_fired.bits().into(),
        needed.bits().into(),
        o.safeguards_missing.bits().into(),
        o.anomalies,
    ]
    .into_iter()
    .fold(d, |d, v| d.fold_value(v))
}

/// The trailer of a history file: one line per fault window, one per
/// anomaly kind the checker found (its count and first example), and an end
/// line.
fn write_history_trailer(
    w: &mut dyn Write,
    windows: &[(u64, u64, String)],
    report: Option<&crate::check::consistency::ConsistencyReport>,
    final_log: Option<(u16, &[crate::check::consistency::LogEntry])>,
    end: SimTime,
) -> std::io::Result<()> {
    for (a, b, kind) in windows {
        writeln!(
            w,
            "{{\"nemesis\":\"{kind}\",\"start_ns\":{a},\"end_ns\":{b}}}"
        )?;
    }
    if let Some(r) = report {
        for (kind, ex) in &r.examples {
            let line = serde_json::json!({
                "anomaly": kind.name(),
                "count": r.counts.get(*kind),
                "values": ex.values,
                "times_ns": ex.times_ns,
                "index": ex.index,
                "nodes": ex.nodes,
            });
            writeln!(w, "{line}")?;
        }
        writeln!(
            w,
            "{{\"checker\":{{\"valid\":{},\"anomalies\":{},\"appends_ok\":{},\"reads_ok\":{}}}}}",
            serde_json::to_string(&r.valid).expect("validity serializes"),
            r.anomalies(),
            r.appends_ok,
            r.reads_ok
        )?;
    }
    if let Some((node, log)) = final_log {
        // The reference replica's final log (values in order), so a reader
        // can tell every acknowledged append that is missing from it.
        write!(w, "{{\"final_log\":{{\"node\":{node},\"values\":[")?;
        for (i, e) in log.iter().enumerate() {
            if i > 0 {
                write!(w, ",")?;
            }
            write!(w, "{}", e.value)?;
        }
        writeln!(w, "]}}}}")?;
    }
    writeln!(w, "{{\"end_ns\":{}}}", end.as_nanos())?;
    w.flush()
}

#[allow(clippy::too_many_arguments)]
fn verdict(
    p: &Planned<'_>,
    j: u8,
    t: &Tracking,
    log: &SafeguardLog,
    deployed: SafeguardSet,
    anomalies: u64,
    events: u64,
    digest: Digest,
) -> Outcome {
    let limit_ns = p.scaled.recovery_limit_ns;
    let recovery = t.tracker.recovery();
    let mut kinds = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    if !t.healthy_before {
        kinds.push(FailureKind::NotSteadyBefore);
        reasons.push("steady state did not hold before the faults".into());
    }
    match recovery {
        Recovery::NotRecovered { violated_at } => {
            kinds.push(FailureKind::NotRecovered);
            let since = (t.ends_at_ns.saturating_sub(violated_at.as_nanos())) as f64 / 1e9;
            reasons.push(format!(
                "steady state not restored: violated for {since:.1} s, limit {:.0} s",
                limit_ns as f64 / 1e9
            ));
        }
        Recovery::Recovered {
            violated_at,
            restored_at,
        } => {
            let took = (restored_at - violated_at).as_nanos();
            if took > limit_ns {
                kinds.push(FailureKind::RecoveryExceeded);
                reasons.push(format!(
                    "recovery exceeded limit by {:.1} s",
                    (took - limit_ns) as f64 / 1e9
                ));
            }
        }
        Recovery::NeverViolated => {}
    }
    if anomalies > 0 && p.spec.layer == 3 {
        kinds.push(FailureKind::Anomalies);
        reasons.push(format!("consistency check found {anomalies} anomalies"));
    }
    // Credit by cause: only what this scenario's own faults brought about.
    let detection = |sg, acted| {
        log.evidence(sg, acted, j).map(|ev| Detection {
            safeguard: sg,
            at_s: (ev.at.as_nanos() as i128 - t.clock_ns as i128) as f64 / 1e9,
            signal: ev.signal,
            value: ev.value,
            threshold: ev.threshold,
            cause: {
                let fault = ev.cause.map_or(0, |c| c.fault) as usize;
                FaultRef {
                    scenario: p.spec.id.clone(),
                    fault: p.scaled.origin[fault],
                    kind: p.scaled.faults[fault].kind,
                }
            },
            expected: p.spec.expected_safeguards.contains(sg),
        })
    };
    let fired = log.fired_by(j);
    let needed = log.needed_by(j).difference(fired);
    let expected = p.spec.expected_safeguards;
    let missing = expected.intersection(needed);
    let needs: Vec<Detection> = needed
        .iter()
        .filter_map(|sg| detection(sg, false))
        .collect();
    let firings: Vec<Detection> = fired.iter().filter_map(|sg| detection(sg, true)).collect();
    for d in needs.iter().filter(|d| d.expected) {
        if deployed.contains(d.safeguard) {
            kinds.push(FailureKind::SafeguardSilent);
            reasons.push(format!(
                "safeguard {} needed {}, deployed but did not act",
                d.safeguard,
                d.words()
            ));
        } else {
            kinds.push(FailureKind::SafeguardMissing);
            reasons.push(format!(
                "safeguard {} needed {}, not deployed",
                d.safeguard,
                d.words()
            ));
        }
    }
    let passed = kinds.is_empty();
    Outcome {
        id: p.spec.id.clone(),
        difficulty: p.scaled.level.level,
        passed,
        recovery_s: recovery.duration().map(|d| d.as_secs_f64()),
        recovery_limit_s: limit_ns as f64 / 1e9,
        failure_reason: reasons.into_iter().next(),
        failure_kinds: kinds,
        safeguards_expected: expected,
        safeguards_fired: fired,
        safeguards_missing: missing,
        safeguards_needed: needs,
        safeguards_firings: firings,
        safeguards_not_exercised: expected.difference(fired.union(needed)),
        safeguards_deployed: deployed,
        anomalies,
        linearizability: None,
        governance: GovernanceSummary::default(),
        alerts: Default::default(),
        events,
        digest,
    }
}

/// The real executor: a catalogue and a stack description.
pub struct Runner<'a> {
    /// The scenarios.
    pub catalogue: &'a Catalogue,
    /// The stack.
    pub stack: &'a StackSpec,
    /// Threads for the independent items of one execution (1 = in turn).
    pub threads: usize,
}

/// Run the items of a concurrent execution together on one stack (seed
/// path [`Execution::seed_path`]); `specs[i]` is item `i`'s scenario.
pub fn run_execution_together(
    stack: &StackSpec,
    exec: &Execution,
    specs: &[&ScenarioSpec],
    outputs: RunOutputs,
) -> Result<Vec<Outcome>> {
    let planned: Vec<Planned<'_>> = specs
        .iter()
        .zip(&exec.items)
        .map(|(spec, it)| Planned {
            spec,
            scaled: difficulty::scale_with(spec, it.difficulty, &stack.difficulty),
            offset_ns: 0,
            restore_first: false,
        })
        .collect();
    let known = exec
        .items
        .iter()
        .fold(SafeguardSet::EMPTY, |a, it| a.union(it.known_fixes));
    Ok(run_together(
        stack,
        &planned,
        exec.deployed,
        known,
        exec.seed_path(),
        exec.start,
        outputs,
    )?
    .outcomes)
}

/// Run `item` (scenario `spec`) of a sequential execution alone on its own
/// stack at `position` (seed path [`Execution::item_seed_path`]). Its
/// outcome depends on the execution's seed, run, start and deployed set and
/// on that item and position only.
pub fn run_execution_item(
    stack: &StackSpec,
    exec: &Execution,
    item: &Item,
    spec: &ScenarioSpec,
    position: u64,
    outputs: RunOutputs,
) -> Result<Outcome> {
    let planned = Planned {
        spec,
        scaled: difficulty::scale_with(spec, item.difficulty, &stack.difficulty),
        offset_ns: 0,
        restore_first: false,
    };
    let mut r = run_together(
        stack,
        &[planned],
        exec.deployed,
        item.known_fixes,
        exec.item_seed_path(position),
        exec.start,
        outputs,
    )?;
    Ok(r.outcomes.remove(0))
}

impl Runner<'_> {
    /// Run every item of a concurrent execution together on one stack.
    pub fn execute_together(&self, exec: &Execution) -> Result<Vec<Outcome>> {
        let specs = exec
            .items
            .iter()
            .map(|it| self.catalogue.require(&it.scenario))
            .collect::<Result<Vec<_>>>()?;
        run_execution_together(self.stack, exec, &specs, RunOutputs::default())
    }

    /// Run item `i` of a sequential execution alone on its own stack (see
    /// [`run_execution_item`]).
    pub fn execute_item(&self, exec: &Execution, i: usize) -> Result<Outcome> {
        let it = &exec.items[i];
        let spec = self.catalogue.require(&it.scenario)?;
        run_execution_item(self.stack, exec, it, spec, i as u64, RunOutputs::default())
    }
}

impl Executor for Runner<'_> {
    fn execute(&self, exec: &Execution) -> Result<Vec<Outcome>> {
        if exec.concurrent {
            return self.execute_together(exec);
        }
        // Independent items run on their own threads (each builds its own
        // stack inside its thread); results are joined in item order, so the
        // outcome does not depend on the thread count.
        let run_item = |i: usize| self.execute_item(exec, i);
        if exec.items.len() < 2 || self.threads < 2 {
            return (0..exec.items.len()).map(run_item).collect();
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = (1..exec.items.len())
                .map(|i| scope.spawn(move || run_item(i)))
                .collect();
            let mut out = vec![run_item(0)];
            out.extend(
                handles
                    .into_iter()
                    .map(|h| h.join().expect("scenario thread panicked")),
            );
            out.into_iter().collect()
        })
    }
}
