//! Layer-1 behaviour: each scenario of the stress test and the DiRT/FIT
//! families runs on `Simulation<Solo<Layer1>>` and asserts the *mechanism*
//! (which safeguard fired, when, what it did) as well as the verdict.

use chaosim::check::steady::{Recovery, RecoveryTracker};
use chaosim::engine::{SeedPath, SimDuration, SimTime, Simulation};
use chaosim::model::Solo;
use chaosim::model::layer1::{KernelState, Layer1, Layer1Fault, Layer1Spec};
use chaosim::safeguard::{Safeguard, SafeguardSet};

const SEED: u64 = 42;
/// Boot settles within this (max boot 1.5 s x 1.1 plus first heartbeats).
const SETTLE: SimDuration = SimDuration::from_secs(10);
const SAMPLE: SimDuration = SimDuration::from_millis(100);
const STABLE: SimDuration = SimDuration::from_secs(5);

fn noon() -> SimTime {
    SimTime::from_day_time(0, 12, 0, 0).unwrap()
}

fn two_am() -> SimTime {
    SimTime::from_day_time(0, 2, 0, 0).unwrap()
}

fn default_set() -> SafeguardSet {
    Layer1Spec::default().default_safeguards
}

/// Handle events up to `t` and stop *on* an event, so that the clock and
/// the queue agree and faults can be injected with `with_ctx`.
///
/// Why not `run_until(t)`: the engine's queue settles on the next pending
/// event when it peeks, so after `run_until(t)` scheduling anything between
/// `t` and that next event panics ("event scheduled in the past"). Stepping
/// ends on an event at or just after `t` (the API tick every 100 ms lands
/// exactly on `t` for the times used here).
fn advance_to(sim: &mut Simulation<Solo<Layer1>>, t: SimTime) {
    while let Some(at) = sim.step().unwrap() {
        if at >= t {
            break;
        }
    }
}

struct Experiment {
    sim: Simulation<Solo<Layer1>>,
    /// When the faults were injected.
    t0: SimTime,
    tracker: RecoveryTracker,
}

impl Experiment {
    fn l1(&self) -> &Layer1 {
        &self.sim.model().0
    }

    fn recovery(&self) -> Recovery {
        self.tracker.recovery()
    }

    /// Recovery time (from the first violation), seconds.
    fn recovery_s(&self) -> Option<f64> {
        self.recovery().duration().map(|d| d.as_secs_f64())
    }

    /// Seconds from the injection to the first firing of `s`.
    fn fired_after_s(&self, s: Safeguard) -> Option<f64> {
        self.l1()
            .safeguards()
            .first_fired(s)
            .map(|t| (t - self.t0).as_secs_f64())
    }

    fn kernel(&self, name: &str) -> u16 {
        self.l1().kernel_index(name).unwrap()
    }
}

/// Boot at `start`, let it settle, inject `faults` (built with the model to
/// resolve names), then sample the steady state every 100 ms for `observe`.
fn experiment(
    deployed: SafeguardSet,
    start: SimTime,
    faults: impl Fn(&Layer1) -> Vec<Layer1Fault>,
    observe: SimDuration,
) -> Experiment {
    let spec = Layer1Spec::default();
    let seed = SeedPath::root(SEED).child("layer1-test");
    let l1 = Layer1::new(&spec, deployed, seed, start);
    let mut sim = Simulation::starting_at(Solo(l1), seed, start);
    sim.with_ctx(|m, ctx| m.0.boot(ctx));
    advance_to(&mut sim, start + SETTLE);
    let t0 = sim.now();
    assert!(
        sim.model().0.probe(t0).healthy(),
        "healthy before the fault: {:?}",
        sim.model().0.probe(t0)
    );
    let fs = faults(&sim.model().0);
    sim.with_ctx(|m, ctx| {
        for f in &fs {
            m.0.inject(f, ctx);
        }
    });
    let mut tracker = RecoveryTracker::new(STABLE);
    let end = t0 + observe;
    while sim.now() < end {
        let next = sim.now() + SAMPLE;
        sim.run_until(next).unwrap();
        let healthy = sim.model().0.probe(next).healthy();
        tracker.observe(next, healthy);
    }
    Experiment { sim, t0, tracker }
}

/// Whether the run met a recovery limit: restored (stably) within it.
fn within(e: &Experiment, limit_s: f64) -> bool {
    e.recovery_s().is_some_and(|r| r <= limit_s)
}

#[test]
fn boot_of_the_20_kernels_completes_and_the_default_hypothesis_holds() {
    let e = experiment(
        default_set(),
        noon(),
        |_| vec![],
        SimDuration::from_secs(30),
    );
    let l1 = e.l1();
    assert_eq!(l1.kernel_count(), 20);
    for k in 0..20 {
        assert_eq!(
            l1.kernel_state(k),
            KernelState::Running,
            "{}",
            l1.kernel_name(k)
        );
    }
    let p = l1.probe(e.sim.now());
    assert_eq!(
        (p.kernels_running, p.critical_running, p.critical_total),
        (20, 5, 5)
    );
    assert!(p.healthy(), "{p:?}");
    assert_eq!(e.recovery(), Recovery::NeverViolated);
    assert_eq!(l1.stats().restarts, 0);
    assert!(l1.safeguards().fired().is_empty());
}

#[test]
fn same_seed_gives_the_same_digest_and_another_seed_another() {
    let run = |seed: u64| {
        let spec = Layer1Spec::default();
        let path = SeedPath::root(seed);
        let mut sim = Simulation::starting_at(
            Solo(Layer1::new(&spec, default_set(), path, noon())),
            path,
            noon(),
        );
        sim.with_ctx(|m, ctx| m.0.boot(ctx));
        advance_to(&mut sim, noon() + SETTLE);
        sim.with_ctx(|m, ctx| {
            let k = m.0.kernel_index("scheduler").unwrap();
            m.0.inject(&Layer1Fault::KillKernel { kernel: k }, ctx);
            m.0.inject(
                &Layer1Fault::AclFlood {
                    publisher: 3,
                    rate_per_s: 20_000,
                    length_ns: 30_000_000_000,
                },
                ctx,
            );
        });
        sim.run_for(SimDuration::from_secs(120)).unwrap();
        (sim.digest(), sim.events_handled())
    };
    assert_eq!(run(7), run(7));
    assert_ne!(
        run(7).0,
        run(8).0,
        "boot jitter and approval delays come from the seed"
    );
}

#[test]
fn s01_heartbeat_pause_is_restarted_about_a_second_after_the_watchdog_detects_it() {
    let e = experiment(
        default_set(),
        noon(),
        |l| {
            vec![Layer1Fault::PauseHeartbeat {
                kernel: l.kernel_index("coding_agent").unwrap(),
                length_ns: 5_000_000_000,
            }]
        },
        SimDuration::from_secs(60),
    );
    // Mechanism: the watchdog fires 3 missed intervals (3 s) after the last
    // heartbeat that arrived before the pause, i.e. 2-3 s after the pause.
    let fired = e.fired_after_s(Safeguard::HeartbeatWatchdog).unwrap();
    assert!(
        (2.0..=3.1).contains(&fired),
        "watchdog fired after {fired} s"
    );
    let l1 = e.l1();
    let k = e.kernel("coding_agent");
    assert_eq!(l1.kernel_restarts(k), 1);
    assert_eq!(l1.playbook_completed("critical_kernel_restart"), 1);
    assert_eq!(
        l1.governance_stats().routed_by_tier[1],
        2,
        "two tier-1 steps"
    );
    assert_eq!(l1.kernel_state(k), KernelState::Running);
    // Verdict: restored within about a second of detection.
    let r = e.recovery_s().unwrap();
    assert!(r > 0.0 && r <= 1.5, "recovery {r} s");
    match e.recovery() {
        Recovery::Recovered { violated_at, .. } => {
            assert!(((violated_at - e.t0).as_secs_f64() - fired).abs() <= 0.1)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn s01_without_watchdogs_recovers_only_when_the_pause_ends() {
    let set = default_set()
        .without(Safeguard::HeartbeatWatchdog)
        .without(Safeguard::KernelWatchdog);
    let e = experiment(
        set,
        noon(),
        |l| {
            vec![Layer1Fault::PauseHeartbeat {
                kernel: l.kernel_index("coding_agent").unwrap(),
                length_ns: 5_000_000_000,
            }]
        },
        SimDuration::from_secs(60),
    );
    assert_eq!(e.l1().stats().restarts, 0);
    assert!(e.l1().safeguards().fired().is_empty());
    match e.recovery() {
        Recovery::Recovered { restored_at, .. } => {
            let at = (restored_at - e.t0).as_secs_f64();
            assert!(
                (5.0..=5.2).contains(&at),
                "restored {at} s after the pause began"
            );
        }
        other => panic!("{other:?}"),
    }
}

fn s02(deployed: SafeguardSet) -> Experiment {
    experiment(
        deployed,
        noon(),
        |l| {
            vec![Layer1Fault::AclFlood {
                publisher: l.kernel_index("coding_agent").unwrap(),
                rate_per_s: 20_000,
                length_ns: 60_000_000_000,
            }]
        },
        SimDuration::from_secs(90),
    )
}

#[test]
fn s02_acl_flood_causes_false_restarts_and_fails_90s_without_the_monitor() {
    let e = s02(default_set());
    let l1 = e.l1();
    let st = l1.stats();
    // Mechanism: heartbeats queue behind the flood (and are dropped once the
    // buffer is full), the watchdog restarts live kernels, restarts run out.
    assert!(st.heartbeats_dropped > 0, "{st:?}");
    assert!(
        st.false_restarts > 0 && st.false_restarts == st.restarts,
        "{st:?}"
    );
    assert!(st.kernels_failed >= 10, "{st:?}");
    assert!(
        l1.safeguards()
            .first_fired(Safeguard::KernelWatchdog)
            .is_some()
    );
    assert!(l1.acl_violations() > 1_000_000);
    assert!(
        l1.safeguards()
            .first_fired(Safeguard::AclViolationMonitor)
            .is_none()
    );
    // Verdict: not restored within the 90 s limit; the platform is degraded.
    assert!(!within(&e, 90.0), "{:?}", e.recovery());
    let p = l1.probe(e.sim.now());
    assert!(p.kernels_running <= 10, "{p:?}");
}

#[test]
fn s02_acl_monitor_quarantines_the_violator_and_recovers_within_90s() {
    let e = s02(default_set().with(Safeguard::AclViolationMonitor));
    let l1 = e.l1();
    let fired = e.fired_after_s(Safeguard::AclViolationMonitor).unwrap();
    assert!(fired <= 1.0, "monitor fired after {fired} s");
    assert!(l1.is_quarantined(e.kernel("coding_agent")));
    assert_eq!(l1.stats().quarantines, 1);
    assert_eq!(l1.playbook_completed("acl_flood_quarantine"), 1);
    assert_eq!(l1.stats().false_restarts, 0);
    assert_eq!(l1.stats().kernels_failed, 0);
    assert!(within(&e, 90.0), "{:?}", e.recovery());
    assert!(e.recovery_s().unwrap() <= 10.0);
}

fn s03(deployed: SafeguardSet) -> Experiment {
    s03_for(deployed, SimDuration::from_secs(60))
}

fn s03_for(deployed: SafeguardSet, observe: SimDuration) -> Experiment {
    experiment(
        deployed,
        noon(),
        |l| {
            vec![Layer1Fault::CpuSpike {
                kernel: l.kernel_index("sandbox").unwrap(),
                share_permille: 4000,
                length_ns: 45_000_000_000,
            }]
        },
        observe,
    )
}

#[test]
fn s03_cpu_spike_starves_heartbeats_and_fails_60s_without_the_monitor() {
    let e = s03(default_set());
    let l1 = e.l1();
    let st = l1.stats();
    assert!(st.watchdog_timeouts > 0 && st.false_restarts > 0, "{st:?}");
    assert!(st.kernels_failed > 0, "{st:?}");
    assert!(
        l1.safeguards()
            .first_fired(Safeguard::ResourcePressureMonitor)
            .is_none()
    );
    assert_eq!(l1.cpu_cap_millicores(e.kernel("sandbox")), None);
    assert!(!within(&e, 60.0), "{:?}", e.recovery());
}

#[test]
fn s03_pressure_monitor_isolates_the_hog_to_half_the_cores_and_recovers() {
    let e = s03(default_set().with(Safeguard::ResourcePressureMonitor));
    let l1 = e.l1();
    let fired = e.fired_after_s(Safeguard::ResourcePressureMonitor).unwrap();
    assert!(fired <= 2.0, "monitor fired after {fired} s");
    assert_eq!(l1.stats().isolations, 1);
    // The cap holds while the hog runs (and is lifted when it ends).
    assert_eq!(l1.cpu_cap_millicores(e.kernel("sandbox")), None);
    let mid = s03_for(
        default_set().with(Safeguard::ResourcePressureMonitor),
        SimDuration::from_secs(20),
    );
    assert_eq!(
        mid.l1().cpu_cap_millicores(mid.kernel("sandbox")),
        Some(8_000)
    );
    assert!(mid.l1().probe(mid.sim.now()).cpu_permille <= 900);
    assert_eq!(l1.playbook_completed("resource_pressure_isolation"), 1);
    assert_eq!(
        l1.governance_stats().votes,
        1,
        "isolation is a tier-3 intent"
    );
    assert_eq!(l1.stats().kernels_failed, 0);
    assert!(within(&e, 60.0), "{:?}", e.recovery());
}

fn fit01(deployed: SafeguardSet) -> Experiment {
    experiment(
        deployed,
        noon(),
        |_| {
            vec![Layer1Fault::ApiFlood {
                rate_per_s: 20_000,
                length_ns: 60_000_000_000,
            }]
        },
        SimDuration::from_secs(90),
    )
}

#[test]
fn fit01_api_flood_collapses_success_without_the_rate_limiter() {
    let mut e = fit01(default_set());
    assert!(
        e.l1()
            .safeguards()
            .first_fired(Safeguard::RateLimiter)
            .is_none()
    );
    assert!(!within(&e, 30.0), "{:?}", e.recovery());
    // Mid-flood: legitimate requests time out in the queue.
    let mut e2 = fit01(default_set());
    std::mem::swap(&mut e, &mut e2);
    let spec = Layer1Spec::default();
    let path = SeedPath::root(SEED);
    let mut sim = Simulation::starting_at(
        Solo(Layer1::new(&spec, default_set(), path, noon())),
        path,
        noon(),
    );
    sim.with_ctx(|m, ctx| m.0.boot(ctx));
    advance_to(&mut sim, noon() + SETTLE);
    sim.with_ctx(|m, ctx| {
        m.0.inject(
            &Layer1Fault::ApiFlood {
                rate_per_s: 20_000,
                length_ns: 60_000_000_000,
            },
            ctx,
        )
    });
    sim.run_for(SimDuration::from_secs(30)).unwrap();
    let p = sim.model().0.probe(sim.now());
    assert_eq!(p.api_success_permille, 0, "{p:?}");
    assert!(p.api_latency_ms >= 1_000, "{p:?}");
}

#[test]
fn fit01_rate_limiter_rejects_the_flooder_and_the_steady_state_holds() {
    let e = fit01(default_set().with(Safeguard::RateLimiter));
    let l1 = e.l1();
    let fired = e.fired_after_s(Safeguard::RateLimiter).unwrap();
    assert!(fired <= 0.2, "rate limiter fired after {fired} s");
    assert!(l1.api_rejected_by_limiter() > 1_000_000);
    assert_eq!(l1.rate_limiter_episodes(), 1);
    assert_eq!(e.recovery(), Recovery::NeverViolated);
}

fn dirt01(deployed: SafeguardSet, start: SimTime) -> Experiment {
    experiment(
        deployed,
        start,
        |l| {
            vec![Layer1Fault::KillKernel {
                kernel: l.kernel_index("scheduler").unwrap(),
            }]
        },
        SimDuration::from_secs(2_400),
    )
}

#[test]
fn dirt01_critical_kill_is_detected_within_30s_and_recovered_by_the_emergency_protocol() {
    let e = dirt01(default_set(), noon());
    let l1 = e.l1();
    let detected = e
        .fired_after_s(Safeguard::CriticalKernelHeartbeatTrigger)
        .unwrap();
    assert!(detected <= 30.0, "detected after {detected} s");
    assert_eq!(
        e.fired_after_s(Safeguard::EmergencyProtocol),
        Some(detected)
    );
    assert_eq!(
        l1.playbook_completed("emergency_critical_kernel_recovery"),
        1
    );
    // The pending human escalation was pre-empted.
    assert_eq!(l1.playbook_completed("critical_kernel_escalation"), 0);
    assert_eq!(
        l1.governance_stats().emergency_overrides,
        3,
        "three tier-4 steps"
    );
    assert_eq!(l1.kernel_state(e.kernel("scheduler")), KernelState::Running);
    let r = e.recovery_s().unwrap();
    assert!(r <= 30.0, "recovery {r} s");
}

#[test]
fn dirt01_without_the_trigger_waits_for_a_human_and_longer_at_night() {
    let set = default_set().without(Safeguard::CriticalKernelHeartbeatTrigger);
    let day = dirt01(set, noon());
    let night = dirt01(set, two_am());
    for e in [&day, &night] {
        let l1 = e.l1();
        assert!(
            l1.safeguards()
                .first_fired(Safeguard::CriticalKernelHeartbeatTrigger)
                .is_none()
        );
        assert!(
            l1.safeguards()
                .first_fired(Safeguard::EmergencyProtocol)
                .is_none()
        );
        assert_eq!(l1.playbook_completed("critical_kernel_escalation"), 1);
        assert_eq!(l1.governance_stats().approvals_waited, 1);
    }
    let d = day.recovery_s().unwrap();
    let n = night.recovery_s().unwrap();
    // The human is at the desk by day (30 s median), paged at night (15 min).
    assert!((15.0..120.0).contains(&d), "day recovery {d} s");
    assert!(n > 5.0 * d, "night {n} s vs day {d} s");
}

#[test]
fn mf01_killing_more_kernels_at_once_makes_recovery_longer() {
    let names = [
        "message_bus",
        "immutable_log",
        "governance",
        "scheduler",
        "api_server",
    ];
    let rec = |n: usize| {
        let e = experiment(
            default_set(),
            noon(),
            |l| {
                names[..n]
                    .iter()
                    .map(|k| Layer1Fault::KillKernel {
                        kernel: l.kernel_index(k).unwrap(),
                    })
                    .collect()
            },
            SimDuration::from_secs(300),
        );
        // Mechanism: one emergency recovery per kernel, one at a time.
        assert_eq!(
            e.l1()
                .playbook_completed("emergency_critical_kernel_recovery"),
            n as u32
        );
        e.recovery_s().unwrap()
    };
    let (r1, r3, r5) = (rec(1), rec(3), rec(5));
    assert!(r1 < r3 && r3 < r5, "{r1} {r3} {r5}");
}

#[test]
fn a_kernel_over_its_restart_budget_is_failed() {
    let spec = Layer1Spec::default();
    let path = SeedPath::root(SEED);
    let mut sim = Simulation::starting_at(
        Solo(Layer1::new(&spec, default_set(), path, noon())),
        path,
        noon(),
    );
    sim.with_ctx(|m, ctx| m.0.boot(ctx));
    advance_to(&mut sim, noon() + SETTLE);
    let k = sim.model().0.kernel_index("librarian").unwrap();
    for round in 0..4 {
        sim.with_ctx(|m, ctx| m.0.inject(&Layer1Fault::KillKernel { kernel: k }, ctx));
        let next = sim.now() + SimDuration::from_secs(20);
        advance_to(&mut sim, next);
        let l1 = &sim.model().0;
        if round < 3 {
            assert_eq!(l1.kernel_state(k), KernelState::Running, "round {round}");
            assert_eq!(l1.kernel_restarts(k), round + 1);
        }
    }
    let l1 = &sim.model().0;
    assert_eq!(l1.kernel_state(k), KernelState::Failed);
    assert_eq!(l1.kernel_restarts(k), 3);
    assert_eq!(l1.stats().kernels_failed, 1);
    assert_eq!(
        l1.safeguards().count(Safeguard::KernelWatchdog),
        5,
        "4 exits + 1 failure"
    );
    let p = l1.probe(sim.now());
    assert_eq!((p.kernels_failed, p.kernels_running), (1, 19));
    assert!(!p.healthy());
}

fn dirt02(deployed: SafeguardSet) -> Experiment {
    experiment(
        deployed,
        noon(),
        |l| {
            vec![
                Layer1Fault::CorruptSnapshots { count: 2 },
                Layer1Fault::KillKernel {
                    kernel: l.kernel_index("governance").unwrap(),
                },
            ]
        },
        SimDuration::from_secs(600),
    )
}

#[test]
fn dirt02_corrupt_snapshots_crash_loop_without_hygiene_and_are_skipped_with_it() {
    let bad = dirt02(default_set().without(Safeguard::SnapshotHygieneManager));
    let l1 = bad.l1();
    assert!(l1.stats().corrupt_restores >= 1, "{:?}", l1.stats());
    assert!(l1.kernel_restarts(bad.kernel("governance")) >= 2);
    let good = dirt02(default_set());
    let l1 = good.l1();
    assert_eq!(l1.stats().snapshots_discarded, 2);
    assert_eq!(l1.stats().corrupt_restores, 0);
    // Fired at the restore step of the emergency playbook: after detection
    // (<= 30 s) plus the 0.5 s isolate and 2 s restore steps.
    let hygiene = good
        .fired_after_s(Safeguard::SnapshotHygieneManager)
        .unwrap();
    let detected = good
        .fired_after_s(Safeguard::CriticalKernelHeartbeatTrigger)
        .unwrap();
    assert!(
        (hygiene - detected - 2.5).abs() < 1e-6,
        "{hygiene} vs {detected}"
    );
    assert_eq!(l1.kernel_restarts(good.kernel("governance")), 1);
    assert!(within(&good, 60.0), "{:?}", good.recovery());
    assert!(
        bad.recovery_s()
            .is_none_or(|b| b > good.recovery_s().unwrap()),
        "{:?} vs {:?}",
        bad.recovery(),
        good.recovery()
    );
}

#[test]
fn memory_leak_is_oom_killed_without_the_monitor_and_restarted_before_with_it() {
    let run = |set: SafeguardSet| {
        experiment(
            set,
            noon(),
            |l| {
                vec![Layer1Fault::MemoryLeak {
                    kernel: l.kernel_index("memory_fusion").unwrap(),
                    mib_per_s: 300,
                    length_ns: 90_000_000_000,
                }]
            },
            SimDuration::from_secs(90),
        )
    };
    let bad = run(default_set());
    assert!(bad.l1().stats().oom_kills >= 1, "{:?}", bad.l1().stats());
    let good = run(default_set().with(Safeguard::ResourcePressureMonitor));
    assert!(
        good.fired_after_s(Safeguard::ResourcePressureMonitor)
            .is_some()
    );
    assert_eq!(good.l1().stats().oom_kills, 0, "{:?}", good.l1().stats());
    assert!(good.l1().stats().isolations >= 1);
}

#[derive(Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_control_plane_dump_streams_a_row_every_5s() {
    let spec = Layer1Spec::default();
    let path = SeedPath::root(SEED);
    let sink = Shared::default();
    let mut l1 = Layer1::new(&spec, default_set(), path, noon());
    l1.attach_dump(Box::new(sink.clone()), noon());
    let mut sim = Simulation::starting_at(Solo(l1), path, noon());
    sim.with_ctx(|m, ctx| m.0.boot(ctx));
    sim.run_for(SimDuration::from_secs(60)).unwrap();
    let text = String::from_utf8(sink.0.borrow().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("t_s,kernel,state,"));
    // One row per kernel, every 5 s for 60 s.
    assert_eq!(lines.len(), 1 + 12 * spec.kernels.len());
    let last: Vec<&str> = lines[lines.len() - 1].split(',').collect();
    assert_eq!(last[0], "60.000");
    assert_eq!(last[1], spec.kernels.last().unwrap().name);
    assert_eq!(last[2], "running", "{}", lines[lines.len() - 1]);
    assert!(sim.model().0.dump_error().is_none());
}

#[test]
fn spec_errors_are_located_or_name_the_field_and_range() {
    use chaosim::Error;
    use std::path::Path;
    let p = Path::new("stack.ron");
    match Layer1Spec::from_ron("Layer1Spec(\n  kernels: [],\n  bogus: 1,\n)", p).unwrap_err() {
        Error::Syntax { line, .. } => assert!(line >= 2, "line {line}"),
        other => panic!("{other}"),
    }
    let text = chaosim::model::layer1::DEFAULT_RON.replace("restarts_max: 3", "restarts_max: 5000");
    match Layer1Spec::from_ron(&text, p).unwrap_err() {
        Error::Invalid { field, message, .. } => {
            assert_eq!(field, "control_plane.restarts_max");
            assert!(message.contains("0..=1000"), "{message}");
        }
        other => panic!("{other}"),
    }
    let mut spec = Layer1Spec::default();
    spec.playbooks.critical_kernel_dead = "critical_kernel_restart".into();
    let e = spec.validate().unwrap_err();
    assert!(
        e.field == "playbooks" && e.message.contains("CriticalKernelDead"),
        "{e}"
    );
}

#[test]
fn playbooks_load_from_a_directory_with_located_errors() {
    use chaosim::playbook::{PlaybookSet, Trigger};
    let dir = std::env::temp_dir().join(format!("chaosim-l1-pb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.ron"),
        "Playbook(name: \"my_restart\", trigger: KernelUnresponsive, steps: [(action: RestartKernel, intent: modify_config, duration_ms: 0)])",
    )
    .unwrap();
    let set = PlaybookSet::load_dir(&dir).unwrap();
    assert_eq!(set.for_trigger(Trigger::KernelUnresponsive).count(), 1);
    std::fs::write(
        dir.join("b.ron"),
        "Playbook(\n name: \"x\",\n trigger: Nope)",
    )
    .unwrap();
    let err = PlaybookSet::load_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("b.ron:3:"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dirt03_disk_fill_blocks_writers_without_the_monitor_and_is_purged_with_it() {
    let run = |set: SafeguardSet| {
        experiment(
            set,
            noon(),
            |l| {
                vec![Layer1Fault::DiskFill {
                    kernel: l.kernel_index("librarian").unwrap(),
                    mib_per_s: 2_000,
                    length_ns: 60_000_000_000,
                }]
            },
            SimDuration::from_secs(90),
        )
    };
    let bad = run(default_set());
    let p = bad.l1().probe(bad.sim.now());
    assert_eq!(p.disk_permille, 1000, "{p:?}");
    // Disk writers (immutable_log, memory_fusion, librarian) stop heartbeating.
    assert!(
        bad.l1().stats().watchdog_timeouts > 0,
        "{:?}",
        bad.l1().stats()
    );
    assert!(!within(&bad, 60.0), "{:?}", bad.recovery());
    let good = run(default_set().with(Safeguard::ResourcePressureMonitor));
    let fired = good
        .fired_after_s(Safeguard::ResourcePressureMonitor)
        .unwrap();
    // 90 % of 100,000 MiB from 40,000 at 2,000 MiB/s: 25 s, plus 2 ticks.
    assert!((25.0..=28.0).contains(&fired), "fired after {fired} s");
    assert!(good.l1().stats().isolations >= 1);
    assert_eq!(good.l1().stats().watchdog_timeouts, 0);
    assert_eq!(good.recovery(), Recovery::NeverViolated);
}

#[test]
fn dirt03_network_saturation_slows_the_bus_until_the_hog_is_throttled() {
    let run = |set: SafeguardSet| {
        experiment(
            set,
            noon(),
            |l| {
                vec![Layer1Fault::NetworkSaturation {
                    kernel: l.kernel_index("voice_conversation").unwrap(),
                    share_permille: 4_000,
                    length_ns: 60_000_000_000,
                }]
            },
            SimDuration::from_secs(90),
        )
    };
    let bad = run(default_set());
    // The bus shrinks to 10,000 x 10/42 = 2,380 msgs/s, under its 3,000
    // msgs/s offered load: the backlog (and the delivery latency) grows for
    // as long as the saturation lasts. Heartbeat gaps stay near 1.3 s, so the
    // watchdog never fires: the bus-latency tolerance is what breaks.
    let mid = experiment(
        default_set(),
        noon(),
        |l| {
            vec![Layer1Fault::NetworkSaturation {
                kernel: l.kernel_index("voice_conversation").unwrap(),
                share_permille: 4_000,
                length_ns: 60_000_000_000,
            }]
        },
        SimDuration::from_secs(20),
    );
    let p = mid.l1().probe(mid.sim.now());
    assert_eq!(p.network_permille, 1000);
    assert!(p.bus_latency_ms > 5_000, "{p:?}");
    assert_eq!(bad.l1().stats().watchdog_timeouts, 0);
    assert!(!within(&bad, 60.0), "{:?}", bad.recovery());
    let good = run(default_set().with(Safeguard::ResourcePressureMonitor));
    assert!(
        good.fired_after_s(Safeguard::ResourcePressureMonitor)
            .unwrap()
            <= 3.0
    );
    assert_eq!(good.l1().stats().kernels_failed, 0);
    assert!(within(&good, 60.0), "{:?}", good.recovery());
}

#[test]
fn faults_are_validated_against_the_spec() {
    let spec = Layer1Spec::default();
    assert!(
        Layer1Fault::KillKernel { kernel: 19 }
            .validate(&spec)
            .is_ok()
    );
    let e = Layer1Fault::KillKernel { kernel: 20 }
        .validate(&spec)
        .unwrap_err();
    assert_eq!(e.to_string(), "kernel: 20 (allowed 0..=19)");
    let e = Layer1Fault::ApiFlood {
        rate_per_s: 0,
        length_ns: 1,
    }
    .validate(&spec)
    .unwrap_err();
    assert_eq!(e.field, "rate_per_s", "{e}");
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    fn fault() -> impl Strategy<Value = Layer1Fault> {
        let k = 0u16..20;
        let len = 0u64..120_000_000_000;
        prop_oneof![
            k.clone()
                .prop_map(|kernel| Layer1Fault::KillKernel { kernel }),
            (k.clone(), len.clone())
                .prop_map(|(kernel, length_ns)| Layer1Fault::PauseHeartbeat { kernel, length_ns }),
            (k.clone(), 1u32..100_000, len.clone()).prop_map(
                |(publisher, rate_per_s, length_ns)| {
                    Layer1Fault::AclFlood {
                        publisher,
                        rate_per_s,
                        length_ns,
                    }
                }
            ),
            (k.clone(), 1u16..8_000, len.clone()).prop_map(
                |(kernel, share_permille, length_ns)| {
                    Layer1Fault::CpuSpike {
                        kernel,
                        share_permille,
                        length_ns,
                    }
                }
            ),
            (k.clone(), 1u32..5_000, len.clone()).prop_map(|(kernel, mib_per_s, length_ns)| {
                Layer1Fault::MemoryLeak {
                    kernel,
                    mib_per_s,
                    length_ns,
                }
            }),
            (k.clone(), 1u32..5_000, len.clone()).prop_map(|(kernel, mib_per_s, length_ns)| {
                Layer1Fault::DiskFill {
                    kernel,
                    mib_per_s,
                    length_ns,
                }
            }),
            (k, 1u16..8_000, len.clone()).prop_map(|(kernel, share_permille, length_ns)| {
                Layer1Fault::NetworkSaturation {
                    kernel,
                    share_permille,
                    length_ns,
                }
            }),
            (1u32..100_000, len).prop_map(|(rate_per_s, length_ns)| Layer1Fault::ApiFlood {
                rate_per_s,
                length_ns
            }),
            (1u16..20).prop_map(|count| Layer1Fault::CorruptSnapshots { count }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Any valid fault mix under any Layer-1 safeguard set runs without
        /// panicking, and the probe stays self-consistent.
        #[test]
        fn any_fault_mix_runs_and_the_probe_stays_consistent(
            faults in proptest::collection::vec((0u64..60, fault()), 1..6),
            bits in 0u32..256,
            hour in 0u64..24,
        ) {
            let spec = Layer1Spec::default();
            let set: SafeguardSet = [
                Safeguard::HeartbeatWatchdog,
                Safeguard::KernelWatchdog,
                Safeguard::CriticalKernelHeartbeatTrigger,
                Safeguard::AclViolationMonitor,
                Safeguard::ResourcePressureMonitor,
                Safeguard::SnapshotHygieneManager,
                Safeguard::RateLimiter,
                Safeguard::EmergencyProtocol,
            ]
            .into_iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, s)| s)
            .collect();
            let start = SimTime::from_day_time(0, hour, 0, 0).unwrap();
            let path = SeedPath::root(bits as u64);
            let mut sim = Simulation::starting_at(
                Solo(Layer1::new(&spec, set, path, start)),
                path,
                start,
            );
            sim.with_ctx(|m, ctx| m.0.boot(ctx));
            advance_to(&mut sim, start + SETTLE);
            let mut faults = faults;
            faults.sort_by_key(|(at, _)| *at);
            for (at_s, f) in &faults {
                prop_assert!(f.validate(&spec).is_ok());
                advance_to(&mut sim, start + SETTLE + SimDuration::from_secs(*at_s));
                sim.with_ctx(|m, ctx| m.0.inject(f, ctx));
            }
            for _ in 0..30 {
                sim.run_for(SimDuration::from_secs(5)).unwrap();
                let l1 = &sim.model().0;
                let p = l1.probe(sim.now());
                prop_assert!(p.kernels_running + p.kernels_failed <= p.kernels_total, "{:?}", p);
                prop_assert!(p.critical_running <= p.critical_total);
                prop_assert!(p.api_success_permille <= 1000);
                prop_assert!(u64::from(p.kernels_failed) == l1.stats().kernels_failed);
                for k in 0..20 {
                    prop_assert!(l1.kernel_restarts(k) <= 3 || !set.contains(Safeguard::KernelWatchdog));
                }
                // Nothing fires that is not deployed.
                prop_assert!(l1.safeguards().fired().difference(set).is_empty());
            }
        }
    }
}
