//! Engine benchmarks: PHOLD at 10k, 100k and 1M pending events and a
//! timer-heavy watchdog farm, each against hand-written baselines on the same
//! trajectory (same random draws, checked and printed before timing); a
//! cancel/reschedule mix straight on the event queue; and swarm rows and a
//! shrink of the scenario runner.
//!
//! Run: `cargo bench --bench engine`. Throughput is reported in events/s.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

use chaosim::demo::{self, PholdParams, WatchdogParams, Watchdogs};
use chaosim::engine::{EventKey, EventQueue, RngDraws, SeedPath, SimDuration, SimRng, SimTime};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use priority_queue::PriorityQueue;

const SEED: u64 = 42;
const PHOLD_UNTIL_NS: u64 = 100_000_000_000; // 100 simulated seconds: ~0.9 M events
const TIMERS_UNTIL_NS: u64 = 60_000_000_000; // 60 s of 10,000 heartbeats/s: ~0.6 M events

/// The PHOLD sizes compared side by side: (label, LPs, events per LP,
/// simulated ns). The pending population is LPs x events per LP.
const PHOLD_SIZES: [(&str, u32, u32, u64); 3] = [
    ("10k", 1_000, 10, PHOLD_UNTIL_NS), // the classic N = 1000, E = 10
    ("100k", 10_000, 10, 10_000_000_000), // ~0.9 M events
    ("1M", 10_000, 100, 1_000_000_000), // ~0.9 M events
];

/// PHOLD on the engine against the bare `BinaryHeap` loop on the same draws,
/// at 10k, 100k and 1M pending events, in one group. Before timing, both
/// runs are checked (and printed) to follow the same trajectory: a queue
/// that pops in another order cannot look fast here.
fn phold(c: &mut Criterion) {
    let mut g = c.benchmark_group("phold_engine_vs_bare");
    for &(label, lps, per_lp, until_ns) in &PHOLD_SIZES {
        let p = PholdParams {
            lps,
            events_per_lp: per_lp,
            ..PholdParams::default()
        };
        let (events, sum, digest) = demo::phold_engine(p, SEED, until_ns).unwrap();
        let (bare_events, bare_sum) = demo::phold_bare(p, SEED, until_ns);
        println!(
            "phold {label} pending: engine {events} events, checksum {sum:016x}, digest {digest:016x}; \
             bare loop {bare_events} events, checksum {bare_sum:016x}"
        );
        assert_eq!((events, sum), (bare_events, bare_sum), "same trajectory");
        g.throughput(Throughput::Elements(events));
        if label == "10k" {
            g.sample_size(20).measurement_time(Duration::from_secs(8));
        } else {
            g.sample_size(10).measurement_time(Duration::from_secs(6));
        }
        g.bench_function(BenchmarkId::new("engine", label), |b| {
            b.iter(|| demo::phold_engine(p, black_box(SEED), until_ns))
        });
        g.bench_function(BenchmarkId::new("bare_binary_heap_loop", label), |b| {
            b.iter(|| demo::phold_bare(p, black_box(SEED), until_ns))
        });
    }
    g.finish();
}

fn timers_engine(p: WatchdogParams) -> (u64, u64) {
    let mut sim = Watchdogs::simulation(p, SEED);
    sim.run_until(SimTime::from_nanos(TIMERS_UNTIL_NS)).unwrap();
    (sim.model().heartbeats, sim.model().expired)
}

fn silent(p: &WatchdogParams, c: u32, t: u64) -> bool {
    p.silent_every > 0 && c.is_multiple_of(p.silent_every) && t >= p.silence_at_ns
}

/// (time, seq, is_deadline, component, generation)
type LazyEntry = (u64, u64, bool, u32, u32);

/// Baseline 1: one BinaryHeap, deadlines cancelled lazily by a generation
/// counter per component (a re-arm pushes a new entry; stale ones are skipped).
fn timers_lazy_binary_heap(p: WatchdogParams) -> (u64, u64) {
    let mut rng = SeedPath::root(SEED).child("watchdogs").rng();
    let mut heap: BinaryHeap<Reverse<LazyEntry>> = BinaryHeap::new();
    let mut generation = vec![0u32; p.components as usize];
    let mut seq = 0u64;
    for c in 0..p.components {
        let first = demo::watchdog_interval(&mut rng, p.heartbeat_interval_ns);
        heap.push(Reverse((first, seq, false, c, 0)));
        heap.push(Reverse((p.deadline_ns, seq + 1, true, c, 0)));
        seq += 2;
    }
    let (mut beats, mut expired) = (0u64, 0u64);
    while let Some(Reverse((t, _, is_deadline, c, g))) = heap.pop() {
        if t > TIMERS_UNTIL_NS {
            break;
        }
        if is_deadline {
            if g == generation[c as usize] {
                expired += 1;
                generation[c as usize] = g.wrapping_add(1);
            }
            continue;
        }
        if silent(&p, c, t) {
            continue;
        }
        beats += 1;
        let gen_c = &mut generation[c as usize];
        *gen_c = gen_c.wrapping_add(1);
        heap.push(Reverse((t + p.deadline_ns, seq, true, c, *gen_c)));
        let next = demo::watchdog_interval(&mut rng, p.heartbeat_interval_ns);
        heap.push(Reverse((t + next, seq + 1, false, c, 0)));
        seq += 2;
    }
    (beats, expired)
}

/// Baseline 2: heartbeats in a BinaryHeap, deadlines as keyed timers in the
/// `priority-queue` crate (`change_priority` on every re-arm).
fn timers_priority_queue(p: WatchdogParams) -> (u64, u64) {
    let mut rng = SeedPath::root(SEED).child("watchdogs").rng();
    let mut beats_q: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::new();
    let mut deadlines: PriorityQueue<u32, Reverse<(u64, u64)>> = PriorityQueue::new();
    let mut seq = 0u64;
    for c in 0..p.components {
        let first = demo::watchdog_interval(&mut rng, p.heartbeat_interval_ns);
        beats_q.push(Reverse((first, seq, c)));
        deadlines.push(c, Reverse((p.deadline_ns, seq + 1)));
        seq += 2;
    }
    let (mut beats, mut expired) = (0u64, 0u64);
    loop {
        let next_beat = beats_q.peek().map(|r| (r.0.0, r.0.1));
        let next_deadline = deadlines.peek().map(|(_, r)| r.0);
        let take_deadline = match (next_beat, next_deadline) {
            (None, None) => break,
            (Some(b), Some(d)) => d < b,
            (None, Some(_)) => true,
            (Some(_), None) => false,
        };
        if take_deadline {
            let (_, Reverse((t, _))) = deadlines.pop().unwrap();
            if t > TIMERS_UNTIL_NS {
                break;
            }
            expired += 1;
            continue;
        }
        let Reverse((t, _, c)) = beats_q.pop().unwrap();
        if t > TIMERS_UNTIL_NS {
            break;
        }
        if silent(&p, c, t) {
            continue;
        }
        beats += 1;
        let prio = Reverse((t + p.deadline_ns, seq));
        if deadlines.change_priority(&c, prio).is_none() {
            deadlines.push(c, prio);
        }
        let next = demo::watchdog_interval(&mut rng, p.heartbeat_interval_ns);
        beats_q.push(Reverse((t + next, seq + 1, c)));
        seq += 2;
    }
    (beats, expired)
}

fn timers(c: &mut Criterion) {
    let p = WatchdogParams::default();
    let reference = timers_engine(p);
    let lazy = timers_lazy_binary_heap(p);
    let keyed = timers_priority_queue(p);
    println!(
        "watchdog timers: (heartbeats, expired) engine {reference:?}, lazy BinaryHeap {lazy:?}, \
         priority-queue {keyed:?}"
    );
    assert_eq!(lazy, reference, "same trajectory");
    assert_eq!(keyed, reference, "same trajectory");
    // Handled events: heartbeats (silent ones included) plus expired deadlines.
    let mut sim = Watchdogs::simulation(p, SEED);
    sim.run_until(SimTime::from_nanos(TIMERS_UNTIL_NS)).unwrap();
    let mut g = c.benchmark_group("watchdog_timers_10k");
    g.throughput(Throughput::Elements(sim.events_handled()));
    g.sample_size(20).measurement_time(Duration::from_secs(6));
    g.bench_function("engine_reschedule", |b| {
        b.iter(|| timers_engine(black_box(p)))
    });
    g.bench_function("lazy_binary_heap", |b| {
        b.iter(|| timers_lazy_binary_heap(black_box(p)))
    });
    g.bench_function("priority_queue_crate", |b| {
        b.iter(|| timers_priority_queue(black_box(p)))
    });
    g.finish();
}

const CHURN_TIMERS: usize = 10_000;
const CHURN_STEPS: u64 = 500_000;

/// Cancellation and rescheduling straight on the queue: 10,000 keyed timers
/// at whole milliseconds (so ties are common). Each step pops the next timer
/// and re-arms it, moves another timer (`reschedule`) and replaces a third
/// (`cancel` then `push`): one pop, two pushes, one reschedule and one
/// cancel. Every timer is always pending, so every key operation must
/// succeed. Returns (steps, checksum over the popped (time, timer)).
fn queue_churn(steps: u64) -> (u64, u64) {
    let mut rng = SeedPath::root(SEED).child("churn").rng();
    let mut q: EventQueue<u32> = EventQueue::new();
    let mut keys: Vec<EventKey> = (0..CHURN_TIMERS as u32)
        .map(|id| {
            q.push(
                SimTime::ZERO + SimDuration::from_millis(rng.below(1_000)),
                id,
            )
        })
        .collect();
    let mut sum = 0u64;
    for _ in 0..steps {
        let (now, id) = q.pop().expect("timers never run out");
        sum = sum.rotate_left(5) ^ now.as_nanos() ^ u64::from(id);
        let later = |rng: &mut SimRng| now + SimDuration::from_millis(rng.below(1_000));
        keys[id as usize] = q.push(later(&mut rng), id);
        let moved = rng.below(CHURN_TIMERS as u64) as usize;
        assert!(
            q.reschedule(keys[moved], later(&mut rng)),
            "every timer is pending"
        );
        let replaced = rng.below(CHURN_TIMERS as u64) as usize;
        let timer = q.cancel(keys[replaced]).expect("every timer is pending");
        keys[replaced] = q.push(later(&mut rng), timer);
    }
    assert_eq!(q.len(), CHURN_TIMERS);
    (steps, sum)
}

fn churn(c: &mut Criterion) {
    let (steps, sum) = queue_churn(CHURN_STEPS);
    println!("queue churn: {steps} steps, checksum {sum:016x}");
    let mut g = c.benchmark_group("queue_cancel_reschedule_10k");
    g.throughput(Throughput::Elements(steps));
    g.sample_size(20).measurement_time(Duration::from_secs(6));
    g.bench_function("engine_queue", |b| {
        b.iter(|| queue_churn(black_box(CHURN_STEPS)))
    });
    g.finish();
}

/// Swarm rows (draw a fault mix from the seed, run it) of MF01, and one
/// shrink of a failing MF01 swarm case (seed 1: 3 faults -> 1).
fn swarm(c: &mut Criterion) {
    use chaosim::model::stack::StackSpec;
    use chaosim::scenario::Catalogue;
    use chaosim::scenario::shrink::{STEPS_MAX_DEFAULT, default_start, run_alone, shrink_case};
    use chaosim::sweep::swarm::draw;
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    let base = cat.require("MF01_triple_threat").unwrap();
    let deployed = stack.default_safeguards();
    let mut g = c.benchmark_group("swarm_mf01");
    g.throughput(Throughput::Elements(100));
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    g.bench_function("100_rows", |b| {
        b.iter(|| {
            for seed in 0..100 {
                let d = draw(base, seed);
                black_box(run_alone(&stack, &d, seed, 1, deployed, default_start()).unwrap());
            }
        })
    });
    g.finish();
    let mut g = c.benchmark_group("shrink_mf01");
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    let case = draw(base, 1);
    g.bench_function("seed_1", |b| {
        b.iter(|| {
            shrink_case(
                &stack,
                &case,
                1,
                1,
                deployed,
                default_start(),
                STEPS_MAX_DEFAULT,
                None,
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, phold, timers, churn, swarm);
criterion_main!(benches);
