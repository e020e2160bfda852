//! Planning ahead never changes a result: the speculating executor returns
//! exactly what the plain runner returns, whether its guesses were right,
//! wrong or partly right.

use chaosim::engine::SimTime;
use chaosim::model::stack::StackSpec;
use chaosim::program::speculate::with_speculation;
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::run::Runner;
use chaosim::scenario::{Catalogue, Execution, Executor, Item};

fn item(id: &str, level: u8) -> Item {
    Item {
        scenario: id.into(),
        difficulty: level,
        known_fixes: SafeguardSet::EMPTY,
    }
}

fn exec(run: u64, concurrent: bool, items: Vec<Item>) -> Execution {
    Execution {
        seed: 7,
        run,
        start: SimTime::from_nanos(run * 3_600_000_000_000),
        concurrent,
        items,
        deployed: SafeguardSet::EMPTY,
    }
}

#[test]
fn guesses_right_wrong_or_partial_give_the_plain_outcomes() {
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    let runner = Runner {
        catalogue: &cat,
        stack: &stack,
        threads: 1,
    };
    let real = [
        exec(
            0,
            false,
            vec![item("S01_heartbeat_pause", 1), item("S02_acl_spam", 2)],
        ),
        exec(
            1,
            true,
            vec![item("S03_cpu_spike", 1), item("S04_memory_leak", 1)],
        ),
        exec(
            2,
            false,
            vec![item("S02_acl_spam", 1), item("S03_cpu_spike", 3)],
        ),
    ];
    let plain: Vec<_> = real.iter().map(|e| runner.execute(e).unwrap()).collect();
    // Run 0 guessed right, run 1 guessed wrong (other level), run 2 partly
    // right (item 0 right, item 1 wrong).
    let guesses = [
        real[0].clone(),
        exec(
            1,
            true,
            vec![item("S03_cpu_spike", 2), item("S04_memory_leak", 1)],
        ),
        exec(
            2,
            false,
            vec![item("S02_acl_spam", 1), item("S01_heartbeat_pause", 3)],
        ),
    ];
    let (got, stats) = with_speculation(&runner, 2, |ex| {
        for g in &guesses {
            ex.speculate(g);
        }
        let got: Vec<_> = real.iter().map(|e| ex.execute(e).unwrap()).collect();
        (got, ex.stats())
    });
    assert_eq!(got.len(), plain.len());
    for (g, p) in got.iter().zip(&plain) {
        assert_eq!(g.len(), p.len());
        for (a, b) in g.iter().zip(p) {
            assert_eq!(
                (&a.id, a.passed, a.digest, a.events),
                (&b.id, b.passed, b.digest, b.events)
            );
        }
    }
    assert_eq!(
        stats.wanted,
        2 + 1 + 2,
        "units: 2 items, 1 concurrent, 2 items"
    );
    assert_eq!(
        stats.dropped, 2,
        "the wrong concurrent guess and the wrong item"
    );
}
