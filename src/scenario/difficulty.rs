//! Difficulty levels 1..=10 and how they scale a scenario: a table of data
//! ([`DifficultyTable`], the `difficulty` section of the stack file, with
//! the defaults of `src/defaults/difficulty.ron`).
//!
//! The default table:
//!
//! | level | window | fault lengths | intensity | more targets | repeats | recovery limit | load | severity |
//! |---:|---:|---:|---:|---:|---:|---:|---:|---|
//! | 1 | x1 | x1.0 | x1.00 | 0 | 1 | 100 % | 0 % | medium |
//! | 2 | x1 | x1.2 | x1.15 | 1 | 1 | 95 % | 10 % | medium |
//! | 3 | x1 | x1.4 | x1.30 | 1 | 2 | 90 % | 20 % | medium |
//! | 4 | x2 | x2.0 | x1.45 | 2 | 2 | 85 % | 30 % | high |
//! | 5 | x2 | x2.4 | x1.60 | 3 | 2 | 80 % | 40 % | high |
//! | 6 | x2 | x2.8 | x1.75 | 3 | 3 | 75 % | 50 % | high |
//! | 7 | x5 | x5.0 | x1.90 | 4 | 3 | 70 % | 60 % | critical |
//! | 8 | x5 | x5.5 | x2.05 | 5 | 3 | 65 % | 70 % | critical |
//! | 9 | x5 | x6.0 | x2.20 | 5 | 4 | 60 % | 80 % | critical |
//! | 10 | x5 | x7.0 | x2.40 | 6 | 4 | 55 % | 100 % | critical |
//!
//! How a level applies to a scenario ([`scale`]):
//! - **window**: the scenario's `duration_s` is its window at level 1; a 60 s
//!   scenario runs 60 -> 120 -> 300 s.
//! - **fault lengths** stretch by their own factor (finer than the window's),
//!   and every fault still ends inside the window.
//! - **intensity** is multiplied, capped at 1 (the top of every kind's scale).
//! - **more targets**: a kind that [widens](crate::fault::FaultKind::widens)
//!   with targets (faults aimed at kernels or log nodes) hits that many more,
//!   drawn at random besides its own target (MF01's kill hits 5 kernels at
//!   once from level 7).
//! - **repeats**: each fault comes back `repeats - 1` more times, each copy
//!   `repeat_gap` after the previous one ends, as long as it starts inside the
//!   window (so a 5 s pause at level 3 pauses twice; a flood that already
//!   fills the window does not repeat).
//! - **recovery limit**: multiplied (less time to recover).
//! - **load**: from the scenario's first fault to the end of the run the
//!   stack carries that much more background work (API requests and bus
//!   traffic, Layer-2 intents, replicated-log client operations): load while
//!   it recovers.
//!
//! Every level is strictly harder than the one below for every scenario:
//! the table is validated so that each step raises the load or the window
//! (which every scenario feels) and lowers the recovery limit, and no knob
//! ever goes back ([`DifficultyTable::validate`]). Per family, which knobs
//! bite once intensity saturates: kernel faults (DiRT, Stress, multi-fault)
//! gain targets and repeats; Layer-2 and FIT faults feel the extra intents
//! and requests; Jepsen faults gain nodes (clock and node faults), repeats
//! (short partitions) and client load; every family loses recovery time.

use super::spec::{FaultSpec, ScenarioSpec};

pub use crate::fault::difficulty::{
    DEFAULT_RON, DifficultyTable, LEVEL_MAX, LEVEL_MIN, Level, SeverityLabel,
};

/// The default table's row for `level`, `None` outside 1..=10.
pub fn level(level: u8) -> Option<Level> {
    (LEVEL_MIN..=LEVEL_MAX)
        .contains(&level)
        .then(|| DifficultyTable::embedded().level(level))
}

/// A scenario at a difficulty level: what the runner executes.
#[derive(Clone, Debug, PartialEq)]
pub struct Scaled {
    /// The level applied.
    pub level: Level,
    /// The observation window.
    pub window_ns: u64,
    /// The recovery limit at this level.
    pub recovery_limit_ns: u64,
    /// Extra background load from the first fault on, permille.
    pub load_permille: u16,
    /// The faults after scaling (lengths stretched, intensities raised,
    /// targets widened, repeats appended after the originals).
    pub faults: Vec<FaultSpec>,
    /// For each scaled fault, the index of the scenario's fault it comes from.
    pub origin: Vec<u8>,
    /// The scenario's faults (not their repeats) that this level stretched
    /// past the observation window and that were cut to end inside it:
    /// the run injects them for `kept_ns`, not `length_ns`.
    pub cut: Vec<FaultCut>,
}

/// A fault cut by the observation window (see [`Scaled::cut`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultCut {
    /// Index of the fault in the scenario.
    pub index: usize,
    /// Its start at this level.
    pub start_ns: u64,
    /// Its length at this level before the cut.
    pub length_ns: u64,
    /// The length it runs: up to the end of the window.
    pub kept_ns: u64,
}

/// Apply difficulty `lvl` (clamped to 1..=10) of the embedded table to `spec`.
pub fn scale(spec: &ScenarioSpec, lvl: u8) -> Scaled {
    scale_with(spec, lvl, DifficultyTable::embedded())
}

/// Apply difficulty `lvl` (clamped to 1..=10) of `table` to `spec`.
pub fn scale_with(spec: &ScenarioSpec, lvl: u8, table: &DifficultyTable) -> Scaled {
    let level = table.level(lvl);
    let by = |ns: u64, x1000: u32| (ns as u128 * x1000 as u128 / 1000).min(u64::MAX as u128) as u64;
    let window_ns = by(spec.duration_ns, level.window_x1000);
    let mut faults = Vec::with_capacity(spec.faults.len() * level.repeats as usize);
    let mut origin = Vec::with_capacity(faults.capacity());
    let mut cut = Vec::new();
    for (i, f) in spec.faults.iter().enumerate() {
        let start_ns = f.start_ns.min(window_ns);
        let stretched_ns = by(f.length_ns, level.length_x1000);
        let length_ns = stretched_ns.min(window_ns - start_ns);
        if f.kind.uses_length() && length_ns < stretched_ns {
            cut.push(FaultCut {
                index: i,
                start_ns,
                length_ns: stretched_ns,
                kept_ns: length_ns,
            });
        }
        let intensity =
            (f.intensity_permille as u32 * level.intensity_x1000 / 1000).min(1000) as u16;
        let extra = if f.kind.widens().more_targets {
            level.extra_targets
        } else {
            0
        };
        let base = FaultSpec {
            kind: f.kind,
            target: f.target.clone(),
            start_ns,
            length_ns,
            intensity_permille: intensity,
            extra_targets: f.extra_targets + extra,
        };
        faults.push(base.clone());
        origin.push(i as u8);
    }
    // Repeats come after the originals, so a fault's index in the scenario
    // is its index here too.
    for (i, f) in spec.faults.iter().enumerate() {
        if !f.kind.widens().repeats {
            continue;
        }
        let first = faults[i].clone();
        let stride = first.length_ns + level.repeat_gap_ns;
        for k in 1..level.repeats as u64 {
            let start_ns = first.start_ns + k * stride;
            if start_ns >= window_ns {
                break;
            }
            faults.push(FaultSpec {
                start_ns,
                length_ns: first.length_ns.min(window_ns - start_ns),
                ..first.clone()
            });
            origin.push(i as u8);
        }
    }
    Scaled {
        level,
        window_ns,
        recovery_limit_ns: by(spec.recovery_limit_ns, level.recovery_limit_permille as u32),
        load_permille: if spec.faults.is_empty() {
            0
        } else {
            level.load_permille
        },
        faults,
        origin,
        cut,
    }
}
