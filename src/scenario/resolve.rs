//! Resolving faults to concrete layer actions: targets drawn from the
//! scenario's nemesis stream, magnitudes from [`FaultParams`] (the kinds'
//! facts live in [`crate::fault`]; this is where they meet the models).

use std::path::Path;

use crate::engine::{RngDraws, SeedPath, SimRng};
use crate::error::{Error, Result};
use crate::model::cluster::{ClockFault, ClusterFault, PRIMARY, PartitionShape};
use crate::model::layer1::Layer1Fault;
use crate::model::layer2::Layer2Fault;
use crate::model::stack::Stack;

use crate::fault::{FaultKind, FaultParams, FaultSpec, NodeSelection, PartitionShapeSpec, Target};

/// A fault resolved to one concrete layer action.
#[derive(Clone, Debug)]
pub enum Action {
    /// On Layer 1.
    L1(Layer1Fault),
    /// On Layer 2.
    L2(Layer2Fault),
    /// On the replicated log.
    Cluster(ClusterFault),
}

/// Distinct kernels for a fault: the named/critical/random base target plus
/// `extra` more drawn at random.
fn pick_kernels(
    stack: &Stack,
    source: &Path,
    i: usize,
    target: &Target,
    extra: u16,
    rng: &mut SimRng,
) -> Result<Vec<u16>> {
    let n = stack.l1.kernel_count() as u16;
    let mut chosen: Vec<u16> = Vec::new();
    let mut draw_from = |pool: &[u16], k: usize, chosen: &mut Vec<u16>| {
        let mut pool: Vec<u16> = pool
            .iter()
            .copied()
            .filter(|x| !chosen.contains(x))
            .collect();
        for _ in 0..k.min(pool.len()) {
            let j = rng.below(pool.len() as u64) as usize;
            chosen.push(pool.swap_remove(j));
        }
    };
    let all: Vec<u16> = (0..n).collect();
    match target {
        Target::Kernel(name) => {
            chosen.push(stack.l1.kernel_index(name).ok_or_else(|| Error::Invalid {
                path: source.to_path_buf(),
                field: format!("faults[{i}].target"),
                message: format!(
                    "unknown kernel '{name}' (allowed: {})",
                    stack.l1.kernel_names().join(", ")
                ),
            })?)
        }
        Target::CriticalKernel => {
            let critical: Vec<u16> = all
                .iter()
                .copied()
                .filter(|&k| stack.l1.is_critical(k))
                .collect();
            draw_from(&critical, 1, &mut chosen);
        }
        Target::RandomKernels(k) => draw_from(&all, *k as usize, &mut chosen),
        _ => draw_from(&all, 1, &mut chosen),
    }
    draw_from(&all, extra as usize, &mut chosen);
    Ok(chosen)
}

/// The log nodes a node fault hits: its target (a fixed node, the leader at
/// injection time, or a random node chosen at injection time) plus `extra`
/// more fixed nodes drawn now, distinct from a fixed base.
fn pick_nodes(stack: &Stack, target: &Target, extra: u16, rng: &mut SimRng) -> Vec<Option<u16>> {
    let base = match target {
        Target::Node(n) => Some(*n),
        Target::Nodes(NodeSelection::Primary) => Some(PRIMARY),
        _ => {
            // A random node chosen by the cluster at injection time; the
            // draw keeps the stream's position as before.
            let _ = rng.draw_u64();
            None
        }
    };
    let mut out = vec![base];
    let n = stack.cluster.as_ref().map_or(0, |c| c.spec().nodes);
    let mut pool: Vec<u16> = (0..n).filter(|&x| Some(x) != base).collect();
    for _ in 0..(extra as usize).min(pool.len()) {
        let j = rng.below(pool.len() as u64) as usize;
        out.push(Some(pool.swap_remove(j)));
    }
    out
}

fn shape_of(target: &Target) -> PartitionShape {
    match target {
        Target::Partition(PartitionShapeSpec::Bisect) => PartitionShape::Bisect,
        Target::Partition(PartitionShapeSpec::IsolateOne) | Target::Node(_) => {
            PartitionShape::IsolateOne
        }
        Target::Partition(PartitionShapeSpec::Bridge) => PartitionShape::Bridge,
        Target::Partition(PartitionShapeSpec::MajoritiesRing) => PartitionShape::MajoritiesRing,
        _ => PartitionShape::RandomHalves,
    }
}

/// Resolve the faults of scenario `id` (file `source`, for errors) to
/// `(offset_ns, fault index, action)` triples: a fault may resolve to
/// several actions (several kernels or nodes, a skew and its reset).
/// Targets are drawn from the stream `seed/"nemesis"/id`; magnitudes are
/// `params` scaled by each fault's intensity.
pub fn resolve(
    stack: &Stack,
    id: &str,
    source: &Path,
    faults: &[FaultSpec],
    params: &FaultParams,
    seed: SeedPath,
) -> Result<Vec<(u64, u8, Action)>> {
    assert!(
        faults.len() <= u8::MAX as usize,
        "validated: at most 64 faults"
    );
    let mut rng = seed.child("nemesis").child(id).rng();
    let mut out = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        let at = f.start_ns;
        let p = f.intensity_permille;
        let len = f.length_ns;
        let by = |full: u64| FaultParams::scaled(full, p);
        let by32 = |full: u64| u32::try_from(by(full)).unwrap_or(u32::MAX);
        let by16 = |full: u64| u16::try_from(by(full)).unwrap_or(u16::MAX);
        let mut push = |a: Action| out.push((at, i as u8, a));
        match f.kind {
            FaultKind::KillKernel => {
                for k in pick_kernels(stack, source, i, &f.target, f.extra_targets, &mut rng)? {
                    push(Action::L1(Layer1Fault::KillKernel { kernel: k }));
                }
            }
            FaultKind::PauseHeartbeat => {
                for k in pick_kernels(stack, source, i, &f.target, f.extra_targets, &mut rng)? {
                    push(Action::L1(Layer1Fault::PauseHeartbeat {
                        kernel: k,
                        length_ns: len,
                    }));
                }
            }
            FaultKind::AclFlood => {
                for k in pick_kernels(stack, source, i, &f.target, f.extra_targets, &mut rng)? {
                    push(Action::L1(Layer1Fault::AclFlood {
                        publisher: k,
                        rate_per_s: by32(params.acl_flood_msgs_per_s),
                        length_ns: len,
                    }));
                }
            }
            FaultKind::CpuSpike => {
                for k in pick_kernels(stack, source, i, &f.target, f.extra_targets, &mut rng)? {
                    push(Action::L1(Layer1Fault::CpuSpike {
                        kernel: k,
                        share_permille: by16(params.cpu_spike_permille),
                        length_ns: len,
                    }));
                }
            }
            FaultKind::MemoryLeak => {
                for k in pick_kernels(stack, source, i, &f.target, f.extra_targets, &mut rng)? {
                    push(Action::L1(Layer1Fault::MemoryLeak {
                        kernel: k,
                        mib_per_s: by32(params.memory_leak_mib_per_s),
                        length_ns: len,
                    }));
                }
            }
            FaultKind::DiskFill => {
                for k in pick_kernels(stack, source, i, &f.target, f.extra_targets, &mut rng)? {
                    push(Action::L1(Layer1Fault::DiskFill {
                        kernel: k,
                        mib_per_s: by32(params.disk_fill_mib_per_s),
                        length_ns: len,
                    }));
                }
            }
            FaultKind::NetworkSaturation => {
                for k in pick_kernels(stack, source, i, &f.target, f.extra_targets, &mut rng)? {
                    push(Action::L1(Layer1Fault::NetworkSaturation {
                        kernel: k,
                        share_permille: by16(params.network_permille),
                        length_ns: len,
                    }));
                }
            }
            FaultKind::ApiFlood => push(Action::L1(Layer1Fault::ApiFlood {
                rate_per_s: by32(params.api_flood_rps),
                length_ns: len,
            })),
            FaultKind::CorruptSnapshots => push(Action::L1(Layer1Fault::CorruptSnapshots {
                count: by16(params.corrupt_snapshots).max(1),
            })),
            FaultKind::GovernanceStorm => push(Action::L1(Layer1Fault::GovernanceStorm {
                intents: by32(params.governance_storm_intents).max(1),
            })),
            FaultKind::DependencyFailure => push(Action::L2(Layer2Fault::DependencyErrors {
                error_permille: by16(params.dependency_failure_permille).min(1000),
                length_ns: len,
            })),
            FaultKind::QueueFlood => push(Action::L2(Layer2Fault::QueueFlood {
                intents: by32(params.queue_flood_intents),
                invalid_permille: params.queue_flood_invalid_permille,
                over_ns: len.max(1),
            })),
            FaultKind::TriggerStorm => push(Action::L2(Layer2Fault::TriggerStorm {
                events_per_s: by32(params.trigger_storm_events_per_s),
                length_ns: len,
            })),
            FaultKind::PauseScheduler => push(Action::L2(Layer2Fault::PauseScheduler {
                length_ns: (len > 0).then_some(len),
                queued_tasks: by32(params.pause_scheduler_queued_tasks),
            })),
            FaultKind::PolicyCascade => push(Action::L2(Layer2Fault::PolicyCascade {
                depth: by16(params.policy_cascade_depth).max(1),
            })),
            FaultKind::WorkerDropout => push(Action::L2(Layer2Fault::WorkerDropout {
                share_permille: by16(params.worker_dropout_permille).min(1000),
            })),
            FaultKind::ReplicaFailure => {
                push(Action::L2(Layer2Fault::ReplicaFailure { replica: 0 }))
            }
            FaultKind::Partition => push(Action::Cluster(ClusterFault::Partition {
                shape: shape_of(&f.target),
                length_ns: len,
            })),
            FaultKind::ClockSkew => {
                let delta_ns = i64::try_from(by(params.clock_skew_ns)).unwrap_or(i64::MAX);
                for node in pick_nodes(stack, &f.target, f.extra_targets, &mut rng) {
                    out.push((
                        at,
                        i as u8,
                        Action::Cluster(ClusterFault::Clock {
                            node,
                            fault: ClockFault::Bump { delta_ns },
                        }),
                    ));
                    if len > 0 {
                        out.push((
                            at + len,
                            i as u8,
                            Action::Cluster(ClusterFault::Clock {
                                node,
                                fault: ClockFault::Reset,
                            }),
                        ));
                    }
                }
            }
            FaultKind::ClockStrobe => {
                let delta_ns = i64::try_from(by(params.clock_strobe_delta_ns)).unwrap_or(i64::MAX);
                for node in pick_nodes(stack, &f.target, f.extra_targets, &mut rng) {
                    let fault = ClockFault::Strobe {
                        delta_ns,
                        period_ns: params.clock_strobe_period_ns,
                        length_ns: len,
                    };
                    out.push((
                        at,
                        i as u8,
                        Action::Cluster(ClusterFault::Clock { node, fault }),
                    ));
                }
            }
            FaultKind::KillNode => {
                for node in pick_nodes(stack, &f.target, f.extra_targets, &mut rng) {
                    out.push((
                        at,
                        i as u8,
                        Action::Cluster(ClusterFault::KillNode {
                            node,
                            length_ns: len,
                        }),
                    ));
                }
            }
            FaultKind::PauseNode => {
                for node in pick_nodes(stack, &f.target, f.extra_targets, &mut rng) {
                    out.push((
                        at,
                        i as u8,
                        Action::Cluster(ClusterFault::PauseNode {
                            node,
                            length_ns: len,
                        }),
                    ));
                }
            }
            FaultKind::SnapshotRollback => {
                for node in pick_nodes(stack, &f.target, f.extra_targets, &mut rng) {
                    out.push((
                        at,
                        i as u8,
                        Action::Cluster(ClusterFault::SnapshotRollback { node }),
                    ));
                }
            }
            FaultKind::LoseSubscriptions => {
                let subs = u64::from(stack.l2.as_ref().map_or(0, |l| l.spec().mesh.subscriptions));
                let lost = FaultParams::scaled(subs, by16(params.lose_subscriptions_permille));
                push(Action::L2(Layer2Fault::LoseSubscriptions {
                    count: u16::try_from(lost).unwrap_or(u16::MAX),
                }))
            }
            FaultKind::HangComponent => {
                let component = rng.below(4) as u8;
                push(Action::L2(Layer2Fault::HangComponent {
                    component,
                    length_ns: len,
                }))
            }
            FaultKind::ConcurrentWrites => push(Action::Cluster(ClusterFault::ConcurrentWriters {
                writers: by16(params.concurrent_writers).max(2),
                length_ns: len,
            })),
        }
    }
    Ok(out)
}
