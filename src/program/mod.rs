//! The autonomous chaos programme: schedule, selection, learning records,
//! escalation, safeguard generation and delayed deployment, knowledge base,
//! the year driver with streamed outputs, checkpoint and resume, and seed
//! ensembles of the whole programme ([`ensemble`]).
//!
//! **Invariant:** the programme never simulates inside a run; it calls an
//! [`Executor`](crate::scenario::Executor) with a self-contained
//! [`Execution`](crate::scenario::Execution), so every run can be replayed alone.
//!
//! **Invariant:** planning ahead ([`speculate`]) never changes an output:
//! an execution is a pure function of its description, so a guessed one is
//! used only when it equals the real one.
//!
//! **Invariant:** the state between runs is bounded (one record per
//! scenario, one pending fix per safeguard); every row is streamed.

pub mod audit;
pub mod ensemble;
pub mod learning;
pub mod recorded;
pub mod select;
pub mod spec;
pub mod speculate;
pub mod year;

pub use learning::LearningRecord;
pub use spec::{Perspective, Programme};
pub use year::{RunObservation, Summary, YearConfig, run_programme, run_programme_quiet};
