//! One replica: role, epoch, durable log and snapshots, volatile leader
//! state, local clocks and timers.

use crate::check::consistency::LogEntry;
use crate::engine::{EventKey, SimRng};

use super::clock::LocalClock;

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Follows a leader.
    Follower,
    /// Asking for votes.
    Candidate,
    /// Leads: takes client requests, replicates, holds a lease.
    Leader,
}

/// A snapshot: the committed prefix length and the term of its last entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Entries covered.
    pub index: u32,
    /// Term of entry `index` (0 if none).
    pub term: u32,
}

/// A client append waiting for its entry to commit (quorum acknowledgement).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingAck {
    /// 1-based position of the entry.
    pub index: u32,
    /// Its term.
    pub term: u32,
    /// Its value.
    pub value: u32,
    /// The waiting client.
    pub client: u16,
    /// The client's attempt.
    pub attempt: u32,
}

/// One replica's state.
#[derive(Debug)]
pub struct Node {
    /// Node id.
    pub id: u16,
    /// Up (not killed).
    pub up: bool,
    /// Paused (SIGSTOP).
    pub paused: bool,
    /// Bumped at every kill/pause so stale restart/resume events are ignored.
    pub fault_gen: u32,
    /// Role.
    pub role: Role,
    /// Durable: current epoch (term).
    pub epoch: u32,
    /// Durable: vote in `epoch`.
    pub voted_for: Option<u16>,
    /// Durable: the log.
    pub log: Vec<LogEntry>,
    /// Durable (applied index): entries known committed.
    pub commit: u32,
    /// Durable: kept snapshots, oldest first.
    pub snapshots: Vec<Snapshot>,
    /// The leader this node believes in.
    pub leader_hint: Option<u16>,
    /// Monotonic-clock reading when a leader was last heard from.
    pub last_heard_mono_ns: Option<i64>,
    /// Candidate: votes received (bitset by node id).
    pub votes: u32,
    /// Leader: next position to send to each node (1-based).
    pub next_index: Vec<u32>,
    /// Leader: highest position known replicated on each node.
    pub match_index: Vec<u32>,
    /// Leader: latest lease-clock reading each node acknowledged with a lease grant.
    pub lease_ack_ns: Vec<i64>,
    /// Leader: appends waiting for commit.
    pub pending: Vec<PendingAck>,
    /// Local clocks.
    pub clock: LocalClock,
    /// The node's random stream (election timeouts).
    pub rng: SimRng,
    /// Election timer.
    pub election_key: Option<EventKey>,
    /// Heartbeat timer (leader).
    pub heartbeat_key: Option<EventKey>,
    /// Snapshot timer.
    pub snapshot_key: Option<EventKey>,
}

impl Node {
    /// Whether the node handles events now.
    pub fn alive(&self) -> bool {
        self.up && !self.paused
    }

    /// Log length.
    pub fn len(&self) -> u32 {
        self.log.len() as u32
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// Term of the entry at 1-based `index` (0 for index 0 or past the end).
    pub fn term_at(&self, index: u32) -> u32 {
        if index == 0 {
            0
        } else {
            self.log.get(index as usize - 1).map_or(0, |e| e.term)
        }
    }

    /// Term of the last entry.
    pub fn last_term(&self) -> u32 {
        self.log.last().map_or(0, |e| e.term)
    }

    /// Cut the log to `len` entries (and the commit index with it).
    pub fn truncate(&mut self, len: u32) {
        self.log.truncate(len as usize);
        self.commit = self.commit.min(len);
        self.pending.retain(|p| p.index <= len);
    }
}
