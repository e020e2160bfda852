//! The playbook executor: lanes of slots, each step routed through
//! governance, then acted for its duration; actions applied to the model.
use super::*;

impl Layer1 {
    pub(super) fn start_playbook<E: From<Layer1Event>>(
        &mut self,
        pb: u8,
        target: u16,
        arg: u8,
        ctx: &mut Ctx<'_, E>,
    ) {
        let lane = lane_of(pb);
        if let Some(slot) = self
            .slots
            .iter()
            .position(|s| s.lane as usize == lane && s.exec.is_none())
        {
            self.begin(slot, Pending { pb, target, arg }, ctx);
        } else {
            self.queues[lane].push_back(Pending { pb, target, arg });
        }
    }

    pub(super) fn begin<E: From<Layer1Event>>(
        &mut self,
        slot: usize,
        p: Pending,
        ctx: &mut Ctx<'_, E>,
    ) {
        self.pb_started[p.pb as usize] += 1;
        self.slots[slot].exec = Some(Exec {
            pb: p.pb,
            target: p.target,
            arg: p.arg,
            step: 0,
            acting: false,
            denied: false,
        });
        self.begin_step(slot, ctx);
    }

    /// Whether a kernel playbook's target no longer needs it.
    pub(super) fn exec_moot(&self, e: &Exec, now: SimTime) -> bool {
        match e.pb {
            PB_KERNEL | PB_CRIT_ESCALATE => {
                let k = e.target as usize;
                self.kernels[k].status == Status::Failed || self.is_healthy(k, now)
            }
            PB_EMERGENCY => self.kernels[e.target as usize].status == Status::Failed,
            _ => false,
        }
    }

    pub(super) fn begin_step<E: From<Layer1Event>>(&mut self, slot: usize, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let e = self.slots[slot].exec.expect("active slot");
        if self.exec_moot(&e, now) {
            self.finish(slot, false, ctx);
            return;
        }
        let step = self.playbooks[e.pb as usize].steps[e.step as usize];
        // The unified-logic voters' ballots (tier 3): a voter whose process
        // runs answers after the vote time, slowed like every kernel under
        // CPU starvation; a dead, paused or restarting one never answers.
        let ballots: Vec<Option<SimDuration>> = if step.intent.tier() == 3 {
            let vote = SimDuration::from_nanos(self.spec.governance.vote_ns);
            self.voters
                .iter()
                .map(|&k| {
                    let kern = &self.kernels[k as usize];
                    (kern.process == Process::Running && kern.status == Status::Running)
                        .then(|| vote.mul_ratio(self.slowdown_permille, 1000))
                })
                .collect()
        } else {
            Vec::new()
        };
        let routing = self
            .governance
            .route(step.intent, now, &mut self.gov_rng, &ballots);
        let preapproved = self.playbooks[e.pb as usize]
            .trigger
            .safeguard()
            .is_some_and(|sg| self.known_fixes.contains(sg));
        let delay = if preapproved {
            SimDuration::ZERO
        } else {
            routing.delay
        };
        let s = &mut self.slots[slot];
        if let Some(x) = s.exec.as_mut() {
            x.acting = false;
            x.denied = routing.denied && !preapproved;
        }
        let gen_ = s.gen_;
        ctx.schedule_in(
            delay,
            Layer1Event::PlaybookStep {
                slot: slot as u16,
                gen_,
            }
            .into(),
        );
    }

    pub(super) fn on_playbook_step<E: From<Layer1Event>>(
        &mut self,
        slot: usize,
        gen_: u32,
        ctx: &mut Ctx<'_, E>,
    ) {
        let Some(s) = self.slots.get(slot) else {
            return;
        };
        if s.gen_ != gen_ {
            return;
        }
        let Some(e) = s.exec else {
            return;
        };
        let step = self.playbooks[e.pb as usize].steps[e.step as usize];
        if !e.acting && e.denied {
            // The vote failed: the playbook stops here (its monitor may
            // try again).
            self.finish(slot, false, ctx);
            return;
        }
        if !e.acting {
            if let Some(x) = self.slots[slot].exec.as_mut() {
                x.acting = true;
            }
            if step.duration_ms > 0 {
                ctx.schedule_in(
                    SimDuration::from_millis(step.duration_ms),
                    Layer1Event::PlaybookStep {
                        slot: slot as u16,
                        gen_,
                    }
                    .into(),
                );
                return;
            }
        }
        // The action completes now.
        if self.exec_moot(&e, ctx.now()) {
            self.finish(slot, false, ctx);
            return;
        }
        self.apply(e, step.action, ctx);
        let next = e.step + 1;
        if usize::from(next) < self.playbooks[e.pb as usize].steps.len() {
            if let Some(x) = self.slots[slot].exec.as_mut() {
                x.step = next;
            }
            self.begin_step(slot, ctx);
        } else {
            self.finish(slot, true, ctx);
        }
    }

    pub(super) fn apply<E: From<Layer1Event>>(
        &mut self,
        e: Exec,
        action: Action,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let k = e.target as usize;
        match action {
            Action::PauseKernel => return self.hold(k, ctx),
            Action::ResumeKernel => return self.release(k, ctx),
            _ => {}
        }
        match e.pb {
            PB_KERNEL | PB_CRIT_ESCALATE | PB_EMERGENCY => match action {
                Action::RestoreSnapshot => {
                    self.kernels[k].restore = self.choose_snapshot(now);
                }
                Action::RestartKernel => self.request_restart(k, ctx),
                _ => {}
            },
            PB_ACL => {
                if matches!(
                    action,
                    Action::QuarantinePublisher | Action::Throttle | Action::Isolate
                ) {
                    self.bus.set_quarantined(now, k, true);
                    self.acl_pending[k] = false;
                    self.stats.quarantines += 1;
                    ctx.schedule_in(
                        SimDuration::from_nanos(self.spec.safeguards.acl_quarantine_ns),
                        Layer1Event::QuarantineEnd {
                            publisher: e.target,
                        }
                        .into(),
                    );
                }
            }
            _ => {
                if matches!(action, Action::Isolate | Action::Throttle) {
                    self.isolate(k, e.arg, ctx);
                }
            }
        }
    }

    /// The control plane pauses kernel `k` (SIGSTOP): its heartbeats and
    /// deadline stop, and it consumes no CPU or network and grows no memory
    /// until [`release`](Self::release).
    pub(super) fn hold<E: From<Layer1Event>>(&mut self, k: usize, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        if self.kernels[k].process != Process::Running {
            return;
        }
        self.account_resources(now);
        let kern = &mut self.kernels[k];
        kern.process = Process::Paused;
        kern.held = true;
        for key in [kern.hb_key.take(), kern.deadline_key.take()]
            .into_iter()
            .flatten()
        {
            ctx.cancel(key);
        }
        self.stats.holds += 1;
        self.recompute_cpu(ctx);
        self.recompute_network(now);
    }

    /// The control plane resumes a kernel it paused: heartbeats restart and
    /// the deadline is armed from now.
    pub(super) fn release<E: From<Layer1Event>>(&mut self, k: usize, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        if !self.kernels[k].held || self.kernels[k].process != Process::Paused {
            self.kernels[k].held = false;
            return;
        }
        self.account_resources(now);
        let kern = &mut self.kernels[k];
        kern.held = false;
        kern.process = Process::Running;
        kern.last_hb = now;
        self.recompute_cpu(ctx);
        self.recompute_network(now);
        self.arm_deadline(k, ctx);
        self.emit_heartbeat(k, ctx);
    }

    pub(super) fn isolate<E: From<Layer1Event>>(
        &mut self,
        k: usize,
        res: u8,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let sg = &self.spec.safeguards;
        self.stats.isolations += 1;
        match res {
            RES_CPU => {
                let cap = u64::from(self.spec.resources.cpu_millicores)
                    * u64::from(sg.isolate_cpu_share_permille)
                    / 1000;
                self.kernels[k].cpu_cap_mc = Some(cap);
                self.recompute_cpu(ctx);
            }
            RES_MEM => {
                self.account_resources(now);
                self.request_restart(k, ctx);
            }
            RES_DISK => {
                self.account_resources(now);
                self.disk_used_kib = self.spec.resources.disk_used_base_mib * KIB_PER_MIB;
            }
            _ => {
                let cap = self.spec.resources.network_mbps
                    * u64::from(sg.isolate_network_share_permille)
                    / 1000;
                self.kernels[k].net_cap_mbps = Some(cap);
                self.recompute_network(now);
            }
        }
        self.pressure_pending[usize::from(res)] = false;
        self.pressure_over[usize::from(res)] = 0;
    }

    /// The snapshot a restore uses. snapshot_hygiene_manager's condition:
    /// the newest snapshot is corrupt. Deployed, it skips the corrupt ones
    /// (the newest valid, or a cold boot); not deployed, the corrupt one is
    /// restored and the need recorded.
    pub(super) fn choose_snapshot(&mut self, now: SimTime) -> Restore {
        let kept = self.spec.safeguards.snapshots_kept.min(8);
        let corrupt_newest = (0..kept)
            .take_while(|i| self.snap_corrupt_mask & (1 << i) != 0)
            .count() as u64;
        if corrupt_newest == 0 {
            return Restore::Valid;
        }
        let ev = Evidence::of(
            now,
            Signal::CorruptSnapshots,
            corrupt_newest,
            0,
            self.corrupt_cause,
        );
        let sg = Safeguard::SnapshotHygieneManager;
        if self.log.detect(sg, self.on(sg), ev) {
            self.stats.snapshots_discarded += corrupt_newest;
            if corrupt_newest < u64::from(kept) {
                Restore::Valid
            } else {
                self.stats.cold_boots += 1;
                Restore::Cold
            }
        } else {
            self.stats.corrupt_restores += 1;
            Restore::Corrupt
        }
    }

    pub(super) fn finish<E: From<Layer1Event>>(
        &mut self,
        slot: usize,
        completed: bool,
        ctx: &mut Ctx<'_, E>,
    ) {
        let s = &mut self.slots[slot];
        let Some(e) = s.exec.take() else {
            return;
        };
        s.gen_ = s.gen_.wrapping_add(1);
        let lane = s.lane as usize;
        if completed {
            self.pb_completed[e.pb as usize] += 1;
        } else {
            self.pb_aborted[e.pb as usize] += 1;
        }
        match e.pb {
            PB_KERNEL | PB_CRIT_ESCALATE => {
                self.kernels[e.target as usize].recovery_pending = false
            }
            PB_EMERGENCY => {
                let k = &mut self.kernels[e.target as usize];
                k.recovery_pending = false;
                if k.status != Status::Restarting {
                    k.emergency = false;
                }
            }
            PB_ACL => self.acl_pending[e.target as usize] = false,
            _ => self.pressure_pending[usize::from(e.arg)] = false,
        }
        if let Some(p) = self.queues[lane].pop_front() {
            self.begin(slot, p, ctx);
        }
    }

    /// Pre-empt generic recoveries of kernel `k` (the emergency protocol
    /// takes over).
    pub(super) fn cancel_generic<E: From<Layer1Event>>(&mut self, k: u16, ctx: &mut Ctx<'_, E>) {
        for lane in [LANE_RESTART, LANE_ESCALATION] {
            self.queues[lane].retain(|p| p.target != k);
        }
        for slot in 0..self.slots.len() {
            let s = self.slots[slot];
            let lane = s.lane as usize;
            if (lane == LANE_RESTART || lane == LANE_ESCALATION)
                && s.exec.is_some_and(|e| e.target == k)
            {
                self.finish(slot, false, ctx);
            }
        }
    }
}
