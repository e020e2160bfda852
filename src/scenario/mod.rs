//! Chaos scenarios: the RON format, validation, difficulty scaling and the
//! catalogue.
//!
//! - [`spec`]: [`ScenarioFile`](spec::ScenarioFile) (as written) and
//!   [`ScenarioSpec`] (validated), faults, probes.
//! - [`difficulty`]: levels 1..=10 and [`scale`](difficulty::scale).
//! - [`catalogue`]: the embedded catalogue and directory loading.
//! - [`execution`]: [`Execution`] (what to run, replayable from a row) and
//!   the [`Executor`] trait.
//! - [`outcome`]: [`Outcome`] and [`FailureKind`].
//! - [`control`]: the experiment compared with a fault-free control group
//!   ([`run_with_control`](control::run_with_control)).
//! - [`preflight`]: scenarios checked against the stack before anything
//!   runs (targets that exist, runs that fit the memory bound).
//! - [`repro`]: [`Repro`], the one-line command that reproduces a recorded
//!   outcome alone and checks its digest.
//! - [`shrink`]: shrinking a failing configuration to a minimal regression
//!   scenario ([`shrink_case`](shrink::shrink_case)).

pub mod catalogue;
pub mod control;
pub mod difficulty;
pub mod draw;
pub mod execution;
pub mod outcome;
pub mod preflight;
pub mod repro;
pub mod resolve;
pub mod run;
pub mod shrink;
pub mod spec;
pub mod stress;

pub use catalogue::Catalogue;
pub use execution::{Execution, Executor, Item};
pub use outcome::{Detection, FailureKind, FailureSignature, FaultRef, GovernanceSummary, Outcome};
pub use repro::{FileIds, Repro};
pub use spec::{FaultKind, ScenarioSpec};
