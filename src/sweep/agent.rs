//! The API agent: a multi-step workflow through the chaos proxy, as a
//! [`Component`] on the engine, and one experiment = one small simulation.
//!
//! The default workflow is a pet-store order: `lookup_pet`,
//! `check_inventory`, `place_order` (side effect), `pay` (side effect),
//! `confirm` (side effect). Calls are sequential; each call's answer arrives
//! after its simulated latency, backoff waits and open-breaker waits are
//! simulated time, and a workflow deadline bounds the forward phase.
//!
//! Two variants:
//! - [`Variant::Baseline`]: no playbook, no breaker; an error is retried at
//!   once at most `baseline_retries` times (default 1), then the workflow
//!   fails and is left half-done if a side effect already happened.
//! - [`Variant::Playbook`]: the [`ApiPlaybook`] chooses the action by error
//!   type (backoff with jitter, Retry-After, failover, repair), a
//!   [`Breaker`] guards every call, and a failed workflow with side effects
//!   is compensated (order cancelled) when the playbook says so.
//!
//! Retry budgets count all retries of the current call, whatever the error.

use serde::{Deserialize, Serialize};

use super::backoff::Backoff;
use super::breaker::{Breaker, BreakerConfig, Permit};
use super::playbook::{Action, ApiPlaybook};
use super::proxy::{CallRequest, CallResult, ChaosProxy, ErrorKind, ProxyConfig};
use crate::engine::{
    Ctx, EventInfo, EventQueue, RngDraws, SeedPath, SimDuration, SimRng, SimTime, Simulation,
};
use crate::error::{Error, FieldError, Result};
use crate::model::{Component, Solo};
use crate::safeguard::{Evidence, Safeguard, SafeguardLog, Signal};

/// Largest number of workflow steps.
pub const STEPS_MAX: usize = 16;
/// The step index used for the compensating call.
pub const COMPENSATION_STEP: u8 = u8::MAX;
/// Runaway guard: events one experiment may handle.
pub const EXPERIMENT_EVENTS_MAX: u64 = 1_000_000;

/// One step of the workflow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// The operation's name (`place_order`).
    pub name: String,
    /// Mean upstream latency in milliseconds (actual: uniform in
    /// `[latency/2, 3·latency/2]`), 0..=60,000.
    pub latency_ms: u64,
    /// Whether success changes the world (an order, a payment): a workflow
    /// failing after such a step is half-done unless compensated.
    pub side_effect: bool,
}

/// Parameters of the API model (proxy, breaker, workflow).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiModelConfig {
    /// The workflow, in order (1..=16 steps).
    pub steps: Vec<StepConfig>,
    /// What the chaos proxy injects.
    pub proxy: ProxyConfig,
    /// The playbook variant's circuit breaker.
    pub breaker: BreakerConfig,
    /// Deadline of the forward phase of a workflow, in milliseconds
    /// (1..=3,600,000).
    pub deadline_ms: u64,
    /// Immediate retries per call of the baseline agent (0..=32).
    pub baseline_retries: u32,
    /// Probability, in parts per million, that the agent builds a call with
    /// a missing id (caught by the proxy's input validation), 0..=1,000,000.
    pub malformed_ppm: u32,
    /// Mean latency of the compensating call, in milliseconds (0..=60,000).
    pub compensation_latency_ms: u64,
}

impl Default for ApiModelConfig {
    /// The pet-store workflow (20, 15, 40, 80, 25 ms), the default proxy and
    /// breaker, a 30 s deadline, one naive retry, no malformed calls, 30 ms
    /// compensation.
    fn default() -> Self {
        let step = |name: &str, latency_ms, side_effect| StepConfig {
            name: name.into(),
            latency_ms,
            side_effect,
        };
        ApiModelConfig {
            steps: vec![
                step("lookup_pet", 20, false),
                step("check_inventory", 15, false),
                step("place_order", 40, true),
                step("pay", 80, true),
                step("confirm", 25, true),
            ],
            proxy: ProxyConfig::default(),
            breaker: BreakerConfig::default(),
            deadline_ms: 30_000,
            baseline_retries: 1,
            malformed_ppm: 0,
            compensation_latency_ms: 30,
        }
    }
}

impl ApiModelConfig {
    /// Check every range; an error names the field (the caller locates it in
    /// its file with [`FieldError::in_file`]).
    pub fn validate(&self) -> Result<(), FieldError> {
        let bad = |field: String, message: String| FieldError::new(field, message);
        if self.steps.is_empty() || self.steps.len() > STEPS_MAX {
            return Err(bad(
                "steps".into(),
                format!("{} steps; allowed 1..={STEPS_MAX}", self.steps.len()),
            ));
        }
        for (i, s) in self.steps.iter().enumerate() {
            if s.latency_ms > 60_000 {
                return Err(bad(
                    format!("steps[{i}].latency_ms"),
                    format!("{} is outside 0..=60000", s.latency_ms),
                ));
            }
        }
        self.proxy.validate().map_err(|e| e.within("proxy"))?;
        self.breaker.validate().map_err(|e| e.within("breaker"))?;
        if !(1..=3_600_000).contains(&self.deadline_ms) {
            return Err(bad(
                "deadline_ms".into(),
                format!("{} is outside 1..=3600000", self.deadline_ms),
            ));
        }
        if self.baseline_retries > 32 {
            return Err(bad(
                "baseline_retries".into(),
                format!("{} is outside 0..=32", self.baseline_retries),
            ));
        }
        if self.malformed_ppm > 1_000_000 {
            return Err(bad(
                "malformed_ppm".into(),
                format!("{} is outside 0..=1000000", self.malformed_ppm),
            ));
        }
        if self.compensation_latency_ms > 60_000 {
            return Err(bad(
                "compensation_latency_ms".into(),
                format!("{} is outside 0..=60000", self.compensation_latency_ms),
            ));
        }
        Ok(())
    }
}

/// The model an experiment runs: its configuration and the playbook.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiModel {
    /// Proxy, breaker and workflow parameters.
    pub config: ApiModelConfig,
    /// The playbook variant's playbook.
    pub playbook: ApiPlaybook,
}

impl ApiModel {
    /// A stable 64-bit fingerprint of the configuration and playbook (FNV-1a
    /// of their RON text), recorded in shard metadata so that shards of
    /// different models are never merged.
    pub fn fingerprint(&self) -> u64 {
        let cfg = ron::to_string(&self.config).unwrap_or_default();
        let pb = ron::to_string(&self.playbook).unwrap_or_default();
        let mut h = crate::record::csv::Fnv64::new();
        h.update(cfg.as_bytes());
        h.update(&[0]);
        h.update(pb.as_bytes());
        h.value()
    }
}

/// The A/B variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Variant {
    /// No playbook, no breaker, at most `baseline_retries` naive retries.
    Baseline,
    /// Playbook by error type, circuit breaker, compensation.
    Playbook,
}

impl Variant {
    /// All variants, in output order.
    pub const ALL: [Variant; 2] = [Variant::Baseline, Variant::Playbook];

    /// The name used on the command line, in CSV files and in seed paths.
    pub const fn name(self) -> &'static str {
        match self {
            Variant::Baseline => "baseline",
            Variant::Playbook => "playbook",
        }
    }

    /// Parse a name (`baseline`, `playbook`).
    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// The agent's events (kind codes 500..=599).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiEvent {
    /// The workflow starts.
    Start,
    /// The answer to a call of `step` arrives.
    Response {
        /// The step ([`COMPENSATION_STEP`] for the compensating call).
        step: u8,
        /// The answer.
        result: CallResult,
    },
    /// A backoff (or Retry-After) wait before retrying `step` is over.
    BackoffDone {
        /// The step.
        step: u8,
    },
    /// The open breaker's wait is over; try `step` again.
    BreakerWaitDone {
        /// The step.
        step: u8,
    },
    /// The workflow's deadline.
    Deadline,
}

const _: () = assert!(std::mem::size_of::<ApiEvent>() <= 32);

impl EventInfo for ApiEvent {
    fn kind(&self) -> u16 {
        match self {
            ApiEvent::Start => 500,
            ApiEvent::Response { .. } => 501,
            ApiEvent::BackoffDone { .. } => 502,
            ApiEvent::BreakerWaitDone { .. } => 503,
            ApiEvent::Deadline => 504,
        }
    }
    fn kind_name(&self) -> &'static str {
        match self {
            ApiEvent::Start => "api_start",
            ApiEvent::Response { .. } => "api_response",
            ApiEvent::BackoffDone { .. } => "api_backoff_done",
            ApiEvent::BreakerWaitDone { .. } => "api_breaker_wait_done",
            ApiEvent::Deadline => "api_deadline",
        }
    }
    fn target(&self) -> u32 {
        match *self {
            ApiEvent::Response { step, .. }
            | ApiEvent::BackoffDone { step }
            | ApiEvent::BreakerWaitDone { step } => step as u32,
            ApiEvent::Start | ApiEvent::Deadline => 0,
        }
    }
}

/// What one experiment (one workflow) produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExperimentOutcome {
    /// Every step succeeded.
    pub success: bool,
    /// The workflow failed after a side effect and was not compensated: an
    /// inconsistent, half-done workflow.
    pub partial: bool,
    /// A failed workflow's side effects were undone.
    pub compensated: bool,
    /// The forward phase hit its deadline.
    pub deadline_hit: bool,
    /// Simulated time from start to the end (including compensation).
    pub latency_ns: u64,
    /// Calls that reached the proxy.
    pub calls: u32,
    /// Retries (re-attempts of a call after an error).
    pub retries: u32,
    /// Calls rejected fast by the open breaker.
    pub rejected: u32,
    /// Times the breaker opened.
    pub breaker_opens: u32,
    /// HTTP 503 answers seen.
    pub errors_503: u32,
    /// HTTP 429 answers seen.
    pub errors_429: u32,
    /// Timeouts seen.
    pub timeouts: u32,
    /// HTTP 400 answers seen (malformed calls).
    pub bad_requests: u32,
    /// Simulated time spent in backoff and open-breaker waits.
    pub wait_ns: u64,
    /// Events the simulation handled.
    pub events: u64,
    /// The simulation's digest.
    pub digest: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Forward,
    Compensating,
    Done,
}

/// The agent, its proxy and (playbook variant) its breaker.
pub struct ApiAgent<'m> {
    model: &'m ApiModel,
    variant: Variant,
    proxy: ChaosProxy,
    breaker: Option<Breaker>,
    jitter: SimRng,
    requests: SimRng,
    phase: Phase,
    step: u8,
    retries_in_call: u32,
    standby_attempts: u32,
    on_standby: bool,
    malformed: bool,
    previous_wait_ns: u64,
    side_effects: bool,
    start: SimTime,
    outcome: ExperimentOutcome,
    log: SafeguardLog,
}

impl<'m> ApiAgent<'m> {
    /// An agent for `variant` at failure rate `rate_ppm`, with its streams
    /// derived from `seed` (`proxy`, `upstream`, `agent`, `requests`).
    pub fn new(model: &'m ApiModel, variant: Variant, rate_ppm: u32, seed: SeedPath) -> Self {
        ApiAgent {
            model,
            variant,
            proxy: ChaosProxy::new(model.config.proxy, rate_ppm, seed),
            breaker: match variant {
                Variant::Baseline => None,
                Variant::Playbook => Some(Breaker::new(model.config.breaker)),
            },
            jitter: seed.child("agent").rng(),
            requests: seed.child("requests").rng(),
            phase: Phase::Forward,
            step: 0,
            retries_in_call: 0,
            standby_attempts: 0,
            on_standby: false,
            malformed: false,
            previous_wait_ns: 0,
            side_effects: false,
            start: SimTime::ZERO,
            outcome: ExperimentOutcome::default(),
            log: SafeguardLog::default(),
        }
    }

    /// The outcome so far (final once the simulation stopped).
    pub fn outcome(&self) -> ExperimentOutcome {
        let mut o = self.outcome;
        o.breaker_opens = self.breaker.as_ref().map_or(0, Breaker::opens);
        o
    }

    /// The safeguards that fired: `circuit_breaker` each time the breaker
    /// opened (only in the playbook variant, the only one that deploys it).
    pub fn safeguards(&self) -> &SafeguardLog {
        &self.log
    }

    /// Whether the workflow has ended.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn begin_call(&mut self, step: u8) {
        self.step = step;
        self.retries_in_call = 0;
        self.standby_attempts = 0;
        self.on_standby = false;
        self.malformed = self
            .requests
            .ratio(self.model.config.malformed_ppm as u64, 1_000_000);
        self.previous_wait_ns = 0;
    }

    fn attempt<E: From<ApiEvent>>(&mut self, step: u8, ctx: &mut Ctx<'_, E>) {
        if let Some(b) = self.breaker.as_mut()
            && let Permit::Rejected { retry_at } = b.try_acquire(ctx.now())
        {
            self.outcome.rejected += 1;
            self.outcome.wait_ns += (retry_at - ctx.now()).as_nanos();
            ctx.schedule_at(retry_at, ApiEvent::BreakerWaitDone { step }.into());
            return;
        }
        self.outcome.calls += 1;
        let cfg = &self.model.config;
        let mut latency_ms = if step == COMPENSATION_STEP {
            cfg.compensation_latency_ms
        } else {
            cfg.steps[step as usize].latency_ms
        };
        if self.on_standby
            && let Action::RetryThenFailover {
                failover_extra_ms, ..
            } = self.model.playbook.action_for(ErrorKind::Timeout)
        {
            latency_ms += failover_extra_ms;
        }
        let req = CallRequest {
            step,
            entity_id: if self.malformed { 0 } else { step as u32 + 1 },
            quantity: 1,
        };
        let (result, wait_ns) = self.proxy.call(req, latency_ms * 1_000_000);
        ctx.schedule_in(
            SimDuration::from_nanos(wait_ns),
            ApiEvent::Response { step, result }.into(),
        );
    }

    fn finish<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.phase = Phase::Done;
        self.outcome.latency_ns = (ctx.now() - self.start).as_nanos();
        self.outcome.partial =
            self.side_effects && !self.outcome.success && !self.outcome.compensated;
        ctx.stop();
    }

    fn fail<E: From<ApiEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let compensation = match self.variant {
            Variant::Playbook => self.model.playbook.compensation,
            Variant::Baseline => None,
        };
        if self.side_effects && compensation.is_some() && self.phase == Phase::Forward {
            self.phase = Phase::Compensating;
            self.begin_call(COMPENSATION_STEP);
            self.malformed = false;
            self.attempt(COMPENSATION_STEP, ctx);
        } else {
            self.finish(ctx);
        }
    }

    /// Wait `wait_ns` then retry the current call.
    fn retry_after<E: From<ApiEvent>>(&mut self, wait_ns: u64, ctx: &mut Ctx<'_, E>) {
        self.outcome.retries += 1;
        self.retries_in_call += 1;
        self.previous_wait_ns = wait_ns;
        self.outcome.wait_ns += wait_ns;
        ctx.schedule_in(
            SimDuration::from_nanos(wait_ns),
            ApiEvent::BackoffDone { step: self.step }.into(),
        );
    }

    fn retry_now<E: From<ApiEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.outcome.retries += 1;
        self.retries_in_call += 1;
        self.attempt(self.step, ctx);
    }

    fn backoff_wait(&mut self, backoff: &Backoff) -> u64 {
        let previous = if self.previous_wait_ns == 0 {
            backoff.base_ns()
        } else {
            self.previous_wait_ns
        };
        backoff.wait_ns(self.retries_in_call, previous, &mut self.jitter)
    }

    fn on_error<E: From<ApiEvent>>(
        &mut self,
        kind: ErrorKind,
        retry_after_ms: u32,
        ctx: &mut Ctx<'_, E>,
    ) {
        let r = self.retries_in_call;
        if self.phase == Phase::Compensating {
            let c = self
                .model
                .playbook
                .compensation
                .expect("compensating implies a compensation");
            if r < c.max_retries {
                let w = self.backoff_wait(&c.backoff);
                self.retry_after(w, ctx);
            } else {
                self.finish(ctx);
            }
            return;
        }
        if self.variant == Variant::Baseline {
            if r < self.model.config.baseline_retries {
                self.retry_now(ctx);
            } else {
                self.fail(ctx);
            }
            return;
        }
        match self.model.playbook.action_for(kind) {
            Action::Fail => self.fail(ctx),
            Action::Retry {
                max_retries,
                backoff,
            } => {
                if r < max_retries {
                    let w = self.backoff_wait(&backoff);
                    self.retry_after(w, ctx);
                } else {
                    self.fail(ctx);
                }
            }
            Action::HonourRetryAfter {
                max_retries,
                backoff,
            } => {
                if r < max_retries {
                    let w = self
                        .backoff_wait(&backoff)
                        .max(retry_after_ms as u64 * 1_000_000);
                    self.retry_after(w, ctx);
                } else {
                    self.fail(ctx);
                }
            }
            Action::RetryThenFailover {
                retries,
                failover_attempts,
                ..
            } => {
                if !self.on_standby && r < retries {
                    self.retry_now(ctx);
                } else if self.standby_attempts < failover_attempts {
                    self.on_standby = true;
                    self.standby_attempts += 1;
                    self.retry_now(ctx);
                } else {
                    self.fail(ctx);
                }
            }
            Action::Repair { max_retries } => {
                if r < max_retries {
                    self.malformed = false;
                    self.retry_now(ctx);
                } else {
                    self.fail(ctx);
                }
            }
        }
    }
}

impl Component for ApiAgent<'_> {
    type Event = ApiEvent;

    fn handle<E: From<ApiEvent>>(&mut self, event: ApiEvent, ctx: &mut Ctx<'_, E>) {
        if self.phase == Phase::Done {
            return;
        }
        match event {
            ApiEvent::Start => {
                self.start = ctx.now();
                ctx.schedule_in(
                    SimDuration::from_millis(self.model.config.deadline_ms),
                    ApiEvent::Deadline.into(),
                );
                self.begin_call(0);
                self.attempt(0, ctx);
            }
            ApiEvent::Deadline => {
                if self.phase == Phase::Forward {
                    self.outcome.deadline_hit = true;
                    self.fail(ctx);
                }
            }
            ApiEvent::BackoffDone { step } | ApiEvent::BreakerWaitDone { step } => {
                if self.is_current(step) {
                    self.attempt(step, ctx);
                }
            }
            ApiEvent::Response { step, result } => {
                if !self.is_current(step) {
                    // An answer to a call the deadline abandoned.
                    return;
                }
                if let Some(b) = self.breaker.as_mut()
                    && b.record(ctx.now(), result.is_err())
                {
                    let ev = Evidence::of(
                        ctx.now(),
                        Signal::DependencyFailurePermille,
                        b.opened_failure_permille().into(),
                        b.threshold_permille().into(),
                        None,
                    );
                    self.log.fire(Safeguard::CircuitBreaker, ev);
                }
                match result {
                    CallResult::Ok if step == COMPENSATION_STEP => {
                        self.outcome.compensated = true;
                        self.finish(ctx);
                    }
                    CallResult::Ok => {
                        let steps = &self.model.config.steps;
                        self.side_effects |= steps[step as usize].side_effect;
                        if step as usize + 1 == steps.len() {
                            self.outcome.success = true;
                            self.finish(ctx);
                        } else {
                            self.begin_call(step + 1);
                            self.attempt(step + 1, ctx);
                        }
                    }
                    CallResult::Err {
                        kind,
                        retry_after_ms,
                    } => {
                        match kind {
                            ErrorKind::Http503 => self.outcome.errors_503 += 1,
                            ErrorKind::Http429 => self.outcome.errors_429 += 1,
                            ErrorKind::Timeout => self.outcome.timeouts += 1,
                            ErrorKind::BadRequest => self.outcome.bad_requests += 1,
                        }
                        self.on_error(kind, retry_after_ms, ctx);
                    }
                }
            }
        }
    }
}

impl ApiAgent<'_> {
    fn is_current(&self, step: u8) -> bool {
        match self.phase {
            Phase::Forward => step == self.step && step != COMPENSATION_STEP,
            Phase::Compensating => step == COMPENSATION_STEP,
            Phase::Done => false,
        }
    }
}

/// The seed path of one experiment:
/// `root(seed)/"sweep"/rate_index/variant/experiment`. It depends on nothing
/// else (not on threads or shards).
pub fn experiment_seed(seed: u64, rate_index: u64, variant: Variant, experiment: u64) -> SeedPath {
    SeedPath::root(seed)
        .child("sweep")
        .child_u64(rate_index)
        .child(variant.name())
        .child_u64(experiment)
}

/// Run one experiment: one workflow in its own [`Simulation`] of the agent
/// alone ([`Solo`]), from simulated time zero until the workflow ends.
pub fn run_experiment(
    model: &ApiModel,
    variant: Variant,
    rate_ppm: u32,
    seed: SeedPath,
) -> Result<ExperimentOutcome> {
    run_experiment_reusing(&mut EventQueue::new(), model, variant, rate_ppm, seed)
}

/// [`run_experiment`] on `queue`, left behind for the next experiment: an
/// experiment handles about 8 events, and building and freeing a queue's
/// buckets for each cost 3 times the events (a reused queue behaves as a
/// new one, see [`EventQueue::reset`]).
pub fn run_experiment_reusing(
    queue: &mut EventQueue<ApiEvent>,
    model: &ApiModel,
    variant: Variant,
    rate_ppm: u32,
    seed: SeedPath,
) -> Result<ExperimentOutcome> {
    let agent = ApiAgent::new(model, variant, rate_ppm, seed);
    let reused = std::mem::take(queue);
    let mut sim = Simulation::starting_at_reusing(Solo(agent), seed, SimTime::ZERO, reused)
        .with_events_max(EXPERIMENT_EVENTS_MAX);
    sim.schedule_at(SimTime::ZERO, ApiEvent::Start);
    let ran = sim.run();
    let events = sim.events_handled();
    let digest = sim.digest().value();
    let (Solo(agent), used) = sim.into_parts();
    *queue = used;
    ran?;
    if !agent.is_done() {
        return Err(Error::Check(format!(
            "experiment ended with no pending event before its workflow ({variant:?}, rate {rate_ppm} ppm)",
            variant = variant.name()
        )));
    }
    let mut o = agent.outcome();
    o.events = events;
    o.digest = digest;
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_zero_succeeds_with_one_call_per_step() {
        let model = ApiModel::default();
        for v in Variant::ALL {
            let o = run_experiment(&model, v, 0, experiment_seed(1, 0, v, 0)).unwrap();
            assert!(o.success && !o.partial, "{o:?}");
            assert_eq!(o.calls, 5);
            assert_eq!(o.retries, 0);
            // 5 steps of 20+15+40+80+25 = 180 ms mean, each in [x/2, 3x/2].
            assert!((90_000_000..=270_000_000).contains(&o.latency_ns), "{o:?}");
            // Start, 5 responses.
            assert_eq!(o.events, 6);
        }
    }

    #[test]
    fn same_seed_same_outcome() {
        let model = ApiModel::default();
        let s = experiment_seed(9, 3, Variant::Playbook, 17);
        let a = run_experiment(&model, Variant::Playbook, 300_000, s).unwrap();
        let b = run_experiment(&model, Variant::Playbook, 300_000, s).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn default_config_is_valid() {
        assert!(ApiModelConfig::default().validate().is_ok());
        let bad = ApiModelConfig {
            steps: vec![],
            ..ApiModelConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "steps");
    }
}
