//! The difficulty table as data ([`DifficultyTable`]): what each level
//! 1..=10 does to a scenario's faults, window, recovery limit and load.
//! `scenario::difficulty` applies it; its module docs show the default
//! table and what each knob means.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Lowest difficulty level.
pub const LEVEL_MIN: u8 = 1;
/// Highest difficulty level.
pub const LEVEL_MAX: u8 = 10;

/// The embedded default table (`src/defaults/difficulty.ron`).
pub const DEFAULT_RON: &str = include_str!("../defaults/difficulty.ron");

/// Severity labels of the difficulty table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityLabel {
    /// Levels 1-3 by default.
    Medium,
    /// Levels 4-6.
    High,
    /// Levels 7-10.
    Critical,
}

/// One row of the difficulty table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// 1..=10.
    pub level: u8,
    /// The label reported with the outcome.
    pub severity: SeverityLabel,
    /// Window multiplier, thousandths (2000 = twice the scenario's duration).
    pub window_x1000: u32,
    /// Fault-length multiplier, thousandths.
    pub length_x1000: u32,
    /// Intensity multiplier, thousandths (the result is capped at 1).
    pub intensity_x1000: u32,
    /// More targets for kinds that widen with targets.
    pub extra_targets: u16,
    /// How many times each fault happens (1 = once).
    pub repeats: u8,
    /// Gap between the end of a fault and its repeat, ns.
    pub repeat_gap_ns: u64,
    /// Recovery-limit multiplier, permille (at most 1000).
    pub recovery_limit_permille: u16,
    /// Extra background load from the first fault on, permille of the
    /// stack's background (1000 = twice the load).
    pub load_permille: u16,
}

/// The difficulty table: exactly levels 1..=10, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DifficultyTable {
    /// The levels, `levels[i].level == i + 1`.
    pub levels: Vec<Level>,
}

impl Default for DifficultyTable {
    fn default() -> Self {
        DifficultyTable::embedded().clone()
    }
}

impl DifficultyTable {
    /// The embedded default table (parsed once).
    pub fn embedded() -> &'static DifficultyTable {
        static TABLE: OnceLock<DifficultyTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let t: DifficultyTable = crate::input::parse_ron(
                DEFAULT_RON,
                std::path::Path::new("<embedded>/defaults/difficulty.ron"),
            )
            .expect("the embedded difficulty.ron parses (tested)");
            t.validate()
                .expect("the embedded difficulty table is valid (tested)");
            t
        })
    }

    /// The row for `level`, clamped to 1..=10.
    pub fn level(&self, level: u8) -> Level {
        self.levels[level.clamp(LEVEL_MIN, LEVEL_MAX) as usize - 1]
    }

    /// Check the table: levels 1..=10 in order; window, lengths, intensity,
    /// targets, repeats and load never go down and the recovery limit
    /// never goes up; each level raises the load or the window (so every
    /// scenario runs harder at every level) and lowers the recovery limit.
    /// The error reads `levels[i].field: message`.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.levels.len() != LEVEL_MAX as usize {
            return Err(FieldError::new(
                "levels",
                format!("{} levels (exactly {LEVEL_MAX} allowed)", self.levels.len()),
            ));
        }
        for (i, l) in self.levels.iter().enumerate() {
            let at = |f: &str| format!("levels[{i}].{f}");
            if l.level as usize != i + 1 {
                return Err(FieldError::new(
                    at("level"),
                    format!("{} (expected {})", l.level, i + 1),
                ));
            }
            if l.window_x1000 < 1000 || l.length_x1000 < 1000 || l.intensity_x1000 < 1000 {
                return Err(FieldError::new(
                    at("window_x1000"),
                    "multipliers below 1000 make a level easier than level 1",
                ));
            }
            if l.window_x1000 > 100_000 || l.length_x1000 > 100_000 || l.intensity_x1000 > 100_000 {
                return Err(FieldError::new(at("window_x1000"), "at most 100000 (x100)"));
            }
            if l.repeats == 0 || l.repeats > 16 {
                return Err(FieldError::new(
                    at("repeats"),
                    format!("{} (allowed: 1 to 16)", l.repeats),
                ));
            }
            if l.extra_targets > 32 {
                return Err(FieldError::new(
                    at("extra_targets"),
                    format!("{} (allowed: 0 to 32)", l.extra_targets),
                ));
            }
            if !(1..=1000).contains(&l.recovery_limit_permille) {
                return Err(FieldError::new(
                    at("recovery_limit_permille"),
                    format!("{} (allowed: 1 to 1000)", l.recovery_limit_permille),
                ));
            }
            if l.load_permille > 10_000 {
                return Err(FieldError::new(
                    at("load_permille"),
                    format!("{} (allowed: 0 to 10000)", l.load_permille),
                ));
            }
            if l.repeat_gap_ns == 0 || l.repeat_gap_ns > 86_400_000_000_000 {
                return Err(FieldError::new(
                    at("repeat_gap_ns"),
                    format!("{} ns (allowed: 1 ns to 1 day)", l.repeat_gap_ns),
                ));
            }
            if i == 0 {
                continue;
            }
            let p = &self.levels[i - 1];
            let never_down = [
                ("window_x1000", l.window_x1000 >= p.window_x1000),
                ("length_x1000", l.length_x1000 >= p.length_x1000),
                ("intensity_x1000", l.intensity_x1000 >= p.intensity_x1000),
                ("extra_targets", l.extra_targets >= p.extra_targets),
                ("repeats", l.repeats >= p.repeats),
                ("load_permille", l.load_permille >= p.load_permille),
                ("severity", l.severity >= p.severity),
            ];
            for (f, ok) in never_down {
                if !ok {
                    return Err(FieldError::new(at(f), format!("lower than level {}'s", i)));
                }
            }
            if l.recovery_limit_permille >= p.recovery_limit_permille {
                return Err(FieldError::new(
                    at("recovery_limit_permille"),
                    format!(
                        "{} (must be below level {}'s {}: less time to recover)",
                        l.recovery_limit_permille, i, p.recovery_limit_permille
                    ),
                ));
            }
            if l.load_permille <= p.load_permille && l.window_x1000 <= p.window_x1000 {
                return Err(FieldError::new(
                    at("load_permille"),
                    format!(
                        "neither the load nor the window grows from level {i} (every level must be harder for every scenario)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_is_valid_and_has_ten_levels() {
        let t = DifficultyTable::embedded();
        t.validate().unwrap();
        assert_eq!(t.levels.len(), 10);
        assert_eq!(t.level(0).level, 1);
        assert_eq!(t.level(11).level, 10);
    }

    #[test]
    fn a_level_that_is_not_harder_is_refused() {
        let mut t = DifficultyTable::embedded().clone();
        t.levels[4].load_permille = t.levels[3].load_permille;
        t.levels[4].window_x1000 = t.levels[3].window_x1000;
        let e = t.validate().unwrap_err();
        assert_eq!(e.field, "levels[4].load_permille");
        assert!(e.message.starts_with("neither"), "{e}");
        let mut t = DifficultyTable::embedded().clone();
        t.levels[2].recovery_limit_permille = t.levels[1].recovery_limit_permille;
        assert_eq!(
            t.validate().unwrap_err().field,
            "levels[2].recovery_limit_permille"
        );
    }
}
