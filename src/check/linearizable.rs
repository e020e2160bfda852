//! Linearizability of register histories: a Wing-Gong-Lowe search (as in
//! Knossos and Porcupine) over a compare-and-set register, per independent
//! key, with a step budget; and the mapping of the replicated log's
//! [`History`] onto such registers ([`check_log`]).
//!
//! # The register model
//! A register holds a [`Value`]: a `u64` or nil (`None`), starting at
//! [`CheckOptions::initial`] (nil unless told otherwise: `--initial`).
//! Operations ([`RegisterOp`]), with Knossos' semantics:
//! - `read v`: the register holds `v`;
//! - `write v`: it now holds `v`;
//! - `cas [old new]`: if it holds `old`, it now holds `new`; else the
//!   operation is impossible at that point.
//!
//! How an operation ended ([`Outcome`]) decides how it is checked:
//! - `ok`: it took effect exactly once, somewhere between its invocation and
//!   its completion;
//! - `fail`: it did not take effect: dropped;
//! - `info` (or no completion at all, `pending`): unknown. An `info` write
//!   or cas may take effect at any time after its invocation, or never;
//!   an `info` read observes nothing and is dropped.
//!
//! At equal times, invocations are ordered before completions (the two
//! operations are treated as concurrent: the lenient choice).
//!
//! One difference from Knossos, on purpose: an `ok` read of nil is checked
//! like any other value (nil is the register's value before the first write,
//! and the log mapping below relies on it). Knossos' `cas-register` lets an
//! `ok` read of nil match anything; [`CheckOptions::nil_reads_match_any`]
//! asks for that behaviour.
//!
//! # Independent keys
//! A [`RegisterCall`] may carry a key (Jepsen's `independent` tuples,
//! `:value [k v]`): each key is its own register with its own search and its
//! own budget. The verdict composes as Jepsen's does: not linearizable beats
//! unknown beats linearizable ([`Validity`]).
//!
//! # The verdict and the first operation that cannot be linearized
//! The search keeps, over every dead end it meets, the furthest completion
//! (in history order) that it could not get past: every operation
//! completing before it can be linearized in some order, none can take this
//! one along. That operation is the key's culprit
//! ([`Linearizability::NotLinearizable`], by its index in the input); over
//! keys, [`LinReport::first_failure`] is the culprit that completes first.
//! When a key's search exceeds [`CheckOptions::steps_max`] its verdict is
//! [`Linearizability::Unknown`], as Knossos' is when it runs out of memory
//! or time.
//!
//! # Cost
//! Per key of `n` kept operations: `O(n log n)` to sort the events, then the
//! search; a step is one attempt to linearize an invocation or one
//! backtrack, and a key stops after `steps_max` steps. The search is
//! exponential in the number of mutually concurrent operations in the worst
//! case (and `info` writes stay concurrent with everything after them), and
//! about linear for histories of short, mostly sequential operations, which
//! is what the replicated log's clients produce.
//!
//! Memory per key: the events (`O(n)`), the backtracking stack (at most `n`
//! frames) and the cache of visited configurations (linearized set, register
//! value), at most one entry per step, each `8 x ceil(n / 64) + 48` bytes,
//! and never more than [`CheckOptions::cache_bytes_max`] in total: past that
//! cap, configurations are no longer remembered (the search stays correct
//! and bounded by the steps, only slower). Keys are searched one at a time,
//! so that is the peak over keys, plus the input.
//!
//! # The replicated log as registers
//! [`check_log`] maps a [`History`] of the replicated log
//! ([`crate::model::cluster`]) onto one write-once register per log
//! position (key = the 1-based position, value = the entry there, nil while
//! the log is shorter). Entry values are encoded by [`log_value`]: a client
//! value `v` (> 0, unique per run) as `v`, the no-op a new leader of term
//! `t` appends (value 0) as [`NOOP_BASE`]` + t`. Per operation:
//!
//! | history | register operations |
//! |---|---|
//! | append `v` `ok` at index `i` (its acknowledged position, plain or compare-and-set carrying) | position `i`: `cas [nil v]` ok, from its invocation to its acknowledgement |
//! | read `ok` seeing length `L`, tail `(v, term t)` | position `L`: `read log_value(v, t)`; position `L + 1`: `read nil` (both over the read's interval; `L = 0`: only the second) |
//! | a no-op entry of term `t` seen by a read at position `L` | position `L`: `cas [nil noop(t)]`, `info`, invoked at time 0 (a leader appended it at some unknown time; no client wrote it) |
//! | append `v` `info` or pending, whose value a read saw at position `L` | position `L`: `cas [nil v]`, `info`, from the append's invocation |
//! | append `fail`, append `info` never seen, read `fail` / `info` | nothing |
//!
//! A value (or a term's no-op) seen at several positions gets its `info`
//! writer at the lowest one only: in a linearizable log an append takes
//! effect at most once, so every other position that shows it is flagged.
//! A compare-and-set-carrying append is recorded like a plain one: its
//! acknowledgement names the position it holds (the earlier attempt's when
//! the leader found one), and that is what is checked.
//!
//! The mapping is sound: a history a linearizable log could produce is
//! linearizable at every position (each position's register goes from nil
//! to its entry once, when that entry is appended, and a read at its
//! linearization point sees nil beyond the tail). So a `NotLinearizable`
//! verdict is a real anomaly. What it catches:
//! - **lost acknowledged appends**, once another operation observes the
//!   position: two appends acknowledged at one position, or a read seeing
//!   another entry (or a no-op) where an append was acknowledged;
//! - **stale reads**: a read shorter than a position acknowledged before it
//!   began (`read nil` after an `ok` `cas [nil v]`), or shorter than a tail
//!   another read saw before it began (`read nil` after a read of a value:
//!   a write-once register never returns to nil);
//! - **rewritten positions**: two reads seeing different entries at one
//!   position (a deposed leader's uncommitted tail served and later
//!   replaced);
//! - **duplicated or misplaced appends**: a value seen at a position other
//!   than the one its append was acknowledged at, or at two positions;
//! - **failed appends that took effect** and **values never written**: a
//!   read seeing a value whose append failed, or that no client appended.
//!
//! What it misses (the positions are independent keys, and only tails are
//! observed):
//! - constraints across positions: a read is placed at each of its two
//!   positions independently, so a read that goes backwards by more than
//!   one entry relative to an earlier read (`L2 + 1 < L1`) is flagged only
//!   if something else pins position `L2 + 1` before it (an acknowledged
//!   append there, or a read of it);
//! - entries no read saw as a tail and no acknowledgement names: an `info`
//!   append that landed twice, or in the middle of the log, is not seen;
//! - acknowledged appends lost with nothing observing their position again
//!   (no later acknowledgement or read there): the consistency checker
//!   ([`super::consistency`]) compares them with the final log instead;
//! - terms of client entries (only the value is compared) and timestamps.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

use super::consistency::Validity;
use super::history::{History, Outcome};

/// A register value: a number, or nil (`None`).
pub type Value = Option<u64>;

/// Steps per key a search may take by default (see [`CheckOptions`]), for
/// register histories of unknown shape (a Jepsen run's EDN history): about
/// a second of search on a key of a few thousand operations.
pub const STEPS_MAX_DEFAULT: u64 = 1_000_000;

/// Steps per log position for [`check_log`] by default. The catalogue's
/// Jepsen runs (JEP01-JEP04, safeguards on and off, 8 seeds each) take at
/// most 57 steps on one position (a position holds a few to a few tens of
/// operations: its acknowledgement, the reads that saw it as the tail or
/// just beyond it), about 10,000 to 25,000 steps per run over 3,000 to
/// 12,000 positions, a few ms of search. The budget leaves 175 times that
/// headroom per position, while bounding a pathological run to
/// `positions x 10,000` steps.
pub const LOG_STEPS_MAX_DEFAULT: u64 = 10_000;

/// Bytes of visited configurations remembered per key by default.
pub const CACHE_BYTES_MAX_DEFAULT: u64 = 64 * 1024 * 1024;

/// A register operation (Knossos' `:f` and `:value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterOp {
    /// Read, observing a value.
    Read(Value),
    /// Write a value.
    Write(Value),
    /// Compare-and-set: if the register holds `old`, set it to `new`.
    Cas {
        /// The expected value.
        old: Value,
        /// The value set.
        new: Value,
    },
}

impl RegisterOp {
    /// The register's value after this operation from `state`, or `None` if
    /// the operation is impossible there. `nil_any`: an ok read of nil
    /// matches anything (Knossos).
    fn step(self, state: Value, nil_any: bool) -> Option<Value> {
        match self {
            RegisterOp::Read(v) => (v == state || (nil_any && v.is_none())).then_some(state),
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Cas { old, new } => (old == state).then_some(new),
        }
    }
}

/// Knossos-style text of a value: the number, or `nil`.
pub fn fmt_value(v: Value) -> String {
    match v {
        Some(x) => x.to_string(),
        None => "nil".into(),
    }
}

impl fmt::Display for RegisterOp {
    /// `read 3`, `write nil`, `cas [1 2]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RegisterOp::Read(v) => write!(f, "read {}", fmt_value(v)),
            RegisterOp::Write(v) => write!(f, "write {}", fmt_value(v)),
            RegisterOp::Cas { old, new } => {
                write!(f, "cas [{} {}]", fmt_value(old), fmt_value(new))
            }
        }
    }
}

/// One operation of a register history: its invocation and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterCall {
    /// The independent key (`None`: a single register).
    pub key: Option<u64>,
    /// The client process (for reports only).
    pub process: u64,
    /// The operation, with the value its completion reported (a read's
    /// value is the one it returned).
    pub op: RegisterOp,
    /// How it ended ([`Outcome::Pending`] counts as `info`).
    pub outcome: Outcome,
    /// Invocation time, in any unit that orders the history (ns for chaosim
    /// histories, the op's position for EDN ones).
    pub invoke_at: u64,
    /// Completion time, same unit; read only when `outcome` is `Ok`.
    pub complete_at: u64,
}

impl RegisterCall {
    /// An `ok` operation over `[invoke_at, complete_at]`, no key, process 0.
    pub fn ok(op: RegisterOp, invoke_at: u64, complete_at: u64) -> RegisterCall {
        RegisterCall {
            key: None,
            process: 0,
            op,
            outcome: Outcome::Ok,
            invoke_at,
            complete_at,
        }
    }

    /// An `info` operation invoked at `invoke_at`.
    pub fn info(op: RegisterOp, invoke_at: u64) -> RegisterCall {
        RegisterCall {
            outcome: Outcome::Info,
            complete_at: u64::MAX,
            ..RegisterCall::ok(op, invoke_at, u64::MAX)
        }
    }

    /// A `fail` operation over `[invoke_at, complete_at]`.
    pub fn fail(op: RegisterOp, invoke_at: u64, complete_at: u64) -> RegisterCall {
        RegisterCall {
            outcome: Outcome::Fail,
            ..RegisterCall::ok(op, invoke_at, complete_at)
        }
    }

    /// The same call on key `key`.
    pub fn on(self, key: u64) -> RegisterCall {
        RegisterCall {
            key: Some(key),
            ..self
        }
    }

    /// The same call by `process`.
    pub fn by(self, process: u64) -> RegisterCall {
        RegisterCall { process, ..self }
    }

    /// Whether the search considers it: `ok` operations, and `info` /
    /// pending writes and cas.
    fn kept(&self, nil_any: bool) -> bool {
        match self.outcome {
            Outcome::Ok => !(nil_any && self.op == RegisterOp::Read(None)),
            Outcome::Fail => false,
            Outcome::Info | Outcome::Pending => !matches!(self.op, RegisterOp::Read(_)),
        }
    }
}

/// How a check is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// The register's value before the history (every key's).
    pub initial: Value,
    /// Search steps per key before its verdict is [`Linearizability::Unknown`].
    pub steps_max: u64,
    /// Knossos' reading of an `ok` read of nil: it matches any value.
    pub nil_reads_match_any: bool,
    /// Bytes of visited configurations remembered per key (see the
    /// [module docs](self#cost)).
    pub cache_bytes_max: u64,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            initial: None,
            steps_max: STEPS_MAX_DEFAULT,
            nil_reads_match_any: false,
            cache_bytes_max: CACHE_BYTES_MAX_DEFAULT,
        }
    }
}

/// One key's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Linearizability {
    /// A linearization exists.
    Linearizable,
    /// None exists; `op` (an index in the input) is the first operation
    /// that cannot be linearized (see the [module docs](self)).
    NotLinearizable {
        /// Index in the input of the operation no linearization gets past.
        op: usize,
    },
    /// The search exceeded its step budget.
    Unknown,
}

impl Linearizability {
    /// `linearizable`, `not linearizable`, `unknown`.
    pub const fn name(self) -> &'static str {
        match self {
            Linearizability::Linearizable => "linearizable",
            Linearizability::NotLinearizable { .. } => "not linearizable",
            Linearizability::Unknown => "unknown",
        }
    }

    /// As Jepsen's `valid?`.
    pub const fn validity(self) -> Validity {
        match self {
            Linearizability::Linearizable => Validity::True,
            Linearizability::NotLinearizable { .. } => Validity::False,
            Linearizability::Unknown => Validity::Unknown,
        }
    }
}

/// The search of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    /// The key (`None`: a single register).
    pub key: Option<u64>,
    /// Its verdict.
    #[serde(flatten)]
    pub verdict: Linearizability,
    /// Operations the search considered (`ok` ones and `info` writes/cas).
    pub ops: u64,
    /// Steps it took.
    pub steps: u64,
}

/// The verdict over every key of a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinReport {
    /// Jepsen's `valid?`: false if a key is not linearizable, else unknown
    /// if a key ran out of budget, else true.
    pub valid: Validity,
    /// Every key, in key order (a history without keys has one, `None`).
    pub keys: Vec<KeyReport>,
    /// Operations the searches considered, over keys.
    pub ops: u64,
    /// Steps taken, over keys.
    pub steps: u64,
    /// The most steps one key took.
    pub steps_key_max: u64,
    /// The budget each key had.
    pub steps_max: u64,
    /// The first operation that cannot be linearized, over keys: the
    /// culprit that completes first (ties: lowest input index), as an index
    /// in the input.
    pub first_failure: Option<usize>,
}

impl LinReport {
    /// Keys with each verdict: (linearizable, not linearizable, unknown).
    pub fn counts(&self) -> (u64, u64, u64) {
        let mut c = (0, 0, 0);
        for k in &self.keys {
            match k.verdict {
                Linearizability::Linearizable => c.0 += 1,
                Linearizability::NotLinearizable { .. } => c.1 += 1,
                Linearizability::Unknown => c.2 += 1,
            }
        }
        c
    }

    /// The first key whose budget ran out, if any.
    pub fn first_unknown(&self) -> Option<Option<u64>> {
        self.keys
            .iter()
            .find(|k| k.verdict == Linearizability::Unknown)
            .map(|k| k.key)
    }
}

/// Check `history` as one register (keys are ignored) starting at `initial`,
/// with `steps_max` search steps.
pub fn check_register(history: &[RegisterCall], initial: Value, steps_max: u64) -> Linearizability {
    let opts = CheckOptions {
        initial,
        steps_max,
        ..CheckOptions::default()
    };
    let all: Vec<usize> = (0..history.len()).collect();
    search(history, &all, &opts, &mut Scratch::default()).0
}

/// Check every key of `history` (see the [module docs](self)).
pub fn check(history: &[RegisterCall], opts: &CheckOptions) -> LinReport {
    let order = by_key(history);
    let mut keys = Vec::new();
    let (mut ops, mut steps) = (0u64, 0u64);
    let mut first: Option<(u64, usize)> = None;
    let mut valid = Validity::True;
    let mut scratch = Scratch::default();
    for group in order.chunk_by(|&a, &b| history[a].key == history[b].key) {
        let (verdict, s, n) = search(history, group, opts, &mut scratch);
        ops += n;
        steps += s;
        valid = valid.and(verdict.validity());
        if let Linearizability::NotLinearizable { op } = verdict {
            let at = (history[op].complete_at, op);
            if first.is_none_or(|f| at < f) {
                first = Some(at);
            }
        }
        keys.push(KeyReport {
            key: history[group[0]].key,
            verdict,
            ops: n,
            steps: s,
        });
    }
    let steps_key_max = keys.iter().map(|k| k.steps).max().unwrap_or(0);
    LinReport {
        valid,
        keys,
        ops,
        steps,
        steps_key_max,
        steps_max: opts.steps_max,
        first_failure: first.map(|f| f.1),
    }
}

/// The indices of `history` in `(key, index)` order: by key (no key
/// first), each key's calls in history order. The keys of a log history
/// are its positions, a dense range, so they are counted into place (one
/// pass, no comparison); sparse keys are sorted.
fn by_key(history: &[RegisterCall]) -> Vec<usize> {
    // Rank 0 for no key, `k - min + 1` for key `k`.
    let (min, max) = history
        .iter()
        .filter_map(|c| c.key)
        .fold((u64::MAX, 0), |(lo, hi), k| (lo.min(k), hi.max(k)));
    let dense = min <= max && max - min <= 4 * history.len() as u64 + 64;
    if !dense {
        let mut order: Vec<usize> = (0..history.len()).collect();
        // The index breaks every tie, so an unstable sort gives the one order.
        order.sort_unstable_by_key(|&i| (history[i].key, i));
        return order;
    }
    let rank = |c: &RegisterCall| c.key.map_or(0, |k| (k - min + 1) as usize);
    // starts[r] = how many calls rank below r (a counting sort, stable).
    let mut starts = vec![0usize; (max - min + 2) as usize + 1];
    for c in history {
        starts[rank(c) + 1] += 1;
    }
    for r in 1..starts.len() {
        starts[r] += starts[r - 1];
    }
    let mut order = vec![0; history.len()];
    for (i, c) in history.iter().enumerate() {
        let r = rank(c);
        order[starts[r]] = i;
        starts[r] += 1;
    }
    order
}

const HEAD: usize = 0;
const NIL: usize = usize::MAX;

/// The search's buffers, reused from one key to the next (a log history
/// has one key per position, most with a handful of operations: fresh
/// buffers and a cache entry allocated per step cost more than the search).
#[derive(Debug, Default)]
struct Scratch {
    ops: Vec<(usize, RegisterCall)>,
    events: Vec<(u64, bool, usize)>,
    next: Vec<usize>,
    prev: Vec<usize>,
    node_op: Vec<usize>,
    is_ret: Vec<bool>,
    ret_node: Vec<usize>,
    linearized: Vec<u64>,
    stack: Vec<(usize, Value)>,
    /// Visited configurations of a key of at most 64 operations: (linearized
    /// set, register value), no allocation per entry.
    seen_one: HashSet<(u64, Value), BuildFold>,
    /// Visited configurations of a larger key: the linearized words, then
    /// the register value as two words (`[is_some, value]`).
    seen_many: HashSet<Vec<u64>, BuildFold>,
    /// The configuration being looked up (larger keys), as in `seen_many`.
    key: Vec<u64>,
}

/// Cache entries above which a cache is dropped rather than cleared between
/// keys (clearing costs its capacity).
const SEEN_KEEP_MAX: usize = 4096;

impl Scratch {
    /// Empty every buffer, keeping allocations of a modest size.
    fn clear(&mut self) {
        if self.seen_one.capacity() > SEEN_KEEP_MAX {
            self.seen_one = HashSet::default();
        } else {
            self.seen_one.clear();
        }
        if self.seen_many.capacity() > SEEN_KEEP_MAX {
            self.seen_many = HashSet::default();
        } else {
            self.seen_many.clear();
        }
        self.ops.clear();
        self.events.clear();
        self.stack.clear();
    }

    /// Whether configuration (`self.linearized`, `state`) was visited; if
    /// not and `remember`, it is now.
    fn visit(&mut self, state: Value, remember: bool) -> bool {
        if let [bits] = self.linearized[..] {
            let config = (bits, state);
            let seen = self.seen_one.contains(&config);
            if !seen && remember {
                self.seen_one.insert(config);
            }
            return seen;
        }
        self.key.clear();
        self.key.extend_from_slice(&self.linearized);
        self.key
            .extend_from_slice(&[state.is_some().into(), state.unwrap_or(0)]);
        let seen = self.seen_many.contains(self.key.as_slice());
        if !seen && remember {
            self.seen_many.insert(self.key.clone());
        }
        seen
    }
}

/// A fast, deterministic hasher for the search cache (FxHash's fold: a
/// rotate, an xor and a multiply per word). The cache is only probed, never
/// iterated, so the hasher changes the speed, not the result.
#[derive(Clone, Copy, Debug, Default)]
struct BuildFold;

impl std::hash::BuildHasher for BuildFold {
    type Hasher = Fold;
    fn build_hasher(&self) -> Fold {
        Fold(0)
    }
}

/// See [`BuildFold`].
#[derive(Clone, Copy, Debug)]
struct Fold(u64);

impl Fold {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for Fold {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i.into());
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.add(i as u64);
    }
}

/// The Wing-Gong-Lowe search over the calls `idx` of `history` (one key),
/// in the buffers of `sc`. Returns the verdict (input indices), the steps
/// taken and the number of operations considered.
fn search(
    history: &[RegisterCall],
    idx: &[usize],
    opts: &CheckOptions,
    sc: &mut Scratch,
) -> (Linearizability, u64, u64) {
    let nil_any = opts.nil_reads_match_any;
    sc.clear();
    sc.ops.extend(
        idx.iter()
            .map(|&i| (i, history[i]))
            .filter(|(_, c)| c.kept(nil_any)),
    );
    let n = sc.ops.len();
    let mut remaining_ok = sc
        .ops
        .iter()
        .filter(|(_, c)| c.outcome == Outcome::Ok)
        .count();
    if remaining_ok == 0 {
        // Only info writes and cas: none has to take effect.
        return (Linearizability::Linearizable, 0, n as u64);
    }
    // Events: (time, is_return, op). Invocations before completions at
    // equal times; info ops have no completion event.
    for (k, (_, c)) in sc.ops.iter().enumerate() {
        sc.events.push((c.invoke_at, false, k));
        if c.outcome == Outcome::Ok {
            sc.events.push((c.complete_at.max(c.invoke_at), true, k));
        }
    }
    sc.events.sort_unstable();
    // A doubly linked list over nodes 1..=events.len() (0 is the head);
    // node j + 1 is event j, so a node's id is its position in history order.
    let len = sc.events.len() + 1;
    let reset = |v: &mut Vec<usize>, len: usize, x: usize| {
        v.clear();
        v.resize(len, x);
    };
    reset(&mut sc.next, len, NIL);
    reset(&mut sc.prev, len, NIL);
    reset(&mut sc.node_op, len, 0);
    reset(&mut sc.ret_node, n, NIL);
    sc.is_ret.clear();
    sc.is_ret.resize(len, false);
    for (j, &(_, r, k)) in sc.events.iter().enumerate() {
        let id = j + 1;
        sc.node_op[id] = k;
        sc.is_ret[id] = r;
        if r {
            sc.ret_node[k] = id;
        }
        sc.prev[id] = j;
        sc.next[j] = id;
    }
    let words = n.div_ceil(64);
    let entry_bytes = 8 * words as u64 + 48;
    let mut cache_bytes = 0u64;
    sc.linearized.clear();
    sc.linearized.resize(words, 0);
    // sc.stack: (call node, register value before it)
    let mut state = opts.initial;
    let mut entry = sc.next[HEAD];
    let mut steps = 0u64;
    // The furthest completion node a dead end was met at, and its op.
    let mut furthest = (0usize, 0usize);

    let lift = |next: &mut [usize], prev: &mut [usize], x: usize| {
        let (p, nx) = (prev[x], next[x]);
        next[p] = nx;
        if nx != NIL {
            prev[nx] = p;
        }
    };
    let unlift = |next: &mut [usize], prev: &mut [usize], x: usize| {
        let (p, nx) = (prev[x], next[x]);
        next[p] = x;
        if nx != NIL {
            prev[nx] = x;
        }
    };

    loop {
        steps += 1;
        if steps > opts.steps_max {
            return (Linearizability::Unknown, opts.steps_max, n as u64);
        }
        // An unlinearized ok op keeps its completion in the list, and the
        // scan stops at the first completion: it never runs off the end.
        debug_assert!(entry != NIL, "scan ran past every completion");
        let dead_end = entry == NIL || sc.is_ret[entry];
        if !dead_end {
            let k = sc.node_op[entry];
            let c = sc.ops[k].1;
            if let Some(new_state) = c.op.step(state, nil_any) {
                sc.linearized[k / 64] |= 1 << (k % 64);
                let remember = cache_bytes + entry_bytes <= opts.cache_bytes_max;
                let seen = sc.visit(new_state, remember);
                if !seen && remember {
                    cache_bytes += entry_bytes;
                }
                if !seen {
                    sc.stack.push((entry, state));
                    state = new_state;
                    lift(&mut sc.next, &mut sc.prev, entry);
                    if c.outcome == Outcome::Ok {
                        lift(&mut sc.next, &mut sc.prev, sc.ret_node[k]);
                        remaining_ok -= 1;
                        if remaining_ok == 0 {
                            return (Linearizability::Linearizable, steps, n as u64);
                        }
                    }
                    entry = sc.next[HEAD];
                    continue;
                }
                sc.linearized[k / 64] &= !(1 << (k % 64));
            }
            entry = sc.next[entry];
            continue;
        }
        if entry != NIL && entry > furthest.0 {
            furthest = (entry, sc.node_op[entry]);
        }
        let Some((call, s)) = sc.stack.pop() else {
            return (
                Linearizability::NotLinearizable {
                    op: sc.ops[furthest.1].0,
                },
                steps,
                n as u64,
            );
        };
        let kc = sc.node_op[call];
        state = s;
        sc.linearized[kc / 64] &= !(1 << (kc % 64));
        if sc.ops[kc].1.outcome == Outcome::Ok {
            unlift(&mut sc.next, &mut sc.prev, sc.ret_node[kc]);
            remaining_ok += 1;
        }
        unlift(&mut sc.next, &mut sc.prev, call);
        entry = sc.next[call];
    }
}

// ---------------------------------------------------------------- the log

/// Where no-op entries live in the value space of [`log_value`]: the no-op
/// of term `t` is `NOOP_BASE + t` (client values are `u32`, so below it).
pub const NOOP_BASE: u64 = 1 << 32;

/// The register value of a log entry: a client value `v > 0` as itself, a
/// leader's no-op (value 0) of term `term` as [`NOOP_BASE`]` + term`.
pub const fn log_value(value: u32, term: u32) -> u64 {
    if value == 0 {
        NOOP_BASE + term as u64
    } else {
        value as u64
    }
}

/// The text of a [`log_value`]: `17`, `no-op of term 3`, `nil`.
pub fn fmt_log_value(v: Value) -> String {
    match v {
        None => "nil".into(),
        Some(x) if x >= NOOP_BASE => format!("no-op of term {}", x - NOOP_BASE),
        Some(x) => x.to_string(),
    }
}

/// An operation of the replicated log's history, as the checker names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "f")]
pub enum LogOp {
    /// An append.
    Append {
        /// The client process.
        process: u32,
        /// The appended value.
        value: u32,
        /// Invocation time, ns.
        invoke_ns: u64,
        /// Completion time, ns (`u64::MAX` if none).
        complete_ns: u64,
        /// How it ended.
        outcome: Outcome,
        /// The acknowledged position (`ok` only; else 0).
        index: u32,
    },
    /// A successful read of the committed tail.
    Read {
        /// The client process.
        process: u32,
        /// Invocation time, ns.
        invoke_ns: u64,
        /// Completion time, ns.
        complete_ns: u64,
        /// Length of the log seen.
        len: u32,
        /// Value of the last entry seen (0: a no-op, or the empty log).
        value: u32,
        /// Term of the last entry seen.
        term: u32,
    },
}

impl LogOp {
    /// The client process.
    pub fn process(&self) -> u32 {
        match *self {
            LogOp::Append { process, .. } | LogOp::Read { process, .. } => process,
        }
    }

    /// Invocation time, ns.
    pub fn invoke_ns(&self) -> u64 {
        match *self {
            LogOp::Append { invoke_ns, .. } | LogOp::Read { invoke_ns, .. } => invoke_ns,
        }
    }
}

impl fmt::Display for LogOp {
    /// `append 17 by process 2 (ok at index 5), invoked 1.2 s, completed 1.3 s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |ns: u64| ns as f64 / 1e9;
        match *self {
            LogOp::Append {
                process,
                value,
                invoke_ns,
                complete_ns,
                outcome,
                index,
            } => {
                write!(f, "append {value} by process {process} (")?;
                match outcome {
                    Outcome::Ok => write!(f, "ok at index {index}")?,
                    Outcome::Fail => write!(f, "fail")?,
                    Outcome::Info => write!(f, "info")?,
                    Outcome::Pending => write!(f, "pending")?,
                }
                write!(f, "), invoked {:.9} s", s(invoke_ns))?;
                if complete_ns != u64::MAX {
                    write!(f, ", completed {:.9} s", s(complete_ns))?;
                }
                Ok(())
            }
            LogOp::Read {
                process,
                invoke_ns,
                complete_ns,
                len,
                value,
                term,
            } => {
                write!(f, "read by process {process} saw length {len}")?;
                if len > 0 && value == 0 {
                    write!(f, ", tail the no-op of term {term}")?;
                } else if len > 0 {
                    write!(f, ", tail {value} (term {term})")?;
                }
                write!(
                    f,
                    ", invoked {:.9} s, completed {:.9} s",
                    s(invoke_ns),
                    s(complete_ns)
                )
            }
        }
    }
}

/// The first operation of a log history that cannot be linearized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LogFailure {
    /// The log position (key) whose register it breaks.
    pub position: u64,
    /// The history operation.
    pub op: LogOp,
    /// The register operation it maps to there.
    pub register: RegisterOp,
}

impl fmt::Display for LogFailure {
    /// `position 5: read by process 2 ... (as read nil)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reg = match self.register {
            RegisterOp::Read(v) => format!("read {}", fmt_log_value(v)),
            RegisterOp::Write(v) => format!("write {}", fmt_log_value(v)),
            RegisterOp::Cas { old, new } => {
                format!("cas [{} {}]", fmt_log_value(old), fmt_log_value(new))
            }
        };
        write!(f, "position {}: {} (as {reg})", self.position, self.op)
    }
}

/// The linearizability verdict on a replicated log's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LinVerdict {
    /// Jepsen's `valid?` (false beats unknown beats true over positions).
    pub valid: Validity,
    /// Log positions checked (keys).
    pub positions: u64,
    /// Positions that are not linearizable.
    pub positions_not_linearizable: u64,
    /// Positions whose search ran out of budget.
    pub positions_unknown: u64,
    /// Register operations the searches considered.
    pub ops: u64,
    /// Steps taken, over positions.
    pub steps: u64,
    /// The most steps one position took.
    pub steps_key_max: u64,
    /// The budget per position.
    pub steps_max: u64,
    /// The first operation that cannot be linearized (the culprit that
    /// completes first).
    pub first_failure: Option<LogFailure>,
    /// The first position whose budget ran out.
    pub first_unknown: Option<u64>,
}

impl fmt::Display for LinVerdict {
    /// One line: `linearizable=false positions=812 not_linearizable=3 ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "linearizable={:?} positions={} not_linearizable={} unknown={} ops={} steps={}",
            self.valid,
            self.positions,
            self.positions_not_linearizable,
            self.positions_unknown,
            self.ops,
            self.steps
        )?;
        if let Some(x) = &self.first_failure {
            write!(f, "; first: {x}")?;
        }
        if let Some(p) = self.first_unknown {
            write!(
                f,
                "; budget of {} steps exhausted at position {p}",
                self.steps_max
            )?;
        }
        Ok(())
    }
}

/// The register history a log [`History`] maps to (see the
/// [module docs](self#the-replicated-log-as-registers)), with the history
/// operation behind each call (`None` for the synthesized `info` writer of
/// a no-op).
pub fn log_calls(history: &History) -> (Vec<RegisterCall>, Vec<Option<LogOp>>) {
    let appends = history.appends();
    let reads = history.reads();
    let append_op = |a: &super::history::AppendOp| LogOp::Append {
        process: a.process,
        value: a.value,
        invoke_ns: a.invoke_ns,
        complete_ns: a.complete_ns,
        outcome: a.outcome,
        index: a.index,
    };
    let mut calls = Vec::with_capacity(appends.len() + 2 * reads.len());
    let mut from = Vec::with_capacity(calls.capacity());
    // Appends by value (values are unique per run; 0 is never a client's).
    let max_value = appends.iter().map(|a| a.value).max().unwrap_or(0) as usize;
    let mut by_value = vec![u32::MAX; max_value + 1];
    for (i, a) in appends.iter().enumerate() {
        if a.value > 0 && by_value[a.value as usize] == u32::MAX {
            by_value[a.value as usize] = i as u32;
        }
        if a.outcome == Outcome::Ok && a.index > 0 {
            let op = RegisterOp::Cas {
                old: None,
                new: Some(a.value as u64),
            };
            calls.push(RegisterCall {
                key: Some(a.index as u64),
                process: a.process as u64,
                ..RegisterCall::ok(op, a.invoke_ns, a.complete_ns)
            });
            from.push(Some(append_op(a)));
        }
    }
    // Observed tails: (value, position) pairs, for the info writers.
    let mut seen: Vec<(u64, u64)> = Vec::new();
    for r in reads {
        let op = LogOp::Read {
            process: r.process,
            invoke_ns: r.invoke_ns,
            complete_ns: r.complete_ns,
            len: r.len,
            value: r.value,
            term: r.term,
        };
        let read = |key: u64, v: Value| RegisterCall {
            key: Some(key),
            process: r.process as u64,
            ..RegisterCall::ok(RegisterOp::Read(v), r.invoke_ns, r.complete_ns)
        };
        if r.len > 0 {
            let v = log_value(r.value, r.term);
            calls.push(read(r.len as u64, Some(v)));
            from.push(Some(op));
            seen.push((v, r.len as u64));
        }
        calls.push(read(r.len as u64 + 1, None));
        from.push(Some(op));
    }
    // One info writer per observed value without an acknowledged append,
    // at the lowest position that shows it.
    seen.sort_unstable();
    seen.dedup_by_key(|s| s.0);
    for (v, pos) in seen {
        let cas = RegisterOp::Cas {
            old: None,
            new: Some(v),
        };
        if v >= NOOP_BASE {
            calls.push(RegisterCall::info(cas, 0).on(pos));
            from.push(None);
            continue;
        }
        let Some(&i) = by_value.get(v as usize).filter(|&&i| i != u32::MAX) else {
            continue; // never appended: nothing may explain it
        };
        let a = &appends[i as usize];
        if matches!(a.outcome, Outcome::Info | Outcome::Pending) {
            calls.push(RegisterCall {
                process: a.process as u64,
                ..RegisterCall::info(cas, a.invoke_ns).on(pos)
            });
            from.push(Some(append_op(a)));
        }
    }
    (calls, from)
}

/// Check a replicated log's history for linearizability, `steps_max` search
/// steps per log position (see the
/// [module docs](self#the-replicated-log-as-registers) for the mapping and
/// what it catches and misses). Cost: one search per log position, each a
/// few tens of steps in the catalogue's runs; memory proportional to the
/// run's operations, like the history.
pub fn check_log(history: &History, steps_max: u64) -> LinVerdict {
    check_log_positions(history, steps_max).0
}

/// [`check_log`], with every position's search (in position order) for a
/// caller that lists them (`chaosim check`).
pub fn check_log_positions(history: &History, steps_max: u64) -> (LinVerdict, Vec<KeyReport>) {
    let (calls, from) = log_calls(history);
    let opts = CheckOptions {
        steps_max,
        ..CheckOptions::default()
    };
    let report = check(&calls, &opts);
    let (_, bad, unknown) = report.counts();
    let first_failure = report.first_failure.map(|i| LogFailure {
        position: calls[i].key.unwrap_or(0),
        op: from[i].expect("only ok operations are culprits, and each has its history op"),
        register: calls[i].op,
    });
    let verdict = LinVerdict {
        valid: report.valid,
        positions: report.keys.len() as u64,
        positions_not_linearizable: bad,
        positions_unknown: unknown,
        ops: report.ops,
        steps: report.steps,
        steps_key_max: report.steps_key_max,
        steps_max,
        first_failure,
        first_unknown: report.first_unknown().flatten(),
    };
    (verdict, report.keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::{Op, OpFn, OpType};
    use crate::engine::SimTime;

    fn r(v: u64) -> RegisterOp {
        RegisterOp::Read(Some(v))
    }

    #[test]
    fn calls_are_grouped_by_key_in_history_order_dense_or_sparse() {
        let with_keys = |keys: &[Option<u64>]| -> Vec<RegisterCall> {
            keys.iter()
                .map(|&key| RegisterCall {
                    key,
                    ..RegisterCall::ok(r(1), 0, 1)
                })
                .collect()
        };
        let sorted = |h: &[RegisterCall]| {
            let mut o: Vec<usize> = (0..h.len()).collect();
            o.sort_by_key(|&i| (h[i].key, i));
            o
        };
        let cases: [&[Option<u64>]; 6] = [
            &[],
            &[None, None],
            &[Some(3), Some(1), Some(3), Some(2), Some(1)],
            &[Some(7), None, Some(5), None, Some(7), Some(6)],
            &[Some(u64::MAX), Some(0), Some(1 << 40), Some(0)],
            &[Some(u64::MAX), Some(u64::MAX - 1), None],
        ];
        for keys in cases {
            let h = with_keys(keys);
            assert_eq!(by_key(&h), sorted(&h), "{keys:?}");
        }
    }
    fn w(v: u64) -> RegisterOp {
        RegisterOp::Write(Some(v))
    }
    fn cas(old: u64, new: u64) -> RegisterOp {
        RegisterOp::Cas {
            old: Some(old),
            new: Some(new),
        }
    }
    fn c(op: RegisterOp, a: u64, b: u64) -> RegisterCall {
        RegisterCall::ok(op, a, b)
    }
    const NIL_READ: RegisterOp = RegisterOp::Read(None);
    use Linearizability::{Linearizable as L, Unknown as U};

    fn lin(h: &[RegisterCall], initial: Value) -> Linearizability {
        check_register(h, initial, 100_000)
    }

    #[test]
    fn sequential_and_concurrent_histories_that_linearize() {
        let h = [c(w(1), 0, 1), c(r(1), 2, 3), c(w(2), 4, 5), c(r(2), 6, 7)];
        assert_eq!(lin(&h, Some(0)), L);
        // A read overlapping a write may see old or new.
        let h = [
            c(w(1), 0, 10),
            c(r(0), 1, 2),
            c(r(1), 3, 4),
            c(r(1), 11, 12),
        ];
        assert_eq!(lin(&h, Some(0)), L);
        // Concurrent writes: reads fix the order 2 then 1.
        let h = [
            c(w(1), 0, 10),
            c(w(2), 0, 10),
            c(r(2), 1, 2),
            c(r(1), 11, 12),
        ];
        assert_eq!(lin(&h, Some(0)), L);
        // An info write may take effect late...
        let h = [
            RegisterCall::info(w(7), 0),
            c(r(0), 5, 6),
            c(r(7), 100, 101),
        ];
        assert_eq!(lin(&h, Some(0)), L);
        // ... or never.
        let h = [RegisterCall::info(w(7), 0), c(r(0), 5, 6)];
        assert_eq!(lin(&h, Some(0)), L);
        // Equal times: invocation before completion, so concurrent.
        let h = [c(w(1), 0, 5), c(r(1), 5, 6)];
        assert_eq!(lin(&h, None), L);
    }

    #[test]
    fn stale_and_impossible_reads_do_not_linearize() {
        // Stale read: 1 overwritten by 2 before the read began.
        let h = [c(w(1), 0, 1), c(w(2), 2, 3), c(r(1), 4, 5)];
        assert_eq!(lin(&h, Some(0)), Linearizability::NotLinearizable { op: 2 });
        // A value never written.
        let h = [c(w(1), 0, 1), c(r(9), 2, 3)];
        assert_eq!(lin(&h, Some(0)), Linearizability::NotLinearizable { op: 1 });
        // Two reads disagreeing on the order of concurrent writes.
        let h = [
            c(w(1), 0, 10),
            c(w(2), 0, 10),
            c(r(1), 11, 12),
            c(r(2), 13, 14),
        ];
        assert_eq!(lin(&h, Some(0)), Linearizability::NotLinearizable { op: 3 });
        // A failed write explains nothing.
        let h = [RegisterCall::fail(w(1), 0, 1), c(r(1), 2, 3)];
        assert_eq!(lin(&h, Some(0)), Linearizability::NotLinearizable { op: 1 });
    }

    #[test]
    fn cas_succeeds_only_from_its_expected_value() {
        // ok cas from the initial value, then a read of the new one.
        let h = [c(cas(0, 1), 0, 1), c(r(1), 2, 3)];
        assert_eq!(lin(&h, Some(0)), L);
        // An ok cas whose expectation nothing could have met.
        let h = [c(w(5), 0, 1), c(cas(0, 1), 2, 3)];
        assert_eq!(lin(&h, Some(0)), Linearizability::NotLinearizable { op: 1 });
        // A failed cas is dropped: it cannot explain the read of 2.
        let h = [RegisterCall::fail(cas(0, 2), 0, 1), c(r(2), 2, 3)];
        assert!(matches!(
            lin(&h, Some(0)),
            Linearizability::NotLinearizable { op: 1 }
        ));
        // An info cas may have taken effect, but only from its old value.
        let h = [RegisterCall::info(cas(0, 2), 0), c(r(2), 5, 6)];
        assert_eq!(lin(&h, Some(0)), L);
        let h = [RegisterCall::info(cas(3, 2), 0), c(r(2), 5, 6)];
        assert!(matches!(
            lin(&h, Some(0)),
            Linearizability::NotLinearizable { .. }
        ));
        // Two ok cas from the same value cannot both win.
        let h = [c(cas(0, 1), 0, 10), c(cas(0, 2), 0, 10)];
        assert!(matches!(
            lin(&h, Some(0)),
            Linearizability::NotLinearizable { .. }
        ));
        // Concurrent cas chained through each other's values.
        let h = [c(cas(1, 2), 0, 10), c(cas(0, 1), 0, 10), c(r(2), 11, 12)];
        assert_eq!(lin(&h, Some(0)), L);
    }

    #[test]
    fn nil_is_the_initial_value_and_a_value_like_any_other() {
        let h = [c(NIL_READ, 0, 1), c(w(1), 2, 3), c(r(1), 4, 5)];
        assert_eq!(lin(&h, None), L);
        // A nil read after a completed write is stale.
        let h = [c(w(1), 0, 1), c(NIL_READ, 2, 3)];
        assert_eq!(lin(&h, None), Linearizability::NotLinearizable { op: 1 });
        // cas from nil.
        let from_nil = RegisterOp::Cas {
            old: None,
            new: Some(4),
        };
        let h = [c(from_nil, 0, 1), c(r(4), 2, 3)];
        assert_eq!(lin(&h, None), L);
        assert!(matches!(
            lin(&h, Some(0)),
            Linearizability::NotLinearizable { op: 0 }
        ));
        // With Knossos' reading, an ok nil read matches anything.
        let h = [c(w(1), 0, 1), c(NIL_READ, 2, 3)];
        let opts = CheckOptions {
            nil_reads_match_any: true,
            ..CheckOptions::default()
        };
        assert_eq!(check(&h, &opts).valid, Validity::True);
    }

    #[test]
    fn info_reads_and_failed_ops_are_dropped() {
        let h = [
            RegisterCall::info(r(9), 0),
            RegisterCall::fail(w(9), 0, 1),
            c(r(0), 2, 3),
        ];
        assert_eq!(lin(&h, Some(0)), L);
        let opts = CheckOptions {
            initial: Some(0),
            ..CheckOptions::default()
        };
        let rep = check(&h, &opts);
        assert_eq!(rep.ops, 1);
    }

    #[test]
    fn independent_keys_are_checked_apart() {
        let h = [
            c(w(1), 0, 1).on(1),
            c(w(2), 0, 1).on(2),
            c(r(1), 2, 3).on(1),
            c(r(1), 2, 3).on(2), // stale on key 2
            c(r(2), 4, 5).on(2),
        ];
        let rep = check(&h, &CheckOptions::default());
        assert_eq!(rep.valid, Validity::False);
        assert_eq!(rep.keys.len(), 2);
        assert_eq!(rep.keys[0].verdict, L);
        assert_eq!(
            rep.keys[1].verdict,
            Linearizability::NotLinearizable { op: 3 }
        );
        assert_eq!(rep.first_failure, Some(3));
        assert_eq!(rep.counts(), (1, 1, 0));
    }

    #[test]
    fn the_culprit_is_the_first_completion_no_linearization_passes() {
        // 1 then 2 written; a read of 1 after both; then more good ops.
        let h = [
            c(w(1), 0, 1),
            c(w(2), 2, 3),
            c(r(2), 4, 5),
            c(r(1), 6, 7),
            c(w(3), 8, 9),
            c(r(3), 10, 11),
        ];
        assert_eq!(lin(&h, None), Linearizability::NotLinearizable { op: 3 });
    }

    #[test]
    fn budget_exhaustion_is_unknown_and_composes_below_false() {
        let h: Vec<_> = (0..12)
            .map(|i| c(w(i), 0, 100))
            .chain([c(r(99), 101, 102)])
            .collect();
        assert_eq!(check_register(&h, Some(0), 50), U);
        assert!(matches!(
            check_register(&h, Some(0), 10_000_000),
            Linearizability::NotLinearizable { .. }
        ));
        let mut keyed: Vec<_> = h.iter().map(|x| x.on(1)).collect();
        keyed.push(c(r(5), 0, 1).on(2));
        let opts = CheckOptions {
            steps_max: 50,
            ..CheckOptions::default()
        };
        let rep = check(&keyed, &opts);
        assert_eq!(rep.valid, Validity::False);
        assert_eq!(rep.first_unknown(), Some(Some(1)));
        assert_eq!(rep.counts(), (0, 1, 1));
    }

    #[test]
    fn a_tiny_cache_changes_speed_not_verdicts() {
        let h: Vec<_> = (0..8)
            .map(|i| c(w(i), 0, 100))
            .chain([c(r(3), 101, 102), c(r(9), 103, 104)])
            .collect();
        let small = CheckOptions {
            cache_bytes_max: 0,
            ..CheckOptions::default()
        };
        let a = check(&h, &CheckOptions::default());
        let b = check(&h, &small);
        assert_eq!(a.keys[0].verdict, b.keys[0].verdict);
        assert!(b.steps >= a.steps);
    }

    /// The search as it was before its buffers were reused (86bd83d), kept
    /// as the reference the reusing one must match step for step.
    /// Returns the verdict (input indices), the steps taken and the number of
    /// operations considered.
    fn search_reference(
        history: &[RegisterCall],
        idx: &[usize],
        opts: &CheckOptions,
    ) -> (Linearizability, u64, u64) {
        let nil_any = opts.nil_reads_match_any;
        let ops: Vec<(usize, RegisterCall)> = idx
            .iter()
            .map(|&i| (i, history[i]))
            .filter(|(_, c)| c.kept(nil_any))
            .collect();
        let n = ops.len();
        let mut remaining_ok = ops.iter().filter(|(_, c)| c.outcome == Outcome::Ok).count();
        if remaining_ok == 0 {
            // Only info writes and cas: none has to take effect.
            return (Linearizability::Linearizable, 0, n as u64);
        }
        // Events: (time, is_return, op). Invocations before completions at
        // equal times; info ops have no completion event.
        let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
        for (k, (_, c)) in ops.iter().enumerate() {
            events.push((c.invoke_at, false, k));
            if c.outcome == Outcome::Ok {
                events.push((c.complete_at.max(c.invoke_at), true, k));
            }
        }
        events.sort_unstable();
        // A doubly linked list over nodes 1..=events.len() (0 is the head);
        // node j + 1 is event j, so a node's id is its position in history order.
        let len = events.len() + 1;
        let mut next = vec![NIL; len];
        let mut prev = vec![NIL; len];
        let mut node_op = vec![0usize; len];
        let mut is_ret = vec![false; len];
        let mut ret_node = vec![NIL; n];
        for (j, &(_, r, k)) in events.iter().enumerate() {
            let id = j + 1;
            node_op[id] = k;
            is_ret[id] = r;
            if r {
                ret_node[k] = id;
            }
            prev[id] = j;
            next[j] = id;
        }
        let words = n.div_ceil(64);
        let entry_bytes = 8 * words as u64 + 48;
        let mut cache_bytes = 0u64;
        let mut linearized = vec![0u64; words];
        let mut cache: HashSet<(Vec<u64>, Value)> = HashSet::new();
        // (call node, register value before it)
        let mut stack: Vec<(usize, Value)> = Vec::with_capacity(n);
        let mut state = opts.initial;
        let mut entry = next[HEAD];
        let mut steps = 0u64;
        // The furthest completion node a dead end was met at, and its op.
        let mut furthest = (0usize, 0usize);

        let lift = |next: &mut [usize], prev: &mut [usize], x: usize| {
            let (p, nx) = (prev[x], next[x]);
            next[p] = nx;
            if nx != NIL {
                prev[nx] = p;
            }
        };
        let unlift = |next: &mut [usize], prev: &mut [usize], x: usize| {
            let (p, nx) = (prev[x], next[x]);
            next[p] = x;
            if nx != NIL {
                prev[nx] = x;
            }
        };

        loop {
            steps += 1;
            if steps > opts.steps_max {
                return (Linearizability::Unknown, opts.steps_max, n as u64);
            }
            // An unlinearized ok op keeps its completion in the list, and the
            // scan stops at the first completion: it never runs off the end.
            debug_assert!(entry != NIL, "scan ran past every completion");
            let dead_end = entry == NIL || is_ret[entry];
            if !dead_end {
                let k = node_op[entry];
                let c = ops[k].1;
                if let Some(new_state) = c.op.step(state, nil_any) {
                    linearized[k / 64] |= 1 << (k % 64);
                    let config = (linearized.clone(), new_state);
                    let seen = cache.contains(&config);
                    if !seen && cache_bytes + entry_bytes <= opts.cache_bytes_max {
                        cache.insert(config);
                        cache_bytes += entry_bytes;
                    }
                    if !seen {
                        stack.push((entry, state));
                        state = new_state;
                        lift(&mut next, &mut prev, entry);
                        if c.outcome == Outcome::Ok {
                            lift(&mut next, &mut prev, ret_node[k]);
                            remaining_ok -= 1;
                            if remaining_ok == 0 {
                                return (Linearizability::Linearizable, steps, n as u64);
                            }
                        }
                        entry = next[HEAD];
                        continue;
                    }
                    linearized[k / 64] &= !(1 << (k % 64));
                }
                entry = next[entry];
                continue;
            }
            if entry != NIL && entry > furthest.0 {
                furthest = (entry, node_op[entry]);
            }
            let Some((call, s)) = stack.pop() else {
                return (
                    Linearizability::NotLinearizable {
                        op: ops[furthest.1].0,
                    },
                    steps,
                    n as u64,
                );
            };
            let kc = node_op[call];
            state = s;
            linearized[kc / 64] &= !(1 << (kc % 64));
            if ops[kc].1.outcome == Outcome::Ok {
                unlift(&mut next, &mut prev, ret_node[kc]);
                remaining_ok += 1;
            }
            unlift(&mut next, &mut prev, call);
            entry = next[call];
        }
    }

    #[test]
    fn the_reused_search_matches_the_reference_step_for_step() {
        use crate::engine::{RngDraws, SeedPath};
        let mut rng = SeedPath::root(7).rng();
        let mut scratch = Scratch::default();
        let (mut verdicts, mut long_large) = ([0u32; 3], 0u32);
        let vals = |rng: &mut crate::engine::SimRng| -> Value {
            match rng.below(5) {
                0 => None,
                v => Some(v),
            }
        };
        for case in 0..600u64 {
            // Small keys (one word of linearized bits) and large ones (up
            // to 150 operations on one key, three words), mostly sequential with some
            // overlap, a few info and failed calls, some budgets and caches
            // too small.
            let large = case % 5 == 0;
            let n = if large {
                65 + rng.below(86)
            } else {
                1 + rng.below(20)
            } as usize;
            let keys = if large { 1 } else { 3 };
            // Per key, a register the calls mostly agree with (so that
            // searches run long), sometimes contradict.
            let mut truth: [Value; 3] = [None; 3];
            let mut t = 0u64;
            let h: Vec<RegisterCall> = (0..n)
                .map(|_| {
                    t += rng.below(4);
                    let key = rng.below(keys);
                    let reg = &mut truth[key as usize];
                    let op = match rng.below(3) {
                        0 if rng.below(20) == 0 => RegisterOp::Read(vals(&mut rng)),
                        0 => RegisterOp::Read(*reg),
                        1 => {
                            *reg = vals(&mut rng);
                            RegisterOp::Write(*reg)
                        }
                        _ => {
                            let old = if rng.below(2) == 0 {
                                *reg
                            } else {
                                vals(&mut rng)
                            };
                            let new = vals(&mut rng);
                            if old == *reg {
                                *reg = new;
                            }
                            RegisterOp::Cas { old, new }
                        }
                    };
                    let end = t + rng.below(6);
                    let call = match rng.below(10) {
                        0 => RegisterCall::info(op, t),
                        1 => RegisterCall::fail(op, t, end),
                        _ => RegisterCall::ok(op, t, end),
                    };
                    call.on(key)
                })
                .collect();
            let opts = CheckOptions {
                initial: vals(&mut rng),
                steps_max: [50, 1_000, 100_000][rng.below(3) as usize],
                nil_reads_match_any: rng.below(2) == 0,
                cache_bytes_max: [0, 500, CACHE_BYTES_MAX_DEFAULT][rng.below(3) as usize],
            };
            let mut order: Vec<usize> = (0..h.len()).collect();
            order.sort_by_key(|&i| (h[i].key, i));
            for group in order.chunk_by(|&a, &b| h[a].key == h[b].key) {
                let got = search(&h, group, &opts, &mut scratch);
                assert_eq!(
                    got,
                    search_reference(&h, group, &opts),
                    "case {case}, key {:?}",
                    h[group[0]].key
                );
                if got.2 > 64 && got.1 > 64 {
                    long_large += 1;
                }
                verdicts[match got.0 {
                    Linearizability::Linearizable => 0,
                    Linearizability::NotLinearizable { .. } => 1,
                    Linearizability::Unknown => 2,
                }] += 1;
            }
        }
        // The cases reach every verdict and long searches of large keys.
        assert!(verdicts.iter().all(|&v| v > 10), "{verdicts:?}");
        assert!(long_large > 10, "{long_large} long searches of large keys");
    }

    // ------------------------------------------------------------ the log

    /// Record (process, f, type, time, value, index, term).
    fn rec(
        h: &mut History,
        (p, f, ty, t, value, index, term): (u32, OpFn, OpType, u64, u32, u32, u32),
    ) {
        h.record(Op {
            process: p,
            f,
            ty,
            time: SimTime::from_nanos(t),
            value,
            index,
            term,
        });
    }
    use OpFn::{Append as A, Read as R};
    use OpType::{Fail, Info, Invoke as Inv, Ok as K};

    /// A valid history: no-op of term 1 at 1, appends 1 and 2 at 2 and 3,
    /// reads seeing the no-op, 1, 2.
    fn good_log() -> History {
        let mut h = History::new();
        rec(&mut h, (9, R, Inv, 5, 0, 0, 0));
        rec(&mut h, (9, R, K, 8, 0, 1, 1));
        rec(&mut h, (0, A, Inv, 10, 1, 0, 0));
        rec(&mut h, (1, R, Inv, 11, 0, 0, 0));
        rec(&mut h, (0, A, K, 20, 1, 2, 0));
        rec(&mut h, (1, R, K, 21, 1, 2, 1));
        rec(&mut h, (2, A, Inv, 30, 2, 0, 0));
        rec(&mut h, (2, A, K, 40, 2, 3, 0));
        rec(&mut h, (1, R, Inv, 41, 0, 0, 0));
        rec(&mut h, (1, R, K, 45, 2, 3, 1));
        rec(&mut h, (3, A, Inv, 50, 3, 0, 0));
        rec(&mut h, (3, A, Info, 60, 3, 0, 0));
        h
    }

    #[test]
    fn a_valid_log_history_is_linearizable() {
        let v = check_log(&good_log(), 10_000);
        assert_eq!(v.valid, Validity::True, "{v}");
        assert_eq!(v.positions, 4, "{v}");
        assert!(v.first_failure.is_none());
    }

    #[test]
    fn a_stale_read_of_the_log_is_caught_at_the_position_it_missed() {
        let mut h = good_log();
        // Read invoked after 2 was acknowledged at 3, yet sees length 2.
        rec(&mut h, (4, R, Inv, 70, 0, 0, 0));
        rec(&mut h, (4, R, K, 75, 1, 2, 1));
        let v = check_log(&h, 10_000);
        assert_eq!(v.valid, Validity::False, "{v}");
        let f = v.first_failure.unwrap();
        assert_eq!(f.position, 3);
        assert_eq!(f.register, RegisterOp::Read(None));
        assert!(
            matches!(
                f.op,
                LogOp::Read {
                    process: 4,
                    len: 2,
                    ..
                }
            ),
            "{f}"
        );
    }

    #[test]
    fn two_appends_acknowledged_at_one_position_are_a_lost_append() {
        let mut h = good_log();
        rec(&mut h, (5, A, Inv, 70, 7, 0, 0));
        rec(&mut h, (5, A, K, 80, 7, 3, 0));
        let v = check_log(&h, 10_000);
        assert_eq!(v.valid, Validity::False, "{v}");
        let f = v.first_failure.unwrap();
        assert_eq!(f.position, 3);
        assert!(matches!(f.op, LogOp::Append { value: 7, .. }), "{f}");
    }

    #[test]
    fn a_no_op_where_an_append_was_acknowledged_is_caught() {
        let mut h = good_log();
        // A new leader's no-op (term 2) read at position 3, where 2 sat.
        rec(&mut h, (4, R, Inv, 70, 0, 0, 0));
        rec(&mut h, (4, R, K, 75, 0, 3, 2));
        let v = check_log(&h, 10_000);
        assert_eq!(v.valid, Validity::False, "{v}");
        assert_eq!(v.first_failure.unwrap().position, 3);
    }

    #[test]
    fn a_value_seen_at_two_positions_or_failed_or_unknown_is_caught() {
        // Duplicate: 1 (acknowledged at 2) read as the tail at 4.
        let mut h = good_log();
        rec(&mut h, (4, R, Inv, 70, 0, 0, 0));
        rec(&mut h, (4, R, K, 75, 1, 4, 1));
        assert_eq!(check_log(&h, 10_000).valid, Validity::False);
        // The info append 3 may have landed at 4...
        let mut h = good_log();
        rec(&mut h, (4, R, Inv, 70, 0, 0, 0));
        rec(&mut h, (4, R, K, 75, 3, 4, 1));
        assert_eq!(check_log(&h, 10_000).valid, Validity::True);
        // ... once: not also at 5.
        rec(&mut h, (4, R, Inv, 80, 0, 0, 0));
        rec(&mut h, (4, R, K, 85, 3, 5, 1));
        assert_eq!(check_log(&h, 10_000).valid, Validity::False);
        // A failed append that took effect.
        let mut h = good_log();
        rec(&mut h, (5, A, Inv, 70, 8, 0, 0));
        rec(&mut h, (5, A, Fail, 71, 8, 0, 0));
        rec(&mut h, (4, R, Inv, 72, 0, 0, 0));
        rec(&mut h, (4, R, K, 75, 8, 4, 1));
        assert_eq!(check_log(&h, 10_000).valid, Validity::False);
    }

    #[test]
    fn log_values_encode_no_ops_apart_from_client_values() {
        assert_eq!(log_value(17, 3), 17);
        assert_eq!(log_value(0, 3), NOOP_BASE + 3);
        assert_eq!(fmt_log_value(Some(NOOP_BASE + 3)), "no-op of term 3");
        assert_eq!(fmt_log_value(None), "nil");
    }
}
