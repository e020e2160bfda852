//! Sweep benchmarks: one experiment (a small simulation of the API agent),
//! the streaming sketch, and a whole sweep on 1 and 2 worker threads
//! (written to a temporary directory; the bytes are identical).
//!
//! Run: `cargo bench --bench sweep`. Throughput is in experiments (or
//! values) per second.

use std::hint::black_box;
use std::time::Duration;

use chaosim::record::stats::LogSketch;
use chaosim::sweep::agent::{ApiModel, Variant};
use chaosim::sweep::runner::{Shard, SweepOptions, SweepSpec, run_cell_range, run_sweep};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const EXPERIMENTS: u64 = 2_000;

fn experiments(c: &mut Criterion) {
    let model = ApiModel::default();
    let mut g = c.benchmark_group("experiments_rate_0_3");
    g.throughput(Throughput::Elements(EXPERIMENTS));
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    for v in Variant::ALL {
        g.bench_function(v.name(), |b| {
            b.iter(|| {
                let (agg, events) =
                    run_cell_range(&model, 42, (6, 300_000, v), 0..EXPERIMENTS, None).unwrap();
                black_box((agg.successes, events))
            })
        });
    }
    g.finish();
}

fn sketch(c: &mut Criterion) {
    let values: Vec<u64> = (0..10_000u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 30)
        .collect();
    let mut g = c.benchmark_group("log_sketch");
    g.throughput(Throughput::Elements(values.len() as u64));
    g.bench_function("push_10k", |b| {
        let mut s = LogSketch::new();
        b.iter(|| {
            for &v in &values {
                s.push(v);
            }
            black_box(s.count())
        })
    });
    g.finish();
}

fn sweep_threads(c: &mut Criterion) {
    let model = ApiModel::default();
    let spec = SweepSpec {
        seed: 42,
        n: 20_000,
        rates_ppm: vec![300_000],
        variants: Variant::ALL.to_vec(),
    };
    let dir = std::env::temp_dir().join(format!("chaosim-bench-sweep-{}", std::process::id()));
    let mut g = c.benchmark_group("sweep_40k_experiments");
    g.throughput(Throughput::Elements(2 * spec.n));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for threads in [1usize, 2] {
        g.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| {
                let opts = SweepOptions {
                    threads,
                    shard: Shard::WHOLE,
                    out: dir.clone(),
                    force: true,
                    progress: Default::default(),
                };
                black_box(run_sweep(&model, &spec, &opts, &mut |_| {}).unwrap().events)
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, experiments, sketch, sweep_threads);
criterion_main!(benches);
