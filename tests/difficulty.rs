//! Difficulty escalates at every level: every catalogue scenario is a
//! distinct run at each of the 10 levels, and over seeds the pass share on a
//! fixed stack does not rise with the level.

use std::collections::BTreeSet;

use chaosim::model::stack::StackSpec;
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::Catalogue;
use chaosim::scenario::shrink::{default_start, run_alone};

#[test]
fn every_catalogue_scenario_is_a_distinct_run_at_every_level() {
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    for spec in cat.scenarios() {
        let digests: BTreeSet<String> = (1..=10)
            .map(|level| {
                run_alone(
                    &stack,
                    spec,
                    7,
                    level,
                    stack.default_safeguards(),
                    default_start(),
                )
                .unwrap()
                .digest
                .to_string()
            })
            .collect();
        assert_eq!(
            digests.len(),
            10,
            "{}: {} distinct runs of 10",
            spec.id,
            digests.len()
        );
    }
}

#[test]
fn the_pass_share_does_not_rise_with_the_level() {
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    const SEEDS: u64 = 20;
    const TOLERANCE: usize = 2; // passes out of 20
    // S01 and DIRT01 pass on the default stack at low levels; FIT01 and
    // JEP01 need safeguards the default stack lacks (on it they fail at every
    // level), so they are measured with every safeguard deployed.
    for (safeguards, ids) in [
        (
            "default",
            ["S01_heartbeat_pause", "DIRT01_critical_kernel_kill"],
        ),
        ("all", ["FIT01_api_flood", "JEP01_log_partition"]),
    ] {
        let deployed = SafeguardSet::from_spec(safeguards, stack.default_safeguards()).unwrap();
        for id in ids {
            let spec = cat.require(id).unwrap();
            let passes: Vec<usize> = (1..=10)
                .map(|level| {
                    (0..SEEDS)
                        .filter(|&seed| {
                            run_alone(&stack, spec, seed, level, deployed, default_start())
                                .unwrap()
                                .passed
                        })
                        .count()
                })
                .collect();
            eprintln!("{id} ({safeguards}): passes by level {passes:?}");
            for l in 1..10 {
                assert!(
                    passes[l] <= passes[l - 1] + TOLERANCE,
                    "{id} ({safeguards}): level {} passes {} of {SEEDS}, level {} only {}",
                    l + 1,
                    passes[l],
                    l,
                    passes[l - 1]
                );
            }
            assert!(
                passes[9] <= passes[0],
                "{id} ({safeguards}): level 10 is no easier than level 1: {passes:?}"
            );
        }
    }
}

#[test]
fn a_fault_stretched_past_the_window_is_cut_and_the_run_says_so() {
    let cat = Catalogue::embedded().unwrap();
    let s02 = cat.get("S02_acl_spam").unwrap();
    // S02: the flood from 5 s for 60 s in a 60 s window runs 55 s.
    let cut = chaosim::scenario::difficulty::scale(s02, 1).cut;
    assert_eq!(
        cut,
        vec![chaosim::scenario::difficulty::FaultCut {
            index: 0,
            start_ns: 5_000_000_000,
            length_ns: 60_000_000_000,
            kept_ns: 55_000_000_000,
        }]
    );
    // The spec's own warning and the level-1 cut agree.
    assert_eq!(s02.faults_cut_by_window().len(), cut.len());
    let s01 = cat.get("S01_heartbeat_pause").unwrap();
    assert!(chaosim::scenario::difficulty::scale(s01, 1).cut.is_empty());
    // `run` prints it and `--json` carries it.
    let out = assert_cmd::Command::cargo_bin("chaosim")
        .unwrap()
        .args(["run", "S02_acl_spam", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["faults_cut"],
        serde_json::json!([{"fault": 0, "kind": "AclFlood", "start_s": 5.0,
            "length_s": 60.0, "kept_s": 55.0, "window_s": 60.0}])
    );
    let out = assert_cmd::Command::cargo_bin("chaosim")
        .unwrap()
        .args(["run", "S02_acl_spam"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cut by window   faults[0] (AclFlood) from 5 s: 60 s at this level, runs 55 s (the 60 s window ends first)"),
        "{text}"
    );
}
