//! Difficulty levels 1..=10 and how they scale a scenario.
//!
//! | level | window | simultaneous | intensity | severity |
//! |---:|---:|---:|---:|---|
//! | 1 | 60 s | 1 | x1.00 | medium |
//! | 2 | 60 s | 1 | x1.15 | medium |
//! | 3 | 60 s | 1 | x1.30 | medium |
//! | 4 | 120 s | 2 | x1.45 | high |
//! | 5 | 120 s | 2 | x1.60 | high |
//! | 6 | 120 s | 2 | x1.75 | high |
//! | 7 | 300 s | 3 | x1.90 | critical |
//! | 8 | 300 s | 3 | x2.05 | critical |
//! | 9 | 300 s | 3 | x2.20 | critical |
//! | 10 | 300 s | 3 | x2.40 | critical |
//!
//! How a level applies to a scenario ([`scale`]):
//! - **window**: the scenario's own `duration_s` is its window at level 1;
//!   higher levels stretch it in the table's proportion (x2 at 120 s, x5 at
//!   300 s: a 60 s scenario runs 60 -> 120 -> 300 s). Fault lengths stretch
//!   in the same proportion (a 5 s pause becomes 25 s at level 7), and faults
//!   still end inside the window.
//! - **simultaneous faults**: faults aimed at kernels or a log node hit more
//!   targets: `2 x (simultaneous - 1)` more, drawn at random besides the
//!   named one (so a single kernel kill becomes 3 kills at level 4 and 5 kills
//!   at level 7: MF01 at a high level kills 5 kernels at once).
//! - **intensity**: multiplied, capped at 1 (the top of every fault's scale).
//! - **severity**: the label reported with the outcome.
//!
//! The recovery limit does not change with the level: harder faults, same
//! promise.

use super::spec::{FaultSpec, ScenarioSpec, Target};

/// Lowest difficulty level.
pub const LEVEL_MIN: u8 = 1;
/// Highest difficulty level.
pub const LEVEL_MAX: u8 = 10;

/// Severity labels of the difficulty table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityLabel {
    /// Levels 1-3.
    Medium,
    /// Levels 4-6.
    High,
    /// Levels 7-10.
    Critical,
}

/// One row of the difficulty table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    /// 1..=10.
    pub level: u8,
    /// Observation window of a 60 s scenario, seconds (others scale in proportion).
    pub window_s: u64,
    /// Simultaneous faults per kernel/node fault.
    pub simultaneous: u8,
    /// Intensity multiplier, in thousandths.
    pub intensity_x1000: u32,
    /// The label.
    pub severity: SeverityLabel,
}

use SeverityLabel::*;

/// The table, indexed by `level - 1`.
pub const LEVELS: [Level; 10] = [
    Level {
        level: 1,
        window_s: 60,
        simultaneous: 1,
        intensity_x1000: 1000,
        severity: Medium,
    },
    Level {
        level: 2,
        window_s: 60,
        simultaneous: 1,
        intensity_x1000: 1150,
        severity: Medium,
    },
    Level {
        level: 3,
        window_s: 60,
        simultaneous: 1,
        intensity_x1000: 1300,
        severity: Medium,
    },
    Level {
        level: 4,
        window_s: 120,
        simultaneous: 2,
        intensity_x1000: 1450,
        severity: High,
    },
    Level {
        level: 5,
        window_s: 120,
        simultaneous: 2,
        intensity_x1000: 1600,
        severity: High,
    },
    Level {
        level: 6,
        window_s: 120,
        simultaneous: 2,
        intensity_x1000: 1750,
        severity: High,
    },
    Level {
        level: 7,
        window_s: 300,
        simultaneous: 3,
        intensity_x1000: 1900,
        severity: Critical,
    },
    Level {
        level: 8,
        window_s: 300,
        simultaneous: 3,
        intensity_x1000: 2050,
        severity: Critical,
    },
    Level {
        level: 9,
        window_s: 300,
        simultaneous: 3,
        intensity_x1000: 2200,
        severity: Critical,
    },
    Level {
        level: 10,
        window_s: 300,
        simultaneous: 3,
        intensity_x1000: 2400,
        severity: Critical,
    },
];

const _: () = {
    let mut i = 1;
    while i < LEVELS.len() {
        assert!(LEVELS[i].level == LEVELS[i - 1].level + 1);
        assert!(LEVELS[i].window_s >= LEVELS[i - 1].window_s);
        assert!(LEVELS[i].simultaneous >= LEVELS[i - 1].simultaneous);
        assert!(LEVELS[i].intensity_x1000 > LEVELS[i - 1].intensity_x1000);
        i += 1;
    }
};

/// The table row for `level`, `None` outside 1..=10.
pub fn level(level: u8) -> Option<Level> {
    (LEVEL_MIN..=LEVEL_MAX)
        .contains(&level)
        .then(|| LEVELS[level as usize - 1])
}

/// A scenario at a difficulty level: what the runner executes.
#[derive(Clone, Debug, PartialEq)]
pub struct Scaled {
    /// The level applied.
    pub level: Level,
    /// The observation window.
    pub window_ns: u64,
    /// The faults after scaling (targets widened, lengths stretched,
    /// intensities raised).
    pub faults: Vec<FaultSpec>,
}

/// Apply difficulty `lvl` (clamped to 1..=10) to `spec`.
pub fn scale(spec: &ScenarioSpec, lvl: u8) -> Scaled {
    let level = LEVELS[lvl.clamp(LEVEL_MIN, LEVEL_MAX) as usize - 1];
    let window_ns =
        ((spec.duration_ns as u128 * level.window_s as u128) / LEVELS[0].window_s as u128) as u64;
    let extra = 2 * (level.simultaneous as u16 - 1);
    let faults = spec
        .faults
        .iter()
        .map(|f| {
            let stretch =
                |ns: u64| ((ns as u128 * window_ns as u128) / spec.duration_ns as u128) as u64;
            let start_ns = f.start_ns.min(window_ns);
            let length_ns = stretch(f.length_ns).min(window_ns - start_ns);
            let intensity =
                (f.intensity_permille as u32 * level.intensity_x1000 / 1000).min(1000) as u16;
            let extra_targets = match f.target {
                Target::Kernel(_)
                | Target::CriticalKernel
                | Target::RandomKernels(_)
                | Target::Node(_) => extra,
                _ => 0,
            };
            FaultSpec {
                kind: f.kind,
                target: f.target.clone(),
                start_ns,
                length_ns,
                intensity_permille: intensity,
                extra_targets: f.extra_targets + extra_targets,
            }
        })
        .collect();
    Scaled {
        level,
        window_ns,
        faults,
    }
}
