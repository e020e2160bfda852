//! The run digest witnesses the state as well as the events: runs whose
//! events agree but whose state or verdict differs have different digests;
//! a self-check names the first component whose state parted; replay
//! compares every recorded column; handles carry their digest format.

use std::path::PathBuf;

use assert_cmd::Command;
use chaosim::engine::trace::{Lockstep, lockstep_scoped};
use chaosim::engine::{Ctx, EventInfo, Fingerprint, Model, SimDuration, SimTime, Simulation};

fn chaosim(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("chaosim")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["run"];
    a.extend_from_slice(args);
    a.push("--json");
    let out = chaosim(&a);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn runs_that_differ_in_state_or_verdict_have_different_digests() {
    // Same events, different fluid state (backpressure throttles the storm).
    let a = run_json(&["L2_trigger_mesh_storm", "--seed", "11"]);
    let b = run_json(&[
        "L2_trigger_mesh_storm",
        "--seed",
        "11",
        "--safeguards=+trigger_mesh_backpressure",
    ]);
    assert_ne!(a["digest"], b["digest"]);
    assert_ne!(a["recovery_s"], b["recovery_s"]);
    // Two levels of FIT01.
    let l1 = run_json(&["FIT01_api_flood", "--difficulty", "1"]);
    let l2 = run_json(&["FIT01_api_flood", "--difficulty", "2"]);
    assert_ne!(l1["digest"], l2["digest"]);
    // Two scenarios whose runs once handled the same events.
    let m = run_json(&["L2_trigger_mesh_storm", "--safeguards", "all"]);
    let p = run_json(&["L2_event_policy_cascade", "--safeguards", "all"]);
    assert_ne!(m["digest"], p["digest"]);
}

#[derive(Clone, Copy)]
struct Tick;
impl EventInfo for Tick {
    fn kind(&self) -> u16 {
        1
    }
    fn kind_name(&self) -> &'static str {
        "tick"
    }
}

/// Ticks every millisecond; copy B's counter grows differently from its
/// 50th tick on, without changing a single event.
struct Counter {
    planted: bool,
    ticks: u64,
    counter: u64,
}

impl Model for Counter {
    type Event = Tick;
    fn handle(&mut self, _ev: Tick, ctx: &mut Ctx<'_, Tick>) {
        self.ticks += 1;
        self.counter += if self.planted && self.ticks >= 50 {
            2
        } else {
            1
        };
        if ctx.observed() {
            let mut f = Fingerprint::new();
            f.u64(self.ticks);
            ctx.report_state("counter.ticks", f.finish());
            let mut f = Fingerprint::new();
            f.u64(self.counter);
            ctx.report_state("counter.value", f.finish());
        }
        ctx.schedule_in(SimDuration::from_millis(1), Tick);
    }
}

#[test]
fn a_state_only_divergence_is_named_with_its_component() {
    let copy = |planted: bool| {
        move || {
            let mut sim = Simulation::new(
                Counter {
                    planted,
                    ticks: 0,
                    counter: 0,
                },
                3,
            );
            sim.schedule_at(SimTime::ZERO, Tick);
            let _ = sim.run_until(SimTime::ZERO + SimDuration::from_millis(200));
            sim.events_handled()
        }
    };
    let r = lockstep_scoped(copy(false), copy(true), 4);
    match r.result {
        Lockstep::Diverged(d) => {
            let (a, b) = d.state.expect("a state divergence");
            assert_eq!(a.component, "counter.value");
            assert_eq!(a.after, 49, "the 50th event (0-based 49)");
            assert_ne!(a.fingerprint, b.fingerprint);
            assert!(d.to_string().contains("component counter.value"), "{d}");
        }
        Lockstep::Agree { .. } => panic!("the copies' states differ"),
    }
}

#[test]
fn selfcheck_compares_component_states_of_a_real_run() {
    let out = chaosim(&[
        "selfcheck",
        "run",
        "MF05_storm_and_dropout",
        "--difficulty",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("digest")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.parent().unwrap()).unwrap();
    d
}

#[test]
fn replay_compares_every_column_and_names_the_first_difference() {
    let dir = tmp("replay");
    let out = chaosim(&[
        "year",
        "--days",
        "2",
        "--no-report",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("outcomes.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let k = header.iter().position(|h| *h == "recovery_s").unwrap();
    let r = header.iter().position(|h| *h == "run").unwrap();
    // A row with a recovery and no quoted field before it.
    let (i, run) = lines
        .iter()
        .enumerate()
        .skip(1)
        .find_map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            (!f[k].is_empty() && !l[..l.find(f[k]).unwrap()].contains('"'))
                .then(|| (i, f[r].to_string()))
        })
        .unwrap();
    let ok = chaosim(&["replay", dir.to_str().unwrap(), "--run", &run]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let mut f: Vec<String> = lines[i].split(',').map(String::from).collect();
    let v: f64 = f[k].parse().unwrap();
    f[k] = format!("{:.3}", v + 0.5);
    lines[i] = f.join(",");
    std::fs::write(dir.join("outcomes.csv"), lines.join("\n") + "\n").unwrap();
    let bad = chaosim(&["replay", dir.to_str().unwrap(), "--run", &run]);
    assert_eq!(bad.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(stdout.contains("MISMATCH in recovery_s"), "{stdout}");
}

#[test]
fn a_handle_of_another_digest_format_is_refused_with_exit_2() {
    let o = run_json(&["S02_acl_spam"]);
    let handle = o["repro"].as_str().unwrap();
    assert!(
        handle.contains("--digest-format 2 --expect-digest"),
        "{handle}"
    );
    let d = o["digest"].as_str().unwrap();
    // The same digest without its format: an old (format 1) handle.
    let old = chaosim(&["run", "S02_acl_spam", "--seed", "42", "--expect-digest", d]);
    assert_eq!(old.status.code(), Some(2));
    let err = String::from_utf8_lossy(&old.stderr);
    assert!(
        err.contains("digest format 1") && err.contains("format 2"),
        "{err}"
    );
    let ok = chaosim(&[
        "run",
        "S02_acl_spam",
        "--seed",
        "42",
        "--digest-format",
        "2",
        "--expect-digest",
        d,
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
