//! One execution: what to run (scenarios, levels, safeguards, start time,
//! seed), as plain data, so a recorded row can be replayed alone.

use crate::engine::{SeedPath, SimTime};
use crate::error::Result;
use crate::safeguard::SafeguardSet;

use super::outcome::Outcome;

/// One scenario inside an execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Scenario id (must be in the catalogue).
    pub scenario: String,
    /// Difficulty level 1..=10.
    pub difficulty: u8,
    /// Safeguards the knowledge base already knows fix this scenario: their
    /// playbooks run without the diagnosis step (pre-approved).
    pub known_fixes: SafeguardSet,
}

/// A self-contained description of one execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// Root seed of the programme (or of `chaosim run`).
    pub seed: u64,
    /// Run index within the programme (0 for a single `chaosim run`).
    pub run: u64,
    /// Simulated start time (the slot: day and time of day).
    pub start: SimTime,
    /// Whether the items run concurrently on one stack instance (Mixed slots,
    /// stress waves) or each on its own fresh stack, one after the other.
    pub concurrent: bool,
    /// The scenarios.
    pub items: Vec<Item>,
    /// Safeguards deployed on the stack.
    pub deployed: SafeguardSet,
}

impl Execution {
    /// The seed path of this execution's stack: `root(seed) / "run" / run`.
    /// A sequential item `i` uses `/ "item" / i` below it.
    pub fn seed_path(&self) -> SeedPath {
        SeedPath::root(self.seed).child("run").child_u64(self.run)
    }

    /// The seed path of a sequential item run alone at `position`:
    /// `seed_path() / "item" / position`.
    pub fn item_seed_path(&self, position: u64) -> SeedPath {
        self.seed_path().child("item").child_u64(position)
    }
}

/// Something that can execute an [`Execution`]: the real scenario runner, or
/// a scripted stand-in in unit tests of the programme logic.
pub trait Executor: Sync {
    /// Run it; one outcome per item, in item order.
    fn execute(&self, exec: &Execution) -> Result<Vec<Outcome>>;

    /// A hint from a driver planning ahead: `exec` is likely to be executed
    /// soon. An executor with idle workers may start it now and keep the
    /// outcomes for a later identical [`execute`](Self::execute). It must
    /// never change what `execute` returns.
    fn speculate(&self, _exec: &Execution) {}

    /// Whether [`speculate`](Self::speculate) does anything (drivers skip
    /// planning ahead otherwise).
    fn speculates(&self) -> bool {
        false
    }
}
