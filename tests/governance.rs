//! Layer-3 governance: the routing table of MISSION.md, approval delays by
//! hour of day, votes, emergency overrides, mission alignment.

use chaosim::engine::{SeedPath, SimDuration, SimTime};
use chaosim::model::governance::{Governance, GovernanceSpec, Intent, Mission, approval_delay};

fn at(hour: u64) -> SimTime {
    SimTime::from_day_time(3, hour, 0, 0).unwrap()
}

#[test]
fn routing_table_matches_mission() {
    use Intent::*;
    let table: [(u8, &[Intent]); 5] = [
        (0, &[ModifyGovernance, ChangeCharter, GrantPermissions]),
        (1, &[ExecuteSandbox, DeployModel, ModifyConfig]),
        (2, &[QueryKnowledge, GenerateSummary, ScheduleTask]),
        (3, &[SelfImprove, ExtendGrace, OptimizeSystem]),
        (4, &[EmergencyRecovery, CriticalIncident]),
    ];
    let mut n = 0;
    for (tier, intents) in table {
        for &i in intents {
            assert_eq!(i.tier(), tier, "{}", i.name());
            n += 1;
        }
    }
    assert_eq!(n, Intent::ALL.len());
}

#[test]
fn a_tier0_approval_at_0200_takes_longer_than_at_1200() {
    let spec = GovernanceSpec::default();
    let mut rng = SeedPath::root(1).child("gov").rng();
    for _ in 0..200 {
        let night = approval_delay(&spec, at(2), &mut rng);
        let noon = approval_delay(&spec, at(12), &mut rng);
        assert!(night > noon, "{night} vs {noon}");
        // Within the jitter band around the hour's median (15 min at night,
        // 30 s in office hours).
        assert!(night >= SimDuration::from_secs(450) && night <= SimDuration::from_secs(1_350));
        assert!(noon >= SimDuration::from_secs(15) && noon <= SimDuration::from_secs(45));
    }
}

#[test]
fn each_tier_routes_as_specified_and_is_counted() {
    let spec = GovernanceSpec::default();
    let mut g = Governance::new(spec.clone());
    let mut rng = SeedPath::root(2).rng();
    let now = at(12);
    let r0 = g.route(Intent::GrantPermissions, now, &mut rng, &[]);
    assert_eq!(r0.tier, 0);
    assert!(r0.delay >= SimDuration::from_secs(15));
    let r1 = g.route(Intent::ModifyConfig, now, &mut rng, &[]);
    assert_eq!(
        (r1.delay, r1.review, r1.heavy_log),
        (SimDuration::ZERO, true, false)
    );
    let r2 = g.route(Intent::ScheduleTask, now, &mut rng, &[]);
    assert_eq!((r2.delay, r2.review), (SimDuration::ZERO, false));
    let vote = Some(SimDuration::from_nanos(spec.vote_ns));
    let r3 = g.route(Intent::OptimizeSystem, now, &mut rng, &[vote; 5]);
    assert_eq!(r3.delay, SimDuration::from_nanos(spec.vote_ns));
    assert!(!r3.denied);
    let r4 = g.route(Intent::EmergencyRecovery, now, &mut rng, &[]);
    assert_eq!((r4.delay, r4.heavy_log), (SimDuration::ZERO, true));
    let s = g.stats();
    assert_eq!(s.routed_by_tier, [1, 1, 1, 1, 1]);
    assert_eq!(
        (
            s.approvals_waited,
            s.votes,
            s.review_log_entries,
            s.emergency_overrides
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(s.approval_wait_ns_total, r0.delay.as_nanos());
}

#[test]
fn mission_alignment_scores_match_mission() {
    let spec = GovernanceSpec::default();
    assert_eq!(spec.alignment_permille, [1000, 800, 700, 600]);
    assert_eq!(Intent::EmergencyRecovery.mission(), Mission::Resilience);
    assert_eq!(spec.alignment_permille(Intent::EmergencyRecovery), 1000);
    assert_eq!(spec.alignment_permille(Intent::DeployModel), 800);
    assert_eq!(spec.alignment_permille(Intent::SelfImprove), 700);
    assert_eq!(spec.alignment_permille(Intent::QueryKnowledge), 600);
}

#[test]
fn bad_governance_parameters_name_the_field_and_the_range() {
    let mut spec = GovernanceSpec::default();
    spec.approval_delay_s_by_hour.pop();
    let e = spec.validate().unwrap_err();
    assert!(
        e.field == "approval_delay_s_by_hour" && e.message.contains("24"),
        "{e}"
    );
    let spec = GovernanceSpec {
        approval_jitter_permille: 1001,
        ..GovernanceSpec::default()
    };
    let e = spec.validate().unwrap_err();
    assert!(
        e.field == "approval_jitter_permille" && e.message.contains("0..=1000"),
        "{e}"
    );
    assert!(GovernanceSpec::default().validate().is_ok());
}

#[test]
fn a_tier3_vote_waits_for_the_quorum_and_fails_without_it() {
    let spec = GovernanceSpec::default();
    assert_eq!((spec.quorum, spec.voters.len()), (3, 5));
    let mut g = Governance::new(spec.clone());
    let mut rng = SeedPath::root(3).rng();
    let s = |x| Some(SimDuration::from_secs(x));
    // The third-fastest ballot decides; down voters (None) do not count.
    let r = g.route(
        Intent::OptimizeSystem,
        at(12),
        &mut rng,
        &[s(4), None, s(2), s(3), None],
    );
    assert_eq!(
        (r.denied, r.delay, r.ballots),
        (false, SimDuration::from_secs(4), 3)
    );
    // Two voters up: no quorum, denied at the timeout.
    let r = g.route(
        Intent::OptimizeSystem,
        at(12),
        &mut rng,
        &[s(2), None, None, s(3), None],
    );
    assert!(r.denied);
    assert_eq!(r.delay, SimDuration::from_nanos(spec.vote_timeout_ns));
    // Slow voters past the timeout do not count either.
    let r = g.route(
        Intent::OptimizeSystem,
        at(12),
        &mut rng,
        &[s(2), s(3), s(60), s(61), s(62)],
    );
    assert!(r.denied);
    assert_eq!((g.stats().votes, g.stats().votes_failed), (3, 2));
}

#[test]
fn mission_alignment_orders_the_approval_queue_behind_a_storm() {
    let spec = GovernanceSpec::default();
    let mut rng = SeedPath::root(4).rng();
    let mut g = Governance::new(spec.clone());
    g.storm(200, at(12));
    // A resilience approval (grant_permissions) is more aligned than the
    // storm's governance changes: it waits only for the request in triage.
    let urgent = g.route(Intent::GrantPermissions, at(12), &mut rng, &[]);
    // An equally aligned one queues behind the whole storm.
    let routine = g.route(Intent::ChangeCharter, at(12), &mut rng, &[]);
    let triage = spec.triage_per_intent(at(12));
    assert!(
        urgent.delay <= triage + SimDuration::from_secs(45),
        "{}",
        urgent.delay
    );
    assert!(
        routine.delay >= triage.saturating_mul(200),
        "{}",
        routine.delay
    );
    // Triage is slower at night, in the proportion of the approval delay.
    assert_eq!(spec.triage_per_intent(at(2)), triage.saturating_mul(30));
}

mod scenarios {
    use chaosim::engine::SimTime;
    use chaosim::model::stack::StackSpec;
    use chaosim::safeguard::SafeguardSet;
    use chaosim::scenario::shrink::run_alone;
    use chaosim::scenario::{Catalogue, Outcome};

    fn run(id: &str, safeguards: &str, hour: u64, stack: &StackSpec) -> Outcome {
        let cat = Catalogue::embedded().unwrap();
        let deployed = SafeguardSet::from_spec(safeguards, stack.default_safeguards()).unwrap();
        let start = SimTime::from_day_time(0, hour, 0, 0).unwrap();
        run_alone(stack, cat.require(id).unwrap(), 42, 1, deployed, start).unwrap()
    }

    #[test]
    fn the_time_of_day_changes_governed_outcomes() {
        let stack = StackSpec::embedded();
        // A governance storm clogs the approval queue: triaged in a minute
        // and a half by day, for over half an hour at night.
        let night = run("L3_night_emergency_approval", "default", 2, &stack);
        let noon = run("L3_night_emergency_approval", "default", 12, &stack);
        assert!(noon.passed, "{:?}", noon.failure_reason);
        assert!(!night.passed && night.recovery_s.is_none(), "{night:?}");
        // Without the emergency protocol (tier 4), a dead critical kernel
        // waits for a human's permission: 30 s by day, 15 min at night.
        for id in ["DIRT01_critical_kernel_kill", "L3_night_emergency_approval"] {
            let night = run(id, "-emergency_protocol", 2, &stack);
            let noon = run(id, "-emergency_protocol", 12, &stack);
            assert!(noon.recovery_s.is_some(), "{id} at noon: {noon:?}");
            assert!(night.recovery_s.is_none(), "{id} at 02:00: {night:?}");
            assert!(night.governance.approval_wait_ms > 10 * noon.governance.approval_wait_ms);
        }
    }

    #[test]
    fn a_layer2_recovery_action_waits_for_its_tier() {
        let mut stack = StackSpec::embedded();
        let quick = run("L2_worker_dropout_chaos", "default", 12, &stack);
        // Respawning a worker made a tier-0 intent: it waits for a human.
        stack.layer2.recovery_intents.respawn_worker =
            chaosim::model::governance::Intent::GrantPermissions;
        let noon = run("L2_worker_dropout_chaos", "default", 12, &stack);
        let night = run("L2_worker_dropout_chaos", "default", 2, &stack);
        assert_eq!(quick.governance.approvals, 0);
        assert!(noon.governance.approvals > 0);
        assert!(night.governance.approval_wait_ms > noon.governance.approval_wait_ms);
        let r = |o: &Outcome| o.recovery_s.unwrap_or(f64::INFINITY);
        assert!(
            r(&quick) < r(&noon) && r(&noon) < r(&night),
            "{} {} {}",
            r(&quick),
            r(&noon),
            r(&night)
        );
    }

    #[test]
    fn a_vote_without_quorum_denies_the_isolation() {
        // S03's CPU-hog isolation is a tier-3 vote of five kernels (quorum
        // 3). With three of the voters paused while the hog runs, the
        // ballots do not come in and the isolation is denied.
        let stack = StackSpec::embedded();
        let cat = Catalogue::embedded().unwrap();
        let s03 = cat.require("S03_cpu_spike").unwrap();
        let deployed =
            SafeguardSet::from_spec("+resource_pressure_monitor", stack.default_safeguards())
                .unwrap();
        let start = SimTime::from_day_time(0, 12, 0, 0).unwrap();
        let ok = run_alone(&stack, s03, 42, 1, deployed, start).unwrap();
        assert!(
            ok.governance.votes > 0 && ok.governance.votes_failed == 0,
            "{:?}",
            ok.governance
        );
        assert!(ok.passed, "{:?}", ok.failure_reason);
        let mut voters_down = s03.clone();
        for v in ["meta_loop", "learning_integration", "clarity_framework"] {
            let mut pause = s03.faults[0].clone();
            pause.kind = chaosim::scenario::FaultKind::PauseHeartbeat;
            pause.target = chaosim::scenario::spec::Target::Kernel(v.into());
            pause.start_ns = 4_000_000_000;
            pause.length_ns = 30_000_000_000;
            voters_down.faults.push(pause);
        }
        let denied = run_alone(&stack, &voters_down, 42, 1, deployed, start).unwrap();
        assert!(
            denied.governance.votes_failed > 0,
            "{:?}",
            denied.governance
        );
        assert!(!denied.passed);
    }
}
