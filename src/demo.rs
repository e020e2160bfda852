//! Small reference models on the engine: PHOLD (the standard benchmark of
//! discrete-event simulators) and a watchdog-timer farm (the heartbeat and
//! deadline pattern of the control plane, without the rest of the stack).
//!
//! They exist to measure the engine (`benches/engine.rs`, `chaosim phold`)
//! and to show how a model is written. Each has a bare hand-written
//! counterpart, so the engine's overhead can be measured on the same
//! trajectory: both draw the same random numbers in the same order and fold
//! the same checksum.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::{
    Ctx, EngineError, EventInfo, EventKey, Model, RngDraws, SeedPath, SimDuration, SimRng, SimTime,
    Simulation,
};

/// PHOLD parameters. Times in nanoseconds; the classic setting is
/// `lps = 1000, events_per_lp = 10, lookahead = 0.1, mean = 1.0, remote = 0.5`
/// (with one time unit = one second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PholdParams {
    /// Number of logical processes.
    pub lps: u32,
    /// Initial events per logical process (the pending population).
    pub events_per_lp: u32,
    /// Minimum delay of every event.
    pub lookahead_ns: u64,
    /// Mean of the exponential part of the delay.
    pub mean_ns: u64,
    /// Share of events sent to a uniformly chosen LP, as `num / den`.
    pub remote_num: u64,
    /// Denominator of the remote share.
    pub remote_den: u64,
}

impl Default for PholdParams {
    fn default() -> Self {
        PholdParams {
            lps: 1000,
            events_per_lp: 10,
            lookahead_ns: 100_000_000,
            mean_ns: 1_000_000_000,
            remote_num: 1,
            remote_den: 2,
        }
    }
}

/// A PHOLD event: a message arriving at logical process `lp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PholdEvent {
    /// Destination logical process.
    pub lp: u32,
}

impl EventInfo for PholdEvent {
    fn kind(&self) -> u16 {
        0
    }
    fn kind_name(&self) -> &'static str {
        "phold_message"
    }
    fn target(&self) -> u32 {
        self.lp
    }
}

/// The PHOLD model: every message makes its LP send one new message, to
/// itself or (with the remote share) to a random LP, after
/// `lookahead + Exp(mean)`.
pub struct Phold {
    params: PholdParams,
    rng: SimRng,
    /// Per-LP count of messages received.
    pub received: Vec<u64>,
    /// XOR-rotate checksum of `(time, lp)` over handled events, comparable
    /// with [`phold_bare`].
    pub checksum: u64,
}

#[inline]
fn checksum_step(sum: u64, time_ns: u64, lp: u32) -> u64 {
    (sum.rotate_left(5) ^ time_ns).wrapping_add(lp as u64)
}

#[inline]
fn phold_next(rng: &mut SimRng, p: &PholdParams, lp: u32) -> (u64, u32) {
    let delay = p.lookahead_ns + rng.exp_ns(p.mean_ns as f64);
    let dest = if rng.ratio(p.remote_num, p.remote_den) {
        rng.below(p.lps as u64) as u32
    } else {
        lp
    };
    (delay, dest)
}

impl Phold {
    /// A PHOLD simulation with its initial events scheduled.
    pub fn simulation(params: PholdParams, seed: u64) -> Simulation<Phold> {
        assert!(params.lps > 0 && params.remote_den > 0 && params.remote_num <= params.remote_den);
        let mut rng = SeedPath::root(seed).child("phold").rng();
        let initial: Vec<(u64, u32)> = initial_events(&mut rng, &params);
        let model = Phold {
            params,
            rng,
            received: vec![0; params.lps as usize],
            checksum: 0,
        };
        let mut sim = Simulation::new(model, seed);
        for (t, lp) in initial {
            sim.schedule_at(SimTime::from_nanos(t), PholdEvent { lp });
        }
        sim
    }
}

fn initial_events(rng: &mut SimRng, p: &PholdParams) -> Vec<(u64, u32)> {
    let mut v = Vec::with_capacity((p.lps * p.events_per_lp) as usize);
    for lp in 0..p.lps {
        for _ in 0..p.events_per_lp {
            v.push((rng.exp_ns(p.mean_ns as f64), lp));
        }
    }
    v
}

impl Model for Phold {
    type Event = PholdEvent;
    #[inline]
    fn handle(&mut self, ev: PholdEvent, ctx: &mut Ctx<'_, PholdEvent>) {
        let now = ctx.now().as_nanos();
        self.checksum = checksum_step(self.checksum, now, ev.lp);
        self.received[ev.lp as usize] += 1;
        let (delay, dest) = phold_next(&mut self.rng, &self.params, ev.lp);
        ctx.schedule_in(SimDuration::from_nanos(delay), PholdEvent { lp: dest });
    }
}

/// Run PHOLD on the engine until `until_ns`; returns (events, checksum, digest).
pub fn phold_engine(
    params: PholdParams,
    seed: u64,
    until_ns: u64,
) -> Result<(u64, u64, u64), EngineError> {
    let mut sim = Phold::simulation(params, seed);
    sim.run_until(SimTime::from_nanos(until_ns))?;
    Ok((
        sim.events_handled(),
        sim.model().checksum,
        sim.digest().value(),
    ))
}

/// The bare baseline: the same PHOLD trajectory as a hand-written loop over
/// `BinaryHeap<Reverse<(time_ns, seq, lp)>>`, with the same random draws.
/// Returns (events, checksum).
pub fn phold_bare(params: PholdParams, seed: u64, until_ns: u64) -> (u64, u64) {
    let mut rng = SeedPath::root(seed).child("phold").rng();
    let mut heap = BinaryHeap::with_capacity((params.lps * params.events_per_lp) as usize);
    let mut seq = 0u64;
    for (t, lp) in initial_events(&mut rng, &params) {
        heap.push(Reverse((t, seq, lp)));
        seq += 1;
    }
    let mut received = vec![0u64; params.lps as usize];
    let (mut events, mut checksum) = (0u64, 0u64);
    while let Some(&Reverse((t, _, lp))) = heap.peek() {
        if t > until_ns {
            break;
        }
        heap.pop();
        events += 1;
        checksum = checksum_step(checksum, t, lp);
        received[lp as usize] += 1;
        let (delay, dest) = phold_next(&mut rng, &params, lp);
        heap.push(Reverse((t + delay, seq, dest)));
        seq += 1;
    }
    std::hint::black_box(&received);
    (events, checksum)
}

/// Parameters of the watchdog farm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchdogParams {
    /// Number of watched components, each with one heartbeat and one deadline.
    pub components: u32,
    /// Mean heartbeat interval; each interval is drawn uniformly in ±10 %.
    pub heartbeat_interval_ns: u64,
    /// A component whose heartbeat is not seen for this long is declared dead.
    pub deadline_ns: u64,
    /// One component in `silent_every` stops heartbeating at `silence_at_ns`
    /// (0 = none), so some deadlines really fire.
    pub silent_every: u32,
    /// When the silent components stop.
    pub silence_at_ns: u64,
}

impl Default for WatchdogParams {
    fn default() -> Self {
        WatchdogParams {
            components: 10_000,
            heartbeat_interval_ns: 1_000_000_000,
            deadline_ns: 3_000_000_000,
            silent_every: 100,
            silence_at_ns: 30_000_000_000,
        }
    }
}

/// Events of the watchdog farm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchdogEvent {
    /// Component `0` sends a heartbeat.
    Heartbeat(u32),
    /// The deadline of component `0` passed without a heartbeat.
    Deadline(u32),
}

impl EventInfo for WatchdogEvent {
    fn kind(&self) -> u16 {
        match self {
            WatchdogEvent::Heartbeat(_) => 0,
            WatchdogEvent::Deadline(_) => 1,
        }
    }
    fn kind_name(&self) -> &'static str {
        match self {
            WatchdogEvent::Heartbeat(_) => "heartbeat",
            WatchdogEvent::Deadline(_) => "deadline",
        }
    }
    fn target(&self) -> u32 {
        match *self {
            WatchdogEvent::Heartbeat(c) | WatchdogEvent::Deadline(c) => c,
        }
    }
}

/// Heartbeats re-arm one movable deadline per component (the watchdog
/// pattern): every heartbeat moves the deadline, and only silent components
/// see it fire.
pub struct Watchdogs {
    params: WatchdogParams,
    rng: SimRng,
    deadline_keys: Vec<EventKey>,
    /// Deadlines that fired (components declared dead).
    pub expired: u64,
    /// Heartbeats handled.
    pub heartbeats: u64,
}

/// Draw the next heartbeat interval: uniform in [0.9, 1.1] x mean.
#[inline]
pub fn watchdog_interval(rng: &mut SimRng, mean_ns: u64) -> u64 {
    let spread = mean_ns / 5;
    mean_ns - mean_ns / 10 + rng.below(spread + 1)
}

impl Watchdogs {
    /// A watchdog-farm simulation with heartbeats and deadlines armed.
    pub fn simulation(params: WatchdogParams, seed: u64) -> Simulation<Watchdogs> {
        let rng = SeedPath::root(seed).child("watchdogs").rng();
        let model = Watchdogs {
            params,
            rng,
            deadline_keys: Vec::new(),
            expired: 0,
            heartbeats: 0,
        };
        let mut sim = Simulation::new(model, seed);
        sim.with_ctx(|m, ctx| {
            for c in 0..params.components {
                let first = watchdog_interval(&mut m.rng, params.heartbeat_interval_ns);
                ctx.schedule_in(SimDuration::from_nanos(first), WatchdogEvent::Heartbeat(c));
                let key = ctx.schedule_in(
                    SimDuration::from_nanos(params.deadline_ns),
                    WatchdogEvent::Deadline(c),
                );
                m.deadline_keys.push(key);
            }
        });
        sim
    }
}

impl Model for Watchdogs {
    type Event = WatchdogEvent;
    #[inline]
    fn handle(&mut self, ev: WatchdogEvent, ctx: &mut Ctx<'_, WatchdogEvent>) {
        match ev {
            WatchdogEvent::Heartbeat(c) => {
                let p = &self.params;
                if p.silent_every > 0
                    && c.is_multiple_of(p.silent_every)
                    && ctx.now().as_nanos() >= p.silence_at_ns
                {
                    return; // this component has gone silent
                }
                self.heartbeats += 1;
                let key = self.deadline_keys[c as usize];
                let deadline = SimDuration::from_nanos(p.deadline_ns);
                if !ctx.reschedule_in(key, deadline) {
                    // Declared dead earlier and now back: arm a fresh deadline.
                    self.deadline_keys[c as usize] =
                        ctx.schedule_in(deadline, WatchdogEvent::Deadline(c));
                }
                let next = watchdog_interval(&mut self.rng, p.heartbeat_interval_ns);
                ctx.schedule_in(SimDuration::from_nanos(next), WatchdogEvent::Heartbeat(c));
            }
            WatchdogEvent::Deadline(_) => self.expired += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_and_bare_loop_follow_the_same_phold_trajectory() {
        let p = PholdParams {
            lps: 100,
            ..PholdParams::default()
        };
        let until = 50_000_000_000;
        let (events, checksum, _) = phold_engine(p, 7, until).unwrap();
        let (bare_events, bare_checksum) = phold_bare(p, 7, until);
        assert!(events > 10_000);
        assert_eq!(events, bare_events);
        assert_eq!(checksum, bare_checksum);
    }

    #[test]
    fn phold_pending_population_is_constant() {
        let p = PholdParams {
            lps: 50,
            events_per_lp: 4,
            ..PholdParams::default()
        };
        let mut sim = Phold::simulation(p, 1);
        for _ in 0..10 {
            sim.run_for(SimDuration::from_secs(10)).unwrap();
            assert_eq!(sim.events_pending(), 200);
        }
    }

    #[test]
    fn only_silent_components_expire() {
        let p = WatchdogParams {
            components: 1_000,
            ..WatchdogParams::default()
        };
        let mut sim = Watchdogs::simulation(p, 3);
        sim.run_until(SimTime::from_nanos(p.silence_at_ns)).unwrap();
        assert_eq!(
            sim.model().expired,
            0,
            "no deadline fires while heartbeats flow"
        );
        sim.run_until(SimTime::from_nanos(
            p.silence_at_ns + p.deadline_ns + 2 * p.heartbeat_interval_ns,
        ))
        .unwrap();
        assert_eq!(
            sim.model().expired,
            10,
            "the 10 silent components expire, once each"
        );
    }
}
