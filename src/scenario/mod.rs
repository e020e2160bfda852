//! Chaos scenarios: the RON format, validation, difficulty scaling and the
//! catalogue.
//!
//! - [`spec`]: [`ScenarioFile`](spec::ScenarioFile) (as written) and
//!   [`ScenarioSpec`] (validated), faults, probes.
//! - [`difficulty`]: levels 1..=10 and [`scale`](difficulty::scale).
//! - [`catalogue`]: the embedded catalogue and directory loading.

pub mod catalogue;
pub mod difficulty;
pub mod spec;

pub use catalogue::Catalogue;
pub use spec::{FaultKind, ScenarioSpec};
