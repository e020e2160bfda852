//! Layer-1 scenario benchmarks: one execution = boot + settle + fault +
//! observation, as a scenario run would do it (no probe sampling).
//!
//! Run: `cargo bench --bench layer1`. Prints events handled per scenario;
//! criterion reports wall time per execution.

use std::hint::black_box;
use std::time::Duration;

use chaosim::engine::{SeedPath, SimDuration, SimTime, Simulation};
use chaosim::model::Solo;
use chaosim::model::layer1::{Layer1, Layer1Fault, Layer1Spec};
use chaosim::safeguard::{Safeguard, SafeguardSet};
use criterion::{Criterion, criterion_group, criterion_main};

fn execution(
    spec: &Layer1Spec,
    deployed: SafeguardSet,
    fault: Layer1Fault,
    observe_s: u64,
    seed: u64,
) -> u64 {
    let start = SimTime::from_day_time(0, 12, 0, 0).unwrap();
    let path = SeedPath::root(seed);
    let mut sim =
        Simulation::starting_at(Solo(Layer1::new(spec, deployed, path, start)), path, start);
    sim.with_ctx(|m, ctx| m.0.boot(ctx));
    // Step onto an event at t = 10 s before injecting: after `run_until`,
    // the queue may already sit at the next event (see tests/layer1.rs).
    let settle = start + SimDuration::from_secs(10);
    while let Some(at) = sim.step().unwrap() {
        if at >= settle {
            break;
        }
    }
    sim.with_ctx(|m, ctx| m.0.inject(&fault, ctx));
    sim.run_for(SimDuration::from_secs(observe_s)).unwrap();
    sim.events_handled()
}

fn scenarios(c: &mut Criterion) {
    let spec = Layer1Spec::default();
    let base = spec.default_safeguards;
    let cases: [(&str, SafeguardSet, Layer1Fault, u64); 5] = [
        (
            "s02_acl_flood_default",
            base,
            Layer1Fault::AclFlood {
                publisher: 3,
                rate_per_s: 20_000,
                length_ns: 90_000_000_000,
            },
            120,
        ),
        (
            "s02_acl_flood_with_monitor",
            base.with(Safeguard::AclViolationMonitor),
            Layer1Fault::AclFlood {
                publisher: 3,
                rate_per_s: 20_000,
                length_ns: 90_000_000_000,
            },
            120,
        ),
        (
            "s03_cpu_spike_default",
            base,
            Layer1Fault::CpuSpike {
                kernel: 11,
                share_permille: 4000,
                length_ns: 45_000_000_000,
            },
            60,
        ),
        (
            "s01_heartbeat_pause",
            base,
            Layer1Fault::PauseHeartbeat {
                kernel: 3,
                length_ns: 5_000_000_000,
            },
            60,
        ),
        (
            "dirt01_critical_kill",
            base,
            Layer1Fault::KillKernel { kernel: 18 },
            60,
        ),
    ];
    let mut g = c.benchmark_group("layer1_execution");
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    for (name, set, fault, observe_s) in cases {
        let events = execution(&spec, set, fault, observe_s, 42);
        eprintln!(
            "{name}: {events} events per execution ({} s simulated)",
            10 + observe_s
        );
        g.bench_function(name, |b| {
            b.iter(|| execution(&spec, set, fault, observe_s, black_box(42)))
        });
    }
    g.finish();
}

criterion_group!(benches, scenarios);
criterion_main!(benches);
