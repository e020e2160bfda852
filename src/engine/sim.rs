//! The simulation driver: [`Model`], [`Ctx`], [`Simulation`] and the run digest.

pub use super::digest::{DIGEST_FORMAT, Digest, Fingerprint};
use super::observe::{EventRecord, Observer, StateRecord};
use super::queue::{EventKey, EventQueue};
use super::rng::{SeedPath, SimRng};
use super::time::{SimDuration, SimTime};

/// What the engine needs to know of an event to fold it into the digest and
/// to name it in diagnostics. Implemented by each model's event `enum`.
pub trait EventInfo {
    /// A stable numeric code for the event's kind (its variant). Folded into
    /// the digest, so keep codes stable across versions.
    fn kind(&self) -> u16;
    /// A human name for the kind, for diagnostics (`"heartbeat"`).
    fn kind_name(&self) -> &'static str;
    /// The entity the event is aimed at (a kernel index, a node id...), or 0.
    fn target(&self) -> u32 {
        0
    }
}

/// A simulated system: state plus a handler for its events.
///
/// The handler sees the current time and can schedule, cancel and reschedule
/// events, draw from registered random streams and ask the run to stop, all
/// through [`Ctx`]. A model that is composed of parts can give each part its
/// own event enum and let the parts schedule into the model's enum through
/// `From` conversions: `ctx.schedule_in(d, PartEvent::Tick.into())`.
pub trait Model {
    /// The model's event type: a small `enum`, ideally at most 32 bytes.
    type Event: EventInfo;
    /// Handle one event at time `ctx.now()`.
    fn handle(&mut self, event: Self::Event, ctx: &mut Ctx<'_, Self::Event>);
}

/// Identifies a random stream registered with [`Simulation::add_stream`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StreamId(u32);

/// The handler's view of the simulation while it handles one event.
pub struct Ctx<'a, E> {
    now: SimTime,
    queue: &'a mut EventQueue<E>,
    rngs: &'a mut [SimRng],
    stop: &'a mut bool,
    digest: &'a mut Digest,
    observer: Option<&'a mut (dyn Observer + 'static)>,
    index: u64,
}

impl<'a, E> Ctx<'a, E> {
    /// The current simulated time (the time of the event being handled).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Fold one value of the model's observable state into the run digest
    /// ([`Digest::fold_value`]), so that two runs whose state differs have
    /// different digests even when their events agree. Call it at fixed
    /// points (a probe sample) with values in a fixed order.
    #[inline]
    pub fn fold_state(&mut self, value: u64) {
        *self.digest = self.digest.fold_value(value);
    }

    /// Whether an [`Observer`] watches this simulation (a self-check): then
    /// the model may report component fingerprints with
    /// [`report_state`](Self::report_state), which cost time to compute.
    #[inline]
    pub fn observed(&self) -> bool {
        self.observer.is_some()
    }

    /// Report the fingerprint of one named component of the model's state
    /// to the observer, if any ([`Observer::observe_state`]): a lockstep
    /// comparison then names the first component whose state parted, even
    /// when the events agree. Not folded into the digest.
    pub fn report_state(&mut self, component: &'static str, fingerprint: u64) {
        if let Some(obs) = self.observer.as_deref_mut() {
            let record = StateRecord {
                after: self.index,
                time: self.now,
                component,
                fingerprint,
            };
            // A `false` (the comparison is over) interrupts at the next event.
            let _ = obs.observe_state(&record);
        }
    }

    /// Schedule `event` after `delay`. Panics if the time overflows
    /// [`SimTime::MAX`] (a model bug; see [`try_schedule_in`](Self::try_schedule_in)).
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventKey {
        self.queue.push(self.now + delay, event)
    }

    /// Schedule `event` after `delay`, or report the overflow.
    pub fn try_schedule_in(
        &mut self,
        delay: SimDuration,
        event: E,
    ) -> Result<EventKey, EngineError> {
        let at = self
            .now
            .checked_add(delay)
            .ok_or(EngineError::TimeOverflow {
                now: self.now,
                delay,
            })?;
        Ok(self.queue.push(at, event))
    }

    /// Schedule `event` at `at`, which must not precede [`now`](Self::now)
    /// (panics otherwise: scheduling into the past is a model bug).
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> EventKey {
        assert!(
            at >= self.now,
            "schedule_at({at}) before now ({})",
            self.now
        );
        self.queue.push(at, event)
    }

    /// Cancel a pending event; returns its payload, or `None` if it already
    /// fired or was cancelled.
    #[inline]
    pub fn cancel(&mut self, key: EventKey) -> Option<E> {
        self.queue.cancel(key)
    }

    /// Move a pending event to `now + delay` (the watchdog pattern: re-arm a
    /// deadline on every heartbeat). Returns `false` if the key is stale.
    #[inline]
    pub fn reschedule_in(&mut self, key: EventKey, delay: SimDuration) -> bool {
        self.queue.reschedule(key, self.now + delay)
    }

    /// Move a pending event to `at` (not before now). Returns `false` if the
    /// key is stale.
    #[inline]
    pub fn reschedule_at(&mut self, key: EventKey, at: SimTime) -> bool {
        assert!(
            at >= self.now,
            "reschedule_at({at}) before now ({})",
            self.now
        );
        self.queue.reschedule(key, at)
    }

    /// Whether `key` still names a pending event.
    #[inline]
    pub fn is_pending(&self, key: EventKey) -> bool {
        self.queue.contains(key)
    }

    /// The random stream registered as `id`.
    #[inline]
    pub fn rng(&mut self, id: StreamId) -> &mut SimRng {
        &mut self.rngs[id.0 as usize]
    }

    /// Ask the run to stop after this event; `run_until` returns
    /// [`RunStatus::Stopped`].
    pub fn stop(&mut self) {
        *self.stop = true;
    }
}

/// Why a run stopped without error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// The requested time was reached (the clock now reads it).
    Reached,
    /// The model called [`Ctx::stop`]; the clock reads the stop event's time.
    Stopped,
}

/// Errors the engine reports instead of spinning or wrapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The run handled its maximum number of events: a runaway model or a
    /// limit set too low.
    #[error("event limit reached: {events_max} events handled by {now}")]
    EventLimit {
        /// The configured limit.
        events_max: u64,
        /// The simulated time when it was hit.
        now: SimTime,
    },
    /// Too many events in a row at one instant: a zero-delay loop.
    #[error("time stalled at {now}: {events} consecutive events at the same instant")]
    TimeStalled {
        /// The stuck instant.
        now: SimTime,
        /// How many events were handled there.
        events: u64,
    },
    /// `now + delay` does not fit in a [`SimTime`].
    #[error("time overflow: {now} + {delay}")]
    TimeOverflow {
        /// The current time.
        now: SimTime,
        /// The delay that overflowed.
        delay: SimDuration,
    },
    /// An [`Observer`] asked to stop before the event at `index` (e.g. a
    /// lockstep comparison found its divergence).
    #[error("interrupted by an observer before event #{index} at {now}")]
    Interrupted {
        /// Index of the event that was not handled.
        index: u64,
        /// Its time.
        now: SimTime,
    },
}

/// Default cap on events handled by one simulation (a runaway guard).
pub const EVENTS_MAX_DEFAULT: u64 = 1 << 34;
/// Default cap on consecutive events at one instant (a zero-delay-loop guard).
pub const EVENTS_PER_INSTANT_MAX_DEFAULT: u64 = 1 << 26;

/// A model, its pending events, its clock, its random streams and its digest.
///
/// # Order of events
/// Events are handled in the total order `(time, seq)`, where `seq` counts
/// schedule operations: two events at the same time are handled in the order
/// they were scheduled (rescheduling counts as scheduling anew). Time never
/// goes backwards: scheduling before `now` panics.
///
/// # Determinism
/// Given the same model, seed and initial events, the sequence of handled
/// events, and so the [`digest`](Self::digest), is identical on every run and
/// platform: time is integer, randomness comes only from seeded streams, and
/// ties are broken by `seq`.
pub struct Simulation<M: Model> {
    model: M,
    queue: EventQueue<M::Event>,
    now: SimTime,
    seed: SeedPath,
    rngs: Vec<SimRng>,
    digest: Digest,
    events_handled: u64,
    events_max: u64,
    events_per_instant_max: u64,
    same_instant_run: u64,
    stop: bool,
    observer: Option<Box<dyn Observer>>,
}

impl<M: Model> Simulation<M> {
    /// A simulation of `model` starting at the epoch, with random streams
    /// derived from `seed`.
    pub fn new(model: M, seed: u64) -> Self {
        Self::starting_at(model, SeedPath::root(seed), SimTime::ZERO)
    }

    /// A simulation whose clock starts at `start` (e.g. 02:00 of day 3) and
    /// whose streams derive from `seed` (an already labelled path).
    pub fn starting_at(model: M, seed: SeedPath, start: SimTime) -> Self {
        Self::starting_at_reusing(model, seed, start, EventQueue::starting_at(start))
    }

    /// As [`starting_at`](Self::starting_at), on a queue handed back by
    /// [`into_parts`](Self::into_parts) of an earlier simulation (it is
    /// [`reset`](EventQueue::reset) first, so the run is the same as on a
    /// new queue, only without building one).
    pub fn starting_at_reusing(
        model: M,
        seed: SeedPath,
        start: SimTime,
        mut queue: EventQueue<M::Event>,
    ) -> Self {
        queue.reset(start);
        Simulation {
            model,
            queue,
            now: start,
            seed,
            rngs: Vec::new(),
            digest: Digest::EMPTY,
            events_handled: 0,
            events_max: EVENTS_MAX_DEFAULT,
            events_per_instant_max: EVENTS_PER_INSTANT_MAX_DEFAULT,
            same_instant_run: 0,
            stop: false,
            observer: super::observe::ambient_observer(),
        }
    }

    /// Install (or remove, with `None`) an [`Observer`] that sees every
    /// event before it is handled and may interrupt the run. Replaces any
    /// observer given by [`observe_simulations`](super::observe::observe_simulations).
    pub fn set_observer(&mut self, observer: Option<Box<dyn Observer>>) {
        self.observer = observer;
    }

    /// Whether an observer is installed.
    pub fn is_observed(&self) -> bool {
        self.observer.is_some()
    }

    /// Cap the number of events this simulation may handle.
    pub fn with_events_max(mut self, events_max: u64) -> Self {
        self.events_max = events_max;
        self
    }

    /// Cap the number of consecutive events at one instant.
    pub fn with_events_per_instant_max(mut self, max: u64) -> Self {
        self.events_per_instant_max = max;
        self
    }

    /// Register a random stream derived from this simulation's seed and
    /// `label`. Each label gives an independent stream: registering another
    /// never changes the draws of existing ones.
    pub fn add_stream(&mut self, label: &str) -> StreamId {
        let id = StreamId(u32::try_from(self.rngs.len()).expect("too many streams"));
        self.rngs.push(self.seed.child(label).rng());
        id
    }

    /// The seed path this simulation derives its streams from.
    pub fn seed(&self) -> SeedPath {
        self.seed
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, mutably (between events).
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// Consume the simulation and return the model.
    pub fn into_model(self) -> M {
        self.model
    }

    /// Consume the simulation and return the model and the event queue
    /// (for [`starting_at_reusing`](Self::starting_at_reusing)).
    pub fn into_parts(self) -> (M, EventQueue<M::Event>) {
        (self.model, self.queue)
    }

    /// Number of events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.events_handled
    }

    /// Number of events pending.
    pub fn events_pending(&self) -> usize {
        self.queue.len()
    }

    /// The digest of all events handled so far.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// Schedule an event from outside the model (initial events, injected
    /// faults). `at` must not precede [`now`](Self::now).
    pub fn schedule_at(&mut self, at: SimTime, event: M::Event) -> EventKey {
        assert!(
            at >= self.now,
            "schedule_at({at}) before now ({})",
            self.now
        );
        self.queue.push(at, event)
    }

    /// Schedule an event `delay` after [`now`](Self::now).
    pub fn schedule_in(&mut self, delay: SimDuration, event: M::Event) -> EventKey {
        self.queue.push(self.now + delay, event)
    }

    /// Cancel a pending event from outside the model.
    pub fn cancel(&mut self, key: EventKey) -> Option<M::Event> {
        self.queue.cancel(key)
    }

    /// Call `f` with the model and a [`Ctx`] at the current time, outside any
    /// event (to set up initial state that needs to schedule or draw).
    pub fn with_ctx<R>(&mut self, f: impl FnOnce(&mut M, &mut Ctx<'_, M::Event>) -> R) -> R {
        let mut ctx = Ctx {
            now: self.now,
            queue: &mut self.queue,
            rngs: &mut self.rngs,
            stop: &mut self.stop,
            digest: &mut self.digest,
            observer: self.observer.as_deref_mut(),
            index: self.events_handled,
        };
        f(&mut self.model, &mut ctx)
    }

    /// The time of the next pending event.
    pub fn next_event_time(&mut self) -> Option<SimTime> {
        self.queue.peek_time()
    }

    /// Handle the next event, if any, and return its [`EventRecord`]
    /// (index, time, kind, target and the digest after it): one step of a
    /// lockstep comparison ([`lockstep`](super::trace::lockstep)).
    pub fn step_traced(&mut self) -> Result<Option<EventRecord>, EngineError> {
        let Some((time, event)) = self.queue.pop() else {
            return Ok(None);
        };
        let (kind, kind_name, target) = (event.kind(), event.kind_name(), event.target());
        let index = self.events_handled;
        self.dispatch(time, event)?;
        self.stop = false;
        Ok(Some(EventRecord {
            index,
            time,
            kind,
            kind_name,
            target,
            digest: self.digest,
        }))
    }

    /// Handle the next event, if any; returns its time.
    pub fn step(&mut self) -> Result<Option<SimTime>, EngineError> {
        let Some((time, event)) = self.queue.pop() else {
            return Ok(None);
        };
        self.dispatch(time, event)?;
        self.stop = false; // a stop request ends the step it was made in
        Ok(Some(time))
    }

    #[inline]
    fn dispatch(&mut self, time: SimTime, event: M::Event) -> Result<(), EngineError> {
        debug_assert!(
            time >= self.now,
            "time went backwards: {time} < {}",
            self.now
        );
        if self.events_handled >= self.events_max {
            return Err(EngineError::EventLimit {
                events_max: self.events_max,
                now: self.now,
            });
        }
        if time == self.now {
            self.same_instant_run += 1;
            if self.same_instant_run > self.events_per_instant_max {
                return Err(EngineError::TimeStalled {
                    now: time,
                    events: self.same_instant_run,
                });
            }
        } else {
            self.same_instant_run = 1;
        }
        let digest = self.digest.fold(time, event.kind(), event.target());
        if self.observer.is_some() && !self.observe(time, &event, digest) {
            return Err(EngineError::Interrupted {
                index: self.events_handled,
                now: time,
            });
        }
        self.now = time;
        self.digest = digest;
        self.events_handled += 1;
        let mut ctx = Ctx {
            now: time,
            queue: &mut self.queue,
            rngs: &mut self.rngs,
            stop: &mut self.stop,
            digest: &mut self.digest,
            observer: self.observer.as_deref_mut(),
            // The event being handled was counted just above.
            index: self.events_handled - 1,
        };
        self.model.handle(event, &mut ctx);
        Ok(())
    }

    /// Show the event to the observer (out of line: the loop without an
    /// observer pays one branch).
    #[cold]
    #[inline(never)]
    fn observe(&mut self, time: SimTime, event: &M::Event, digest: Digest) -> bool {
        let record = EventRecord {
            index: self.events_handled,
            time,
            kind: event.kind(),
            kind_name: event.kind_name(),
            target: event.target(),
            digest,
        };
        match self.observer.as_mut() {
            Some(obs) => obs.observe(&record),
            None => true,
        }
    }

    /// Handle every event at or before `until`, then set the clock to `until`
    /// (unless the model asked to stop, in which case the clock stays at the
    /// stopping event). A stop request is consumed by the call it ends.
    pub fn run_until(&mut self, until: SimTime) -> Result<RunStatus, EngineError> {
        while let Some((time, event)) = self.queue.pop_at_or_before(until) {
            self.dispatch(time, event)?;
            if self.stop {
                self.stop = false;
                return Ok(RunStatus::Stopped);
            }
        }
        if until > self.now {
            self.now = until;
        }
        Ok(RunStatus::Reached)
    }

    /// Run for `span` of simulated time from now.
    pub fn run_for(&mut self, span: SimDuration) -> Result<RunStatus, EngineError> {
        let until = self
            .now
            .checked_add(span)
            .ok_or(EngineError::TimeOverflow {
                now: self.now,
                delay: span,
            })?;
        self.run_until(until)
    }

    /// Handle events until none is pending or the model stops.
    pub fn run(&mut self) -> Result<RunStatus, EngineError> {
        while let Some((time, event)) = self.queue.pop() {
            self.dispatch(time, event)?;
            if self.stop {
                self.stop = false;
                return Ok(RunStatus::Stopped);
            }
        }
        Ok(RunStatus::Reached)
    }
}
