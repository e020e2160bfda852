//! Cluster benchmarks: one Jepsen-family scenario run (30 s of chaos + 10 s
//! settle, 5 nodes, 5 clients) per catalogue shape, safeguards off and on.
//!
//! Run: `cargo bench --bench cluster`. Throughput is reported in events/s.

use std::hint::black_box;
use std::time::Duration;

use chaosim::engine::{SeedPath, SimDuration};
use chaosim::model::cluster::{ClusterSpec, JEPSEN_SCENARIOS, catalogue_shape};
use cluster_driver::run_schedule;

#[path = "../tests/support/cluster_driver.rs"]
#[allow(dead_code)]
mod cluster_driver;
use chaosim::safeguard::{Safeguard, SafeguardSet};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SEED: u64 = 42;

fn consistency_set() -> SafeguardSet {
    SafeguardSet::EMPTY
        .with(Safeguard::QuorumAck)
        .with(Safeguard::FencingTokens)
        .with(Safeguard::LeaseSkewBound)
        .with(Safeguard::CompareAndSet)
        .with(Safeguard::SnapshotHygieneManager)
}

fn run(id: &str, deployed: SafeguardSet, seed: u64) -> u64 {
    let root = SeedPath::root(seed).child(id);
    let schedule = catalogue_shape(id)
        .expect("catalogue id")
        .schedule(root.child("nemesis"));
    let spec = ClusterSpec::default();
    let r = run_schedule(
        &spec,
        deployed,
        root,
        &schedule,
        SimDuration::from_secs(10),
        None,
    )
    .expect("run");
    black_box(r.report.anomalies());
    r.events
}

fn scenarios(c: &mut Criterion) {
    for id in JEPSEN_SCENARIOS {
        for (label, deployed) in [("off", SafeguardSet::EMPTY), ("on", consistency_set())] {
            let events = run(id, deployed, SEED);
            let mut g = c.benchmark_group(format!("cluster_{id}"));
            g.throughput(Throughput::Elements(events));
            g.sample_size(20).measurement_time(Duration::from_secs(3));
            g.bench_function(label, |b| b.iter(|| run(id, deployed, black_box(SEED))));
            g.finish();
        }
    }
}

criterion_group!(benches, scenarios);
criterion_main!(benches);
