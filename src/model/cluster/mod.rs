//! The replicated immutable log as a Jepsen-style system under test: nodes
//! with local clocks, a lossy partitionable network, a leader with a
//! time-based lease, clients recording a history, a nemesis, and the
//! consistency safeguards as real mechanisms.
//!
//! # The protocol (Raft-like)
//! - Each node has a durable log, epoch (term), vote, commit index and a
//!   few snapshots; a killed node keeps them, a paused node keeps everything.
//! - A follower that hears no leader for an election timeout (uniform in
//!   `[election_timeout_min_ns, election_timeout_max_ns)` on its own clock)
//!   becomes a candidate; votes go to up-to-date logs, one per epoch, and a
//!   follower that heard a leader within `election_timeout_min_ns` ignores
//!   vote requests (leader stickiness). A new leader appends a no-op.
//! - The leader replicates on every heartbeat and on every append (at most
//!   [`net::ENTRIES_PER_MESSAGE_MAX`] entries per
//!   message), advances the commit index when a majority matches an entry
//!   of its own epoch, and serves reads from its committed tail while its
//!   lease holds (a majority acknowledged a heartbeat sent less than a lease
//!   ago) and it has committed an entry of its epoch.
//! - Clients (closed loop, Poisson think time) append unique values and
//!   read; timeouts and redirects are retried; each logical operation is one
//!   `invoke` and one `ok` / `fail` / `info` in the [`History`].
//!
//! # Safeguards (each off = the unsafe behaviour really happens)
//! Each safeguard's condition is checked whether or not it is deployed;
//! not deployed, a met condition is recorded as a need (with the signal,
//! the value and the fault behind it) and the unsafe behaviour goes on.
//!
//! | safeguard | condition (signal) | deployed | not deployed | cause |
//! |---|---|---|---|---|
//! | [`QuorumAck`](Safeguard::QuorumAck) | a leader is superseded (steps down, is killed, or a newer epoch is elected beside it) holding client appends beyond its commit index (`uncommitted_at_supersede`) | an append is acknowledged when it commits (majority): those were withheld | acknowledged as soon as the leader appended it locally: those are lost | the last disrupting fault |
//! | [`FencingTokens`](Safeguard::FencingTokens) | an append or reply of another epoch reaches a replica or leader (`stale_epoch`) | replicas refuse appends of a lower epoch and leaders step down on a higher one | replicas take appends from anyone claiming leadership and a leader never steps down, so a deposed leader keeps writing | the last disrupting fault |
//! | [`LeaseSkewBound`](Safeguard::LeaseSkewBound) | a follower sees the leader's wall clock more than `max_clock_skew_ns` off its own (`clock_skew_ms`); an entry timestamp would go backwards (`timestamp_regression_ms`) | the lease runs on the monotonic clock, shortened by the skew and drift bounds; the follower refuses to extend the lease; timestamps are `max(wall, last + 1)` | the lease is trusted on the (bumpable) wall clock and timestamps are the raw wall clock | the last clock fault |
//! | [`CompareAndSet`](Safeguard::CompareAndSet) | an append whose writer expected another log length, or whose earlier attempt already sits in the log (`append_conflict`: entries the writer did not expect) | the leader acknowledges the earlier attempt, else appends only if the length matches, else answers a mismatch with its length; retries never duplicate | blind appends, retried blindly | the writer's own fault (extra writers of `ConcurrentWrites`); a duplicate retry: the last disrupting fault; ordinary clients racing each other: no fault |
//! | [`SnapshotHygieneManager`](Safeguard::SnapshotHygieneManager) | a snapshot restore below the node's last log index (`rollback_entries`) | refused (the log never moves backwards) | the older state is restored (log truncated) | the rollback |
//!
//! A *disrupting* fault is one that changed something: cut links, killed or
//! paused a live node, moved a clock by a non-zero amount, rolled a log
//! back, added writers. A clock skew of zero is the cause of nothing.
//!
//! # Steady state
//! The default hypothesis ([`ClusterProbe::healthy`], tolerances in
//! `cluster.steady` of the stack file): a leader with a valid lease, a
//! majority up and holding the leader's committed prefix, every clock
//! within `max_clock_skew_ns`, client operations succeeding over the probe
//! window (`client_success_permille_min`, 80 %: unavailability is harm),
//! and no acknowledged append found lost within the window
//! (`acked_writes_lost_max`, 0: a committed entry where a client was told
//! its append sits). The consistency checker ([`Cluster::check`]) runs
//! on the whole history at the end.
//!
//! # Memory
//! State per node is its log (bounded by the appends of one run), a fixed
//! number of snapshots and O(nodes) leader state; in-flight messages live in
//! a slab bounded by what is in flight; the history keeps one compact record
//! per operation of the run (for the checker) and streams the rest.
//!
//! # Files
//! `mod.rs`: the events, the probe, the [`Cluster`] state, its construction,
//! accessors and event dispatch; `protocol.rs`: the node protocol (timers,
//! leases, replication, commit, elections, requests at a node); `client.rs`:
//! the client processes and their operations; `faults.rs`: fault
//! application; `net.rs`, `node.rs`, `clock.rs`: messages and links, node
//! state, local clocks; `nemesis.rs`: faults and schedules; `spec.rs`: the
//! parameters.

pub mod client;
pub mod clock;
mod faults;
pub mod nemesis;
pub mod net;
pub mod node;
mod protocol;
pub mod spec;

use std::io;

use crate::check::consistency::{self, ConsistencyReport, LogEntry, ReplicaView};
use crate::check::history::{History, Op, OpFn, OpType};
use crate::engine::{Ctx, EventInfo, RngDraws, SeedPath, SimDuration, SimRng, SimTime};
use crate::error::Error;
use crate::model::Component;
use crate::safeguard::{Cause, Evidence, Safeguard, SafeguardLog, SafeguardSet, Signal};

use client::Client;
use clock::LocalClock;
use net::{Body, ClientOp, ClientResult, ENTRIES_PER_MESSAGE_MAX, Grudge, Msg, Slab};
use node::{Node, PendingAck, Role, Snapshot};

pub use nemesis::{
    ClockFault, ClusterFault, JEPSEN_SCENARIOS, NemesisSchedule, NemesisStep, PRIMARY,
    PartitionShape, ShapeSpec, catalogue_shape,
};
pub use spec::{ClusterSpec, ClusterSteadySpec};

/// The cluster's events (kind codes 300..=399).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A message (in the slab at `slot`) arrives at endpoint `to`.
    Deliver {
        /// Slab slot.
        slot: u32,
        /// Receiver endpoint (node id, or `nodes + client`).
        to: u16,
    },
    /// A node's election timer fired.
    ElectionTimeout {
        /// Node.
        node: u16,
    },
    /// A leader's heartbeat timer fired.
    Heartbeat {
        /// Node.
        node: u16,
    },
    /// A node's snapshot timer fired.
    Snapshot {
        /// Node.
        node: u16,
    },
    /// A client starts its next operation.
    ClientStart {
        /// Client.
        client: u16,
    },
    /// A client request timed out.
    ClientTimeout {
        /// Client.
        client: u16,
        /// The attempt it times out.
        attempt: u32,
    },
    /// A killed node restarts.
    NodeRestart {
        /// Node.
        node: u16,
        /// Fault generation it belongs to.
        generation: u32,
    },
    /// A paused node resumes.
    NodeResume {
        /// Node.
        node: u16,
        /// Fault generation it belongs to.
        generation: u32,
    },
    /// A partition ends.
    PartitionEnd {
        /// Partition generation it ends.
        generation: u32,
    },
    /// A strobing clock flips.
    StrobeFlip {
        /// Node.
        node: u16,
        /// Flips still to do (this one included).
        flips_left: u32,
        /// Strobe generation.
        generation: u32,
    },
    /// Extra concurrent writers stop.
    WritersEnd {
        /// Writers generation.
        generation: u32,
    },
}

const _: () = assert!(std::mem::size_of::<ClusterEvent>() <= 32);

impl EventInfo for ClusterEvent {
    fn kind(&self) -> u16 {
        match self {
            ClusterEvent::Deliver { .. } => 300,
            ClusterEvent::ElectionTimeout { .. } => 301,
            ClusterEvent::Heartbeat { .. } => 302,
            ClusterEvent::Snapshot { .. } => 303,
            ClusterEvent::ClientStart { .. } => 304,
            ClusterEvent::ClientTimeout { .. } => 305,
            ClusterEvent::NodeRestart { .. } => 306,
            ClusterEvent::NodeResume { .. } => 307,
            ClusterEvent::PartitionEnd { .. } => 308,
            ClusterEvent::StrobeFlip { .. } => 309,
            ClusterEvent::WritersEnd { .. } => 310,
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            ClusterEvent::Deliver { .. } => "cluster_deliver",
            ClusterEvent::ElectionTimeout { .. } => "cluster_election_timeout",
            ClusterEvent::Heartbeat { .. } => "cluster_heartbeat",
            ClusterEvent::Snapshot { .. } => "cluster_snapshot",
            ClusterEvent::ClientStart { .. } => "cluster_client_start",
            ClusterEvent::ClientTimeout { .. } => "cluster_client_timeout",
            ClusterEvent::NodeRestart { .. } => "cluster_node_restart",
            ClusterEvent::NodeResume { .. } => "cluster_node_resume",
            ClusterEvent::PartitionEnd { .. } => "cluster_partition_end",
            ClusterEvent::StrobeFlip { .. } => "cluster_strobe_flip",
            ClusterEvent::WritersEnd { .. } => "cluster_writers_end",
        }
    }

    fn target(&self) -> u32 {
        match *self {
            ClusterEvent::Deliver { to, .. } => to as u32,
            ClusterEvent::ElectionTimeout { node }
            | ClusterEvent::Heartbeat { node }
            | ClusterEvent::Snapshot { node }
            | ClusterEvent::NodeRestart { node, .. }
            | ClusterEvent::NodeResume { node, .. }
            | ClusterEvent::StrobeFlip { node, .. } => node as u32,
            ClusterEvent::ClientStart { client } | ClusterEvent::ClientTimeout { client, .. } => {
                client as u32
            }
            ClusterEvent::PartitionEnd { generation } | ClusterEvent::WritersEnd { generation } => {
                generation
            }
        }
    }
}

/// What an observer can measure of the cluster at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterProbe {
    /// The up leader with a valid lease and the highest epoch, if any.
    pub leader: Option<u16>,
    /// Nodes up and not paused.
    pub nodes_up: u16,
    /// Nodes in the cluster.
    pub nodes: u16,
    /// Majority size.
    pub majority: u16,
    /// Up nodes whose log holds the leader's committed prefix (0 without leader).
    pub replicas_in_sync: u16,
    /// Client operations completed `ok` in the probe window.
    pub client_ok: u32,
    /// Client operations completed in the probe window.
    pub client_completed: u32,
    /// Largest |wall clock - true time| over up nodes, ns.
    pub max_clock_offset_ns: u64,
    /// The skew bound of the spec, ns.
    pub max_clock_skew_ns: u64,
    /// Whether a partition is in force.
    pub partitioned: bool,
    /// Acknowledged appends found lost within the probe window.
    pub acked_lost_in_window: u32,
    /// The tolerances [`healthy`](Self::healthy) applies.
    pub tolerances: ClusterSteadySpec,
}

impl ClusterProbe {
    /// The probe as integers, in a fixed order (folded into the run digest
    /// at every sample): leader (or `u64::MAX`), nodes up, replicas in sync,
    /// client ok and completed in the window, largest clock offset ns,
    /// partitioned, acknowledged appends lost in the window.
    pub fn state_values(&self) -> [u64; 8] {
        [
            self.leader.map_or(u64::MAX, u64::from),
            self.nodes_up.into(),
            self.replicas_in_sync.into(),
            self.client_ok.into(),
            self.client_completed.into(),
            self.max_clock_offset_ns,
            self.partitioned.into(),
            self.acked_lost_in_window.into(),
        ]
    }

    /// Client success rate in the window (1 when nothing completed).
    pub fn success_rate(&self) -> f64 {
        if self.client_completed == 0 {
            1.0
        } else {
            self.client_ok as f64 / self.client_completed as f64
        }
    }

    /// The steady-state hypothesis: a leader, a majority up and in sync,
    /// client operations succeeding in the window (at least
    /// `client_success_permille_min`), no acknowledged append lost in the
    /// window (at most `acked_writes_lost_max`), and every clock within the
    /// skew bound.
    pub fn healthy(&self) -> bool {
        let t = &self.tolerances;
        self.leader.is_some()
            && self.nodes_up >= self.majority
            && self.replicas_in_sync >= self.majority
            && (self.client_completed == 0
                || self.client_ok as u64 * 1000
                    >= self.client_completed as u64 * t.client_success_permille_min as u64)
            && self.acked_lost_in_window <= t.acked_writes_lost_max
            && self.max_clock_offset_ns <= self.max_clock_skew_ns
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Strobe {
    delta_ns: i64,
    period_ns: u64,
    up: bool,
    generation: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    second: u64,
    ok: u32,
    completed: u32,
}

/// Acknowledged appends lost, per second of the probe window.
#[derive(Clone, Copy, Debug, Default)]
struct LostBucket {
    second: u64,
    lost: u32,
}

/// Counters of the cluster's activity (for benches and diagnostics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClusterStats {
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages dropped (loss, partition, dead receiver).
    pub messages_dropped: u64,
    /// Elections started.
    pub elections: u64,
    /// Leaders elected.
    pub leaders_elected: u64,
    /// Peak messages in flight.
    pub in_flight_peak: u64,
}

/// The replicated-log cluster component. See the [module docs](self).
pub struct Cluster {
    spec: ClusterSpec,
    n: usize,
    majority: usize,
    quorum_ack: bool,
    fencing: bool,
    lease_bound: bool,
    cas: bool,
    hygiene: bool,
    /// How long a lease lasts past the acknowledgement that starts it, on
    /// the lease clock, ns: `lease_ns`, shortened by the skew and drift
    /// bounds when lease_skew_bound is deployed.
    lease_dur_ns: i64,
    nodes: Vec<Node>,
    initial_drift_ppm: Vec<i32>,
    strobes: Vec<Strobe>,
    clients: Vec<Client>,
    client_seed: SeedPath,
    slab: Slab,
    grudge: Grudge,
    partition_gen: u32,
    writers_gen: u32,
    net_rng: SimRng,
    nemesis_rng: SimRng,
    next_value: u32,
    history: History,
    safeguards: SafeguardLog,
    buckets: Vec<Bucket>,
    stats: ClusterStats,
    /// The fault that last disrupted the cluster (cut links, killed or
    /// paused a node, moved a clock, rolled a log back, added writers):
    /// the cause of elections, stale epochs and retried appends after it.
    disruption_cause: Option<Cause>,
    /// The fault that last moved a clock (the cause of skew and
    /// timestamps going backwards).
    clock_cause: Option<Cause>,
    /// Per log index (1-based, at `index - 1`), the value a client was told
    /// its append holds there (0: none or already checked). Bounded by the
    /// appends of the run, like the history.
    acked_at: Vec<u32>,
    /// Acknowledged appends found lost (a different entry committed at
    /// their index).
    acked_lost: u64,
    lost_buckets: Vec<LostBucket>,
    /// Extra client load, permille of the spec's rate.
    load_permille: u16,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("nodes", &self.n)
            .field("clients", &self.clients.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Cluster {
    /// A cluster of `spec.nodes` nodes with the `deployed` safeguards, its
    /// streams derived from `seed`, clocks set at `start`.
    ///
    /// # Panics
    /// If `spec` does not validate; use [`try_new`](Self::try_new) for
    /// untrusted input.
    pub fn new(
        spec: &ClusterSpec,
        deployed: SafeguardSet,
        seed: SeedPath,
        start: SimTime,
    ) -> Cluster {
        match Cluster::try_new(spec, deployed, seed, start) {
            Ok(c) => c,
            Err(e) => panic!("invalid cluster spec: {e}"),
        }
    }

    /// Like [`new`](Self::new), reporting an invalid spec as
    /// [`Error::Invalid`].
    pub fn try_new(
        spec: &ClusterSpec,
        deployed: SafeguardSet,
        seed: SeedPath,
        start: SimTime,
    ) -> Result<Cluster, Error> {
        spec.validate().map_err(|e| e.in_file("<cluster spec>"))?;
        let n = spec.nodes as usize;
        let mut clock_rng = seed.child("clock").rng();
        let mut nodes = Vec::with_capacity(n);
        let mut initial_drift_ppm = Vec::with_capacity(n);
        for i in 0..n {
            let off_max = spec.initial_clock_offset_max_ns;
            let offset = clock_rng.below(2 * off_max + 1) as i64 - off_max as i64;
            let ppm_max = spec.clock_drift_ppm_max as u64;
            let drift = clock_rng.below(2 * ppm_max + 1) as i64 - ppm_max as i64;
            initial_drift_ppm.push(drift as i32);
            nodes.push(Node {
                id: i as u16,
                up: true,
                paused: false,
                fault_gen: 0,
                role: Role::Follower,
                epoch: 0,
                voted_for: None,
                log: Vec::new(),
                commit: 0,
                snapshots: Vec::new(),
                leader_hint: None,
                last_heard_mono_ns: None,
                votes: 0,
                next_index: vec![1; n],
                match_index: vec![0; n],
                lease_ack_ns: vec![i64::MIN; n],
                pending: Vec::new(),
                clock: LocalClock::new(start, offset, drift as i32),
                rng: seed.child("node").child_u64(i as u64).rng(),
                election_key: None,
                heartbeat_key: None,
                snapshot_key: None,
            });
        }
        let client_seed = seed.child("client");
        let lease_bound = deployed.contains(Safeguard::LeaseSkewBound);
        let lease = spec.lease_ns as i64;
        let lease_dur_ns = if lease_bound {
            let drift_margin =
                (spec.lease_ns as u128 * 2 * spec.clock_drift_ppm_max as u128 / 1_000_000) as i64;
            lease - spec.max_clock_skew_ns as i64 - drift_margin
        } else {
            lease
        };
        let mut c = Cluster {
            spec: spec.clone(),
            n,
            majority: n / 2 + 1,
            quorum_ack: deployed.contains(Safeguard::QuorumAck),
            fencing: deployed.contains(Safeguard::FencingTokens),
            lease_bound,
            cas: deployed.contains(Safeguard::CompareAndSet),
            hygiene: deployed.contains(Safeguard::SnapshotHygieneManager),
            lease_dur_ns,
            nodes,
            initial_drift_ppm,
            strobes: vec![Strobe::default(); n],
            clients: Vec::new(),
            client_seed,
            slab: Slab::default(),
            grudge: Grudge::none(n),
            partition_gen: 0,
            writers_gen: 0,
            net_rng: seed.child("net").rng(),
            nemesis_rng: seed.child("nemesis").rng(),
            next_value: 1,
            history: History::new(),
            safeguards: SafeguardLog::default(),
            buckets: vec![Bucket::default(); (spec.probe_window_ns / 1_000_000_000) as usize],
            stats: ClusterStats::default(),
            disruption_cause: None,
            clock_cause: None,
            acked_at: Vec::new(),
            acked_lost: 0,
            load_permille: 0,
            lost_buckets: vec![
                LostBucket::default();
                (spec.probe_window_ns / 1_000_000_000).max(1) as usize
            ],
        };
        for _ in 0..spec.clients {
            c.add_client(false);
        }
        Ok(c)
    }

    fn add_client(&mut self, writer: bool) -> usize {
        let id = self.clients.len();
        let mut rng = self.client_seed.child_u64(id as u64).rng();
        let node_hint = rng.below(self.n as u64) as u16;
        self.clients.push(Client {
            id: id as u16,
            writer,
            active: !writer,
            node_hint,
            home: (id % self.n) as u16,
            known_len: 0,
            attempt: 0,
            op: None,
            timeout_key: None,
            start_pending: false,
            rng,
            cause: None,
        });
        id
    }

    /// The spec the cluster runs.
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// Start the cluster: arm every node's election and snapshot timers (the
    /// first election follows within one election timeout) and start the
    /// clients.
    pub fn boot<E: From<ClusterEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        for i in 0..self.n {
            self.arm_election(i, ctx);
            let stagger = self.spec.snapshot_interval_ns / self.n as u64 * i as u64;
            self.arm_snapshot(
                i,
                SimDuration::from_nanos(self.spec.snapshot_interval_ns + stagger),
                ctx,
            );
        }
        for c in 0..self.clients.len() {
            if self.clients[c].active {
                self.schedule_start(c, ctx);
            }
        }
    }

    /// The safeguards that fired so far.
    pub fn safeguards(&self) -> &SafeguardLog {
        &self.safeguards
    }

    /// Activity counters.
    pub fn stats(&self) -> ClusterStats {
        let mut s = self.stats;
        s.in_flight_peak = self.slab.capacity() as u64;
        s
    }

    /// The recorded history (compact form).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Stream the history to `sink` as JSON lines from now on.
    pub fn set_history_sink(&mut self, sink: Box<dyn io::Write>) {
        self.history.set_sink(sink);
    }

    /// Flush the history sink; the first write error, if any.
    pub fn finish_history(&self) -> io::Result<()> {
        self.history.finish()
    }

    /// A node's log (for tests and observers).
    pub fn log_of(&self, node: u16) -> &[LogEntry] {
        &self.nodes[node as usize].log
    }

    /// A node's wall-clock offset from true time at `now`, ns.
    pub fn clock_offset_ns(&self, node: u16, now: SimTime) -> i64 {
        self.nodes[node as usize].clock.offset(now)
    }

    /// Run the checker over the history and the final replica states (call
    /// after a final heal and settle). Flushes the history sink.
    pub fn check(&self) -> ConsistencyReport {
        let _ = self.history.finish();
        let views: Vec<ReplicaView<'_>> = self
            .nodes
            .iter()
            .map(|n| ReplicaView {
                node: n.id,
                up: n.alive(),
                commit: n.commit,
                log: &n.log,
            })
            .collect();
        consistency::check(&self.history, &views)
    }

    /// What an observer measures at `now`.
    pub fn probe(&self, now: SimTime) -> ClusterProbe {
        // A leader an observer can use: up, leading, holding a valid lease.
        let leader = self
            .nodes
            .iter()
            .filter(|n| n.alive() && n.role == Role::Leader && self.lease_valid(n.id as usize, now))
            .max_by(|a, b| a.epoch.cmp(&b.epoch).then(b.id.cmp(&a.id)))
            .map(|n| n.id);
        let replicas_in_sync = leader.map_or(0, |l| {
            let ln = &self.nodes[l as usize];
            let c = ln.commit as usize;
            self.nodes
                .iter()
                // Log matching: the same entry at the commit index means the
                // same prefix (in a correct run; a cheap health signal).
                .filter(|n| {
                    n.alive() && n.log.len() >= c && (c == 0 || n.log[c - 1] == ln.log[c - 1])
                })
                .count() as u16
        });
        let sec = now.as_nanos() / 1_000_000_000;
        let w = self.buckets.len() as u64;
        let (mut ok, mut done) = (0u32, 0u32);
        for b in &self.buckets {
            if b.second + w > sec && b.second <= sec && (b.completed > 0) {
                ok += b.ok;
                done += b.completed;
            }
        }
        ClusterProbe {
            leader,
            nodes_up: self.nodes.iter().filter(|n| n.alive()).count() as u16,
            nodes: self.n as u16,
            majority: self.majority as u16,
            replicas_in_sync,
            client_ok: ok,
            client_completed: done,
            max_clock_offset_ns: self
                .nodes
                .iter()
                .filter(|n| n.up)
                .map(|n| n.clock.offset(now).unsigned_abs())
                .max()
                .unwrap_or(0),
            max_clock_skew_ns: self.spec.max_clock_skew_ns,
            partitioned: self.grudge.any(),
            acked_lost_in_window: self
                .lost_buckets
                .iter()
                .filter(|b| b.second + w > sec && b.second <= sec)
                .map(|b| b.lost)
                .sum(),
            tolerances: self.spec.steady,
        }
    }

    /// Raise the clients' operation rate to `permille` more than the spec's
    /// (never lowers it).
    pub fn raise_load(&mut self, permille: u16) {
        self.load_permille = self.load_permille.max(permille);
    }

    /// Fingerprints of the cluster's whole state at `now`, by component
    /// (self-check): the nodes (roles, epochs, logs, commits, clocks), the
    /// network (messages in flight, partition), the clients and history.
    pub fn fingerprints(&self, now: SimTime) -> [(&'static str, u64); 3] {
        use crate::engine::Fingerprint;
        let mut n = Fingerprint::new();
        for node in &self.nodes {
            n.bool(node.up)
                .bool(node.paused)
                .u64(node.role as u64)
                .u64(node.epoch.into())
                .opt(node.voted_for.map(u64::from))
                .u64(node.log.len() as u64)
                .u64(node.commit.into())
                .u64(node.pending.len() as u64)
                .i64(node.clock.wall(now));
            for e in &node.log {
                n.u64(e.value.into()).u64(e.term.into()).i64(e.ts_ns);
            }
        }
        let mut w = Fingerprint::new();
        w.u64(self.stats.messages_sent)
            .u64(self.stats.messages_dropped)
            .u64(self.stats.elections)
            .u64(self.partition_gen.into())
            .bool(self.grudge.any());
        let mut c = Fingerprint::new();
        for cl in &self.clients {
            c.bool(cl.active)
                .u64(cl.known_len.into())
                .u64(cl.attempt.into())
                .u64(cl.node_hint.into())
                .bool(cl.op.is_some());
        }
        c.u64(self.history.records())
            .u64(self.next_value.into())
            .u64(self.acked_lost)
            .u64(self.load_permille.into());
        [
            ("cluster.nodes", n.finish()),
            ("cluster.network", w.finish()),
            ("cluster.clients", c.finish()),
        ]
    }

    /// Acknowledged appends found lost so far.
    pub fn acked_lost(&self) -> u64 {
        self.acked_lost
    }
}

impl Component for Cluster {
    type Event = ClusterEvent;

    fn handle<E: From<ClusterEvent>>(&mut self, event: ClusterEvent, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        match event {
            ClusterEvent::Deliver { slot, to } => {
                let Some(msg) = self.slab.take(slot) else {
                    return;
                };
                let to = to as usize;
                if to < self.n {
                    let from = msg.from as usize;
                    if !self.nodes[to].alive() || self.grudge.drops(to, from) {
                        self.stats.messages_dropped += 1;
                        return;
                    }
                    self.on_node_msg(to, slot, msg, ctx);
                } else {
                    self.on_client_msg(to - self.n, msg, ctx);
                }
            }
            ClusterEvent::ElectionTimeout { node } => {
                let i = node as usize;
                self.nodes[i].election_key = None;
                if !self.nodes[i].alive() || self.nodes[i].role == Role::Leader {
                    return;
                }
                self.stats.elections += 1;
                let me = &mut self.nodes[i];
                me.epoch += 1;
                me.voted_for = Some(node);
                me.votes = 1 << i;
                me.role = Role::Candidate;
                me.leader_hint = None;
                let (epoch, last_index, last_term) = (me.epoch, me.len(), me.last_term());
                self.arm_election(i, ctx);
                if self.majority == 1 {
                    self.become_leader(i, ctx);
                    return;
                }
                for f in 0..self.n {
                    if f != i {
                        let body = Body::Vote {
                            epoch,
                            last_index,
                            last_term,
                        };
                        self.send(node, f as u16, body, ctx);
                    }
                }
            }
            ClusterEvent::Heartbeat { node } => {
                let i = node as usize;
                self.nodes[i].heartbeat_key = None;
                if !self.nodes[i].alive() || self.nodes[i].role != Role::Leader {
                    return;
                }
                self.broadcast_append(i, ctx);
                self.arm_heartbeat(i, ctx);
            }
            ClusterEvent::Snapshot { node } => {
                let i = node as usize;
                self.nodes[i].snapshot_key = None;
                if !self.nodes[i].alive() {
                    return;
                }
                let kept = self.spec.snapshots_kept as usize;
                let me = &mut self.nodes[i];
                let snap = Snapshot {
                    index: me.commit,
                    term: me.term_at(me.commit),
                };
                me.snapshots.push(snap);
                if me.snapshots.len() > kept {
                    me.snapshots.remove(0);
                }
                self.arm_snapshot(
                    i,
                    SimDuration::from_nanos(self.spec.snapshot_interval_ns),
                    ctx,
                );
            }
            ClusterEvent::ClientStart { client } => self.client_start(client as usize, ctx),
            ClusterEvent::ClientTimeout { client, attempt } => {
                self.client_timeout(client as usize, attempt, ctx)
            }
            ClusterEvent::NodeRestart { node, generation } => {
                let i = node as usize;
                if self.nodes[i].fault_gen == generation && !self.nodes[i].up {
                    self.restart(i, ctx);
                }
            }
            ClusterEvent::NodeResume { node, generation } => {
                let i = node as usize;
                if self.nodes[i].fault_gen == generation && self.nodes[i].paused {
                    self.resume(i, ctx);
                }
            }
            ClusterEvent::PartitionEnd { generation } => {
                if generation == self.partition_gen {
                    self.grudge = Grudge::none(self.n);
                }
            }
            ClusterEvent::StrobeFlip {
                node,
                flips_left,
                generation,
            } => {
                let i = node as usize;
                let s = self.strobes[i];
                if s.generation != generation {
                    return;
                }
                let delta = if s.up { -s.delta_ns } else { s.delta_ns };
                self.nodes[i].clock.bump(now, delta);
                self.strobes[i].up = !s.up;
                if flips_left > 1 {
                    ctx.schedule_in(
                        SimDuration::from_nanos(s.period_ns),
                        ClusterEvent::StrobeFlip {
                            node,
                            flips_left: flips_left - 1,
                            generation,
                        }
                        .into(),
                    );
                }
            }
            ClusterEvent::WritersEnd { generation } => {
                if generation == self.writers_gen {
                    for c in &mut self.clients {
                        if c.writer {
                            c.active = false;
                        }
                    }
                }
            }
        }
    }
}
