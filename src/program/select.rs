//! Which scenarios a run executes: candidates by perspective, a score, the
//! top N, ties broken deterministically.

use crate::scenario::{Catalogue, ScenarioSpec};

use super::learning::LearningRecord;
use super::spec::{Perspective, Programme, Slot};

/// A candidate's score and its tie-break keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    /// Higher first.
    score: std::cmp::Reverse<u64>,
    /// Harder first (Maximum slots only; 0 otherwise).
    hardness: std::cmp::Reverse<u32>,
    /// Least recently executed first (never executed sorts first).
    last_ns: Option<u64>,
    /// Then catalogue order (ids ascending).
    index: usize,
}

/// The score of a scenario for a slot, as in the programme description:
/// `+not_tested_bonus` if not executed within the window, `+has_failures_bonus`
/// if it failed at its current level, `+matches_difficulty_bonus` if its base
/// severity equals the slot's.
pub fn score(
    spec: &ScenarioSpec,
    rec: &LearningRecord,
    slot: &Slot,
    now_ns: u64,
    prog: &Programme,
) -> u64 {
    let mut s = 0u64;
    let recent = rec
        .last_executed_ns
        .is_some_and(|t| now_ns.saturating_sub(t) <= prog.not_tested_within_ns);
    if !recent {
        s += prog.not_tested_bonus as u64;
    }
    if rec.level_failures > 0 {
        s += prog.has_failures_bonus as u64;
    }
    if spec.severity == slot.severity {
        s += prog.matches_difficulty_bonus as u64;
    }
    s
}

fn candidates(p: Perspective, spec: &ScenarioSpec) -> bool {
    match p {
        Perspective::Layer1 => spec.layer == 1,
        Perspective::Layer2 => spec.layer == 2,
        Perspective::Layer3 => spec.layer == 3,
        Perspective::Mixed | Perspective::Maximum => true,
    }
}

/// Choose the scenarios (catalogue indices) for a run at `now_ns` in `slot`.
///
/// Mixed slots take the best candidate of each layer first (so the run spans
/// all layers), then fill by rank; Maximum slots rank equal scores by
/// hardness (severity + current level).
pub fn select(
    slot: &Slot,
    now_ns: u64,
    cat: &Catalogue,
    learning: &[LearningRecord],
    prog: &Programme,
) -> Vec<usize> {
    debug_assert_eq!(cat.len(), learning.len());
    let mut ranked: Vec<(Rank, u8)> = cat
        .scenarios()
        .iter()
        .zip(learning)
        .enumerate()
        .filter(|(_, (spec, _))| candidates(slot.perspective, spec))
        .map(|(index, (spec, rec))| {
            let hardness = if slot.perspective == Perspective::Maximum {
                spec.severity as u32 + rec.difficulty_level as u32
            } else {
                0
            };
            let rank = Rank {
                score: std::cmp::Reverse(score(spec, rec, slot, now_ns, prog)),
                hardness: std::cmp::Reverse(hardness),
                last_ns: rec.last_executed_ns,
                index,
            };
            (rank, spec.layer)
        })
        .collect();
    ranked.sort();
    let mut chosen: Vec<usize> = Vec::with_capacity(prog.per_run);
    if slot.perspective == Perspective::Mixed {
        for layer in 1..=3u8 {
            if chosen.len() == prog.per_run {
                break;
            }
            if let Some((r, _)) = ranked.iter().find(|(_, l)| *l == layer) {
                chosen.push(r.index);
            }
        }
    }
    for (r, _) in &ranked {
        if chosen.len() == prog.per_run {
            break;
        }
        if !chosen.contains(&r.index) {
            chosen.push(r.index);
        }
    }
    chosen
}
