//! Observers: steady-state probes, recovery measurement, invariants and
//! consistency checks over recorded histories.
//!
//! - [`steady`]: recovery measurement over steady-state samples;
//! - [`history`]: the Jepsen-style operation history, streamed as JSONL
//!   (and read back by [`history::read_jsonl`]);
//! - [`consistency`]: the checker over a history and final replica states;
//! - [`linearizable`]: a Wing-Gong-Lowe linearizability search for a
//!   compare-and-set register, per independent key and with a step budget,
//!   and the mapping of the replicated log's history onto it
//!   ([`linearizable::check_log`]);
//! - [`edn`]: Jepsen / Knossos register histories in EDN, for the same
//!   search (`chaosim check FILE`).
//!
//! **Invariant:** checks read the model and its history; they never mutate it.

pub mod consistency;
pub mod edn;
pub mod history;
pub mod linearizable;
pub mod steady;
