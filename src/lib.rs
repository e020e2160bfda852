//! # chaosim
//!
//! A deterministic discrete-event simulator of a platform's resilience stack
//! (kernels with heartbeats and watchdog restarts, a message bus, task queues,
//! workers, safeguards, recovery playbooks) and of the chaos-engineering
//! programme that tests it. Same seed, same bytes: time is integer
//! nanoseconds, randomness comes from seeded streams, and every run folds a
//! digest over the events it handled.
//!
//! ## Map of the code
//!
//! Data flow: `scenarios/*.ron` + the stack (`model::stack`) + playbooks ->
//! [`scenario::run`] (one execution: faults on a stack, steady-state probes,
//! verdict) -> [`scenario::Outcome`]; [`program`] calls the runner for every
//! slot of a year and streams CSVs, the audit log and checkpoints; [`report`]
//! reads those files in one pass; [`sweep`] runs A/B grids of small API
//! experiments in parallel.
//!
//! | module | owns |
//! |---|---|
//! | [`engine`] | [`SimTime`](engine::SimTime)/[`SimDuration`](engine::SimDuration), the event queue, [`Simulation`](engine::Simulation), [`Ctx`](engine::Ctx), seeded streams, the digest; [`engine::trace`]: per-event observers, bounded trails and lockstep runs that name the first divergent event (the self-check) |
//! | [`model`] | the stack under test as [`Component`](model::Component)s |
//! | [`model::layer1`] | kernels, control plane, bus with ACLs, resources, API ingress, the Layer-1 safeguards and the playbook executor (a safeguard table in its docs) |
//! | [`model::governance`] | Layer 3: autonomy tiers 0-4, human approvals slower at night, votes, storms |
//! | [`model::layer2`] | orchestration: HTM queue, workers, scheduler, trigger mesh, policies, watchdog, replicas (sandbox fallback, canary), Layer-2 safeguards; the queueing-station API in [`model::layer2::queue`] |
//! | [`model::cluster`] | the replicated log Jepsen-style: local clocks, partitions, nemesis, clients and history; checked by [`check::consistency`] |
//! | [`model::stack`] | the stack description (`--stack`) and the composition of the layers into one model |
//! | [`playbook`] | recovery playbooks as RON data: trigger, ordered steps (each an [`Intent`](playbook::Intent), routed by governance) |
//! | [`safeguard`] | the safeguard catalogue by name (and where each lives), [`SafeguardSet`](safeguard::SafeguardSet), [`SafeguardLog`](safeguard::SafeguardLog) |
//! | [`scenario`] | the RON scenario format, validation, difficulty levels 1-10, the catalogue, the runner, the stress test and the source's table it is calibrated to ([`scenario::stress::compare`]); [`scenario::repro`] reproduction handles; [`scenario::control`] experiment vs fault-free control; [`scenario::shrink`] shrinking a failing configuration to a regression scenario; [`scenario::preflight`] scenarios checked against the stack before anything runs (targets, memory bound); [`scenario::draw`] the swarm draw of a fault mix from a seed |
//! | [`program`] | the autonomous programme: schedule, selection, learning, escalation, safeguard generation, the year driver, audit log, checkpoint/resume; [`program::speculate`] runs the likely next runs on idle cores without changing a byte; [`program::ensemble`] seed ensembles of the year; [`program::recorded`] one run rebuilt from a year's CSV rows (replay) |
//! | [`check`] | observers: recovery measurement, history, consistency and linearizability checkers; [`check::linearizable`] a bounded Wing-Gong-Lowe search for a compare-and-set register per key, the replicated log's history mapped onto it ([`check::linearizable::check_log`]), and `chaosim check FILE` for chaosim JSONL or Jepsen / Knossos EDN ([`check::edn`]) histories |
//! | [`report`] | plots (SVG + PNG, bundled font), `index.html` and `summary.md` for a year, a sweep, an ensemble or a single-run timeline; Jepsen-style history timelines and offline trace views |
//! | [`shard`] | the batch layer every kind shares: [`Shard`](shard::Shard) and its resolution (flags, Slurm, Kubernetes), the ordered parallel runner, [`Aggregate`](shard::Aggregate), `shard.ron` as [`ShardFile<K>`](shard::ShardFile) and one generic [`merge`](shard::merge) over a [`ShardKind`](shard::ShardKind) that each kind implements in its own module |
//! | [`sweep`] | parametric failure-rate A/B sweeps: chaos proxy, API agent, playbooks, circuit breaker; the API sweep, scenario sweep ([`sweep::scenario_sweep`]) and swarm ([`sweep::swarm`]) kinds on [`shard`], and [`sweep::merge::merge`], which reads shards of any kind by their tag; [`sweep::whatif`] paired what-if analysis of candidate safeguards over seeds, and [`sweep::whatif_programme`] the same over whole programmes, both kinds on [`shard`] too |
//! | [`record`] | streaming sinks and mergeable statistics: checked CSV writer, Welford, exact integer moments, quantile sketch, Wilson and Student-t intervals; [`record::trace`] the Chrome trace writer; [`record::timeline`] the single-run timeline writer; [`record::outfile`] the output rules (temporary file then rename, regular files only, nothing clobbered without `--force`) |
//! | [`input`] | reading input files in bounded memory (regular files only, size and line limits) with located errors, the line:column of a field's value; the `*.ron` files of a folder |
//! | [`demo`] | reference models for measuring the engine: PHOLD and a watchdog-timer farm |
//! | [`error`] | the located, typed [`Error`] |
//!
//! ## Layers
//!
//! The top-level modules are layers, lowest first; a module may use only
//! itself and the modules before it:
//!
//! `engine` < `error` < `input` < `safeguard` < `demo` < `fault` < `check` <
//! `playbook` < `model` < `record` < `shard` < `scenario` < `program` <
//! `sweep` < `report` < the binary (`cli/`, `main.rs`).
//!
//! Why this order: the engine knows nothing; errors and input reading sit
//! just above it so every layer can fail with a located error; the
//! vocabulary of the stack (safeguards, faults, observers, playbooks and
//! their intents) comes before the model that uses it; `record` (sinks,
//! statistics, the timeline writer) and `shard` (the batch layer) serve the
//! runner (`scenario`) and everything that drives it: the programme, the
//! sweeps (which include the programme's ensembles in their merge) and the
//! reports, which read what all of them wrote. A test (`src/layering.rs`)
//! reads the code lines of `src/` and fails on a `crate::` path against
//! this order; the two edges that still point up (an `Error` helper that
//! unwraps `record::outfile`'s path tags; the year asking `report` for the
//! names of the report files it must not clobber) are listed there with
//! their reasons.
//!
//! **Hidden state:** one piece only, the thread-local observer hook of
//! [`engine::observe::observe_simulations`], through which a self-check watches the events of the
//! simulations a thread runs; everything else is passed explicitly.
//!
//! **Invariant:** `engine` never names a kernel, a scenario or a file. Models
//! implement [`Model`](engine::Model) and give events meaning.
//!
//! **Invariant:** nothing inside a simulation reads the wall clock, iterates a
//! `HashMap` into an output, or orders by floats.
//!
//! **Invariant:** model code never decides pass/fail: the runner measures the
//! steady state with probes and checks which safeguards fired.
//!
//! **Invariant:** nothing grows with simulated time, runs or experiments: rows
//! are streamed, aggregates are fixed-size, learning records are bounded. (The
//! exception, the replicated log's operation history of one run, is bounded
//! by [`scenario::preflight`].)
//!
//! **Invariant:** a command touches nothing but its own outputs, and leaves
//! no half-written output behind: every write goes through
//! [`record::outfile`] (or, for the year's resumable streams, the checks of
//! [`program::year`]); every input through [`input`].
//!
//! ## A tiny model: an M/M/1 queue
//!
//! ```
//! use chaosim::engine::{Ctx, EventInfo, Model, RngDraws, SimDuration, SimTime, Simulation, StreamId};
//!
//! #[derive(Debug)]
//! enum Ev { Arrive, Depart }
//! impl EventInfo for Ev {
//!     fn kind(&self) -> u16 { match self { Ev::Arrive => 0, Ev::Depart => 1 } }
//!     fn kind_name(&self) -> &'static str { match self { Ev::Arrive => "arrive", Ev::Depart => "depart" } }
//! }
//!
//! struct Mm1 { rng: StreamId, queue: Vec<SimTime>, busy: bool, served: u64, wait_ns: u128 }
//! const ARRIVAL_MEAN_NS: f64 = 2e9; // lambda = 0.5/s
//! const SERVICE_MEAN_NS: f64 = 1e9; // mu = 1/s, so rho = 0.5
//!
//! impl Model for Mm1 {
//!     type Event = Ev;
//!     fn handle(&mut self, ev: Ev, ctx: &mut Ctx<'_, Ev>) {
//!         match ev {
//!             Ev::Arrive => {
//!                 let gap = ctx.rng(self.rng).exp_ns(ARRIVAL_MEAN_NS);
//!                 ctx.schedule_in(SimDuration::from_nanos(gap), Ev::Arrive);
//!                 if self.busy { self.queue.push(ctx.now()) } else { self.start(ctx, ctx.now()) }
//!             }
//!             Ev::Depart => {
//!                 self.busy = false;
//!                 if !self.queue.is_empty() { let t = self.queue.remove(0); self.start(ctx, t) }
//!             }
//!         }
//!     }
//! }
//! impl Mm1 {
//!     fn start(&mut self, ctx: &mut Ctx<'_, Ev>, arrived: SimTime) {
//!         self.busy = true;
//!         self.served += 1;
//!         self.wait_ns += (ctx.now() - arrived).as_nanos() as u128;
//!         let service = ctx.rng(self.rng).exp_ns(SERVICE_MEAN_NS);
//!         ctx.schedule_in(SimDuration::from_nanos(service), Ev::Depart);
//!     }
//! }
//!
//! let mut sim = Simulation::new(Mm1 { rng: StreamId::default(), queue: vec![], busy: false, served: 0, wait_ns: 0 }, 42);
//! let rng = sim.add_stream("mm1");
//! sim.model_mut().rng = rng;
//! sim.schedule_at(SimTime::ZERO, Ev::Arrive);
//! sim.run_until(SimTime::ZERO + SimDuration::from_secs(200_000)).unwrap();
//!
//! let m = sim.model();
//! let mean_wait_s = m.wait_ns as f64 / m.served as f64 / 1e9;
//! // Queueing theory: Wq = rho / (mu - lambda) = 0.5 / 0.5 = 1 s.
//! assert!((mean_wait_s - 1.0).abs() < 0.1, "mean wait {mean_wait_s}");
//! // Same seed, same run: the digest proves it.
//! println!("{} events, digest {}", sim.events_handled(), sim.digest());
//! ```

#![warn(missing_docs)]

pub mod check;
pub mod demo;
pub mod engine;
pub mod error;
pub mod fault;
pub mod input;
#[cfg(test)]
mod layering;
pub mod model;
pub mod playbook;
pub mod program;
pub mod record;
pub mod report;
pub mod safeguard;
pub mod scenario;
pub mod shard;
pub mod sweep;

pub use error::{Error, Result};

/// The README's Rust examples, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
