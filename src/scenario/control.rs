//! Control runs (Netflix ChAP's experiment vs. control, on a simulator).
//!
//! [`run_with_control`] builds the experiment exactly as
//! [`run_together`](super::run::run_together) does, and a **control group**:
//! the same stack, seed path, start time, layers and run length, with the
//! scenario's faults resolved from the same nemesis stream but never injected
//! (nor the final heal). The two simulations are advanced in **lockstep**: both
//! to the next 100 ms sample instant, their probes compared, nothing kept but
//! fixed-size per-probe accumulators. So the comparison costs no memory per
//! sample, and the experiment's digest and outcome are those of a plain run.
//!
//! **Why the difference comes from the faults alone.** Every random stream of
//! the stack is derived from the run's seed path per component
//! (`layer1/...`, `layer2/...`, `cluster/...`) and the runner's own nemesis
//! stream (`nemesis/ID`) is only read while resolving faults, which both
//! groups do identically. Up to the first fault both simulations handle the
//! same events with the same draws; from there on, draws differ only because
//! the faults changed what the components do. A scenario whose fault list is
//! empty therefore shows zero deviation (tested).
//!
//! # Probes and tolerances
//! Per probe, a sample is *outside tolerance* when
//! `|experiment - control| > abs + rel x |control|` ([`ControlProbe::tolerance`]):
//!
//! | probe | abs | rel |
//! |---|---|---|
//! | kernels running | 0.5 (any kernel) | 0 |
//! | API success rate | 0.02 | 0 |
//! | bus latency (ms) | 5 | 0.25 |
//! | queue depth (tasks) | 5 | 0.25 |
//! | CPU utilisation | 0.05 | 0 |
//!
//! Reported per probe: the largest deviation (and when, with both values),
//! the time spent outside tolerance, when it first left tolerance, and the
//! time from there until it came back within tolerance for the rest of the
//! run (`None` with `returned = false` if it never came back). Times are
//! seconds on the scenario clock (the clock of the faults' `start_s`).

use std::io::Write;

use serde::Serialize;

use super::run::{self, Faults, Planned, RunOutputs, RunResult, SAMPLE_EVERY_NS};
use super::spec::ProbeKind;
use crate::engine::{RunStatus, SeedPath, SimTime};
use crate::error::Result;
use crate::model::stack::{Stack, StackSpec};
use crate::safeguard::SafeguardSet;

/// A probe compared between the experiment and its control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlProbe {
    /// Kernels running (count).
    KernelsRunning,
    /// API success rate (0..=1).
    ApiSuccessRate,
    /// Bus latency (ms).
    BusLatencyMs,
    /// HTM queue depth (tasks; only for runs with Layer 2).
    QueueDepth,
    /// CPU utilisation (0..=1).
    CpuUtilisation,
}

impl ControlProbe {
    /// Every probe, in report order.
    pub const ALL: [ControlProbe; 5] = [
        ControlProbe::KernelsRunning,
        ControlProbe::ApiSuccessRate,
        ControlProbe::BusLatencyMs,
        ControlProbe::QueueDepth,
        ControlProbe::CpuUtilisation,
    ];

    /// Stable snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            ControlProbe::KernelsRunning => "kernels_running",
            ControlProbe::ApiSuccessRate => "api_success_rate",
            ControlProbe::BusLatencyMs => "bus_latency_ms",
            ControlProbe::QueueDepth => "queue_depth",
            ControlProbe::CpuUtilisation => "cpu_utilisation",
        }
    }

    /// `(abs, rel)`: a sample is outside tolerance when
    /// `|experiment - control| > abs + rel x |control|`.
    pub const fn tolerance(self) -> (f64, f64) {
        match self {
            ControlProbe::KernelsRunning => (0.5, 0.0),
            ControlProbe::ApiSuccessRate => (0.02, 0.0),
            ControlProbe::BusLatencyMs => (5.0, 0.25),
            ControlProbe::QueueDepth => (5.0, 0.25),
            ControlProbe::CpuUtilisation => (0.05, 0.0),
        }
    }

    fn kind(self) -> ProbeKind {
        match self {
            ControlProbe::KernelsRunning => ProbeKind::KernelsRunning,
            ControlProbe::ApiSuccessRate => ProbeKind::ApiSuccessRate,
            ControlProbe::BusLatencyMs => ProbeKind::BusLatencyMs,
            ControlProbe::QueueDepth => ProbeKind::QueueDepth,
            ControlProbe::CpuUtilisation => ProbeKind::CpuUtilisation,
        }
    }
}

/// The comparison of one probe over the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeDeviation {
    /// The probe.
    pub probe: ControlProbe,
    /// Absolute part of the tolerance.
    pub tolerance_abs: f64,
    /// Relative part of the tolerance (of the control's value).
    pub tolerance_rel: f64,
    /// Largest `|experiment - control|` seen (0 if never different).
    pub max_deviation: f64,
    /// When the largest deviation was seen, s on the scenario clock.
    pub max_at_s: Option<f64>,
    /// The experiment's value then.
    pub experiment_at_max: Option<f64>,
    /// The control's value then.
    pub control_at_max: Option<f64>,
    /// Time spent outside tolerance, s (samples outside x 0.1 s).
    pub outside_s: f64,
    /// First sample outside tolerance, s on the scenario clock.
    pub first_outside_s: Option<f64>,
    /// From the first sample outside tolerance to the sample from which the
    /// probe stayed within tolerance to the end, s (`None` if never outside
    /// or never back).
    pub time_to_return_s: Option<f64>,
    /// Whether the probe was within tolerance at the end of the run.
    pub returned: bool,
}

/// The experiment compared with its control group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ControlReport {
    /// Samples compared (every 100 ms, until the experiment ended).
    pub samples: u64,
    /// Compared duration, s.
    pub compared_s: f64,
    /// Events the control handled.
    pub control_events: u64,
    /// The control run's digest (hex).
    pub control_digest: String,
    /// One entry per probe the stack has, in [`ControlProbe::ALL`] order.
    pub probes: Vec<ProbeDeviation>,
}

impl ControlReport {
    /// The comparison of `probe`, if the run had it.
    pub fn probe(&self, probe: ControlProbe) -> Option<&ProbeDeviation> {
        self.probes.iter().find(|p| p.probe == probe)
    }

    /// Whether every probe stayed within tolerance of the control.
    pub fn within_tolerance(&self) -> bool {
        self.probes.iter().all(|p| p.first_outside_s.is_none())
    }
}

/// Fixed-size per-probe state of the streaming comparison.
struct Acc {
    dev: ProbeDeviation,
    last_outside_ns: Option<u64>,
    outside_now: bool,
    samples_outside: u64,
}

impl Acc {
    fn new(probe: ControlProbe) -> Acc {
        let (abs, rel) = probe.tolerance();
        Acc {
            dev: ProbeDeviation {
                probe,
                tolerance_abs: abs,
                tolerance_rel: rel,
                max_deviation: 0.0,
                max_at_s: None,
                experiment_at_max: None,
                control_at_max: None,
                outside_s: 0.0,
                first_outside_s: None,
                time_to_return_s: None,
                returned: true,
            },
            last_outside_ns: None,
            outside_now: false,
            samples_outside: 0,
        }
    }

    fn observe(&mut self, t_ns: u64, t0_ns: u64, e: f64, c: f64) {
        let secs = |ns: u64| (ns as i64 - t0_ns as i64) as f64 / 1e9;
        let d = (e - c).abs();
        if d > self.dev.max_deviation {
            self.dev.max_deviation = d;
            self.dev.max_at_s = Some(secs(t_ns));
            self.dev.experiment_at_max = Some(e);
            self.dev.control_at_max = Some(c);
        }
        let (abs, rel) = self.dev.probe.tolerance();
        let outside = d > abs + rel * c.abs();
        self.outside_now = outside;
        if outside {
            self.samples_outside += 1;
            self.last_outside_ns = Some(t_ns);
            if self.dev.first_outside_s.is_none() {
                self.dev.first_outside_s = Some(secs(t_ns));
            }
        }
    }

    fn finish(mut self, t0_ns: u64) -> ProbeDeviation {
        self.dev.outside_s = self.samples_outside as f64 * SAMPLE_EVERY_NS as f64 / 1e9;
        self.dev.returned = !self.outside_now;
        if let (Some(first), Some(last)) = (self.dev.first_outside_s, self.last_outside_ns)
            && self.dev.returned
        {
            let back = (last + SAMPLE_EVERY_NS) as i64 - t0_ns as i64;
            self.dev.time_to_return_s = Some(back as f64 / 1e9 - first);
        }
        self.dev
    }
}

/// The probes a stack has.
fn probes_of(stack: &Stack) -> Vec<ControlProbe> {
    ControlProbe::ALL
        .iter()
        .copied()
        .filter(|p| *p != ControlProbe::QueueDepth || stack.l2.is_some())
        .collect()
}

/// Run `planned` (one or several concurrent scenarios) as
/// [`run_together`](super::run::run_together) does, and its control group
/// beside it (see the [module docs](self)). `outputs` are the experiment's;
/// `control_timeline` optionally streams the control's timeline CSV (same
/// format, same sample instants). The returned [`RunResult`] is exactly the
/// plain run's (same digest, same outcomes).
#[allow(clippy::too_many_arguments)]
pub fn run_with_control(
    stack_spec: &StackSpec,
    planned: &[Planned<'_>],
    deployed: SafeguardSet,
    known_fixes: SafeguardSet,
    seed: SeedPath,
    start: SimTime,
    outputs: RunOutputs,
    control_timeline: Option<Box<dyn Write>>,
) -> Result<(RunResult, ControlReport)> {
    let mut exp = run::build(
        stack_spec,
        planned,
        deployed,
        known_fixes,
        seed,
        start,
        outputs,
        Faults::Injected,
    )?;
    let ctrl_outputs = RunOutputs {
        timeline: control_timeline,
        ..RunOutputs::default()
    };
    let mut ctrl = run::build(
        stack_spec,
        planned,
        deployed,
        known_fixes,
        seed,
        start,
        ctrl_outputs,
        Faults::Withheld,
    )?;
    let t0 = exp.t0_ns;
    let probes = probes_of(&exp.sim.model().stack);
    let mut accs: Vec<Acc> = probes.iter().map(|&p| Acc::new(p)).collect();
    let mut samples = 0u64;
    let first = t0 - SAMPLE_EVERY_NS;
    let mut t = first;
    let mut last_t = first;
    let mut stopped = false;
    while t <= exp.end_ns {
        let status = exp.sim.run_until(SimTime::from_nanos(t))?;
        ctrl.sim.run_until(SimTime::from_nanos(t))?;
        let now = SimTime::from_nanos(t);
        let (es, cs) = (&exp.sim.model().stack, &ctrl.sim.model().stack);
        for a in &mut accs {
            let k = a.dev.probe.kind();
            if let (Some(e), Some(c)) = (run::probe_value(es, k, now), run::probe_value(cs, k, now))
            {
                a.observe(t, t0, e, c);
            }
        }
        samples += 1;
        last_t = t;
        if status == RunStatus::Stopped {
            stopped = true;
            break;
        }
        t += SAMPLE_EVERY_NS;
    }
    if !stopped {
        exp.sim.run_until(SimTime::from_nanos(exp.end_ns))?;
    }
    let control_events = ctrl.sim.events_handled();
    let control_digest = format!("{:016x}", ctrl.sim.digest().value());
    let result = run::finish(exp, planned, deployed)?;
    // The control's own verdict is irrelevant; finishing flushes its timeline.
    run::finish(ctrl, planned, deployed)?;
    let report = ControlReport {
        samples,
        compared_s: (last_t - first) as f64 / 1e9,
        control_events,
        control_digest,
        probes: accs.into_iter().map(|a| a.finish(t0)).collect(),
    };
    Ok((result, report))
}
