//! The determinism self-check: the engine's lockstep comparison locates a
//! planted divergence at exactly its event, and `chaosim selfcheck` passes
//! on the real models (a run, a short programme, small sweeps).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use chaosim::engine::trace::{Lockstep, Trail, lockstep, lockstep_scoped};
use chaosim::engine::{Ctx, EngineError, EventInfo, Model, SimDuration, SimTime, Simulation};

/// The event index whose content is planted to depend on process state.
const PLANTED: u64 = 1234;
const EVENTS: u64 = 3000;

#[derive(Clone, Copy, Debug)]
enum Ev {
    Tick(u32),
    Tock(u32),
}

impl EventInfo for Ev {
    fn kind(&self) -> u16 {
        match self {
            Ev::Tick(_) => 1,
            Ev::Tock(_) => 2,
        }
    }
    fn kind_name(&self) -> &'static str {
        match self {
            Ev::Tick(_) => "tick",
            Ev::Tock(_) => "tock",
        }
    }
    fn target(&self) -> u32 {
        match self {
            Ev::Tick(t) | Ev::Tock(t) => *t,
        }
    }
}

/// A chain of events 1 ms apart, alternating tick/tock, target `n % 7`,
/// except that the event at index [`PLANTED`] takes its target from
/// `plant` (process state when `plant` is not a pure function).
struct Chain {
    handled: u64,
    plant: fn() -> u32,
    events_max: u64,
}

impl Model for Chain {
    type Event = Ev;
    fn handle(&mut self, _ev: Ev, ctx: &mut Ctx<'_, Ev>) {
        self.handled += 1;
        let next = self.handled; // index of the event scheduled now
        if next >= self.events_max {
            return;
        }
        let target = if next == PLANTED {
            (self.plant)()
        } else {
            (next % 7) as u32
        };
        let ev = if next.is_multiple_of(2) {
            Ev::Tick(target)
        } else {
            Ev::Tock(target)
        };
        ctx.schedule_in(SimDuration::from_millis(1), ev);
    }
}

fn chain(plant: fn() -> u32) -> Simulation<Chain> {
    endless_chain(plant, EVENTS)
}

fn endless_chain(plant: fn() -> u32, events_max: u64) -> Simulation<Chain> {
    let chain = Chain {
        handled: 0,
        plant,
        events_max,
    };
    let mut sim = Simulation::new(chain, 42);
    sim.schedule_at(SimTime::ZERO, Ev::Tick(0));
    sim
}

const UNTIL: SimTime = SimTime::from_nanos(10_000_000_000);

static COUNTER_A: AtomicU32 = AtomicU32::new(100);
static COUNTER_B: AtomicU32 = AtomicU32::new(100);
static COUNTER_C: AtomicU32 = AtomicU32::new(100);

fn from_counter_a() -> u32 {
    COUNTER_A.fetch_add(1, Ordering::Relaxed)
}
fn from_counter_b() -> u32 {
    COUNTER_B.fetch_add(1, Ordering::Relaxed)
}
fn from_counter_c() -> u32 {
    COUNTER_C.fetch_add(1, Ordering::Relaxed)
}
fn from_random_state() -> u32 {
    (RandomState::new().hash_one(42u64) & 0xffff_fff0) as u32 | 8
}
fn pure() -> u32 {
    5
}

#[test]
fn lockstep_locates_a_process_global_counter_at_its_event() {
    let (mut a, mut b) = (chain(from_counter_a), chain(from_counter_a));
    let mut trail = Trail::new(4);
    let Lockstep::Diverged(d) = lockstep(&mut a, &mut b, UNTIL, &mut trail).unwrap() else {
        panic!("the planted divergence was not found");
    };
    let (ea, eb) = (d.a.unwrap(), d.b.unwrap());
    assert_eq!(d.index, PLANTED);
    assert_eq!(d.simulation, 0);
    assert_eq!((ea.index, eb.index), (PLANTED, PLANTED));
    assert_eq!(ea.time, SimTime::from_nanos(PLANTED * 1_000_000));
    assert_eq!(eb.time, ea.time, "same time: only the target differs");
    assert_eq!((ea.kind, ea.kind_name), (1, "tick"));
    assert_eq!((eb.kind, eb.kind_name), (1, "tick"));
    assert_eq!(
        (ea.target, eb.target),
        (100, 101),
        "A read the counter first"
    );
    assert_ne!(ea.digest, eb.digest);
    assert_eq!(d.differences(), "target 100 vs 101");
    // The trail holds the agreeing events just before it, oldest first.
    let kept: Vec<u64> = trail.records().iter().map(|r| r.index).collect();
    assert_eq!(
        kept,
        vec![PLANTED - 4, PLANTED - 3, PLANTED - 2, PLANTED - 1]
    );
    assert_eq!(d.last_agreed.unwrap().index, PLANTED - 1);
    let text = d.to_string();
    println!("{text}");
    assert!(text.contains("event #1234"), "{text}");
    assert!(text.contains("tick (kind 1) target 100"), "{text}");
}

#[test]
fn lockstep_locates_hash_map_random_state_at_its_event() {
    let (mut a, mut b) = (chain(from_random_state), chain(from_random_state));
    let mut trail = Trail::new(2);
    let Lockstep::Diverged(d) = lockstep(&mut a, &mut b, UNTIL, &mut trail).unwrap() else {
        panic!("RandomState gives each copy other keys: the copies must differ");
    };
    assert_eq!(d.index, PLANTED);
    let (ea, eb) = (d.a.unwrap(), d.b.unwrap());
    assert_eq!(ea.time, SimTime::from_nanos(PLANTED * 1_000_000));
    assert_eq!(ea.kind_name, "tick");
    assert_ne!(ea.target, eb.target);
}

#[test]
fn a_deterministic_model_agrees_on_every_event() {
    let (mut a, mut b) = (chain(pure), chain(pure));
    let mut trail = Trail::new(3);
    let r = lockstep(&mut a, &mut b, UNTIL, &mut trail).unwrap();
    assert_eq!(
        r,
        Lockstep::Agree {
            events: EVENTS,
            simulations: 1,
            digest: a.digest(),
        }
    );
    // Lockstep stepping gives the digest of a plain run.
    let mut plain = chain(pure);
    plain.run_until(UNTIL).unwrap();
    assert_eq!(plain.digest(), a.digest());
    assert_eq!(plain.events_handled(), EVENTS);
}

#[test]
fn scoped_lockstep_finds_the_event_in_the_second_simulation_and_interrupts_both() {
    // Each copy runs a deterministic simulation, then a planted one that
    // would run for 10^12 events if the comparison did not interrupt it:
    // the divergence is in simulation 1, at the planted index.
    let copy = || -> Result<Vec<u64>, EngineError> {
        let mut digests = Vec::new();
        for (plant, n) in [(pure as fn() -> u32, EVENTS), (from_counter_b, u64::MAX)] {
            let mut sim = endless_chain(plant, n);
            assert!(sim.is_observed(), "the scope hooks every new simulation");
            sim.run_until(SimTime::MAX)?;
            digests.push(sim.digest().value());
        }
        Ok(digests)
    };
    let r = lockstep_scoped(copy, copy, 8);
    let Lockstep::Diverged(d) = r.result else {
        panic!("not found: {:?}", r.result);
    };
    assert_eq!(d.simulation, 1);
    assert_eq!(d.index, PLANTED);
    let (ea, eb) = (d.a.unwrap(), d.b.unwrap());
    assert_eq!(ea.time, SimTime::from_nanos(PLANTED * 1_000_000));
    assert_eq!((ea.kind_name, eb.kind_name), ("tick", "tick"));
    let mut targets = [ea.target, eb.target];
    targets.sort();
    assert_eq!(targets, [100, 101], "one copy read the counter first");
    // Both copies were stopped by the comparison, not run to the end.
    for res in [r.a, r.b] {
        match res {
            Err(EngineError::Interrupted { .. }) => {}
            other => panic!("expected an interrupted run, got {other:?}"),
        }
    }
    // Outside the scope, simulations are not observed.
    assert!(!chain(pure).is_observed());
}

#[test]
fn scoped_lockstep_agrees_on_deterministic_copies() {
    let copy = || {
        let mut sim = chain(pure);
        sim.run_until(UNTIL).unwrap();
        sim.digest()
    };
    let r = lockstep_scoped(copy, copy, 8);
    assert_eq!(
        r.result,
        Lockstep::Agree {
            events: EVENTS,
            simulations: 1,
            digest: r.a,
        }
    );
    assert_eq!(r.a, r.b);
}

#[test]
fn an_observer_sees_every_event_and_can_interrupt() {
    let mut sim = chain(from_counter_c);
    let mut seen = 0u64;
    let last_handled = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let last = last_handled.clone();
    sim.set_observer(Some(Box::new(move |r: &chaosim::engine::EventRecord| {
        assert_eq!(r.index, seen, "records arrive in order");
        seen += 1;
        if r.index < 2000 {
            last.store(r.digest.value(), Ordering::Relaxed);
        }
        r.index < 2000
    })));
    let err = sim.run_until(UNTIL).unwrap_err();
    assert_eq!(
        err,
        EngineError::Interrupted {
            index: 2000,
            now: SimTime::from_nanos(2000 * 1_000_000),
        }
    );
    assert_eq!(
        sim.events_handled(),
        2000,
        "the refused event was not handled"
    );
    // Observing does not change the run.
    let mut a = chain(pure);
    a.set_observer(Some(Box::new(|_: &chaosim::engine::EventRecord| true)));
    a.run_until(UNTIL).unwrap();
    let mut b = chain(pure);
    b.run_until(UNTIL).unwrap();
    assert_eq!(a.digest(), b.digest());
}

fn chaosim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chaosim"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ok: deterministic"), "{text}");
    text
}

/// A `--json` self-check's stdout, after checking it exited 0.
fn json_ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn selfcheck_passes_on_real_runs() {
    let text = ok(&chaosim(&[
        "selfcheck",
        "run",
        "S02_acl_spam",
        "--difficulty",
        "3",
    ]));
    assert!(text.contains("1 simulation(s)"), "{text}");
    assert!(text.contains("every event identical"), "{text}");
    // Items together: one simulation; items in turn: one each.
    let text = ok(&chaosim(&[
        "selfcheck",
        "run",
        "S02_acl_spam,L2_trigger_mesh_storm",
        "--together",
        "--difficulty",
        "2,3",
    ]));
    assert!(text.contains("1 simulation(s)"), "{text}");
    let text = ok(&chaosim(&[
        "selfcheck",
        "run",
        "S01_heartbeat_pause,S03_cpu_spike",
    ]));
    assert!(text.contains("2 simulation(s)"), "{text}");
}

#[test]
fn selfcheck_passes_on_a_short_programme() {
    let text = ok(&chaosim(&["selfcheck", "year", "--days", "2", "--quiet"]));
    for f in ["runs.csv", "outcomes.csv", "safeguards.csv"] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(f) && l.contains("identical")),
            "{f}: {text}"
        );
    }
    assert!(text.contains("10 runs"), "{text}");
}

#[test]
fn selfcheck_year_and_sweep_answer_in_json() {
    let v: serde_json::Value = serde_json::from_str(&json_ok(&chaosim(&[
        "selfcheck",
        "year",
        "--days",
        "1",
        "--json",
    ])))
    .unwrap();
    assert_eq!(v["deterministic"], true, "{v}");
    assert_eq!(v["runs"], 5);
    assert_eq!(v["digests"][0], v["digests"][1]);
    let files: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["runs.csv", "outcomes.csv", "safeguards.csv"]);
    assert!(v["first_difference"].is_null());
    // --json among the sweep's own flags is the self-check's.
    let v: serde_json::Value = serde_json::from_str(&json_ok(&chaosim(&[
        "selfcheck",
        "sweep",
        "--rates",
        "0:0.1:0.1",
        "--n",
        "20",
        "--json",
        "--threads",
        "2",
    ])))
    .unwrap();
    assert_eq!(v["deterministic"], true, "{v}");
    assert_eq!(v["threads"], serde_json::json!([1, 2]));
    let exp = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "experiments.csv");
    assert_eq!(exp.unwrap()["lines"], 81, "{v}");
}

#[test]
fn selfcheck_passes_on_small_sweeps_with_1_and_n_threads() {
    let text = ok(&chaosim(&[
        "selfcheck",
        "sweep",
        "--rates",
        "0:0.2:0.1",
        "--n",
        "40",
        "--threads",
        "3",
    ]));
    assert!(text.contains("1 thread vs 3 threads"), "{text}");
    assert!(
        text.contains("experiments.csv  identical (241 lines)"),
        "{text}"
    );
    let text = ok(&chaosim(&[
        "selfcheck",
        "sweep",
        "--scenario",
        "S02_acl_spam",
        "--param",
        "intensity",
        "--values",
        "0.5:1:0.5",
        "--n",
        "2",
    ]));
    assert!(text.contains("summary.csv"), "{text}");
    // A sweep flag error is the sweep's own, with its exit code.
    let out = chaosim(&["selfcheck", "sweep", "--rates", "2"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Every flag of `selfcheck run` acts or is refused: a handle's digest is
/// checked (exit 0 on a match, 1 otherwise), and the `run` flags that
/// write a file or run a control group, which the self-check would ignore,
/// are refused (exit 2) and name themselves.
#[test]
fn selfcheck_run_checks_a_handle_digest_and_refuses_flags_it_cannot_honour() {
    let json = |out: &std::process::Output| -> serde_json::Value {
        serde_json::from_str(&json_ok(out)).unwrap()
    };
    let v = json(&chaosim(&["selfcheck", "run", "S02_acl_spam", "--json"]));
    let digest = v["outcomes"][0]["digest_a"].as_str().unwrap().to_string();
    let with = |hex: &str| {
        chaosim(&[
            "selfcheck",
            "run",
            "S02_acl_spam",
            "--digest-format",
            "2",
            "--expect-digest",
            hex,
        ])
    };
    ok(&with(&digest));
    let wrong = with("0000000000000000");
    assert_eq!(wrong.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("digest mismatch") && err.contains(&digest),
        "{err}"
    );
    let dir = std::env::temp_dir().join(format!("chaosim-selfcheck-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("out.csv");
    let file = file.to_str().unwrap();
    for flags in [
        vec!["--dump", file],
        vec!["--trace", file],
        vec!["--history", file],
        vec!["--timeline", file],
        vec!["--narrative", file],
        vec!["--control"],
    ] {
        let mut args = vec!["selfcheck", "run", "S02_acl_spam"];
        args.extend(&flags);
        let out = chaosim(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(
            err.contains(flags[0]) && err.contains("not available for selfcheck"),
            "{err}"
        );
        assert!(!dir.join("out.csv").exists(), "{flags:?} wrote a file");
    }
    // `selfcheck year`: no --resume, and a folder the user named is not
    // overwritten without --force.
    let out = chaosim(&["selfcheck", "year", "--days", "1", "--resume", "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    let copies = dir.join("copies");
    let copies = copies.to_str().unwrap();
    let year = |force: bool| {
        let mut args = vec![
            "selfcheck",
            "year",
            "--days",
            "1",
            "--quiet",
            "--out",
            copies,
        ];
        if force {
            args.push("--force");
        }
        chaosim(&args)
    };
    ok(&year(false));
    let again = year(false);
    assert_eq!(
        again.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    ok(&year(true));
    std::fs::remove_dir_all(&dir).unwrap();
}
