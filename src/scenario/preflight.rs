//! Checks of scenarios against the stack they will run on, made before
//! anything runs (so a bad combination is one located error, exit code 2,
//! and never a folder with some runs in it):
//!
//! - **targets** ([`check_targets`]): every `Kernel("name")` names a kernel
//!   of the stack's Layer 1, every `Node(i)` a node of its replicated log,
//!   `RandomKernels(n)` asks for no more kernels than there are, and
//!   `CriticalKernel` needs a critical kernel. (Without this a renamed
//!   kernel failed at run time, and `Node(1000)` on a 5-node log silently
//!   did nothing.)
//! - **memory** ([`check_bounds`]): a run with the replicated log keeps its
//!   whole operation history for the consistency checker (and every
//!   replica keeps its log), so its memory grows with simulated time; the
//!   other layers stream and hold constant memory whatever the window. A
//!   run is accepted only if its estimated client operations (clients x
//!   rate x run length, plus the writers of `ConcurrentWrites` faults at
//!   their largest) stay within [`CLUSTER_OPS_PER_RUN_MAX`], which keeps
//!   one run near 120 MB (JEP06 at the bound: 119 MB peak RSS, 2.3 s). With
//!   the default stack (5 clients x 20 operations/s) that is about 10,000 s
//!   of simulated time per run: for a 60 s recovery limit, a scenario window
//!   of at most about 1,987 s at difficulty 10 (x5) and 9,935 s at
//!   difficulty 1 (JEP06 with `duration_s: 86400` took 4.76 GB at
//!   difficulty 10 before this bound).
//!
//! Errors point into the scenario file (`faults[i].target`, `duration_s`)
//! with its line:column; for the built-in catalogue the file is named
//! `<embedded>/scenarios/ID.ron`, the stack file being the one to change.

use crate::error::{Error, Result};
use crate::model::stack::StackSpec;

use super::catalogue::{Catalogue, EMBEDDED};
use super::difficulty;
use super::run::{STABLE_FOR_NS, layers_for};
use super::spec::{FaultKind, ScenarioSpec, Target};

/// Most client operations one run with the replicated log may make (its
/// history is kept for the consistency checker): 1,000,000, about 120 MB.
pub const CLUSTER_OPS_PER_RUN_MAX: u64 = 1_000_000;

/// Writers of a `ConcurrentWrites` fault at intensity 1.
const WRITERS_MAX: u64 = 10;

/// The text of a scenario's file, to locate an error in it.
fn source_text(spec: &ScenarioSpec) -> Option<String> {
    let s = spec.source.to_string_lossy();
    if let Some(name) = s.strip_prefix("<embedded>/scenarios/") {
        return EMBEDDED
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, t)| t.to_string());
    }
    crate::input::read_text(&spec.source).ok()
}

fn located(spec: &ScenarioSpec, field: String, message: String) -> Error {
    let e = Error::Invalid {
        path: spec.source.clone(),
        field,
        message,
    };
    match source_text(spec) {
        Some(text) => crate::input::locate_error(e, &text),
        None => e,
    }
}

/// Check the targets of every scenario of `cat` against `stack`.
pub fn check_targets(cat: &Catalogue, stack: &StackSpec) -> Result<()> {
    for spec in cat.scenarios() {
        check_spec_targets(spec, stack)?;
    }
    Ok(())
}

/// Check the targets of one scenario against `stack`.
pub fn check_spec_targets(spec: &ScenarioSpec, stack: &StackSpec) -> Result<()> {
    let kernels = &stack.layer1.kernels;
    let names = || {
        kernels
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, f) in spec.faults.iter().enumerate() {
        let field = || format!("faults[{i}].target");
        match &f.target {
            Target::Kernel(name) => {
                if !kernels.iter().any(|k| &k.name == name) {
                    return Err(located(
                        spec,
                        field(),
                        format!(
                            "Kernel(\"{name}\") is not a kernel of the stack (allowed: {})",
                            names()
                        ),
                    ));
                }
            }
            Target::RandomKernels(n) => {
                if *n as usize > kernels.len() {
                    return Err(located(
                        spec,
                        field(),
                        format!(
                            "RandomKernels({n}) asks for more kernels than the stack has (allowed: 1 to {})",
                            kernels.len()
                        ),
                    ));
                }
            }
            Target::CriticalKernel => {
                if !kernels.iter().any(|k| k.critical) {
                    return Err(located(
                        spec,
                        field(),
                        "CriticalKernel, but the stack has no critical kernel".into(),
                    ));
                }
            }
            Target::Node(n) => {
                let nodes = stack.cluster.nodes;
                if *n >= nodes {
                    return Err(located(
                        spec,
                        field(),
                        format!(
                            "Node({n}) is not a node of the replicated log (allowed: Node(0) to Node({}))",
                            nodes.saturating_sub(1)
                        ),
                    ));
                }
            }
            Target::Platform | Target::Nodes(_) | Target::Partition(_) => {}
        }
    }
    Ok(())
}

/// Estimated client operations of one run of `spec` at difficulty `level`
/// on `stack` (0 without the replicated log): an upper bound, since every
/// `ConcurrentWrites` fault is counted at full intensity for the whole
/// window (swarm runs and shrinking only ever draw less).
pub fn cluster_ops(spec: &ScenarioSpec, stack: &StackSpec, level: u8) -> u64 {
    if !layers_for(&[spec]).cluster {
        return 0;
    }
    let scaled = difficulty::scale(spec, level);
    let last_end = scaled
        .faults
        .iter()
        .map(|f| f.start_ns.saturating_add(f.length_ns))
        .max()
        .unwrap_or(0);
    let horizon_ns = scaled
        .window_ns
        .max(last_end)
        .saturating_add(spec.recovery_limit_ns)
        .saturating_add(STABLE_FOR_NS);
    let c = &stack.cluster;
    let per_s = c.clients as u128 * c.client_op_rate_per_s as u128;
    let mut ops = per_s * horizon_ns as u128 / 1_000_000_000;
    for f in &scaled.faults {
        if f.kind == FaultKind::ConcurrentWrites {
            ops += WRITERS_MAX as u128 * c.writer_op_rate_per_s as u128 * scaled.window_ns as u128
                / 1_000_000_000;
        }
    }
    ops.min(u64::MAX as u128) as u64
}

/// Refuse a run of `spec` at difficulty `level` whose memory would exceed
/// the bound (see the module docs).
pub fn check_bounds(spec: &ScenarioSpec, stack: &StackSpec, level: u8) -> Result<()> {
    let ops = cluster_ops(spec, stack, level);
    if ops <= CLUSTER_OPS_PER_RUN_MAX {
        return Ok(());
    }
    let field = if spec.recovery_limit_ns > spec.duration_ns {
        "recovery_limit_s"
    } else {
        "duration_s"
    };
    Err(located(
        spec,
        field.into(),
        format!(
            "at difficulty {level} a run lasts long enough for about {ops} operations on the replicated log, whose history is kept for the consistency checker; at most {CLUSTER_OPS_PER_RUN_MAX} are allowed per run (shorten duration_s or recovery_limit_s, or lower the stack's cluster.clients or cluster.client_op_rate_per_s)"
        ),
    ))
}

/// [`check_bounds`] for every scenario of `cat` at `level`.
pub fn check_all_bounds(cat: &Catalogue, stack: &StackSpec, level: u8) -> Result<()> {
    for spec in cat.scenarios() {
        check_bounds(spec, stack, level)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_fits_the_default_stack_at_every_level() {
        let cat = Catalogue::embedded().unwrap();
        let stack = StackSpec::embedded();
        check_targets(&cat, &stack).unwrap();
        check_all_bounds(&cat, &stack, difficulty::LEVEL_MAX).unwrap();
    }

    #[test]
    fn a_renamed_kernel_is_named_with_the_scenario_position() {
        let cat = Catalogue::embedded().unwrap();
        let mut stack = StackSpec::embedded();
        for k in &mut stack.layer1.kernels {
            k.name = format!("{}_2", k.name);
        }
        let e = check_targets(&cat, &stack).unwrap_err().to_string();
        assert!(e.starts_with("<embedded>/scenarios/"), "{e}");
        assert!(e.contains(".ron:") && e.contains("target"), "{e}");
    }
}
