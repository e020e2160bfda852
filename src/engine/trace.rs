//! Event trails and lockstep comparison: the engine side of the determinism
//! self-check (`chaosim selfcheck`).
//!
//! A deterministic model handles the same events at the same times in the
//! same order on every run. When it does not (a `HashMap` iterated into a
//! decision, a process-global counter, the wall clock), the run
//! [`Digest`] differs, and the useful question is *where* the two runs first
//! parted. This module answers it in constant memory: it runs two copies side
//! by side, event by event, and stops at the first event whose time, kind or
//! target differ. Nothing grows with the number of events: the comparison
//! keeps a bounded [`Trail`] of the last agreeing events for context.
//!
//! Three entry points:
//! - [`lockstep`]: two [`Simulation`]s you built yourself, stepped
//!   alternately on the current thread.
//! - [`Observer`] and [`Simulation::set_observer`]: a callback that sees
//!   every handled event as an [`EventRecord`] (index, time, kind, target,
//!   running digest) and may interrupt the run
//!   ([`EngineError::Interrupted`]). Off by default; when off, the cost in
//!   the event loop is one predictable branch.
//! - [`lockstep_scoped`]: two closures that build and run simulations
//!   themselves (library code you cannot change, such as the scenario
//!   runner), each on its own thread. Every simulation a closure creates on
//!   its thread gets an observer (through [`observe_simulations`], a scoped
//!   thread-local hook) that streams its records in bounded batches to the
//!   comparing thread. Simulations are numbered in creation order within each
//!   closure, so a run made of several simulations is compared one by one.
//!
//! # Example: locating a planted divergence in your own model
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use chaosim::engine::{Ctx, EventInfo, Model, SimDuration, SimTime, Simulation};
//! use chaosim::engine::trace::{Lockstep, Trail, lockstep};
//!
//! static GLOBAL: AtomicU32 = AtomicU32::new(0); // shared by both copies: a bug
//!
//! #[derive(Clone, Copy)]
//! struct Tick(u32);
//! impl EventInfo for Tick {
//!     fn kind(&self) -> u16 { 1 }
//!     fn kind_name(&self) -> &'static str { "tick" }
//!     fn target(&self) -> u32 { self.0 }
//! }
//! struct Ticker { n: u64 }
//! impl Model for Ticker {
//!     type Event = Tick;
//!     fn handle(&mut self, _ev: Tick, ctx: &mut Ctx<'_, Tick>) {
//!         self.n += 1;
//!         // The 10th event schedules a target read from process state.
//!         let target = if self.n == 10 { GLOBAL.fetch_add(1, Ordering::Relaxed) } else { 0 };
//!         ctx.schedule_in(SimDuration::from_millis(1), Tick(target));
//!     }
//! }
//! let make = || {
//!     let mut sim = Simulation::new(Ticker { n: 0 }, 7);
//!     sim.schedule_at(SimTime::ZERO, Tick(0));
//!     sim
//! };
//! let (mut a, mut b) = (make(), make());
//! let mut trail = Trail::new(4);
//! let until = SimTime::from_nanos(1_000_000_000);
//! match lockstep(&mut a, &mut b, until, &mut trail).unwrap() {
//!     Lockstep::Diverged(d) => {
//!         assert_eq!(d.index, 10); // 0-based: the 11th event handled
//!         assert_eq!(d.a.unwrap().target, 0);
//!         assert_eq!(d.b.unwrap().target, 1);
//!         println!("{d}");
//!     }
//!     Lockstep::Agree { .. } => unreachable!("the copies differ"),
//! }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::digest::Digest;
pub use super::observe::{EventRecord, Observer, StateRecord, observe_simulations};
use super::sim::{EngineError, Model, Simulation};
use super::time::SimTime;

/// A bounded ring of the last `capacity` events (constant memory).
#[derive(Clone, Debug)]
pub struct Trail {
    buf: Vec<EventRecord>,
    capacity: usize,
    next: usize,
}

impl Trail {
    /// A trail keeping the last `capacity` records (at least one).
    pub fn new(capacity: usize) -> Trail {
        let capacity = capacity.max(1);
        Trail {
            buf: Vec::with_capacity(capacity),
            capacity,
            next: 0,
        }
    }

    /// Add a record, dropping the oldest when full.
    #[inline]
    pub fn push(&mut self, record: EventRecord) {
        if self.buf.len() < self.capacity {
            self.buf.push(record);
        } else {
            self.buf[self.next] = record;
        }
        self.next = (self.next + 1) % self.capacity;
    }

    /// The kept records, oldest first.
    pub fn records(&self) -> Vec<EventRecord> {
        if self.buf.len() < self.capacity {
            self.buf.clone()
        } else {
            let mut v = self.buf[self.next..].to_vec();
            v.extend_from_slice(&self.buf[..self.next]);
            v
        }
    }

    /// The most recent record.
    pub fn last(&self) -> Option<EventRecord> {
        if self.buf.is_empty() {
            None
        } else {
            Some(self.buf[(self.next + self.capacity - 1) % self.capacity])
        }
    }

    /// Forget everything (e.g. when a new simulation starts).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.next = 0;
    }
}

/// Where two runs first parted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Which simulation of the run (0-based, in creation order; always 0 for
    /// [`lockstep`]).
    pub simulation: u32,
    /// Index of the first divergent event within that simulation.
    pub index: u64,
    /// Copy A's event there, or `None` if copy A had no more events.
    pub a: Option<EventRecord>,
    /// Copy B's event there, or `None` if copy B had no more events.
    pub b: Option<EventRecord>,
    /// The last event both copies agreed on in that simulation, if any.
    pub last_agreed: Option<EventRecord>,
    /// When the first difference is a component's state (the events
    /// agreeing so far): copy A's and copy B's fingerprint records.
    pub state: Option<(StateRecord, StateRecord)>,
}

impl Divergence {
    /// The fields that differ, in words (`"target 0 vs 1"`).
    pub fn differences(&self) -> String {
        if let Some((a, b)) = &self.state {
            return format!(
                "state of {} {:016x} vs {:016x} (events agree so far)",
                a.component, a.fingerprint, b.fingerprint
            );
        }
        match (&self.a, &self.b) {
            (Some(a), Some(b)) => {
                let mut d = Vec::new();
                if a.time != b.time {
                    d.push(format!("time {} vs {}", a.time, b.time));
                }
                if a.kind != b.kind {
                    d.push(format!(
                        "kind {} ({}) vs {} ({})",
                        a.kind_name, a.kind, b.kind_name, b.kind
                    ));
                }
                if a.target != b.target {
                    d.push(format!("target {} vs {}", a.target, b.target));
                }
                if d.is_empty() {
                    d.push(format!("digest {} vs {}", a.digest, b.digest));
                }
                d.join(", ")
            }
            (Some(_), None) => "copy B had no more events".into(),
            (None, Some(_)) => "copy A had no more events".into(),
            (None, None) => "the copies created different numbers of simulations".into(),
        }
    }
}

impl fmt::Display for Divergence {
    /// Several lines: the divergent event of each copy, what differs, and
    /// the last agreeing event.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((a, b)) = &self.state {
            writeln!(
                f,
                "first divergent state: simulation {}, component {}, during event #{} at {}",
                self.simulation, a.component, a.after, a.time
            )?;
            writeln!(f, "  copy A  {a}")?;
            writeln!(f, "  copy B  {b}")?;
            writeln!(f, "  differs {}", self.differences())?;
            return match &self.last_agreed {
                Some(r) => write!(f, "  last agreeing event {r}, digest {}", r.digest),
                None => write!(f, "  no earlier event of this simulation agreed"),
            };
        }
        writeln!(
            f,
            "first divergent event: simulation {}, event #{}",
            self.simulation, self.index
        )?;
        let side = |r: &Option<EventRecord>| match r {
            Some(r) => r.to_string(),
            None => "(no event: the run ended)".into(),
        };
        writeln!(f, "  copy A  {}", side(&self.a))?;
        writeln!(f, "  copy B  {}", side(&self.b))?;
        writeln!(f, "  differs {}", self.differences())?;
        match &self.last_agreed {
            Some(r) => write!(f, "  last agreeing event {r}, digest {}", r.digest),
            None => write!(f, "  no earlier event of this simulation agreed"),
        }
    }
}

/// The result of a lockstep comparison.
// One value per comparison: the size of the divergence does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lockstep {
    /// Both copies handled the same events.
    Agree {
        /// Events compared (per copy, over all simulations).
        events: u64,
        /// Simulations compared (per copy).
        simulations: u32,
        /// Digest of the last simulation (or [`Digest::EMPTY`]).
        digest: Digest,
    },
    /// The first difference.
    Diverged(Divergence),
}

/// Step `a` and `b` alternately up to `until`, comparing each handled event
/// (index, time, kind, target, running digest); stop at the first
/// difference. `trail` keeps the last agreeing events.
///
/// Stop requests ([`Ctx::stop`](super::Ctx::stop)) do not end the
/// comparison: both copies run until `until` or until neither has events.
pub fn lockstep<A: Model, B: Model>(
    a: &mut Simulation<A>,
    b: &mut Simulation<B>,
    until: SimTime,
    trail: &mut Trail,
) -> Result<Lockstep, EngineError> {
    let mut events = 0u64;
    loop {
        let ra = match a.next_event_time() {
            Some(t) if t <= until => a.step_traced()?,
            _ => None,
        };
        let rb = match b.next_event_time() {
            Some(t) if t <= until => b.step_traced()?,
            _ => None,
        };
        match (ra, rb) {
            (None, None) => {
                return Ok(Lockstep::Agree {
                    events,
                    simulations: 1,
                    digest: a.digest(),
                });
            }
            (Some(x), Some(y)) if x.same_as(&y) => {
                trail.push(x);
                events += 1;
            }
            (x, y) => {
                return Ok(Lockstep::Diverged(Divergence {
                    simulation: 0,
                    index: x.or(y).map(|r| r.index).unwrap_or(events),
                    a: x,
                    b: y,
                    last_agreed: trail.last(),
                    state: None,
                }));
            }
        }
    }
}

/// Records sent per batch from a copy's thread to the comparing thread.
const BATCH_LEN: usize = 1024;
/// Batches in flight per copy (the bound that keeps memory constant).
const BATCHES_IN_FLIGHT: usize = 4;

/// An event or a component fingerprint, in the order the copy produced them.
#[derive(Clone, Copy, Debug)]
enum Rec {
    Event(EventRecord),
    State(StateRecord),
}

type Batch = Vec<(u32, Rec)>;

/// An observer that forwards records to the comparing thread in batches.
struct Forwarder {
    simulation: u32,
    buf: Batch,
    tx: SyncSender<Batch>,
    /// Set by the comparing thread when it has its answer.
    done: Arc<AtomicBool>,
}

impl Observer for Forwarder {
    #[inline]
    fn observe(&mut self, record: &EventRecord) -> bool {
        if self.done.load(Ordering::Relaxed) {
            return false;
        }
        self.push(Rec::Event(*record))
    }

    fn observe_state(&mut self, record: &StateRecord) -> bool {
        if self.done.load(Ordering::Relaxed) {
            return false;
        }
        self.push(Rec::State(*record))
    }
}

impl Forwarder {
    fn push(&mut self, r: Rec) -> bool {
        self.buf.push((self.simulation, r));
        if self.buf.len() >= BATCH_LEN {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH_LEN));
            // A closed channel means the comparison is over: interrupt.
            return self.tx.send(full).is_ok();
        }
        true
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.tx.send(std::mem::take(&mut self.buf));
        }
    }
}

/// Iterates the records a copy streams, batch by batch.
struct Stream {
    rx: Receiver<Batch>,
    batch: std::vec::IntoIter<(u32, Rec)>,
}

impl Iterator for Stream {
    type Item = (u32, Rec);
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.batch.next() {
                return Some(r);
            }
            let batch = self.rx.recv().ok()?;
            if batch.is_empty() {
                return None; // the copy's closure returned
            }
            self.batch = batch.into_iter();
        }
    }
}

/// What [`lockstep_scoped`] found, and what the two closures returned
/// (after a divergence they were interrupted: expect errors).
#[derive(Debug)]
pub struct ScopedLockstep<RA, RB> {
    /// The comparison.
    pub result: Lockstep,
    /// Copy A's return value.
    pub a: RA,
    /// Copy B's return value.
    pub b: RB,
}

/// Run `a` and `b` on two threads, each with every simulation it creates
/// observed, and compare their event streams in lockstep; at the first
/// difference both are interrupted ([`EngineError::Interrupted`] inside
/// them). `trail_len` agreeing events are kept for context. Memory is
/// bounded: each copy can run at most a few thousand events ahead.
///
/// The closures must create their simulations on their own thread (a
/// library routine that spawns threads of its own is observed only on the
/// calling thread: run it single-threaded), and drop them before returning
/// (return digests or outcomes, not a `Simulation`: the last events of a
/// simulation are sent when it is dropped).
pub fn lockstep_scoped<RA: Send, RB: Send>(
    a: impl FnOnce() -> RA + Send,
    b: impl FnOnce() -> RB + Send,
    trail_len: usize,
) -> ScopedLockstep<RA, RB> {
    let (tx_a, rx_a) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
    let (tx_b, rx_b) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
    let done = Arc::new(AtomicBool::new(false));
    fn run_observed<R>(tx: SyncSender<Batch>, done: Arc<AtomicBool>, f: impl FnOnce() -> R) -> R {
        let mut n = 0u32;
        let end = tx.clone();
        let r = observe_simulations(
            move || {
                let fwd = Forwarder {
                    simulation: n,
                    buf: Vec::with_capacity(BATCH_LEN),
                    tx: tx.clone(),
                    done: done.clone(),
                };
                n += 1;
                Box::new(fwd) as Box<dyn Observer>
            },
            f,
        );
        // End of this copy's stream (an empty batch), even if a simulation
        // it returned is still alive.
        let _ = end.send(Vec::new());
        r
    }
    std::thread::scope(|scope| {
        let (da, db) = (done.clone(), done.clone());
        let ha = scope.spawn(move || run_observed(tx_a, da, a));
        let hb = scope.spawn(move || run_observed(tx_b, db, b));
        let mut sa = Stream {
            rx: rx_a,
            batch: Vec::new().into_iter(),
        };
        let mut sb = Stream {
            rx: rx_b,
            batch: Vec::new().into_iter(),
        };
        let mut trail = Trail::new(trail_len);
        let mut events = 0u64;
        let mut simulations = 0u32;
        let mut current = u32::MAX;
        let mut digest = Digest::EMPTY;
        let result = loop {
            let (ea, eb) = (sa.next(), sb.next());
            match (ea, eb) {
                (None, None) => {
                    break Lockstep::Agree {
                        events,
                        simulations,
                        digest,
                    };
                }
                (Some((na, Rec::State(x))), Some((nb, Rec::State(y)))) if na == nb && x == y => {}
                (Some((na, Rec::State(x))), Some((nb, Rec::State(y))))
                    if na == nb && x.after == y.after && x.component == y.component =>
                {
                    // Same place, same component, another state.
                    let last_agreed = if na == current { trail.last() } else { None };
                    break Lockstep::Diverged(Divergence {
                        simulation: na,
                        index: x.after,
                        a: None,
                        b: None,
                        last_agreed,
                        state: Some((x, y)),
                    });
                }
                (Some((na, Rec::Event(x))), Some((nb, Rec::Event(y))))
                    if na == nb && x.same_as(&y) =>
                {
                    if na != current {
                        current = na;
                        simulations += 1;
                        trail.clear();
                    }
                    trail.push(x);
                    digest = x.digest;
                    events += 1;
                }
                (x, y) => {
                    // The divergence lies in the earlier simulation of the
                    // two: a copy that already moved on to its next one had
                    // no more events in it.
                    let sim = match (x, y) {
                        (Some((na, _)), Some((nb, _))) => na.min(nb),
                        _ => x.or(y).map(|(n, _)| n).unwrap_or(0),
                    };
                    let last_agreed = if sim == current { trail.last() } else { None };
                    let keep = |r: Option<(u32, Rec)>| match r {
                        Some((n, Rec::Event(e))) if n == sim => Some(e),
                        _ => None,
                    };
                    let (ra, rb) = (keep(x), keep(y));
                    let index = match (x, y) {
                        (Some((_, Rec::State(s))), _) | (_, Some((_, Rec::State(s)))) => s.after,
                        _ => ra.or(rb).map(|r| r.index).unwrap_or(0),
                    };
                    break Lockstep::Diverged(Divergence {
                        simulation: sim,
                        index,
                        a: ra,
                        b: rb,
                        last_agreed,
                        state: None,
                    });
                }
            }
        };
        // Both copies stop at their next event (or, blocked on a full
        // channel, when it closes).
        done.store(true, Ordering::Relaxed);
        drop(sa);
        drop(sb);
        let ra = ha.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        let rb = hb.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        ScopedLockstep {
            result,
            a: ra,
            b: rb,
        }
    })
}
