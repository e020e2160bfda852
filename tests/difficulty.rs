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
