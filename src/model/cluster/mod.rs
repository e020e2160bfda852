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

pub mod client;
pub mod clock;
pub mod nemesis;
pub mod net;
pub mod node;
pub mod spec;

use std::io;

use crate::check::consistency::{self, ConsistencyReport, LogEntry, ReplicaView};
use crate::check::history::{History, Op, OpFn, OpType};
use crate::engine::{Ctx, EventInfo, RngDraws, SeedPath, SimDuration, SimRng, SimTime};
use crate::error::Error;
use crate::model::Component;
use crate::safeguard::{Cause, Evidence, Safeguard, SafeguardLog, SafeguardSet, Signal};

use client::{Client, InFlight};
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

    fn note_lost(&mut self, now: SimTime) {
        self.acked_lost += 1;
        let sec = now.as_nanos() / 1_000_000_000;
        let nb = self.lost_buckets.len() as u64;
        let b = &mut self.lost_buckets[(sec % nb) as usize];
        if b.second != sec {
            *b = LostBucket {
                second: sec,
                lost: 0,
            };
        }
        b.lost += 1;
    }

    /// A client learnt that its append `value` sits at `index`. If the
    /// current leader already committed another entry there, it is lost.
    fn note_ack(&mut self, index: u32, value: u32, now: SimTime) {
        let i = index as usize;
        if i == 0 {
            return;
        }
        if let Some(l) = self.current_leader() {
            let ln = &self.nodes[l as usize];
            if ln.commit >= index && ln.log.get(i - 1).is_some_and(|e| e.value != value) {
                self.note_lost(now);
                return;
            }
        }
        if self.acked_at.len() < i {
            self.acked_at.resize(i, 0);
        }
        self.acked_at[i - 1] = value;
    }

    /// Leader `l` committed `(from, to]`: an acknowledged append whose index
    /// now holds another entry is lost.
    fn check_committed(&mut self, l: usize, from: u32, to: u32, now: SimTime) {
        for idx in from..to {
            let Some(&acked) = self.acked_at.get(idx as usize) else {
                break;
            };
            if acked == 0 {
                continue;
            }
            self.acked_at[idx as usize] = 0;
            if self.nodes[l].log[idx as usize].value != acked {
                self.note_lost(now);
            }
        }
    }

    // ----- timers -------------------------------------------------------

    fn arm_election<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
        let (lo, hi) = (
            self.spec.election_timeout_min_ns,
            self.spec.election_timeout_max_ns,
        );
        let node = &mut self.nodes[i];
        let local = lo + node.rng.below(hi - lo);
        let d = node.clock.true_duration(SimDuration::from_nanos(local));
        if let Some(k) = node.election_key
            && ctx.reschedule_in(k, d)
        {
            return;
        }
        node.election_key =
            Some(ctx.schedule_in(d, ClusterEvent::ElectionTimeout { node: i as u16 }.into()));
    }

    fn arm_heartbeat<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
        let node = &mut self.nodes[i];
        let d = node
            .clock
            .true_duration(SimDuration::from_nanos(self.spec.heartbeat_interval_ns));
        if let Some(k) = node.heartbeat_key.take() {
            ctx.cancel(k);
        }
        node.heartbeat_key =
            Some(ctx.schedule_in(d, ClusterEvent::Heartbeat { node: i as u16 }.into()));
    }

    fn arm_snapshot<E: From<ClusterEvent>>(
        &mut self,
        i: usize,
        local: SimDuration,
        ctx: &mut Ctx<'_, E>,
    ) {
        let node = &mut self.nodes[i];
        let d = node.clock.true_duration(local);
        if let Some(k) = node.snapshot_key.take() {
            ctx.cancel(k);
        }
        node.snapshot_key =
            Some(ctx.schedule_in(d, ClusterEvent::Snapshot { node: i as u16 }.into()));
    }

    fn cancel_timers<E>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
        let node = &mut self.nodes[i];
        for k in [
            node.election_key.take(),
            node.heartbeat_key.take(),
            node.snapshot_key.take(),
        ]
        .into_iter()
        .flatten()
        {
            ctx.cancel(k);
        }
    }

    // ----- network ------------------------------------------------------

    fn send<E: From<ClusterEvent>>(
        &mut self,
        from: u16,
        to: u16,
        body: Body,
        ctx: &mut Ctx<'_, E>,
    ) {
        let Some(delay) = self.link_delay() else {
            return;
        };
        let slot = self.slab.put(Msg { from, to, body });
        ctx.schedule_in(delay, ClusterEvent::Deliver { slot, to }.into());
    }

    /// A message leaves: counted as sent, then lost (`None`, counted as
    /// dropped) or given its link delay. The network stream draws the loss
    /// (when the link is lossy), then the delay.
    fn link_delay(&mut self) -> Option<SimDuration> {
        self.stats.messages_sent += 1;
        let loss = self.spec.link_loss_per_million as u64;
        if loss > 0 && self.net_rng.ratio(loss, 1_000_000) {
            self.stats.messages_dropped += 1;
            return None;
        }
        let span = self.spec.link_delay_max_ns - self.spec.link_delay_min_ns;
        let d = self.spec.link_delay_min_ns + self.net_rng.below(span + 1);
        Some(SimDuration::from_nanos(d))
    }

    fn lease_clock(&self, i: usize, now: SimTime) -> i64 {
        let c = &self.nodes[i].clock;
        if self.lease_bound {
            c.mono(now)
        } else {
            c.wall(now)
        }
    }

    fn lease_valid(&self, i: usize, now: SimTime) -> bool {
        let needed = self.majority - 1;
        if needed == 0 {
            return true;
        }
        let node = &self.nodes[i];
        let mut acks = [i64::MIN; 32];
        let mut k = 0;
        for (j, &a) in node.lease_ack_ns.iter().enumerate() {
            if j != i {
                acks[k] = a;
                k += 1;
            }
        }
        // The latest time a majority (this node included) acknowledged.
        let start = kth_largest(&acks[..k], needed, i64::MIN);
        if start == i64::MIN {
            return false;
        }
        self.lease_clock(i, now) < start.saturating_add(self.lease_dur_ns)
    }

    fn send_append<E: From<ClusterEvent>>(&mut self, i: usize, f: usize, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let lease_clock_ns = self.lease_clock(i, now);
        let node = &self.nodes[i];
        let len = node.len();
        let next = node.next_index[f].clamp(1, len + 1);
        let prev_index = next - 1;
        let prev_term = node.term_at(prev_index);
        let end = (prev_index as usize + ENTRIES_PER_MESSAGE_MAX).min(len as usize);
        let n = end - prev_index as usize;
        let body = Body::Append {
            epoch: node.epoch,
            prev_index,
            prev_term,
            n: n as u8,
            commit: node.commit,
            lease_clock_ns,
            wall_ns: node.clock.wall(now),
        };
        let Some(delay) = self.link_delay() else {
            return;
        };
        // The entries are copied once, straight from the leader's log into
        // the slab (disjoint fields: the log is only read).
        let (from, to) = (i as u16, f as u16);
        let entries = &self.nodes[i].log[prev_index as usize..end];
        let slot = self.slab.put_with_entries(Msg { from, to, body }, entries);
        ctx.schedule_in(delay, ClusterEvent::Deliver { slot, to }.into());
    }

    fn broadcast_append<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
        for f in 0..self.n {
            if f != i {
                self.send_append(i, f, ctx);
            }
        }
    }

    // ----- roles --------------------------------------------------------

    fn step_down<E: From<ClusterEvent>>(&mut self, i: usize, epoch: u32, ctx: &mut Ctx<'_, E>) {
        let node = &mut self.nodes[i];
        if epoch > node.epoch {
            node.epoch = epoch;
            node.voted_for = None;
        }
        let was = node.role;
        if was == Role::Leader {
            self.superseded(i, ctx.now());
        }
        let node = &mut self.nodes[i];
        node.role = Role::Follower;
        node.votes = 0;
        node.pending.clear();
        if was == Role::Leader {
            node.leader_hint = None;
            if let Some(k) = node.heartbeat_key.take() {
                ctx.cancel(k);
            }
        }
        if was != Role::Follower || node.election_key.is_none() {
            self.arm_election(i, ctx);
        }
    }

    /// quorum_ack's condition: leader `i` is superseded (it steps down, is
    /// killed, or a newer epoch is elected beside it) holding client appends
    /// beyond its commit index. Deployed, their acknowledgements were
    /// withheld (they never committed); not deployed, they were
    /// acknowledged already and are lost.
    fn superseded(&mut self, i: usize, now: SimTime) {
        let node = &self.nodes[i];
        let uncommitted = node.log[(node.commit as usize).min(node.log.len())..]
            .iter()
            .filter(|e| e.value != 0 && e.term == node.epoch)
            .count() as u64;
        if uncommitted > 0 {
            let ev = Evidence::of(
                now,
                Signal::UncommittedAtSupersede,
                uncommitted,
                0,
                self.disruption_cause,
            );
            self.safeguards
                .detect(Safeguard::QuorumAck, self.quorum_ack, ev);
        }
    }

    /// fencing_tokens' condition: a message of another epoch reaches a
    /// replica or leader that would be fenced (`behind` epochs apart).
    fn stale_epoch(&mut self, behind: u32, now: SimTime) -> bool {
        let ev = Evidence::of(
            now,
            Signal::StaleEpoch,
            behind.into(),
            0,
            self.disruption_cause,
        );
        self.safeguards
            .detect(Safeguard::FencingTokens, self.fencing, ev)
    }

    /// The timestamp of a new entry on node `i`. lease_skew_bound's
    /// condition: the wall clock is at or behind the last entry's
    /// timestamp. Deployed, timestamps never go backwards.
    fn entry_ts(&mut self, i: usize, now: SimTime) -> i64 {
        let node = &self.nodes[i];
        let wall = node.clock.wall(now);
        if let Some(last) = node.log.last()
            && wall <= last.ts_ns
        {
            let last_ts = last.ts_ns;
            let ev = Evidence::of(
                now,
                Signal::TimestampRegressionMs,
                (last_ts - wall) as u64 / 1_000_000,
                0,
                self.clock_cause,
            );
            if self
                .safeguards
                .detect(Safeguard::LeaseSkewBound, self.lease_bound, ev)
            {
                return last_ts + 1;
            }
        }
        wall
    }

    fn become_leader<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
        self.stats.leaders_elected += 1;
        let now = ctx.now();
        if !self.fencing {
            // Without fencing a deposed leader never steps down: it is
            // superseded when a newer epoch is elected beside it.
            let epoch = self.nodes[i].epoch;
            for j in 0..self.n {
                if j != i && self.nodes[j].role == Role::Leader && self.nodes[j].epoch < epoch {
                    self.superseded(j, now);
                }
            }
        }
        let ts = self.entry_ts(i, now);
        let n = self.n;
        let node = &mut self.nodes[i];
        node.role = Role::Leader;
        node.leader_hint = Some(i as u16);
        node.votes = 0;
        if let Some(k) = node.election_key.take() {
            ctx.cancel(k);
        }
        node.log.push(LogEntry {
            value: 0,
            term: node.epoch,
            ts_ns: ts,
        });
        let len = node.len();
        node.next_index = vec![len; n];
        node.match_index = vec![0; n];
        node.match_index[i] = len;
        node.lease_ack_ns = vec![i64::MIN; n];
        node.pending.clear();
        self.broadcast_append(i, ctx);
        self.arm_heartbeat(i, ctx);
        self.advance_commit(i, ctx);
    }

    fn advance_commit<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
        let node = &mut self.nodes[i];
        node.match_index[i] = node.len();
        // The highest position a majority holds.
        let candidate = kth_largest(&node.match_index, self.majority, 0).min(node.len());
        if candidate > node.commit && node.term_at(candidate) == node.epoch {
            let from = node.commit;
            node.commit = candidate;
            self.check_committed(i, from, candidate, ctx.now());
        }
        let node = &self.nodes[i];
        if node.pending.is_empty() {
            return;
        }
        let commit = node.commit;
        // Acknowledge in place (pending holds at most one entry per client).
        let mut j = 0;
        while j < self.nodes[i].pending.len() {
            let p = self.nodes[i].pending[j];
            if p.index > commit {
                j += 1;
                continue;
            }
            self.nodes[i].pending.remove(j);
            let e = self.nodes[i].log[p.index as usize - 1];
            if e.term == p.term && e.value == p.value {
                self.reply_ok(i, p.client, p.attempt, p.index, e, ctx);
            }
        }
    }

    fn reply<E: From<ClusterEvent>>(
        &mut self,
        i: usize,
        client: u16,
        attempt: u32,
        result: ClientResult,
        ctx: &mut Ctx<'_, E>,
    ) {
        let len = self.nodes[i].len();
        let to = self.n as u16 + client;
        self.send(
            i as u16,
            to,
            Body::Response {
                attempt,
                len,
                result,
            },
            ctx,
        );
    }

    fn reply_ok<E: From<ClusterEvent>>(
        &mut self,
        i: usize,
        client: u16,
        attempt: u32,
        index: u32,
        e: LogEntry,
        ctx: &mut Ctx<'_, E>,
    ) {
        let r = ClientResult::Ok {
            index,
            term: e.term,
            value: e.value,
        };
        self.reply(i, client, attempt, r, ctx);
    }

    // ----- node message handling ---------------------------------------

    /// Handle `msg`, delivered from slab `slot` (already taken: an append's
    /// entries are read from the slab before anything is sent).
    fn on_node_msg<E: From<ClusterEvent>>(
        &mut self,
        i: usize,
        slot: u32,
        msg: Msg,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let from = msg.from as usize;
        match msg.body {
            Body::Append {
                epoch,
                prev_index,
                prev_term,
                n,
                commit,
                lease_clock_ns,
                wall_ns,
            } => {
                let me = &self.nodes[i];
                if epoch < me.epoch && self.stale_epoch(me.epoch - epoch, now) {
                    let me = &self.nodes[i];
                    let body = Body::AppendReply {
                        epoch: me.epoch,
                        success: false,
                        index: me.len(),
                        lease_clock_ns,
                        lease_ok: false,
                    };
                    self.send(i as u16, from as u16, body, ctx);
                    return;
                }
                let me = &self.nodes[i];
                if me.role == Role::Leader {
                    // Deposed by a higher epoch (equal epochs cannot both lead).
                    if !self.stale_epoch(epoch.saturating_sub(me.epoch), now) {
                        return; // a leader without fencing ignores rivals and keeps writing
                    }
                    self.step_down(i, epoch, ctx);
                }
                let mono = self.nodes[i].clock.mono(now);
                let my_wall = self.nodes[i].clock.wall(now);
                {
                    let me = &mut self.nodes[i];
                    if epoch > me.epoch {
                        me.epoch = epoch;
                        me.voted_for = None;
                    }
                    me.role = Role::Follower;
                    me.votes = 0;
                    me.leader_hint = Some(from as u16);
                    me.last_heard_mono_ns = Some(mono);
                }
                self.arm_election(i, ctx);
                let me = &mut self.nodes[i];
                let reply_epoch = me.epoch;
                if prev_index > me.len() || me.term_at(prev_index) != prev_term {
                    let body = Body::AppendReply {
                        epoch: reply_epoch,
                        success: false,
                        index: me.len(),
                        lease_clock_ns,
                        lease_ok: false,
                    };
                    self.send(i as u16, from as u16, body, ctx);
                    return;
                }
                // No message was sent since the take: the slot's entries are intact.
                let entries = self.slab.entries(slot, n as usize);
                for (k, e) in entries.iter().enumerate() {
                    let pos = prev_index as usize + k;
                    if pos < me.log.len() {
                        if me.log[pos].term != e.term {
                            me.truncate(pos as u32);
                            me.log.push(*e);
                        }
                    } else {
                        me.log.push(*e);
                    }
                }
                let matched = prev_index + n as u32;
                let c = commit.min(matched);
                if c > me.commit {
                    me.commit = c;
                }
                // lease_skew_bound's condition: the leader's wall clock is
                // more than the skew bound off this follower's.
                let skew = wall_ns.abs_diff(my_wall);
                let max_skew = self.spec.max_clock_skew_ns;
                let lease_ok = skew <= max_skew || {
                    let ev = Evidence::of(
                        now,
                        Signal::ClockSkewMs,
                        skew / 1_000_000,
                        max_skew / 1_000_000,
                        self.clock_cause,
                    );
                    !self
                        .safeguards
                        .detect(Safeguard::LeaseSkewBound, self.lease_bound, ev)
                };
                let body = Body::AppendReply {
                    epoch: reply_epoch,
                    success: true,
                    index: matched,
                    lease_clock_ns,
                    lease_ok,
                };
                self.send(i as u16, from as u16, body, ctx);
            }
            Body::AppendReply {
                epoch,
                success,
                index,
                lease_clock_ns,
                lease_ok,
            } => {
                if epoch > self.nodes[i].epoch
                    && self.nodes[i].role == Role::Leader
                    && self.stale_epoch(epoch - self.nodes[i].epoch, now)
                {
                    self.step_down(i, epoch, ctx);
                    return;
                }
                if epoch > self.nodes[i].epoch && self.fencing {
                    self.step_down(i, epoch, ctx);
                    return;
                }
                if self.nodes[i].role != Role::Leader {
                    return;
                }
                let me = &mut self.nodes[i];
                if success {
                    me.match_index[from] = me.match_index[from].max(index);
                    me.next_index[from] = me.next_index[from].max(index + 1);
                    if lease_ok {
                        me.lease_ack_ns[from] = me.lease_ack_ns[from].max(lease_clock_ns);
                    }
                    let more = index < me.len();
                    self.advance_commit(i, ctx);
                    if more {
                        self.send_append(i, from, ctx);
                    }
                } else {
                    let next = me.next_index[from].saturating_sub(ENTRIES_PER_MESSAGE_MAX as u32);
                    me.next_index[from] = next.min(index + 1).max(1);
                }
            }
            Body::Vote {
                epoch,
                last_index,
                last_term,
            } => {
                let me = &self.nodes[i];
                if me.role == Role::Leader && !self.fencing {
                    return;
                }
                if me.role == Role::Follower
                    && me.leader_hint.is_some()
                    && let Some(h) = me.last_heard_mono_ns
                    && me.clock.mono(now) - h < self.spec.election_timeout_min_ns as i64
                {
                    return; // leader stickiness
                }
                if epoch < me.epoch {
                    let body = Body::VoteReply {
                        epoch: me.epoch,
                        granted: false,
                    };
                    self.send(i as u16, from as u16, body, ctx);
                    return;
                }
                if epoch > me.epoch {
                    if me.role != Role::Follower {
                        self.step_down(i, epoch, ctx);
                    }
                    let me = &mut self.nodes[i];
                    me.epoch = epoch;
                    me.voted_for = None;
                }
                let me = &mut self.nodes[i];
                let up_to_date = last_term > me.last_term()
                    || (last_term == me.last_term() && last_index >= me.len());
                let granted = up_to_date && me.voted_for.is_none_or(|v| v as usize == from);
                if granted {
                    me.voted_for = Some(from as u16);
                }
                let body = Body::VoteReply {
                    epoch: me.epoch,
                    granted,
                };
                if granted {
                    self.arm_election(i, ctx);
                }
                self.send(i as u16, from as u16, body, ctx);
            }
            Body::VoteReply { epoch, granted } => {
                let me = &self.nodes[i];
                if epoch > me.epoch {
                    if me.role == Role::Leader && !self.fencing {
                        return;
                    }
                    self.step_down(i, epoch, ctx);
                    return;
                }
                if me.role != Role::Candidate || epoch != me.epoch || !granted {
                    return;
                }
                let me = &mut self.nodes[i];
                me.votes |= 1 << from;
                if me.votes.count_ones() as usize >= self.majority {
                    self.become_leader(i, ctx);
                }
            }
            Body::Request {
                client,
                attempt,
                op,
            } => self.on_request(i, client, attempt, op, ctx),
            Body::Response { .. } => {}
        }
    }

    fn on_request<E: From<ClusterEvent>>(
        &mut self,
        i: usize,
        client: u16,
        attempt: u32,
        op: ClientOp,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        if self.nodes[i].role != Role::Leader {
            let hint = self.nodes[i].leader_hint;
            self.reply(i, client, attempt, ClientResult::NotLeader { hint }, ctx);
            return;
        }
        match op {
            ClientOp::Read => {
                let me = &self.nodes[i];
                // Without quorum acknowledgement, a local append counts as
                // done: reads serve the whole local log, as they acked it.
                let c = if self.quorum_ack { me.commit } else { me.len() };
                if c > 0 && me.term_at(c) == me.epoch && self.lease_valid(i, now) {
                    let e = me.log[c as usize - 1];
                    self.reply_ok(i, client, attempt, c, e, ctx);
                } else {
                    self.reply(i, client, attempt, ClientResult::Unavailable, ctx);
                }
            }
            ClientOp::Append {
                value,
                expected_len,
                since_len,
            } => {
                // compare_and_set's condition: an earlier attempt of this
                // append already sits in the log (a retry would duplicate
                // it), or the writer expected another length (it raced
                // another writer). Checked deployed or not; deployed, the
                // leader acknowledges the earlier attempt or refuses.
                if let Some(exp) = expected_len {
                    let me = &self.nodes[i];
                    // Did an earlier attempt of this append land? It can
                    // only sit after the smallest length any attempt expected.
                    let from = since_len.min(exp) as usize;
                    let found = me.log.get(from..).and_then(|tail| {
                        tail.iter().position(|e| e.value == value).map(|k| from + k)
                    });
                    let conflict = found.is_some() || exp != me.len();
                    // A duplicate retry follows whatever made the first
                    // attempt time out; a stale length is the writer's own
                    // race (ordinary clients race each other: no fault).
                    let writer_cause = self.clients[client as usize].cause;
                    let cause = if found.is_some() {
                        writer_cause.or(self.disruption_cause)
                    } else {
                        writer_cause
                    };
                    // How far the writer's view is off: entries after its
                    // expected length (or after its earlier attempt).
                    let behind = match found {
                        Some(pos) => me.len() as u64 - pos as u64,
                        None => u64::from(me.len().abs_diff(exp)),
                    };
                    let acts = conflict && {
                        let ev = Evidence::of(now, Signal::AppendConflict, behind, 0, cause);
                        self.safeguards
                            .detect(Safeguard::CompareAndSet, self.cas, ev)
                    };
                    let me = &mut self.nodes[i];
                    if acts && let Some(pos) = found {
                        let e = me.log[pos];
                        let index = pos as u32 + 1;
                        if !self.quorum_ack || me.commit >= index {
                            self.reply_ok(i, client, attempt, index, e, ctx);
                        } else {
                            me.pending.push(PendingAck {
                                index,
                                term: e.term,
                                value,
                                client,
                                attempt,
                            });
                        }
                        return;
                    }
                    if acts {
                        let len = me.len();
                        self.reply(i, client, attempt, ClientResult::CasMismatch { len }, ctx);
                        return;
                    }
                }
                let ts = self.entry_ts(i, now);
                let me = &mut self.nodes[i];
                let e = LogEntry {
                    value,
                    term: me.epoch,
                    ts_ns: ts,
                };
                me.log.push(e);
                let index = me.len();
                if self.quorum_ack {
                    me.pending.push(PendingAck {
                        index,
                        term: e.term,
                        value,
                        client,
                        attempt,
                    });
                } else {
                    self.reply_ok(i, client, attempt, index, e, ctx);
                }
                self.broadcast_append(i, ctx);
                self.advance_commit(i, ctx);
            }
        }
    }

    // ----- clients ------------------------------------------------------

    fn schedule_start<E: From<ClusterEvent>>(&mut self, c: usize, ctx: &mut Ctx<'_, E>) {
        let cl = &mut self.clients[c];
        if cl.start_pending || !cl.active {
            return;
        }
        let rate = if cl.writer {
            self.spec.writer_op_rate_per_s as f64
        } else {
            self.spec.client_op_rate_per_s as f64 * (1000 + self.load_permille as u32) as f64
                / 1000.0
        };
        let think = cl.rng.exp_ns(1e9 / rate);
        cl.start_pending = true;
        ctx.schedule_in(
            SimDuration::from_nanos(think),
            ClusterEvent::ClientStart { client: c as u16 }.into(),
        );
    }

    fn client_start<E: From<ClusterEvent>>(&mut self, c: usize, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let cl = &mut self.clients[c];
        cl.start_pending = false;
        if !cl.active || cl.op.is_some() {
            return;
        }
        let append = cl.writer || cl.rng.below(1000) < self.spec.append_per_mille as u64;
        let (f, value) = if append {
            let v = self.next_value;
            self.next_value += 1;
            (OpFn::Append, v)
        } else {
            (OpFn::Read, 0)
        };
        cl.op = Some(InFlight {
            append_value: append.then_some(value),
            // Always carried (compare_and_set's shadow detector reads it);
            // only a deployed compare_and_set acts on it.
            expected_len: append.then_some(cl.known_len),
            since_len: cl.known_len,
            maybe_applied: false,
            retries: 0,
            cas_retries: 0,
        });
        self.history.record(Op {
            process: c as u32,
            f,
            ty: OpType::Invoke,
            time: now,
            value,
            index: 0,
            term: 0,
        });
        self.send_attempt(c, ctx);
    }

    fn send_attempt<E: From<ClusterEvent>>(&mut self, c: usize, ctx: &mut Ctx<'_, E>) {
        let cl = &mut self.clients[c];
        let Some(op) = cl.op else { return };
        cl.attempt += 1;
        let attempt = cl.attempt;
        let timeout = if cl.writer {
            self.spec.writer_timeout_ns
        } else {
            self.spec.client_timeout_ns
        };
        if let Some(k) = cl.timeout_key.take() {
            ctx.cancel(k);
        }
        cl.timeout_key = Some(
            ctx.schedule_in(
                SimDuration::from_nanos(timeout),
                ClusterEvent::ClientTimeout {
                    client: c as u16,
                    attempt,
                }
                .into(),
            ),
        );
        let to = if op.append_value.is_none() && op.retries == 0 {
            cl.home
        } else {
            cl.node_hint
        };
        let body_op = match op.append_value {
            Some(value) => ClientOp::Append {
                value,
                expected_len: op.expected_len,
                since_len: op.since_len,
            },
            None => ClientOp::Read,
        };
        let from = self.n as u16 + c as u16;
        self.send(
            from,
            to,
            Body::Request {
                client: c as u16,
                attempt,
                op: body_op,
            },
            ctx,
        );
    }

    fn complete<E: From<ClusterEvent>>(
        &mut self,
        c: usize,
        ty: OpType,
        index: u32,
        term: u32,
        value: u32,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let cl = &mut self.clients[c];
        let Some(op) = cl.op.take() else { return };
        if let Some(k) = cl.timeout_key.take() {
            ctx.cancel(k);
        }
        let (f, value) = match op.append_value {
            Some(v) => (OpFn::Append, v),
            None => (OpFn::Read, value),
        };
        self.history.record(Op {
            process: c as u32,
            f,
            ty,
            time: now,
            value,
            index,
            term,
        });
        let sec = now.as_nanos() / 1_000_000_000;
        let nb = self.buckets.len() as u64;
        let b = &mut self.buckets[(sec % nb) as usize];
        if b.second != sec || b.completed == 0 {
            *b = Bucket {
                second: sec,
                ok: 0,
                completed: 0,
            };
        }
        b.completed += 1;
        if ty == OpType::Ok {
            b.ok += 1;
        }
        self.schedule_start(c, ctx);
    }

    /// Retry the in-flight op (after a timeout or redirect) or give up.
    fn retry_or_give_up<E: From<ClusterEvent>>(&mut self, c: usize, ctx: &mut Ctx<'_, E>) {
        let cl = &mut self.clients[c];
        let Some(op) = cl.op.as_mut() else { return };
        if op.retries < self.spec.client_retries_max {
            op.retries += 1;
            self.send_attempt(c, ctx);
        } else {
            let ty = if op.maybe_applied {
                OpType::Info
            } else {
                OpType::Fail
            };
            self.complete(c, ty, 0, 0, 0, ctx);
        }
    }

    fn on_client_msg<E: From<ClusterEvent>>(&mut self, c: usize, msg: Msg, ctx: &mut Ctx<'_, E>) {
        let Body::Response {
            attempt,
            len,
            result,
        } = msg.body
        else {
            return;
        };
        let n = self.n as u16;
        let cl = &mut self.clients[c];
        if attempt != cl.attempt || cl.op.is_none() {
            return;
        }
        cl.known_len = len;
        match result {
            ClientResult::Ok { index, term, value } => {
                cl.node_hint = msg.from;
                if let Some(v) = cl.op.and_then(|op| op.append_value) {
                    self.note_ack(index, v, ctx.now());
                }
                self.complete(c, OpType::Ok, index, term, value, ctx);
            }
            ClientResult::NotLeader { hint } => {
                cl.node_hint = hint.unwrap_or((msg.from + 1) % n);
                self.retry_or_give_up(c, ctx);
            }
            ClientResult::CasMismatch { len } => {
                let op = cl.op.as_mut().expect("checked");
                if op.cas_retries < 8 {
                    op.cas_retries += 1;
                    op.expected_len = Some(len);
                    op.since_len = op.since_len.min(len);
                    self.send_attempt(c, ctx);
                } else {
                    let ty = if op.maybe_applied {
                        OpType::Info
                    } else {
                        OpType::Fail
                    };
                    self.complete(c, ty, 0, 0, 0, ctx);
                }
            }
            ClientResult::Unavailable => {
                self.complete(c, OpType::Fail, 0, 0, 0, ctx);
            }
        }
    }

    fn client_timeout<E: From<ClusterEvent>>(
        &mut self,
        c: usize,
        attempt: u32,
        ctx: &mut Ctx<'_, E>,
    ) {
        let n = self.n as u16;
        let cl = &mut self.clients[c];
        if attempt != cl.attempt {
            return;
        }
        cl.timeout_key = None;
        let Some(op) = cl.op.as_mut() else { return };
        if op.append_value.is_some() {
            op.maybe_applied = true;
        }
        cl.node_hint = (cl.node_hint + 1) % n;
        self.retry_or_give_up(c, ctx);
    }

    // ----- faults -------------------------------------------------------

    fn current_leader(&self) -> Option<u16> {
        self.nodes
            .iter()
            .filter(|n| n.alive() && n.role == Role::Leader)
            .max_by(|a, b| a.epoch.cmp(&b.epoch).then(b.id.cmp(&a.id)))
            .map(|n| n.id)
    }

    fn pick(&mut self, node: Option<u16>) -> Option<usize> {
        match node {
            Some(nemesis::PRIMARY) => match self.current_leader() {
                Some(l) => Some(l as usize),
                None => Some(self.nemesis_rng.below(self.n as u64) as usize),
            },
            Some(x) if (x as usize) < self.n => Some(x as usize),
            Some(_) => None,
            None => Some(self.nemesis_rng.below(self.n as u64) as usize),
        }
    }

    /// Apply one nemesis operation now, as fault 0 of scenario 0 (see
    /// [`inject_caused`](Self::inject_caused)).
    pub fn inject<E: From<ClusterEvent>>(&mut self, fault: &ClusterFault, ctx: &mut Ctx<'_, E>) {
        self.inject_caused(fault, Cause::default(), ctx);
    }

    /// Whether `fault` would change anything now (a clock moved by zero, a
    /// node already down, no writers: the cause of nothing).
    fn disrupts(&self, fault: &ClusterFault) -> bool {
        match *fault {
            ClusterFault::Partition { .. } | ClusterFault::SnapshotRollback { .. } => true,
            ClusterFault::Clock { fault, .. } => match fault {
                ClockFault::Bump { delta_ns } => delta_ns != 0,
                ClockFault::Strobe { delta_ns, .. } => delta_ns != 0,
                ClockFault::Drift { ppm } => ppm != 0,
                ClockFault::Scramble { max_ns } => max_ns > 0,
                ClockFault::Reset => false,
            },
            ClusterFault::KillNode { .. } | ClusterFault::PauseNode { .. } => {
                self.nodes.iter().any(|n| n.alive())
            }
            ClusterFault::ConcurrentWriters { writers, .. } => writers > 0,
            ClusterFault::Heal => false,
        }
    }

    /// Apply one nemesis operation now; firings and needs it brings about
    /// are credited to `cause` (a fault that changes nothing is the cause of
    /// nothing; the final heal is nobody's fault).
    pub fn inject_caused<E: From<ClusterEvent>>(
        &mut self,
        fault: &ClusterFault,
        cause: Cause,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        if self.disrupts(fault) {
            self.disruption_cause = Some(cause);
            if matches!(fault, ClusterFault::Clock { .. }) {
                self.clock_cause = Some(cause);
            }
        }
        match *fault {
            ClusterFault::Partition { shape, length_ns } => {
                let primary = self.current_leader();
                self.grudge = nemesis::grudge(shape, self.n, primary, &mut self.nemesis_rng);
                self.partition_gen += 1;
                ctx.schedule_in(
                    SimDuration::from_nanos(length_ns),
                    ClusterEvent::PartitionEnd {
                        generation: self.partition_gen,
                    }
                    .into(),
                );
            }
            ClusterFault::Clock { node, fault } => {
                if let ClockFault::Scramble { max_ns } = fault {
                    for i in 0..self.n {
                        let off = self.nemesis_rng.below(2 * max_ns.max(1)) as i64 - max_ns as i64;
                        self.stop_strobe(i);
                        self.nodes[i].clock.set_offset(now, off);
                    }
                    return;
                }
                let Some(i) = self.pick(node) else { return };
                match fault {
                    ClockFault::Bump { delta_ns } => self.nodes[i].clock.bump(now, delta_ns),
                    ClockFault::Strobe {
                        delta_ns,
                        period_ns,
                        length_ns,
                    } => {
                        self.stop_strobe(i);
                        let period = period_ns.max(1);
                        let flips = length_ns.div_ceil(period).max(1);
                        let flips = (flips + flips % 2).min(u32::MAX as u64 - 1) as u32;
                        let s = &mut self.strobes[i];
                        s.delta_ns = delta_ns;
                        s.period_ns = period;
                        s.up = true;
                        self.nodes[i].clock.bump(now, delta_ns);
                        ctx.schedule_in(
                            SimDuration::from_nanos(period),
                            ClusterEvent::StrobeFlip {
                                node: i as u16,
                                flips_left: flips - 1,
                                generation: s.generation,
                            }
                            .into(),
                        );
                    }
                    ClockFault::Drift { ppm } => self.nodes[i].clock.set_drift(now, ppm),
                    ClockFault::Reset => {
                        self.stop_strobe(i);
                        self.nodes[i].clock.set_offset(now, 0);
                    }
                    ClockFault::Scramble { .. } => {}
                }
            }
            ClusterFault::KillNode { node, length_ns } => {
                let Some(i) = self.pick(node) else { return };
                if !self.nodes[i].up {
                    return;
                }
                self.cancel_timers(i, ctx);
                if self.nodes[i].role == Role::Leader {
                    self.superseded(i, now);
                }
                let me = &mut self.nodes[i];
                me.up = false;
                me.paused = false;
                me.fault_gen += 1;
                me.role = Role::Follower;
                me.votes = 0;
                me.pending.clear();
                me.leader_hint = None;
                me.last_heard_mono_ns = None;
                let generation = me.fault_gen;
                ctx.schedule_in(
                    SimDuration::from_nanos(length_ns),
                    ClusterEvent::NodeRestart {
                        node: i as u16,
                        generation,
                    }
                    .into(),
                );
            }
            ClusterFault::PauseNode { node, length_ns } => {
                let Some(i) = self.pick(node) else { return };
                if !self.nodes[i].alive() {
                    return;
                }
                self.cancel_timers(i, ctx);
                let me = &mut self.nodes[i];
                me.paused = true;
                me.fault_gen += 1;
                let generation = me.fault_gen;
                ctx.schedule_in(
                    SimDuration::from_nanos(length_ns),
                    ClusterEvent::NodeResume {
                        node: i as u16,
                        generation,
                    }
                    .into(),
                );
            }
            ClusterFault::SnapshotRollback { node } => {
                let Some(i) = self.pick(node) else { return };
                let me = &mut self.nodes[i];
                let Some(&snap) = me.snapshots.first() else {
                    return;
                };
                // snapshot_hygiene_manager's condition: the restore would
                // move the log backwards.
                if snap.index < me.len() {
                    let ev = Evidence::of(
                        now,
                        Signal::RollbackEntries,
                        (me.len() - snap.index).into(),
                        0,
                        self.disruption_cause,
                    );
                    if self
                        .safeguards
                        .detect(Safeguard::SnapshotHygieneManager, self.hygiene, ev)
                    {
                        return;
                    }
                }
                let me = &mut self.nodes[i];
                me.truncate(snap.index);
                if me.role == Role::Leader {
                    self.advance_commit(i, ctx);
                }
            }
            ClusterFault::ConcurrentWriters { writers, length_ns } => {
                self.writers_gen += 1;
                let existing = self.clients.iter().filter(|c| c.writer).count();
                for _ in existing..writers as usize {
                    self.add_client(true);
                }
                let mut started = 0;
                for c in 0..self.clients.len() {
                    if self.clients[c].writer && started < writers {
                        started += 1;
                        self.clients[c].active = true;
                        self.clients[c].cause = Some(cause);
                        self.schedule_start(c, ctx);
                    }
                }
                ctx.schedule_in(
                    SimDuration::from_nanos(length_ns),
                    ClusterEvent::WritersEnd {
                        generation: self.writers_gen,
                    }
                    .into(),
                );
            }
            ClusterFault::Heal => {
                self.grudge = Grudge::none(self.n);
                self.partition_gen += 1;
                self.writers_gen += 1;
                for c in &mut self.clients {
                    if c.writer {
                        c.active = false;
                    }
                }
                for i in 0..self.n {
                    self.stop_strobe(i);
                    let drift = self.initial_drift_ppm[i];
                    let me = &mut self.nodes[i];
                    me.clock.set_offset(now, 0);
                    me.clock.set_drift(now, drift);
                    if !me.up {
                        me.fault_gen += 1;
                        self.restart(i, ctx);
                    } else if me.paused {
                        me.fault_gen += 1;
                        self.resume(i, ctx);
                    }
                }
            }
        }
    }

    fn stop_strobe(&mut self, i: usize) {
        let s = &mut self.strobes[i];
        s.generation += 1;
        s.up = false;
    }

    fn restart<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
        self.nodes[i].up = true;
        self.nodes[i].paused = false;
        self.arm_election(i, ctx);
        self.arm_snapshot(
            i,
            SimDuration::from_nanos(self.spec.snapshot_interval_ns),
            ctx,
        );
    }

    fn resume<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
        self.nodes[i].paused = false;
        if self.nodes[i].role == Role::Leader {
            self.broadcast_append(i, ctx);
            self.arm_heartbeat(i, ctx);
        } else {
            self.arm_election(i, ctx);
        }
        self.arm_snapshot(
            i,
            SimDuration::from_nanos(self.spec.snapshot_interval_ns),
            ctx,
        );
    }
}

/// The `k`-th largest of `values` (1-based: `k = 1` is the maximum), the
/// element at `k - 1` of `values` sorted in descending order, found without
/// copying or sorting `values` (one entry per node, at most 31; `k` is at
/// most a majority, 16). `floor` is at or below every value (the type's
/// minimum).
fn kth_largest<T: Copy + Ord>(values: &[T], k: usize, floor: T) -> T {
    const K_MAX: usize = 16;
    assert!(
        k >= 1 && k <= values.len() && k <= K_MAX,
        "k = {k} of {} values",
        values.len()
    );
    // The k largest so far, in descending order (`floor` while fewer).
    let mut top = [floor; K_MAX];
    for &v in values {
        debug_assert!(v >= floor);
        if v <= top[k - 1] {
            continue;
        }
        let mut j = k - 1;
        while j > 0 && top[j - 1] < v {
            top[j] = top[j - 1];
            j -= 1;
        }
        top[j] = v;
    }
    top[k - 1]
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

#[cfg(test)]
mod tests {
    use super::kth_largest;

    #[test]
    fn kth_largest_is_the_element_at_k_minus_one_sorted_descending() {
        // Every vector of up to 6 values drawn from 0..4 (ties included).
        for len in 1..=6usize {
            for code in 0..4usize.pow(len as u32) {
                let v: Vec<i64> = (0..len)
                    .map(|d| (code / 4usize.pow(d as u32) % 4) as i64 - 1)
                    .collect();
                let mut sorted = v.clone();
                sorted.sort_unstable_by(|a, b| b.cmp(a));
                for k in 1..=len {
                    assert_eq!(kth_largest(&v, k, -1), sorted[k - 1], "{v:?}, k = {k}");
                }
            }
        }
        assert_eq!(kth_largest(&[i64::MIN, i64::MIN, 5], 2, i64::MIN), i64::MIN);
        let many: Vec<u32> = (0..31).map(|x| (x * 7) % 31).collect();
        assert_eq!(kth_largest(&many, 16, 0), 15);
    }
}
