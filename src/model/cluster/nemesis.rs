//! Faults as data and the Jepsen-style nemesis schedule.
//!
//! A [`ClusterFault`] is one nemesis operation; [`Cluster::inject`](super::Cluster::inject)
//! applies it. A [`NemesisSchedule`] is a deterministic list of
//! `(offset, fault)` drawn from a [`SeedPath`]: faults start at staggered
//! uniform random intervals in `[0, 2 x interval)` (Jepsen's
//! `stagger`), each picked uniformly from the given kinds, and a final
//! [`ClusterFault::Heal`] at the end of the chaos phase.

use serde::{Deserialize, Serialize};

use super::net::Grudge;
use crate::engine::{RngDraws, SeedPath, SimDuration, SimRng};

/// Partition shapes (Jepsen `nemesis.clj` / `combined.clj`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionShape {
    /// Halves by node id, smaller half first: `[0, n/2)` vs the rest.
    Bisect,
    /// Shuffle, then bisect.
    RandomHalves,
    /// Isolate one random node from all others (`split-one`).
    IsolateOne,
    /// Shuffle and bisect; one node of the larger half keeps links to both.
    Bridge,
    /// Every node sees a majority, no two the same one: shuffle into a ring;
    /// each node sees the window of `floor(n/2)+1` ring nodes centred on it.
    MajoritiesRing,
    /// Isolate the current leader (Jepsen's `primaries` target); a random
    /// node when there is no leader.
    IsolatePrimary,
}

/// As a fault's `node`, `Some(PRIMARY)` targets the current leader
/// (Jepsen's `primaries`), or a random node when there is none.
pub const PRIMARY: u16 = u16::MAX;

/// Clock faults (Jepsen `nemesis/time.clj`). They act on wall clocks; the
/// monotonic clocks only follow drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockFault {
    /// Jump the wall clock by `delta_ns`.
    Bump {
        /// Signed jump, ns.
        delta_ns: i64,
    },
    /// Oscillate: `+delta`, back, `+delta`, back... every `period_ns` for
    /// `length_ns`, ending where it started.
    Strobe {
        /// Jump, ns.
        delta_ns: i64,
        /// Time between flips, ns (> 0).
        period_ns: u64,
        /// How long, ns.
        length_ns: u64,
    },
    /// Set the drift rate, ppm.
    Drift {
        /// New rate, ppm (either sign).
        ppm: i32,
    },
    /// Resynchronise the wall clock to true time (ntpdate).
    Reset,
    /// Set *every* node's wall clock to true time + `U[-max, max)`.
    Scramble {
        /// Bound, ns.
        max_ns: u64,
    },
}

/// One nemesis operation.
///
/// Node targets: `None` picks a random node (from the cluster's nemesis
/// stream), `Some(PRIMARY)` the current leader, `Some(id)` that node; an
/// id outside the cluster makes the operation a no-op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterFault {
    /// Partition the nodes for `length_ns` (replaces a running partition).
    Partition {
        /// The grudge shape.
        shape: PartitionShape,
        /// How long, ns.
        length_ns: u64,
    },
    /// A clock fault on one node (`None` = a random node).
    Clock {
        /// Target node.
        node: Option<u16>,
        /// The fault.
        fault: ClockFault,
    },
    /// Kill a node (SIGKILL: volatile state lost, durable log kept) and
    /// restart it after `length_ns`.
    KillNode {
        /// Target node (`None` = random).
        node: Option<u16>,
        /// Down time, ns.
        length_ns: u64,
    },
    /// Pause a node (SIGSTOP) for `length_ns`: it handles nothing, its
    /// clocks keep running.
    PauseNode {
        /// Target node (`None` = random).
        node: Option<u16>,
        /// Pause length, ns.
        length_ns: u64,
    },
    /// Restore a node's oldest kept snapshot (an older state).
    SnapshotRollback {
        /// Target node (`None` = random).
        node: Option<u16>,
    },
    /// Start `writers` extra aggressive writer processes for `length_ns`.
    ConcurrentWriters {
        /// How many.
        writers: u16,
        /// For how long, ns.
        length_ns: u64,
    },
    /// Heal everything: end partitions, reset clocks and drifts, restart
    /// killed and resume paused nodes, stop extra writers.
    Heal,
}

impl ClusterFault {
    /// A short stable name (`"partition"`, `"clock"`, ...).
    pub const fn name(&self) -> &'static str {
        match self {
            ClusterFault::Partition { .. } => "partition",
            ClusterFault::Clock { .. } => "clock",
            ClusterFault::KillNode { .. } => "kill",
            ClusterFault::PauseNode { .. } => "pause",
            ClusterFault::SnapshotRollback { .. } => "snapshot_rollback",
            ClusterFault::ConcurrentWriters { .. } => "concurrent_writers",
            ClusterFault::Heal => "heal",
        }
    }
}

/// One step of a schedule: a fault at an offset from the schedule start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NemesisStep {
    /// Offset from the start of the run.
    pub at: SimDuration,
    /// The fault.
    pub fault: ClusterFault,
}

/// A deterministic fault schedule. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NemesisSchedule {
    steps: Vec<NemesisStep>,
}

impl NemesisSchedule {
    /// Draw a schedule: starting at 0, repeatedly wait `U[0, 2 x interval)`
    /// and, while before `length`, add a fault picked uniformly from
    /// `kinds`; then add [`ClusterFault::Heal`] at `length`. Empty `kinds`
    /// or a zero interval give just the final heal.
    pub fn generate(
        kinds: &[ClusterFault],
        interval: SimDuration,
        length: SimDuration,
        seed: SeedPath,
    ) -> NemesisSchedule {
        let mut rng = seed.rng();
        let mut steps = Vec::new();
        if !kinds.is_empty() && !interval.is_zero() {
            let span = interval.as_nanos().saturating_mul(2);
            let mut t = 0u64;
            loop {
                t = t.saturating_add(rng.below(span));
                if t >= length.as_nanos() {
                    break;
                }
                let fault = kinds[rng.below(kinds.len() as u64) as usize];
                steps.push(NemesisStep {
                    at: SimDuration::from_nanos(t),
                    fault,
                });
            }
        }
        steps.push(NemesisStep {
            at: length,
            fault: ClusterFault::Heal,
        });
        NemesisSchedule { steps }
    }

    /// A schedule from explicit steps (sorted by offset, stable).
    pub fn from_steps(mut steps: Vec<NemesisStep>) -> NemesisSchedule {
        steps.sort_by_key(|s| s.at);
        NemesisSchedule { steps }
    }

    /// The steps in time order.
    pub fn steps(&self) -> &[NemesisStep] {
        &self.steps
    }

    /// Iterate over the steps.
    pub fn iter(&self) -> std::slice::Iter<'_, NemesisStep> {
        self.steps.iter()
    }

    /// Number of steps (including the final heal).
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether there is no step at all.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl<'a> IntoIterator for &'a NemesisSchedule {
    type Item = &'a NemesisStep;
    type IntoIter = std::slice::Iter<'a, NemesisStep>;
    fn into_iter(self) -> Self::IntoIter {
        self.steps.iter()
    }
}

/// The nemesis of a catalogue scenario: fault kinds, stagger interval and
/// chaos-phase length (then the final heal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeSpec {
    /// Fault kinds, picked uniformly.
    pub kinds: Vec<ClusterFault>,
    /// Mean interval between faults.
    pub interval: SimDuration,
    /// Length of the chaos phase.
    pub length: SimDuration,
}

impl ShapeSpec {
    /// Draw the schedule for `seed`.
    pub fn schedule(&self, seed: SeedPath) -> NemesisSchedule {
        NemesisSchedule::generate(&self.kinds, self.interval, self.length, seed)
    }
}

/// Ids of the four Jepsen-family catalogue scenarios this module makes
/// meaningful.
pub const JEPSEN_SCENARIOS: [&str; 4] = [
    "JEP01_log_partition",
    "JEP02_clock_skew",
    "JEP03_snapshot_rollback",
    "JEP04_concurrent_writes",
];

/// The default nemesis of a Jepsen-family scenario (difficulty 1), by id:
/// - `JEP01_log_partition`: 5 s partitions of every shape, every ~5 s;
/// - `JEP02_clock_skew`: +/-2 s bumps, a 500 ms strobe and a 1 s scramble
///   of the leader's clock, mixed with leader isolation and random halves;
/// - `JEP03_snapshot_rollback`: snapshot rollbacks, 3 s kills and 3 s
///   isolations, every ~3 s;
/// - `JEP04_concurrent_writes`: 4 extra writers for 5 s and 1 s pauses.
///
/// All over a 30 s chaos phase. `None` for an unknown id.
pub fn catalogue_shape(id: &str) -> Option<ShapeSpec> {
    use ClusterFault::*;
    const S: u64 = 1_000_000_000;
    let part = |shape| Partition {
        shape,
        length_ns: 5 * S,
    };
    let clock = |fault| Clock {
        node: Some(PRIMARY),
        fault,
    };
    let (kinds, interval_s) = match id {
        "JEP01_log_partition" => (
            vec![
                part(PartitionShape::RandomHalves),
                part(PartitionShape::IsolateOne),
                part(PartitionShape::Bridge),
                part(PartitionShape::MajoritiesRing),
                part(PartitionShape::Bisect),
            ],
            5,
        ),
        "JEP02_clock_skew" => (
            vec![
                clock(ClockFault::Bump {
                    delta_ns: -2_000_000_000,
                }),
                clock(ClockFault::Bump {
                    delta_ns: 2_000_000_000,
                }),
                clock(ClockFault::Strobe {
                    delta_ns: 500_000_000,
                    period_ns: 100_000_000,
                    length_ns: 5 * S,
                }),
                clock(ClockFault::Scramble { max_ns: S }),
                part(PartitionShape::IsolatePrimary),
                part(PartitionShape::RandomHalves),
            ],
            4,
        ),
        "JEP03_snapshot_rollback" => (
            vec![
                SnapshotRollback { node: None },
                KillNode {
                    node: None,
                    length_ns: 3 * S,
                },
                Partition {
                    shape: PartitionShape::IsolateOne,
                    length_ns: 3 * S,
                },
            ],
            3,
        ),
        "JEP04_concurrent_writes" => (
            vec![
                ConcurrentWriters {
                    writers: 4,
                    length_ns: 5 * S,
                },
                PauseNode {
                    node: None,
                    length_ns: S,
                },
            ],
            3,
        ),
        _ => return None,
    };
    Some(ShapeSpec {
        kinds,
        interval: SimDuration::from_secs(interval_s),
        length: SimDuration::from_secs(30),
    })
}

fn shuffled(n: usize, rng: &mut SimRng) -> Vec<u16> {
    let mut v: Vec<u16> = (0..n as u16).collect();
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

/// The grudge of a partition shape over `n` nodes (draws from `rng` for the
/// random shapes); `primary` is the leader `IsolatePrimary` isolates.
pub fn grudge(shape: PartitionShape, n: usize, primary: Option<u16>, rng: &mut SimRng) -> Grudge {
    let mut g = Grudge::none(n);
    if n < 2 {
        return g;
    }
    match shape {
        PartitionShape::Bisect => {
            let v: Vec<u16> = (0..n as u16).collect();
            g.cut_between(&v[..n / 2], &v[n / 2..]);
        }
        PartitionShape::RandomHalves => {
            let v = shuffled(n, rng);
            g.cut_between(&v[..n / 2], &v[n / 2..]);
        }
        PartitionShape::IsolateOne | PartitionShape::IsolatePrimary => {
            let x = match (shape, primary) {
                (PartitionShape::IsolatePrimary, Some(p)) if (p as usize) < n => p,
                _ => rng.below(n as u64) as u16,
            };
            let others: Vec<u16> = (0..n as u16).filter(|&y| y != x).collect();
            g.cut_between(&[x], &others);
        }
        PartitionShape::Bridge => {
            let v = shuffled(n, rng);
            let (a, b) = v.split_at(n / 2);
            let (bridge, rest) = b.split_first().expect("n >= 2");
            g.cut_between(a, rest);
            let _ = bridge;
        }
        PartitionShape::MajoritiesRing => {
            let ring = shuffled(n, rng);
            let m = n / 2 + 1;
            for i in 0..n {
                let window: Vec<u16> = (0..m).map(|k| ring[(i + k) % n]).collect();
                let center = window[m / 2];
                for x in 0..n as u16 {
                    if !window.contains(&x) {
                        g.cut(center as usize, x as usize);
                    }
                }
            }
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_staggered_deterministic_and_ends_with_heal() {
        let kinds = [
            ClusterFault::Partition {
                shape: PartitionShape::RandomHalves,
                length_ns: 1,
            },
            ClusterFault::Clock {
                node: None,
                fault: ClockFault::Reset,
            },
        ];
        let iv = SimDuration::from_secs(10);
        let len = SimDuration::from_secs(300);
        let a = NemesisSchedule::generate(&kinds, iv, len, SeedPath::root(1));
        let b = NemesisSchedule::generate(&kinds, iv, len, SeedPath::root(1));
        assert_eq!(a, b);
        assert_eq!(a.steps().last().unwrap().fault, ClusterFault::Heal);
        assert_eq!(a.steps().last().unwrap().at, len);
        // Mean gap = interval: about 30 faults in 300 s.
        assert!((15..=50).contains(&a.len()), "{}", a.len());
        assert!(a.iter().zip(a.iter().skip(1)).all(|(x, y)| x.at <= y.at));
        assert!(a.iter().all(|s| s.at <= len));
    }

    #[test]
    fn shapes_cut_what_they_should() {
        let mut rng = SeedPath::root(3).rng();
        let n = 5;
        let g = grudge(PartitionShape::Bisect, n, None, &mut rng);
        assert!(g.drops(0, 2) && g.drops(2, 0) && !g.drops(0, 1) && !g.drops(2, 4));
        let g = grudge(PartitionShape::IsolateOne, n, None, &mut rng);
        assert_eq!((0..n).filter(|&x| g.hears(x) == 1).count(), 1);
        assert_eq!((0..n).filter(|&x| g.hears(x) == n - 1).count(), n - 1);
        let g = grudge(PartitionShape::Bridge, n, None, &mut rng);
        // Exactly one node hears everyone (the bridge).
        assert_eq!((0..n).filter(|&x| g.hears(x) == n).count(), 1);
        let g = grudge(PartitionShape::MajoritiesRing, n, None, &mut rng);
        // Everyone hears exactly a majority (itself included).
        assert!((0..n).all(|x| g.hears(x) == n / 2 + 1));
        let g = grudge(PartitionShape::IsolatePrimary, n, Some(3), &mut rng);
        assert_eq!(g.hears(3), 1);
        let g = grudge(PartitionShape::RandomHalves, n, None, &mut rng);
        let small = (0..n).filter(|&x| g.hears(x) == 2).count();
        assert_eq!(small, 2);
    }
}
