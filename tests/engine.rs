//! The engine's contract, as properties and claims.

use std::collections::BTreeMap;

use chaosim::demo::{Phold, PholdParams, WatchdogParams, Watchdogs};
use chaosim::engine::{
    Ctx, EngineError, EventInfo, EventKey, EventQueue, Model, RngDraws, RunStatus, SeedPath,
    SimDuration, SimTime, Simulation,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Schedule at `now + delay` (delays drawn small so ties are common).
    Push(u64),
    /// Cancel the n-th key handed out (mod the number handed out).
    Cancel(usize),
    /// Move the n-th key to `now + delay`.
    Reschedule(usize, u64),
    /// Pop one event.
    Pop,
    /// Peek at the next time (may move the radix base ahead of `now`).
    Peek,
}

fn op() -> impl Strategy<Value = Op> {
    let delay = prop_oneof![
        Just(0u64),
        0u64..4,
        0u64..1_000,
        0u64..(1u64 << 40),
        Just(u32::MAX as u64 * 3)
    ];
    prop_oneof![
        4 => delay.clone().prop_map(Op::Push),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), delay).prop_map(|(i, d)| Op::Reschedule(i, d)),
        4 => Just(Op::Pop),
        2 => Just(Op::Peek),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Against a reference ordered map keyed by (time, seq): every pop yields
    /// the reference minimum, cancelled events never fire, equal times fire
    /// in schedule order.
    #[test]
    fn queue_pops_in_time_then_schedule_order(ops in prop::collection::vec(op(), 1..400)) {
        let mut q: EventQueue<u32> = EventQueue::new();
        let mut reference: BTreeMap<(u64, u64), u32> = BTreeMap::new();
        let mut where_is: Vec<Option<(u64, u64)>> = Vec::new();
        let mut keys: Vec<EventKey> = Vec::new();
        let mut seq = 0u64;
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Push(d) => {
                    let id = keys.len() as u32;
                    keys.push(q.push(SimTime::from_nanos(now + d), id));
                    reference.insert((now + d, seq), id);
                    where_is.push(Some((now + d, seq)));
                    seq += 1;
                }
                Op::Cancel(i) if !keys.is_empty() => {
                    let i = i % keys.len();
                    let got = q.cancel(keys[i]);
                    match where_is[i].take() {
                        Some(pos) => { prop_assert_eq!(got, Some(i as u32)); reference.remove(&pos); }
                        None => prop_assert_eq!(got, None),
                    }
                }
                Op::Reschedule(i, d) if !keys.is_empty() => {
                    let i = i % keys.len();
                    let moved = q.reschedule(keys[i], SimTime::from_nanos(now + d));
                    match where_is[i] {
                        Some(pos) => {
                            prop_assert!(moved);
                            reference.remove(&pos);
                            reference.insert((now + d, seq), i as u32);
                            where_is[i] = Some((now + d, seq));
                            seq += 1;
                        }
                        None => prop_assert!(!moved),
                    }
                }
                Op::Peek => {
                    let expected = reference.first_key_value().map(|((t, _), _)| *t);
                    prop_assert_eq!(q.peek_time().map(|t| t.as_nanos()), expected);
                }
                Op::Pop => {
                    let expected = reference.pop_first();
                    let got = q.pop();
                    prop_assert_eq!(got.map(|(t, id)| (t.as_nanos(), id)), expected.map(|((t, _), id)| (t, id)));
                    if let Some(((t, _), id)) = expected {
                        now = t;
                        where_is[id as usize] = None;
                    }
                }
                _ => {}
            }
            prop_assert_eq!(q.len(), reference.len());
        }
        // Drain: the rest comes out in order too.
        while let Some(((t, _), id)) = reference.pop_first() {
            prop_assert_eq!(q.pop().map(|(t, id)| (t.as_nanos(), id)), Some((t, id)));
        }
        prop_assert!(q.pop().is_none());
    }
}

#[test]
fn same_seed_gives_same_digest_and_event_count() {
    let p = PholdParams {
        lps: 200,
        ..PholdParams::default()
    };
    let run = |seed| {
        let mut sim = Phold::simulation(p, seed);
        sim.run_until(SimTime::ZERO + SimDuration::from_secs(100))
            .unwrap();
        (sim.digest(), sim.events_handled())
    };
    let (d1, n1) = run(42);
    let (d2, n2) = run(42);
    assert_eq!((d1, n1), (d2, n2));
    let (d3, _) = run(43);
    assert_ne!(d1, d3, "another seed must give another digest");
}

#[test]
fn watchdog_farm_is_deterministic_too() {
    let p = WatchdogParams {
        components: 500,
        ..WatchdogParams::default()
    };
    let run = |seed| {
        let mut sim = Watchdogs::simulation(p, seed);
        sim.run_until(SimTime::ZERO + SimDuration::from_secs(60))
            .unwrap();
        (sim.digest(), sim.events_handled(), sim.model().expired)
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9).0, run(10).0);
}

#[test]
fn a_new_stream_leaves_existing_streams_unchanged() {
    struct Nop;
    #[derive(Debug)]
    struct E;
    impl EventInfo for E {
        fn kind(&self) -> u16 {
            0
        }
        fn kind_name(&self) -> &'static str {
            "e"
        }
    }
    impl Model for Nop {
        type Event = E;
        fn handle(&mut self, _: E, _: &mut Ctx<'_, E>) {}
    }
    let draws = |extra_first: bool| {
        let mut sim = Simulation::new(Nop, 5);
        if extra_first {
            let extra = sim.add_stream("new_component");
            sim.with_ctx(|_, ctx| ctx.rng(extra).draw_u64());
        }
        let bus = sim.add_stream("bus");
        sim.with_ctx(|_, ctx| (0..8).map(|_| ctx.rng(bus).draw_u64()).collect::<Vec<_>>())
    };
    assert_eq!(draws(false), draws(true));
    // And a path-derived stream is the same whoever asks for it.
    let a: Vec<u64> = {
        let mut r = SeedPath::root(5).child("bus").rng();
        (0..8).map(|_| r.draw_u64()).collect()
    };
    assert_eq!(a, draws(false));
}

/// A model that reschedules itself at the same instant forever.
struct Zeno;
#[derive(Debug)]
struct Tick;
impl EventInfo for Tick {
    fn kind(&self) -> u16 {
        0
    }
    fn kind_name(&self) -> &'static str {
        "tick"
    }
}
impl Model for Zeno {
    type Event = Tick;
    fn handle(&mut self, _: Tick, ctx: &mut Ctx<'_, Tick>) {
        ctx.schedule_in(SimDuration::ZERO, Tick);
    }
}

#[test]
fn a_zero_delay_loop_is_an_error_not_a_hang() {
    let mut sim = Simulation::new(Zeno, 1).with_events_per_instant_max(10_000);
    sim.schedule_at(SimTime::ZERO, Tick);
    let err = sim
        .run_until(SimTime::ZERO + SimDuration::from_secs(1))
        .unwrap_err();
    assert!(
        matches!(err, EngineError::TimeStalled { events: 10_001, .. }),
        "{err:?}"
    );
}

#[test]
fn the_event_limit_stops_a_runaway_model() {
    let mut sim = Simulation::new(Zeno, 1).with_events_max(500);
    sim.schedule_at(SimTime::ZERO, Tick);
    let err = sim.run().unwrap_err();
    assert_eq!(
        err,
        EngineError::EventLimit {
            events_max: 500,
            now: SimTime::ZERO
        }
    );
}

/// A model that stops the run at its third event.
struct StopAtThree(u32);
impl Model for StopAtThree {
    type Event = Tick;
    fn handle(&mut self, _: Tick, ctx: &mut Ctx<'_, Tick>) {
        self.0 += 1;
        if self.0 == 3 {
            ctx.stop();
        }
        ctx.schedule_in(SimDuration::from_secs(1), Tick);
    }
}

#[test]
fn run_until_reaches_its_time_or_stops_where_the_model_asks() {
    let mut sim = Simulation::new(StopAtThree(0), 1);
    sim.schedule_at(SimTime::ZERO, Tick);
    let status = sim
        .run_until(SimTime::ZERO + SimDuration::from_secs(100))
        .unwrap();
    assert_eq!(status, RunStatus::Stopped);
    assert_eq!(sim.now(), SimTime::ZERO + SimDuration::from_secs(2));
    let status = sim
        .run_until(SimTime::ZERO + SimDuration::from_millis(5_500))
        .unwrap();
    assert_eq!(status, RunStatus::Reached);
    assert_eq!(
        sim.now(),
        SimTime::ZERO + SimDuration::from_millis(5_500),
        "the clock reads the target"
    );
    assert_eq!(sim.events_handled(), 6);
}

#[test]
fn try_schedule_reports_overflow() {
    let mut sim = Simulation::starting_at(Zeno, SeedPath::root(1), SimTime::from_nanos(10));
    let err = sim
        .with_ctx(|_, ctx| ctx.try_schedule_in(SimDuration::MAX, Tick))
        .unwrap_err();
    assert!(matches!(err, EngineError::TimeOverflow { .. }));
}

#[test]
fn phold_memory_is_bounded_by_pending_events_not_handled_ones() {
    let p = PholdParams {
        lps: 100,
        events_per_lp: 10,
        ..PholdParams::default()
    };
    let mut sim = Phold::simulation(p, 3);
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(10))
        .unwrap();
    let early = sim.events_handled();
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(1_000))
        .unwrap();
    assert!(sim.events_handled() > 50 * early);
    assert_eq!(sim.events_pending(), 1_000);
}

#[test]
fn a_driver_can_schedule_at_now_after_run_until_peeked_further() {
    let mut sim = Simulation::new(StopAtThree(0), 1);
    sim.schedule_at(SimTime::ZERO + SimDuration::from_secs(10), Tick);
    // run_until peeks at the event at 10 s and stops at 1 s.
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(1))
        .unwrap();
    // Scheduling at now (1 s) and between now and 10 s must work, and order holds.
    sim.with_ctx(|_, ctx| ctx.schedule_in(SimDuration::ZERO, Tick));
    sim.schedule_at(SimTime::ZERO + SimDuration::from_secs(5), Tick);
    assert_eq!(
        sim.step().unwrap(),
        Some(SimTime::ZERO + SimDuration::from_secs(1))
    );
    assert_eq!(
        sim.step().unwrap(),
        Some(SimTime::ZERO + SimDuration::from_secs(2))
    );
    assert_eq!(
        sim.step().unwrap(),
        Some(SimTime::ZERO + SimDuration::from_secs(3))
    );
}
