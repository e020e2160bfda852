//! Seeing one run: control runs, the Chrome trace export and the history
//! timeline (issue 12).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chaosim::engine::{SeedPath, SimTime};
use chaosim::model::stack::StackSpec;
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::control::{ControlProbe, ControlReport, run_with_control};
use chaosim::scenario::difficulty;
use chaosim::scenario::run::{Planned, RunOutputs, RunResult, run_together};
use chaosim::scenario::{Catalogue, ScenarioSpec};
use serde_json::Value;

/// A `Write` whose bytes the test can read afterwards.
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

impl Buf {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

fn start() -> SimTime {
    SimTime::from_day_time(0, 12, 0, 0).unwrap()
}

fn seed() -> SeedPath {
    SeedPath::root(42)
        .child("run")
        .child_u64(0)
        .child("item")
        .child_u64(0)
}

fn deployed(spec: &str) -> SafeguardSet {
    let stack = StackSpec::embedded();
    SafeguardSet::from_spec(spec, stack.default_safeguards()).unwrap()
}

fn spec(id: &str) -> ScenarioSpec {
    Catalogue::embedded().unwrap().require(id).unwrap().clone()
}

fn control(
    spec: &ScenarioSpec,
    safeguards: &str,
    exp_tl: Option<Buf>,
    ctl_tl: Option<Buf>,
) -> (RunResult, ControlReport) {
    let stack = StackSpec::embedded();
    let planned = Planned {
        spec,
        scaled: difficulty::scale(spec, 1),
        offset_ns: 0,
        restore_first: false,
    };
    run_with_control(
        &stack,
        &[planned],
        deployed(safeguards),
        SafeguardSet::EMPTY,
        seed(),
        start(),
        RunOutputs {
            timeline: exp_tl.map(|b| Box::new(b) as Box<dyn Write>),
            ..RunOutputs::default()
        },
        ctl_tl.map(|b| Box::new(b) as Box<dyn Write>),
    )
    .unwrap()
}

fn plain(spec: &ScenarioSpec, safeguards: &str, outputs: RunOutputs) -> RunResult {
    let stack = StackSpec::embedded();
    let planned = Planned {
        spec,
        scaled: difficulty::scale(spec, 1),
        offset_ns: 0,
        restore_first: false,
    };
    run_together(
        &stack,
        &[planned],
        deployed(safeguards),
        SafeguardSet::EMPTY,
        seed(),
        start(),
        outputs,
    )
    .unwrap()
}

// ---------------------------------------------------------------- control

#[test]
fn a_scenario_whose_fault_list_is_emptied_shows_zero_deviation_from_its_control() {
    use chaosim::scenario::spec::{ProbeKind, ProbeSpec};
    // Layer 1 alone; with Layer 2 and with the replicated log (kept running
    // by a probe of theirs once the faults that asked for them are gone).
    let keep = |probe: ProbeKind| ProbeSpec {
        probe,
        min: None,
        max: None,
    };
    for (id, probe) in [
        ("S02_acl_spam", None),
        (
            "L2_HTM_queue_flood_stress",
            Some(keep(ProbeKind::QueueDepth)),
        ),
        ("JEP01_log_partition", Some(keep(ProbeKind::LeaderPresent))),
    ] {
        let mut s = spec(id);
        s.faults.clear();
        s.steady_state.extend(probe);
        let (te, tc) = (Buf::default(), Buf::default());
        let (_, c) = control(&s, "default", Some(te.clone()), Some(tc.clone()));
        assert!(c.samples > 100, "{id}: {} samples", c.samples);
        for p in &c.probes {
            assert_eq!(p.max_deviation, 0.0, "{id}: {p:?}");
            assert_eq!(p.first_outside_s, None, "{id}: {p:?}");
            assert_eq!(p.outside_s, 0.0, "{id}: {p:?}");
        }
        assert!(c.within_tolerance());
        // Not only the compared probes: every timeline column, sample by
        // sample (memory, health, ...), is the same.
        let (e, k) = (te.bytes(), tc.bytes());
        assert!(e.len() > 1000);
        assert_eq!(e, k, "{id}");
    }
    // The Layer-2 run compares the queue as well.
    let mut s = spec("L2_HTM_queue_flood_stress");
    s.faults.clear();
    s.steady_state.push(keep(ProbeKind::QueueDepth));
    let (_, c) = control(&s, "default", None, None);
    assert!(c.probe(ControlProbe::QueueDepth).is_some());
}

#[test]
fn the_control_does_not_depend_on_the_faults_it_withholds() {
    // Same windows, different fault draws (intensity and targets come from
    // the nemesis stream and the fault list): the controls are identical,
    // because the nemesis is the only stream read differently.
    let a = spec("S02_acl_spam");
    let mut b = a.clone();
    b.faults[0].intensity_permille = 1000;
    b.faults[0].target = chaosim::scenario::spec::Target::RandomKernels(3);
    let (ta, tb) = (Buf::default(), Buf::default());
    let (ra, ca) = control(&a, "default", None, Some(ta.clone()));
    let (rb, cb) = control(&b, "default", None, Some(tb.clone()));
    assert_ne!(ra.digest, rb.digest, "the experiments differ");
    assert_eq!(ca.control_digest, cb.control_digest);
    // Both experiments stop at different times; the shorter control
    // timeline is a prefix of the longer one.
    let (xa, xb) = (ta.bytes(), tb.bytes());
    let n = xa.len().min(xb.len());
    assert!(n > 1000);
    assert_eq!(xa[..n], xb[..n]);
}

#[test]
fn s02_without_its_safeguard_deviates_in_bus_latency_and_kernels_during_the_flood_and_not_before() {
    let s = spec("S02_acl_spam");
    let flood_s = difficulty::scale(&s, 1).faults[0].start_ns as f64 / 1e9;
    // The default set does not deploy acl_violation_monitor.
    assert!(!deployed("default").contains(chaosim::safeguard::Safeguard::AclViolationMonitor));
    let (r, c) = control(&s, "default", None, None);
    assert!(!r.outcomes[0].passed);
    for p in &c.probes {
        if let Some(first) = p.first_outside_s {
            assert!(
                first >= flood_s,
                "{p:?} left tolerance before the flood at {flood_s} s"
            );
        }
    }
    let bus = c.probe(ControlProbe::BusLatencyMs).unwrap();
    let first = bus.first_outside_s.expect("bus latency deviates");
    assert!(first < flood_s + 2.0, "bus latency reacts at once: {bus:?}");
    assert!(bus.max_deviation > 1000.0, "{bus:?}");
    assert!(bus.outside_s > 10.0, "{bus:?}");
    let kernels = c.probe(ControlProbe::KernelsRunning).unwrap();
    assert!(kernels.first_outside_s.is_some(), "{kernels:?}");
    assert!(kernels.max_deviation >= 1.0, "{kernels:?}");
    // The experiment's outcome is exactly a plain run's.
    let p = plain(&s, "default", RunOutputs::default());
    assert_eq!(p.digest, r.digest);
    assert_eq!(p.outcomes, r.outcomes);

    // Mechanism: with the monitor deployed, the bus comes back within
    // tolerance of the control, and sooner than without it.
    let (_, cm) = control(&s, "+acl_violation_monitor", None, None);
    let bus_m = cm.probe(ControlProbe::BusLatencyMs).unwrap();
    assert!(bus_m.returned, "{bus_m:?}");
    assert!(bus_m.outside_s < bus.outside_s, "{bus_m:?} vs {bus:?}");
    let k_m = cm.probe(ControlProbe::KernelsRunning).unwrap();
    assert!(
        k_m.max_deviation < kernels.max_deviation,
        "{k_m:?} vs {kernels:?}"
    );
}

// ---------------------------------------------------------------- trace

fn trace_of(id: &str, safeguards: &str) -> (RunResult, Value) {
    let buf = Buf::default();
    let r = plain(
        &spec(id),
        safeguards,
        RunOutputs {
            trace: Some(Box::new(buf.clone())),
            ..RunOutputs::default()
        },
    );
    let v: Value = serde_json::from_slice(&buf.bytes()).expect("the trace is valid JSON");
    (r, v)
}

/// Every event has the fields its phase needs; returns the events.
fn check_fields(v: &Value) -> &Vec<Value> {
    let evs = v["traceEvents"].as_array().expect("traceEvents array");
    assert!(!evs.is_empty());
    for e in evs {
        let ph = e["ph"].as_str().expect("ph");
        assert!(e["name"].is_string(), "{e}");
        assert!(e["pid"].is_u64() && e["tid"].is_u64(), "{e}");
        assert!(e["ts"].is_number(), "{e}");
        match ph {
            "X" => assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{e}"),
            "i" => assert_eq!(e["s"], "t", "{e}"),
            "C" => assert!(
                e["args"]
                    .as_object()
                    .is_some_and(|a| a.values().all(Value::is_number)),
                "{e}"
            ),
            "M" => assert!(e["args"].is_object(), "{e}"),
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    evs
}

/// Slices of each (pid, tid) nest: sorted by start (longer first), each
/// slice ends within the enclosing open one.
fn check_nesting(evs: &[Value]) {
    let mut tracks: BTreeMap<(u64, u64), Vec<(i64, i64)>> = BTreeMap::new();
    for e in evs.iter().filter(|e| e["ph"] == "X") {
        // ts/dur are µs with 3 decimals: compare in ns exactly.
        // ts is on the scenario clock: the boot lead-in is negative.
        let ns = |x: &Value| (x.as_f64().unwrap() * 1000.0).round() as i64;
        let (a, d) = (ns(&e["ts"]), ns(&e["dur"]));
        tracks
            .entry((e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
            .or_default()
            .push((a, a + d));
    }
    for (track, mut s) in tracks {
        s.sort_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
        let mut stack: Vec<i64> = Vec::new();
        for (a, b) in s {
            while stack.last().is_some_and(|&end| end <= a) {
                stack.pop();
            }
            if let Some(&end) = stack.last() {
                assert!(
                    b <= end,
                    "track {track:?}: [{a}, {b}] overlaps a slice ending at {end}"
                );
            }
            stack.push(b);
        }
    }
}

fn thread_tid(evs: &[Value], name: &str) -> (u64, u64) {
    evs.iter()
        .find(|e| e["ph"] == "M" && e["name"] == "thread_name" && e["args"]["name"] == name)
        .map(|e| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
        .unwrap_or_else(|| panic!("no track {name}"))
}

fn slices(evs: &[Value], track: (u64, u64)) -> Vec<&Value> {
    let mut v: Vec<&Value> = evs
        .iter()
        .filter(|e| e["ph"] == "X" && e["pid"] == track.0 && e["tid"] == track.1)
        .collect();
    v.sort_by(|a, b| {
        a["ts"]
            .as_f64()
            .unwrap()
            .total_cmp(&b["ts"].as_f64().unwrap())
    });
    v
}

#[test]
fn the_s01_trace_has_the_5s_pause_on_the_kernel_and_the_watchdog_and_restart_after_it_began() {
    let (r, v) = trace_of("S01_heartbeat_pause", "default");
    let evs = check_fields(&v);
    check_nesting(evs);
    // Tracing changes nothing in the run.
    let p = plain(
        &spec("S01_heartbeat_pause"),
        "default",
        RunOutputs::default(),
    );
    assert_eq!(p.digest, r.digest);

    let faults = slices(evs, thread_tid(evs, "coding_agent faults"));
    assert_eq!(faults.len(), 1, "{faults:?}");
    let pause = faults[0];
    assert_eq!(pause["name"], "PauseHeartbeat");
    assert_eq!(pause["dur"].as_f64().unwrap(), 5_000_000.0, "a 5 s slice");
    let t_pause = pause["ts"].as_f64().unwrap();

    // The process is stopped from that instant on (until the restart).
    let proc_ = slices(evs, thread_tid(evs, "coding_agent process"));
    let paused = proc_
        .iter()
        .find(|e| e["name"] == "paused")
        .expect("a paused slice on the kernel's process track");
    assert_eq!(paused["ts"].as_f64().unwrap(), t_pause);

    // The heartbeat watchdog fires after the pause began ...
    let wd = evs
        .iter()
        .find(|e| e["ph"] == "i" && e["name"] == "heartbeat_watchdog")
        .expect("watchdog firing");
    let t_wd = wd["ts"].as_f64().unwrap();
    assert!(
        t_wd > t_pause && t_wd < t_pause + 5e6,
        "watchdog at {t_wd}, pause at {t_pause}"
    );
    assert_eq!(wd["args"]["count"], 1);
    // ... the control plane marks the kernel unresponsive, restarts it, and
    // it runs again; the restart ends the pause early (its paused slice is
    // shorter than the fault).
    let cp = slices(evs, thread_tid(evs, "coding_agent control plane"));
    let after: Vec<&str> = cp
        .iter()
        .filter(|e| e["ts"].as_f64().unwrap() >= t_wd)
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        after[..3],
        ["unresponsive", "restarting", "running"],
        "{after:?}"
    );
    assert!(paused["dur"].as_f64().unwrap() < 5e6);
    let restart_slot = evs
        .iter()
        .find(|e| e["ph"] == "X" && e["cat"] == "playbook")
        .expect("a playbook execution slice");
    assert!(restart_slot["ts"].as_f64().unwrap() >= t_wd);
    // The nemesis track has the fault's window too.
    let nem = slices(evs, thread_tid(evs, "fault 0: PauseHeartbeat"));
    assert_eq!(nem[0]["dur"].as_f64().unwrap(), 5e6);
    // The offline view of the trace draws those tracks.
    let dir = tempdir("s01-trace");
    let file = dir.join("s01.json");
    let buf = Buf::default();
    plain(
        &spec("S01_heartbeat_pause"),
        "default",
        RunOutputs {
            trace: Some(Box::new(buf.clone())),
            ..RunOutputs::default()
        },
    );
    std::fs::write(&file, buf.bytes()).unwrap();
    // Deterministic: the same run writes the same events.
    assert_eq!(serde_json::from_slice::<Value>(&buf.bytes()).unwrap(), v);
    let idx = chaosim::report::render_any(&file, Some(&dir.join("report"))).unwrap();
    assert_eq!(idx.kind, chaosim::report::ReportKind::Trace);
    let html = std::fs::read_to_string(&idx.html).unwrap();
    assert!(html.contains("coding_agent faults") && html.contains(">PauseHeartbeat</text>"));
    assert!(html.contains("<title>PauseHeartbeat [") && html.contains("(5.000 s)</title>"));
    // The page has a key of its colours and scales the drawing to the window.
    assert!(
        html.contains("Key: ")
            && html.contains("background:#8b0000")
            && html.contains("dead / down")
    );
    assert!(html.contains("viewBox=\"0 0 ") && html.contains("style=\"width:100%;height:auto\""));
    // Counters are sampled every 100 ms.
    let counters = evs
        .iter()
        .filter(|e| e["ph"] == "C" && e["name"] == "bus")
        .count();
    assert!(counters > 100, "{counters}");
}

#[test]
fn a_human_approval_at_night_shows_as_a_long_governance_slice() {
    // S03 at 02:00: the escalation playbooks wait for a human approval
    // (30 min median at night), longer than the rest of the run.
    let s = spec("S03_cpu_spike");
    let buf = Buf::default();
    let stack = StackSpec::embedded();
    let planned = Planned {
        spec: &s,
        scaled: difficulty::scale(&s, 1),
        offset_ns: 0,
        restore_first: false,
    };
    run_together(
        &stack,
        &[planned],
        deployed("default"),
        SafeguardSet::EMPTY,
        seed(),
        SimTime::from_day_time(0, 2, 0, 0).unwrap(),
        RunOutputs {
            trace: Some(Box::new(buf.clone())),
            ..RunOutputs::default()
        },
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&buf.bytes()).unwrap();
    let evs = check_fields(&v);
    check_nesting(evs);
    let approval = evs
        .iter()
        .filter(|e| e["ph"] == "X" && e["cat"] == "governance")
        .max_by(|a, b| {
            a["dur"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["dur"].as_f64().unwrap())
        })
        .expect("an approval slice");
    assert!(approval["dur"].as_f64().unwrap() > 60e6, "{approval}");
    assert_eq!(approval["args"]["tier"], 0, "a human approval: {approval}");
    // Its playbook execution encloses it and was still waiting at the end.
    let exec = evs
        .iter()
        .find(|e| {
            e["ph"] == "X"
                && e["cat"] == "playbook"
                && e["tid"] == approval["tid"]
                && e["ts"] == approval["ts"]
        })
        .expect("the enclosing execution");
    assert_eq!(exec["args"]["unfinished"], 1, "{exec}");
}

// ---------------------------------------------------------------- history

#[test]
fn the_jep01_timeline_marks_the_lost_and_stale_operations_the_checker_reported() {
    let dir = tempdir("jep01");
    let file = dir.join("history.jsonl");
    let s = spec("JEP01_log_partition");
    // Consistency safeguards off (the default set deploys neither).
    let r = plain(
        &s,
        "-quorum_ack,-fencing_tokens",
        RunOutputs {
            history: Some(Box::new(std::fs::File::create(&file).unwrap())),
            ..RunOutputs::default()
        },
    );
    let o = &r.outcomes[0];
    assert!(o.anomalies > 0, "{o:?}");
    let sum = chaosim::report::history::summarize(&file).unwrap();
    let lost = sum
        .anomalies
        .iter()
        .find(|a| a.kind == "lost_append")
        .expect("the checker reported lost appends");
    assert!(sum.anomalies.iter().any(|a| a.kind == "stale_read"));
    assert_eq!(
        sum.anomalies.iter().map(|a| a.count).sum::<u64>(),
        o.anomalies
    );
    // Every lost append the checker counted is marked, no more.
    assert_eq!(sum.lost_marked, lost.count);
    assert!(sum.windows.iter().any(|w| w.kind == "Partition"));

    let idx = chaosim::report::render_any(&file, Some(&dir.join("report"))).unwrap();
    assert_eq!(idx.kind, chaosim::report::ReportKind::History);
    let html = std::fs::read_to_string(&idx.html).unwrap();
    let marked = html.matches("<title>lost append ").count() as u64;
    // The overview marks all of them; the zoom marks those in its window.
    assert!(
        marked > lost.count,
        "{marked} markers for {} lost",
        lost.count
    );
    assert!(html.contains(&format!("lost append {}:", lost.values[0])));
    assert!(
        html.contains(">lost_append"),
        "the checker's first lost append is circled"
    );
    assert!(
        html.contains("stale_read"),
        "the first stale read is circled"
    );
    assert!(
        html.contains("<svg") && !html.contains("<script"),
        "self-contained"
    );

    // With the consistency safeguards deployed: no anomaly, nothing marked.
    let file2 = dir.join("history-safe.jsonl");
    let r2 = plain(
        &s,
        "+quorum_ack,+fencing_tokens",
        RunOutputs {
            history: Some(Box::new(std::fs::File::create(&file2).unwrap())),
            ..RunOutputs::default()
        },
    );
    assert_eq!(r2.outcomes[0].anomalies, 0);
    let idx2 = chaosim::report::render_any(&file2, Some(&dir.join("report2"))).unwrap();
    let html2 = std::fs::read_to_string(&idx2.html).unwrap();
    assert_eq!(html2.matches("<title>lost append ").count(), 0);
    // And the history flag does not change the run.
    let p = plain(&s, "-quorum_ack,-fencing_tokens", RunOutputs::default());
    assert_eq!(p.digest, r.digest);
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("chaosim-seeing-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---------------------------------------------------------------- CLI

#[test]
fn cli_run_control_json_and_report_of_timeline_with_control() {
    let dir = tempdir("cli");
    let tl = dir.join("run.csv");
    let out = assert_cmd::Command::cargo_bin("chaosim")
        .unwrap()
        .args(["run", "S02_acl_spam", "--control", "--json", "--timeline"])
        .arg(&tl)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "S02 fails (exit 1) and writes its outputs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let probes = v["control"]["probes"].as_array().expect("control section");
    assert!(probes.iter().any(|p| p["probe"] == "bus_latency_ms"));
    assert!(Path::new(&dir.join("run.control.csv")).is_file());
    let rep = assert_cmd::Command::cargo_bin("chaosim")
        .unwrap()
        .arg("report")
        .arg(&tl)
        .output()
        .unwrap();
    assert!(rep.status.success());
    assert!(dir.join("run.csv.report/control.svg").is_file());
    // Text output prints the comparison table.
    let txt = assert_cmd::Command::cargo_bin("chaosim")
        .unwrap()
        .args(["run", "S01_heartbeat_pause", "--control"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&txt.stdout);
    assert!(
        s.contains("control ") && s.contains("kernels_running"),
        "{s}"
    );
}

#[test]
fn traces_of_multi_fault_scenarios_at_difficulty_10_are_well_formed_and_nest() {
    let stack = StackSpec::embedded();
    let cat = Catalogue::embedded().unwrap();
    let ids: Vec<String> = cat
        .scenarios()
        .iter()
        .filter(|s| s.faults.len() > 1)
        .map(|s| s.id.clone())
        .collect();
    assert!(ids.len() >= 5, "{ids:?}");
    for id in ids {
        let s = spec(&id);
        let buf = Buf::default();
        let planned = Planned {
            spec: &s,
            scaled: difficulty::scale(&s, 10),
            offset_ns: 0,
            restore_first: false,
        };
        run_together(
            &stack,
            &[planned],
            deployed("default"),
            SafeguardSet::EMPTY,
            seed(),
            start(),
            RunOutputs {
                trace: Some(Box::new(buf.clone())),
                ..RunOutputs::default()
            },
        )
        .unwrap();
        let v: Value =
            serde_json::from_slice(&buf.bytes()).unwrap_or_else(|e| panic!("{id}: not JSON: {e}"));
        let evs = check_fields(&v);
        check_nesting(evs);
        let faults = evs
            .iter()
            .filter(|e| e["ph"] == "X" && e["pid"] == 3)
            .count();
        let scaled = difficulty::scale(&s, 10).faults.len();
        assert!(scaled >= s.faults.len(), "{id}: repeats add faults");
        assert_eq!(
            faults, scaled,
            "{id}: one nemesis slice per fault (repeats included)"
        );
    }
}
