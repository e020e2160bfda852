//! Verdicts are measurements: a scenario fails on measured harm or on a
//! safeguard whose condition one of its own faults met (with the evidence),
//! never on set membership; firings are credited by cause.

use chaosim::engine::SimTime;
use chaosim::model::stack::StackSpec;
use chaosim::safeguard::{Safeguard, SafeguardSet, Signal};
use chaosim::scenario::run::{Planned, RunOutputs, run_together};
use chaosim::scenario::shrink::{STEPS_MAX_DEFAULT, default_start, run_alone, shrink_case};
use chaosim::scenario::spec::{FaultKind, ScenarioSpec, Target};
use chaosim::scenario::{Catalogue, FailureKind, Outcome, difficulty};
use chaosim::sweep::swarm::draw;

fn stack() -> StackSpec {
    StackSpec::embedded()
}

fn run(spec: &ScenarioSpec, safeguards: &str, level: u8) -> Outcome {
    let stack = stack();
    let deployed = SafeguardSet::from_spec(safeguards, stack.default_safeguards()).unwrap();
    run_alone(&stack, spec, 42, level, deployed, default_start()).unwrap()
}

fn scenario(id: &str) -> ScenarioSpec {
    Catalogue::embedded().unwrap().require(id).unwrap().clone()
}

/// The kinds that are measured harm (not about a safeguard).
fn is_harm(k: FailureKind) -> bool {
    matches!(
        k,
        FailureKind::RecoveryExceeded
            | FailureKind::NotRecovered
            | FailureKind::Anomalies
            | FailureKind::NotSteadyBefore
    )
}

#[test]
fn every_catalogue_scenario_without_its_faults_passes_on_the_default_stack() {
    for spec in Catalogue::embedded().unwrap().scenarios() {
        let mut control = spec.clone();
        control.faults.clear();
        let o = run(&control, "default", 1);
        assert!(
            o.passed,
            "{} without faults: {:?}",
            spec.id, o.failure_reason
        );
        assert!(
            o.safeguards_needed.is_empty(),
            "{}: {:?}",
            spec.id,
            o.safeguards_needed
        );
        assert_eq!(
            o.safeguards_not_exercised, spec.expected_safeguards,
            "{}: nothing exercised",
            spec.id
        );
    }
}

#[test]
fn s02_without_the_acl_monitor_fails_naming_it_as_needed_inside_the_flood() {
    let spec = scenario("S02_acl_spam");
    let o = run(&spec, "-acl_violation_monitor", 1);
    assert!(!o.passed);
    assert!(
        o.safeguards_missing
            .contains(Safeguard::AclViolationMonitor)
    );
    let need = o.need(Safeguard::AclViolationMonitor).expect("needed");
    let flood = &spec.faults[0];
    let (from, to) = (
        flood.start_ns as f64 / 1e9,
        (flood.start_ns + flood.length_ns) as f64 / 1e9,
    );
    assert!(
        (from..=to).contains(&need.at_s),
        "needed at {} s, flood {from}..{to} s",
        need.at_s
    );
    assert_eq!(need.signal, Signal::AclViolationsPerS);
    assert!(need.value > need.threshold);
    assert_eq!(need.cause.fault, 0);
    assert_eq!(need.cause.kind, FaultKind::AclFlood);
    assert!(o.failure_kinds.contains(&FailureKind::SafeguardMissing));
    // The words of the reason carry the evidence.
    let with = run(&spec, "+acl_violation_monitor", 1);
    assert!(with.passed, "{:?}", with.failure_reason);
    assert!(
        with.safeguards_fired
            .contains(Safeguard::AclViolationMonitor)
    );
}

#[test]
fn a_missing_safeguard_reason_names_the_time_signal_and_threshold() {
    let o = run(&scenario("L2_trigger_mesh_storm"), "default", 1);
    let reason = o.failure_reason.unwrap();
    assert!(
        reason.starts_with("safeguard trigger_mesh_backpressure needed at ")
            && reason.contains("(mesh backlog ")
            && reason.ends_with("), not deployed"),
        "{reason}"
    );
}

#[test]
fn fit03_follows_the_measured_harm_with_and_without_the_breaker() {
    let spec = scenario("FIT03_dependency_chaos");
    for sg in ["default", "-circuit_breaker"] {
        let o = run(&spec, sg, 1);
        // Held tasks (breaker open) or failed ones (no breaker) are harm:
        // the steady state is violated during the fault either way.
        assert!(!o.passed, "{sg}: {o:?}");
        assert!(
            o.failure_kinds.iter().copied().any(is_harm),
            "{sg}: {:?}",
            o.failure_kinds
        );
        assert!(o.recovery_s.is_none_or(|r| r > 0.0), "{sg}: violated");
    }
    let with = run(&spec, "default", 1);
    assert!(with.safeguards_fired.contains(Safeguard::CircuitBreaker));
    let without = run(&spec, "-circuit_breaker", 1);
    assert!(without.need(Safeguard::CircuitBreaker).is_some());
}

#[test]
fn jep04_with_a_fault_that_does_nothing_passes_without_compare_and_set() {
    let mut spec = scenario("JEP04_concurrent_writes");
    assert_eq!(spec.faults[0].kind, FaultKind::ConcurrentWrites);
    spec.faults[0].kind = FaultKind::ClockSkew;
    spec.faults[0].target = Target::Nodes(chaosim::scenario::spec::NodeSelection::Primary);
    spec.faults[0].intensity_permille = 0;
    let o = run(&spec, "default", 1);
    assert!(o.passed, "{:?}", o.failure_reason);
    assert!(
        o.safeguards_not_exercised
            .contains(Safeguard::CompareAndSet)
    );
    // The real fault needs it.
    let real = run(&scenario("JEP04_concurrent_writes"), "default", 1);
    assert!(real.need(Safeguard::CompareAndSet).is_some(), "{real:?}");
}

#[test]
fn a_concurrent_run_credits_each_scenario_only_with_its_own_faults() {
    let stack = stack();
    let fit01 = scenario("FIT01_api_flood");
    let mut quiet = fit01.clone();
    quiet.id = "X_control".into();
    quiet.faults.clear();
    fn planned(s: &ScenarioSpec) -> Planned<'_> {
        Planned {
            spec: s,
            scaled: difficulty::scale(s, 1),
            offset_ns: 0,
            restore_first: false,
        }
    }
    let r = run_together(
        &stack,
        &[planned(&quiet), planned(&fit01)],
        SafeguardSet::all(),
        SafeguardSet::EMPTY,
        chaosim::engine::SeedPath::root(42),
        SimTime::from_day_time(0, 12, 0, 0).unwrap(),
        RunOutputs::default(),
    )
    .unwrap();
    let (q, f) = (&r.outcomes[0], &r.outcomes[1]);
    assert!(f.safeguards_fired.contains(Safeguard::RateLimiter));
    assert!(
        !q.safeguards_fired.contains(Safeguard::RateLimiter),
        "the control scenario is not credited with FIT01's rate limiter"
    );
    assert!(q.safeguards_not_exercised.contains(Safeguard::RateLimiter));
    assert!(r.safeguards.fired().contains(Safeguard::RateLimiter));
}

#[test]
fn a_shrunk_mf01_swarm_case_fails_with_the_same_needed_safeguard() {
    let stack = stack();
    let base = scenario("MF01_triple_threat");
    let (seed, drawn, o) = (0..50)
        .map(|seed| {
            let d = draw(&base, seed);
            let o = run_alone(
                &stack,
                &d,
                seed,
                1,
                stack.default_safeguards(),
                default_start(),
            )
            .unwrap();
            (seed, d, o)
        })
        .find(|(_, _, o)| o.failure_kind() == Some(FailureKind::SafeguardMissing))
        .expect("a swarm draw of MF01 that fails on a needed safeguard");
    let sig = o.signature().unwrap();
    let sg = sig
        .safeguard
        .expect("a safeguard failure names its safeguard");
    let case = shrink_case(
        &stack,
        &drawn,
        seed,
        1,
        stack.default_safeguards(),
        default_start(),
        STEPS_MAX_DEFAULT,
        Some(o.digest),
    )
    .unwrap();
    assert_eq!(case.shrunk_outcome.signature(), Some(sig));
    let need = case.shrunk_outcome.need(sg).expect("still needed");
    assert!(need.value >= need.threshold, "{need:?}");
}

#[test]
fn no_failure_over_the_catalogue_without_harm_or_a_needed_safeguard() {
    for spec in Catalogue::embedded().unwrap().scenarios() {
        for level in [1, 5, 10] {
            let o = run(spec, "default", level);
            if o.passed {
                continue;
            }
            for k in &o.failure_kinds {
                match k {
                    FailureKind::SafeguardMissing | FailureKind::SafeguardSilent => {}
                    k => assert!(is_harm(*k), "{} level {level}: {k:?}", spec.id),
                }
            }
            for sg in o.safeguards_missing.iter() {
                let need = o.need(sg).unwrap_or_else(|| {
                    panic!("{} level {level}: {sg} missing without a need", spec.id)
                });
                assert!(need.expected);
                assert!(need.value >= need.threshold, "{need:?}");
            }
            let safeguard_failures = o.failure_kinds.iter().filter(|k| !is_harm(**k)).count();
            assert_eq!(
                safeguard_failures,
                o.safeguards_missing.len(),
                "{}",
                spec.id
            );
        }
    }
}

#[test]
fn jepsen_outcomes_carry_the_linearizability_verdict() {
    use chaosim::check::consistency::Validity;
    let spec = scenario("JEP01_log_partition");
    let off = run(&spec, "default", 1);
    let on = run(
        &spec,
        "+quorum_ack,+fencing_tokens,+lease_skew_bound,+compare_and_set",
        1,
    );
    let (off, on) = (off.linearizability.unwrap(), on.linearizability.unwrap());
    assert_eq!(off.valid, Validity::False);
    assert!(off.positions_not_linearizable > 0 && off.first_failure.is_some());
    assert_eq!(on.valid, Validity::True, "{on}");
    assert_eq!(on.positions_unknown, 0);
    // Runs without the replicated log have none.
    assert!(
        run(&scenario("S01_heartbeat_pause"), "default", 1)
            .linearizability
            .is_none()
    );
}
