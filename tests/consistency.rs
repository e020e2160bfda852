//! Behaviour of the replicated-log cluster under the nemesis, with the
//! consistency safeguards off and on, through the public API.

#[path = "support/cluster_driver.rs"]
mod cluster_driver;

use chaosim::check::consistency::{AnomalyKind, Validity};
use chaosim::engine::{SeedPath, SimDuration};
use chaosim::model::cluster::{
    ClockFault, ClusterFault, ClusterSpec, JEPSEN_SCENARIOS, NemesisSchedule, NemesisStep, PRIMARY,
    PartitionShape, catalogue_shape,
};
use chaosim::safeguard::{Safeguard, SafeguardSet};
use cluster_driver::{ClusterRun, run_schedule};

const S: u64 = 1_000_000_000;

fn consistency_set() -> SafeguardSet {
    SafeguardSet::EMPTY
        .with(Safeguard::QuorumAck)
        .with(Safeguard::FencingTokens)
        .with(Safeguard::LeaseSkewBound)
        .with(Safeguard::CompareAndSet)
        .with(Safeguard::SnapshotHygieneManager)
}

const SHAPES: [&str; 4] = JEPSEN_SCENARIOS;

fn run_shape(id: &str, deployed: SafeguardSet, seed: u64) -> ClusterRun {
    let root = SeedPath::root(seed).child(id);
    let schedule = catalogue_shape(id).unwrap().schedule(root.child("nemesis"));
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
        at(
            9_000,
            ClusterFault::SnapshotRollback {
                node: Some(PRIMARY),
            },
        ),
        at(15_000, ClusterFault::Heal),
    ]
}

/// Safeguards off: at least `min_share_pct` % of `seeds` seeds show
/// anomalies. On: zero anomalies over `seeds_on` seeds.
fn assert_shape(id: &str, seeds_off: u64, min_share_pct: u64, seeds_on: u64) {
    let (hit, total, kinds) = sweep(id, SafeguardSet::EMPTY, seeds_off);
    assert!(
        hit * 100 >= min_share_pct * seeds_off,
        "{id}: only {hit}/{seeds_off} seeds anomalous with safeguards off ({total}, {kinds:?})"
    );
    let (hit_on, total_on, kinds_on) = sweep(id, consistency_set(), seeds_on);
    assert_eq!(
        (hit_on, total_on),
        (0, 0),
        "{id}: anomalies with safeguards on: {kinds_on:?}"
    );
}

#[test]
fn jep01_log_partition_breaks_without_safeguards_and_holds_with_them() {
    assert_shape("JEP01_log_partition", 20, 40, 50);
}

#[test]
fn jep02_clock_skew_breaks_without_safeguards_and_holds_with_them() {
    assert_shape("JEP02_clock_skew", 20, 60, 50);
}

#[test]
fn jep03_snapshot_rollback_breaks_without_safeguards_and_holds_with_them() {
    assert_shape("JEP03_snapshot_rollback", 20, 40, 50);
}

#[test]
fn jep04_concurrent_writes_break_without_safeguards_and_hold_with_them() {
    assert_shape("JEP04_concurrent_writes", 20, 30, 50);
}

#[test]
fn quorum_ack_off_loses_acknowledged_appends_of_an_isolated_leader() {
    for seed in 0..5 {
        let off = run_steps(
            isolate_leader_steps(),
            consistency_set().without(Safeguard::QuorumAck),
            seed,
        );
        let ex = off
            .report
            .example(AnomalyKind::LostAppend)
            .unwrap_or_else(|| panic!("seed {seed}: {}", off.report));
        // The lost append was acknowledged by the leader about to be cut
        // off (not yet replicated) or while it was cut off.
        assert!(ex.times_ns[1] >= 4 * S && ex.times_ns[1] < 10 * S, "{ex:?}");
        let on = run_steps(isolate_leader_steps(), consistency_set(), seed);
        assert_eq!(on.report.anomalies(), 0, "{}", on.report);
        assert_eq!(on.report.valid, Validity::True);
    }
}

#[test]
fn fencing_tokens_depose_the_old_leader_after_heal() {
    for seed in 0..5 {
        let off = run_steps(
            isolate_leader_steps(),
            consistency_set().without(Safeguard::FencingTokens),
            seed,
        );
        assert!(
            off.report.counts.divergence > 0 && off.report.counts.lost_append > 0,
            "seed {seed}: {}",
            off.report
        );
        assert_eq!(off.safeguards.count(Safeguard::FencingTokens), 0);
        let on = run_steps(isolate_leader_steps(), consistency_set(), seed);
        assert_eq!(on.report.anomalies(), 0, "{}", on.report);
        // Fencing acted when the partition ended (at 10 s), not before.
        let first = on.safeguards.first_fired(Safeguard::FencingTokens).unwrap();
        assert!(first.as_nanos() >= 10 * S, "fired at {first}");
        assert_eq!(on.final_probe.replicas_in_sync, 5, "{:?}", on.final_probe);
    }
}

#[test]
fn lease_skew_bound_prevents_stale_reads_from_a_skewed_isolated_leader() {
    for seed in 0..5 {
        let off = run_steps(
            skew_then_isolate_steps(),
            consistency_set().without(Safeguard::LeaseSkewBound),
            seed,
        );
        let ex = off
            .report
            .example(AnomalyKind::StaleRead)
            .unwrap_or_else(|| panic!("seed {seed}: {}", off.report));
        // The stale read happened inside the 2 s the bump added to the lease.
        assert!(
            ex.times_ns[0] > 5_500_000_000 && ex.times_ns[0] < 7_300_000_000,
            "{ex:?}"
        );
        assert!(off.report.counts.timestamp_backwards > 0, "{}", off.report);
        let on = run_steps(skew_then_isolate_steps(), consistency_set(), seed);
        assert_eq!(on.report.anomalies(), 0, "{}", on.report);
        let first = on
            .safeguards
            .first_fired(Safeguard::LeaseSkewBound)
            .unwrap();
        assert!(first.as_nanos() >= 5 * S, "fired at {first}");
    }
}

#[test]
fn compare_and_set_stops_retries_from_duplicating_entries() {
    for seed in 0..5 {
        let off = run_shape(
            "JEP04_concurrent_writes",
            consistency_set().without(Safeguard::CompareAndSet),
            seed,
        );
        assert!(
            off.report.counts.duplicate > 0,
            "seed {seed}: {}",
            off.report
        );
        let ex = off.report.example(AnomalyKind::Duplicate).unwrap();
        assert!(ex.index[0] < ex.index[1]);
        let on = run_shape("JEP04_concurrent_writes", consistency_set(), seed);
        assert_eq!(on.report.anomalies(), 0, "{}", on.report);
        assert!(on.safeguards.count(Safeguard::CompareAndSet) > 0);
    }
}

#[test]
fn snapshot_hygiene_refuses_restoring_an_older_snapshot() {
    for seed in 0..5 {
        let off = run_steps(
            rollback_leader_steps(),
            consistency_set().without(Safeguard::SnapshotHygieneManager),
            seed,
        );
        assert!(
            off.report.counts.lost_append > 0,
            "seed {seed}: {}",
            off.report
        );
        let on = run_steps(rollback_leader_steps(), consistency_set(), seed);
        assert_eq!(on.report.anomalies(), 0, "{}", on.report);
        assert_eq!(
            on.safeguards
                .first_fired(Safeguard::SnapshotHygieneManager)
                .map(|t| t.as_nanos()),
            Some(9 * S)
        );
    }
}

#[test]
fn steady_state_is_lost_during_leader_isolation_and_recovers_after() {
    let r = run_steps(isolate_leader_steps(), consistency_set(), 3);
    match r.recovery {
        chaosim::check::steady::Recovery::Recovered {
            violated_at,
            restored_at,
        } => {
            assert!(violated_at.as_nanos() >= 5 * S && violated_at.as_nanos() <= 7 * S);
            assert!(restored_at > violated_at);
            // A new leader takes over within about a second of the isolation.
            assert!(restored_at.as_nanos() <= 8 * S, "restored at {restored_at}");
        }
        other => panic!("{other:?}"),
    }
    assert!(r.final_probe.healthy(), "{:?}", r.final_probe);
    assert!(r.stats.leaders_elected >= 2);
}

#[test]
fn same_seed_same_digest_and_report() {
    for id in SHAPES {
        let a = run_shape(id, SafeguardSet::EMPTY, 11);
        let b = run_shape(id, SafeguardSet::EMPTY, 11);
        assert_eq!(a.digest, b.digest, "{id}");
        assert_eq!(a.report, b.report, "{id}");
        assert_eq!(a.events, b.events);
        let c = run_shape(id, SafeguardSet::EMPTY, 12);
        assert_ne!(a.digest, c.digest, "{id}");
    }
}

#[test]
fn history_streams_as_jsonl() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let r = run_schedule(
        &ClusterSpec::default(),
        consistency_set(),
        SeedPath::root(5),
        &NemesisSchedule::from_steps(isolate_leader_steps()),
        SimDuration::from_secs(2),
        Some(Box::new(buf.clone())),
    )
    .unwrap();
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let mut invokes = 0;
    let mut oks = 0;
    let mut infos = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str().unwrap() {
            "invoke" => invokes += 1,
            "ok" => oks += 1,
            "info" => infos += 1,
            "fail" => {}
            t => panic!("type {t}"),
        }
    }
    assert!(invokes > 1000);
    assert_eq!(oks, r.report.appends_ok + r.report.reads_ok);
    // Appends stuck at the isolated leader end as info (unknown), not ok.
    assert!(infos > 0);
}

#[test]
fn small_and_odd_clusters_work_and_bad_specs_are_refused() {
    for nodes in [1u16, 2, 3, 7] {
        let spec = ClusterSpec {
            nodes,
            ..ClusterSpec::default()
        };
        let sched = catalogue_shape("JEP01_log_partition")
            .unwrap()
            .schedule(SeedPath::root(nodes as u64));
        let r = run_schedule(
            &spec,
            consistency_set(),
            SeedPath::root(1),
            &sched,
            SimDuration::from_secs(10),
            None,
        )
        .unwrap();
        assert_eq!(r.report.anomalies(), 0, "{nodes} nodes: {}", r.report);
        assert!(
            r.report.appends_ok > 100,
            "{nodes} nodes: {}",
            r.report.appends_ok
        );
        assert!(
            r.final_probe.healthy(),
            "{nodes} nodes: {:?}",
            r.final_probe
        );
    }
    let bad = ClusterSpec {
        link_delay_max_ns: 0,
        ..ClusterSpec::default()
    };
    let err = run_schedule(
        &bad,
        consistency_set(),
        SeedPath::root(1),
        &NemesisSchedule::generate(&[], SimDuration::ZERO, SimDuration::ZERO, SeedPath::root(1)),
        SimDuration::from_secs(1),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("link_delay_max_ns"), "{err}");
}

/// Regressions found by a 2,400-run sweep with 1 % loss / 7 nodes and slow
/// links / 3 nodes: a CAS retry acknowledged by a stale leader's length
/// (seed 105), a retry landing at the expected length although an earlier
/// attempt sat before it (seed 160), a restore below acknowledged entries
/// (seed 276).
#[test]
fn safeguards_hold_under_loss_and_slow_links() {
    let lossy = ClusterSpec {
        nodes: 7,
        link_loss_per_million: 10_000,
        ..ClusterSpec::default()
    };
    let slow = ClusterSpec {
        nodes: 3,
        link_delay_min_ns: 5_000_000,
        link_delay_max_ns: 40_000_000,
        ..ClusterSpec::default()
    };
    let cases = [
        (&lossy, "JEP01_log_partition", 105),
        (&lossy, "JEP02_clock_skew", 130),
        (&slow, "JEP03_snapshot_rollback", 160),
        (&slow, "JEP03_snapshot_rollback", 276),
        (&slow, "JEP02_clock_skew", 100),
    ];
    for (spec, id, seed) in cases {
        let root = SeedPath::root(seed).child(id);
        let sched = catalogue_shape(id).unwrap().schedule(root.child("nemesis"));
        let r = run_schedule(
            spec,
            consistency_set(),
            root,
            &sched,
            SimDuration::from_secs(10),
            None,
        )
        .unwrap();
        assert_eq!(r.report.anomalies(), 0, "{id} seed {seed}: {}", r.report);
        assert_eq!(r.report.valid, Validity::True);
    }
}
