//! Parametric failure-rate sweeps: an A/B comparison of an API agent without
//! and with playbooks and a circuit breaker, under a chaos proxy that
//! injects HTTP 503, 429 and timeouts at a configured rate.
//!
//! - [`proxy`]: the [`ChaosProxy`](proxy::ChaosProxy) (seeded injection,
//!   input validation).
//! - [`agent`]: the multi-step workflow as a [`Component`](crate::model::Component)
//!   on the engine; one experiment = one small [`Simulation`](crate::engine::Simulation)
//!   ([`run_experiment`](agent::run_experiment)).
//! - [`breaker`]: the circuit breaker state machine.
//! - [`backoff`]: exponential backoff with full / equal / decorrelated jitter.
//! - [`playbook`]: recovery actions by error type, as RON data
//!   (`playbooks/api_*.ron`).
//! - [`runner`]: the rate grid and [`run_sweep`](runner::run_sweep), on the
//!   batch layer's shards and ordered runner ([`crate::shard`]).
//! - [`merge`]: the API sweep's mergeable aggregates, `summary.csv` and
//!   batch kind ([`ApiSweep`](merge::ApiSweep)), and
//!   [`merge`](merge::merge) of shard directories of any kind.
//!
//! **Invariant:** the bytes of `experiments.csv`, `summary.csv` and
//! `shard.ron` depend only on the parameters (seed, n, rates, variants,
//! model and playbook), never on the thread count; merging the shards of a
//! sweep gives the files of the unsharded run.
//!
//! **Invariant:** memory is constant in `n`: rows are streamed, aggregates
//! are fixed-size, and workers run at most a bounded window ahead of the
//! writer.
//!
//! - [`scenario_sweep`]: sweeps over the stack model (`--scenario ID
//!   --param NAME`): one numeric parameter of a catalogue scenario varied
//!   over seeds, on the same ordered engine
//!   ([`run_ordered`](crate::shard::run_ordered)), shards and merge.
//! - [`swarm`]: swarm runs (`chaosim swarm`): each seed draws a scenario's
//!   fault mix, on the same ordered engine, shards and merge.
//! - [`whatif`]: what each safeguard buys (`chaosim whatif`): candidates
//!   paired against the baseline on the same seeds (common random numbers),
//!   McNemar and order-statistic intervals, evidence per scenario.

pub mod agent;
pub mod backoff;
pub mod breaker;
pub mod merge;
pub mod playbook;
pub mod proxy;
pub mod runner;
pub mod scenario_sweep;
pub mod swarm;
pub mod whatif;
pub mod whatif_programme;
