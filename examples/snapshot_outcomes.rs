//! Snapshot-testing your own scenarios' outcomes in your CI, with insta:
//! every outcome field (verdict, recovery, safeguards fired and missing,
//! anomalies, events, digest) is recorded once, reviewed, committed, and a
//! change in the stack, the scenarios or chaosim shows up as a diff.
//!
//! ```sh
//! cargo run --example snapshot_outcomes           # print the outcomes
//! cargo test --example snapshot_outcomes          # compare with the snapshots
//! cargo insta review                              # accept a reviewed change
//! ```
//!
//! Here the scenarios are two of the catalogue's; in your repository,
//! `Catalogue::load_dir("my-scenarios")` reads your folder instead. The
//! snapshots live in `examples/snapshots/`; CI (`CI=true`) never writes them.

use chaosim::engine::SimTime;
use chaosim::model::stack::StackSpec;
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::run::Runner;
use chaosim::scenario::{Catalogue, Execution, Executor, Item, Outcome};

/// The scenarios under test and the fixed seed: fixed inputs, fixed output.
const IDS: [&str; 2] = ["S01_heartbeat_pause", "S02_acl_spam"];
const SEED: u64 = 7;

/// Each scenario's outcome at difficulty 1 on the default stack.
fn outcomes() -> Vec<Outcome> {
    let cat = Catalogue::embedded().expect("the built-in catalogue");
    let stack = StackSpec::embedded();
    let runner = Runner {
        catalogue: &cat,
        stack: &stack,
        threads: 1,
    };
    IDS.iter()
        .map(|id| {
            let exec = Execution {
                seed: SEED,
                run: 0,
                start: SimTime::from_day_time(0, 12, 0, 0).expect("a valid time"),
                concurrent: false,
                items: vec![Item {
                    scenario: (*id).into(),
                    difficulty: 1,
                    known_fixes: SafeguardSet::EMPTY,
                }],
                deployed: stack.default_safeguards(),
            };
            runner.execute(&exec).expect("the run completes").remove(0)
        })
        .collect()
}

fn main() {
    for o in outcomes() {
        println!(
            "{:<24} {}  digest {}",
            o.id,
            if o.passed { "passed" } else { "FAILED" },
            o.digest
        );
    }
}

#[cfg(test)]
mod tests {
    /// One reviewed snapshot per scenario (`examples/snapshots/`).
    #[test]
    fn outcomes_match_the_reviewed_snapshots() {
        for o in super::outcomes() {
            insta::assert_json_snapshot!(o.id.clone(), o);
        }
    }
}
