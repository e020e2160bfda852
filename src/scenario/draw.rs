//! The swarm draw: a scenario's fault mix drawn from a seed (which faults,
//! how hard, when, how long, partition shapes, clock faults), a pure
//! transform of the scenario spec. Used by `chaosim swarm`
//! ([`crate::sweep::swarm`]) and by reproduction handles that carry
//! `--swarm` ([`super::repro`]).

use super::spec::{ScenarioSpec, Target};
use crate::engine::RngDraws as _;
use crate::engine::SeedPath;

fn scale_pct(v: u64, pct: u32) -> u64 {
    ((v as u128 * pct as u128) / 100) as u64
}

fn draw_pct(rng: &mut crate::engine::SimRng, range: (u32, u32)) -> u32 {
    range.0 + rng.below((range.1 - range.0) as u64 + 1) as u32
}

/// The swarm configuration of `spec` for `seed`: a copy of the scenario
/// with the drawn faults, expecting only the declared safeguards that
/// respond to one of them (see [`crate::sweep::swarm`]). Same id, so the runner
/// resolves its targets from the same nemesis stream as `chaosim run`.
pub fn draw(spec: &ScenarioSpec, seed: u64) -> ScenarioSpec {
    let sw = &spec.swarm;
    let mut rng = SeedPath::root(seed).child("swarm").child(&spec.id).rng();
    let mut on = Vec::with_capacity(spec.faults.len());
    let mut faults = Vec::with_capacity(spec.faults.len());
    for f in &spec.faults {
        // Fixed draws per fault: on, intensity, start, length, shape, clock.
        let is_on = rng.ratio(sw.on.0 as u64, sw.on.1 as u64);
        let intensity = draw_pct(&mut rng, sw.intensity_pct);
        let start = draw_pct(&mut rng, sw.start_pct);
        let length = draw_pct(&mut rng, sw.length_pct);
        let shape = sw.partition_shapes[rng.below(sw.partition_shapes.len() as u64) as usize];
        let clock = sw.clock_faults[rng.below(sw.clock_faults.len() as u64) as usize];
        let mut g = f.clone();
        let varies = f.kind.swarm();
        if varies.intensity {
            g.intensity_permille =
                scale_pct(f.intensity_permille as u64, intensity).clamp(1, 1000) as u16;
        }
        g.start_ns = scale_pct(f.start_ns, start);
        if varies.length {
            g.length_ns = scale_pct(f.length_ns, length);
        }
        if varies.partition_shape {
            g.target = Target::Partition(shape);
        }
        if varies.clock_kind {
            g.kind = clock;
        }
        on.push(is_on);
        faults.push(g);
    }
    let forced = rng.below(spec.faults.len().max(1) as u64) as usize;
    if !on.iter().any(|&x| x) && forced < on.len() {
        on[forced] = true;
    }
    let mut out = spec.clone();
    out.faults = faults
        .into_iter()
        .zip(on)
        .filter_map(|(f, keep)| keep.then_some(f))
        .collect();
    out.restrict_expected_to_faults();
    out
}
