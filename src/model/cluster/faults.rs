//! Fault application on the [`Cluster`]: what each [`ClusterFault`] does to
//! the nodes, links and clocks, with its cause recorded, and the restart and
//! resume of nodes.

use super::*;

impl Cluster {
    /// Apply one nemesis operation now, as fault 0 of scenario 0 (see
    /// [`inject_caused`](Self::inject_caused)).
    pub fn inject<E: From<ClusterEvent>>(&mut self, fault: &ClusterFault, ctx: &mut Ctx<'_, E>) {
        self.inject_caused(fault, Cause::default(), ctx);
    }

    /// Whether `fault` would change anything now (a clock moved by zero, a
    /// node already down, no writers: the cause of nothing).
    pub(super) fn disrupts(&self, fault: &ClusterFault) -> bool {
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

    pub(super) fn stop_strobe(&mut self, i: usize) {
        let s = &mut self.strobes[i];
        s.generation += 1;
        s.up = false;
    }

    pub(super) fn restart<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
        self.nodes[i].up = true;
        self.nodes[i].paused = false;
        self.arm_election(i, ctx);
        self.arm_snapshot(
            i,
            SimDuration::from_nanos(self.spec.snapshot_interval_ns),
            ctx,
        );
    }

    pub(super) fn resume<E: From<ClusterEvent>>(&mut self, i: usize, ctx: &mut Ctx<'_, E>) {
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
