//! What an observer sees of a run: one [`EventRecord`] per handled event
//! and the [`StateRecord`]s a model reports, the [`Observer`] trait that
//! looks at them (and may interrupt the run), and the one piece of hidden
//! state of the crate: the thread-local hook of [`observe_simulations`],
//! through which every simulation a thread creates gets an observer (the
//! self-check's way into code it cannot change). The driver
//! ([`Simulation`](super::Simulation)) calls the observer; the lockstep
//! comparison ([`trace`](super::trace)) builds on it.

use std::cell::RefCell;
use std::fmt;

use super::digest::Digest;
use super::time::SimTime;

/// One handled event as the engine saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// 0-based position in the simulation's sequence of handled events (the
    /// value of [`Simulation::events_handled`](super::Simulation::events_handled) just before it).
    pub index: u64,
    /// Its simulated time.
    pub time: SimTime,
    /// [`EventInfo::kind`](super::EventInfo::kind).
    pub kind: u16,
    /// [`EventInfo::kind_name`](super::EventInfo::kind_name).
    pub kind_name: &'static str,
    /// [`EventInfo::target`](super::EventInfo::target).
    pub target: u32,
    /// The run digest after folding this event.
    pub digest: Digest,
}

impl EventRecord {
    /// Whether `other` is the same event at the same place of a run: equal
    /// index, time, kind, target and running digest.
    pub fn same_as(&self, other: &EventRecord) -> bool {
        self.index == other.index
            && self.time == other.time
            && self.kind == other.kind
            && self.target == other.target
            && self.digest == other.digest
    }
}

impl fmt::Display for EventRecord {
    /// `#1234 at d0 00:00:01.500000000: heartbeat (kind 3) target 7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} at {}: {} (kind {}) target {}",
            self.index, self.time, self.kind_name, self.kind, self.target
        )
    }
}

/// A component's state fingerprint, reported by the model while it
/// handles an event ([`Ctx::report_state`](super::Ctx::report_state)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateRecord {
    /// Events handled before the one being handled when it was reported
    /// (the index of that event).
    pub after: u64,
    /// Its simulated time.
    pub time: SimTime,
    /// The component's name (`"layer2"`).
    pub component: &'static str,
    /// Its fingerprint.
    pub fingerprint: u64,
}

impl fmt::Display for StateRecord {
    /// `layer2 state 1a2b... during event #1234 at d0 00:00:15.000000000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} state {:016x} during event #{} at {}",
            self.component, self.fingerprint, self.after, self.time
        )
    }
}

/// Sees every event a [`Simulation`](super::Simulation) handles, before the model handles it.
/// Return `false` to interrupt the run: the event is not handled and
/// `step`/`run_until`/`run` return [`EngineError::Interrupted`](super::EngineError::Interrupted).
///
/// Implemented for every `FnMut(&EventRecord) -> bool + Send` closure.
pub trait Observer: Send {
    /// Look at one event; `false` interrupts the run.
    fn observe(&mut self, record: &EventRecord) -> bool;

    /// Look at a component fingerprint the model reported; `false` ends
    /// the run at its next event. By default ignored.
    fn observe_state(&mut self, _record: &StateRecord) -> bool {
        true
    }
}

impl<F: FnMut(&EventRecord) -> bool + Send> Observer for F {
    #[inline]
    fn observe(&mut self, record: &EventRecord) -> bool {
        self(record)
    }
}

/// The factory that gives each new simulation on this thread an observer.
type Factory = Box<dyn FnMut() -> Box<dyn Observer>>;

thread_local! {
    static AMBIENT: RefCell<Option<Factory>> = const { RefCell::new(None) };
}

/// Run `f` with every [`Simulation`](super::Simulation) created on this thread during the call
/// observed by an observer from `factory` (called once per simulation, in
/// creation order). The previous hook, if any, is restored afterwards, also
/// on panic. Simulations created on other threads are not observed.
pub fn observe_simulations<R>(
    factory: impl FnMut() -> Box<dyn Observer> + 'static,
    f: impl FnOnce() -> R,
) -> R {
    struct Restore(Option<Factory>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            AMBIENT.with(|a| *a.borrow_mut() = prev);
        }
    }
    let prev = AMBIENT.with(|a| a.borrow_mut().replace(Box::new(factory)));
    let _restore = Restore(prev);
    f()
}

/// The observer for a simulation being created on this thread, if a hook is
/// installed ([`observe_simulations`]).
pub(crate) fn ambient_observer() -> Option<Box<dyn Observer>> {
    AMBIENT.with(|a| {
        a.try_borrow_mut()
            .ok()
            .and_then(|mut f| f.as_mut().map(|f| f()))
    })
}
