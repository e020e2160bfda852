//! Behaviour of the replicated-log cluster under the nemesis, with the
//! consistency safeguards off and on, through the public API.

use chaosim::check::consistency::{AnomalyKind, Validity};
use chaosim::engine::{SeedPath, SimDuration};
use chaosim::model::cluster::{
    ClockFault, ClusterFault, ClusterRun, ClusterSpec, NemesisSchedule, NemesisStep,
    PRIMARY, PartitionShape, run_schedule,
};
use chaosim::safeguard::{Safeguard, SafeguardSet};

const S: u64 = 1_000_000_000;

fn consistency_set() -> SafeguardSet {
    SafeguardSet::EMPTY
        .with(Safeguard::QuorumAck)
        .with(Safeguard::FencingTokens)
        .with(Safeguard::LeaseSkewBound)
        .with(Safeguard::CompareAndSet)
        .with(Safeguard::SnapshotHygieneManager)
}

/// The four catalogue shapes: (id, fault kinds, interval, chaos length).
fn shape(id: &str) -> (Vec<ClusterFault>, SimDuration, SimDuration) {
    use ClusterFault::*;
    let part = |shape| Partition {
        shape,
        length_ns: 5 * S,
    };
    let clock = |fault| Clock {
        node: Some(PRIMARY),
        fault,
    };
    match id {
        "JEP01_log_partition" => (
            vec![
                part(PartitionShape::RandomHalves),
                part(PartitionShape::IsolateOne),
                part(PartitionShape::Bridge),
                part(PartitionShape::MajoritiesRing),
                part(PartitionShape::Bisect),
            ],
            SimDuration::from_secs(5),
            SimDuration::from_secs(30),
        ),
        "JEP02_clock_skew" => (
            vec![
                clock(ClockFault::Bump {
                    delta_ns: -2_000_000_000,
                }),
                clock(ClockFault::Bump {
                    delta_ns: 2_000_000_000,
                }),
                clock(ClockFault::Strobe {
                    delta_ns: 500_000_000,
                    period_ns: 100_000_000,
                    length_ns: 5 * S,
                }),
                clock(ClockFault::Scramble { max_ns: S }),
                part(PartitionShape::IsolatePrimary),
                part(PartitionShape::RandomHalves),
            ],
            SimDuration::from_secs(4),
            SimDuration::from_secs(30),
        ),
        "JEP03_snapshot_rollback" => (
            vec![
                SnapshotRollback { node: None },
                KillNode {
                    node: None,
                    length_ns: 3 * S,
                },
                Partition {
                    shape: PartitionShape::IsolateOne,
                    length_ns: 3 * S,
                },
            ],
            SimDuration::from_secs(3),
            SimDuration::from_secs(30),
        ),
        "JEP04_concurrent_writes" => (
            vec![
                ConcurrentWriters {
                    writers: 4,
                    length_ns: 5 * S,
                },
                PauseNode {
                    node: None,
                    length_ns: S,
                },
            ],
            SimDuration::from_secs(3),
            SimDuration::from_secs(30),
        ),
        other => panic!("unknown shape {other}"),
    }
}

const SHAPES: [&str; 4] = [
    "JEP01_log_partition",
    "JEP02_clock_skew",
    "JEP03_snapshot_rollback",
    "JEP04_concurrent_writes",
];

fn run_shape(id: &str, deployed: SafeguardSet, seed: u64) -> ClusterRun {
    let (kinds, interval, length) = shape(id);
    let root = SeedPath::root(seed).child(id);
    let schedule = NemesisSchedule::generate(&kinds, interval, length, root.child("nemesis"));
    run_schedule(
        &ClusterSpec::default(),
        deployed,
        root,
        &schedule,
        SimDuration::from_secs(10),
        None,
    )
    .unwrap()
}

/// (seeds with anomalies, total anomalies, per-kind totals)
fn sweep(id: &str, deployed: SafeguardSet, seeds: u64) -> (u64, u64, [u64; 6]) {
    let mut hit = 0;
    let mut total = 0;
    let mut kinds = [0u64; 6];
    for seed in 0..seeds {
        let r = run_shape(id, deployed, seed).report;
        if r.anomalies() > 0 {
            hit += 1;
        }
        total += r.anomalies();
        for (i, k) in AnomalyKind::ALL.iter().enumerate() {
            kinds[i] += r.counts.get(*k);
        }
    }
    (hit, total, kinds)
}

#[test]
fn fault_free_run_is_valid_and_healthy() {
    let schedule = NemesisSchedule::generate(
        &[],
        SimDuration::from_secs(5),
        SimDuration::from_secs(20),
        SeedPath::root(1),
    );
    for deployed in [SafeguardSet::EMPTY, consistency_set()] {
        let r = run_schedule(
            &ClusterSpec::default(),
            deployed,
            SeedPath::root(9),
            &schedule,
            SimDuration::from_secs(5),
            None,
        )
        .unwrap();
        assert_eq!(r.report.valid, Validity::True, "{}", r.report);
        assert!(r.report.appends_ok > 500, "{}", r.report.appends_ok);
        assert!(r.report.reads_ok > 300, "{}", r.report.reads_ok);
        assert!(r.final_probe.healthy(), "{:?}", r.final_probe);
        assert_eq!(r.stats.leaders_elected, 1, "one stable leader");
    }
}

fn at(ms: u64, fault: ClusterFault) -> NemesisStep {
    NemesisStep {
        at: SimDuration::from_millis(ms),
        fault,
    }
}

/// Run explicit steps (heal at the end) for `seed` with `deployed`.
fn run_steps(steps: Vec<NemesisStep>, deployed: SafeguardSet, seed: u64) -> ClusterRun {
    run_schedule(
        &ClusterSpec::default(),
        deployed,
        SeedPath::root(seed),
        &NemesisSchedule::from_steps(steps),
        SimDuration::from_secs(5),
        None,
    )
    .unwrap()
}

fn isolate_leader_steps() -> Vec<NemesisStep> {
    vec![
        at(
            5_000,
            ClusterFault::Partition {
                shape: PartitionShape::IsolatePrimary,
                length_ns: 5 * S,
            },
        ),
        at(15_000, ClusterFault::Heal),
    ]
}

fn skew_then_isolate_steps() -> Vec<NemesisStep> {
    vec![
        at(
            5_000,
            ClusterFault::Clock {
                node: Some(PRIMARY),
                fault: ClockFault::Bump {
                    delta_ns: -2_000_000_000,
                },
            },
        ),
        at(
            5_500,
            ClusterFault::Partition {
                shape: PartitionShape::IsolatePrimary,
                length_ns: 5 * S,
            },
        ),
        at(15_000, ClusterFault::Heal),
    ]
}

fn rollback_leader_steps() -> Vec<NemesisStep> {
    vec![
        at(9_000, ClusterFault::SnapshotRollback { node: Some(PRIMARY) }),
        at(15_000, ClusterFault::Heal),
    ]
}

#[test]
fn measure_single_off() {
    for (name, steps) in [("isolate", isolate_leader_steps()), ("skew", skew_then_isolate_steps()), ("rollback", rollback_leader_steps())] {
        for s in [Safeguard::QuorumAck, Safeguard::FencingTokens, Safeguard::LeaseSkewBound, Safeguard::CompareAndSet, Safeguard::SnapshotHygieneManager] {
            let mut kinds = [0u64; 6];
            let mut hit = 0;
            for seed in 0..10 {
                let r = run_steps(steps.clone(), consistency_set().without(s), seed);
                if r.report.anomalies() > 0 { hit += 1; }
                for (i, k) in AnomalyKind::ALL.iter().enumerate() { kinds[i] += r.report.counts.get(*k); }
            }
            println!("{name} without {s}: {hit}/10 {kinds:?}");
        }
    }
}
