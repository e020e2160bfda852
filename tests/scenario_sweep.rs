//! Sweeps over the stack model (`chaosim sweep --scenario`): the pass rate
//! responds to the varied parameter through the mechanism (recovery time
//! against the limit), and the outputs keep the guarantees of the API
//! sweeps (thread count, shards + merge).

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use chaosim::model::stack::StackSpec;
use chaosim::safeguard::{Safeguard, SafeguardSet};
use chaosim::scenario::Catalogue;
use chaosim::sweep::runner::{Shard, SweepOptions};
use chaosim::sweep::scenario_sweep::{Param, ScenarioSweepSpec, parse_values, run_scenario_sweep};

fn tmp(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("scenario_sweep")
        .join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

fn chaosim() -> Command {
    Command::cargo_bin("chaosim").unwrap()
}

const SWEEP: [&str; 9] = [
    "sweep",
    "--scenario",
    "S02_acl_spam",
    "--param",
    "intensity",
    "--values",
    "0.2:1:0.4",
    "--safeguards=+acl_violation_monitor",
    "--quiet",
];

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap()
}

#[test]
fn s02_pass_rate_falls_as_intensity_rises_because_recovery_grows() {
    // S02 with the ACL monitor deployed recovers in about 0 s at intensity
    // 0.2, ~1.7 s at 0.6 and ~3.8 s at 1 (the flood takes longer to drain).
    // With the recovery limit tightened to 2 s the pass rate must fall.
    let mut spec = Catalogue::embedded()
        .unwrap()
        .require("S02_acl_spam")
        .unwrap()
        .clone();
    spec.recovery_limit_ns = 2_000_000_000;
    let cat = Catalogue::from_specs(vec![spec]).unwrap();
    let stack = StackSpec::embedded();
    let mut deployed = stack.default_safeguards();
    deployed.insert(Safeguard::AclViolationMonitor);
    let sweep = ScenarioSweepSpec {
        scenario: "S02_acl_spam".into(),
        param: Param::Intensity,
        values_micro: parse_values("0.2:1:0.4", Param::Intensity).unwrap(),
        n: 8,
        seed: 7,
        difficulty: 1,
        deployed,
    };
    let out = tmp("falls");
    let opts = SweepOptions {
        threads: 2,
        shard: Shard::WHOLE,
        out: out.clone(),
        force: false,
        progress: Default::default(),
    };
    let report = run_scenario_sweep(&cat, &stack, 0, &sweep, &opts, &mut |_| {}).unwrap();
    let v = &report.values;
    assert_eq!(v.len(), 3);
    assert_eq!(report.experiments, 24);
    let rates: Vec<f64> = v.iter().map(|s| s.pass_rate).collect();
    assert!(rates.windows(2).all(|w| w[0] >= w[1]), "{rates:?}");
    assert_eq!(rates[0], 1.0, "{v:?}");
    assert_eq!(rates[2], 0.0, "{v:?}");
    // Mechanism: every run recovers, later at higher intensity, and the
    // failures at intensity 1 are recoveries over the limit.
    let p50: Vec<f64> = v.iter().map(|s| s.recovery_p50_s.unwrap()).collect();
    assert!(p50[0] < p50[1] && p50[1] < p50[2], "{p50:?}");
    assert!(p50[2] > 2.0, "{p50:?}");
    assert!(v.iter().all(|s| s.recovered == 8), "{v:?}");
    assert_eq!(v[2].failures[0], 8, "recovery_exceeded: {v:?}");
    // Without the monitor the same flood is not drained: not recovered.
    let none = ScenarioSweepSpec {
        deployed: SafeguardSet::EMPTY,
        values_micro: vec![1_000_000],
        n: 4,
        ..sweep
    };
    let opts = SweepOptions {
        out: tmp("falls_none"),
        ..opts
    };
    let r = run_scenario_sweep(&cat, &stack, 0, &none, &opts, &mut |_| {}).unwrap();
    assert_eq!(r.values[0].passes, 0);
    assert_eq!(r.values[0].recovered, 0);
    let csv = String::from_utf8(read(&out, "experiments.csv")).unwrap();
    assert!(csv.starts_with("value,experiment,seed,passed,recovery_s,failure_kind,"));
    assert_eq!(csv.lines().count(), 25);
}

#[test]
fn threads_1_and_2_give_identical_bytes() {
    let (a, b) = (tmp("t1"), tmp("t2"));
    for (dir, t) in [(&a, "1"), (&b, "2")] {
        chaosim()
            .args(SWEEP)
            .args(["--n", "6", "--threads", t, "--out"])
            .arg(dir)
            .assert()
            .success();
    }
    for f in ["experiments.csv", "summary.csv", "shard.ron"] {
        assert_eq!(read(&a, f), read(&b, f), "{f}");
    }
    let summary = String::from_utf8(read(&a, "summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 4, "{summary}");
}

#[test]
fn shards_merged_equal_one_run() {
    let whole = tmp("whole");
    chaosim()
        .args(SWEEP)
        .args(["--n", "5", "--threads", "2", "--out"])
        .arg(&whole)
        .assert()
        .success();
    // 15 experiments in 4 shards: boundaries 3, 7, 11 split the values.
    let mut dirs = Vec::new();
    for k in [3, 1, 4, 2] {
        let d = tmp(&format!("shard{k}"));
        chaosim()
            .args(SWEEP)
            .args([
                "--n",
                "5",
                "--threads",
                "1",
                "--shard",
                &format!("{k}/4"),
                "--out",
            ])
            .arg(&d)
            .assert()
            .success();
        dirs.push(d);
    }
    let merged = tmp("merged");
    chaosim()
        .arg("merge")
        .args(&dirs)
        .arg("--quiet")
        .arg("--out")
        .arg(&merged)
        .assert()
        .success();
    for f in ["experiments.csv", "summary.csv", "shard.ron"] {
        assert_eq!(read(&whole, f), read(&merged, f), "{f}");
    }
    // A shard of another sweep (other values) is refused.
    let foreign = tmp("foreign");
    chaosim()
        .args(SWEEP.map(|a| if a == "0.2:1:0.4" { "0.2:1:0.2" } else { a }))
        .args(["--n", "5", "--shard", "4/4", "--out"])
        .arg(&foreign)
        .assert()
        .success();
    let mut mixed = dirs[..3].to_vec();
    mixed.push(foreign);
    chaosim()
        .arg("merge")
        .args(&mixed)
        .arg("--out")
        .arg(tmp("mixed"))
        .assert()
        .code(2);
}

#[test]
fn bad_param_or_value_exits_2_with_a_clear_message() {
    let cases: [(&str, &str, &str); 5] = [
        ("speed", "0:1:0.5", "unknown parameter 'speed'"),
        ("fault[3].intensity", "0:1:0.5", "fault[0] to fault[0]"),
        ("intensity", "0:1.5:0.5", "out of range"),
        ("recovery_limit_s", "0", "out of range"),
        ("intensity", "0:1:0", "STEP"),
    ];
    for (param, values, msg) in cases {
        let out = chaosim()
            .args([
                "sweep",
                "--scenario",
                "S02_acl_spam",
                "--param",
                param,
                "--values",
                values,
                "--out",
            ])
            .arg(tmp("bad"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{param} {values}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{param} {values}: {err}");
        assert!(!tmp("bad").join("shard.ron").exists());
    }
    chaosim()
        .args(["sweep", "--scenario", "S99_nope", "--param", "intensity"])
        .args(["--values", "0.5", "--out"])
        .arg(tmp("bad"))
        .assert()
        .code(2);
}
