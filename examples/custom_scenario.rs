//! A custom stack and a custom scenario, from Rust: which safeguard do we
//! miss, and what does it buy us?
//!
//! ```sh
//! cargo run --example custom_scenario
//! ```
//!
//! The scenario and the stack are RON text (the same files `chaosim run
//! --scenarios DIR --stack FILE` reads), parsed and checked against each
//! other before anything runs; the outcome comes from the mechanisms, so
//! deploying the missing safeguard really changes what happens.

use std::path::Path;

use chaosim::engine::SimTime;
use chaosim::model::stack::StackSpec;
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::run::Runner;
use chaosim::scenario::spec::parse_scenario;
use chaosim::scenario::{Catalogue, Execution, Executor, Item, Outcome, preflight};

/// Two ACL floods on the coding agent, the second one longer.
const SCENARIO: &str = r#"(
    id: "MY01_double_acl_flood",
    title: "A publisher floods the bus twice",
    family: Stress,
    layer: 1,
    severity: 3,
    duration_s: 120,
    recovery_limit_s: 60,
    faults: [
        (kind: AclFlood, target: Kernel("coding_agent"), start_s: 5, length_s: 20, intensity: 0.5),
        (kind: AclFlood, target: Kernel("coding_agent"), start_s: 50, length_s: 40, intensity: 0.8),
    ],
    expected_safeguards: ["acl_violation_monitor"],
)"#;

/// A stack file names only what it changes: here the control-plane dump
/// interval; everything else is the built-in stack.
const STACK: &str = "(layer1: (dump_interval_ns: 5000000000))";

fn run(cat: &Catalogue, stack: &StackSpec, deployed: SafeguardSet, seed: u64) -> Outcome {
    let runner = Runner {
        catalogue: cat,
        stack,
        threads: 1,
    };
    let exec = Execution {
        seed,
        run: 0,
        start: SimTime::from_day_time(0, 12, 0, 0).expect("a valid time"),
        concurrent: false,
        items: vec![Item {
            scenario: "MY01_double_acl_flood".into(),
            difficulty: 1,
            known_fixes: SafeguardSet::EMPTY,
        }],
        deployed,
    };
    runner.execute(&exec).expect("the run completes").remove(0)
}

fn main() {
    let spec =
        parse_scenario(SCENARIO, Path::new("MY01_double_acl_flood.ron")).expect("a valid scenario");
    let stack = StackSpec::parse(STACK, Path::new("my-stack.ron")).expect("a valid stack");
    // Targets must exist in the stack (a typo is an error, not a no-op).
    preflight::check_spec_targets(&spec, &stack).expect("targets exist");
    let cat = Catalogue::from_specs(vec![spec]).expect("one scenario");

    let default = stack.default_safeguards();
    let with = SafeguardSet::from_spec("+acl_violation_monitor", default).expect("known");
    for (name, deployed) in [
        ("default safeguards", default),
        ("+acl_violation_monitor", with),
    ] {
        let mut passed = 0;
        for seed in 0..5 {
            let o = run(&cat, &stack, deployed, seed);
            passed += u32::from(o.passed);
            if seed == 0 {
                println!(
                    "{name:<24} seed 0: {}, recovery {}, missing {}",
                    if o.passed { "PASSED" } else { "FAILED" },
                    o.recovery_s
                        .map_or("not restored".to_string(), |r| format!("{r:.1} s")),
                    if o.safeguards_missing.is_empty() {
                        "none".to_string()
                    } else {
                        o.safeguards_missing.join(", ")
                    }
                );
            }
        }
        println!("{name:<24} {passed}/5 seeds passed");
    }
    // What the safeguard buys: without it the flood starves the heartbeats;
    // with it, the flood is cut off and the stack recovers.
    assert!(!run(&cat, &stack, default, 0).passed);
    assert!(run(&cat, &stack, with, 0).passed);
}

#[cfg(test)]
mod tests {
    /// `cargo test` runs the example (see `[[example]]` in Cargo.toml).
    #[test]
    fn the_example_runs() {
        super::main();
    }
}
