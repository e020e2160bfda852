//! The node protocol of the [`Cluster`]: election, heartbeat and snapshot
//! timers, leases, replication (appends, acks, commit), step-down, the
//! handling of node messages and client requests at a node, and the
//! bookkeeping of acknowledged writes lost.

use super::*;

impl Cluster {
    pub(super) fn note_lost(&mut self, now: SimTime) {
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
    pub(super) fn note_ack(&mut self, index: u32, value: u32, now: SimTime) {
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
    pub(super) fn check_committed(&mut self, l: usize, from: u32, to: u32, now: SimTime) {
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

    pub(super) fn arm_election<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
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

    pub(super) fn arm_heartbeat<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
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

    pub(super) fn arm_snapshot<E: From<ClusterEvent>>(
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

    pub(super) fn cancel_timers<E>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
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

    pub(super) fn send<E: From<ClusterEvent>>(
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
    pub(super) fn link_delay(&mut self) -> Option<SimDuration> {
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

    pub(super) fn lease_clock(&self, i: usize, now: SimTime) -> i64 {
        let c = &self.nodes[i].clock;
        if self.lease_bound {
            c.mono(now)
        } else {
            c.wall(now)
        }
    }

    pub(super) fn lease_valid(&self, i: usize, now: SimTime) -> bool {
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

    pub(super) fn send_append<E: From<ClusterEvent>>(
        &mut self,
        i: usize,
        f: usize,
        ctx: &mut Ctx<'_, E>,
    ) {
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

    pub(super) fn broadcast_append<E: From<ClusterEvent>>(
        &mut self,
        i: usize,
        ctx: &mut Ctx<'_, E>,
    ) {
        for f in 0..self.n {
            if f != i {
                self.send_append(i, f, ctx);
            }
        }
    }

    // ----- roles --------------------------------------------------------

    pub(super) fn step_down<E: From<ClusterEvent>>(
        &mut self,
        i: usize,
        epoch: u32,
        ctx: &mut Ctx<'_, E>,
    ) {
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
    pub(super) fn superseded(&mut self, i: usize, now: SimTime) {
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
    pub(super) fn stale_epoch(&mut self, behind: u32, now: SimTime) -> bool {
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
    pub(super) fn entry_ts(&mut self, i: usize, now: SimTime) -> i64 {
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

    pub(super) fn become_leader<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
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

    pub(super) fn advance_commit<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
        let node = &mut self.nodes[i];
        node.match_index[i] = node.len();
        if let Some(candidate) = self.committable(i) {
            let node = &mut self.nodes[i];
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

    /// Whether [`advance_commit`](Self::advance_commit) on leader `i` would
    /// change nothing now: its own match index is its length, no position a
    /// majority holds can be committed, and no pending ack is due.
    fn commit_settled(&self, i: usize) -> bool {
        let node = &self.nodes[i];
        node.match_index[i] == node.len()
            && self.committable(i).is_none()
            && node.pending.iter().all(|p| p.index > node.commit)
    }

    /// The position leader `i` may commit now, if past its commit index:
    /// the highest a majority holds, when it is of the leader's epoch.
    fn committable(&self, i: usize) -> Option<u32> {
        let node = &self.nodes[i];
        let candidate = kth_largest(&node.match_index, self.majority, 0).min(node.len());
        (candidate > node.commit && node.term_at(candidate) == node.epoch).then_some(candidate)
    }

    pub(super) fn reply<E: From<ClusterEvent>>(
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

    pub(super) fn reply_ok<E: From<ClusterEvent>>(
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
    pub(super) fn on_node_msg<E: From<ClusterEvent>>(
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
                    let matched_more = index > me.match_index[from];
                    me.match_index[from] = me.match_index[from].max(index);
                    me.next_index[from] = me.next_index[from].max(index + 1);
                    if lease_ok {
                        me.lease_ack_ns[from] = me.lease_ack_ns[from].max(lease_clock_ns);
                    }
                    let more = index < me.len();
                    // An ack that matches nothing new (most acks answer an
                    // append of entries the follower had) cannot move the
                    // commit index: every change to a leader's log or match
                    // indices is followed by `advance_commit`.
                    if matched_more {
                        self.advance_commit(i, ctx);
                    } else {
                        debug_assert!(self.commit_settled(i), "node {i}: commit not settled");
                    }
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

    pub(super) fn on_request<E: From<ClusterEvent>>(
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
}

/// The `k`-th largest of `values` (1-based: `k = 1` is the maximum), the
/// element at `k - 1` of `values` sorted in descending order, found without
/// copying or sorting `values` (one entry per node, at most 31; `k` is at
/// most a majority, 16). `floor` is at or below every value (the type's
/// minimum).
pub(super) fn kth_largest<T: Copy + Ord>(values: &[T], k: usize, floor: T) -> T {
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
