//! The cluster network: messages in flight live in a slab (events carry a
//! slot index, so events stay small), links have a uniform delay and a loss
//! ratio, and a partition is a *grudge*: `cut[to][from]` drops what `to`
//! would receive from `from` (checked at delivery, like iptables).

use crate::check::consistency::LogEntry;

/// Most entries one append message carries.
pub const ENTRIES_PER_MESSAGE_MAX: usize = 8;

/// What a client asks a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientOp {
    /// Append `value`; with compare-and-set, only if the log length is
    /// `expected_len`, or acknowledge the earlier attempt if `value`
    /// already sits after `since_len`.
    Append {
        /// The unique value.
        value: u32,
        /// The log length the writer expects (compare-and-set), if any.
        expected_len: Option<u32>,
        /// The smallest length any attempt of this append expected: an
        /// earlier attempt may have landed anywhere after it.
        since_len: u32,
    },
    /// Read the committed tail (lease read on the leader).
    Read,
}

/// A node's answer to a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientResult {
    /// Done: append position or read length, term and value of that entry.
    Ok {
        /// 1-based position (append) or committed length (read).
        index: u32,
        /// Term of that entry.
        term: u32,
        /// Value of that entry.
        value: u32,
    },
    /// Not the leader; try the hinted node.
    NotLeader {
        /// The leader this node believes in.
        hint: Option<u16>,
    },
    /// Compare-and-set failed: the log now has `len` entries.
    CasMismatch {
        /// The leader's log length.
        len: u32,
    },
    /// The leader cannot serve a read now (no valid lease).
    Unavailable,
}

/// A message body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// Leader to follower: replicate entries, carry the commit index and the
    /// leader's clock readings.
    Append {
        /// Sender's epoch (term).
        epoch: u32,
        /// Position before the first entry (0 = log start).
        prev_index: u32,
        /// Term at `prev_index`.
        prev_term: u32,
        /// Number of entries carried; they sit in the slab beside the
        /// message ([`Slab::entries`]), so the body stays small.
        n: u8,
        /// Leader's commit index.
        commit: u32,
        /// Leader's lease clock at send (echoed back).
        lease_clock_ns: i64,
        /// Leader's wall clock at send (for skew detection).
        wall_ns: i64,
    },
    /// Follower to leader.
    AppendReply {
        /// Replier's epoch.
        epoch: u32,
        /// Whether the entries were accepted.
        success: bool,
        /// On success the matched length; on failure the replier's length.
        index: u32,
        /// The echoed lease clock.
        lease_clock_ns: i64,
        /// Whether the replier grants the lease (clock skew within bound).
        lease_ok: bool,
    },
    /// Candidate asking for a vote.
    Vote {
        /// Candidate's epoch.
        epoch: u32,
        /// Candidate's log length.
        last_index: u32,
        /// Term of its last entry.
        last_term: u32,
    },
    /// A vote answer.
    VoteReply {
        /// Replier's epoch.
        epoch: u32,
        /// Granted?
        granted: bool,
    },
    /// Client request.
    Request {
        /// Client id.
        client: u16,
        /// Attempt number (stale replies are ignored).
        attempt: u32,
        /// The operation.
        op: ClientOp,
    },
    /// Answer to a client.
    Response {
        /// Attempt number it answers.
        attempt: u32,
        /// Log length of the answering node (clients track it for CAS).
        len: u32,
        /// The result.
        result: ClientResult,
    },
}

/// Addressing: node ids are `0..nodes`; client `c` is `nodes + c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg {
    /// Sender endpoint.
    pub from: u16,
    /// Receiver endpoint.
    pub to: u16,
    /// Content.
    pub body: Body,
}

const _: () = assert!(std::mem::size_of::<Msg>() <= 48);

/// In-flight messages, reused by slot. Holds what is in flight, nothing more.
///
/// An append's entries live in a side array indexed by the same slot, so a
/// message (heartbeats included) moves as a small value and only the entries
/// it really carries are copied.
#[derive(Debug, Default)]
pub struct Slab {
    slots: Vec<Option<Msg>>,
    entries: Vec<[LogEntry; ENTRIES_PER_MESSAGE_MAX]>,
    free: Vec<u32>,
}

impl Slab {
    /// Store a message without entries; returns its slot (the slot's entry
    /// array is left as it was: nothing reads it).
    pub fn put(&mut self, m: Msg) -> u32 {
        if let Some(s) = self.free.pop() {
            self.slots[s as usize] = Some(m);
            s
        } else {
            self.slots.push(Some(m));
            self.entries
                .push([LogEntry::default(); ENTRIES_PER_MESSAGE_MAX]);
            (self.slots.len() - 1) as u32
        }
    }

    /// Store a message with the append entries it carries (at most
    /// [`ENTRIES_PER_MESSAGE_MAX`]); returns its slot. The entries are
    /// copied in place by a loop of constant trip count (no call to
    /// `memmove` for a variable-length copy, nothing allocated unless the
    /// slab grows).
    pub fn put_with_entries(&mut self, m: Msg, entries: &[LogEntry]) -> u32 {
        assert!(entries.len() <= ENTRIES_PER_MESSAGE_MAX);
        let s = self.put(m);
        let dst = &mut self.entries[s as usize];
        for (k, d) in dst.iter_mut().enumerate() {
            if k < entries.len() {
                *d = entries[k];
            }
        }
        s
    }

    /// The first `n` entries stored with the message of `slot`. They stay
    /// readable after [`take`](Self::take) until the next `put`, which may
    /// reuse the slot: read them before sending anything.
    pub fn entries(&self, slot: u32, n: usize) -> &[LogEntry] {
        &self.entries[slot as usize][..n]
    }

    /// Take the message out of `slot`.
    pub fn take(&mut self, slot: u32) -> Option<Msg> {
        let m = self.slots.get_mut(slot as usize)?.take();
        if m.is_some() {
            self.free.push(slot);
        }
        m
    }

    /// Slots allocated (peak in-flight).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// A partition as a grudge matrix over nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grudge {
    n: usize,
    cut: Vec<bool>,
}

impl Grudge {
    /// No partition among `n` nodes.
    pub fn none(n: usize) -> Grudge {
        Grudge {
            n,
            cut: vec![false; n * n],
        }
    }

    /// Whether `to` drops what it receives from `from`.
    pub fn drops(&self, to: usize, from: usize) -> bool {
        to < self.n && from < self.n && self.cut[to * self.n + from]
    }

    /// Make `to` drop what it receives from `from`.
    pub fn cut(&mut self, to: usize, from: usize) {
        if to != from {
            self.cut[to * self.n + from] = true;
        }
    }

    /// Cut both directions between every node of `a` and every node of `b`.
    pub fn cut_between(&mut self, a: &[u16], b: &[u16]) {
        for &x in a {
            for &y in b {
                self.cut(x as usize, y as usize);
                self.cut(y as usize, x as usize);
            }
        }
    }

    /// Whether any link is cut.
    pub fn any(&self) -> bool {
        self.cut.iter().any(|&c| c)
    }

    /// Nodes `node` still hears from (itself included).
    pub fn hears(&self, node: usize) -> usize {
        (0..self.n).filter(|&f| !self.drops(node, f)).count()
    }
}
