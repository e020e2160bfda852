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
        // Within the jitter band around the hour's median.
        assert!(night >= SimDuration::from_secs(900) && night <= SimDuration::from_secs(2_700));
        assert!(noon >= SimDuration::from_secs(150) && noon <= SimDuration::from_secs(450));
    }
}

#[test]
fn each_tier_routes_as_specified_and_is_counted() {
    let spec = GovernanceSpec::default();
    let mut g = Governance::new(spec.clone());
    let mut rng = SeedPath::root(2).rng();
    let now = at(12);
    let r0 = g.route(Intent::GrantPermissions, now, &mut rng);
    assert_eq!(r0.tier, 0);
    assert!(r0.delay >= SimDuration::from_secs(150));
    let r1 = g.route(Intent::ModifyConfig, now, &mut rng);
    assert_eq!(
        (r1.delay, r1.review, r1.heavy_log),
        (SimDuration::ZERO, true, false)
    );
    let r2 = g.route(Intent::ScheduleTask, now, &mut rng);
    assert_eq!((r2.delay, r2.review), (SimDuration::ZERO, false));
    let r3 = g.route(Intent::OptimizeSystem, now, &mut rng);
    assert_eq!(r3.delay, SimDuration::from_nanos(spec.vote_ns));
    let r4 = g.route(Intent::EmergencyRecovery, now, &mut rng);
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
        e.starts_with("approval_delay_s_by_hour:") && e.contains("24"),
        "{e}"
    );
    let spec = GovernanceSpec {
        approval_jitter_permille: 1001,
        ..GovernanceSpec::default()
    };
    let e = spec.validate().unwrap_err();
    assert!(
        e.contains("approval_jitter_permille") && e.contains("0..=1000"),
        "{e}"
    );
    assert!(GovernanceSpec::default().validate().is_ok());
}
