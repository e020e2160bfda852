//! Layer-2 benchmarks: each orchestration scenario of MISSION.md section 2
//! simulated end to end (boot, 60 s warm-up, fault, observation), all Layer-2
//! safeguards deployed. The trigger storm is the speed target: 5,000 events/s
//! for 300 s (1.5 M logical events, 12 M deliveries) in under 0.3 s.
//!
//! The mesh and policy engine are fluid models advanced every 10 ms (one
//! `Tick` event carries that tick's counts), so the storm costs 100 engine
//! events per simulated second whatever its rate.
//!
//! Run: `cargo bench --bench layer2`.

use std::hint::black_box;
use std::time::Duration;

use chaosim::engine::{SeedPath, SimDuration, SimTime, Simulation};
use chaosim::model::Solo;
use chaosim::model::layer2::{Layer2, Layer2Fault, Layer2Spec};
use chaosim::safeguard::SafeguardSet;
use criterion::{Criterion, criterion_group, criterion_main};

/// Boot, warm up 60 s, inject, run `after_s`; returns (events, digest).
fn run(fault: Layer2Fault, after_s: u64, seed: u64) -> (u64, u64) {
    let spec = Layer2Spec::default();
    let l2 = Layer2::new(
        &spec,
        SafeguardSet::all(),
        SeedPath::root(seed).child("layer2"),
        SimTime::ZERO,
    );
    let mut sim = Simulation::starting_at(Solo(l2), SeedPath::root(seed), SimTime::ZERO);
    sim.with_ctx(|m, ctx| m.0.boot(ctx));
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(60))
        .unwrap();
    sim.with_ctx(|m, ctx| m.0.inject(&fault, ctx));
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(60 + after_s))
        .unwrap();
    (sim.events_handled(), sim.digest().value())
}

fn scenarios() -> Vec<(&'static str, Layer2Fault, u64)> {
    vec![
        (
            "trigger_storm_5000_per_s_300s",
            Layer2Fault::TriggerStorm {
                events_per_s: 5_000,
                length_ns: 300_000_000_000,
            },
            300,
        ),
        (
            "queue_flood_10000_half_invalid",
            Layer2Fault::QueueFlood {
                intents: 10_000,
                invalid_permille: 500,
                over_ns: 10_000_000_000,
            },
            300,
        ),
        (
            "scheduler_pause_1000_queued",
            Layer2Fault::PauseScheduler {
                length_ns: None,
                queued_tasks: 1_000,
            },
            300,
        ),
        (
            "policy_cascade_depth_10",
            Layer2Fault::PolicyCascade { depth: 10 },
            300,
        ),
        (
            "worker_dropout_50_percent",
            Layer2Fault::WorkerDropout {
                share_permille: 500,
            },
            300,
        ),
    ]
}

fn layer2(c: &mut Criterion) {
    let mut g = c.benchmark_group("layer2_scenarios");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    for (name, fault, after) in scenarios() {
        let (events, _) = run(fault, after, 42);
        eprintln!(
            "{name}: {events} engine events for {} simulated s",
            60 + after
        );
        g.bench_function(name, |b| b.iter(|| run(fault, after, black_box(42))));
    }
    g.finish();
}

criterion_group!(benches, layer2);
criterion_main!(benches);
