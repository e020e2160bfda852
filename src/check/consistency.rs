//! The consistency checker: a recorded [`History`] plus the final replica
//! states (after a final heal and settle) in, a [`ConsistencyReport`] out,
//! in Jepsen's vocabulary.
//!
//! Anomaly kinds ([`AnomalyKind`]):
//! - **lost append**: an acknowledged (`ok`) append missing from the final log;
//! - **divergence**: two replicas hold different entries at the same
//!   position after the heal (one count per diverging pair);
//! - **duplicate**: a value present more than once in the final log;
//! - **reordered**: append A completed before append B was invoked, yet B
//!   sits before A in the final log (real-time order broken);
//! - **stale read**: a read that missed an append acknowledged before the
//!   read was invoked, or that saw a log state which is not a prefix of the
//!   final log (a deposed leader's discarded branch);
//! - **timestamp backwards**: an entry whose timestamp is lower than its
//!   predecessor's in the final log.
//!
//! The *final log* is the log of the up replica with the highest commit
//! index (lowest node id on ties). Validity: `False` if any anomaly;
//! `Unknown` if there is no up replica or nothing was acknowledged or read;
//! `True` otherwise (composition: false beats unknown beats true).
//!
//! Memory: a position index over the final log's values and sorted copies
//! of the ok appends and reads: all proportional to the log size of one run.

use std::fmt;

use serde::Serialize;

use super::history::{AppendOp, History, Outcome, ReadOp};

/// One replicated-log entry (the model's log and the checker's input).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// The appended value (unique per run); 0 for a leader's no-op entry.
    pub value: u32,
    /// The term (epoch) of the leader that appended it.
    pub term: u32,
    /// The timestamp the leader gave it (its local clock), ns.
    pub ts_ns: i64,
}

/// A replica's final state, as the checker sees it.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaView<'a> {
    /// Node id.
    pub node: u16,
    /// Whether the node is up (down nodes are not compared).
    pub up: bool,
    /// Its commit index (number of entries it knows committed).
    pub commit: u32,
    /// Its log.
    pub log: &'a [LogEntry],
}

/// Jepsen's `valid?`: serialized as JSON `true`, `false` or `"unknown"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// No anomaly found and something was checked.
    True,
    /// At least one anomaly.
    False,
    /// Nothing to check (no replica up, or no acknowledged operation).
    Unknown,
}

impl Serialize for Validity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::True => s.serialize_bool(true),
            Validity::False => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl Validity {
    /// Compose two results: false beats unknown beats true.
    pub fn and(self, other: Validity) -> Validity {
        match (self, other) {
            (Validity::False, _) | (_, Validity::False) => Validity::False,
            (Validity::Unknown, _) | (_, Validity::Unknown) => Validity::Unknown,
            _ => Validity::True,
        }
    }
}

/// The kinds of anomaly the checker detects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// An acknowledged append missing from the final log.
    LostAppend,
    /// Two replicas disagree at a position after the heal.
    Divergence,
    /// A value present more than once in the final log.
    Duplicate,
    /// Real-time order of acknowledged appends broken in the final log.
    Reordered,
    /// A read missed an acknowledged append or saw a discarded state.
    StaleRead,
    /// A timestamp lower than its predecessor's in the final log.
    TimestampBackwards,
}

impl AnomalyKind {
    /// Every kind, in report order.
    pub const ALL: [AnomalyKind; 6] = [
        AnomalyKind::LostAppend,
        AnomalyKind::Divergence,
        AnomalyKind::Duplicate,
        AnomalyKind::Reordered,
        AnomalyKind::StaleRead,
        AnomalyKind::TimestampBackwards,
    ];

    /// Stable snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            AnomalyKind::LostAppend => "lost_append",
            AnomalyKind::Divergence => "divergence",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::Reordered => "reordered",
            AnomalyKind::StaleRead => "stale_read",
            AnomalyKind::TimestampBackwards => "timestamp_backwards",
        }
    }
}

/// The first example of an anomaly kind. Fields not meaningful for a kind
/// are 0; [`Display`](fmt::Display) spells it out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Example {
    /// Values (= append op ids) involved: lost: `[v, 0]`; duplicate: `[v, 0]`;
    /// reordered: `[earlier-acked A, later B]`; stale read: `[missed append
    /// or 0, value the read saw]`; divergence: the two differing values.
    pub values: [u32; 2],
    /// Times, ns: lost/reordered: invoke and completion of the op (reordered:
    /// A's completion, B's invocation); stale read: read invoke, completion.
    pub times_ns: [u64; 2],
    /// 1-based log positions: duplicate: both; divergence: `[i, 0]`;
    /// timestamp: `[i, 0]`; stale read: `[length read, length required]`;
    /// reordered: `[pos A, pos B]`.
    pub index: [u32; 2],
    /// Nodes: divergence: the pair. Otherwise the reference replica twice.
    pub nodes: [u16; 2],
    /// Timestamps for `timestamp_backwards`: `[previous, this]`.
    pub ts_ns: [i64; 2],
}

/// Count per anomaly kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AnomalyCounts {
    /// Acknowledged appends lost.
    pub lost_append: u64,
    /// Diverging replica pairs.
    pub divergence: u64,
    /// Extra copies of values.
    pub duplicate: u64,
    /// Appends placed before an append acknowledged before they started.
    pub reordered: u64,
    /// Stale reads.
    pub stale_read: u64,
    /// Timestamps going backwards.
    pub timestamp_backwards: u64,
}

impl AnomalyCounts {
    /// The count of one kind.
    pub fn get(&self, kind: AnomalyKind) -> u64 {
        match kind {
            AnomalyKind::LostAppend => self.lost_append,
            AnomalyKind::Divergence => self.divergence,
            AnomalyKind::Duplicate => self.duplicate,
            AnomalyKind::Reordered => self.reordered,
            AnomalyKind::StaleRead => self.stale_read,
            AnomalyKind::TimestampBackwards => self.timestamp_backwards,
        }
    }

    fn bump(&mut self, kind: AnomalyKind) {
        let c = match kind {
            AnomalyKind::LostAppend => &mut self.lost_append,
            AnomalyKind::Divergence => &mut self.divergence,
            AnomalyKind::Duplicate => &mut self.duplicate,
            AnomalyKind::Reordered => &mut self.reordered,
            AnomalyKind::StaleRead => &mut self.stale_read,
            AnomalyKind::TimestampBackwards => &mut self.timestamp_backwards,
        };
        *c += 1;
    }

    /// Sum over kinds.
    pub fn total(&self) -> u64 {
        AnomalyKind::ALL.iter().map(|&k| self.get(k)).sum()
    }
}

/// The checker's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsistencyReport {
    /// Jepsen's `valid?`.
    pub valid: Validity,
    /// Count per anomaly kind.
    pub counts: AnomalyCounts,
    /// The first example of each kind found, in [`AnomalyKind::ALL`] order.
    pub examples: Vec<(AnomalyKind, Example)>,
    /// Acknowledged appends checked.
    pub appends_ok: u64,
    /// Successful reads checked.
    pub reads_ok: u64,
    /// Length of the final (reference) log.
    pub final_log_len: u64,
    /// The reference replica, if any was up.
    pub reference_node: Option<u16>,
}

impl ConsistencyReport {
    /// Total number of anomalies.
    pub fn anomalies(&self) -> u64 {
        self.counts.total()
    }

    /// The first example of `kind`, if any.
    pub fn example(&self, kind: AnomalyKind) -> Option<&Example> {
        self.examples
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, e)| e)
    }
}

impl fmt::Display for ConsistencyReport {
    /// One line: `valid=false lost_append=3 ... (first lost_append: value 17 ...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "valid={:?}", self.valid)?;
        for k in AnomalyKind::ALL {
            write!(f, " {}={}", k.name(), self.counts.get(k))?;
        }
        for (k, e) in &self.examples {
            write!(
                f,
                "; first {}: values {:?} times_ns {:?} index {:?} nodes {:?}",
                k.name(),
                e.values,
                e.times_ns,
                e.index,
                e.nodes
            )?;
        }
        Ok(())
    }
}

struct Acc {
    counts: AnomalyCounts,
    examples: [Option<Example>; 6],
}

impl Acc {
    fn hit(&mut self, kind: AnomalyKind, ex: impl FnOnce() -> Example) {
        self.counts.bump(kind);
        let slot = &mut self.examples[kind as usize];
        if slot.is_none() {
            *slot = Some(ex());
        }
    }
}

const NONE: u32 = u32::MAX;

/// Check the history against the final replica states. See the
/// [module docs](self) for what is detected.
pub fn check(history: &History, replicas: &[ReplicaView<'_>]) -> ConsistencyReport {
    check_ops(history.appends(), history.reads(), replicas)
}

/// [`check`] over the compact operation lists directly.
pub fn check_ops(
    appends: &[AppendOp],
    reads: &[ReadOp],
    replicas: &[ReplicaView<'_>],
) -> ConsistencyReport {
    let mut acc = Acc {
        counts: AnomalyCounts::default(),
        examples: [None; 6],
    };
    let reference = replicas
        .iter()
        .filter(|r| r.up)
        .max_by(|a, b| a.commit.cmp(&b.commit).then(b.node.cmp(&a.node)));
    let oks: Vec<&AppendOp> = appends
        .iter()
        .filter(|a| a.outcome == Outcome::Ok)
        .collect();

    // Divergence between up replicas (pairwise, first differing position).
    let up: Vec<&ReplicaView<'_>> = replicas.iter().filter(|r| r.up).collect();
    for (i, a) in up.iter().enumerate() {
        for b in &up[i + 1..] {
            let n = a.log.len().min(b.log.len());
            if let Some(p) = (0..n).find(|&p| a.log[p] != b.log[p]) {
                acc.hit(AnomalyKind::Divergence, || Example {
                    values: [a.log[p].value, b.log[p].value],
                    index: [p as u32 + 1, 0],
                    nodes: [a.node, b.node],
                    ..Example::default()
                });
            }
        }
    }

    let Some(reference) = reference else {
        return finish(acc, Validity::Unknown, oks.len(), reads.len(), 0, None);
    };
    let log = reference.log;
    let node = reference.node;

    // Position of each value's first occurrence; duplicates.
    let max_value = log
        .iter()
        .map(|e| e.value)
        .chain(appends.iter().map(|a| a.value))
        .max()
        .unwrap_or(0) as usize;
    let mut pos = vec![NONE; max_value + 1];
    for (i, e) in log.iter().enumerate() {
        if e.value == 0 {
            continue;
        }
        let slot = &mut pos[e.value as usize];
        if *slot == NONE {
            *slot = i as u32;
        } else {
            let first = *slot;
            acc.hit(AnomalyKind::Duplicate, || Example {
                values: [e.value, 0],
                index: [first + 1, i as u32 + 1],
                nodes: [node, node],
                ..Example::default()
            });
        }
    }

    // Timestamps going backwards.
    for i in 1..log.len() {
        if log[i].ts_ns < log[i - 1].ts_ns {
            acc.hit(AnomalyKind::TimestampBackwards, || Example {
                values: [log[i - 1].value, log[i].value],
                index: [i as u32 + 1, 0],
                nodes: [node, node],
                ts_ns: [log[i - 1].ts_ns, log[i].ts_ns],
                ..Example::default()
            });
        }
    }

    // Lost acknowledged appends.
    for a in &oks {
        if pos[a.value as usize] == NONE {
            acc.hit(AnomalyKind::LostAppend, || Example {
                values: [a.value, 0],
                times_ns: [a.invoke_ns, a.complete_ns],
                nodes: [node, node],
                ..Example::default()
            });
        }
    }

    // Frontier: over ok appends completed strictly before time t, the
    // highest final position (+1) and which append holds it.
    let mut by_complete: Vec<(u64, u32, u32)> = oks
        .iter()
        .filter(|a| pos[a.value as usize] != NONE)
        .map(|a| (a.complete_ns, pos[a.value as usize], a.value))
        .collect();
    by_complete.sort_unstable();
    let frontier = |sorted_times: &mut dyn Iterator<Item = u64>| -> Vec<(u32, u32, u64)> {
        // For each query time (ascending), (max pos + 1, value, its completion).
        let mut out = Vec::new();
        let mut j = 0;
        let mut best = (0u32, 0u32, 0u64);
        for t in sorted_times {
            while j < by_complete.len() && by_complete[j].0 < t {
                let (c, p, v) = by_complete[j];
                if p + 1 > best.0 {
                    best = (p + 1, v, c);
                }
                j += 1;
            }
            out.push(best);
        }
        out
    };

    // Reordered: B invoked after A completed, B placed before A.
    let mut by_invoke: Vec<(u64, u32, u32, u64)> = oks
        .iter()
        .filter(|a| pos[a.value as usize] != NONE)
        .map(|a| (a.invoke_ns, pos[a.value as usize], a.value, a.complete_ns))
        .collect();
    by_invoke.sort_unstable();
    let fr = frontier(&mut by_invoke.iter().map(|b| b.0));
    for (b, f) in by_invoke.iter().zip(&fr) {
        let (b_invoke, b_pos, b_value, _) = *b;
        if f.0 > b_pos + 1 {
            acc.hit(AnomalyKind::Reordered, || Example {
                values: [f.1, b_value],
                times_ns: [f.2, b_invoke],
                index: [f.0, b_pos + 1],
                nodes: [node, node],
                ..Example::default()
            });
        }
    }

    // Stale reads.
    let mut rs: Vec<&ReadOp> = reads.iter().collect();
    rs.sort_by_key(|r| (r.invoke_ns, r.complete_ns, r.process));
    let fr = frontier(&mut rs.iter().map(|r| r.invoke_ns));
    for (r, f) in rs.iter().zip(&fr) {
        let on_final = r.len == 0
            || (r.len as usize <= log.len() && {
                let e = log[r.len as usize - 1];
                e.term == r.term && e.value == r.value
            });
        if !on_final || r.len < f.0 {
            acc.hit(AnomalyKind::StaleRead, || Example {
                values: [if r.len < f.0 { f.1 } else { 0 }, r.value],
                times_ns: [r.invoke_ns, r.complete_ns],
                index: [r.len, f.0],
                nodes: [node, node],
                ..Example::default()
            });
        }
    }

    let checked = !oks.is_empty() || !reads.is_empty();
    let valid = if checked {
        Validity::True
    } else {
        Validity::Unknown
    };
    finish(
        acc,
        valid,
        oks.len(),
        reads.len(),
        log.len(),
        Some(reference.node),
    )
}

fn finish(
    acc: Acc,
    valid_if_clean: Validity,
    appends_ok: usize,
    reads_ok: usize,
    final_log_len: usize,
    reference_node: Option<u16>,
) -> ConsistencyReport {
    let valid = if acc.counts.total() > 0 {
        Validity::False
    } else {
        valid_if_clean
    };
    let examples = AnomalyKind::ALL
        .iter()
        .filter_map(|&k| acc.examples[k as usize].map(|e| (k, e)))
        .collect();
    ConsistencyReport {
        valid,
        counts: acc.counts,
        examples,
        appends_ok: appends_ok as u64,
        reads_ok: reads_ok as u64,
        final_log_len: final_log_len as u64,
        reference_node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::{Op, OpFn, OpType};
    use crate::engine::SimTime;

    fn e(value: u32, term: u32, ts_ns: i64) -> LogEntry {
        LogEntry { value, term, ts_ns }
    }

    /// A small DSL: (process, f, type, time, value, index, term).
    fn history(ops: &[(u32, OpFn, OpType, u64, u32, u32, u32)]) -> History {
        let mut h = History::new();
        for &(process, f, ty, t, value, index, term) in ops {
            h.record(Op {
                process,
                f,
                ty,
                time: SimTime::from_nanos(t),
                value,
                index,
                term,
            });
        }
        h
    }

    use OpFn::{Append as A, Read as R};
    use OpType::{Info, Invoke as Inv, Ok as K};

    fn valid_history() -> History {
        history(&[
            (0, A, Inv, 10, 1, 0, 0),
            (0, A, K, 20, 1, 2, 0),
            (1, A, Inv, 15, 2, 0, 0),
            (0, A, Inv, 30, 3, 0, 0),
            (1, A, K, 35, 2, 3, 0),
            (0, A, K, 40, 3, 4, 0),
            (2, R, Inv, 41, 0, 0, 0),
            (2, R, K, 45, 3, 4, 1),
            (3, A, Inv, 50, 4, 0, 0),
            (3, A, Info, 60, 4, 0, 0),
        ])
    }

    fn good_log() -> Vec<LogEntry> {
        vec![e(0, 1, 5), e(1, 1, 12), e(2, 1, 16), e(3, 1, 31)]
    }

    fn views(logs: &[Vec<LogEntry>]) -> Vec<ReplicaView<'_>> {
        logs.iter()
            .enumerate()
            .map(|(i, l)| ReplicaView {
                node: i as u16,
                up: true,
                commit: l.len() as u32,
                log: l,
            })
            .collect()
    }

    #[test]
    fn a_valid_history_is_valid() {
        let logs = vec![good_log(), good_log(), good_log()[..3].to_vec()];
        let r = check(&valid_history(), &views(&logs));
        assert_eq!(r.valid, Validity::True, "{r}");
        assert_eq!(r.anomalies(), 0);
        assert_eq!(r.appends_ok, 3);
        assert_eq!(r.reads_ok, 1);
        assert_eq!(r.reference_node, Some(0));
    }

    #[test]
    fn nothing_acknowledged_is_unknown() {
        let h = history(&[(0, A, Inv, 1, 1, 0, 0), (0, A, Info, 2, 1, 0, 0)]);
        let logs = vec![good_log()];
        assert_eq!(check(&h, &views(&logs)).valid, Validity::Unknown);
        assert_eq!(check(&h, &[]).valid, Validity::Unknown);
    }

    #[test]
    fn lost_append_is_detected_with_its_op() {
        let mut log = good_log();
        log.remove(2); // value 2 acknowledged at t=35, now missing
        let logs = vec![log];
        let r = check(&valid_history(), &views(&logs));
        assert_eq!(r.valid, Validity::False);
        assert_eq!(r.counts.lost_append, 1);
        let ex = r.example(AnomalyKind::LostAppend).unwrap();
        assert_eq!(ex.values[0], 2);
        assert_eq!(ex.times_ns, [15, 35]);
    }

    #[test]
    fn divergence_after_heal_is_detected_with_the_pair_and_position() {
        let mut other = good_log();
        other[3] = e(9, 2, 31);
        let logs = vec![good_log(), good_log(), other];
        let r = check(&valid_history(), &views(&logs));
        assert_eq!(r.counts.divergence, 2, "{r}"); // (0,2) and (1,2)
        let ex = r.example(AnomalyKind::Divergence).unwrap();
        assert_eq!(ex.nodes, [0, 2]);
        assert_eq!(ex.index[0], 4);
        assert_eq!(ex.values, [3, 9]);
    }

    #[test]
    fn duplicate_entry_is_detected_with_both_positions() {
        let mut log = good_log();
        log.push(e(2, 1, 40));
        let logs = vec![log];
        let r = check(&valid_history(), &views(&logs));
        assert_eq!(r.counts.duplicate, 1);
        let ex = r.example(AnomalyKind::Duplicate).unwrap();
        assert_eq!(ex.values[0], 2);
        assert_eq!(ex.index, [3, 5]);
    }

    #[test]
    fn reordered_entries_are_detected_with_both_ops() {
        // 1 acked at 20; 3 invoked at 30 but placed before 1.
        let log = vec![e(0, 1, 5), e(3, 1, 12), e(2, 1, 16), e(1, 1, 31)];
        let logs = vec![log];
        let r = check(&valid_history(), &views(&logs));
        assert!(r.counts.reordered >= 1, "{r}");
        let ex = r.example(AnomalyKind::Reordered).unwrap();
        assert_eq!(ex.values, [1, 3]);
        assert_eq!(ex.index, [4, 2]);
        assert_eq!(ex.times_ns, [20, 30]);
        assert_eq!(r.counts.lost_append, 0);
    }

    #[test]
    fn stale_read_is_detected_with_the_missed_append() {
        // Read invoked at 41 after 3 was acked at 40, but saw length 3.
        let h = history(&[
            (0, A, Inv, 10, 1, 0, 0),
            (0, A, K, 20, 1, 2, 0),
            (1, A, Inv, 15, 2, 0, 0),
            (0, A, Inv, 30, 3, 0, 0),
            (1, A, K, 35, 2, 3, 0),
            (0, A, K, 40, 3, 4, 0),
            (2, R, Inv, 41, 0, 0, 0),
            (2, R, K, 45, 2, 3, 1),
        ]);
        let logs = vec![good_log()];
        let r = check(&h, &views(&logs));
        assert_eq!(r.counts.stale_read, 1, "{r}");
        let ex = r.example(AnomalyKind::StaleRead).unwrap();
        assert_eq!(ex.values, [3, 2]);
        assert_eq!(ex.index, [3, 4]);
        assert_eq!(ex.times_ns, [41, 45]);
    }

    #[test]
    fn read_of_a_discarded_branch_is_stale() {
        let h = history(&[
            (2, R, Inv, 41, 0, 0, 0),
            (2, R, K, 45, 77, 4, 1), // value 77 never made it to the final log
        ]);
        let logs = vec![good_log()];
        let r = check(&h, &views(&logs));
        assert_eq!(r.counts.stale_read, 1);
        assert_eq!(r.example(AnomalyKind::StaleRead).unwrap().values, [0, 77]);
    }

    #[test]
    fn timestamps_going_backwards_are_detected_at_their_position() {
        let mut log = good_log();
        log[2].ts_ns = 3;
        let logs = vec![log];
        let r = check(&valid_history(), &views(&logs));
        assert_eq!(r.counts.timestamp_backwards, 1);
        let ex = r.example(AnomalyKind::TimestampBackwards).unwrap();
        assert_eq!(ex.index[0], 3);
        assert_eq!(ex.ts_ns, [12, 3]);
    }

    #[test]
    fn validity_composes_false_over_unknown_over_true() {
        use Validity::*;
        assert_eq!(True.and(Unknown), Unknown);
        assert_eq!(Unknown.and(False), False);
        assert_eq!(True.and(True), True);
    }
}
