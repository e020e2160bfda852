//! The source's stress test reproduced: on the default stack, three waves
//! (S01; S02 + S03; S01 + S02 + S03) give the source's table, and the two
//! monitors the source recommended make every wave pass.

use std::process::Command;

use chaosim::model::stack::StackSpec;
use chaosim::safeguard::{Safeguard, SafeguardSet};
use chaosim::scenario::Catalogue;
use chaosim::scenario::outcome::FailureKind;
use chaosim::scenario::stress::{
    KERNELS_END_TOLERANCE, S01_RECOVERY_TARGET_S, SOURCE_KERNELS_END, StressReport, WAVES, compare,
    run_stress,
};

fn stress(deployed: SafeguardSet) -> StressReport {
    let stack = StackSpec::embedded();
    run_stress(&stack, &Catalogue::embedded().unwrap(), 42, deployed).unwrap()
}

fn default_stack() -> SafeguardSet {
    StackSpec::embedded().default_safeguards()
}

fn with_monitors() -> SafeguardSet {
    default_stack()
        .with(Safeguard::AclViolationMonitor)
        .with(Safeguard::ResourcePressureMonitor)
}

#[test]
fn the_default_stack_reproduces_the_source_table() {
    let r = stress(default_stack());
    let verdicts: Vec<Vec<(&str, bool)>> = r
        .waves
        .iter()
        .map(|w| {
            w.outcomes
                .iter()
                .map(|o| (o.id.as_str(), o.passed))
                .collect()
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            vec![("S01_heartbeat_pause", true)],
            vec![("S02_acl_spam", false), ("S03_cpu_spike", false)],
            vec![
                ("S01_heartbeat_pause", true),
                ("S02_acl_spam", false),
                ("S03_cpu_spike", false)
            ],
        ]
    );
    assert_eq!(r.waves.len(), WAVES.len());
    // S01 recovers within the target in the first wave.
    let s01 = &r.waves[0].outcomes[0];
    let rec = s01.recovery_s.expect("S01 recovered");
    assert!(rec <= S01_RECOVERY_TARGET_S, "S01 recovery {rec} s");
    // S02 and S03 fail on their recovery limits, not on a label.
    for w in &r.waves[1..] {
        for o in w.outcomes.iter().filter(|o| !o.passed) {
            assert!(
                o.failure_kinds.iter().any(|k| matches!(
                    k,
                    FailureKind::RecoveryExceeded | FailureKind::NotRecovered
                )),
                "{} failed on {:?}",
                o.id,
                o.failure_kinds
            );
            assert!(w.steady_before, "the wave started from a steady state");
        }
    }
    assert_eq!((r.passed, r.failed), (2, 4));
    assert!(
        r.end.kernels_running.abs_diff(SOURCE_KERNELS_END) <= KERNELS_END_TOLERANCE,
        "{} kernels running at the end",
        r.end.kernels_running
    );
    assert_eq!(r.end.kernels_running, 5, "3 to 7, and 5 today");
    assert!(r.end.api_degraded() && r.end.cpu_ok() && r.end.memory_ok());
    assert!(
        r.restart_budget_exceeded > 0,
        "kernels exceeded max restarts"
    );
    assert!(
        r.waves[2].restored_kernels > 0,
        "wave 2 left failed kernels"
    );
    assert_eq!(r.escalated, ["S02_acl_spam", "S03_cpu_spike"]);
    let rows = compare(&r);
    let differs: Vec<_> = rows.iter().filter(|row| !row.agrees).collect();
    assert!(differs.is_empty(), "{differs:#?}");
}

#[test]
fn with_the_acl_and_pressure_monitors_every_wave_passes() {
    let r = stress(with_monitors());
    for w in &r.waves {
        for o in &w.outcomes {
            assert!(o.passed, "{}: {:?}", o.id, o.failure_reason);
        }
    }
    assert_eq!((r.passed, r.failed), (6, 0));
    assert_eq!(r.end.kernels_running, r.end.kernels_total);
    assert!(r.escalated.is_empty());
    // The comparison says what changed: the failed rows of the source now differ.
    let rows = compare(&r);
    for id in ["S02_acl_spam", "S03_cpu_spike"] {
        for row in rows.iter().filter(|row| row.figure.ends_with(id)) {
            assert!(!row.agrees, "{row:?}");
        }
    }
}

fn chaosim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chaosim"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn compare_prints_the_source_beside_the_run_and_json_carries_both() {
    let out = chaosim(&["stress", "--compare"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("the source's stress table beside this run"),
        "{text}"
    );
    assert!(text.contains("13 of 13 rows agree"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("kernels running at the end"))
        .unwrap();
    assert!(
        row.contains("5/20") && row.trim_end().ends_with("ok"),
        "{row}"
    );

    let out = chaosim(&["stress", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["passed"], 2);
    assert_eq!(v["report"]["end"]["kernels_running"], 5);
    assert_eq!(v["report"]["escalated"][1], "S03_cpu_spike");
    let rows = v["compare"].as_array().unwrap();
    assert_eq!(rows.len(), 13);
    assert_eq!(rows[0]["source"], "passed, recovery 0.1 s");
    assert!(rows.iter().all(|r| r["agrees"] == true));
}
