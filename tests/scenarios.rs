//! Every catalogue scenario's outcome at fixed seeds and difficulties 1, 5
//! and 10, as reviewed snapshots. Any change in dynamics shows up here as a
//! diff to review; CI never updates snapshots.

use chaosim::engine::SimTime;
use chaosim::model::stack::StackSpec;
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::run::Runner;
use chaosim::scenario::{Catalogue, Execution, Executor, Item};

const SEED: u64 = 20_261_124;

#[test]
fn every_scenario_at_difficulties_1_5_10() {
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    let runner = Runner {
        catalogue: &cat,
        stack: &stack,
        threads: 1,
    };
    let deployed = stack.default_safeguards();
    for spec in cat.scenarios() {
        for level in [1u8, 5, 10] {
            let exec = Execution {
                seed: SEED,
                run: 0,
                start: SimTime::from_day_time(0, 12, 0, 0).unwrap(),
                concurrent: false,
                items: vec![Item {
                    scenario: spec.id.clone(),
                    difficulty: level,
                    known_fixes: SafeguardSet::EMPTY,
                }],
                deployed,
            };
            let o = runner.execute(&exec).unwrap().remove(0);
            insta::assert_json_snapshot!(format!("{}__level_{:02}", spec.id, level), o);
        }
    }
}

fn run(id: &str, safeguards: &str) -> chaosim::scenario::Outcome {
    run_seed(id, safeguards, 42)
}

fn run_seed(id: &str, safeguards: &str, seed: u64) -> chaosim::scenario::Outcome {
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    let deployed = SafeguardSet::from_spec(safeguards, stack.default_safeguards()).unwrap();
    let runner = Runner {
        catalogue: &cat,
        stack: &stack,
        threads: 1,
    };
    let exec = Execution {
        seed,
        run: 0,
        start: SimTime::from_day_time(0, 12, 0, 0).unwrap(),
        concurrent: false,
        items: vec![Item {
            scenario: id.into(),
            difficulty: 1,
            known_fixes: SafeguardSet::EMPTY,
        }],
        deployed,
    };
    runner.execute(&exec).unwrap().remove(0)
}

/// Each pair: the scenario fails on the default stack because its safeguard
/// is missing, and passes once that safeguard is deployed, with the
/// safeguard really firing.
#[test]
fn deploying_the_missing_safeguard_turns_failure_into_recovery() {
    for (id, sg) in [
        ("S02_acl_spam", "acl_violation_monitor"),
        ("S03_cpu_spike", "resource_pressure_monitor"),
        ("FIT01_api_flood", "rate_limiter"),
        ("L2_HTM_queue_flood_stress", "htm_queue_depth_monitor"),
        ("L2_trigger_mesh_storm", "trigger_mesh_backpressure"),
        ("L2_event_policy_cascade", "cascade_detector"),
    ] {
        let without = run(id, "default");
        assert!(
            !without.passed,
            "{id} should fail without {sg}: {without:?}"
        );
        assert!(without.failure_reason.is_some());
        let with = run(id, &format!("+{sg}"));
        assert!(
            with.passed,
            "{id} should pass with {sg}: {:?}",
            with.failure_reason
        );
        assert!(
            with.safeguards_fired.iter().any(|s| s.name() == sg),
            "{id}: {sg} fired"
        );
        assert!(with.recovery_s.unwrap() <= with.recovery_limit_s);
    }
}

#[test]
fn removing_a_default_safeguard_breaks_its_scenario() {
    for (id, sg) in [
        ("S01_heartbeat_pause", "heartbeat_watchdog"),
        ("L2_scheduler_pause_during_load", "scheduler_watchdog"),
        ("L2_worker_dropout_chaos", "worker_pool_recovery"),
        (
            "DIRT01_critical_kernel_kill",
            "critical_kernel_heartbeat_trigger",
        ),
    ] {
        let with = run(id, "default");
        assert!(
            with.passed,
            "{id} passes by default: {:?}",
            with.failure_reason
        );
        let without = run(id, &format!("-{sg}"));
        assert!(!without.passed, "{id} must fail without {sg}");
        assert!(
            !without.safeguards_fired.iter().any(|s| s.name() == sg),
            "{sg} cannot fire when absent"
        );
    }
}

#[test]
fn jepsen_scenarios_find_anomalies_without_consistency_safeguards_and_none_with_them() {
    let off = run("JEP01_log_partition", "default");
    assert!(
        off.anomalies > 0,
        "partition without quorum/fencing must produce anomalies"
    );
    let on = run(
        "JEP01_log_partition",
        "+quorum_ack,+fencing_tokens,+lease_skew_bound,+compare_and_set",
    );
    assert_eq!(on.anomalies, 0, "{on:?}");
}

#[test]
fn same_inputs_same_digest_other_seed_other_digest() {
    let a = run("MF01_triple_threat", "default");
    let b = run("MF01_triple_threat", "default");
    assert_eq!(a, b);
    let c = run_seed("MF01_triple_threat", "default", 43);
    assert_ne!(a.digest, c.digest, "another seed, another run");
}
