//! Linearizability of a single read/write register: a Wing-Gong-Lowe
//! search (as in Knossos and Porcupine) with a cache of visited
//! `(linearized set, register value)` configurations.
//!
//! Operations that completed `ok` take effect somewhere between their
//! invocation and completion; `info` writes may take effect any time after
//! their invocation (their return is placed after every other event);
//! `fail` operations and `info` reads are dropped. At equal times calls are
//! ordered before returns (treated as concurrent: the lenient choice).
//!
//! Cost: exponential in the worst case; `steps_max` bounds the search and
//! yields [`Linearizability::Unknown`] when exceeded. Memory: the cache holds
//! at most one bitset per visited configuration (bounded by `steps_max`).

use std::collections::HashSet;

/// A register operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// Write a value.
    Write(u32),
    /// Read, observing a value.
    Read(u32),
}

/// One operation of a register history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterCall {
    /// The operation.
    pub op: RegisterOp,
    /// Invocation time, ns.
    pub invoke_ns: u64,
    /// Completion time, ns; `None` for an `info` (unknown outcome) op.
    pub complete_ns: Option<u64>,
}

/// The verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linearizability {
    /// A linearization exists.
    Linearizable,
    /// None exists; `op` is the index (in the input) of an operation that
    /// could not be placed in the deepest configuration reached.
    NotLinearizable {
        /// The first op whose return was reached without a valid placement.
        op: usize,
    },
    /// The search exceeded its step budget.
    Unknown,
}

const HEAD: usize = 0;
const NIL: usize = usize::MAX;

/// Check `history` against a register starting at `initial`.
pub fn check_register(history: &[RegisterCall], initial: u32, steps_max: u64) -> Linearizability {
    // Keep completed ops and info writes.
    let ops: Vec<(usize, RegisterCall)> = history
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, c)| c.complete_ns.is_some() || matches!(c.op, RegisterOp::Write(_)))
        .collect();
    let n = ops.len();
    if n == 0 {
        return Linearizability::Linearizable;
    }
    // Events: (time, is_return, op). Calls before returns at equal times.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
    for (k, (_, c)) in ops.iter().enumerate() {
        events.push((c.invoke_ns, false, k));
        events.push((c.complete_ns.unwrap_or(u64::MAX), true, k));
    }
    events.sort_unstable();
    // Doubly linked list over nodes 1..=2n (0 is the head).
    let len = events.len() + 1;
    let mut next = vec![NIL; len];
    let mut prev = vec![NIL; len];
    let mut node_op = vec![0usize; len];
    let mut is_ret = vec![false; len];
    let mut ret_node = vec![NIL; n];
    let mut call_node = vec![NIL; n];
    for (j, &(_, r, k)) in events.iter().enumerate() {
        let id = j + 1;
        node_op[id] = k;
        is_ret[id] = r;
        if r {
            ret_node[k] = id;
        } else {
            call_node[k] = id;
        }
        prev[id] = j;
        next[j] = id;
    }
    let words = n.div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, u32)> = HashSet::new();
    let mut stack: Vec<(usize, u32)> = Vec::new();
    let mut state = initial;
    let mut entry = next[HEAD];
    let mut steps = 0u64;
    let mut deepest = (0usize, NIL);

    let lift = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        let (p, nx) = (prev[x], next[x]);
        next[p] = nx;
        if nx != NIL {
            prev[nx] = p;
        }
    };
    let unlift = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        let (p, nx) = (prev[x], next[x]);
        next[p] = x;
        if nx != NIL {
            prev[nx] = x;
        }
    };

    while next[HEAD] != NIL {
        steps += 1;
        if steps > steps_max {
            return Linearizability::Unknown;
        }
        if entry == NIL {
            // Cannot happen: a return always ends the scan.
            return Linearizability::Unknown;
        }
        let k = node_op[entry];
        if !is_ret[entry] {
            let (ok, new_state) = match ops[k].1.op {
                RegisterOp::Write(v) => (true, v),
                RegisterOp::Read(v) => (v == state, state),
            };
            if ok {
                linearized[k / 64] |= 1 << (k % 64);
                if cache.insert((linearized.clone(), new_state)) {
                    stack.push((entry, state));
                    state = new_state;
                    lift(&mut next, &mut prev, entry);
                    lift(&mut next, &mut prev, ret_node[k]);
                    entry = next[HEAD];
                    continue;
                }
                linearized[k / 64] &= !(1 << (k % 64));
            }
            entry = next[entry];
        } else {
            if deepest.1 == NIL || stack.len() > deepest.0 {
                deepest = (stack.len(), k);
            }
            let Some((call, s)) = stack.pop() else {
                return Linearizability::NotLinearizable {
                    op: ops[deepest.1].0,
                };
            };
            let kc = node_op[call];
            state = s;
            linearized[kc / 64] &= !(1 << (kc % 64));
            unlift(&mut next, &mut prev, ret_node[kc]);
            unlift(&mut next, &mut prev, call);
            entry = next[call];
        }
    }
    Linearizability::Linearizable
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegisterOp::{Read as R, Write as W};

    fn c(op: RegisterOp, a: u64, b: u64) -> RegisterCall {
        RegisterCall {
            op,
            invoke_ns: a,
            complete_ns: Some(b),
        }
    }

    #[test]
    fn sequential_and_concurrent_histories_that_linearize() {
        let h = [c(W(1), 0, 1), c(R(1), 2, 3), c(W(2), 4, 5), c(R(2), 6, 7)];
        assert_eq!(check_register(&h, 0, 10_000), Linearizability::Linearizable);
        // Read overlapping a write may see old or new.
        let h = [
            c(W(1), 0, 10),
            c(R(0), 1, 2),
            c(R(1), 3, 4),
            c(R(1), 11, 12),
        ];
        assert_eq!(check_register(&h, 0, 10_000), Linearizability::Linearizable);
        // Concurrent writes: reads fix the order 2 then 1.
        let h = [
            c(W(1), 0, 10),
            c(W(2), 0, 10),
            c(R(2), 1, 2),
            c(R(1), 11, 12),
        ];
        assert_eq!(check_register(&h, 0, 10_000), Linearizability::Linearizable);
        // An info write may take effect late.
        let h = [
            RegisterCall {
                op: W(7),
                invoke_ns: 0,
                complete_ns: None,
            },
            c(R(0), 5, 6),
            c(R(7), 100, 101),
        ];
        assert_eq!(check_register(&h, 0, 10_000), Linearizability::Linearizable);
    }

    #[test]
    fn stale_and_impossible_reads_do_not_linearize() {
        // Stale read: 1 overwritten by 2 before the read began.
        let h = [c(W(1), 0, 1), c(W(2), 2, 3), c(R(1), 4, 5)];
        assert_eq!(
            check_register(&h, 0, 10_000),
            Linearizability::NotLinearizable { op: 2 }
        );
        // A value never written.
        let h = [c(W(1), 0, 1), c(R(9), 2, 3)];
        assert!(matches!(
            check_register(&h, 0, 10_000),
            Linearizability::NotLinearizable { .. }
        ));
        // Two reads disagreeing on the order of concurrent writes.
        let h = [
            c(W(1), 0, 10),
            c(W(2), 0, 10),
            c(R(1), 11, 12),
            c(R(2), 13, 14),
        ];
        assert!(matches!(
            check_register(&h, 0, 10_000),
            Linearizability::NotLinearizable { .. }
        ));
        // A failed (dropped) op may not explain a read... but an info write can.
        let h = [c(W(1), 0, 1), c(R(1), 2, 3), c(R(0), 4, 5)];
        assert!(matches!(
            check_register(&h, 0, 10_000),
            Linearizability::NotLinearizable { .. }
        ));
    }

    #[test]
    fn budget_exhaustion_is_unknown() {
        let h: Vec<_> = (0..12)
            .map(|i| c(W(i), 0, 100))
            .chain([c(R(99), 101, 102)])
            .collect();
        assert_eq!(check_register(&h, 0, 50), Linearizability::Unknown);
        assert!(matches!(
            check_register(&h, 0, 10_000_000),
            Linearizability::NotLinearizable { .. }
        ));
    }
}
