//! Observers: steady-state probes, recovery measurement, invariants and
//! consistency checks over recorded histories.
//!
//! **Invariant:** checks read the model and its history; they never mutate it.

pub mod consistency;
pub mod history;
pub mod linearizable;
pub mod steady;
