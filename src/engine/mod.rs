//! The discrete-event engine: simulated time, the event queue, the driver,
//! seeded random streams and the run digest.
//!
//! **Invariant:** the engine knows nothing of chaos, kernels, scenarios or
//! files. It is a clock, a queue of events, a set of random streams and a
//! hash; models give it meaning through the [`Model`] trait.
//!
//! - [`time`]: [`SimTime`] / [`SimDuration`], integer nanoseconds, checked.
//! - [`queue`]: the pending-event set, a monotone radix heap with 64-way
//!   digits and FIFO ties, cheap cancellation and movable deadlines
//!   ([`EventKey`]).
//! - [`sim`]: [`Model`], [`Ctx`], [`Simulation`], [`EngineError`].
//! - [`digest`]: the run [`Digest`] and component [`Fingerprint`]s.
//! - [`observe`]: [`EventRecord`], [`StateRecord`], the [`Observer`] trait
//!   and the thread-local hook that observes every simulation of a thread.
//! - [`rng`]: [`SeedPath`] (stable seed derivation) and [`SimRng`].
//! - [`trace`]: bounded trails and lockstep comparison of two runs (the
//!   determinism self-check), on the observers.
//!
//! Inside the engine no two modules import each other: `time` and `rng`
//! use nothing; `digest` uses them, `observe` uses `digest`, `queue` uses
//! `time`; `sim` (the driver) uses all of these; `trace` uses `sim`.

pub mod digest;
pub mod observe;
pub mod queue;
pub mod rng;
pub mod sim;
pub mod time;
pub mod trace;

pub use queue::{EventKey, EventQueue};
pub use rng::{RngDraws, SeedPath, SimRng};
pub use sim::{
    Ctx, DIGEST_FORMAT, Digest, EngineError, EventInfo, Fingerprint, Model, RunStatus, Simulation,
    StreamId,
};
pub use time::{
    NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_MICRO, NANOS_PER_MILLI, NANOS_PER_MINUTE,
    NANOS_PER_SEC, SimDuration, SimTime, mul_div,
};
pub use trace::{Divergence, EventRecord, Lockstep, Observer, StateRecord, Trail};
