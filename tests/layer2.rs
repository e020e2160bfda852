//! Layer-2 behaviour: each orchestration scenario of MISSION.md section 2 fails
//! its steady state without its safeguard and recovers with it, and each test
//! asserts the mechanism (which safeguard fired, when, what it did).
//!
//! Harness: boot at t = 0, warm up 60 s (the steady state must hold), inject
//! the fault at t = 60 s, sample `Layer2Probe::healthy` every second into a
//! `RecoveryTracker` (stable for 10 s) until the end of the run.
//! Recovery limits, chosen per scenario (from the fault's injection):
//! queue flood 60 s, trigger storm 30 s, scheduler pause 60 s, policy cascade
//! 30 s, worker dropout 60 s.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use chaosim::check::steady::{Recovery, RecoveryTracker};
use chaosim::engine::{SeedPath, SimDuration, SimTime, Simulation};
use chaosim::model::Solo;
use chaosim::model::layer2::{
    BreakerState, Layer2, Layer2Counters, Layer2Fault, Layer2Spec, ReplicaState, ReplicaView,
};
use chaosim::safeguard::{Safeguard, SafeguardLog, SafeguardSet};

const FAULT_AT_S: u64 = 60;

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

type Sim = Simulation<Solo<Layer2>>;

fn boot(spec: &Layer2Spec, deployed: SafeguardSet, seed: u64) -> Sim {
    let l2 = Layer2::new(
        spec,
        deployed,
        SeedPath::root(seed).child("layer2"),
        SimTime::ZERO,
    );
    let mut sim = Simulation::starting_at(Solo(l2), SeedPath::root(seed), SimTime::ZERO);
    sim.with_ctx(|m, ctx| m.0.boot(ctx));
    sim
}

#[derive(Debug)]
struct Outcome {
    recovery: Recovery,
    log: SafeguardLog,
    counters: Layer2Counters,
    peak_queue: u32,
    min_workers: u16,
    max_mesh_lag_ns: u64,
    max_policy_lag_ns: u64,
    max_policy_depth: u16,
}

impl Outcome {
    fn within(&self, limit_s: u64) -> bool {
        self.recovery
            .duration()
            .is_some_and(|d| d <= SimDuration::from_secs(limit_s))
    }
}

/// Run the default spec with `deployed`, inject `fault` at 60 s, observe until `end_s`.
fn scenario(deployed: SafeguardSet, fault: Layer2Fault, end_s: u64, seed: u64) -> Outcome {
    scenario_with(&Layer2Spec::default(), deployed, fault, end_s, seed)
}

fn scenario_with(
    spec: &Layer2Spec,
    deployed: SafeguardSet,
    fault: Layer2Fault,
    end_s: u64,
    seed: u64,
) -> Outcome {
    let mut sim = boot(spec, deployed, seed);
    for s in 10..=FAULT_AT_S {
        sim.run_until(secs(s)).unwrap();
        let p = sim.model().0.probe(sim.now());
        assert!(p.healthy(), "baseline not healthy at {s} s: {p:?}");
    }
    sim.with_ctx(|m, ctx| m.0.inject(&fault, ctx));
    let mut tracker = RecoveryTracker::new(SimDuration::from_secs(10));
    let mut o = Outcome {
        recovery: Recovery::NeverViolated,
        log: SafeguardLog::default(),
        counters: Layer2Counters::default(),
        peak_queue: 0,
        min_workers: u16::MAX,
        max_mesh_lag_ns: 0,
        max_policy_lag_ns: 0,
        max_policy_depth: 0,
    };
    for s in FAULT_AT_S + 1..=end_s {
        sim.run_until(secs(s)).unwrap();
        let p = sim.model().0.probe(sim.now());
        tracker.observe(sim.now(), p.healthy());
        o.peak_queue = o.peak_queue.max(p.queue_depth);
        o.min_workers = o.min_workers.min(p.workers_alive);
        o.max_mesh_lag_ns = o.max_mesh_lag_ns.max(p.mesh_lag_ns);
        o.max_policy_lag_ns = o.max_policy_lag_ns.max(p.policy_lag_ns);
        o.max_policy_depth = o.max_policy_depth.max(p.policy_depth);
    }
    o.recovery = tracker.recovery();
    o.log = sim.model().0.safeguards().clone();
    o.counters = *sim.model().0.counters();
    o
}

fn default_set() -> SafeguardSet {
    Layer2Spec::default().default_safeguards
}

#[test]
fn default_safeguards_leave_three_for_the_programme_to_discover() {
    let d = default_set();
    assert!(d.contains(Safeguard::SchedulerWatchdog) && d.contains(Safeguard::WorkerPoolRecovery));
    assert!(!d.contains(Safeguard::HtmQueueDepthMonitor));
    assert!(!d.contains(Safeguard::TriggerMeshBackpressure));
    assert!(!d.contains(Safeguard::CascadeDetector));
}

#[test]
fn queue_flood_overwhelms_without_depth_monitor_and_is_rate_limited_with_it() {
    let flood = Layer2Fault::QueueFlood {
        intents: 10_000,
        invalid_permille: 500,
        over_ns: 10_000_000_000,
    };
    let without = scenario(default_set(), flood, 360, 1);
    assert!(!without.within(60), "{without:?}");
    assert!(
        without.peak_queue > 5_000,
        "queue should pass critical: {}",
        without.peak_queue
    );
    assert_eq!(without.log.count(Safeguard::HtmQueueDepthMonitor), 0);
    assert!(
        without.counters.rejected_invalid_by_worker > 4_000,
        "workers paid for the invalid intents"
    );

    let with = scenario(
        default_set().with(Safeguard::HtmQueueDepthMonitor),
        flood,
        360,
        1,
    );
    eprintln!(
        "queue flood: without -> {:?}, with -> {:?}",
        without.recovery, with.recovery
    );
    assert!(with.within(60), "{with:?}");
    let fired = with
        .log
        .first_fired(Safeguard::HtmQueueDepthMonitor)
        .expect("monitor fired");
    assert!(
        fired >= secs(FAULT_AT_S) && fired <= secs(FAULT_AT_S + 2),
        "fired at {fired}"
    );
    // Guarded intake holds the queue at warning (+ at most one full token
    // bucket, 60 intents, admitted when the guard engages).
    assert!(with.peak_queue <= 1_000 + 60, "peak {}", with.peak_queue);
    assert!(
        with.counters.rejected_invalid_at_intake > 3_000,
        "{:?}",
        with.counters
    );
    assert!(with.counters.rate_limited > 1_000, "{:?}", with.counters);
}

#[test]
fn trigger_storm_floods_the_mesh_without_backpressure_and_is_throttled_with_it() {
    let storm = Layer2Fault::TriggerStorm {
        events_per_s: 5_000,
        length_ns: 300_000_000_000,
    };
    let without = scenario(default_set(), storm, 400, 2);
    assert!(!without.within(30), "{without:?}");
    assert!(
        without.max_mesh_lag_ns > 2_000_000_000,
        "lag {}",
        without.max_mesh_lag_ns
    );
    assert!(
        without.counters.mesh_dropped > 1_000_000,
        "{:?}",
        without.counters
    );

    let with = scenario(
        default_set().with(Safeguard::TriggerMeshBackpressure),
        storm,
        400,
        2,
    );
    eprintln!(
        "trigger storm: without -> {:?}, with -> {:?}",
        without.recovery, with.recovery
    );
    assert!(with.within(30), "{with:?}");
    let fired = with
        .log
        .first_fired(Safeguard::TriggerMeshBackpressure)
        .expect("backpressure fired");
    assert!(fired <= secs(FAULT_AT_S + 1), "fired at {fired}");
    assert_eq!(with.counters.mesh_dropped, 0);
    assert!(
        with.counters.mesh_throttled > 500_000,
        "{:?}",
        with.counters
    );
    assert!(
        with.max_mesh_lag_ns <= 600_000_000,
        "lag {}",
        with.max_mesh_lag_ns
    );
    // The mesh still delivered at its full rate during the storm.
    assert!(
        with.counters.mesh_delivered > 5_000_000,
        "{:?}",
        with.counters
    );
}

#[test]
fn paused_scheduler_stays_stuck_without_watchdog_and_is_rerouted_and_restarted_with_it() {
    let pause = Layer2Fault::PauseScheduler {
        length_ns: None,
        queued_tasks: 1_000,
    };
    let without = scenario(
        default_set().without(Safeguard::SchedulerWatchdog),
        pause,
        240,
        3,
    );
    assert!(
        matches!(without.recovery, Recovery::NotRecovered { .. }),
        "{without:?}"
    );
    assert_eq!(without.counters.scheduler_restarts, 0);
    assert!(without.peak_queue > 4_000, "{}", without.peak_queue);

    let with = scenario(default_set(), pause, 240, 3);
    eprintln!(
        "scheduler pause: without -> {:?}, with -> {:?}",
        without.recovery, with.recovery
    );
    assert!(with.within(60), "{with:?}");
    let fired = with
        .log
        .first_fired(Safeguard::SchedulerWatchdog)
        .expect("watchdog fired");
    // Two no-progress checks 5 s apart: detected within 15 s of the pause.
    assert!(
        fired > secs(FAULT_AT_S) && fired <= secs(FAULT_AT_S + 15),
        "fired at {fired}"
    );
    assert_eq!(with.log.count(Safeguard::SchedulerWatchdog), 1);
    assert_eq!(with.counters.scheduler_restarts, 1);
}

#[test]
fn policy_cascade_runs_ten_levels_without_detector_and_is_cut_at_the_limit_with_it() {
    let cascade = Layer2Fault::PolicyCascade { depth: 10 };
    let without = scenario(default_set(), cascade, 300, 4);
    assert!(!without.within(30), "{without:?}");
    assert_eq!(without.counters.policy_depth_max, 10);
    assert_eq!(without.counters.policy_cut, 0);
    assert!(
        without.max_policy_lag_ns > 10_000_000_000,
        "{}",
        without.max_policy_lag_ns
    );

    let with = scenario(
        default_set().with(Safeguard::CascadeDetector),
        cascade,
        300,
        4,
    );
    eprintln!(
        "policy cascade: without -> {:?}, with -> {:?}",
        without.recovery, with.recovery
    );
    assert!(with.within(30), "{with:?}");
    assert!(
        with.log
            .first_fired(Safeguard::CascadeDetector)
            .is_some_and(|t| t <= secs(FAULT_AT_S + 2))
    );
    let limit = Layer2Spec::default().policy.recursion_limit;
    assert_eq!(with.counters.policy_depth_max, limit);
    // 3^6 evaluations at level 6 were cut.
    assert_eq!(with.counters.policy_cut, 729);
}

#[test]
fn worker_dropout_leaves_pool_degraded_without_recovery_and_respawns_with_it() {
    let dropout = Layer2Fault::WorkerDropout {
        share_permille: 500,
    };
    let without = scenario(
        default_set().without(Safeguard::WorkerPoolRecovery),
        dropout,
        240,
        5,
    );
    assert!(
        matches!(without.recovery, Recovery::NotRecovered { .. }),
        "{without:?}"
    );
    assert_eq!(without.counters.workers_killed, 8);
    assert_eq!(without.counters.workers_respawned, 0);

    let with = scenario(default_set(), dropout, 240, 5);
    eprintln!(
        "worker dropout: without -> {:?}, with -> {:?}",
        without.recovery, with.recovery
    );
    assert!(with.within(60), "{with:?}");
    assert_eq!(with.min_workers, 8);
    assert_eq!(with.counters.workers_respawned, 8);
    assert!(
        with.counters.rerouted_tasks > 0,
        "orphaned tasks reassigned: {:?}",
        with.counters
    );
    let fired = with
        .log
        .first_fired(Safeguard::WorkerPoolRecovery)
        .expect("recovery fired");
    // Heartbeat timeout 3 s, checks every 5 s.
    assert!(
        fired >= secs(FAULT_AT_S + 3) && fired <= secs(FAULT_AT_S + 10),
        "fired at {fired}"
    );
}

fn replica_run(
    faults: &[Layer2Fault],
    deployed: SafeguardSet,
    seed: u64,
    mut at: impl FnMut(u64, ReplicaView, ReplicaView),
) -> Layer2Counters {
    let mut sim = boot(&Layer2Spec::default(), deployed, seed);
    sim.run_until(secs(FAULT_AT_S)).unwrap();
    for f in faults {
        sim.with_ctx(|m, ctx| m.0.inject(f, ctx));
    }
    for s in FAULT_AT_S + 1..=FAULT_AT_S + 150 {
        sim.run_until(secs(s)).unwrap();
        let l2 = &sim.model().0;
        at(
            s - FAULT_AT_S,
            l2.replica(1).unwrap(),
            l2.replica(0).unwrap(),
        );
    }
    *sim.model().0.counters()
}

#[test]
fn sandbox_fallback_quarantines_rebuilds_validates_and_promotes_by_canary() {
    let mut shares = Vec::new();
    let mut quarantined_at = None;
    let mut promoted_at = None;
    replica_run(
        &[Layer2Fault::ReplicaFailure { replica: 1 }],
        default_set(),
        6,
        |s, r, donor| {
            if quarantined_at.is_none() && r.quarantines == 1 {
                quarantined_at = Some(s);
                assert_eq!(r.share_permille, 0);
                assert_eq!(donor.share_permille, 666, "traffic shifted to replica 0");
            }
            if r.state == ReplicaState::Canary {
                shares.push(r.share_permille);
            }
            if promoted_at.is_none() && r.promotions == 1 {
                promoted_at = Some(s);
            }
        },
    );
    let q = quarantined_at.expect("quarantined");
    assert!(q <= 3, "quarantined {q} s after the failure");
    // rebuild 30 s + validate 5 s, then 6 steps of 12 s.
    let p = promoted_at.expect("promoted");
    assert!(
        (q + 35 + 72 - 1..=q + 35 + 72 + 1).contains(&p),
        "promoted at {p}, quarantined at {q}"
    );
    shares.dedup();
    assert_eq!(
        shares,
        vec![0, 66, 133, 199, 266, 333],
        "canary 0-20-40-60-80-100 % of its share"
    );
}

#[test]
fn sandbox_fallback_rolls_back_a_canary_that_errors() {
    let mut rolled_back = None;
    let mut last = None;
    let faults = [
        Layer2Fault::ReplicaFailure { replica: 1 },
        Layer2Fault::CanaryRegression {
            replica: 1,
            error_permille: 300,
        },
    ];
    replica_run(&faults, default_set(), 7, |s, r, donor| {
        if rolled_back.is_none() && r.rollbacks == 1 {
            rolled_back = Some((s, r.canary_step));
        }
        last = Some((r, donor));
    });
    let (s, step) = rolled_back.expect("rolled back");
    assert!(
        (1..=2).contains(&step),
        "caught at the 20 % or 40 % step, not later: step {step} at {s} s"
    );
    let (r, donor) = last.unwrap();
    assert_eq!(r.state, ReplicaState::RolledBack);
    assert_eq!(r.share_permille, 0);
    assert_eq!(r.promotions, 0);
    assert_eq!(donor.share_permille, 666, "traffic back on the donor");
}

#[test]
fn without_sandbox_fallback_a_failed_replica_keeps_its_traffic() {
    let mut last = None;
    let c = replica_run(
        &[Layer2Fault::ReplicaFailure { replica: 1 }],
        default_set().without(Safeguard::SandboxFallback),
        6,
        |_, r, _| {
            last = Some(r);
        },
    );
    let r = last.unwrap();
    assert_eq!(r.quarantines, 0);
    assert_eq!(r.share_permille, 333);
    assert!(r.health < 0.01, "health {}", r.health);
    assert!(c.retried > 500, "{c:?}");
}

#[test]
fn circuit_breaker_holds_dispatch_instead_of_burning_workers_on_timeouts() {
    let outage = Layer2Fault::DependencyErrors {
        error_permille: 1000,
        length_ns: 60_000_000_000,
    };
    let without = scenario(
        default_set().without(Safeguard::CircuitBreaker),
        outage,
        240,
        8,
    );
    let with = scenario(default_set(), outage, 240, 8);
    assert_eq!(without.log.count(Safeguard::CircuitBreaker), 0);
    let fired = with
        .log
        .first_fired(Safeguard::CircuitBreaker)
        .expect("breaker opened");
    assert!(fired <= secs(FAULT_AT_S + 7), "opened at {fired}");
    // Open 10 s, half-open trials fail while the outage lasts: it re-opens
    // about every 15 s, then closes after the outage.
    assert!(
        (3..=8).contains(&with.counters.breaker_opens),
        "{:?}",
        with.counters
    );
    assert!(
        with.counters.dependency_timeout_ns * 3 < without.counters.dependency_timeout_ns,
        "worker time lost to timeouts: with {} ns, without {} ns",
        with.counters.dependency_timeout_ns,
        without.counters.dependency_timeout_ns
    );
    assert!(
        with.counters.failed * 5 < without.counters.failed,
        "failed: with {}, without {}",
        with.counters.failed,
        without.counters.failed
    );
    assert!(with.within(120) && without.within(120));
}

#[test]
fn breaker_is_closed_again_after_the_outage() {
    let mut sim = boot(&Layer2Spec::default(), default_set(), 9);
    sim.run_until(secs(FAULT_AT_S)).unwrap();
    sim.with_ctx(|m, ctx| {
        m.0.inject(
            &Layer2Fault::DependencyErrors {
                error_permille: 1000,
                length_ns: 30_000_000_000,
            },
            ctx,
        )
    });
    sim.run_until(secs(FAULT_AT_S + 10)).unwrap();
    assert_eq!(sim.model().0.probe(sim.now()).breaker, BreakerState::Open);
    sim.run_until(secs(FAULT_AT_S + 90)).unwrap();
    assert_eq!(sim.model().0.probe(sim.now()).breaker, BreakerState::Closed);
}

#[test]
fn load_shedder_drops_only_old_low_priority_tasks_past_critical() {
    // Scheduler stuck with no watchdog: the queue passes critical (5,000)
    // after about 200 s; queued tasks become sheddable after 60 s. Shedding
    // is a tier-3 intent: it waits for the components' vote (the scheduler,
    // paused, cannot vote; three of four still make the quorum).
    let pause = Layer2Fault::PauseScheduler {
        length_ns: None,
        queued_tasks: 1_000,
    };
    let base = default_set().without(Safeguard::SchedulerWatchdog);
    let with = scenario(base, pause, 60 + 400, 10);
    let without = scenario(base.without(Safeguard::LoadShedder), pause, 60 + 400, 10);
    assert_eq!(without.counters.shed, 0);
    assert!(
        without
            .log
            .records()
            .iter()
            .any(|r| !r.acted && r.safeguard == Safeguard::LoadShedder),
        "the shadow detector saw the need"
    );
    let fired = with
        .log
        .first_fired(Safeguard::LoadShedder)
        .expect("shedder fired");
    eprintln!("fired {fired} shed {}", with.counters.shed);
    assert!(
        fired > secs(FAULT_AT_S + 150) && fired <= secs(FAULT_AT_S + 300),
        "fired at {fired}"
    );
    // Half the priorities are sheddable, and only tasks waiting over 60 s.
    assert!(
        with.counters.shed > 1_000 && with.counters.shed < 5_000,
        "{:?}",
        with.counters
    );
}

#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);
impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn narratives_and_telemetry_stream_5w1h_jsonl_and_csv() {
    let narr = Shared::default();
    let tele = Shared::default();
    let l2 = Layer2::new(
        &Layer2Spec::default(),
        default_set(),
        SeedPath::root(11),
        SimTime::ZERO,
    );
    let mut sim = Simulation::starting_at(Solo(l2), SeedPath::root(11), SimTime::ZERO);
    sim.model_mut().0.attach_narrative(Box::new(narr.clone()));
    sim.model_mut()
        .0
        .attach_telemetry(Box::new(tele.clone()), SimTime::ZERO);
    sim.with_ctx(|m, ctx| m.0.boot(ctx));
    sim.run_until(secs(30)).unwrap();
    sim.with_ctx(|m, ctx| {
        m.0.inject(
            &Layer2Fault::WorkerDropout {
                share_permille: 500,
            },
            ctx,
        )
    });
    sim.with_ctx(|m, ctx| {
        m.0.inject(
            &Layer2Fault::PauseScheduler {
                length_ns: None,
                queued_tasks: 100,
            },
            ctx,
        )
    });
    sim.run_until(secs(90)).unwrap();
    assert!(!sim.model().0.output_failed());
    let text = String::from_utf8(narr.0.borrow().clone()).unwrap();
    let mut whats = std::collections::BTreeSet::new();
    let mut whos = std::collections::BTreeSet::new();
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for k in ["who", "what", "when_ns", "where", "why", "how"] {
            assert!(v.get(k).is_some(), "missing {k}: {line}");
        }
        assert!(v["why"].is_array());
        whats.insert(v["what"].as_str().unwrap().to_string());
        whos.insert(v["who"].as_str().unwrap().to_string());
    }
    assert!(
        whats.contains("dispatch") && whats.contains("reroute"),
        "{whats:?}"
    );
    assert!(
        whos.contains("worker_pool_recovery") && whos.contains("scheduler_watchdog"),
        "{whos:?}"
    );
    let csv = String::from_utf8(tele.0.borrow().clone()).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("t_s,queue_depth,workers_alive"));
    assert_eq!(rows.len(), 1 + 6, "a row every 15 s over 90 s");
    assert!(rows[1].starts_with("15.000,"));
}

#[test]
fn watchdog_raises_alerts_for_lost_subscriptions_and_an_empty_pool() {
    let mut sim = boot(
        &Layer2Spec::default(),
        default_set().without(Safeguard::WorkerPoolRecovery),
        12,
    );
    sim.run_until(secs(FAULT_AT_S)).unwrap();
    let p = sim.model().0.probe(sim.now());
    assert!(p.ready && p.alerts_critical == 0 && p.alerts_warning == 0 && p.slo_breaches == 0);
    sim.with_ctx(|m, ctx| {
        m.0.inject(&Layer2Fault::LoseSubscriptions { count: 4 }, ctx)
    });
    sim.run_until(secs(FAULT_AT_S + 16)).unwrap();
    let p = sim.model().0.probe(sim.now());
    assert_eq!(p.mesh_subscriptions, 4);
    assert_eq!(p.alerts_warning, 1, "fewer than 5 subscriptions");
    sim.with_ctx(|m, ctx| {
        m.0.inject(
            &Layer2Fault::WorkerDropout {
                share_permille: 1000,
            },
            ctx,
        )
    });
    sim.run_until(secs(FAULT_AT_S + 31)).unwrap();
    let p = sim.model().0.probe(sim.now());
    assert_eq!(p.workers_alive, 0);
    assert!(p.alerts_critical >= 1, "{p:?}");
    assert!(p.slo_breaches >= 1);
}

#[test]
fn readiness_check_passes_after_the_components_boot() {
    let mut sim = boot(&Layer2Spec::default(), default_set(), 13);
    sim.run_until(secs(1)).unwrap();
    assert!(!sim.model().0.probe(sim.now()).ready);
    sim.run_until(secs(3)).unwrap();
    assert!(sim.model().0.probe(sim.now()).ready);
    assert!(!sim.model().0.readiness_failed());
}

#[test]
fn readiness_check_times_out_when_components_boot_too_slowly() {
    let mut spec = Layer2Spec::default();
    spec.watchdog.component_boot_ns = 40_000_000_000;
    let mut sim = boot(&spec, default_set(), 14);
    sim.run_until(secs(35)).unwrap();
    assert!(sim.model().0.readiness_failed());
    assert_eq!(sim.model().0.probe(sim.now()).alerts_critical, 1);
}

fn digest_of(seed: u64) -> (u64, u64) {
    let mut sim = boot(&Layer2Spec::default(), SafeguardSet::all(), seed);
    sim.run_until(secs(30)).unwrap();
    for f in [
        Layer2Fault::QueueFlood {
            intents: 2_000,
            invalid_permille: 500,
            over_ns: 5_000_000_000,
        },
        Layer2Fault::WorkerDropout {
            share_permille: 500,
        },
        Layer2Fault::ReplicaFailure { replica: 2 },
        Layer2Fault::PolicyCascade { depth: 10 },
    ] {
        sim.with_ctx(|m, ctx| m.0.inject(&f, ctx));
    }
    sim.run_until(secs(200)).unwrap();
    (sim.digest().value(), sim.events_handled())
}

#[test]
fn same_seed_same_digest() {
    assert_eq!(digest_of(21), digest_of(21));
    assert_ne!(digest_of(21).0, digest_of(22).0);
}

#[test]
fn try_new_rejects_an_invalid_spec_without_panicking() {
    let mut spec = Layer2Spec::default();
    spec.workers.count = 0;
    let err = Layer2::try_new(&spec, default_set(), SeedPath::root(1), SimTime::ZERO)
        .err()
        .unwrap();
    assert_eq!(err.field, "workers.count", "{err}");
}

/// The first dispatches after boot, from the narrative: (task, worker, priority).
fn first_dispatches(discipline: chaosim::model::layer2::Discipline) -> Vec<(u64, String, u64)> {
    let mut spec = Layer2Spec::default();
    spec.workers.count = 4;
    spec.workers.service =
        chaosim::model::layer2::ServiceDist::Deterministic { ns: 20_000_000_000 };
    spec.htm.discipline = discipline;
    let narr = Shared::default();
    let l2 = Layer2::new(&spec, default_set(), SeedPath::root(15), SimTime::ZERO);
    let mut sim = Simulation::starting_at(Solo(l2), SeedPath::root(15), SimTime::ZERO);
    sim.model_mut().0.attach_narrative(Box::new(narr.clone()));
    sim.with_ctx(|m, ctx| m.0.boot(ctx));
    sim.run_until(secs(3)).unwrap();
    let text = String::from_utf8(narr.0.borrow().clone()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["what"] == "dispatch")
        .map(|v| {
            let prio = v["why"]
                .as_array()
                .unwrap()
                .iter()
                .find_map(|w| {
                    w.as_str()
                        .unwrap()
                        .strip_prefix("priority=")
                        .map(|p| p.parse().unwrap())
                })
                .unwrap();
            (
                v["task"].as_u64().unwrap(),
                v["where"].as_str().unwrap().to_string(),
                prio,
            )
        })
        .collect()
}

#[test]
fn scheduler_dispatches_to_the_least_loaded_worker_in_queue_order() {
    use chaosim::model::layer2::Discipline;
    // About 40 intents queue during the 2 s boot; 4 workers x 2 slots take 8.
    let prio = first_dispatches(Discipline::Priority);
    assert_eq!(prio.len(), 8, "{prio:?}");
    let workers: Vec<&str> = prio.iter().map(|d| d.1.as_str()).collect();
    assert_eq!(
        workers,
        [
            "worker:0", "worker:1", "worker:2", "worker:3", "worker:0", "worker:1", "worker:2",
            "worker:3"
        ]
    );
    assert!(
        prio.windows(2).all(|w| w[0].2 >= w[1].2),
        "highest priority first: {prio:?}"
    );
    assert!(prio[0].2 > prio[7].2 || prio[0].2 == 9, "{prio:?}");
    let fifo = first_dispatches(Discipline::Fifo);
    assert!(
        fifo.windows(2).all(|w| w[0].0 < w[1].0),
        "oldest first: {fifo:?}"
    );
}

#[test]
fn attaching_outputs_does_not_change_the_run() {
    let run = |attach: bool| {
        let l2 = Layer2::new(
            &Layer2Spec::default(),
            default_set(),
            SeedPath::root(16),
            SimTime::ZERO,
        );
        let mut sim = Simulation::starting_at(Solo(l2), SeedPath::root(16), SimTime::ZERO);
        if attach {
            sim.model_mut()
                .0
                .attach_narrative(Box::new(Shared::default()));
            sim.model_mut()
                .0
                .attach_telemetry(Box::new(Shared::default()), SimTime::ZERO);
        }
        sim.with_ctx(|m, ctx| m.0.boot(ctx));
        sim.run_until(secs(30)).unwrap();
        sim.with_ctx(|m, ctx| {
            m.0.inject(
                &Layer2Fault::WorkerDropout {
                    share_permille: 500,
                },
                ctx,
            )
        });
        sim.run_until(secs(120)).unwrap();
        (sim.digest().value(), *sim.model().0.counters())
    };
    assert_eq!(run(false), run(true));
}
